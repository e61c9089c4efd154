//! # burn-idc
//!
//! Instance Data Condensation (IDC) for image super-resolution on [Burn](https://burn.dev).
//!
//! Module map:
//! - [`error`]: [`IdcError`] and [`Result`].
//! - [`config`]: validated configs and stable fingerprints for cache keys.
//! - [`device`]: the single backend choice (`flex` on CPU, `cuda` with the feature).
//! - [`image`]: decoding, MATLAB-style bicubic resize, Y channel, patch grid.
//! - [`metrics`]: PSNR/SSIM exactly as BasicSR computes them.
//! - [`models`]: EDSR, the [`models::FeatureExtractor`] / [`models::Teacher`] traits, weight import.
//! - [`condense`]: RLFF, NCFD, grouping, multi-level losses, Algorithm 1.
//! - [`select`]: selection baselines (random, herding, k-center, DCSR-style).
//! - [`dataset`]: [`dataset::SrPair`] datasets: whole set, shard cache, lazy `IdcDataset`.
//! - [`train`]: burn-train glue (training loop, metrics, progress, evaluation).

#[doc(hidden)]
pub mod cli;
pub mod condense;
pub mod config;
pub mod dataset;
pub mod device;
pub mod error;
pub mod image;
pub mod metrics;
pub mod models;
pub mod repro;
pub mod select;
pub mod train;

pub use error::{IdcError, Result};
