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
//! [`IdcError`] / [`Result`]. Every public item has one path: the root, or one of the public
//! modules below (their sub-modules are private). Module map:
//! - `config` (private): [`PatchConfig`] and the validated-config pattern; fingerprints are
//!   [`cache::fingerprint`].
//! - `task` (private): the restoration [`Task`] (super-resolution or colour denoising) and its
//!   noise.
//! - `device` (private): the single backend choice, [`DefaultBackend`] / [`TrainBackend`] (`flex`
//!   on CPU, `cuda` with the feature).
//! - [`image`]: decoding, MATLAB-style bicubic resize, Y channel, patch grid.
//! - [`metrics`]: PSNR/SSIM exactly as BasicSR computes them.
//! - [`models`]: EDSR, the [`FeatureExtractor`] / [`Teacher`] traits, weight import.
//! - [`condense`]: RLFF, NCFD, grouping, multi-level losses, Algorithm 1.
//! - [`source`]: the image catalogue (listing, probing, hashing, naming, skip policy).
//! - [`cache`]: [`ShardCache`], the shard cache directory (format, locks, manifest).
//! - [`select`]: selection baselines (random, herding, k-center, DCSR-style).
//! - [`dataset`]: [`SrPair`] datasets: whole set, lazy `IdcDataset`, selected sets, paired
//!   folders ([`PairedFolderDataset`]); [`dataset::export_cache`] writes a cache as paired PNG
//!   folders.
//! - [`train`]: burn-train glue (training loop, metrics, progress, evaluation).
//! - [`repro`]: the paper's tables as a pipeline of fingerprinted, resumable stages.

#![warn(missing_docs)]

// The `idc` command line: compiled with the `cli` feature (on by default, needed by the binary);
// not part of the library's API (hidden from the docs, free to change).
#[cfg(feature = "cli")]
#[doc(hidden)]
pub mod cli;

// One path per public type: the modules below are private or hold only what they re-export
// once; see ARCHITECTURE.md ("Public paths"). `repro` keeps its own sub-modules for now.
pub mod cache;
pub mod condense;
mod config;
pub mod dataset;
mod device;
mod error;
mod fsutil;
pub mod image;
mod malloc;
pub mod metrics;
pub mod models;
pub mod repro;
mod seed;
pub mod select;
pub mod source;
mod task;
pub mod train;

// What a Burn user swaps, configures and implements, flat at the root (burn-dataset style).
pub use cache::store::ShardCache;
pub use condense::condenser::{CondensedInstance, Condenser, Instance};
pub use condense::config::CondenseConfig;
pub use config::{PatchConfig, ValidPatchConfig};
pub use dataset::augment::Augment;
pub use dataset::batch::{SrBatch, SrBatcher};
pub use dataset::idc::{IdcDataset, IdcDatasetBuilder};
pub use dataset::paired_folder::PairedFolderDataset;
pub use dataset::relabel::TeacherLabeled;
pub use dataset::selection::SelectionDataset;
pub use dataset::settings::CacheMode;
pub use dataset::sr_patch::SrPatchDataset;
pub use device::{
    BACKEND_NAME, DefaultBackend, DefaultDevice, TrainBackend, default_device, kernel_cache_dir,
};
pub use error::{IdcError, Result};
pub use image::pair::SrPair;
pub use image::photos::write_photos;
pub use image::planar::Image;
pub use image::synthetic::write_synthetic_images;
pub use malloc::tune_allocator;
pub use models::edsr::{Edsr, EdsrConfig};
pub use models::net::{NetConfig, SrNet};
pub use models::roles::{FeatureExtractor, Teacher};
pub use models::store::{load_model_dir, save_model_dir};
pub use models::swinir::{SwinIr, SwinIrConfig};
pub use task::Task;
pub use train::config::{TrainConfig, ValidTrainConfig};
pub use train::eval::evaluate_model;
pub use train::fit::{TrainOptions, TrainSummary, train_sr};
pub use train::hooks::{IdcHooks, IdcTrainingExt};

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
