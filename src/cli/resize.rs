//! `idc resize`: MATLAB-style bicubic resize of one image, written as 8-bit PNG.
//!
//! The input is decoded as RGB (see [`crate::image::io`]), resized with BasicSR's `imresize`
//! (no mod-crop: the caller decides), and saved as `round(clip(x * 255, 0, 255))` PNG.

use crate::image::io::{decode_image, save_png};
use crate::image::resize::imresize;
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
    let img = decode_image(&args.input)?;
    let out = imresize(&img, args.scale)?;
    save_png(&args.output, &out)?;
    eprintln!(
        "{} ({}x{}) -> {} ({}x{})",
        args.input.display(),
        img.width,
        img.height,
        args.output.display(),
        out.width,
        out.height
    );
    Ok(())
}
