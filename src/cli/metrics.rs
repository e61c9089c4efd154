//! `idc metrics`: PSNR/SSIM of an SR image against its HR reference, BasicSR conventions.

use std::path::PathBuf;

/// Arguments of `idc metrics`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[arg(long)]
    pub sr: PathBuf,
    #[arg(long)]
    pub hr: PathBuf,
    #[arg(long, default_value_t = 0)]
    pub crop_border: usize,
    /// Compute on the Y channel (BasicSR test_y_channel).
    #[arg(long)]
    pub y_channel: bool,
    #[arg(long)]
    pub json: bool,
}

/// Runs the sub-command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let _ = &args;
    anyhow::bail!("`idc metrics` is not implemented yet")
}
