//! `idc eval`: evaluate a model (or bicubic) on whole test images as BasicSR does.

use crate::device::{DefaultBackend, default_device};
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
    let net = &args.net;
    let report: EvalReport = match (
        &net.model,
        &net.weights,
        net.arch.as_deref(),
        &net.arch_config,
    ) {
        (None, None, Some("bicubic"), None) => evaluate_bicubic(&args.test_dir, args.scale)?,
        _ => {
            let model = args.net.load::<DefaultBackend>(Some(args.scale), &device)?;
            evaluate_model(&model, &args.test_dir, args.scale, &device)?
        }
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
