//! Training and evaluation of ISR networks, on burn-train.
//!
//! - `config`: [`TrainConfig`](crate::TrainConfig) (BasicSR's EDSR recipe: L1, Adam(0.9, 0.99), multi-step decay).
//! - `fit`: [`train_sr`](crate::train_sr) with [`TrainOptions`](crate::TrainOptions), generic over any `Dataset<SrPair>` (whole,
//!   selected or condensed data train the same way), checkpoints and exact `--resume`.
//! - `hooks`: [`IdcHooks`](crate::IdcHooks) / [`IdcTrainingExt`](crate::IdcTrainingExt), IDC's burn-train metrics registered on any
//!   `SupervisedTraining` with one call (`train_sr` uses it too).
//! - `history`: [`ValidRecord`] and the validation history kept during training.
//! - `sampler`: the seeded iteration-based data loader (crops, flips) burn-train consumes; its
//!   batches are [`SrBatch`](crate::SrBatch), its flips [`Transform`](crate::dataset::Transform).
//! - `metric`: burn-train steps for EDSR and the validation PSNR/SSIM metrics.
//! - `progress`: progress bar renderer.
//! - `data`: whole-image training set (random crops) used by `idc train`.
//! - `eval`: BasicSR-protocol evaluation ([`evaluate_model`](crate::evaluate_model), bicubic baseline), tiling.

// The sub-modules are private: what a training program names lives at the crate root
// (`burn_idc::TrainConfig`, `train_sr`, `IdcHooks`, ...), everything else here, once, as
// `burn_idc::train::X`.
pub(crate) mod config;
pub(crate) mod data;
pub(crate) mod eval;
pub(crate) mod fit;
pub(crate) mod history;
pub(crate) mod hooks;
pub(crate) mod metric;
pub(crate) mod progress;
pub(crate) mod sampler;

pub(crate) use config::{TrainConfig, ValidTrainConfig};
pub(crate) use fit::{TrainOptions, TrainSummary, train_sr};

pub use data::{HrImageDataset, PairDataset};
pub use eval::{
    EvalPair, EvalReport, ImageReport, ImageScores, InferOptions, evaluate_bicubic,
    evaluate_model_with, evaluate_noisy, evaluate_pairs, evaluate_task, infer_options_for,
    make_pair, make_task_pair, prepare_pairs, prepare_task_pairs, score, upscale_image,
    upscale_tiled,
};
pub use fit::{MultiStepLr, SUMMARY_FILE, TRAIN_CONFIG_FILE, VALIDATION_FILE};
pub use history::{HistoryFile, ValidHistory, ValidKind, ValidRecord, history_records};
pub use metric::{SrLoss, SrTrainOutput, SrValidMetric, ValidItem, ValidLoader, ValidOutput};
pub use progress::{IterationRenderer, LossCurve};
pub use sampler::{IterationLoader, SamplerParams, SamplerState};
