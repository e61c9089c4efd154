//! Training and evaluation of ISR networks, on burn-train.
//!
//! - [`config`]: [`TrainConfig`] (BasicSR's EDSR recipe: L1, Adam(0.9, 0.99), multi-step decay).
//! - [`fit`]: [`train_sr`] with [`TrainOptions`], generic over any `Dataset<SrPair>` (whole,
//!   selected or condensed data train the same way), checkpoints and exact `--resume`.
//! - [`hooks`]: [`IdcHooks`] / [`IdcTrainingExt`], IDC's burn-train metrics registered on any
//!   `SupervisedTraining` with one call (`train_sr` uses it too).
//! - [`history`]: [`ValidRecord`] and the validation history kept during training.
//! - [`sampler`]: the seeded iteration-based data loader (crops, flips) burn-train consumes; its
//!   batches are [`crate::dataset::batch::SrBatch`], its flips [`crate::dataset::augment::Transform`].
//! - [`metric`]: burn-train steps for EDSR and the validation PSNR/SSIM metrics.
//! - [`progress`]: progress bar renderer.
//! - [`data`]: whole-image training set (random crops) used by `idc train`.
//! - [`eval`]: BasicSR-protocol evaluation ([`evaluate_model`], bicubic baseline), tiling.

pub mod config;
pub mod data;
pub mod eval;
pub mod fit;
pub mod history;
pub mod hooks;
pub mod metric;
pub mod progress;
pub mod sampler;

pub use config::{TrainConfig, ValidTrainConfig};
pub use eval::{EvalReport, ImageReport, InferOptions, evaluate_bicubic, evaluate_model};
pub use fit::{TrainOptions, TrainSummary, train_sr};
pub use history::ValidRecord;
pub use hooks::{IdcHooks, IdcTrainingExt};
