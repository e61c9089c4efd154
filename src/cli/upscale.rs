//! `idc upscale`: super-resolve one image (or denoise it: `--task denoise --sigma S`) (tiled when it is large, exact; see
//! [`crate::train::eval`]).

use crate::device::{DefaultBackend, default_device};
use crate::image::io::{decode_image, save_png};
use crate::train::eval::{infer_options_for, upscale_image};
use std::path::PathBuf;

/// LR side above which `idc upscale` tiles (keeps memory bounded on large inputs).
const MAX_UNTILED_SIDE: usize = 512;

/// Arguments of `idc upscale`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The network.
    #[command(flatten)]
    pub net: super::models::ModelArgs,
    #[arg(long)]
    pub input: PathBuf,
    #[arg(long)]
    pub output: PathBuf,
    /// Needed with --weights --arch (the preset name does not fix the scale).
    #[arg(long)]
    pub scale: Option<usize>,
    /// --task denoise --sigma S: denoise the (noisy) input with a scale-1 model.
    #[command(flatten)]
    pub task: super::TaskArgs,
}

/// Runs the sub-command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let device = default_device();
    // SR keeps `--scale` optional (a model directory knows its scale); denoising is scale 1.
    let scale = match args.task.task.as_str() {
        "sr" => args.scale,
        _ => Some(args.task.resolve(args.scale)?.scale()),
    };
    let model = args.net.load::<DefaultBackend>(scale, &device)?;
    let lr = decode_image(&args.input)?;
    let opts = infer_options_for(&model, &lr, MAX_UNTILED_SIDE);
    let sr = upscale_image(&model, &lr, &opts, &device)?;
    save_png(&args.output, &sr)?;
    eprintln!(
        "idc upscale: {}x{} -> {}x{} written to {}",
        lr.width,
        lr.height,
        sr.width,
        sr.height,
        args.output.display()
    );
    Ok(())
}
