//! The settings of an [`IdcDataset`](super::idc::IdcDataset): one struct, filled by the builder's
//! `with_*` setters and read as it is by the engine and its instance table (no copies).

use super::ahead::ProgressFn;
use crate::cache::ShardStore;
use crate::condense::ValidCondenseConfig;
use crate::config::ValidPatchConfig;
use crate::source::SkipPolicy;
use std::path::PathBuf;

/// What to do when an instance's shard is missing or invalid.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CacheMode {
    /// Load valid shards; condense (and cache) the others on first access.
    #[default]
    LazyCondense,
    /// Only load; a missing, stale or corrupt shard is an [`IdcError::Cache`](crate::IdcError::Cache).
    LoadOnly,
    /// Ignore existing shards: condense every instance again (once per dataset object) and
    /// overwrite its shard.
    Rebuild,
}

/// Every setting of an `IdcDataset` but its condenser; validated by `IdcDatasetBuilder::build`.
pub(crate) struct Settings {
    pub hr_dir: PathBuf,
    pub patch: ValidPatchConfig,
    /// Decides `n_j` through its `ratio` (the one owner of the ratio).
    pub config: ValidCondenseConfig,
    pub cache_dir: PathBuf,
    pub write_manifest: bool,
    pub mode: CacheMode,
    pub seed: u64,
    pub skip: SkipPolicy,
    /// `None`: on exactly when bad images are skipped ([`Self::verify_decode`]).
    pub verify_decode: Option<bool>,
    pub memory_shards: usize,
    /// The condense-ahead worker's hint queue, when there is one.
    pub ahead: Option<usize>,
    pub on_progress: Option<ProgressFn>,
    pub store: ShardStore,
}

impl Settings {
    /// The defaults of `IdcDataset::builder(hr_dir, patch)` (listed on `IdcDatasetBuilder`).
    pub(crate) fn new(hr_dir: PathBuf, patch: ValidPatchConfig) -> Self {
        Self {
            hr_dir,
            patch,
            config: ValidCondenseConfig::default(),
            cache_dir: PathBuf::from("idc-cache"),
            write_manifest: true,
            mode: CacheMode::LazyCondense,
            seed: 0,
            skip: SkipPolicy::default(),
            verify_decode: None,
            memory_shards: 32,
            ahead: None,
            on_progress: None,
            store: ShardStore::Full,
        }
    }

    /// Whether `build` decodes the images that have no valid shard yet.
    pub(crate) fn verify_decode(&self) -> bool {
        self.verify_decode.unwrap_or(self.skip.bad_images)
    }
}
