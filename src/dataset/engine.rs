//! The engine behind [`IdcDataset`](super::idc::IdcDataset): the instance table (built from the
//! image catalogue without decoding pixels), a small LRU of decoded shards, and condense-or-load
//! of one instance through [`ShardCache::get_or_create`]. The dataset and its condense-ahead
//! worker share one engine; the worker sees it only as an [`ahead::CondenseTarget`].

use super::ahead::{self, ProgressFn, ProgressState};
use super::condenser::{CondensedPatches, InstanceCondenser};
use crate::cache::{
    self, EntryNotes, Fetched, GetOrCreate, HrRegenerator, InstanceLock, Shard, ShardCache,
    ShardStore, SourceBytes,
};
use crate::condense::{CondenseConfig, Instance};
use crate::config::{PatchConfig, fingerprint};
use crate::error::{IdcError, Result};
use crate::image::SrPair;
use crate::source::{self, HashCache, SkipPolicy, SkippedImage, SourceImage};
use serde::Serialize;
use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// What to do when an instance's shard is missing or invalid.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CacheMode {
    /// Load valid shards; condense (and cache) the others on first access.
    #[default]
    LazyCondense,
    /// Only load; a missing, stale or corrupt shard is an [`IdcError::Cache`].
    LoadOnly,
    /// Ignore existing shards: condense every instance again (once per dataset object) and
    /// overwrite its shard.
    Rebuild,
}

/// How an instance's shard was obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A valid shard was already there (file or memory).
    Loaded,
    /// This call condensed the instance and wrote its shard.
    Condensed,
}

/// Counters over the dataset's lifetime.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DatasetStats {
    /// Instances condensed by this process.
    pub condensed: usize,
    /// Shard files read and validated.
    pub loaded: usize,
    /// Failed attempts (bad image, condensation error, LoadOnly miss).
    pub failed: usize,
}

/// One instance of the dataset.
#[derive(Clone, Debug)]
pub(crate) struct InstanceInfo {
    pub(crate) src: SourceImage,
    /// Synthetic pairs `n_j`.
    pub(crate) n: usize,
    /// First dataset index of this instance.
    pub(crate) offset: usize,
    pub(crate) fingerprint: String,
    seed: u64,
}

/// Small LRU of decoded shards (by instance); eviction scans, fine for tens of entries.
struct Lru {
    cap: usize,
    tick: u64,
    map: HashMap<usize, (Arc<Vec<SrPair>>, u64)>,
}

impl Lru {
    fn get(&mut self, j: usize) -> Option<Arc<Vec<SrPair>>> {
        self.tick += 1;
        let t = self.tick;
        self.map.get_mut(&j).map(|e| {
            e.1 = t;
            e.0.clone()
        })
    }

    fn put(&mut self, j: usize, v: Arc<Vec<SrPair>>) {
        if self.cap == 0 {
            return;
        }
        self.tick += 1;
        if !self.map.contains_key(&j)
            && self.map.len() >= self.cap
            && let Some(old) = self.map.iter().min_by_key(|(_, e)| e.1).map(|(k, _)| *k)
        {
            self.map.remove(&old);
        }
        self.map.insert(j, (v, self.tick));
    }
}

/// Pairs (when asked to keep them) and how they were obtained.
pub(crate) type Loaded = (Option<Arc<Vec<SrPair>>>, Outcome);

/// Everything [`Engine::build`] needs, validated by the builder.
pub(crate) struct EngineSettings {
    pub hr_dir: PathBuf,
    pub patch: PatchConfig,
    pub ratio: f64,
    /// Decides `n_j` (its ratio is already [`Self::ratio`]).
    pub config: CondenseConfig,
    pub condenser: Arc<dyn InstanceCondenser>,
    pub cache: ShardCache,
    pub mode: CacheMode,
    pub seed: u64,
    pub skip: SkipPolicy,
    pub verify_decode: bool,
    pub memory_shards: usize,
    pub on_progress: Option<ProgressFn>,
    pub store: ShardStore,
}

/// One probed image: usable (with whether a valid-looking shard exists) or below one patch.
enum Probed {
    Usable(InstanceInfo, bool),
    Small(SourceImage),
}

/// State shared by the dataset and its condense-ahead worker.
pub(crate) struct Engine {
    instances: Vec<InstanceInfo>,
    total: usize,
    condenser: Arc<dyn InstanceCondenser>,
    pub(crate) cache: ShardCache,
    mode: CacheMode,
    patch: PatchConfig,
    lru: Mutex<Lru>,
    rebuilt: Mutex<HashSet<usize>>,
    /// The teacher that remakes HR on load; `Some` exactly when shards are stored LR only.
    regen: Option<Arc<dyn HrRegenerator>>,
    done: Vec<AtomicBool>,
    condensed: AtomicUsize,
    loaded: AtomicUsize,
    failed: AtomicUsize,
    pub(crate) progress: Arc<ProgressState>,
}

impl EngineSettings {
    /// Probes `path` (header, cached content hash, patch count) and keys its shard. Under
    /// `verify_decode` an image that will have to be condensed is decoded now, so a truncated
    /// file is skipped here rather than failing mid-training.
    fn probe(&self, path: &Path, hashes: &HashCache, key: &KeyParts) -> Result<Probed> {
        let src = source::probe_image_cached(
            &self.hr_dir,
            path,
            &self.patch,
            Some(hashes),
            self.skip.small_images,
        )?;
        if src.n_real == 0 {
            return Ok(Probed::Small(src));
        }
        let n = self.config.synthetic_count(src.n_real);
        let seed = crate::seed::named_seed(self.seed, &src.name);
        let fp = instance_fingerprint(key, &self.patch, self.ratio, &src, n, seed);
        let has_shard = self.mode != CacheMode::Rebuild
            && self.cache.peek_fingerprint(&src.name).as_deref() == Some(fp.as_str());
        if self.verify_decode && !has_shard && self.mode != CacheMode::LoadOnly {
            source::load_pairs(&src, &self.patch)?;
        }
        let info = InstanceInfo {
            src,
            n,
            offset: 0,
            fingerprint: fp,
            seed,
        };
        Ok(Probed::Usable(info, has_shard))
    }
}

impl Engine {
    /// Probes every image of the folder and computes `len()`; condenses nothing. Content hashes
    /// of unchanged images come from the cache dir, so a warm build reads image headers rather
    /// than every image in full.
    pub(crate) fn build(s: EngineSettings) -> Result<(Engine, Vec<SkippedImage>)> {
        let regen = match s.store {
            ShardStore::Full => None,
            ShardStore::LrOnly => Some(s.condenser.hr_regenerator().ok_or_else(|| {
                IdcError::config("store", "lr-only needs a condenser with a teacher")
            })?),
        };
        let key = KeyParts {
            condenser: s.condenser.fingerprint(),
            store: regen
                .as_ref()
                .map(|r| format!("lr-only:{}", r.fingerprint())),
        };
        let hashes = HashCache::open(s.cache.dir());
        let (mut instances, mut done, mut skipped, mut total) =
            (Vec::new(), Vec::new(), Vec::new(), 0);
        for path in source::list_candidates(&s.hr_dir)? {
            match s.probe(&path, &hashes, &key) {
                Ok(Probed::Usable(mut info, has_shard)) => {
                    info.offset = total;
                    total += info.n;
                    instances.push(info);
                    done.push(AtomicBool::new(has_shard));
                }
                Ok(Probed::Small(src)) => {
                    let side = s.patch.hr_patch;
                    eprintln!(
                        "warning: skipping {}: {}x{} is smaller than one {side}x{side} patch",
                        path.display(),
                        src.width,
                        src.height,
                    );
                    let reason = format!("smaller than one {side}-pixel patch");
                    skipped.push(SkippedImage { path, reason });
                }
                Err(e) if s.skip.bad_images => {
                    eprintln!("warning: skipping {}: {e}", path.display());
                    let reason = e.to_string();
                    skipped.push(SkippedImage { path, reason });
                }
                Err(e) => return Err(e),
            }
        }
        if let Err(e) = hashes.save() {
            // Only a speed-up is lost (e.g. a read-only cache under LoadOnly).
            eprintln!("warning: source hash cache not saved: {e}");
        }
        if instances.is_empty() {
            return Err(IdcError::InvalidInput(format!(
                "no usable images in {} ({} skipped)",
                s.hr_dir.display(),
                skipped.len()
            )));
        }
        let initially_done = done.iter().filter(|d| d.load(Ordering::Relaxed)).count();
        let progress = ProgressState::new(instances.len(), initially_done, s.on_progress);
        let engine = Engine {
            instances,
            total,
            condenser: s.condenser,
            cache: s.cache,
            mode: s.mode,
            patch: s.patch,
            lru: Mutex::new(Lru {
                cap: s.memory_shards,
                tick: 0,
                map: HashMap::new(),
            }),
            rebuilt: Mutex::new(HashSet::new()),
            regen,
            done,
            condensed: AtomicUsize::new(0),
            loaded: AtomicUsize::new(0),
            failed: AtomicUsize::new(0),
            progress: Arc::new(progress),
        };
        engine.progress.notify();
        Ok((engine, skipped))
    }

    /// Number of items (`sum_j n_j`).
    pub(crate) fn total(&self) -> usize {
        self.total
    }

    pub(crate) fn instances(&self) -> &[InstanceInfo] {
        &self.instances
    }

    /// Shard path of instance `info`.
    pub(crate) fn shard_path(&self, info: &InstanceInfo) -> PathBuf {
        self.cache.shard_path(&info.src.name)
    }

    /// (instance, pair within the instance) of dataset index `i`.
    pub(crate) fn locate(&self, i: usize) -> Option<(usize, usize)> {
        if i >= self.total {
            return None;
        }
        let j = self.instances.partition_point(|x| x.offset <= i) - 1;
        Some((j, i - self.instances[j].offset))
    }

    pub(crate) fn is_done(&self, j: usize) -> bool {
        self.done.get(j).is_some_and(|d| d.load(Ordering::Acquire))
    }

    pub(crate) fn stats(&self) -> DatasetStats {
        DatasetStats {
            condensed: self.condensed.load(Ordering::Relaxed),
            loaded: self.loaded.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
        }
    }

    /// Pairs of instance `j` (memory, file or fresh condensation).
    pub(crate) fn pairs(&self, j: usize) -> Result<Arc<Vec<SrPair>>> {
        if let Some(p) = self.lru.lock().ok().and_then(|mut l| l.get(j)) {
            return Ok(p);
        }
        let (pairs, _) = self.obtain(j, true)?;
        pairs.ok_or_else(|| IdcError::InvalidInput("internal: no pairs".into()))
    }

    fn mark_done(&self, j: usize) {
        if !self.done[j].swap(true, Ordering::AcqRel) {
            self.progress.instance_done();
        }
    }

    fn needs_rebuild(&self, j: usize) -> bool {
        self.mode == CacheMode::Rebuild
            && !self.rebuilt.lock().map(|s| s.contains(&j)).unwrap_or(false)
    }

    /// Loads instance `j`'s shard if valid, else (mode permitting) condenses it under its lock.
    /// With `keep`, returns the pairs and caches them in the LRU.
    pub(crate) fn obtain(&self, j: usize, keep: bool) -> Result<Loaded> {
        self.obtain_with(j, keep, true)?
            .ok_or_else(|| IdcError::InvalidInput("internal: blocking lock not taken".into()))
    }

    /// [`Self::obtain`]; without `blocking`, `Ok(None)` when the lock is held elsewhere.
    pub(crate) fn obtain_with(
        &self,
        j: usize,
        keep: bool,
        blocking: bool,
    ) -> Result<Option<Loaded>> {
        let r = self.obtain_inner(j, keep, blocking);
        match &r {
            Ok(Some(_)) => self.mark_done(j),
            Ok(None) => {}
            Err(_) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
            }
        }
        r
    }

    fn obtain_inner(&self, j: usize, keep: bool, blocking: bool) -> Result<Option<Loaded>> {
        let info = self
            .instances
            .get(j)
            .ok_or_else(|| IdcError::InvalidInput(format!("instance {j} out of range")))?;
        let reuse = || !self.needs_rebuild(j);
        let opts = GetOrCreate {
            reuse: &reuse,
            create: self.mode != CacheMode::LoadOnly,
            wait: blocking,
        };
        let started = Cell::new(None);
        let check = |s: &Shard, path: &Path| self.check_shard(info, s, path);
        let create = || {
            started.set(Some(Instant::now()));
            self.condense(info)
        };
        let fetched =
            self.cache
                .get_or_create(&info.src.name, &info.fingerprint, &opts, &check, create)?;
        let Some(Fetched { shard, created }) = fetched else {
            return Ok(None);
        };
        let outcome = if created {
            if let Ok(mut s) = self.rebuilt.lock() {
                s.insert(j);
            }
            self.condensed.fetch_add(1, Ordering::Relaxed);
            let t0 = started.get().unwrap_or_else(Instant::now);
            self.progress.condensed_in(t0.elapsed());
            Outcome::Condensed
        } else {
            self.loaded.fetch_add(1, Ordering::Relaxed);
            Outcome::Loaded
        };
        if !keep {
            return Ok(Some((None, outcome)));
        }
        let pairs = Arc::new(self.to_pairs(shard)?);
        if let Ok(mut l) = self.lru.lock() {
            l.put(j, pairs.clone());
        }
        Ok(Some((Some(pairs), outcome)))
    }

    /// A shard with the right fingerprint must also have `n_j` pairs at the dataset's scale.
    fn check_shard(&self, info: &InstanceInfo, s: &Shard, path: &Path) -> Result<()> {
        if s.len() != info.n || s.scale != self.patch.scale {
            return Err(IdcError::cache(
                path,
                format!(
                    "shard has {} pairs at scale {}, expected {} at {}",
                    s.len(),
                    s.scale,
                    info.n,
                    self.patch.scale
                ),
            ));
        }
        Ok(())
    }

    /// Decodes the instance's image, cuts its real pairs and condenses them into its shard and
    /// manifest notes (a batch of one, so the condenser's realism comes along).
    fn condense(&self, info: &InstanceInfo) -> Result<(Shard, EntryNotes)> {
        let instance = load_instance(info, &self.patch)?;
        let made = self
            .condenser
            .condense_batch(&[(&instance, info.n, info.seed)])
            .pop()
            .unwrap_or_else(|| Err(IdcError::Model("internal: empty batch result".into())))?;
        self.make_shard(info, made)
    }

    /// The shard of `info` from its condensed patches (checked against `n_j`) and its manifest
    /// notes (source bytes, realism).
    fn make_shard(
        &self,
        info: &InstanceInfo,
        made: CondensedPatches,
    ) -> Result<(Shard, EntryNotes)> {
        let CondensedPatches { lr, hr, realism } = made;
        if lr.len() != info.n || hr.len() != info.n {
            return Err(IdcError::InvalidInput(format!(
                "condenser returned {} LR / {} HR patches for {}, expected {}",
                lr.len(),
                hr.len(),
                info.src.name,
                info.n
            )));
        }
        let shard = Shard {
            fingerprint: info.fingerprint.clone(),
            scale: self.patch.scale,
            lr,
            hr: if self.regen.is_some() { Vec::new() } else { hr },
        };
        let notes = EntryNotes {
            source: Some(self.source_bytes(info)),
            realism,
        };
        Ok((shard, notes))
    }

    /// What instance `info`'s shard stands in for: its image file and its whole patch grid as
    /// 8-bit RGB LR + HR planes (every decoded image is RGB).
    pub(crate) fn source_bytes(&self, info: &InstanceInfo) -> SourceBytes {
        let hr = self.patch.hr_patch;
        let lr = hr / self.patch.scale.max(1);
        SourceBytes {
            image: std::fs::metadata(&info.src.path).map_or(0, |m| m.len()),
            whole_patches: (info.src.n_real * 3 * (hr * hr + lr * lr)) as u64,
        }
    }

    /// The pairs of a loaded shard, HR regenerated by the teacher when it is stored LR only.
    fn to_pairs(&self, s: Shard) -> Result<Vec<SrPair>> {
        let s = cache::complete_shard(s, self.regen.as_deref())?;
        Ok(s.lr
            .into_iter()
            .zip(s.hr)
            .map(|(lr, hr)| SrPair { lr, hr })
            .collect())
    }

    /// Loads or condenses instances `js` like [`Self::obtain_with`] without keeping them, but
    /// condenses those without a valid shard together ([`InstanceCondenser::condense_batch`]).
    /// Each instance keeps its own lock, fingerprint and shard; one result per instance
    /// (`Ok(None)`: without `blocking`, another holder has its lock).
    pub(crate) fn ensure_batch(
        &self,
        js: &[usize],
        blocking: bool,
    ) -> Vec<Result<Option<Outcome>>> {
        let mut out: Vec<Option<Result<Option<Outcome>>>> = js.iter().map(|_| None).collect();
        let mut claimed = Vec::new();
        for (k, &j) in js.iter().enumerate() {
            match self.claim(j, blocking) {
                Ok(Claim::Loaded) => out[k] = Some(Ok(Some(Outcome::Loaded))),
                Ok(Claim::Busy) => out[k] = Some(Ok(None)),
                Ok(Claim::Mine(info, lock)) => match load_instance(info, &self.patch) {
                    Ok(instance) => claimed.push((k, info, lock, instance)),
                    Err(e) => out[k] = Some(Err(e)),
                },
                Err(e) => out[k] = Some(Err(e)),
            }
        }
        let t0 = Instant::now();
        let jobs: Vec<(&Instance, usize, u64)> = claimed
            .iter()
            .map(|(_, info, _, instance)| (instance, info.n, info.seed))
            .collect();
        let results = self.condenser.condense_batch(&jobs);
        let share = t0.elapsed() / claimed.len().max(1) as u32;
        for ((k, info, lock, _), r) in claimed.into_iter().zip(results) {
            let stored = r
                .and_then(|made| self.make_shard(info, made))
                .and_then(|(s, notes)| self.cache.put_with_notes(&info.src.name, &s, notes))
                .map(|_| ());
            drop(lock);
            out[k] = Some(stored.map(|()| {
                self.progress.condensed_in(share);
                Some(Outcome::Condensed)
            }));
        }
        js.iter()
            .zip(out)
            .map(|(&j, r)| {
                let r = r.unwrap_or_else(|| Err(IdcError::Model("internal: not handled".into())));
                self.count(j, &r);
                r
            })
            .collect()
    }

    /// Instance `j` for [`Self::ensure_batch`]: a valid shard (loaded), another holder's lock
    /// (busy), or its lock taken so this call condenses it ([`ShardCache::claim`], the same
    /// checks as the one-instance path).
    fn claim(&self, j: usize, blocking: bool) -> Result<Claim<'_>> {
        let info = self
            .instances
            .get(j)
            .ok_or_else(|| IdcError::InvalidInput(format!("instance {j} out of range")))?;
        let reuse = || !self.needs_rebuild(j);
        let opts = GetOrCreate {
            reuse: &reuse,
            create: self.mode != CacheMode::LoadOnly,
            wait: blocking,
        };
        let check = |s: &Shard, path: &Path| self.check_shard(info, s, path);
        Ok(
            match self
                .cache
                .claim(&info.src.name, &info.fingerprint, &opts, &check)?
            {
                cache::Claim::Valid(_) => Claim::Loaded,
                cache::Claim::Busy => Claim::Busy,
                cache::Claim::Mine(lock) => Claim::Mine(info, lock),
            },
        )
    }

    /// The counters of [`Self::obtain_with`] and [`Self::obtain_inner`] for one batched result.
    fn count(&self, j: usize, r: &Result<Option<Outcome>>) {
        match r {
            Ok(Some(Outcome::Loaded)) => {
                self.loaded.fetch_add(1, Ordering::Relaxed);
                self.mark_done(j);
            }
            Ok(Some(Outcome::Condensed)) => {
                if let Ok(mut s) = self.rebuilt.lock() {
                    s.insert(j);
                }
                self.condensed.fetch_add(1, Ordering::Relaxed);
                self.mark_done(j);
            }
            Ok(None) => {}
            Err(_) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// What [`Engine::claim`] found for one instance.
enum Claim<'a> {
    Loaded,
    Busy,
    Mine(&'a InstanceInfo, InstanceLock),
}

/// Decodes the instance's image and cuts its real LR patches.
fn load_instance(info: &InstanceInfo, patch: &PatchConfig) -> Result<Instance> {
    let (lr_real, _hr_real) = source::load_pairs(&info.src, patch)?;
    Ok(Instance {
        name: info.src.name.clone(),
        lr: lr_real,
    })
}

impl ahead::CondenseTarget for Engine {
    fn num_instances(&self) -> usize {
        self.instances.len()
    }

    fn is_done(&self, j: usize) -> bool {
        Engine::is_done(self, j)
    }

    fn ensure(&self, j: usize) -> Result<()> {
        self.obtain(j, false).map(|_| ())
    }

    fn ensure_many(&self, js: &[usize]) -> Vec<Result<()>> {
        self.ensure_batch(js, true)
            .into_iter()
            .map(|r| r.map(|_| ()))
            .collect()
    }
}

/// The parts of a shard key shared by every instance of a dataset.
struct KeyParts {
    condenser: String,
    /// `Some("lr-only:<teacher fingerprint>")` for LR-only shards, `None` for full ones (whose
    /// keys are unchanged from before LR-only storage existed).
    store: Option<String>,
}

/// Shard key: everything that determines the instance's condensed patches.
fn instance_fingerprint(
    key: &KeyParts,
    patch: &PatchConfig,
    ratio: f64,
    src: &SourceImage,
    n: usize,
    seed: u64,
) -> String {
    #[derive(Serialize)]
    struct Key<'a> {
        format: u32,
        condenser: &'a str,
        patch: &'a PatchConfig,
        ratio: f64,
        image_sha256: &'a str,
        image_size: (usize, usize),
        n_real: usize,
        n: usize,
        seed: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        store: Option<&'a str>,
    }
    fingerprint(&Key {
        format: cache::shard::KEY_VERSION,
        condenser: &key.condenser,
        patch,
        ratio,
        image_sha256: &src.content_hash,
        image_size: (src.height, src.width),
        n_real: src.n_real,
        n,
        seed,
        store: key.store.as_deref(),
    })
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
