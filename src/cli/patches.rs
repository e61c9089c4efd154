//! `idc patches`: count the HR patch grid of a folder (BasicSR `extract_subimages.py` rule,
//! `thresh_size` 0). Only image headers are needed, but files are fully decoded so a broken file
//! is reported here rather than during training.

use crate::config::PatchConfig;
use crate::image::io::{decode_rgb8, list_images};
use crate::image::patch::count_patches;
use std::path::PathBuf;

/// Arguments of `idc patches`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[arg(long)]
    pub hr_dir: PathBuf,
    #[arg(long)]
    pub scale: usize,
    #[arg(long)]
    pub hr_patch: usize,
    #[arg(long)]
    pub step: usize,
    #[arg(long)]
    pub json: bool,
}

/// Runs the sub-command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let cfg = PatchConfig {
        scale: args.scale,
        hr_patch: args.hr_patch,
        step: args.step,
        thresh_size: 0,
        task: None,
    }
    .check()?;
    let files = list_images(&args.hr_dir)?;
    let mut per_image = Vec::with_capacity(files.len());
    let mut total = 0usize;
    for path in &files {
        let img = decode_rgb8(path)?;
        let n = count_patches(img.height, img.width, &cfg);
        total += n;
        let name = path
            .strip_prefix(&args.hr_dir)
            .unwrap_or(path)
            .to_string_lossy()
            .replace('\\', "/");
        per_image.push((name, n));
    }
    if args.json {
        let per: Vec<serde_json::Value> = per_image
            .iter()
            .map(|(f, n)| serde_json::json!({"file": f, "patches": n}))
            .collect();
        super::print_json(&serde_json::json!({
            "images": files.len(),
            "patches": total,
            "per_image": per,
        }))?;
    } else {
        for (f, n) in &per_image {
            println!("{n:8}  {f}");
        }
        println!("{total} patches in {} images", files.len());
    }
    Ok(())
}
