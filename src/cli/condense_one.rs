//! `idc condense-one`: condense one image and write its synthetic patches, a sheet and report.json.
//!
//! The instance is the image's HR patch grid (`PatchConfig` defaults with `--scale`: HR 96,
//! stride 48) with bicubic LR patches. The condenser runs with `CondenseConfig::default()`,
//! `--ratio`, and `--iters` (the warm-up and assigning phases scale with it: 20 % and 30 %,
//! refresh every tenth of the run). Output in `--out`:
//! - `lr_XXX.png`, `hr_XXX.png`: the synthetic LR patches and their teacher HR targets;
//! - `sheet.png`: top row `n` randomly chosen real LR patches, bottom row the synthetic ones;
//! - `report.json`: `{"steps": [{"step", "instance", "group", "pair", "total"}, ..]` (`null` for
//!   an inactive term), timings, grouping, the config, and `ncfd_synthetic` /
//!   `ncfd_random_real`: the instance NCFD to all real patches of the synthetic set and of `n`
//!   random real patches (same extractor, same frequency draws).
//!
//! `--json` prints the report without the per-step list (plus `report` = its path).

use crate::condense::{CondenseConfig, CondensedInstance, Condenser, Instance, instance_ncfd};
use crate::config::{PatchConfig, ValidPatchConfig};
use crate::device::{BACKEND_NAME, TrainBackend, default_device};
use crate::image::io::{atomic_write, decode_image, save_png};
use crate::image::{Image, patch::instance_pairs};
use crate::models::{Teacher, load_model_dir};
use anyhow::Context;
use burn::module::Module;
use rand::SeedableRng;
use std::path::{Path, PathBuf};

/// Arguments of `idc condense-one`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[arg(long)]
    pub image: PathBuf,
    /// Extractor model directory.
    #[arg(long)]
    pub model: PathBuf,
    /// Teacher model directory (default: the extractor model).
    #[arg(long)]
    pub teacher: Option<PathBuf>,
    #[arg(long)]
    pub scale: usize,
    #[arg(long, default_value_t = 0.1)]
    pub ratio: f64,
    #[arg(long)]
    pub iters: Option<usize>,
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[arg(long)]
    pub json: bool,
}

/// The default config with `ratio` and, when given, `iters` with the schedule scaled to it.
pub fn config_for(ratio: f64, iters: Option<usize>) -> CondenseConfig {
    let mut c = CondenseConfig {
        ratio,
        ..CondenseConfig::default()
    };
    if let Some(it) = iters {
        c.iters = it;
        c.warmup = it / 5;
        c.assign = it * 3 / 10;
        c.assign_every = (it / 10).max(1);
    }
    c
}

/// Lays out two rows of equally sized patches (top: `top`, bottom: `bottom`) with a 2-pixel
/// white gap.
fn sheet(top: &[Image], bottom: &[Image]) -> anyhow::Result<Image> {
    let first = top
        .first()
        .or(bottom.first())
        .context("no patches for the sheet")?;
    let (h, w, gap) = (first.height, first.width, 2);
    let cols = top.len().max(bottom.len());
    let (sh, sw) = (2 * h + 3 * gap, cols * (w + gap) + gap);
    let mut data = vec![1f32; 3 * sh * sw];
    for (row, set) in [top, bottom].iter().enumerate() {
        for (col, im) in set.iter().enumerate() {
            anyhow::ensure!(
                im.channels == 3 && im.height == h && im.width == w,
                "sheet patches must all be 3x{h}x{w}"
            );
            let (y0, x0) = (gap + row * (h + gap), gap + col * (w + gap));
            for c in 0..3 {
                for y in 0..h {
                    for x in 0..w {
                        data[(c * sh + y0 + y) * sw + x0 + x] = im.at(c, y, x);
                    }
                }
            }
        }
    }
    Ok(Image::new(3, sh, sw, data)?)
}

/// Runs the sub-command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let device = default_device();
    let patch = PatchConfig {
        scale: args.scale,
        ..PatchConfig::default()
    }
    .check()?;
    let config = config_for(args.ratio, args.iters).check()?;
    let instance = load_instance(&args, &patch)?;
    let (extractor, teacher, teacher_dir) = load_networks(&args, &device)?;
    if !args.json {
        eprintln!(
            "condensing {} ({} real LR patches -> {}) for {} steps on {BACKEND_NAME}",
            args.image.display(),
            instance.lr.len(),
            config.synthetic_count(instance.lr.len()),
            config.iters
        );
    }
    // `clone`, not a copy: the CUDA device is not `Copy` (the same line must build for both).
    #[allow(clippy::clone_on_copy)]
    let condenser = Condenser::new(config.clone(), &extractor, &teacher, device.clone())?;
    let bar = progress_bar(args.json, config.iters);
    let out = condenser.condense_with(&instance, args.seed, &mut |s| {
        bar.set_message(format!("loss {:.4}", s.total));
        bar.inc(1);
    })?;
    bar.finish_and_clear();

    let files = write_patches(&args.out, &out)?;
    // Baseline: n real patches drawn independently of the condenser's init.
    let random_real = random_real_patches(&instance, out.lr.len(), args.seed);
    let sheet_path = args.out.join("sheet.png");
    save_png(&sheet_path, &sheet(&random_real, &out.lr)?)?;
    // What was written (8-bit) is what is measured.
    let synthetic_q: Vec<Image> = out.lr.iter().map(Image::quantized).collect();
    let ncfd = |other: &[Image]| {
        instance_ncfd(&extractor, &config, &instance.lr, other, args.seed, &device)
    };
    let (ncfd_syn, ncfd_rand) = (ncfd(&synthetic_q)?, ncfd(&random_real)?);
    let run = Outcome {
        config: &config,
        teacher_dir: &teacher_dir,
        out: &out,
        files,
        sheet_path,
        ncfd: (ncfd_syn, ncfd_rand),
    };
    report(&args, &run)
}

type Frozen = crate::models::net::SrNet<TrainBackend>;

/// The image's real LR patches as one instance named after the file.
fn load_instance(args: &Args, patch: &ValidPatchConfig) -> anyhow::Result<Instance> {
    let hr = decode_image(&args.image)?;
    let pairs = instance_pairs(&hr, patch)?;
    let name = args
        .image
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "instance".into());
    Ok(Instance {
        name,
        lr: pairs.into_iter().map(|p| p.lr).collect(),
    })
}

/// Extractor and teacher, frozen: no parameter gradients, only the input's.
fn load_networks(
    args: &Args,
    device: &crate::device::DefaultDevice,
) -> anyhow::Result<(Frozen, Frozen, PathBuf)> {
    let (extractor, _) = load_model_dir::<TrainBackend>(&args.model, device)
        .with_context(|| format!("loading extractor {}", args.model.display()))?;
    let teacher_dir = args.teacher.clone().unwrap_or_else(|| args.model.clone());
    let (teacher, _) = load_model_dir::<TrainBackend>(&teacher_dir, device)
        .with_context(|| format!("loading teacher {}", teacher_dir.display()))?;
    anyhow::ensure!(
        teacher.scale() == args.scale,
        "teacher {} is x{}, --scale is {}",
        teacher_dir.display(),
        teacher.scale(),
        args.scale
    );
    Ok((extractor.no_grad(), teacher.no_grad(), teacher_dir))
}

fn progress_bar(hidden: bool, iters: usize) -> indicatif::ProgressBar {
    if hidden {
        return indicatif::ProgressBar::hidden();
    }
    let b = indicatif::ProgressBar::new(iters as u64);
    b.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:30} {pos}/{len} steps, {elapsed} elapsed, ETA {eta} {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    b
}

/// `lr_000.png`, `hr_000.png`, ... in `dir`; returns the paths written.
fn write_patches(dir: &Path, out: &CondensedInstance) -> anyhow::Result<Vec<String>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut files = Vec::new();
    for (i, (lr, hr)) in out.lr.iter().zip(&out.hr).enumerate() {
        for (kind, im) in [("lr", lr), ("hr", hr)] {
            let p = dir.join(format!("{kind}_{i:03}.png"));
            save_png(&p, im)?;
            files.push(p.display().to_string());
        }
    }
    Ok(files)
}

fn random_real_patches(instance: &Instance, n: usize, seed: u64) -> Vec<Image> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ 0x5EED_BA5E);
    rand::seq::index::sample(&mut rng, instance.lr.len(), n)
        .into_vec()
        .into_iter()
        .map(|i| instance.lr[i].clone())
        .collect()
}

/// What one run produced, for the report.
struct Outcome<'a> {
    config: &'a CondenseConfig,
    teacher_dir: &'a Path,
    out: &'a CondensedInstance,
    files: Vec<String>,
    sheet_path: PathBuf,
    /// Instance NCFD of (synthetic, random real) patches.
    ncfd: (f64, f64),
}

/// Writes `report.json` (with every step's losses) and prints the summary.
fn report(args: &Args, run: &Outcome) -> anyhow::Result<()> {
    let (config, r) = (run.config, &run.out.report);
    let (ncfd_syn, ncfd_rand) = run.ncfd;
    let mut summary = serde_json::json!({
        "image": args.image.display().to_string(),
        "model": args.model.display().to_string(),
        "teacher": run.teacher_dir.display().to_string(),
        "backend": BACKEND_NAME,
        "scale": args.scale,
        "ratio": args.ratio,
        "seed": args.seed,
        "iters": config.iters,
        "n_real": r.n_real,
        "n_synthetic": r.n_synthetic,
        "real_local_patches": r.real_local_patches,
        "group_sizes": r.group_sizes,
        "quotas": r.quotas,
        "ncfd_synthetic": ncfd_syn,
        "ncfd_random_real": ncfd_rand,
        "timings": r.timings,
        "files": &run.files,
        "sheet": run.sheet_path.display().to_string(),
        "config": config,
    });
    let mut full = summary.clone();
    full["steps"] = serde_json::to_value(&r.steps)?;
    let report_path = args.out.join("report.json");
    atomic_write(
        &report_path,
        serde_json::to_string_pretty(&full)?.as_bytes(),
    )?;
    summary["report"] = report_path.display().to_string().into();
    if args.json {
        crate::cli::print_json(&summary)?;
    } else {
        let last = r.steps.last();
        println!(
            "{} synthetic patches in {}; instance NCFD synthetic {:.5} vs {} random real {:.5}; \
             final losses ins {:?} group {:?} pair {:?}; median step {:.1} ms",
            r.n_synthetic,
            args.out.display(),
            ncfd_syn,
            r.n_synthetic,
            ncfd_rand,
            last.and_then(|s| s.instance),
            last.and_then(|s| s.group),
            last.and_then(|s| s.pair),
            r.timings.step_ms_median
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_scales_with_iters() {
        let c = config_for(0.2, Some(50));
        assert_eq!(
            (c.iters, c.warmup, c.assign, c.assign_every),
            (50, 10, 15, 5)
        );
        c.validate().unwrap();
        let c = config_for(0.1, Some(1));
        c.validate().unwrap();
        assert_eq!(config_for(0.1, None).iters, CondenseConfig::default().iters);
    }

    #[test]
    fn sheet_has_two_rows() {
        let a = Image::zeros(3, 4, 5);
        let s = sheet(&[a.clone(), a.clone()], &[a]).unwrap();
        assert_eq!((s.height, s.width), (2 * 4 + 6, 2 * 7 + 2));
        assert_eq!(s.at(0, 0, 0), 1.0);
        assert_eq!(s.at(0, 2, 2), 0.0);
    }
}
