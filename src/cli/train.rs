//! `idc train`: train an ISR network (burn-train loop, L1, Adam, multi-step decay).
//!
//! Training data, one of:
//! - `--train-dir D`: whole images of `D` (random `--lr-patch` crops, flips);
//! - `--cache C`: the LR/HR pairs of a condensed (`idc condense`) or selected (`idc select`)
//!   shard cache, read through [`SelectionDataset`]; `--scale` defaults to the cache's;
//! - `--train-dir D --condense-ratio R --cache C`: an [`IdcDataset`] over `D` that condenses each
//!   image lazily into `C` while training (condense-ahead on; shards already in `C` are reused),
//!   with the patch grid, condense config and default models of `idc condense`, so the two share
//!   shards. Extractor/teacher: `--extractor` / `--teacher`, else the built-in pretrained model.
//!
//! Validates on `--valid-dir` (BasicSR protocol), writes checkpoints and the final model
//! directory to `--out` (default `<cache>-run` with `--cache`) and prints the
//! [`crate::train::TrainSummary`] as JSON on stdout.

use crate::config::PatchConfig;
use crate::dataset::idc::{CacheMode, IdcDataset};
use crate::dataset::selection::SelectionDataset;
use crate::device::{TrainBackend, default_device};
use crate::task::Task;
use crate::train::data::HrImageDataset;
use crate::train::{TrainConfig, TrainOptions, train_sr};
use anyhow::{Context, bail};
use burn::data::dataset::Dataset;
use std::path::{Path, PathBuf};

/// HR patch side and stride of the lazily condensed grid (those of `idc condense`).
const CONDENSE_HR_PATCH: usize = 96;
const CONDENSE_STEP: usize = 48;
/// Default LR crop side.
const DEFAULT_LR_PATCH: usize = 48;

/// Arguments of `idc train`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Folder of HR training images.
    #[arg(long)]
    pub train_dir: Option<PathBuf>,
    /// Up-sampling factor (--task sr); with `--cache` alone it defaults to the cache's.
    #[arg(long)]
    pub scale: Option<usize>,
    /// The task (--task denoise --sigma 50: noise redrawn for every sample).
    #[command(flatten)]
    pub task: super::TaskArgs,
    /// Preset (edsr-tiny, edsr-small, edsr-baseline, swinir-tiny, swinir-light,
    /// swinir-classical) or edsr:FEATURESxBLOCKS.
    #[arg(long, default_value = "edsr-tiny")]
    pub model: String,
    /// BasicSR `network_g` options as JSON (EDSR or SwinIR); replaces --model.
    #[arg(long)]
    pub arch_config: Option<PathBuf>,
    #[arg(long, default_value_t = 500)]
    pub iters: usize,
    #[arg(long, default_value_t = 16)]
    pub batch: usize,
    /// Initial learning rate, halved at 2/3 of the run (default: BasicSR's 2e-4).
    #[arg(long)]
    pub lr: Option<f64>,
    /// LR crop side; default 48, or the cache's LR patch side when smaller.
    #[arg(long)]
    pub lr_patch: Option<usize>,
    /// Output directory for checkpoints and the final model; default `<cache>-run` with --cache.
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[arg(long)]
    pub valid_dir: Option<PathBuf>,
    #[arg(long)]
    pub resume: bool,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Initialise from this model directory.
    #[arg(long)]
    pub init: Option<PathBuf>,
    /// Train on this shard cache (condensed or selected); with --condense-ratio, condense into it.
    #[arg(long)]
    pub cache: Option<PathBuf>,
    /// Condense --train-dir lazily into --cache at this ratio while training.
    #[arg(long)]
    pub condense_ratio: Option<f64>,
    /// Extractor model directory for --condense-ratio (default: the built-in model of --scale).
    #[arg(long)]
    pub extractor: Option<PathBuf>,
    /// Teacher model directory for --condense-ratio (default: the extractor).
    #[arg(long)]
    pub teacher: Option<PathBuf>,
    /// Condense config (JSON, as `idc condense --config`) for --condense-ratio; its `ratio` is
    /// replaced by --condense-ratio.
    #[arg(long)]
    pub condense_config: Option<PathBuf>,
}

/// The training set `args` name, type-erased so the three sources share one training call.
enum TrainSet {
    Images(HrImageDataset),
    Cache(SelectionDataset),
    Condensed(IdcDataset),
}

/// Runs the sub-command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let (set, task, lr_side) = open_train_set(&args)?;
    let mut config = TrainConfig::for_task(&args.model, task, args.iters);
    if let Some(path) = &args.arch_config {
        let net = crate::models::NetConfig::from_json_file(path)?;
        config = config.with_net(net.to_network_g());
    }
    config.batch = args.batch;
    config.lr_patch = args
        .lr_patch
        .unwrap_or(DEFAULT_LR_PATCH.min(lr_side.unwrap_or(DEFAULT_LR_PATCH)));
    config.seed = args.seed;
    if let Some(lr) = args.lr {
        config.lr = lr;
    }
    let config = config.check()?;
    let out = out_dir(&args)?;
    eprintln!(
        "idc train: {} {} for {} iterations (batch {}, LR patch {}), backend {}, into {}",
        config.arch,
        task.label(),
        config.iters,
        config.batch,
        config.lr_patch,
        crate::device::BACKEND_NAME,
        out.display()
    );
    let options = TrainOptions::new(config, &out)
        .with_valid_dir(args.valid_dir.as_deref())
        .with_resume(args.resume)
        .with_init(args.init.as_deref());
    let device = default_device();
    let summary = match set {
        TrainSet::Images(d) => train_sr::<TrainBackend, _>(d, &options, &device)?,
        TrainSet::Cache(d) => train_sr::<TrainBackend, _>(d, &options, &device)?,
        TrainSet::Condensed(d) => {
            let options = options.with_progress(d.progress_metric());
            train_sr::<TrainBackend, _>(d, &options, &device)?
        }
    };
    if let Some(last) = summary.validation.last() {
        eprintln!(
            "idc train: done at iteration {} in {:.1} s; validation PSNR {:.3} dB (RGB), {:.3} dB (Y)",
            summary.iterations, summary.wall_seconds, last.psnr_rgb, last.psnr_y
        );
    } else {
        eprintln!(
            "idc train: done at iteration {} in {:.1} s; model in {}",
            summary.iterations,
            summary.wall_seconds,
            out.display()
        );
    }
    super::print_json(&serde_json::to_value(&summary)?)
}

/// `--out`, else `<cache>-run` when training on a cache.
fn out_dir(args: &Args) -> anyhow::Result<PathBuf> {
    if let Some(out) = &args.out {
        return Ok(out.clone());
    }
    match &args.cache {
        Some(c) => {
            let name = c.file_name().map(|n| n.to_string_lossy().into_owned());
            Ok(c.with_file_name(format!(
                "{}-run",
                name.unwrap_or_else(|| "idc-cache".into())
            )))
        }
        None => bail!("--out is required (the model directory to write)"),
    }
}

/// The training set, its task and (for patch sets) the LR patch side.
fn open_train_set(args: &Args) -> anyhow::Result<(TrainSet, Task, Option<usize>)> {
    match (&args.train_dir, &args.cache, args.condense_ratio) {
        (Some(dir), None, None) => {
            let task = args.task.resolve(args.scale)?;
            let lr = args.lr_patch.unwrap_or(DEFAULT_LR_PATCH);
            let data = HrImageDataset::for_task(dir, &task, lr)?;
            eprintln!(
                "idc train: {} training images in {}",
                data.len(),
                dir.display()
            );
            Ok((TrainSet::Images(data), task, None))
        }
        (None, Some(cache), None) => open_cache(cache, args),
        (Some(dir), Some(cache), Some(ratio)) => condensing_set(args, dir, cache, ratio),
        (Some(_), None, Some(_)) => bail!("--condense-ratio needs --cache (where shards go)"),
        (None, _, Some(_)) => bail!("--condense-ratio needs --train-dir (the images to condense)"),
        (Some(_), Some(_), None) => bail!(
            "give --train-dir (whole images), --cache (a condensed cache), or both with \
             --condense-ratio (condense while training)"
        ),
        (None, None, None) => bail!("give --train-dir DIR or --cache DIR (see idc train --help)"),
    }
}

/// A condensed or selected cache, read-only. SR takes its scale from the cache; for
/// denoising (`--task denoise`) the cache must hold scale-1 (clean) pairs.
fn open_cache(cache: &Path, args: &Args) -> anyhow::Result<(TrainSet, Task, Option<usize>)> {
    let data = match super::teacher_ref::cache_regenerator(cache)? {
        Some(regen) => SelectionDataset::open_with_regenerator(cache, regen),
        None => SelectionDataset::open(cache),
    }
    .with_context(|| format!("opening the shard cache {}", cache.display()))?;
    let sr = args.task.task == "sr";
    let task = args.task.resolve(Some(if sr {
        args.scale.unwrap_or(data.scale())
    } else {
        1
    }))?;
    if task.scale() != data.scale() {
        bail!(
            "{} needs x{} pairs but the cache {} holds x{} pairs",
            task.label(),
            task.scale(),
            cache.display(),
            data.scale()
        );
    }
    let lr_side = data
        .try_get(0)
        .map(|p| p.lr.height.min(p.lr.width))
        .with_context(|| format!("reading the first pair of {}", cache.display()))?;
    eprintln!(
        "idc train: {} LR/HR pairs from {} shards in {}",
        data.len(),
        data.shard_count(),
        cache.display()
    );
    Ok((TrainSet::Cache(data), task, Some(lr_side)))
}

/// An [`IdcDataset`] that condenses `dir` into `cache` while training.
fn condensing_set(
    args: &Args,
    dir: &Path,
    cache: &Path,
    ratio: f64,
) -> anyhow::Result<(TrainSet, Task, Option<usize>)> {
    let task = args.task.resolve(args.scale)?;
    let scale = task.scale();
    let patch = PatchConfig {
        scale,
        hr_patch: CONDENSE_HR_PATCH,
        step: CONDENSE_STEP,
        thresh_size: 0,
        task: None,
    }
    .with_task(task)
    .check()?;
    let (extractor, teacher) =
        super::models::load_models(args.extractor.as_deref(), args.teacher.as_deref(), scale)?;
    let mut config = match &args.condense_config {
        Some(p) => super::condense_args::read_config(p)?,
        None => crate::condense::CondenseConfig::default(),
    };
    config.ratio = ratio;
    let builder = IdcDataset::builder(dir, patch).with_condense_config(config.check()?);
    // Denoising condenses clean patches, each its own target, unless a teacher is named (as
    // `idc condense --task denoise`).
    let builder = if task.sigma().is_some() && args.teacher.is_none() {
        let identity = crate::models::identity::IdentityTeacher;
        builder.with_models::<TrainBackend, _, _>(extractor, identity, default_device())
    } else {
        builder.with_models::<TrainBackend, _, _>(extractor, teacher, default_device())
    };
    let data = builder
        .with_cache_dir(cache)
        .with_mode(CacheMode::LazyCondense)
        .with_condense_ahead(64)
        .build()?;
    eprintln!(
        "idc train: {} condensed pairs of {} images in {} (ratio {ratio}), condensed while training into {}",
        data.len(),
        data.num_instances(),
        dir.display(),
        cache.display()
    );
    Ok((
        TrainSet::Condensed(data),
        task,
        Some(CONDENSE_HR_PATCH / scale),
    ))
}
