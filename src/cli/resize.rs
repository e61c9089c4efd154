//! `idc resize`: MATLAB-style bicubic resize of one image, written as 8-bit PNG.

use std::path::PathBuf;

/// Arguments of `idc resize`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[arg(long)]
    pub input: PathBuf,
    #[arg(long)]
    pub output: PathBuf,
    /// Scale factor (e.g. 0.5 or 2).
    #[arg(long)]
    pub scale: f64,
}

/// Runs the sub-command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let _ = &args;
    anyhow::bail!("`idc resize` is not implemented yet")
}
