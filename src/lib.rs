//! # burn-idc
//!
//! Instance Data Condensation (IDC) for image super-resolution on [Burn](https://burn.dev).
//!
//! ## Quick start
//!
//! Condense one (synthetic, code-generated) image into synthetic LR/HR pairs with a small EDSR
//! as extractor and teacher. Real use trains those networks first (`idc train`) and wraps a
//! whole folder in [`IdcDataset`], which a Burn program uses where it used [`SrPatchDataset`].
//!
//! ```
//! use burn_idc::{CondenseConfig, Condenser, EdsrConfig, Image, Instance, PatchConfig};
//! use burn_idc::{SrPatchDataset, TrainBackend, default_device};
//!
//! # fn main() -> burn_idc::Result<()> {
//! // A 64x64 RGB test pattern (values in [0, 1], planar CHW).
//! let (h, w) = (64, 64);
//! let data = (0..3 * h * w)
//!     .map(|i| (((i % w) * 7 + (i / w % h) * 3 + i / (h * w) * 50) % 256) as f32 / 255.0)
//!     .collect();
//! let image = Image::new(3, h, w, data)?;
//!
//! // Whole set: BasicSR patch grid (HR 32x32, step 16) with bicubic x2 LR patches.
//! let patch = PatchConfig { scale: 2, hr_patch: 32, step: 16, thresh_size: 0, task: None }.check()?;
//! let whole = SrPatchDataset::from_images(vec![("pattern".into(), image)], patch)?;
//! let pairs = whole.instance_pairs(0)?;
//! assert_eq!(pairs.len(), 9);
//!
//! // Condense the instance to 10% (1 synthetic patch) with a tiny random-weight EDSR.
//! let device = default_device();
//! let net = EdsrConfig::from_arch("edsr:8x1", 2)?.init::<TrainBackend>(&device);
//! let mut config = CondenseConfig::default();
//! config.iters = 4;
//! config.warmup = 1;
//! config.assign = 1;
//! config.assign_every = 1;
//! config.ncfd.num_freqs = 32;
//! config.freq_bank = 2;
//! let instance = Instance { name: "pattern".into(), lr: pairs.into_iter().map(|p| p.lr).collect() };
//! let out = Condenser::new(config.check()?, &net, &net, device)?.condense(&instance, 0)?;
//! assert_eq!((out.lr.len(), out.hr[0].height), (1, 32));
//! assert_eq!(out.report.steps.len(), 4);
//! # Ok(())
//! # }
//! ```
//!
//! Cargo features: `pytorch` (default; `.pth` import), `cli` (default; the `idc` binary, clap),
//! `cuda` (burn-cuda with fusion and autotune), `testing` (test doubles).
//!
//! The root re-exports what a Burn user swaps, configures and implements; errors are
//! [`IdcError`] / [`Result`]. Module map:
//! - [`config`]: validated configs and stable fingerprints for cache keys.
//! - [`task`]: the restoration task (super-resolution or colour denoising) and its noise.
//! - [`device`]: the single backend choice (`flex` on CPU, `cuda` with the feature).
//! - [`image`]: decoding, MATLAB-style bicubic resize, Y channel, patch grid.
//! - [`metrics`]: PSNR/SSIM exactly as BasicSR computes them.
//! - [`models`]: EDSR, the [`models::FeatureExtractor`] / [`models::Teacher`] traits, weight import.
//! - [`condense`]: RLFF, NCFD, grouping, multi-level losses, Algorithm 1.
//! - [`source`]: the image catalogue (listing, probing, hashing, naming, skip policy).
//! - [`cache`]: [`cache::ShardCache`], the shard cache directory (format, locks, manifest).
//! - [`select`]: selection baselines (random, herding, k-center, DCSR-style).
//! - [`dataset`]: [`image::SrPair`] datasets: whole set, lazy `IdcDataset`, selected sets, paired
//!   folders ([`PairedFolderDataset`]); `dataset::export` writes a cache as paired PNG folders.
//! - [`train`]: burn-train glue (training loop, metrics, progress, evaluation).
//! - [`repro`]: the paper's tables as a pipeline of fingerprinted, resumable stages.

#![warn(missing_docs)]

// The `idc` command line: compiled with the `cli` feature (on by default, needed by the binary);
// not part of the library's API (hidden from the docs, free to change).
#[cfg(feature = "cli")]
#[doc(hidden)]
pub mod cli;

pub mod cache;
pub mod condense;
pub mod config;
pub mod dataset;
pub mod device;
mod error;
pub(crate) mod fsutil;
pub mod image;
pub mod metrics;
pub mod models;
pub mod repro;
pub(crate) mod seed;
pub mod select;
pub mod source;
pub mod task;
pub mod train;

// What a Burn user swaps, configures and implements, flat at the root (burn-dataset style).
pub use cache::ShardCache;
pub use condense::{CondenseConfig, CondensedInstance, Condenser, Instance};
pub use config::{PatchConfig, ValidPatchConfig};
pub use dataset::augment::Augment;
pub use dataset::batch::{SrBatch, SrBatcher};
pub use dataset::idc::{CacheMode, IdcDataset, IdcDatasetBuilder};
pub use dataset::paired_folder::PairedFolderDataset;
pub use dataset::relabel::TeacherLabeled;
pub use dataset::selection::SelectionDataset;
pub use dataset::sr_patch::SrPatchDataset;
pub use device::{DefaultBackend, TrainBackend, default_device};
pub use error::{IdcError, Result};
pub use image::photos::write_photos;
pub use image::synthetic::write_synthetic_images;
pub use image::{Image, SrPair};
pub use models::edsr::{Edsr, EdsrConfig};
pub use models::swinir::{SwinIr, SwinIrConfig};
pub use models::{FeatureExtractor, NetConfig, SrNet, Teacher, load_model_dir, save_model_dir};
pub use task::Task;
pub use train::{
    IdcHooks, IdcTrainingExt, TrainConfig, TrainOptions, TrainSummary, ValidTrainConfig,
    evaluate_model, train_sr,
};

/// The README's code, compiled as doctests so it cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// `docs/burn.md`'s code (the Burn dataset wrappers over an exported set), compiled and run as
/// doctests; its other blocks are fragments marked `ignore`.
#[cfg(doctest)]
#[doc = include_str!("../docs/burn.md")]
pub struct BurnDocDoctests;

/// `docs/export.md`'s Rust (reading an export back), compiled as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../docs/export.md")]
pub struct ExportDocDoctests;
