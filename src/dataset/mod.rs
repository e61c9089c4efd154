//! Burn datasets of LR/HR pairs.
//!
//! - [`SrPair`] (defined in [`crate::image`]): the item type every dataset here yields.
//! - `sr_patch`: [`sr_patch::SrPatchDataset`] (whole set: HR patch grid + bicubic LR).
//! - `batch`: [`batch::SrBatch`] / [`batch::SrBatcher`], the one batch type (loaders and training).
//! - `augment`: [`augment::Transform`] (flips/transpose) and the [`augment::Augment`] wrapper.
//! - `idc`: `IdcDataset`, lazy condense-or-load over a [`crate::cache::ShardCache`]; its
//!   `settings` (the one settings struct), `engine` (the one condense-or-load path) over
//!   `instances` (the instance table) and `lru` (decoded shards in memory), `condenser` (the
//!   object-safe condenser it calls) and `ahead` (condense-ahead worker, progress).
//! - `selection`: `SelectionDataset` over a cache written by a selection baseline.
//! - `paired_folder`: [`paired_folder::PairedFolderDataset`], HR/LR folders paired by file stem
//!   (BasicSR's `PairedImageDataset` layout; any exported set, this crate's or another tool's).
//! - `export`: [`export::export_cache`], a shard cache as paired PNG folders (`idc export`).
//! - `relabel`: [`relabel::TeacherLabeled`], the same LR patches with teacher HR targets (the
//!   control that separates condensation from distillation).

pub mod ahead;
pub mod augment;
pub mod batch;
pub mod condenser;
mod engine;
pub mod export;
pub mod idc;
mod instances;
mod lru;
pub mod paired_folder;
pub mod relabel;
pub mod selection;
mod settings;
pub mod sr_patch;

/// Re-export for code not yet moved to [`crate::image::SrPair`] (the training modules).
pub use crate::image::SrPair;
