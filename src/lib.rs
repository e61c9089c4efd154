//! # burn-idc
//!
//! Instance Data Condensation (IDC) for image super-resolution on [Burn](https://burn.dev).
//!
//! ## Quick start
//!
//! Condense one (synthetic, code-generated) image into synthetic LR/HR pairs with a small EDSR
//! as extractor and teacher. Real use trains those networks first (`idc train`) and wraps a
//! whole folder in [`dataset::idc::IdcDataset`].
//!
//! ```
//! use burn_idc::condense::{CondenseConfig, Condenser, Instance};
//! use burn_idc::config::PatchConfig;
//! use burn_idc::dataset::sr_patch::SrPatchDataset;
//! use burn_idc::device::{TrainBackend, default_device};
//! use burn_idc::image::Image;
//! use burn_idc::models::edsr::EdsrConfig;
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
//! let patch = PatchConfig { scale: 2, hr_patch: 32, step: 16, thresh_size: 0 };
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
//! let out = Condenser::new(config, &net, &net, device)?.condense(&instance, 0)?;
//! assert_eq!((out.lr.len(), out.hr[0].height), (1, 32));
//! assert_eq!(out.report.steps.len(), 4);
//! # Ok(())
//! # }
//! ```
//!
//! Module map:
//! - [`error`]: [`IdcError`] and [`Result`].
//! - [`config`]: validated configs and stable fingerprints for cache keys.
//! - [`device`]: the single backend choice (`flex` on CPU, `cuda` with the feature).
//! - [`image`]: decoding, MATLAB-style bicubic resize, Y channel, patch grid.
//! - [`metrics`]: PSNR/SSIM exactly as BasicSR computes them.
//! - [`models`]: EDSR, the [`models::FeatureExtractor`] / [`models::Teacher`] traits, weight import.
//! - [`condense`]: RLFF, NCFD, grouping, multi-level losses, Algorithm 1.
//! - [`source`]: the image catalogue (listing, probing, hashing, naming, skip policy).
//! - [`cache`]: [`cache::ShardCache`], the shard cache directory (format, locks, manifest).
//! - [`select`]: selection baselines (random, herding, k-center, DCSR-style).
//! - [`dataset`]: [`image::SrPair`] datasets: whole set, lazy `IdcDataset`, selected sets.
//! - [`train`]: burn-train glue (training loop, metrics, progress, evaluation).

#![warn(missing_docs)]

pub mod cache;
#[doc(hidden)]
pub mod cli;
pub mod condense;
pub mod config;
pub mod dataset;
pub mod device;
pub mod error;
pub mod fsutil;
pub mod image;
pub mod metrics;
pub mod models;
pub mod repro;
pub mod seed;
pub mod select;
pub mod source;
pub mod train;

pub use error::{IdcError, Result};
