//! `idc metrics`: PSNR/SSIM of an SR image against its HR reference, BasicSR conventions
//! (see [`crate::metrics`]): both files decoded as 8-bit RGB, `crop_border` pixels removed from
//! every edge, optional Y channel. The two sizes must match exactly (no implicit cropping).

use crate::image::io::decode_image;
use crate::metrics::psnr_ssim;
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

/// JSON has no infinity: identical images (PSNR = inf) are printed as the string "inf".
fn json_number(v: f64) -> serde_json::Value {
    if v.is_finite() {
        serde_json::json!(v)
    } else if v > 0.0 {
        serde_json::json!("inf")
    } else {
        serde_json::json!("nan")
    }
}

/// Runs the sub-command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let sr = decode_image(&args.sr)?;
    let hr = decode_image(&args.hr)?;
    let (psnr, ssim) = psnr_ssim(&sr, &hr, args.crop_border, args.y_channel)?;
    if args.json {
        super::print_json(&serde_json::json!({
            "psnr": json_number(psnr),
            "ssim": json_number(ssim),
        }))?;
    } else {
        let ch = if args.y_channel { "Y" } else { "RGB" };
        println!(
            "PSNR {psnr:.4} dB  SSIM {ssim:.6}  ({ch}, crop_border {})",
            args.crop_border
        );
    }
    Ok(())
}
