//! `idc train`: train an ISR network (burn-train loop, L1, Adam, multi-step decay).
//!
//! Trains on whole images of `--train-dir` (random `--lr-patch` crops, flips), validates on
//! `--valid-dir` (BasicSR protocol), writes checkpoints and the final model directory to `--out`
//! and prints the [`crate::train::TrainSummary`] as JSON on stdout.

use crate::device::{TrainBackend, default_device};
use crate::train::data::HrImageDataset;
use crate::train::{TrainConfig, TrainOptions, train_sr};
use std::path::PathBuf;

/// Arguments of `idc train`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[arg(long)]
    pub train_dir: PathBuf,
    /// SR factor (required for --task sr).
    #[arg(long)]
    pub scale: Option<usize>,
    /// The task (--task denoise --sigma 50: noise redrawn for every sample).
    #[command(flatten)]
    pub task: super::TaskArgs,
    /// Preset (edsr-tiny, edsr-small, edsr-baseline, swinir-tiny, swinir-light,
    /// swinir-classical) or edsr:FEATURESxBLOCKS.
    #[arg(long, default_value = "edsr-tiny")]
    pub model: String,
    /// BasicSR `network_g` options as JSON (EDSR or SwinIR); replaces --model.
    #[arg(long)]
    pub arch_config: Option<PathBuf>,
    #[arg(long)]
    pub iters: usize,
    #[arg(long, default_value_t = 16)]
    pub batch: usize,
    #[arg(long, default_value_t = 48)]
    pub lr_patch: usize,
    /// Output directory for checkpoints and the final model.
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long)]
    pub valid_dir: Option<PathBuf>,
    #[arg(long)]
    pub resume: bool,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Initialise from this model directory.
    #[arg(long)]
    pub init: Option<PathBuf>,
}

/// Runs the sub-command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let task = args.task.resolve(args.scale)?;
    let mut config = TrainConfig::for_task(&args.model, task, args.iters);
    if let Some(path) = &args.arch_config {
        let net = crate::models::NetConfig::from_json_file(path)?;
        config = config.with_net(net.to_network_g());
    }
    config.batch = args.batch;
    config.lr_patch = args.lr_patch;
    config.seed = args.seed;
    config.validate()?;
    eprintln!(
        "idc train: {} {} for {} iterations (batch {}, LR patch {}), backend {}",
        config.arch,
        task.label(),
        config.iters,
        config.batch,
        config.lr_patch,
        crate::device::BACKEND_NAME
    );
    let data = HrImageDataset::for_task(&args.train_dir, &task, args.lr_patch)?;
    eprintln!(
        "idc train: {} training images",
        burn::data::dataset::Dataset::len(&data)
    );
    let options = TrainOptions::new(config, &args.out)
        .with_valid_dir(args.valid_dir.as_deref())
        .with_resume(args.resume)
        .with_init(args.init.as_deref());
    let summary = train_sr::<TrainBackend, _>(data, &options, &default_device())?;
    if let Some(last) = summary.validation.last() {
        eprintln!(
            "idc train: done at iteration {} in {:.1} s; validation PSNR {:.3} dB (RGB), {:.3} dB (Y)",
            summary.iterations, summary.wall_seconds, last.psnr_rgb, last.psnr_y
        );
    }
    super::print_json(&serde_json::to_value(&summary)?)
}
