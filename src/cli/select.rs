//! `idc select`: select a subset of real patches with a baseline method into a shard cache.

use std::path::PathBuf;

/// Arguments of `idc select`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[arg(long)]
    pub method: String,
    #[arg(long)]
    pub hr_dir: PathBuf,
    #[arg(long)]
    pub cache: PathBuf,
    #[arg(long)]
    pub scale: usize,
    #[arg(long, default_value_t = 0.1)]
    pub ratio: f64,
    #[arg(long)]
    pub extractor: Option<PathBuf>,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[arg(long)]
    pub json: bool,
}

/// Runs the sub-command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let _ = &args;
    anyhow::bail!("`idc select` is not implemented yet")
}
