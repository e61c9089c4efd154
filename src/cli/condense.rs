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
//! - The work dir ([`work_dir`]) keeps generated inputs and models out of the cache, which holds
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

use super::teacher_ref::TeacherSource;
use crate::cache::{ShardCache, ShardStore};
use crate::condense::CondenseConfig;
use crate::config::PatchConfig;
use crate::dataset::idc::{CacheMode, IdcDataset, Outcome};
use crate::device::{TrainBackend, default_device};
use crate::models::identity::IdentityTeacher;
use crate::models::net::{NetConfig, SrNet};
use crate::models::{Teacher, load_model_dir};
use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Default `--batch-instances` on the CPU (see the flag's help).
const CPU_BATCH_INSTANCES: usize = 2;

/// Arguments of `idc condense`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// HR images; default: $IDC_DATA/train if set, else four built-in photographs.
    #[arg(long)]
    pub hr_dir: Option<PathBuf>,
    #[arg(long, default_value = "idc-cache")]
    pub cache: PathBuf,
    #[arg(long, default_value_t = 2)]
    pub scale: usize,
    /// --task denoise --sigma S: condense clean patches for denoising (scale 1; see
    /// ARCHITECTURE.md, "Tasks"); --scale is then ignored.
    #[command(flatten)]
    pub task: super::TaskArgs,
    /// Condensation ratio; default: the `--config` file's `ratio`, else 0.1. Giving both with
    /// different values is an error.
    #[arg(long)]
    pub ratio: Option<f64>,
    /// Extractor model directory (or BasicSR `.pth` with --arch-config); default: the built-in
    /// pretrained model of --scale, else a small one trained first.
    #[arg(long)]
    pub extractor: Option<PathBuf>,
    /// BasicSR `network_g` JSON: the architecture of a `.pth` --extractor, or of the default
    /// extractor trained when --extractor is absent (default edsr-tiny).
    #[arg(long)]
    pub arch_config: Option<PathBuf>,
    #[arg(long)]
    pub teacher: Option<PathBuf>,
    /// Worker i of n: handles instances j with j mod n == i.
    #[arg(long)]
    pub shard: Option<String>,
    /// Condense config (JSON; fields left out keep their defaults).
    #[arg(long)]
    pub config: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
    /// HR patch side of the patch grid.
    #[arg(long, default_value_t = 96)]
    pub hr_patch: usize,
    /// Stride of the patch grid.
    #[arg(long, default_value_t = 48)]
    pub step: usize,
    /// Base seed (each instance derives its own from it and its name).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Iterations for the extractor trained when --extractor is absent and no built-in model
    /// exists for --scale.
    #[arg(long, default_value_t = 300)]
    pub extractor_iters: usize,
    /// Re-condense every instance even if its shard is valid.
    #[arg(long)]
    pub rebuild: bool,
    /// Continue past failed instances (default: stop at the first); the exit status is still
    /// non-zero when any instance failed.
    #[arg(long)]
    pub keep_going: bool,
    /// Instances condensed together (one extractor pass per step over all their synthetic
    /// patches); default: 2 on the CPU (small instances are dominated by per-op overhead: the
    /// default run's condensing CPU time drops from 118 s to 72 s, benches/README.md), 16 with
    /// CUDA (`burn_idc::condense::default_batch_instances`).
    #[arg(long)]
    pub batch_instances: Option<usize>,
    /// What shards hold: `full` (LR and HR patches) or `lr-only` (HR remade on load by the
    /// teacher, which `<cache>/teacher.json` names; part of the shard key).
    #[arg(long, default_value = "full")]
    pub store: String,
}

/// Parses `i/n` with `i < n`.
pub fn parse_shard(s: &str) -> anyhow::Result<(usize, usize)> {
    let (i, n) = s
        .split_once('/')
        .with_context(|| format!("--shard {s:?}: expected i/n, e.g. 0/4"))?;
    let i: usize = i
        .trim()
        .parse()
        .with_context(|| format!("--shard {s:?}: bad index"))?;
    let n: usize = n
        .trim()
        .parse()
        .with_context(|| format!("--shard {s:?}: bad count"))?;
    if n == 0 || i >= n {
        bail!("--shard {s:?}: need 0 <= i < n");
    }
    Ok((i, n))
}

/// Reads a JSON condense config, filling fields it leaves out from the defaults. Unknown fields
/// (also nested) are errors naming the field.
pub fn read_config(path: &Path) -> anyhow::Result<CondenseConfig> {
    config_from_json(read_config_json(path)?, path)
}

/// The JSON object of a `--config` file, read with a size bound.
fn read_config_json(path: &Path) -> anyhow::Result<serde_json::Value> {
    let text = crate::fsutil::read_bounded(path, 1 << 20)
        .with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_slice(&text).with_context(|| format!("{} is not JSON", path.display()))
}

/// The condense config: `--config` (if any) with the command line's `--ratio`, which must agree
/// with the file's `ratio` when both are given.
fn resolve_config(args: &Args) -> anyhow::Result<CondenseConfig> {
    let mut config = match &args.config {
        Some(p) => {
            let user = read_config_json(p)?;
            let in_file = user.get("ratio").and_then(|v| v.as_f64());
            if let (Some(cli), Some(file)) = (args.ratio, in_file)
                && cli != file
            {
                bail!(
                    "--ratio {cli} conflicts with \"ratio\": {file} in {}; give it once",
                    p.display()
                );
            }
            config_from_json(user, p)?
        }
        None => CondenseConfig::default(),
    };
    if let Some(r) = args.ratio {
        config.ratio = r;
    }
    config.validate()?;
    config.validate_schedule()?;
    Ok(config)
}

fn config_from_json(user: serde_json::Value, path: &Path) -> anyhow::Result<CondenseConfig> {
    let mut base = serde_json::to_value(CondenseConfig::default())?;
    merge(&mut base, user);
    let config: CondenseConfig = serde_json::from_value(base)
        .with_context(|| format!("{}: not a condense config", path.display()))?;
    Ok(config)
}

fn merge(base: &mut serde_json::Value, over: serde_json::Value) {
    match (base, over) {
        (serde_json::Value::Object(b), serde_json::Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(slot) => merge(slot, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

/// The HR folder to use and a note on where it came from.
fn resolve_hr_dir(args: &Args) -> anyhow::Result<PathBuf> {
    if let Some(d) = &args.hr_dir {
        return Ok(d.clone());
    }
    if let Some(data) = std::env::var_os("IDC_DATA").filter(|v| !v.is_empty()) {
        let d = PathBuf::from(data).join("train");
        eprintln!(
            "idc condense: no --hr-dir, using $IDC_DATA/train = {}",
            d.display()
        );
        return Ok(d);
    }
    let d = work_dir().join("photos");
    let files = crate::image::photos::write_photos(&d)?;
    eprintln!(
        "idc condense: no --hr-dir and IDC_DATA unset: using the {} built-in photographs \
         (public domain / CC0, assets/photos/) in {}",
        files.len(),
        d.display()
    );
    Ok(d)
}

/// Where `idc condense` keeps what it generates besides the cache (the built-in photographs, an
/// extractor it had to train): `$IDC_WORK_DIR`, else `$XDG_CACHE_HOME/burn-idc`, else
/// `$HOME/.cache/burn-idc`, else `<temp dir>/burn-idc`. Outside the cache root so a cache holds
/// only what `idc train --cache` reads.
pub fn work_dir() -> PathBuf {
    let var = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(d) = var("IDC_WORK_DIR") {
        return d;
    }
    var("XDG_CACHE_HOME")
        .or_else(|| var("HOME").map(|h| h.join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
        .join("burn-idc")
}

type Model = SrNet<TrainBackend>;

/// Trains (or reuses) a small extractor on `hr_dir` in the work dir, for a `--scale` without a
/// built-in model.
fn train_extractor(args: &Args, hr_dir: &Path) -> anyhow::Result<Model> {
    let device = default_device();
    let task = resolve_task(args)?;
    let net = arch_config(args)?;
    let name = match task {
        crate::task::Task::SuperResolution { scale } => format!("default-extractor-x{scale}"),
        _ => format!("default-extractor-{}", task.label()),
    };
    let dir = work_dir().join(&name);
    if let Ok((m, cfg)) = load_model_dir::<TrainBackend>(&dir, &device)
        && cfg.upscale() == args.scale
        && net.as_ref().is_none_or(|n| *n == cfg)
    {
        eprintln!(
            "idc condense: no --extractor: reusing the small extractor trained earlier in {}",
            dir.display()
        );
        return Ok(m);
    }
    let run_dir = work_dir().join(format!("{name}-run"));
    eprintln!(
        "idc condense: no --extractor: first training a small extractor (edsr-tiny, x{}, {} \
         iterations) on {} into {}",
        args.scale,
        args.extractor_iters,
        hr_dir.display(),
        dir.display()
    );
    let lr_patch = (args.hr_patch / args.scale).clamp(8, 48);
    let mut config = crate::train::TrainConfig::for_task("edsr-tiny", task, args.extractor_iters);
    if let Some(net) = &net {
        config = config.with_net(net.to_network_g());
    }
    config.batch = 8;
    config.lr_patch = lr_patch;
    config.seed = args.seed;
    let data = crate::train::data::HrImageDataset::for_task(hr_dir, &task, lr_patch)?;
    let resume = run_dir.join("train_config.json").exists();
    let options = crate::train::TrainOptions::new(config, &run_dir).with_resume(resume);
    crate::train::train_sr::<TrainBackend, _>(data, &options, &device)?;
    let (m, cfg) = load_model_dir::<TrainBackend>(&run_dir, &device)
        .with_context(|| format!("loading the trained extractor from {}", run_dir.display()))?;
    crate::models::save_model_dir(&m, &cfg, &dir)?;
    Ok(m)
}

/// `--task sr` takes `--scale` (default 2); `--task denoise --sigma S` is scale 1.
fn resolve_task(args: &Args) -> anyhow::Result<crate::task::Task> {
    let scale = (args.task.task == "sr").then_some(args.scale);
    args.task.resolve(scale)
}

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

/// The extractor and the teacher (the extractor unless `--teacher`), checked against `--scale`.
/// Extractor: `--extractor` (a model directory, or a `.pth` described by `--arch-config`), else
/// the built-in model of `--scale`, else one trained first. Denoising without `--teacher` has no
/// teacher model (`None`): it condenses clean patches, each its own target
/// ([`crate::models::identity::IdentityTeacher`]).
fn resolve_models(args: &Args, hr_dir: &Path) -> anyhow::Result<(Model, Option<Model>)> {
    let net = arch_config(args)?;
    let builtin = crate::models::pretrained::find(args.scale).is_some();
    let extractor = match (&args.extractor, &net) {
        (Some(path), Some(net)) => load_pth(path, net)?,
        (Some(path), None) => load_dir(path, "extractor")?,
        (None, None) if builtin => load_builtin(args.scale)?,
        (None, _) => train_extractor(args, hr_dir)?,
    };
    let teacher = match &args.teacher {
        Some(dir) => load_dir(dir, "teacher")?,
        None if args.task.task != "sr" => return Ok((extractor, None)),
        None => extractor.clone(),
    };
    check_teacher(teacher, args.scale).map(|t| (extractor, Some(t)))
}

/// Where the teacher `idc condense` picks (`resolve_models`) comes from: the same choices, in
/// the same order.
fn teacher_source(args: &Args) -> TeacherSource {
    let builtin = crate::models::pretrained::find(args.scale).is_some();
    match (&args.teacher, &args.extractor, &args.arch_config) {
        (Some(dir), _, _) => TeacherSource::ModelDir { path: dir.clone() },
        (None, _, _) if args.task.task != "sr" => TeacherSource::Identity,
        (None, Some(path), Some(json)) => TeacherSource::Pth {
            path: path.clone(),
            arch_config: json.clone(),
        },
        (None, Some(dir), None) => TeacherSource::ModelDir { path: dir.clone() },
        (None, None, None) if builtin => TeacherSource::Builtin { scale: args.scale },
        (None, None, _) => TeacherSource::ModelDir {
            path: work_dir().join(format!("default-extractor-x{}", args.scale)),
        },
    }
}

/// `--arch-config`, parsed.
fn arch_config(args: &Args) -> anyhow::Result<Option<NetConfig>> {
    Ok(match &args.arch_config {
        Some(p) => Some(NetConfig::from_json_file(p)?),
        None => None,
    })
}

/// A BasicSR `.pth` extractor whose architecture `--arch-config` gives.
fn load_pth(path: &Path, net: &NetConfig) -> anyhow::Result<Model> {
    if !path.is_file() {
        bail!(
            "--arch-config describes a .pth --extractor; {} is not a file (a model directory \
             carries its own config)",
            path.display()
        );
    }
    Ok(
        crate::models::weights::load_net_pth::<TrainBackend>(path, net, &default_device())
            .with_context(|| format!("loading extractor weights {}", path.display()))?,
    )
}

/// The built-in pretrained model of `scale` ([`crate::models::pretrained`]).
fn load_builtin(scale: usize) -> anyhow::Result<Model> {
    let (m, cfg) = crate::models::pretrained::load_builtin(scale, &default_device())?;
    eprintln!(
        "idc: no --extractor: using the built-in pretrained edsr {}x{} x{} (models/README.md)",
        cfg.num_feat, cfg.num_block, cfg.upscale
    );
    Ok(m)
}

/// Extractor and teacher from model directories; a missing extractor is the built-in model of
/// `scale`, a missing teacher is the extractor. Errors when the teacher is not `x<scale>`.
pub fn load_models(
    extractor: Option<&Path>,
    teacher: Option<&Path>,
    scale: usize,
) -> anyhow::Result<(Model, Model)> {
    let extractor = match extractor {
        Some(dir) => load_dir(dir, "extractor")?,
        None => load_builtin(scale)?,
    };
    let teacher = match teacher {
        Some(dir) => load_dir(dir, "teacher")?,
        None => extractor.clone(),
    };
    check_teacher(teacher, scale).map(|t| (extractor, t))
}

fn load_dir(dir: &Path, role: &str) -> anyhow::Result<Model> {
    Ok(load_model_dir::<TrainBackend>(dir, &default_device())
        .with_context(|| format!("loading {role} {}", dir.display()))?
        .0)
}

fn check_teacher(teacher: Model, scale: usize) -> anyhow::Result<Model> {
    let got = Teacher::scale(&teacher);
    if got != scale {
        bail!(
            "the teacher up-samples x{got} but --scale is {scale}; pass --teacher with a x{scale} model"
        );
    }
    Ok(teacher)
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
            let r = r.and_then(|o| {
                o.ok_or_else(|| crate::IdcError::InvalidInput("internal: lock not taken".into()))
            });
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

/// Runs the sub-command.
pub fn run(mut args: Args) -> anyhow::Result<()> {
    let t0 = Instant::now();
    let task = resolve_task(&args)?;
    args.scale = task.scale();
    let (worker, workers) = match &args.shard {
        Some(s) => parse_shard(s)?,
        None => (0, 1),
    };
    let batch = args
        .batch_instances
        .unwrap_or_else(|| crate::condense::default_batch_instances().max(CPU_BATCH_INSTANCES));
    if batch == 0 {
        bail!("--batch-instances must be at least 1");
    }
    let config = resolve_config(&args)?;
    let ratio = config.ratio;
    let patch = PatchConfig {
        scale: args.scale,
        hr_patch: args.hr_patch,
        step: args.step,
        thresh_size: 0,
        task: task.non_default(),
    };
    patch.validate()?;
    if let Some(d) = &args.hr_dir
        && !d.is_dir()
    {
        bail!("--hr-dir {} is not a directory", d.display());
    }
    // Fail on an unusable cache path before any model is loaded or trained.
    ShardCache::open(&args.cache)
        .with_context(|| format!("creating cache {}", args.cache.display()))?;
    let hr_dir = resolve_hr_dir(&args)?;
    let (extractor, teacher) = resolve_models(&args, &hr_dir)?;
    let store = ShardStore::parse(&args.store)?;
    if store == ShardStore::LrOnly {
        let source = teacher_source(&args);
        super::teacher_ref::record_teacher(&args.cache, teacher.as_ref(), source)?;
    }

    let builder = IdcDataset::builder(&hr_dir, patch);
    let builder = match teacher {
        Some(t) => builder.with_models::<TrainBackend, _, _>(extractor, t, default_device()),
        None => {
            builder.with_models::<TrainBackend, _, _>(extractor, IdentityTeacher, default_device())
        }
    };
    let dataset = builder
        .with_ratio(ratio)
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
        .build()?;

    let mine: Vec<usize> = (0..dataset.num_instances())
        .filter(|j| j % workers == worker)
        .collect();
    report_unsupported(&hr_dir);
    // Images left out at build are reported by worker 0 only (every worker sees them).
    let (skipped, mut failures) = if worker == 0 {
        (dataset.skipped().len(), bad_images(&dataset))
    } else {
        (0, Vec::new())
    };
    let tally = if failures.is_empty() || args.keep_going {
        condense_instances(&dataset, &mine, batch, args.keep_going, (worker, workers))
    } else {
        Tally::default()
    };
    failures.extend(tally.failures.iter().cloned());
    let seconds = t0.elapsed().as_secs_f64();
    let written = Written::of(&dataset, &tally.done);
    let summary = serde_json::json!({
        "instances": mine.len() + skipped,
        "condensed": tally.condensed,
        "loaded": tally.loaded,
        "failed": failures.len(),
        "failures": failures
            .iter()
            .map(|(i, r)| serde_json::json!({"instance": i, "reason": r}))
            .collect::<Vec<_>>(),
        "seconds": seconds,
        "skipped": skipped,
        "worker": worker,
        "workers": workers,
        "batch_instances": batch,
        "patches": written.patches,
        "shard_bytes": written.shard_bytes,
        "source_bytes": written.source_bytes,
        "whole_patch_bytes": written.whole_patch_bytes,
        "store": store.name(),
        "cache": args.cache,
        "hr_dir": hr_dir,
    });
    if args.json {
        super::print_json(&summary)?;
    } else {
        eprintln!(
            "idc condense: {} instances ({} condensed, {} loaded, {} failed, {} skipped) in {:.1} s",
            mine.len() + skipped,
            tally.condensed,
            tally.loaded,
            failures.len(),
            skipped,
            seconds,
        );
        eprintln!("{}", written.describe(&args.cache));
    }
    if worker == 0 && written.instances > 0 {
        let sheet = args.cache.join(super::sheet::SHEET_FILE);
        if let Err(e) = super::sheet::write_sheet(&args.cache, Some(&hr_dir), &sheet) {
            eprintln!("warning: no contact sheet: {e:#}");
        }
    }
    if !failures.is_empty() {
        for (instance, reason) in &failures {
            eprintln!("failed: {instance}: {reason}");
        }
        let stopped = if args.keep_going {
            ""
        } else {
            " (stopped at the first; --keep-going condenses the others first)"
        };
        bail!("{} instance(s) failed{stopped}", failures.len());
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_spec() {
        assert_eq!(parse_shard("1/4").unwrap(), (1, 4));
        for bad in ["4/4", "1", "a/2", "0/0", "-1/3"] {
            assert!(parse_shard(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn partial_config_keeps_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.json");
        std::fs::write(&p, r#"{"iters": 3, "ncfd": {"num_freqs": 8}}"#).unwrap();
        let c = read_config(&p).unwrap();
        let d = CondenseConfig::default();
        assert_eq!(c.iters, 3);
        assert_eq!(c.ncfd.num_freqs, 8);
        assert_eq!(c.ncfd.sigma, d.ncfd.sigma);
        assert_eq!(c.groups, d.groups);
        std::fs::write(&p, r#"{"iters": "x"}"#).unwrap();
        assert!(read_config(&p).is_err());
    }
}
