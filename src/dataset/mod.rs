//! Burn datasets of LR/HR pairs.
//!
//! - [`SrPair`](crate::SrPair): the item type every dataset here yields.
//! - `sr_patch`: [`SrPatchDataset`](crate::SrPatchDataset) (whole set: HR patch grid + bicubic LR).
//! - `batch`: [`SrBatch`](crate::SrBatch) / [`SrBatcher`](crate::SrBatcher), the one batch type
//!   (loaders and training).
//! - `augment`: [`Transform`] (flips/transpose) and the [`Augment`](crate::Augment) wrapper.
//! - `idc`: `IdcDataset`, lazy condense-or-load over a [`ShardCache`](crate::ShardCache); its
//!   `settings` (the one settings struct), `engine` (the one condense-or-load path) over
//!   `instances` (the instance table) and `lru` (decoded shards in memory), `condenser` (the
//!   object-safe condenser it calls) and `ahead` (condense-ahead worker, progress).
//! - `selection`: `SelectionDataset` over a cache written by a selection baseline.
//! - `paired_folder`: [`PairedFolderDataset`](crate::PairedFolderDataset), HR/LR folders paired by file stem
//!   (BasicSR's `PairedImageDataset` layout; any exported set, this crate's or another tool's).
//! - `export`: [`export_cache`], a shard cache as paired PNG folders (`idc export`).
//! - `relabel`: [`TeacherLabeled`](crate::TeacherLabeled), the same LR patches with teacher HR targets (the
//!   control that separates condensation from distillation).

// The sub-modules are private: the datasets a Burn program names live at the crate root
// (`burn_idc::IdcDataset`, `SrPatchDataset`, ...), everything else here, once, as
// `burn_idc::dataset::X`.
pub(crate) mod ahead;
pub(crate) mod augment;
pub(crate) mod batch;
pub(crate) mod condenser;
mod engine;
pub(crate) mod export;
pub(crate) mod idc;
mod instances;
mod lru;
pub(crate) mod paired_folder;
pub(crate) mod relabel;
pub(crate) mod selection;
pub(crate) mod settings;
pub(crate) mod sr_patch;

/// Crate-internal alias for code not yet moved to `crate::image::SrPair` (the training modules).
pub(crate) use crate::image::SrPair;

pub use ahead::{CondenseProgressMetric, ProgressSnapshot, ProgressState, format_eta};
pub use augment::{Transform, transform_for};
/// Test doubles ([`testing::FakeCondenser`], [`testing::ReplicateHr`]): compiled for this crate's
/// tests and with the `testing` feature.
#[cfg(any(test, feature = "testing"))]
pub use condenser::testing;
pub use condenser::{BurnCondenser, CondensedPatches, InstanceCondenser};
pub use engine::{DatasetStats, Outcome};
pub use export::{ExportFormat, ExportReport, export_cache, export_cache_with};
pub use paired_folder::{
    BASICSR_HR_DIR, FOLDER_HR_DIR, FOLDER_LR_DIR, META_INFO_FILE, basicsr_lr_dir,
};
pub use selection::{DEFAULT_SHARDS_IN_MEMORY, shard_files};
pub use sr_patch::{InstanceInfo, SrPatchDatasetBuilder};
