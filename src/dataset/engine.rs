//! The engine behind [`IdcDataset`](super::idc::IdcDataset): its instance table
//! ([`super::instances`]), a small LRU of decoded shards ([`super::lru`]) and the one
//! condense-or-load path, [`Engine::fetch`], which asks [`ShardCache::get_or_create_many`] for one
//! or many instances. The dataset and its condense-ahead worker share one engine; the worker sees
//! it only as an [`ahead::CondenseTarget`].

use super::ahead::{self, ProgressState};
use super::condenser::{CondensedPatches, InstanceCondenser};
use super::instances::{InstanceInfo, InstanceTable, KeyParts};
use super::lru::Lru;
use super::settings::{CacheMode, Settings};
use crate::cache::{
    self, EntryNotes, Fetched, GetOrCreate, HrRegenerator, Shard, ShardCache, ShardStore,
    SourceBytes, Wanted,
};
use crate::condense::Instance;
use crate::error::{IdcError, Result};
use crate::image::SrPair;
use crate::source::SkippedImage;
use serde::Serialize;
use std::cell::Cell;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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

/// Pairs (when asked to keep them) and how they were obtained.
pub(crate) type Loaded = (Option<Arc<Vec<SrPair>>>, Outcome);

/// State shared by the dataset and its condense-ahead worker.
pub(crate) struct Engine {
    settings: Settings,
    table: InstanceTable,
    condenser: Arc<dyn InstanceCondenser>,
    cache: ShardCache,
    lru: Mutex<Lru>,
    /// Instances condensed by this object (under [`CacheMode::Rebuild`], once is enough).
    rebuilt: Mutex<HashSet<usize>>,
    /// The teacher that remakes HR on load; `Some` exactly when shards are stored LR only.
    regen: Option<Arc<dyn HrRegenerator>>,
    counters: Counters,
    pub(crate) progress: Arc<ProgressState>,
}

/// The atomics behind [`DatasetStats`].
#[derive(Default)]
struct Counters {
    condensed: AtomicUsize,
    loaded: AtomicUsize,
    failed: AtomicUsize,
}

impl Engine {
    /// Opens the cache and probes every image of the folder ([`InstanceTable::build`]), so
    /// `len()` is known; condenses nothing.
    pub(crate) fn build(
        settings: Settings,
        condenser: Arc<dyn InstanceCondenser>,
    ) -> Result<(Engine, Vec<SkippedImage>)> {
        let regen = match settings.store {
            ShardStore::Full => None,
            ShardStore::LrOnly => Some(condenser.hr_regenerator().ok_or_else(|| {
                IdcError::config("store", "lr-only needs a condenser with a teacher")
            })?),
        };
        let cache = ShardCache::open(&settings.cache_dir)?.with_manifest(settings.write_manifest);
        let key = KeyParts::new(condenser.fingerprint(), regen.as_deref());
        let (table, skipped) = InstanceTable::build(&settings, &key, &cache)?;
        let observer = settings.on_progress.clone();
        let progress = ProgressState::new(table.all().len(), table.done_count(), observer);
        let engine = Engine {
            lru: Mutex::new(Lru::new(settings.memory_shards)),
            settings,
            table,
            condenser,
            cache,
            rebuilt: Mutex::default(),
            regen,
            counters: Counters::default(),
            progress: Arc::new(progress),
        };
        engine.progress.notify();
        Ok((engine, skipped))
    }

    /// Number of items (`sum_j n_j`).
    pub(crate) fn total(&self) -> usize {
        self.table.total()
    }

    pub(crate) fn instances(&self) -> &[InstanceInfo] {
        self.table.all()
    }

    /// Shard path of instance `info`.
    pub(crate) fn shard_path(&self, info: &InstanceInfo) -> PathBuf {
        self.cache.shard_path(&info.src.name)
    }

    /// What instance `info`'s shard stands in for ([`InstanceInfo::source_bytes`]).
    pub(crate) fn source_bytes(&self, info: &InstanceInfo) -> SourceBytes {
        info.source_bytes(&self.settings.patch)
    }

    /// (instance, pair within the instance) of dataset index `i`.
    pub(crate) fn locate(&self, i: usize) -> Option<(usize, usize)> {
        self.table.locate(i)
    }

    pub(crate) fn stats(&self) -> DatasetStats {
        let c = &self.counters;
        DatasetStats {
            condensed: c.condensed.load(Ordering::Relaxed),
            loaded: c.loaded.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
        }
    }

    /// Pairs of instance `j` (memory, file or fresh condensation).
    pub(crate) fn pairs(&self, j: usize) -> Result<Arc<Vec<SrPair>>> {
        if let Some(p) = self.lru.lock().ok().and_then(|mut l| l.get(j)) {
            return Ok(p);
        }
        let (pairs, _) = one(self.fetch(&[j], true, true))?
            .ok_or_else(|| IdcError::Internal("blocking lock not taken".into()))?;
        pairs.ok_or_else(|| IdcError::Internal("no pairs".into()))
    }

    /// How instance `j` was obtained ([`Self::outcomes`] of one).
    pub(crate) fn outcome(&self, j: usize, blocking: bool) -> Result<Option<Outcome>> {
        one(self.outcomes(&[j], blocking))
    }

    /// [`Self::fetch`] of `js` without keeping their pairs: how each was obtained.
    pub(crate) fn outcomes(&self, js: &[usize], blocking: bool) -> Vec<Result<Option<Outcome>>> {
        let fetched = self.fetch(js, false, blocking).into_iter();
        fetched.map(|r| r.map(|l| l.map(|(_, o)| o))).collect()
    }

    /// The one condense-or-load path: loads each of `js` whose shard is valid and, mode
    /// permitting, condenses the others together under their locks, through
    /// [`ShardCache::get_or_create_many`]. With `keep`, the pairs come back and go to the LRU.
    /// One result per instance, `Ok(None)` when, without `blocking`, another holder has its lock.
    pub(crate) fn fetch(
        &self,
        js: &[usize],
        keep: bool,
        blocking: bool,
    ) -> Vec<Result<Option<Loaded>>> {
        let asked = js.iter().map(|&j| Ok((j, self.table.get(j)?))).collect();
        let share = Cell::new(Duration::ZERO);
        let fetched = through_oks(asked, |valid| self.get_or_create(&valid, blocking, &share));
        (js.iter().zip(fetched))
            .map(|(&j, r)| self.settle(j, r, share.get(), keep))
            .collect()
    }

    /// The cache's side of [`Self::fetch`] for instances `(j, info)`; `share` gets the
    /// condensation time per condensed instance.
    fn get_or_create(
        &self,
        asked: &[(usize, &InstanceInfo)],
        blocking: bool,
        share: &Cell<Duration>,
    ) -> Vec<Result<Option<Fetched>>> {
        let reuse: Vec<_> = (asked.iter())
            .map(|&(j, _)| move || !self.needs_rebuild(j))
            .collect();
        let check: Vec<_> = (asked.iter())
            .map(|&(_, info)| move |s: &Shard, p: &Path| self.check_shard(info, s, p))
            .collect();
        let wanted: Vec<Wanted> = (asked.iter().zip(reuse.iter().zip(&check)))
            .map(|(&(_, info), (reuse, check))| Wanted {
                instance: &info.src.name,
                fingerprint: &info.fingerprint,
                opts: GetOrCreate {
                    reuse,
                    create: self.settings.mode != CacheMode::LoadOnly,
                    wait: blocking,
                },
                check,
            })
            .collect();
        self.cache.get_or_create_many(&wanted, |ks| {
            let t0 = Instant::now();
            let made = self.condense(ks.iter().map(|&k| asked[k].1).collect());
            share.set(t0.elapsed() / ks.len().max(1) as u32);
            made
        })
    }

    /// Decodes the images of `infos`, condenses them in one batch
    /// ([`InstanceCondenser::condense_batch`]) and makes each one's shard and manifest notes.
    fn condense(&self, infos: Vec<&InstanceInfo>) -> Vec<Result<(Shard, EntryNotes)>> {
        let patch = &self.settings.patch;
        let loaded = infos.into_iter().map(|i| Ok((i, i.load(patch)?))).collect();
        through_oks(loaded, |ready: Vec<(&InstanceInfo, Instance)>| {
            let jobs: Vec<_> = ready.iter().map(|(i, inst)| (inst, i.n, i.seed)).collect();
            let made = self.condenser.condense_batch(&jobs);
            (ready.iter().zip(made))
                .map(|((info, _), m)| self.make_shard(info, m?))
                .collect()
        })
    }

    /// A shard with the right fingerprint must also have `n_j` pairs at the dataset's scale.
    fn check_shard(&self, info: &InstanceInfo, s: &Shard, path: &Path) -> Result<()> {
        let scale = self.settings.patch.scale;
        if s.len() != info.n || s.scale != scale {
            return Err(IdcError::cache(
                path,
                format!(
                    "shard has {} pairs at scale {}, expected {} at {scale}",
                    s.len(),
                    s.scale,
                    info.n,
                ),
            ));
        }
        Ok(())
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
            return Err(IdcError::mismatch(
                format!(
                    "patches the condenser returned for {} (LR / HR)",
                    info.src.name
                ),
                format!("{} / {}", info.n, info.n),
                format!("{} / {}", lr.len(), hr.len()),
            ));
        }
        let shard = Shard {
            fingerprint: info.fingerprint.clone(),
            scale: self.settings.patch.scale,
            lr,
            hr: if self.regen.is_some() { Vec::new() } else { hr },
        };
        let notes = EntryNotes {
            source: Some(self.source_bytes(info)),
            realism,
        };
        Ok((shard, notes))
    }

    /// Counts one result of [`Self::fetch`] (done, or failed) and serves it.
    fn settle(
        &self,
        j: usize,
        fetched: Result<Option<Fetched>>,
        share: Duration,
        keep: bool,
    ) -> Result<Option<Loaded>> {
        let r = fetched.and_then(|f| f.map(|f| self.serve(j, f, share, keep)).transpose());
        match &r {
            Ok(Some(_)) if self.table.mark_done(j) => self.progress.instance_done(),
            Ok(_) => {}
            Err(_) => {
                self.counters.failed.fetch_add(1, Ordering::Relaxed);
            }
        }
        r
    }

    /// Counts how instance `j`'s shard was obtained and, with `keep`, turns it into pairs kept
    /// in the LRU.
    fn serve(&self, j: usize, f: Fetched, share: Duration, keep: bool) -> Result<Loaded> {
        let outcome = if f.created {
            if let Ok(mut s) = self.rebuilt.lock() {
                s.insert(j);
            }
            self.counters.condensed.fetch_add(1, Ordering::Relaxed);
            self.progress.condensed_in(share);
            Outcome::Condensed
        } else {
            self.counters.loaded.fetch_add(1, Ordering::Relaxed);
            Outcome::Loaded
        };
        if !keep {
            return Ok((None, outcome));
        }
        let pairs = Arc::new(self.to_pairs(f.shard)?);
        if let Ok(mut l) = self.lru.lock() {
            l.put(j, pairs.clone());
        }
        Ok((Some(pairs), outcome))
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

    fn needs_rebuild(&self, j: usize) -> bool {
        self.settings.mode == CacheMode::Rebuild
            && !self.rebuilt.lock().map(|s| s.contains(&j)).unwrap_or(false)
    }
}

/// Runs `f` over the `Ok` items only and puts its results back in their places; errors stay
/// where they were, and a result `f` did not return is an internal error.
fn through_oks<T, U>(
    items: Vec<Result<T>>,
    f: impl FnOnce(Vec<T>) -> Vec<Result<U>>,
) -> Vec<Result<U>> {
    let mut oks = Vec::new();
    let errs: Vec<Option<IdcError>> = (items.into_iter())
        .map(|r| r.map(|t| oks.push(t)).err())
        .collect();
    let mut done = f(oks).into_iter();
    (errs.into_iter())
        .map(|e| match e {
            Some(e) => Err(e),
            None => done
                .next()
                .unwrap_or_else(|| Err(IdcError::Internal("short batch result".into()))),
        })
        .collect()
}

/// The only result of a one-instance call.
fn one<T>(mut results: Vec<Result<T>>) -> Result<T> {
    results
        .pop()
        .unwrap_or_else(|| Err(IdcError::Internal("no result".into())))
}

impl ahead::CondenseTarget for Engine {
    fn num_instances(&self) -> usize {
        self.table.all().len()
    }

    fn is_done(&self, j: usize) -> bool {
        self.table.is_done(j)
    }

    fn ensure(&self, js: &[usize]) -> Vec<Result<()>> {
        let outcomes = self.outcomes(js, true).into_iter();
        outcomes.map(|r| r.map(|_| ())).collect()
    }
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
