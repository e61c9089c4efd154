//! Burn datasets of LR/HR pairs.
//!
//! - [`SrPair`]: the item type every dataset here yields.
//! - `sr_patch`: [`sr_patch::SrPatchDataset`] (whole set: HR patch grid + bicubic LR).
//! - `batch`: [`batch::SrBatch`] / [`batch::SrBatcher`], the one batch type (loaders and training).
//! - `augment`: [`augment::Transform`] (flips/transpose) and the [`augment::Augment`] wrapper.
//! - `shard`: the on-disk shard format (one file per instance, fingerprinted, checksummed).
//! - `idc`: `IdcDataset`, lazy condense-or-load over a shard cache.
//! - `relabel`: [`relabel::TeacherLabeled`], the same LR patches with teacher HR targets (the
//!   control that separates condensation from distillation).

use crate::image::Image;

pub mod ahead;
pub mod augment;
pub mod batch;
pub mod idc;
pub mod lock;
pub mod relabel;
pub mod selection;
pub mod shard;
pub mod source;
pub mod sr_patch;

/// One training pair: LR patch `[3, p, p]` and HR patch `[3, s p, s p]`, values in `[0, 1]`.
#[derive(Clone, Debug, PartialEq)]
pub struct SrPair {
    pub lr: Image,
    pub hr: Image,
}
