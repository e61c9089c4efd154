//! `idc eval`: evaluate a model (or bicubic) on whole test images as BasicSR does.

use std::path::PathBuf;

/// Arguments of `idc eval`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Model directory written by `idc train`.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// BasicSR `.pth` weights (needs --arch).
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// Preset name, edsr:<features>x<blocks>, or bicubic.
    #[arg(long)]
    pub arch: Option<String>,
    #[arg(long)]
    pub test_dir: PathBuf,
    #[arg(long)]
    pub scale: usize,
    #[arg(long)]
    pub json: bool,
}

/// Runs the sub-command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let _ = &args;
    anyhow::bail!("`idc eval` is not implemented yet")
}
