//! [`IdcDataset`]: a Burn `Dataset<SrPair>` that condenses each training image lazily (or loads
//! its shard from a cache), so a project that trains on `SrPatchDataset::new(dir)` switches to
//! condensed data by swapping one constructor.
//!
//! ```ignore
//! let dataset = IdcDataset::builder("DIV2K/train")
//!     .scale(2).ratio(0.1).hr_patch(96).step(48)
//!     .condense(CondenseConfig::default())
//!     .models::<TrainBackend, _, _>(extractor, teacher, device)
//!     .cache_dir("idc-cache")
//!     .mode(CacheMode::LazyCondense)
//!     .build()?;
//! ```
//!
//! How it works:
//! - `build` probes every image (header, content hash, patch count `N_j`, see
//!   [`super::source`]) without decoding pixels, so `len() = sum_j n_j` with
//!   `n_j = max(1, ceil(r N_j))` is known before anything is condensed.
//! - `get(i)` maps `i` to (instance `j`, pair `k`) and serves pair `k` of instance `j`'s shard:
//!   from a bounded in-memory LRU of shards, else from a valid shard file, else by condensing `j`
//!   while holding `<instance>.lock` (re-checking the shard after acquiring it, so threads and
//!   processes sharing the cache condense each instance once), writing the shard atomically.
//! - The shard's fingerprint hashes everything that determines the result (condenser config,
//!   extractor and teacher fingerprints, scale, ratio, patch grid, image bytes, seed): a changed
//!   input never serves a stale shard, it re-condenses (or, in [`CacheMode::LoadOnly`], errors).
//! - Items served are exactly the shard's 8-bit values, whether just condensed or loaded, so a
//!   cold and a warm cache yield identical items.
//! - Optional condense-ahead ([`IdcDatasetBuilder::condense_ahead`]) runs a background worker
//!   that condenses what the loader will need next; progress goes to an observer callback and to
//!   burn-train through [`super::ahead::CondenseProgressMetric`].
//!
//! Errors: [`IdcDataset::try_get`] returns them typed. `Dataset::get` must return `Option`, so it
//! logs the error to stderr and returns `None`; note that Burn's `DataLoader` treats `None` as the
//! end of the data, so an error ends the epoch early. Use `skip_bad_images(true)` to drop bad
//! images at build time and `idc condense` (or [`IdcDataset::condense_all`]) before training to
//! surface condensation errors up front.

use super::SrPair;
use super::ahead::{
    AheadWorker, CondenseProgressMetric, ProgressFn, ProgressSnapshot, ProgressState,
};
use super::lock::InstanceLock;
use super::shard::{self, Manifest, ManifestEntry, Shard};
use super::source::{self, SourceImage};
use crate::condense::{CondenseConfig, Condenser, Instance};
use crate::config::{PatchConfig, fingerprint};
use crate::error::{IdcError, Result};
use crate::image::Image;
use crate::models::{FeatureExtractor, Teacher};
use burn::data::dataset::Dataset;
use burn::tensor::backend::AutodiffBackend;
use serde::Serialize;
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

/// Object-safe condensation of one instance, so the dataset is not generic over backend,
/// extractor and teacher. [`BurnCondenser`] adapts [`crate::condense::Condenser`]; tests use cheap
/// fakes.
pub trait InstanceCondenser: Send + Sync {
    /// Stable hash of everything in the condenser that influences its output (config, weights).
    fn fingerprint(&self) -> String;
    /// `n` synthetic `(lr, hr)` patches for `instance` (`n` LR patches of the instance's LR size
    /// and `n` HR patches `scale` times larger). Must be deterministic for a `seed`.
    fn condense(
        &self,
        instance: &Instance,
        n: usize,
        seed: u64,
    ) -> Result<(Vec<Image>, Vec<Image>)>;
}

/// [`InstanceCondenser`] over the IDC [`Condenser`] (Algorithm 1) with owned models.
pub struct BurnCondenser<B: AutodiffBackend, E, T> {
    config: CondenseConfig,
    extractor: Arc<E>,
    teacher: Arc<T>,
    device: B::Device,
    fingerprint: String,
}

impl<B, E, T> BurnCondenser<B, E, T>
where
    B: AutodiffBackend,
    E: FeatureExtractor<B>,
    T: Teacher<B>,
{
    /// Validates by constructing a [`Condenser`] once (config and extractor checks).
    pub fn new(
        config: CondenseConfig,
        extractor: Arc<E>,
        teacher: Arc<T>,
        device: B::Device,
    ) -> Result<Self> {
        Condenser::new(
            config.clone(),
            extractor.as_ref(),
            teacher.as_ref(),
            device.clone(),
        )?;
        #[derive(Serialize)]
        struct Key<'a> {
            kind: &'static str,
            config: &'a CondenseConfig,
            extractor: String,
            teacher: String,
            teacher_scale: usize,
        }
        let fingerprint = fingerprint(&Key {
            kind: "idc-condenser-v1",
            config: &config,
            extractor: extractor.fingerprint(),
            teacher: teacher.fingerprint(),
            teacher_scale: teacher.scale(),
        });
        Ok(Self {
            config,
            extractor,
            teacher,
            device,
            fingerprint,
        })
    }
}

impl<B, E, T> InstanceCondenser for BurnCondenser<B, E, T>
where
    B: AutodiffBackend,
    E: FeatureExtractor<B>,
    T: Teacher<B>,
{
    fn fingerprint(&self) -> String {
        self.fingerprint.clone()
    }

    fn condense(
        &self,
        instance: &Instance,
        n: usize,
        seed: u64,
    ) -> Result<(Vec<Image>, Vec<Image>)> {
        let condenser = Condenser::new(
            self.config.clone(),
            self.extractor.as_ref(),
            self.teacher.as_ref(),
            self.device.clone(),
        )?;
        let expected = self.config.synthetic_count(instance.lr.len());
        if expected != n {
            return Err(IdcError::config(
                "ratio",
                format!("condenser makes {expected} patches, dataset expects {n}"),
            ));
        }
        let out = condenser.condense(instance, seed)?;
        Ok((out.lr, out.hr))
    }
}

/// A source file that was left out under `skip_bad_images`, with the reason.
#[derive(Clone, Debug)]
pub struct SkippedImage {
    pub path: PathBuf,
    pub error: String,
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
struct InstanceInfo {
    src: SourceImage,
    /// Synthetic pairs `n_j`.
    n: usize,
    /// First dataset index of this instance.
    offset: usize,
    fingerprint: String,
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

/// State shared by the dataset and its condense-ahead worker.
pub(crate) struct Inner {
    instances: Vec<InstanceInfo>,
    total: usize,
    condenser: Arc<dyn InstanceCondenser>,
    cache_dir: PathBuf,
    mode: CacheMode,
    patch: PatchConfig,
    lru: Mutex<Lru>,
    rebuilt: Mutex<HashSet<usize>>,
    done: Vec<AtomicBool>,
    condensed: AtomicUsize,
    loaded: AtomicUsize,
    failed: AtomicUsize,
    write_manifest: bool,
    pub(crate) progress: Arc<ProgressState>,
}

/// Lazy condense-or-load dataset of LR/HR pairs over a shard cache. See the module docs.
pub struct IdcDataset {
    inner: Arc<Inner>,
    skipped: Vec<SkippedImage>,
    ahead: Option<AheadWorker>,
}

/// Builds the condenser once the final [`CondenseConfig`] is known (models given as values).
type CondenserFactory = Box<dyn FnOnce(CondenseConfig) -> Result<Arc<dyn InstanceCondenser>>>;

/// Builder of [`IdcDataset`]; defaults: scale 2, ratio 0.1, 96 px HR patches with step 48
/// (BasicSR DIV2K settings scaled down), default [`CondenseConfig`], cache `idc-cache`,
/// [`CacheMode::LazyCondense`], seed 0, bad images are an error, 32 shards in memory.
pub struct IdcDatasetBuilder {
    hr_dir: PathBuf,
    patch: PatchConfig,
    ratio: f64,
    config: CondenseConfig,
    condenser: Option<Arc<dyn InstanceCondenser>>,
    factory: Option<CondenserFactory>,
    cache_dir: PathBuf,
    mode: CacheMode,
    seed: u64,
    skip_bad_images: bool,
    skip_small_images: bool,
    verify_decode: Option<bool>,
    memory_shards: usize,
    ahead: Option<usize>,
    on_progress: Option<ProgressFn>,
    write_manifest: bool,
}

impl IdcDatasetBuilder {
    /// Up-sampling factor (2, 3 or 4).
    pub fn scale(mut self, scale: usize) -> Self {
        self.patch.scale = scale;
        self
    }
    /// Condensation ratio `r` in (0, 1].
    pub fn ratio(mut self, ratio: f64) -> Self {
        self.ratio = ratio;
        self
    }
    /// HR patch side (multiple of the scale).
    pub fn hr_patch(mut self, hr_patch: usize) -> Self {
        self.patch.hr_patch = hr_patch;
        self
    }
    /// Stride of the HR patch grid.
    pub fn step(mut self, step: usize) -> Self {
        self.patch.step = step;
        self
    }
    /// BasicSR's `thresh_size` for the flush last window.
    pub fn thresh_size(mut self, thresh: usize) -> Self {
        self.patch.thresh_size = thresh;
        self
    }
    /// Whole patch grid at once.
    pub fn patch_config(mut self, patch: PatchConfig) -> Self {
        self.patch = patch;
        self
    }
    /// Condensation settings; its `ratio` is overridden by [`Self::ratio`].
    pub fn condense(mut self, config: CondenseConfig) -> Self {
        self.config = config;
        self
    }
    /// The IDC condenser with this extractor and teacher (any [`FeatureExtractor`] / [`Teacher`],
    /// e.g. EDSR for both) on `device`; built at `build` from the final config.
    pub fn models<B, E, T>(mut self, extractor: E, teacher: T, device: B::Device) -> Self
    where
        B: AutodiffBackend,
        E: FeatureExtractor<B> + 'static,
        T: Teacher<B> + 'static,
    {
        self.factory = Some(Box::new(move |config| {
            let c = BurnCondenser::<B, E, T>::new(
                config,
                Arc::new(extractor),
                Arc::new(teacher),
                device,
            )?;
            Ok(Arc::new(c) as Arc<dyn InstanceCondenser>)
        }));
        self.condenser = None;
        self
    }
    /// Any [`InstanceCondenser`] (overrides [`Self::models`]); the condense config is then the
    /// condenser's business and only its fingerprint matters.
    pub fn condenser(mut self, condenser: Arc<dyn InstanceCondenser>) -> Self {
        self.condenser = Some(condenser);
        self.factory = None;
        self
    }
    /// Shard cache directory (created if missing).
    pub fn cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache_dir = dir.into();
        self
    }
    /// Cache policy.
    pub fn mode(mut self, mode: CacheMode) -> Self {
        self.mode = mode;
        self
    }
    /// Base seed; each instance condenses with a seed derived from it and its name, so results
    /// do not depend on instance order or on `--shard` splits.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
    /// `true`: images that fail probing (and, when they have no valid shard yet, decoding) are
    /// left out with a warning on stderr and listed in [`IdcDataset::skipped`]. `false`
    /// (default): `build` fails with the first such image's typed error.
    pub fn skip_bad_images(mut self, skip: bool) -> Self {
        self.skip_bad_images = skip;
        self
    }
    /// `true`: images smaller than one HR patch are left out with a warning (listed in
    /// [`IdcDataset::skipped`]), as `SrPatchDataset` does by default, so both serve the same
    /// instances of a folder like T91 (78-pixel images) with 96-pixel patches. `false`
    /// (default): such an image is a typed error, or skipped under `skip_bad_images`.
    pub fn skip_small_images(mut self, skip: bool) -> Self {
        self.skip_small_images = skip;
        self
    }
    /// Whether `build` fully decodes images that have no valid shard yet, so that undecodable
    /// files are caught (and, with `skip_bad_images`, skipped) before training. Default: on when
    /// `skip_bad_images` is on. `idc condense` turns it off: decoding every image in every job of
    /// an array would be wasted work, and a file that fails later is reported per instance.
    pub fn verify_decode(mut self, verify: bool) -> Self {
        self.verify_decode = Some(verify);
        self
    }
    /// How many decoded shards stay in memory (LRU).
    pub fn memory_shards(mut self, n: usize) -> Self {
        self.memory_shards = n;
        self
    }
    /// Start a background worker that condenses instances ahead of the loader, with a hint queue
    /// of `queue` instances (see [`super::ahead`]).
    pub fn condense_ahead(mut self, queue: usize) -> Self {
        self.ahead = Some(queue.max(1));
        self
    }
    /// Called after every instance that becomes available (and once at build).
    pub fn on_progress(mut self, f: impl Fn(&ProgressSnapshot) + Send + Sync + 'static) -> Self {
        self.on_progress = Some(Arc::new(f));
        self
    }
    /// Keep `manifest.json` up to date after each shard write (default true).
    pub fn manifest(mut self, write: bool) -> Self {
        self.write_manifest = write;
        self
    }

    /// Validates the settings, probes every image and computes `len()`; condenses nothing.
    pub fn build(self) -> Result<IdcDataset> {
        self.patch.validate()?;
        if !(self.ratio.is_finite() && self.ratio > 0.0 && self.ratio <= 1.0) {
            return Err(IdcError::config("ratio", "must be in (0, 1]"));
        }
        let mut config = self.config;
        config.ratio = self.ratio;
        let condenser = match (self.condenser, self.factory) {
            (Some(c), _) => c,
            (None, Some(f)) => f(config.clone())?,
            (None, None) => {
                return Err(IdcError::config(
                    "condenser",
                    "set .models(extractor, teacher, device) or .condenser(..)",
                ));
            }
        };
        std::fs::create_dir_all(&self.cache_dir).map_err(|e| IdcError::io(&self.cache_dir, e))?;
        shard::remove_stale_temps(&self.cache_dir);
        let cond_fp = condenser.fingerprint();
        let verify_decode = self.verify_decode.unwrap_or(self.skip_bad_images);

        let mut instances = Vec::new();
        let mut skipped = Vec::new();
        let mut done = Vec::new();
        let mut total = 0usize;
        // Content hashes of unchanged images come from the cache dir, so a warm build reads
        // image headers rather than every image in full.
        let hashes = source::HashCache::open(&self.cache_dir);
        for path in source::list_candidates(&self.hr_dir)? {
            let probed = source::probe_image_cached(
                &self.hr_dir,
                &path,
                &self.patch,
                Some(&hashes),
                self.skip_small_images,
            );
            if let Ok(src) = &probed
                && src.n_real == 0
            {
                eprintln!(
                    "warning: skipping {}: {}x{} is smaller than one {}x{} patch",
                    path.display(),
                    src.width,
                    src.height,
                    self.patch.hr_patch,
                    self.patch.hr_patch
                );
                skipped.push(SkippedImage {
                    error: format!("smaller than one {}-pixel patch", self.patch.hr_patch),
                    path,
                });
                continue;
            }
            let probed = probed.and_then(|src| {
                let n = config.synthetic_count(src.n_real);
                let seed = instance_seed(self.seed, &src.name);
                let fp = instance_fingerprint(&cond_fp, &self.patch, self.ratio, &src, n, seed);
                let spath = shard::shard_path(&self.cache_dir, &src.name);
                let has_shard = self.mode != CacheMode::Rebuild
                    && peek_fingerprint(&spath).as_deref() == Some(fp.as_str());
                // Under skip_bad_images an image that will have to be condensed is decoded now,
                // so a truncated file is skipped here rather than failing mid-training.
                if verify_decode && !has_shard && self.mode != CacheMode::LoadOnly {
                    source::load_pairs(&src, &self.patch)?;
                }
                Ok((src, n, seed, fp, has_shard))
            });
            match probed {
                Ok((src, n, seed, fingerprint, has_shard)) => {
                    instances.push(InstanceInfo {
                        src,
                        n,
                        offset: total,
                        fingerprint,
                        seed,
                    });
                    done.push(AtomicBool::new(has_shard));
                    total += n;
                }
                Err(e) if self.skip_bad_images => {
                    eprintln!("warning: skipping {}: {e}", path.display());
                    skipped.push(SkippedImage {
                        path,
                        error: e.to_string(),
                    });
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
                self.hr_dir.display(),
                skipped.len()
            )));
        }
        let initially_done = done.iter().filter(|d| d.load(Ordering::Relaxed)).count();
        let progress = Arc::new(ProgressState::new(
            instances.len(),
            initially_done,
            self.on_progress,
        ));
        let inner = Arc::new(Inner {
            instances,
            total,
            condenser,
            cache_dir: self.cache_dir,
            mode: self.mode,
            patch: self.patch,
            lru: Mutex::new(Lru {
                cap: self.memory_shards,
                tick: 0,
                map: HashMap::new(),
            }),
            rebuilt: Mutex::new(HashSet::new()),
            done,
            condensed: AtomicUsize::new(0),
            loaded: AtomicUsize::new(0),
            failed: AtomicUsize::new(0),
            write_manifest: self.write_manifest,
            progress,
        });
        inner.progress.notify();
        let ahead = self.ahead.map(|q| AheadWorker::start(inner.clone(), q));
        Ok(IdcDataset {
            inner,
            skipped,
            ahead,
        })
    }
}

/// Per-instance seed from the base seed and the instance name (order- and split-independent).
fn instance_seed(seed: u64, name: &str) -> u64 {
    crate::seed::named_seed(seed, name)
}

/// Shard key: everything that determines the instance's condensed patches.
fn instance_fingerprint(
    condenser: &str,
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
    }
    fingerprint(&Key {
        format: shard::FORMAT_VERSION,
        condenser,
        patch,
        ratio,
        image_sha256: &src.content_hash,
        image_size: (src.height, src.width),
        n_real: src.n_real,
        n,
        seed,
    })
}

/// The fingerprint in a shard's header, without reading or checking the patches (cheap; used at
/// build time for progress and skip decisions only; serving always validates fully).
fn peek_fingerprint(path: &Path) -> Option<String> {
    shard::read_header(path).ok().map(|h| h.fingerprint)
}

impl IdcDataset {
    /// Starts a builder over the HR images in `hr_dir` (non-recursive; png, jpg, bmp, tif).
    pub fn builder(hr_dir: impl Into<PathBuf>) -> IdcDatasetBuilder {
        IdcDatasetBuilder {
            hr_dir: hr_dir.into(),
            patch: PatchConfig {
                scale: 2,
                hr_patch: 96,
                step: 48,
                thresh_size: 0,
            },
            ratio: 0.1,
            config: CondenseConfig::default(),
            condenser: None,
            factory: None,
            cache_dir: PathBuf::from("idc-cache"),
            mode: CacheMode::LazyCondense,
            seed: 0,
            skip_bad_images: false,
            skip_small_images: false,
            verify_decode: None,
            memory_shards: 32,
            ahead: None,
            on_progress: None,
            write_manifest: true,
        }
    }

    /// Number of items (`sum_j n_j`), known without condensing; same as `Dataset::len`.
    pub fn len(&self) -> usize {
        self.inner.total
    }

    /// Never true for a built dataset (`build` rejects folders without usable images).
    pub fn is_empty(&self) -> bool {
        self.inner.total == 0
    }

    /// Number of instances (usable images).
    pub fn num_instances(&self) -> usize {
        self.inner.instances.len()
    }

    /// Name of instance `j` (image path relative to the HR folder).
    pub fn instance_name(&self, j: usize) -> Option<&str> {
        self.inner.instances.get(j).map(|i| i.src.name.as_str())
    }

    /// Dataset index range of instance `j`.
    pub fn instance_range(&self, j: usize) -> Option<std::ops::Range<usize>> {
        self.inner
            .instances
            .get(j)
            .map(|i| i.offset..i.offset + i.n)
    }

    /// Shard path of instance `j`.
    pub fn shard_path(&self, j: usize) -> Option<PathBuf> {
        self.inner
            .instances
            .get(j)
            .map(|i| shard::shard_path(&self.inner.cache_dir, &i.src.name))
    }

    /// Expected shard fingerprint of instance `j`.
    pub fn instance_fingerprint(&self, j: usize) -> Option<&str> {
        self.inner.instances.get(j).map(|i| i.fingerprint.as_str())
    }

    /// (instance, pair within the instance) of dataset index `i`.
    pub fn locate(&self, i: usize) -> Option<(usize, usize)> {
        self.inner.locate(i)
    }

    /// Images left out at build time under `skip_bad_images`.
    pub fn skipped(&self) -> &[SkippedImage] {
        &self.skipped
    }

    /// Item `i` or the typed reason it cannot be served.
    pub fn try_get(&self, i: usize) -> Result<SrPair> {
        let (j, k) = self.inner.locate(i).ok_or_else(|| {
            IdcError::InvalidInput(format!("index {i} out of range (len {})", self.inner.total))
        })?;
        if let Some(w) = &self.ahead {
            w.hint(j);
        }
        let pairs = self.inner.pairs(j)?;
        pairs.get(k).cloned().ok_or_else(|| {
            IdcError::cache(
                shard::shard_path(&self.inner.cache_dir, &self.inner.instances[j].src.name),
                format!(
                    "shard has {} pairs, expected {}",
                    pairs.len(),
                    self.inner.instances[j].n
                ),
            )
        })
    }

    /// Makes sure instance `j` has a valid shard (loading or condensing it), without keeping it
    /// in memory. Used by `idc condense` and the condense-ahead worker.
    pub fn ensure_instance(&self, j: usize) -> Result<Outcome> {
        self.inner.obtain(j, false).map(|(_, o)| o)
    }

    /// Like [`Self::ensure_instance`], but returns `Ok(None)` instead of waiting when another
    /// thread or process holds the instance's lock (it is being condensed right now).
    pub fn try_ensure_instance(&self, j: usize) -> Result<Option<Outcome>> {
        Ok(self.inner.obtain_with(j, false, false)?.map(|(_, o)| o))
    }

    /// Condenses (or validates) every instance in order; returns the first error after trying
    /// all of them.
    pub fn condense_all(&self) -> Result<()> {
        let mut first = None;
        for j in 0..self.num_instances() {
            if let Err(e) = self.ensure_instance(j) {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }

    /// Counters (condensed / loaded / failed) so far.
    pub fn stats(&self) -> DatasetStats {
        self.inner.stats()
    }

    /// Condensation progress: instances with a valid shard, total, ETA.
    pub fn progress(&self) -> ProgressSnapshot {
        self.inner.progress.snapshot()
    }

    /// A burn-train metric that shows condensation progress during training.
    pub fn progress_metric(&self) -> CondenseProgressMetric {
        CondenseProgressMetric::new(self.inner.progress.clone())
    }

    /// Blocks until the condense-ahead worker has processed every instance (no-op without one).
    pub fn wait_ahead(&self) {
        if let Some(w) = &self.ahead {
            w.wait_idle();
        }
    }
}

impl Inner {
    fn locate(&self, i: usize) -> Option<(usize, usize)> {
        if i >= self.total {
            return None;
        }
        let j = self.instances.partition_point(|x| x.offset <= i) - 1;
        Some((j, i - self.instances[j].offset))
    }

    pub(crate) fn num_instances(&self) -> usize {
        self.instances.len()
    }

    pub(crate) fn is_done(&self, j: usize) -> bool {
        self.done.get(j).is_some_and(|d| d.load(Ordering::Acquire))
    }

    fn stats(&self) -> DatasetStats {
        DatasetStats {
            condensed: self.condensed.load(Ordering::Relaxed),
            loaded: self.loaded.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
        }
    }

    /// Pairs of instance `j` (memory, file or fresh condensation).
    fn pairs(&self, j: usize) -> Result<Arc<Vec<SrPair>>> {
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
        let path = shard::shard_path(&self.cache_dir, &info.src.name);
        if !self.needs_rebuild(j) {
            match self.try_load(j, &path, keep) {
                Ok(p) => return Ok(Some((p, Outcome::Loaded))),
                Err(e) if self.mode == CacheMode::LoadOnly => return Err(e),
                Err(_) => {}
            }
        }
        let lock_path = shard::lock_path(&self.cache_dir, &info.src.name);
        let _lock = if blocking {
            InstanceLock::acquire_path(&lock_path)?
        } else {
            match InstanceLock::try_acquire_path(&lock_path)? {
                Some(l) => l,
                None => return Ok(None),
            }
        };
        // Someone (thread or process) may have written it while we waited for the lock.
        if !self.needs_rebuild(j)
            && let Ok(p) = self.try_load(j, &path, keep)
        {
            return Ok(Some((p, Outcome::Loaded)));
        }
        let t0 = Instant::now();
        let (lr_real, _hr_real) = source::load_pairs(&info.src, &self.patch)?;
        let instance = Instance {
            name: info.src.name.clone(),
            lr: lr_real,
        };
        let (lr, hr) = self.condenser.condense(&instance, info.n, info.seed)?;
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
            hr,
        };
        let bytes = shard::encode_shard(&shard)?;
        shard::write_bytes_atomic(&path, &bytes)?;
        if let Ok(mut s) = self.rebuilt.lock() {
            s.insert(j);
        }
        self.condensed.fetch_add(1, Ordering::Relaxed);
        self.progress.condensed_in(t0.elapsed());
        if self.write_manifest {
            let entry = ManifestEntry {
                instance: info.src.name.clone(),
                file: file_name(&path),
                fingerprint: info.fingerprint.clone(),
                patches: info.n,
                bytes: bytes.len() as u64,
            };
            if let Err(e) = Manifest::upsert(&self.cache_dir, &[entry]) {
                eprintln!("warning: manifest not updated: {e}");
            }
        }
        if !keep {
            return Ok(Some((None, Outcome::Condensed)));
        }
        // Serve exactly what a later load returns (8-bit values).
        let decoded = shard::decode_shard(&bytes, &path, Some(&info.fingerprint))?;
        let pairs = Arc::new(to_pairs(decoded));
        self.remember(j, &pairs);
        Ok(Some((Some(pairs), Outcome::Condensed)))
    }

    fn try_load(&self, j: usize, path: &Path, keep: bool) -> Result<Option<Arc<Vec<SrPair>>>> {
        let info = &self.instances[j];
        let s = shard::read_shard(path, Some(&info.fingerprint))?;
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
        self.loaded.fetch_add(1, Ordering::Relaxed);
        if !keep {
            return Ok(None);
        }
        let pairs = Arc::new(to_pairs(s));
        self.remember(j, &pairs);
        Ok(Some(pairs))
    }

    fn remember(&self, j: usize, pairs: &Arc<Vec<SrPair>>) {
        if let Ok(mut l) = self.lru.lock() {
            l.put(j, pairs.clone());
        }
    }
}

fn to_pairs(s: Shard) -> Vec<SrPair> {
    s.lr.into_iter()
        .zip(s.hr)
        .map(|(lr, hr)| SrPair { lr, hr })
        .collect()
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

impl Dataset<SrPair> for IdcDataset {
    /// Item `i`; on error logs it to stderr and returns `None` (see the module docs: Burn's
    /// DataLoader then ends the epoch). Use [`IdcDataset::try_get`] for the typed error.
    fn get(&self, index: usize) -> Option<SrPair> {
        match self.try_get(index) {
            Ok(p) => Some(p),
            Err(e) => {
                eprintln!("error: IdcDataset item {index}: {e}");
                None
            }
        }
    }

    fn len(&self) -> usize {
        self.inner.total
    }
}

impl Drop for IdcDataset {
    fn drop(&mut self) {
        if let Some(w) = self.ahead.take() {
            w.stop();
        }
    }
}

/// Test helpers: a fast deterministic [`InstanceCondenser`] (no network, no gradient).
pub mod testing {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// Picks `n` real LR patches (evenly spaced, offset by the seed) and makes HR targets by
    /// pixel replication; counts its calls. For tests of the caching machinery.
    pub struct FakeCondenser {
        pub scale: usize,
        /// Part of the fingerprint: changing it must re-condense.
        pub tag: String,
        pub calls: AtomicUsize,
    }

    impl FakeCondenser {
        pub fn new(scale: usize, tag: &str) -> Self {
            Self {
                scale,
                tag: tag.into(),
                calls: AtomicUsize::new(0),
            }
        }
    }

    impl InstanceCondenser for FakeCondenser {
        fn fingerprint(&self) -> String {
            crate::config::hex_sha256(format!("fake:{}:{}", self.scale, self.tag).as_bytes())
        }

        fn condense(
            &self,
            instance: &Instance,
            n: usize,
            seed: u64,
        ) -> Result<(Vec<Image>, Vec<Image>)> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let m = instance.lr.len();
            if m == 0 {
                return Err(IdcError::InvalidInput("empty instance".into()));
            }
            let s = self.scale;
            let mut lr = Vec::new();
            let mut hr = Vec::new();
            for i in 0..n {
                let p = &instance.lr[(i * m / n + seed as usize) % m];
                let mut data = Vec::with_capacity(p.data.len() * s * s);
                for c in 0..p.channels {
                    for y in 0..p.height * s {
                        for x in 0..p.width * s {
                            data.push(p.at(c, y / s, x / s));
                        }
                    }
                }
                hr.push(Image::new(p.channels, p.height * s, p.width * s, data)?);
                lr.push(p.clone());
            }
            Ok((lr, hr))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::FakeCondenser;
    use super::*;

    /// Writes `count` small RGB PNGs with distinct content.
    fn write_images(dir: &Path, count: usize, size: u32) {
        for i in 0..count {
            let img = image::RgbImage::from_fn(size, size + 8 * i as u32, |x, y| {
                image::Rgb([
                    (x * 7 + i as u32 * 40) as u8,
                    (y * 5) as u8,
                    ((x + y) * 3) as u8,
                ])
            });
            img.save(dir.join(format!("img{i}.png"))).unwrap();
        }
    }

    fn builder(hr: &Path, cache: &Path, fake: Arc<FakeCondenser>) -> IdcDatasetBuilder {
        IdcDataset::builder(hr)
            .scale(2)
            .ratio(0.3)
            .hr_patch(16)
            .step(8)
            .cache_dir(cache)
            .condenser(fake)
    }

    #[test]
    fn len_is_known_before_condensing_and_cold_equals_warm() {
        let hr = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        write_images(hr.path(), 3, 32);
        let fake = Arc::new(FakeCondenser::new(2, "a"));
        let ds = builder(hr.path(), cache.path(), fake.clone())
            .build()
            .unwrap();
        // 32x32: 3x3 = 9 patches -> ceil(2.7) = 3; 32x40: 3x4 = 12 -> 4; 32x48: 3x5 = 15 -> 5.
        assert_eq!(ds.len(), 3 + 4 + 5);
        assert_eq!(fake.calls.load(Ordering::SeqCst), 0);
        let cold: Vec<SrPair> = (0..ds.len()).map(|i| ds.try_get(i).unwrap()).collect();
        assert_eq!(fake.calls.load(Ordering::SeqCst), 3);
        assert_eq!(ds.stats().condensed, 3);
        assert_eq!(ds.progress().done, 3);
        drop(ds);

        let fake2 = Arc::new(FakeCondenser::new(2, "a"));
        let ds = builder(hr.path(), cache.path(), fake2.clone())
            .mode(CacheMode::LoadOnly)
            .build()
            .unwrap();
        assert_eq!(ds.progress().done, 3, "build sees the cached shards");
        let warm: Vec<SrPair> = (0..ds.len()).map(|i| ds.try_get(i).unwrap()).collect();
        assert_eq!(fake2.calls.load(Ordering::SeqCst), 0);
        assert_eq!(cold, warm);
        assert_eq!(cold[0].lr.height * 2, cold[0].hr.height);
        assert!(ds.try_get(ds.len()).is_err());
        assert!(ds.get(ds.len()).is_none());
        let m = Manifest::read(cache.path()).unwrap();
        assert_eq!(m.instances.len(), 3);
    }

    #[test]
    fn small_images_are_skipped_only_when_asked_and_hashes_are_cached() {
        let hr = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        write_images(hr.path(), 2, 32);
        image::RgbImage::from_pixel(12, 40, image::Rgb([9, 9, 9]))
            .save(hr.path().join("tiny.png"))
            .unwrap();
        let fake = Arc::new(FakeCondenser::new(2, "a"));
        assert!(matches!(
            builder(hr.path(), cache.path(), fake.clone()).build(),
            Err(IdcError::InvalidInput(_))
        ));
        let ds = builder(hr.path(), cache.path(), fake.clone())
            .skip_small_images(true)
            .build()
            .unwrap();
        assert_eq!(ds.len(), 3 + 4);
        assert_eq!(ds.skipped().len(), 1);
        assert!(ds.skipped()[0].path.ends_with("tiny.png"));
        // The build recorded every probed image's hash for the next warm build.
        let text = std::fs::read_to_string(cache.path().join(source::HashCache::FILE)).unwrap();
        assert_eq!(text.matches("sha256").count(), 3);
    }

    #[test]
    fn load_only_on_empty_cache_is_a_cache_error() {
        let hr = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        write_images(hr.path(), 1, 32);
        let fake = Arc::new(FakeCondenser::new(2, "a"));
        let ds = builder(hr.path(), cache.path(), fake.clone())
            .mode(CacheMode::LoadOnly)
            .build()
            .unwrap();
        assert!(matches!(ds.try_get(0), Err(IdcError::Cache { .. })));
        assert_eq!(fake.calls.load(Ordering::SeqCst), 0);
        assert_eq!(ds.stats().failed, 1);
    }

    #[test]
    fn config_change_recondenses_and_rebuild_overwrites() {
        let hr = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        write_images(hr.path(), 2, 32);
        let a = Arc::new(FakeCondenser::new(2, "a"));
        builder(hr.path(), cache.path(), a.clone())
            .build()
            .unwrap()
            .condense_all()
            .unwrap();
        assert_eq!(a.calls.load(Ordering::SeqCst), 2);
        // Same config: nothing to do.
        let a2 = Arc::new(FakeCondenser::new(2, "a"));
        builder(hr.path(), cache.path(), a2.clone())
            .build()
            .unwrap()
            .condense_all()
            .unwrap();
        assert_eq!(a2.calls.load(Ordering::SeqCst), 0);
        // Different condenser fingerprint, different seed, different ratio: all re-condense.
        let b = Arc::new(FakeCondenser::new(2, "b"));
        builder(hr.path(), cache.path(), b.clone())
            .build()
            .unwrap()
            .condense_all()
            .unwrap();
        assert_eq!(b.calls.load(Ordering::SeqCst), 2);
        let c = Arc::new(FakeCondenser::new(2, "b"));
        builder(hr.path(), cache.path(), c.clone())
            .seed(7)
            .build()
            .unwrap()
            .condense_all()
            .unwrap();
        assert_eq!(c.calls.load(Ordering::SeqCst), 2);
        let d = Arc::new(FakeCondenser::new(2, "b"));
        let ds = builder(hr.path(), cache.path(), d.clone())
            .seed(7)
            .ratio(0.5)
            .build()
            .unwrap();
        ds.condense_all().unwrap();
        assert_eq!(d.calls.load(Ordering::SeqCst), 2);
        // A modified image re-condenses only that instance.
        write_images(hr.path(), 1, 40);
        let e = Arc::new(FakeCondenser::new(2, "b"));
        let ds = builder(hr.path(), cache.path(), e.clone())
            .seed(7)
            .ratio(0.5)
            .build()
            .unwrap();
        ds.condense_all().unwrap();
        assert_eq!(e.calls.load(Ordering::SeqCst), 1);
        // Rebuild condenses everything once, however often items are read.
        let f = Arc::new(FakeCondenser::new(2, "b"));
        let ds = builder(hr.path(), cache.path(), f.clone())
            .seed(7)
            .ratio(0.5)
            .mode(CacheMode::Rebuild)
            .memory_shards(0)
            .build()
            .unwrap();
        for i in 0..ds.len() {
            ds.try_get(i).unwrap();
        }
        assert_eq!(f.calls.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn corrupt_shard_is_recondensed_lazily() {
        let hr = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        write_images(hr.path(), 1, 32);
        let a = Arc::new(FakeCondenser::new(2, "a"));
        let ds = builder(hr.path(), cache.path(), a.clone()).build().unwrap();
        let first = ds.try_get(0).unwrap();
        let p = ds.shard_path(0).unwrap();
        drop(ds);
        let mut bytes = std::fs::read(&p).unwrap();
        let n = bytes.len();
        bytes[n - 10] ^= 0x55;
        std::fs::write(&p, &bytes).unwrap();
        let b = Arc::new(FakeCondenser::new(2, "a"));
        let ds = builder(hr.path(), cache.path(), b.clone())
            .mode(CacheMode::LoadOnly)
            .build()
            .unwrap();
        assert!(matches!(ds.try_get(0), Err(IdcError::Cache { .. })));
        let ds = builder(hr.path(), cache.path(), b.clone()).build().unwrap();
        assert_eq!(ds.try_get(0).unwrap(), first);
        assert_eq!(b.calls.load(Ordering::SeqCst), 1);
        assert!(
            shard::verify_cache(cache.path())
                .unwrap()
                .invalid
                .is_empty()
        );
    }

    #[test]
    fn threads_condense_each_instance_once() {
        let hr = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        write_images(hr.path(), 3, 32);
        let fake = Arc::new(FakeCondenser::new(2, "a"));
        let ds = Arc::new(
            builder(hr.path(), cache.path(), fake.clone())
                .memory_shards(1)
                .build()
                .unwrap(),
        );
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let ds = ds.clone();
                std::thread::spawn(move || {
                    for i in 0..ds.len() {
                        let i = (i * 5 + t) % ds.len();
                        ds.try_get(i).unwrap();
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(fake.calls.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn condense_ahead_fills_the_cache_and_reports_progress() {
        let hr = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        write_images(hr.path(), 4, 32);
        let fake = Arc::new(FakeCondenser::new(2, "a"));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s2 = seen.clone();
        let ds = builder(hr.path(), cache.path(), fake.clone())
            .condense_ahead(2)
            .on_progress(move |p| s2.lock().unwrap().push(p.done))
            .build()
            .unwrap();
        ds.wait_ahead();
        assert_eq!(ds.progress().done, 4);
        assert_eq!(fake.calls.load(Ordering::SeqCst), 4);
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.first(), Some(&0));
        assert_eq!(seen.last(), Some(&4));
        // Everything is served from the cache now.
        for i in 0..ds.len() {
            ds.try_get(i).unwrap();
        }
        assert_eq!(fake.calls.load(Ordering::SeqCst), 4);
    }

    #[test]
    fn bad_images_error_or_skip() {
        let hr = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        write_images(hr.path(), 1, 32);
        std::fs::write(hr.path().join("zzz.png"), b"").unwrap();
        let fake = Arc::new(FakeCondenser::new(2, "a"));
        let err = builder(hr.path(), cache.path(), fake.clone()).build();
        assert!(matches!(err, Err(IdcError::Decode { .. })));
        let ds = builder(hr.path(), cache.path(), fake.clone())
            .skip_bad_images(true)
            .build()
            .unwrap();
        assert_eq!(ds.num_instances(), 1);
        assert_eq!(ds.skipped().len(), 1);
        let empty = tempfile::tempdir().unwrap();
        assert!(matches!(
            builder(empty.path(), cache.path(), fake).build(),
            Err(IdcError::InvalidInput(_))
        ));
    }
}
