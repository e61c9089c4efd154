//! `idc eval`: evaluate a model (or bicubic) on whole test images as BasicSR does.

use crate::device::{DefaultBackend, default_device};
use crate::models::edsr::EdsrConfig;
use crate::models::load_model_dir;
use crate::models::weights::load_basicsr_pth;
use crate::train::eval::{EvalReport, evaluate_bicubic, evaluate_model};
use std::path::PathBuf;

/// Arguments of `idc eval`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The network (or `--arch bicubic`).
    #[command(flatten)]
    pub net: super::ModelArgs,
    #[arg(long)]
    pub test_dir: PathBuf,
    #[arg(long)]
    pub scale: usize,
    #[arg(long)]
    pub json: bool,
}

/// Runs the sub-command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let device = default_device();
    let report: EvalReport = match (&args.net.model, &args.net.weights, args.net.arch.as_deref()) {
        (None, None, Some("bicubic")) => evaluate_bicubic(&args.test_dir, args.scale)?,
        (Some(dir), None, None) => {
            let (model, cfg) = load_model_dir::<DefaultBackend>(dir, &device)?;
            if cfg.upscale != args.scale {
                anyhow::bail!(
                    "model {} is x{}, --scale is {}",
                    dir.display(),
                    cfg.upscale,
                    args.scale
                );
            }
            evaluate_model(&model, &args.test_dir, args.scale, &device)?
        }
        (None, Some(pth), Some(arch)) => {
            let cfg = EdsrConfig::from_arch(arch, args.scale)?;
            let model = load_basicsr_pth::<DefaultBackend>(pth, &cfg, &device)?;
            evaluate_model(&model, &args.test_dir, args.scale, &device)?
        }
        _ => anyhow::bail!(
            "give exactly one of --model DIR, --weights X.pth --arch A, or --arch bicubic"
        ),
    };
    if args.json {
        super::print_json(&serde_json::to_value(&report)?)
    } else {
        for im in &report.images {
            println!(
                "{:<24} PSNR {:7.3} / {:7.3} (Y)  SSIM {:.4} / {:.4} (Y)",
                im.file, im.psnr_rgb, im.psnr_y, im.ssim_rgb, im.ssim_y
            );
        }
        println!(
            "{:<24} PSNR {:7.3} / {:7.3} (Y)  SSIM {:.4} / {:.4} (Y)",
            "mean", report.psnr_rgb, report.psnr_y, report.ssim_rgb, report.ssim_y
        );
        Ok(())
    }
}
