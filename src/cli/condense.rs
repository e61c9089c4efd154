//! `idc condense`: condense a folder into a shard cache.

use std::path::PathBuf;

/// Arguments of `idc condense`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// HR images; default: $IDC_DATA/train if set, else built-in synthetic images.
    #[arg(long)]
    pub hr_dir: Option<PathBuf>,
    #[arg(long, default_value = "idc-cache")]
    pub cache: PathBuf,
    #[arg(long, default_value_t = 2)]
    pub scale: usize,
    #[arg(long, default_value_t = 0.1)]
    pub ratio: f64,
    /// Extractor model directory; default: train a small one first.
    #[arg(long)]
    pub extractor: Option<PathBuf>,
    #[arg(long)]
    pub teacher: Option<PathBuf>,
    /// Worker i of n: handles instances j with j mod n == i.
    #[arg(long)]
    pub shard: Option<String>,
    /// Condense config (JSON).
    #[arg(long)]
    pub config: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

/// Runs the sub-command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let _ = &args;
    anyhow::bail!("`idc condense` is not implemented yet")
}
