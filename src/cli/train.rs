//! `idc train`: train an ISR network (burn-train loop, L1, Adam, multi-step decay).

use std::path::PathBuf;

/// Arguments of `idc train`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[arg(long)]
    pub train_dir: PathBuf,
    #[arg(long)]
    pub scale: usize,
    /// Preset (edsr-tiny, edsr-small, edsr-baseline) or edsr:<features>x<blocks>.
    #[arg(long, default_value = "edsr-tiny")]
    pub model: String,
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
    let _ = &args;
    anyhow::bail!("`idc train` is not implemented yet")
}
