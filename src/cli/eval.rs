//! `idc eval`: evaluate a model (or bicubic) on whole test images as BasicSR does; with
//! `--task denoise --sigma S` under the SwinIR/KAIR denoising protocol (`--arch noisy`: the
//! noisy input itself).

use crate::device::{DefaultBackend, default_device};
use crate::train::eval::{
    EvalReport, InferOptions, evaluate_bicubic, evaluate_noisy, evaluate_task,
};
use std::path::PathBuf;

/// Arguments of `idc eval`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The network (or `--arch bicubic`).
    #[command(flatten)]
    pub net: super::models::ModelArgs,
    #[arg(long)]
    pub test_dir: PathBuf,
    /// SR factor (required for --task sr).
    #[arg(long)]
    pub scale: Option<usize>,
    /// The task (--task denoise --sigma 50: colour denoising, SwinIR/KAIR protocol).
    #[command(flatten)]
    pub task: super::TaskArgs,
    #[arg(long)]
    pub json: bool,
}

/// Runs the sub-command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let device = default_device();
    let task = args.task.resolve(args.scale)?;
    let scale = task.scale();
    let net = &args.net;
    let baseline = net.model.is_none() && net.weights.is_none() && net.arch_config.is_none();
    let report: EvalReport = match net.arch.as_deref() {
        Some("bicubic") if baseline && task.sigma().is_none() => {
            evaluate_bicubic(&args.test_dir, scale)?
        }
        Some("noisy") if baseline && task.sigma().is_some() => {
            evaluate_noisy(&args.test_dir, &task)?
        }
        _ => {
            let model = net.load::<DefaultBackend>(Some(scale), &device)?;
            let opts = InferOptions::default();
            evaluate_task(&model, &args.test_dir, &task, &opts, &device)?
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
