//! `idc upscale`: super-resolve one image (or denoise it: `--task denoise --sigma S`) (tiled when it is large, exact; see
//! [`crate::train::eval`]).

use crate::device::{DefaultBackend, default_device};
use crate::image::io::{decode_image, save_png};
use crate::models::edsr::EdsrConfig;
use crate::models::load_model_dir;
use crate::models::weights::load_basicsr_pth;
use crate::train::eval::{edsr_infer_options, upscale_image};
use std::path::PathBuf;

/// LR side above which `idc upscale` tiles (keeps memory bounded on large inputs).
const MAX_UNTILED_SIDE: usize = 512;

/// Arguments of `idc upscale`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The network.
    #[command(flatten)]
    pub net: super::ModelArgs,
    #[arg(long)]
    pub input: PathBuf,
    #[arg(long)]
    pub output: PathBuf,
    /// Needed with --weights when the arch string does not fix the scale.
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
    let model = match (&args.net.model, &args.net.weights, args.net.arch.as_deref()) {
        (Some(dir), None, None) => {
            let (m, cfg) = load_model_dir::<DefaultBackend>(dir, &device)?;
            if let Some(s) = scale
                && s != cfg.upscale
            {
                anyhow::bail!(
                    "model {} is x{}, --scale is {s}",
                    dir.display(),
                    cfg.upscale
                );
            }
            m
        }
        (None, Some(pth), Some(arch)) => {
            let Some(scale) = scale else {
                anyhow::bail!("--weights needs --scale (the .pth does not say it)");
            };
            let cfg = EdsrConfig::from_arch(arch, scale)?;
            load_basicsr_pth::<DefaultBackend>(pth, &cfg, &device)?
        }
        _ => anyhow::bail!("give exactly one of --model DIR or --weights X.pth --arch A --scale S"),
    };
    let lr = decode_image(&args.input)?;
    let opts = edsr_infer_options(&model, &lr, MAX_UNTILED_SIDE);
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
