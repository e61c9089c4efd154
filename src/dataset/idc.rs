//! [`IdcDataset`]: a Burn `Dataset<SrPair>` that condenses each training image lazily (or loads
//! its shard from a cache), so a project that trains on `SrPatchDataset::new(dir)` switches to
//! condensed data by swapping one constructor.
//!
//! ```ignore
//! let dataset = IdcDataset::builder("DIV2K/train", PatchConfig::default().check()?)
//!     .with_ratio(0.1)
//!     .with_condense_config(CondenseConfig::default().check()?)
//!     .with_models::<TrainBackend, _, _>(extractor, teacher, device)
//!     .with_cache_dir("idc-cache")
//!     .with_mode(CacheMode::LazyCondense)
//!     .build()?;
//! ```
//!
//! How it works:
//! - `build` probes every image (header, content hash, patch count `N_j`, see
//!   [`crate::source`]) without decoding pixels, so `len() = sum_j n_j` with
//!   `n_j = max(1, ceil(r N_j))` is known before anything is condensed.
//! - `get(i)` maps `i` to (instance `j`, pair `k`) and serves pair `k` of instance `j`'s shard:
//!   from a bounded in-memory LRU of shards, else from a valid shard file, else by condensing `j`
//!   while holding `<instance>.lock` (re-checking the shard after acquiring it, so threads and
//!   processes sharing the cache condense each instance once), writing the shard atomically. The
//!   instance table lives in `super::instances`, the condense-or-load in `super::engine`; the
//!   locking, file naming and manifest in
//!   [`ShardCache::get_or_create_many`](crate::cache::ShardCache::get_or_create_many).
//! - The shard's fingerprint hashes everything that determines the result (condenser config,
//!   extractor and teacher fingerprints, scale, ratio, patch grid, image bytes, seed): a changed
//!   input never serves a stale shard, it re-condenses (or, in [`CacheMode::LoadOnly`], errors).
//! - Items served are exactly the shard's 8-bit values, whether just condensed or loaded, so a
//!   cold and a warm cache yield identical items.
//! - Optional condense-ahead ([`IdcDatasetBuilder::with_condense_ahead`]) runs a background worker
//!   that condenses what the loader will need next; progress goes to an observer callback and to
//!   burn-train through [`super::ahead::CondenseProgressMetric`].
//!
//! Errors: [`IdcDataset::try_get`] returns them typed. `Dataset::get` must return `Option`, so it
//! logs the error to stderr and returns `None`; note that Burn's `DataLoader` treats `None` as the
//! end of the data, so an error ends the epoch early. Use `with_skip_bad_images(true)` to drop bad
//! images at build time and `idc condense` (or [`IdcDataset::condense_all`]) before training to
//! surface condensation errors up front.

use super::ahead::{AheadWorker, CondenseProgressMetric, ProgressSnapshot};
use super::engine::Engine;
use super::settings::Settings;
use crate::cache::ShardStore;
use crate::condense::ValidCondenseConfig;
use crate::config::ValidPatchConfig;
use crate::error::{IdcError, Result};
use crate::image::SrPair;
use crate::models::{FeatureExtractor, Teacher};
use crate::source::SkippedImage;

use burn::data::dataset::Dataset;
use burn::tensor::backend::AutodiffBackend;
use std::path::PathBuf;
use std::sync::Arc;

pub use super::condenser::{BurnCondenser, InstanceCondenser};
pub use super::engine::{DatasetStats, Outcome};
pub use super::settings::CacheMode;

/// Lazy condense-or-load dataset of LR/HR pairs over a shard cache. See the module docs.
pub struct IdcDataset {
    engine: Arc<Engine>,
    skipped: Vec<SkippedImage>,
    ahead: Option<AheadWorker>,
}

/// Builds the condenser once the final config is known (models given as values).
type CondenserFactory = Box<dyn FnOnce(ValidCondenseConfig) -> Result<Arc<dyn InstanceCondenser>>>;

/// Builder of [`IdcDataset`]; defaults: the built-in pretrained model of the patch scale as
/// extractor and teacher (when no models or condenser are set), the default
/// [`crate::condense::CondenseConfig`] (ratio 0.1), cache `idc-cache`,
/// [`CacheMode::LazyCondense`], seed 0, [`SkipPolicy::default`](crate::source::SkipPolicy) (bad
/// images are an error, images smaller than one patch are skipped, as in `SrPatchDataset`), 32
/// shards in memory.
pub struct IdcDatasetBuilder {
    settings: Settings,
    /// Replaces the config's ratio at `build` (`None`: the config's own).
    ratio: Option<f64>,
    condenser: Option<Arc<dyn InstanceCondenser>>,
    factory: Option<CondenserFactory>,
}

impl IdcDatasetBuilder {
    /// Condensation ratio `r` in (0, 1]: replaces the condense config's `ratio` (the one owner
    /// of the ratio), checked at `build`.
    pub fn with_ratio(mut self, ratio: f64) -> Self {
        self.ratio = Some(ratio);
        self
    }
    /// Condensation settings, checked ([`crate::condense::CondenseConfig::check`]); its `ratio`
    /// is the dataset's unless [`Self::with_ratio`] replaces it.
    pub fn with_condense_config(mut self, config: ValidCondenseConfig) -> Self {
        self.settings.config = config;
        self
    }
    /// The IDC condenser with this extractor and teacher (any [`FeatureExtractor`] / [`Teacher`],
    /// e.g. EDSR for both) on `device`; built at `build` from the final config.
    pub fn with_models<B, E, T>(mut self, extractor: E, teacher: T, device: B::Device) -> Self
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
    /// Any [`InstanceCondenser`] (overrides [`Self::with_models`]); the condense config is then the
    /// condenser's business and only its fingerprint matters.
    pub fn with_condenser(mut self, condenser: Arc<dyn InstanceCondenser>) -> Self {
        self.condenser = Some(condenser);
        self.factory = None;
        self
    }
    /// Shard cache directory (created if missing).
    pub fn with_cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.settings.cache_dir = dir.into();
        self
    }
    /// Cache policy.
    pub fn with_mode(mut self, mode: CacheMode) -> Self {
        self.settings.mode = mode;
        self
    }
    /// Base seed; each instance condenses with a seed derived from it and its name, so results
    /// do not depend on instance order or on `--shard` splits.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.settings.seed = seed;
        self
    }
    /// `true`: images that fail probing (and, when they have no valid shard yet, decoding) are
    /// left out with a warning on stderr and listed in [`IdcDataset::skipped`]. `false`
    /// (default): `build` fails with the first such image's typed error.
    pub fn with_skip_bad_images(mut self, skip: bool) -> Self {
        self.settings.skip.bad_images = skip;
        self
    }
    /// `true`: images smaller than one HR patch are left out with a warning (listed in
    /// [`IdcDataset::skipped`]). Default `true`, as in `SrPatchDataset`, so both serve the same
    /// instances of a folder like T91 (78-pixel images) with 96-pixel patches. `false`: such an
    /// image is a typed error, or skipped under `skip_bad_images`.
    pub fn with_skip_small_images(mut self, skip: bool) -> Self {
        self.settings.skip.small_images = skip;
        self
    }
    /// Whether `build` fully decodes images that have no valid shard yet, so that undecodable
    /// files are caught (and, with `skip_bad_images`, skipped) before training. Default: on when
    /// `skip_bad_images` is on. `idc condense` turns it off: decoding every image in every job of
    /// an array would be wasted work, and a file that fails later is reported per instance.
    pub fn with_verify_decode(mut self, verify: bool) -> Self {
        self.settings.verify_decode = Some(verify);
        self
    }
    /// How many decoded shards stay in memory (LRU).
    pub fn with_memory_shards(mut self, n: usize) -> Self {
        self.settings.memory_shards = n;
        self
    }
    /// Start a background worker that condenses instances ahead of the loader, with a hint queue
    /// of `queue` instances (see [`super::ahead`]).
    pub fn with_condense_ahead(mut self, queue: usize) -> Self {
        self.settings.ahead = Some(queue.max(1));
        self
    }
    /// Called after every instance that becomes available (and once at build).
    pub fn with_progress(mut self, f: impl Fn(&ProgressSnapshot) + Send + Sync + 'static) -> Self {
        self.settings.on_progress = Some(Arc::new(f));
        self
    }
    /// What shards hold: [`ShardStore::Full`] (default) or [`ShardStore::LrOnly`], whose HR
    /// targets the condenser's teacher regenerates on load (part of the key).
    pub fn with_store(mut self, store: ShardStore) -> Self {
        self.settings.store = store;
        self
    }
    /// Keep `manifest.json` up to date after each shard write (default true).
    pub fn with_manifest(mut self, write: bool) -> Self {
        self.settings.write_manifest = write;
        self
    }

    /// Validates the settings, probes every image and computes `len()`; condenses nothing.
    pub fn build(self) -> Result<IdcDataset> {
        let mut s = self.settings;
        if let Some(r) = self.ratio
            && r != s.config.ratio
        {
            let mut c = s.config.into_inner();
            c.ratio = r;
            s.config = c.check()?;
        }
        let condenser = match (self.condenser, self.factory) {
            (Some(c), _) => c,
            (None, Some(f)) => f(s.config.clone())?,
            (None, None) => builtin_condenser(s.patch.scale, s.config.clone())?,
        };
        let queue = s.ahead;
        let (engine, skipped) = Engine::build(s, condenser)?;
        let engine = Arc::new(engine);
        let ahead = queue.map(|q| AheadWorker::start(engine.clone(), q));
        Ok(IdcDataset {
            engine,
            skipped,
            ahead,
        })
    }
}

/// The IDC condenser with the built-in pretrained model of `scale` as extractor and teacher
/// ([`crate::models::pretrained`]) on the default device: what `build` uses when no model is set.
fn builtin_condenser(
    scale: usize,
    config: ValidCondenseConfig,
) -> Result<Arc<dyn InstanceCondenser>> {
    use crate::device::{TrainBackend, default_device};
    let device = default_device();
    let (model, _) = crate::models::pretrained::load_builtin::<TrainBackend>(scale, &device)
        .map_err(|e| {
            IdcError::config(
                "condenser",
                format!("{e}; or set .with_models(extractor, teacher, device)"),
            )
        })?;
    let model = Arc::new(model);
    let c = BurnCondenser::<TrainBackend, _, _>::new(config, model.clone(), model, device)?;
    Ok(Arc::new(c))
}

impl IdcDataset {
    /// Starts a builder over the HR images in `hr_dir` cut with `patch`, exactly the arguments
    /// of `SrPatchDataset::new(hr_dir, patch)` (same listing, names and skip defaults).
    pub fn builder(hr_dir: impl Into<PathBuf>, patch: ValidPatchConfig) -> IdcDatasetBuilder {
        IdcDatasetBuilder {
            settings: Settings::new(hr_dir.into(), patch),
            ratio: None,
            condenser: None,
            factory: None,
        }
    }

    /// Number of items (`sum_j n_j`), known without condensing; same as `Dataset::len`.
    pub fn len(&self) -> usize {
        self.engine.total()
    }

    /// Never true for a built dataset (`build` rejects folders without usable images).
    pub fn is_empty(&self) -> bool {
        self.engine.total() == 0
    }

    /// Number of instances (usable images).
    pub fn num_instances(&self) -> usize {
        self.engine.instances().len()
    }

    /// Name of instance `j` (image path relative to the HR folder).
    pub fn instance_name(&self, j: usize) -> Option<&str> {
        self.engine.instances().get(j).map(|i| i.src.name.as_str())
    }

    /// Dataset index range of instance `j`.
    pub fn instance_range(&self, j: usize) -> Option<std::ops::Range<usize>> {
        self.engine
            .instances()
            .get(j)
            .map(|i| i.offset..i.offset + i.n)
    }

    /// What instance `j`'s shard stands in for (its image file, its whole patch grid as 8-bit
    /// planes), as recorded in the manifest.
    pub fn instance_source_bytes(&self, j: usize) -> Option<crate::cache::SourceBytes> {
        self.engine
            .instances()
            .get(j)
            .map(|i| self.engine.source_bytes(i))
    }

    /// Shard path of instance `j`.
    pub fn shard_path(&self, j: usize) -> Option<PathBuf> {
        self.engine
            .instances()
            .get(j)
            .map(|i| self.engine.shard_path(i))
    }

    /// Expected shard fingerprint of instance `j`.
    pub fn instance_fingerprint(&self, j: usize) -> Option<&str> {
        self.engine
            .instances()
            .get(j)
            .map(|i| i.fingerprint.as_str())
    }

    /// (instance, pair within the instance) of dataset index `i`.
    pub fn locate(&self, i: usize) -> Option<(usize, usize)> {
        self.engine.locate(i)
    }

    /// Images left out at build time under `skip_bad_images`.
    pub fn skipped(&self) -> &[SkippedImage] {
        &self.skipped
    }

    /// Item `i` or the typed reason it cannot be served.
    pub fn try_get(&self, i: usize) -> Result<SrPair> {
        let (j, k) = self.engine.locate(i).ok_or_else(|| {
            IdcError::InvalidInput(format!(
                "index {i} out of range (len {})",
                self.engine.total()
            ))
        })?;
        if let Some(w) = &self.ahead {
            w.hint(j);
        }
        let pairs = self.engine.pairs(j)?;
        pairs.get(k).cloned().ok_or_else(|| {
            let info = &self.engine.instances()[j];
            IdcError::cache(
                self.engine.shard_path(info),
                format!("shard has {} pairs, expected {}", pairs.len(), info.n),
            )
        })
    }

    /// Makes sure instance `j` has a valid shard (loading or condensing it), without keeping it
    /// in memory. Used by `idc condense` and the condense-ahead worker.
    pub fn ensure_instance(&self, j: usize) -> Result<Outcome> {
        self.engine
            .outcome(j, true)?
            .ok_or_else(|| IdcError::Internal("blocking lock not taken".into()))
    }

    /// Like [`Self::ensure_instance`], but returns `Ok(None)` instead of waiting when another
    /// thread or process holds the instance's lock (it is being condensed right now).
    pub fn try_ensure_instance(&self, j: usize) -> Result<Option<Outcome>> {
        self.engine.outcome(j, false)
    }

    /// [`Self::try_ensure_instance`] (or, with `blocking`, [`Self::ensure_instance`]) of each of
    /// `js`, condensing those without a valid shard together in one batch (one extractor pass
    /// per step over all of them). One result per instance.
    pub fn ensure_instances(&self, js: &[usize], blocking: bool) -> Vec<Result<Option<Outcome>>> {
        self.engine.outcomes(js, blocking)
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
        self.engine.stats()
    }

    /// Condensation progress: instances with a valid shard, total, ETA.
    pub fn progress(&self) -> ProgressSnapshot {
        self.engine.progress.snapshot()
    }

    /// A burn-train metric that shows condensation progress during training.
    pub fn progress_metric(&self) -> CondenseProgressMetric {
        CondenseProgressMetric::new(self.engine.progress.clone())
    }

    /// Blocks until the condense-ahead worker has processed every instance (no-op without one).
    pub fn wait_ahead(&self) {
        if let Some(w) = &self.ahead {
            w.wait_idle();
        }
    }
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
        self.engine.total()
    }
}

impl Drop for IdcDataset {
    fn drop(&mut self) {
        if let Some(w) = self.ahead.take() {
            w.stop();
        }
    }
}

#[cfg(test)]
#[path = "idc_tests.rs"]
pub(super) mod tests;
