//! `idc condense`: condense a folder of HR images into a shard cache (one shard per image).
//!
//! - HR folder: `--hr-dir`, else `$IDC_DATA/train` when `IDC_DATA` is set, else four small real
//!   photographs built into the crate (public domain / CC0, [`crate::image::photos`]), written to
//!   `<work dir>/photos/`.
//! - Extractor: `--extractor DIR` (a model directory), else the built-in pretrained `edsr-tiny`
//!   of `--scale` ([`crate::models::pretrained`]), so the run starts condensing at once; at a
//!   scale without a built-in model a small `edsr-tiny` is first trained on the HR folder into
//!   `<work dir>/default-extractor-x<scale>/` and reused by later runs. Teacher: `--teacher DIR`,
//!   else the extractor (it must have the same scale).
//! - The work dir ([`super::work_dir`]) keeps generated inputs and models out of the cache, which holds
//!   only shards, `manifest.json`, `sources.json`, the contact sheet and `.locks/`.
//! - `--shard i/n`: this worker handles instances `j` with `j mod n == i` (Slurm job arrays,
//!   Kubernetes Indexed Jobs). Without it, several processes on one cache still cooperate: a
//!   first pass skips instances whose lock another process holds, a second pass waits for them.
//! - Progress (instances, ETA) goes to stderr: a bar on a terminal, else a line per ~10%.
//!   The summary says what was written (instances, patches, shard bytes vs source bytes) and
//!   the next command (`idc train --cache ...`); `--json` prints one summary object
//!   `{"instances","condensed","loaded","failed","seconds",...}` on stdout instead.
//!
//! Failures: an image that cannot be read or decoded, or an instance whose shard cannot be
//! condensed or written, is a failed instance. By default the first failure stops the run;
//! `--keep-going` condenses every other instance first. Either way the exit status is non-zero
//! when any instance failed, and the summary names each failed instance and why (`"failures"`
//! in `--json`). Images smaller than one patch are skipped by policy (`"skipped"`), not failures.
//! A field given both in `--config` and on the command line (`ratio`) must agree.

use super::condense_args::{resolve_config, resolve_hr_dir, resolve_task};
use super::models::{DefaultExtractor, Net, RoleArgs};
use crate::cache::{ShardCache, ShardStore};
use crate::condense::ValidCondenseConfig;
use crate::config::{PatchConfig, ValidPatchConfig};
use crate::dataset::idc::{CacheMode, IdcDataset, Outcome};
use crate::device::{TrainBackend, default_device};
use crate::models::identity::IdentityTeacher;
use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::time::Instant;

pub use super::condense_args::{Args, parse_shard, read_config};
pub use super::models::load_models;

/// Default `--batch-instances` on the CPU (see the flag's help).
const CPU_BATCH_INSTANCES: usize = 2;

/// What happened to this worker's instances.
#[derive(Default)]
struct Tally {
    condensed: usize,
    loaded: usize,
    /// Instances whose shard is on disk now (condensed or loaded), for the patch count.
    done: Vec<usize>,
    /// `(instance, reason)` of every failed instance.
    failures: Vec<(String, String)>,
}

/// Loads or condenses instances `mine`, `batch` at a time, with a progress bar. Pass 1 skips
/// instances another process is working on; pass 2 waits for them. Without `keep_going` the first
/// failure stops (after the batch it was in).
fn condense_instances(
    dataset: &IdcDataset,
    mine: &[usize],
    batch: usize,
    keep_going: bool,
    (worker, workers): (usize, usize),
) -> Tally {
    let phase = if workers > 1 {
        format!("condense {worker}/{workers}")
    } else {
        "condense".to_string()
    };
    let mut bar = super::progress::PhaseProgress::new(phase, "instances", mine.len() as u64);
    let mut tally = Tally::default();
    let mut record =
        |r: crate::Result<Outcome>, j: usize, bar: &mut super::progress::PhaseProgress| {
            match r {
                Ok(o) => {
                    match o {
                        Outcome::Condensed => tally.condensed += 1,
                        Outcome::Loaded => tally.loaded += 1,
                    }
                    tally.done.push(j);
                }
                Err(e) => {
                    let name = dataset.instance_name(j).unwrap_or("?").to_string();
                    bar.println(&format!("error: instance {name} failed: {e}"));
                    tally.failures.push((name, e.to_string()));
                }
            }
            bar.inc(1);
            keep_going || tally.failures.is_empty()
        };
    // Pass 1: skip instances another process is working on; pass 2: wait for them. Instances
    // already valid are loaded by the batch call without condensing, so a batch that mixes
    // them condenses only the others.
    let mut deferred = Vec::new();
    let mut go_on = true;
    for group in mine.chunks(batch.max(1)) {
        for (&j, r) in group.iter().zip(dataset.ensure_instances(group, false)) {
            go_on &= match r {
                Ok(None) => {
                    deferred.push(j);
                    true
                }
                Ok(Some(o)) => record(Ok(o), j, &mut bar),
                Err(e) => record(Err(e), j, &mut bar),
            };
        }
        if !go_on {
            break;
        }
    }
    for group in deferred.chunks(batch.max(1)) {
        if !go_on {
            break;
        }
        for (&j, r) in group.iter().zip(dataset.ensure_instances(group, true)) {
            let r =
                r.and_then(|o| o.ok_or_else(|| crate::IdcError::Internal("lock not taken".into())));
            go_on &= record(r, j, &mut bar);
        }
    }
    bar.finish();
    tally
}

/// Images the dataset left out because they are broken (failures), as `(path, reason)`; images
/// smaller than one patch are left out by policy and are not failures.
fn bad_images(dataset: &IdcDataset) -> Vec<(String, String)> {
    dataset
        .skipped()
        .iter()
        .filter(|s| !s.reason.starts_with("smaller than one "))
        .map(|s| (s.path.display().to_string(), s.reason.clone()))
        .collect()
}

/// What this worker's finished instances hold on disk, for the summary.
struct Written {
    instances: usize,
    patches: usize,
    shard_bytes: u64,
    source_bytes: u64,
    whole_patch_bytes: u64,
}

impl Written {
    /// Sums the pairs, shard file sizes, source image sizes and whole patch grids of `done`.
    fn of(dataset: &IdcDataset, done: &[usize]) -> Self {
        let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        let sources: Vec<_> = done
            .iter()
            .filter_map(|&j| dataset.instance_source_bytes(j))
            .collect();
        Self {
            instances: done.len(),
            patches: done
                .iter()
                .filter_map(|&j| dataset.instance_range(j))
                .map(|r| r.len())
                .sum(),
            shard_bytes: done
                .iter()
                .filter_map(|&j| dataset.shard_path(j))
                .map(|p| size(&p))
                .sum(),
            source_bytes: sources.iter().map(|s| s.image).sum(),
            whole_patch_bytes: sources.iter().map(|s| s.whole_patches).sum(),
        }
    }

    /// The human-readable summary: what was written, and the command that trains on it.
    fn describe(&self, cache: &Path) -> String {
        let pct = |of: u64, what: &str| {
            let share = 100.0 * self.shard_bytes as f64 / of as f64;
            format!("{share:.1}% of the {} of {what}", human_bytes(of))
        };
        let mut shares = Vec::new();
        if self.source_bytes > 0 {
            shares.push(pct(self.source_bytes, "source images"));
        }
        if self.whole_patch_bytes > 0 {
            shares.push(pct(self.whole_patch_bytes, "the whole set's 8-bit patches"));
        }
        let shares = if shares.is_empty() {
            String::new()
        } else {
            format!(" ({})", shares.join("; "))
        };
        format!(
            "wrote {} instances, {} LR/HR patch pairs, {}{shares} into {}\n\
             contact sheet: {}\n\
             next: idc train --cache {} --iters 100 --batch 8 --out {}",
            self.instances,
            self.patches,
            human_bytes(self.shard_bytes),
            cache.display(),
            cache.join(super::sheet::SHEET_FILE).display(),
            cache.display(),
            train_out_dir(cache).display(),
        )
    }
}

/// `idc-cache` -> `idc-cache-run`: where the printed next command trains.
fn train_out_dir(cache: &Path) -> PathBuf {
    let name = cache
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "idc-cache".into());
    cache.with_file_name(format!("{name}-run"))
}

/// `1234567` -> `1.2 MB`.
pub fn human_bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 30 => format!("{:.1} GB", n as f64 / 1e9),
        n if n >= 1 << 20 => format!("{:.1} MB", n as f64 / 1e6),
        n if n >= 1 << 10 => format!("{:.1} kB", n as f64 / 1e3),
        n => format!("{n} B"),
    }
}

/// What `run` settled before condensing: the dataset over the HR folder and this worker's share.
struct Plan {
    dataset: IdcDataset,
    hr_dir: PathBuf,
    store: ShardStore,
    /// `--shard i/n` as `(i, n)`; `(0, 1)` without it.
    worker: (usize, usize),
    batch: usize,
}

/// Checks the flags, then opens the cache, resolves the HR folder and the models (in that order:
/// a bad cache path fails before any model is loaded or trained) and builds the dataset.
fn plan(args: &mut Args) -> anyhow::Result<Plan> {
    let task = resolve_task(args)?;
    args.scale = task.scale();
    let worker = match &args.shard {
        Some(s) => parse_shard(s)?,
        None => (0, 1),
    };
    let batch = args
        .batch_instances
        .unwrap_or_else(|| crate::condense::default_batch_instances().max(CPU_BATCH_INSTANCES));
    if batch == 0 {
        bail!("--batch-instances must be at least 1");
    }
    let config = resolve_config(args)?;
    let patch = PatchConfig {
        scale: args.scale,
        hr_patch: args.hr_patch,
        step: args.step,
        thresh_size: 0,
        task: task.non_default(),
    }
    .check()?;
    if let Some(d) = &args.hr_dir
        && !d.is_dir()
    {
        bail!("--hr-dir {} is not a directory", d.display());
    }
    ShardCache::open(&args.cache)
        .with_context(|| format!("creating cache {}", args.cache.display()))?;
    let hr_dir = resolve_hr_dir(args)?;
    let roles = RoleArgs {
        extractor: args.extractor.as_deref(),
        arch_config: args.arch_config.as_deref(),
        teacher: args.teacher.as_deref(),
        task,
    };
    let default = DefaultExtractor {
        hr_dir: &hr_dir,
        iters: args.extractor_iters,
        hr_patch: args.hr_patch,
        seed: args.seed,
    };
    let models = roles.resolve(&default)?;
    let store = ShardStore::parse(&args.store)?;
    if store == ShardStore::LrOnly {
        let source = roles.teacher_source();
        super::teacher_ref::record_teacher(&args.cache, models.1.as_ref(), source)?;
    }
    let dataset = build_dataset(args, &hr_dir, patch, config, models, store)?;
    Ok(Plan {
        dataset,
        hr_dir,
        store,
        worker,
        batch,
    })
}

/// The lazily condensing dataset `idc condense` fills: broken images skipped (and reported),
/// no shard kept in memory.
fn build_dataset(
    args: &Args,
    hr_dir: &Path,
    patch: ValidPatchConfig,
    config: ValidCondenseConfig,
    (extractor, teacher): (Net, Option<Net>),
    store: ShardStore,
) -> anyhow::Result<IdcDataset> {
    let builder = IdcDataset::builder(hr_dir, patch);
    let builder = match teacher {
        Some(t) => builder.with_models::<TrainBackend, _, _>(extractor, t, default_device()),
        None => {
            builder.with_models::<TrainBackend, _, _>(extractor, IdentityTeacher, default_device())
        }
    };
    Ok(builder
        .with_condense_config(config)
        .with_cache_dir(&args.cache)
        .with_mode(if args.rebuild {
            CacheMode::Rebuild
        } else {
            CacheMode::LazyCondense
        })
        .with_seed(args.seed)
        .with_store(store)
        .with_skip_bad_images(true)
        .with_verify_decode(false)
        .with_memory_shards(0)
        .build()?)
}

/// Runs the sub-command.
pub fn run(mut args: Args) -> anyhow::Result<()> {
    let t0 = Instant::now();
    let plan = plan(&mut args)?;
    let (worker, workers) = plan.worker;
    let dataset = &plan.dataset;
    let mine: Vec<usize> = (0..dataset.num_instances())
        .filter(|j| j % workers == worker)
        .collect();
    report_unsupported(&plan.hr_dir);
    // Images left out at build are reported by worker 0 only (every worker sees them).
    let (skipped, mut failures) = if worker == 0 {
        (dataset.skipped().len(), bad_images(dataset))
    } else {
        (0, Vec::new())
    };
    let tally = if failures.is_empty() || args.keep_going {
        condense_instances(dataset, &mine, plan.batch, args.keep_going, plan.worker)
    } else {
        Tally::default()
    };
    failures.extend(tally.failures.iter().cloned());
    let seconds = t0.elapsed().as_secs_f64();
    let report = Report {
        instances: mine.len() + skipped,
        skipped,
        written: Written::of(dataset, &tally.done),
        tally,
        failures,
        seconds,
    };
    report.print(&args, &plan)?;
    if worker == 0 && report.written.instances > 0 {
        let sheet = args.cache.join(super::sheet::SHEET_FILE);
        if let Err(e) = super::sheet::write_sheet(&args.cache, Some(&plan.hr_dir), &sheet) {
            eprintln!("warning: no contact sheet: {e:#}");
        }
    }
    report.fail_if_any(args.keep_going)
}

/// What this worker did, for the summary.
struct Report {
    /// This worker's instances plus the images left out at build.
    instances: usize,
    skipped: usize,
    tally: Tally,
    /// `(instance, reason)` of every failed instance and broken image.
    failures: Vec<(String, String)>,
    written: Written,
    seconds: f64,
}

impl Report {
    /// The summary: one JSON object on stdout with `--json`, else two lines on stderr.
    fn print(&self, args: &Args, plan: &Plan) -> anyhow::Result<()> {
        let (tally, written) = (&self.tally, &self.written);
        if !args.json {
            eprintln!(
                "idc condense: {} instances ({} condensed, {} loaded, {} failed, {} skipped) in {:.1} s",
                self.instances,
                tally.condensed,
                tally.loaded,
                self.failures.len(),
                self.skipped,
                self.seconds,
            );
            eprintln!("{}", written.describe(&args.cache));
            return Ok(());
        }
        super::print_json(&serde_json::json!({
            "instances": self.instances,
            "condensed": tally.condensed,
            "loaded": tally.loaded,
            "failed": self.failures.len(),
            "failures": self.failures
                .iter()
                .map(|(i, r)| serde_json::json!({"instance": i, "reason": r}))
                .collect::<Vec<_>>(),
            "seconds": self.seconds,
            "skipped": self.skipped,
            "worker": plan.worker.0,
            "workers": plan.worker.1,
            "batch_instances": plan.batch,
            "patches": written.patches,
            "shard_bytes": written.shard_bytes,
            "source_bytes": written.source_bytes,
            "whole_patch_bytes": written.whole_patch_bytes,
            "store": plan.store.name(),
            "cache": args.cache,
            "hr_dir": plan.hr_dir,
        }))
    }

    /// Names every failure on stderr and fails the run when there is any.
    fn fail_if_any(&self, keep_going: bool) -> anyhow::Result<()> {
        if self.failures.is_empty() {
            return Ok(());
        }
        for (instance, reason) in &self.failures {
            eprintln!("failed: {instance}: {reason}");
        }
        let stopped = if keep_going {
            ""
        } else {
            " (stopped at the first; --keep-going condenses the others first)"
        };
        bail!("{} instance(s) failed{stopped}", self.failures.len());
    }
}

/// Prints one line naming the files in `hr_dir` whose image format is not supported (they are
/// not condensed), so they are not left out silently.
fn report_unsupported(hr_dir: &Path) {
    let files = crate::source::unsupported_images(hr_dir);
    if files.is_empty() {
        return;
    }
    let names: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    eprintln!(
        "warning: {} file(s) in an unsupported image format are not condensed \
         (supported: {}): {}",
        names.len(),
        crate::image::io::IMAGE_EXTENSIONS.join(", "),
        names.join(", ")
    );
}
