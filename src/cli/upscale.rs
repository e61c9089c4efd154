//! `idc upscale`: super-resolve one image.

use std::path::PathBuf;

/// Arguments of `idc upscale`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[arg(long)]
    pub model: Option<PathBuf>,
    #[arg(long)]
    pub weights: Option<PathBuf>,
    #[arg(long)]
    pub arch: Option<String>,
    #[arg(long)]
    pub input: PathBuf,
    #[arg(long)]
    pub output: PathBuf,
    /// Needed with --weights when the arch string does not fix the scale.
    #[arg(long)]
    pub scale: Option<usize>,
}

/// Runs the sub-command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let _ = &args;
    anyhow::bail!("`idc upscale` is not implemented yet")
}
