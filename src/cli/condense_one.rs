//! `idc condense-one`: condense one image and write its synthetic patches, a sheet and report.json.

use std::path::PathBuf;

/// Arguments of `idc condense-one`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[arg(long)]
    pub image: PathBuf,
    /// Extractor model directory.
    #[arg(long)]
    pub model: PathBuf,
    /// Teacher model directory (default: the extractor model).
    #[arg(long)]
    pub teacher: Option<PathBuf>,
    #[arg(long)]
    pub scale: usize,
    #[arg(long, default_value_t = 0.1)]
    pub ratio: f64,
    #[arg(long)]
    pub iters: Option<usize>,
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[arg(long)]
    pub json: bool,
}

/// Runs the sub-command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let _ = &args;
    anyhow::bail!("`idc condense-one` is not implemented yet")
}
