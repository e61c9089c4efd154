//! `idc select`: select a subset of real patches with a baseline method into a shard cache.
//!
//! The pool is the HR patch grid of `--hr-dir` (`PatchConfig` defaults unless `--hr-patch` /
//! `--step` are given; images smaller than one patch are skipped, as in `SrPatchDataset::new`).
//! The cache has the format of `idc condense`, so `idc inspect` and training read it the same way.
//! `--json` prints `{"method", "pool", "selected", "instances", "pool_instances",
//! "per_instance", "skipped_images", "fingerprint", "cache", "seconds"}`.

use crate::config::{PatchConfig, ValidPatchConfig};
use crate::dataset::sr_patch::SrPatchDataset;
use crate::device::{DefaultBackend, DefaultDevice, default_device};
use crate::models::load_model_dir;
use crate::models::net::SrNet;
use crate::select::pipeline::{SelectionReport, Stage, select_to_cache_with_progress};
use crate::select::{SelectConfig, SelectMethod, ValidSelectConfig};
use anyhow::Context;
use std::path::PathBuf;
use std::time::Instant;

/// Arguments of `idc select`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// random | herding | kcenter | dcsr
    #[arg(long)]
    pub method: String,
    #[arg(long)]
    pub hr_dir: PathBuf,
    #[arg(long)]
    pub cache: PathBuf,
    /// SR factor (required for --task sr).
    #[arg(long)]
    pub scale: Option<usize>,
    /// --task denoise --sigma S: select clean patches for denoising (scale 1).
    #[command(flatten)]
    pub task: super::TaskArgs,
    /// Fraction of the pool to keep; the count is IDC's: sum over images of max(1, ceil(r N_j)).
    #[arg(long, default_value_t = 0.1)]
    pub ratio: f64,
    /// Extractor model directory (needed by herding, kcenter and dcsr).
    #[arg(long)]
    pub extractor: Option<PathBuf>,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[arg(long)]
    pub json: bool,
    /// HR patch side (default: PatchConfig's).
    #[arg(long)]
    pub hr_patch: Option<usize>,
    /// Grid stride in HR pixels (default: PatchConfig's).
    #[arg(long)]
    pub step: Option<usize>,
    /// Apply the ratio inside every image instead of over the whole pool.
    #[arg(long)]
    pub per_instance: bool,
    /// Patches per extractor forward pass.
    #[arg(long, default_value_t = 64)]
    pub feature_batch: usize,
}

/// Runs the sub-command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let start = Instant::now();
    let (patch, config) = configs(&args)?;
    let method = config.method;
    let device = default_device();
    let extractor = load_extractor(&args, method, &device)?;

    let pool = SrPatchDataset::new(&args.hr_dir, patch.clone())
        .with_context(|| format!("reading {}", args.hr_dir.display()))?;
    for s in pool.skipped() {
        eprintln!("skipped {}: {}", s.path.display(), s.reason);
    }
    eprintln!(
        "selecting with {method} from {} patches of {} images ...",
        burn::data::dataset::Dataset::len(&pool),
        pool.instances().len()
    );
    let report = select_to_cache_with_progress::<DefaultBackend, SrNet<DefaultBackend>>(
        &pool,
        &args.cache,
        &patch,
        &config,
        extractor.as_ref(),
        &device,
        &mut stage_progress(start),
    )?;
    print_report(
        &args,
        &report,
        pool.skipped().len(),
        start.elapsed().as_secs_f64(),
    )
}

/// The checked patch and selection configs of `args` (patch side and stride default to
/// [`PatchConfig`]'s); refuses a feature-based method without `--extractor`.
fn configs(args: &Args) -> anyhow::Result<(ValidPatchConfig, ValidSelectConfig)> {
    let method: SelectMethod = args.method.parse()?;
    let task = args.task.resolve(args.scale)?;
    let defaults = PatchConfig::default();
    let patch = PatchConfig {
        hr_patch: args.hr_patch.unwrap_or(defaults.hr_patch),
        step: args.step.unwrap_or(defaults.step),
        ..defaults
    }
    .with_task(task)
    .check()?;
    let config = SelectConfig {
        method,
        ratio: args.ratio,
        seed: args.seed,
        per_instance: args.per_instance,
        feature_batch: args.feature_batch,
    }
    .check()?;
    if method.needs_features() && args.extractor.is_none() {
        anyhow::bail!("--method {method} needs --extractor <model dir> (only random does not)");
    }
    Ok((patch, config))
}

/// The extractor model, loaded only when `method` uses features (random ignores one).
fn load_extractor(
    args: &Args,
    method: SelectMethod,
    device: &DefaultDevice,
) -> anyhow::Result<Option<SrNet<DefaultBackend>>> {
    Ok(match &args.extractor {
        Some(dir) if method.needs_features() => Some(
            load_model_dir::<DefaultBackend>(dir, device)
                .with_context(|| format!("loading extractor {}", dir.display()))?
                .0,
        ),
        _ => None,
    })
}

/// Progress callback printing to stderr about every 10% of a stage, with the seconds since
/// `start`.
fn stage_progress(start: Instant) -> impl FnMut(Stage, usize, usize) {
    let mut last = (Stage::Select, usize::MAX);
    move |stage: Stage, done: usize, total: usize| {
        let tenth = (done * 10).checked_div(total).unwrap_or(0);
        if (stage, tenth) != last {
            last = (stage, tenth);
            let name = match stage {
                Stage::Features => "features",
                Stage::Select => "select",
                Stage::Write => "write",
            };
            eprintln!(
                "  {name}: {done}/{total} ({:.0} s)",
                start.elapsed().as_secs_f64()
            );
        }
    }
}

/// The `--json` object (see the module docs) or one human-readable line on stdout.
fn print_report(
    args: &Args,
    report: &SelectionReport,
    skipped_images: usize,
    seconds: f64,
) -> anyhow::Result<()> {
    if args.json {
        crate::cli::print_json(&serde_json::json!({
            "method": report.method.name(),
            "pool": report.pool,
            "selected": report.selected,
            "instances": report.instances,
            "pool_instances": report.pool_instances,
            "per_instance": report.per_instance,
            "skipped_images": skipped_images,
            "fingerprint": report.fingerprint,
            "cache": args.cache,
            "seconds": seconds,
        }))?;
    } else {
        println!(
            "{}: selected {} of {} patches ({} of {} images) into {} in {seconds:.1} s",
            report.method,
            report.selected,
            report.pool,
            report.instances,
            report.pool_instances,
            args.cache.display()
        );
    }
    Ok(())
}
