//! `train_sr`: supervised SR training through burn-train's `SupervisedTraining` / `Learner`.
//!
//! Mapping of BasicSR's iteration-based recipe onto burn-train's epoch loop:
//! - one burn-train epoch = `checkpoint_every` iterations of the seeded global iteration
//!   sequence ([`IterationLoader`]); burn-train checkpoints model, Adam state and scheduler after
//!   every epoch (last two kept) under `<out>/burn/checkpoint`;
//! - the learning rate is a per-iteration multi-step schedule ([`MultiStepLr`], stepped by
//!   burn-train before every iteration, its record = iterations done);
//! - validation ([`ValidLoader`]) yields the validation images only at epochs that end on a
//!   multiple of `valid_every` (or the last iteration), so burn-train's per-epoch validation pass
//!   is empty otherwise.
//!
//! Resume: `--resume` loads the newest complete checkpoint (epoch `E`); the iteration count is
//! read back from its scheduler record, the sampler restarts at that exact iteration and
//! burn-train's `checkpoint(E)` restores model + optimiser + scheduler. Hence N iterations in one
//! go and N/2 + resume N/2 see the same batches, learning rates and Adam state. Checkpoints exist
//! only at epoch ends, so work after the last checkpoint of an interrupted run is redone.

use crate::dataset::SrPair;
use crate::dataset::ahead::CondenseProgressMetric;
use crate::error::{IdcError, Result};
use crate::image::Image;
use crate::models::net::{NetConfig, SrNet};
use crate::models::{Teacher, load_model_dir, save_model_dir, store::write_atomic};
use crate::train::config::{TrainConfig, ValidTrainConfig};
use crate::train::eval::prepare_task_pairs;
use crate::train::history::ValidRecord;
use crate::train::hooks::{IdcHooks, IdcTrainingExt};
use crate::train::metric::ValidLoader;
use crate::train::progress::{IterationRenderer, LossCurve};
use crate::train::sampler::{IterationLoader, SamplerParams, SamplerState};
use burn::data::dataset::Dataset;
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::lr_scheduler::LrScheduler;
use burn::optim::{Adam, AdamConfig, LearningRate};
use burn::record::{FullPrecisionSettings, NamedMpkFileRecorder, Recorder};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::train::checkpoint::KeepLastNCheckpoints;
use burn::train::metric::LossMetric;
use burn::train::{Interrupter, Learner, LearningComponentsMarker, SupervisedTraining};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// File (in the output directory) holding the [`TrainConfig`] of the run.
pub const TRAIN_CONFIG_FILE: &str = "train_config.json";
/// File (in the output directory) holding the [`TrainSummary`].
pub const SUMMARY_FILE: &str = "summary.json";
/// Validation history, rewritten at every validation (survives a kill; read on resume).
pub const VALIDATION_FILE: &str = "validation.json";

/// BasicSR `MultiStepLR` as a burn-train scheduler: `lr * gamma^(#milestones <= iteration)`.
#[derive(Clone, Debug)]
pub struct MultiStepLr {
    config: TrainConfig,
    /// Iterations started so far (the record).
    iter: usize,
}

impl MultiStepLr {
    /// Scheduler for `config`, before the first iteration.
    pub fn new(config: &TrainConfig) -> Self {
        Self {
            config: config.clone(),
            iter: 0,
        }
    }
}

impl LrScheduler for MultiStepLr {
    type Record<B: Backend> = usize;

    fn step(&mut self) -> LearningRate {
        self.iter += 1;
        self.config.lr_at(self.iter)
    }
    fn to_record<B: Backend>(&self) -> usize {
        self.iter
    }
    fn load_record<B: Backend>(mut self, record: usize) -> Self {
        self.iter = record;
        self
    }
}

/// What a training run did (also written to `<out>/summary.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainSummary {
    /// The run's configuration.
    pub config: TrainConfig,
    /// Iteration this invocation started from (0 unless resumed).
    pub start_iteration: usize,
    /// Iterations completed in total.
    pub iterations: usize,
    /// Wall time of this invocation.
    pub wall_seconds: f64,
    /// Loss of this invocation's first iteration.
    pub first_loss: Option<f64>,
    /// Loss of the last iteration.
    pub final_loss: Option<f64>,
    /// Mean loss over the last `min(50, n)` iterations of this invocation.
    pub last_losses_mean: Option<f64>,
    /// Every validation so far (including those of resumed-from runs), by iteration.
    pub validation: Vec<ValidRecord>,
    /// Fingerprint of the final weights.
    pub fingerprint: String,
    /// The output (model) directory.
    pub model_dir: PathBuf,
}

fn checkpoint_dir(out_dir: &Path) -> PathBuf {
    out_dir.join("burn").join("checkpoint")
}

/// Epochs with all three checkpoint files, newest first.
fn complete_checkpoints(out_dir: &Path) -> Vec<usize> {
    let dir = checkpoint_dir(out_dir);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut epochs: Vec<usize> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let stem = name.strip_suffix(".mpk")?;
            stem.strip_prefix("model-")?.parse().ok()
        })
        .filter(|ep| {
            ["optim", "scheduler"]
                .iter()
                .all(|k| dir.join(format!("{k}-{ep}.mpk")).is_file())
        })
        .collect();
    epochs.sort_unstable_by(|a, b| b.cmp(a));
    epochs
}

/// Iterations recorded in the scheduler checkpoint of `epoch`.
fn checkpoint_iterations<B: Backend>(
    out_dir: &Path,
    epoch: usize,
    device: &B::Device,
) -> Result<usize> {
    let path = checkpoint_dir(out_dir).join(format!("scheduler-{epoch}"));
    let recorder = NamedMpkFileRecorder::<FullPrecisionSettings>::new();
    Recorder::<B>::load::<usize>(&recorder, path.clone(), device)
        .map_err(|e| IdcError::cache(path, format!("unreadable scheduler checkpoint: {e}")))
}

fn read_train_config(out_dir: &Path) -> Result<TrainConfig> {
    let path = out_dir.join(TRAIN_CONFIG_FILE);
    let bytes = std::fs::read(&path).map_err(|e| IdcError::io(&path, e))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| IdcError::cache(path, format!("not a training config: {e}")))
}

/// Validations of earlier invocations: the live file (written during training, so it survives
/// a kill), else the summary of a finished invocation (runs from before the live file).
fn read_history(out_dir: &Path) -> Vec<ValidRecord> {
    let live = std::fs::read(out_dir.join(VALIDATION_FILE))
        .ok()
        .and_then(|b| serde_json::from_slice::<Vec<ValidRecord>>(&b).ok());
    live.unwrap_or_else(|| {
        std::fs::read(out_dir.join(SUMMARY_FILE))
            .ok()
            .and_then(|b| serde_json::from_slice::<TrainSummary>(&b).ok())
            .map(|s| s.validation)
            .unwrap_or_default()
    })
}

/// Everything [`train_sr`] needs besides the training set (builder; `config` and `out_dir` are
/// required).
#[derive(Clone)]
pub struct TrainOptions {
    /// Training configuration, checked ([`TrainConfig::check`]).
    pub config: ValidTrainConfig,
    /// The output (model) directory; also holds checkpoints and the validation history.
    pub out_dir: PathBuf,
    /// Folder of HR images validated every `valid_every` iterations with the evaluation
    /// protocol of [`crate::train::eval`].
    pub valid_dir: Option<PathBuf>,
    /// Continue from the newest checkpoint in `out_dir` (error if there is none, or if its
    /// config differs in anything but `iters`). Without it, an `out_dir` that already holds a
    /// run is an error, so no run is silently restarted or overwritten.
    pub resume: bool,
    /// Initial weights from a model directory (same architecture), instead of seeded init.
    pub init: Option<PathBuf>,
    /// Condensation progress metrics (from [`crate::dataset::idc::IdcDataset::progress_metric`]),
    /// registered through [`IdcHooks`] like in a user's own loop.
    pub progress: Vec<CondenseProgressMetric>,
}

impl TrainOptions {
    /// Options with `config` and `out_dir`; no validation, resume or initial weights.
    pub fn new(config: ValidTrainConfig, out_dir: impl Into<PathBuf>) -> Self {
        Self {
            config,
            out_dir: out_dir.into(),
            valid_dir: None,
            resume: false,
            init: None,
            progress: Vec::new(),
        }
    }

    /// Validation images (`None`: no validation).
    pub fn with_valid_dir(mut self, dir: Option<&Path>) -> Self {
        self.valid_dir = dir.map(Path::to_path_buf);
        self
    }

    /// Continue from the newest checkpoint in `out_dir` (see [`TrainOptions::resume`]).
    pub fn with_resume(mut self, resume: bool) -> Self {
        self.resume = resume;
        self
    }

    /// Initial weights (`None`: seeded init).
    pub fn with_init(mut self, dir: Option<&Path>) -> Self {
        self.init = dir.map(Path::to_path_buf);
        self
    }

    /// Adds a condensation progress metric.
    pub fn with_progress(mut self, metric: CondenseProgressMetric) -> Self {
        self.progress.push(metric);
        self
    }
}

/// burn-train's components for an [`SrNet`] with Adam and [`MultiStepLr`].
type EdsrComponents<B> =
    LearningComponentsMarker<B, MultiStepLr, SrNet<B>, OptimizerAdaptor<Adam, SrNet<B>, B>>;
type EdsrTraining<B> = SupervisedTraining<EdsrComponents<B>>;

/// Where a run starts: the checkpoint epoch (resume only), its iteration and the validations
/// made before it.
struct StartPoint {
    epoch: Option<usize>,
    iteration: usize,
    history: Vec<ValidRecord>,
}

/// Trains an EDSR of `options.config` on `train_set` and writes a model directory to
/// `options.out_dir`. `train_set` is any `Dataset<SrPair>` (whole set, selected or condensed
/// data train alike); items larger than `lr_patch` are randomly cropped, smaller ones are an
/// error.
pub fn train_sr<B, D>(
    train_set: D,
    options: &TrainOptions,
    device: &B::Device,
) -> Result<TrainSummary>
where
    B: AutodiffBackend,
    D: Dataset<SrPair> + 'static,
{
    let config = &options.config;
    let model_config = check_inputs(&train_set, options)?;
    let out_dir = options.out_dir.as_path();
    let start = start_point::<B>(options, device)?;

    std::fs::create_dir_all(out_dir).map_err(|e| IdcError::io(out_dir, e))?;
    write_json(&out_dir.join(TRAIN_CONFIG_FILE), config, "training config")?;
    let model = initial_model::<B>(options, &model_config, device)?;

    let state = SamplerState::new(start.iteration);
    let hooks = options.progress.iter().cloned().fold(
        IdcHooks::new()
            .with_validation(config.task().crop_border())
            .with_history_file(out_dir.join(VALIDATION_FILE), start.history.clone()),
        IdcHooks::with_progress,
    );
    let losses: LossCurve = Arc::new(Mutex::new(Vec::new()));
    let training = build_training::<B>(
        Arc::new(train_set),
        options,
        &start,
        (&state, &hooks, &losses),
        device,
    )?;
    let t0 = Instant::now();
    let model = launch(
        training,
        Learner::new(model, adam(config), MultiStepLr::new(config)),
    )?;
    let wall_seconds = t0.elapsed().as_secs_f64();
    if let Some(e) = state.take_error() {
        return Err(e);
    }
    let done = state.counter().load(Ordering::SeqCst).min(config.iters);

    let model = model.refresh_fingerprint();
    save_model_dir(&model, &model_config, out_dir)?;
    let curve = losses.lock().map(|l| l.clone()).unwrap_or_default();
    let summary = TrainSummary {
        config: TrainConfig::clone(config),
        start_iteration: start.iteration,
        iterations: done,
        wall_seconds,
        first_loss: curve.first().map(|p| p.1),
        final_loss: curve.last().map(|p| p.1),
        last_losses_mean: tail_mean(&curve, 50),
        validation: hooks.validation_records(),
        fingerprint: Teacher::fingerprint(&model),
        model_dir: out_dir.to_path_buf(),
    };
    write_json(&out_dir.join(SUMMARY_FILE), &summary, "summary")?;
    Ok(summary)
}

/// Pretty JSON of `value` written atomically to `path` (`what` names it in the error).
fn write_json<T: Serialize>(path: &Path, value: &T, what: &str) -> Result<()> {
    let json = serde_json::to_vec_pretty(value)
        .map_err(|e| IdcError::Model(format!("cannot serialise {what}: {e}")))?;
    write_atomic(path, &json)
}

/// burn-train's supervised training wired to IDC's iteration sampler (resumed at
/// `start.iteration`, sharing `state`), validation loader, `hooks`, checkpointing and the
/// loss-curve renderer filling `losses`; restored from the start checkpoint when resuming.
fn build_training<B: AutodiffBackend>(
    train_set: Arc<dyn Dataset<SrPair>>,
    options: &TrainOptions,
    start: &StartPoint,
    (state, hooks, losses): (&Arc<SamplerState>, &IdcHooks, &LossCurve),
    device: &B::Device,
) -> Result<EdsrTraining<B>> {
    let config = &options.config;
    let interrupter = Interrupter::new();
    let train_loader = IterationLoader::<B>::new(
        train_set,
        sampler_params(config),
        state.clone(),
        device.clone(),
    )
    .with_interrupter(interrupter.clone());
    let valid_loader = ValidLoader::<B::InnerBackend>::new(
        Arc::new(valid_items(options)?),
        state.counter(),
        config.valid_every,
        config.iters,
        Default::default(),
    );
    let mut training: EdsrTraining<B> = SupervisedTraining::new(
        options.out_dir.join("burn"),
        Arc::new(train_loader),
        Arc::new(valid_loader),
    )
    .with_application_logger(None)
    .with_file_checkpointer(NamedMpkFileRecorder::<FullPrecisionSettings>::new())
    .with_checkpointing_strategy(KeepLastNCheckpoints::new(2))
    .with_interrupter(interrupter)
    .renderer(IterationRenderer::new(
        start.iteration,
        config.iters,
        losses.clone(),
    ))
    .metric_train_numeric(LossMetric::<burn::backend::Flex>::new())
    .with_idc_hooks(hooks)
    .num_epochs(num_epochs(config, start));
    if let Some(ep) = start.epoch {
        training = training.checkpoint(ep);
    }
    Ok(training)
}

/// Adam with the config's betas and epsilon (BasicSR's optimiser; no weight decay).
fn adam<B: AutodiffBackend>(config: &TrainConfig) -> OptimizerAdaptor<Adam, SrNet<B>, B> {
    AdamConfig::new()
        .with_beta_1(config.beta1)
        .with_beta_2(config.beta2)
        .with_epsilon(config.epsilon)
        .init()
}

/// Checks the data and options against the (checked) config before anything is written; the
/// model config.
fn check_inputs<D: Dataset<SrPair>>(train_set: &D, options: &TrainOptions) -> Result<NetConfig> {
    let config = &options.config;
    let model_config: NetConfig = config.model_config()?;
    if train_set.is_empty() {
        return Err(IdcError::InvalidInput("training set is empty".into()));
    }
    if options.resume && options.init.is_some() {
        return Err(IdcError::config(
            "init",
            "--init and --resume are exclusive (a resumed run continues from its checkpoint)",
        ));
    }
    // Fail early on item sizes rather than inside the training loop.
    let first = train_set
        .get(0)
        .ok_or_else(|| IdcError::InvalidInput("training set has no item 0".into()))?;
    if first.lr.height < config.lr_patch || first.lr.width < config.lr_patch {
        return Err(IdcError::InvalidInput(format!(
            "training items are {}x{} LR, smaller than lr_patch {}",
            first.lr.height, first.lr.width, config.lr_patch
        )));
    }
    Ok(model_config)
}

/// The resumed checkpoint (with `resume`), else a fresh start in an `out_dir` without a run.
fn start_point<B: Backend>(options: &TrainOptions, device: &B::Device) -> Result<StartPoint> {
    let out_dir = options.out_dir.as_path();
    let checkpoints = complete_checkpoints(out_dir);
    if !options.resume {
        if !checkpoints.is_empty() || out_dir.join(TRAIN_CONFIG_FILE).exists() {
            return Err(IdcError::InvalidInput(format!(
                "{} already holds a training run; pass --resume to continue it or choose another --out",
                out_dir.display()
            )));
        }
        return Ok(StartPoint {
            epoch: None,
            iteration: 0,
            history: Vec::new(),
        });
    }
    let previous = read_train_config(out_dir).map_err(|e| {
        IdcError::InvalidInput(format!(
            "--resume: {} holds no resumable run ({e})",
            out_dir.display()
        ))
    })?;
    if !previous.same_run_as(&options.config) {
        return Err(IdcError::InvalidInput(format!(
            "--resume: {} was trained with a different config ({previous:?}); only `iters` may change",
            out_dir.display()
        )));
    }
    let (epoch, iteration) = checkpoints
        .iter()
        .find_map(|&ep| {
            checkpoint_iterations::<B>(out_dir, ep, device)
                .ok()
                .map(|it| (ep, it))
        })
        .ok_or_else(|| {
            IdcError::InvalidInput(format!(
                "--resume: no complete checkpoint in {}",
                checkpoint_dir(out_dir).display()
            ))
        })?;
    let history = read_history(out_dir)
        .into_iter()
        .filter(|r| r.iteration <= iteration)
        .collect();
    Ok(StartPoint {
        epoch: Some(epoch),
        iteration,
        history,
    })
}

/// Weights from `options.init` (same architecture required), else the seeded init.
fn initial_model<B: Backend>(
    options: &TrainOptions,
    model_config: &NetConfig,
    device: &B::Device,
) -> Result<SrNet<B>> {
    let config = &options.config;
    let Some(dir) = options.init.as_deref() else {
        return Ok(model_config.init_seeded::<B>(device, config.seed));
    };
    let (m, c) = load_model_dir::<B>(dir, device)?;
    if &c != model_config {
        return Err(IdcError::InvalidInput(format!(
            "--init {}: model is {}, training asks for {}",
            dir.display(),
            c.describe(),
            model_config.describe()
        )));
    }
    Ok(m)
}

/// `(lr, gt)` pairs of the validation folder (none without one).
fn valid_items(options: &TrainOptions) -> Result<Vec<(Image, Image)>> {
    match &options.valid_dir {
        Some(dir) => Ok(prepare_task_pairs(dir, &options.config.task())?
            .into_iter()
            .map(|p| (p.lr, p.gt))
            .collect()),
        None => Ok(Vec::new()),
    }
}

fn sampler_params(config: &TrainConfig) -> SamplerParams {
    SamplerParams {
        seed: config.seed,
        batch: config.batch,
        lr_patch: config.lr_patch,
        scale: config.scale,
        augment: config.augment,
        chunk: config.checkpoint_every,
        total: config.iters,
        noise_sigma: config.task().sigma(),
    }
}

/// burn-train epochs up to the last iteration (one epoch = `checkpoint_every` iterations,
/// counted on from the resumed checkpoint's epoch).
fn num_epochs(config: &TrainConfig, start: &StartPoint) -> usize {
    let remaining = config.iters.saturating_sub(start.iteration);
    start.epoch.unwrap_or(0) + remaining.div_ceil(config.checkpoint_every)
}

/// Runs burn-train, turning its panics into errors; the trained model.
fn launch<B: AutodiffBackend>(
    training: EdsrTraining<B>,
    learner: Learner<EdsrComponents<B>>,
) -> Result<SrNet<B::InnerBackend>> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| training.launch(learner)))
        .map(|result| result.model)
        .map_err(|p| {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into());
            IdcError::Model(format!("training aborted: {msg}"))
        })
}

/// Mean loss of the last `n` points (none for an empty curve).
fn tail_mean(curve: &[(usize, f64)], n: usize) -> Option<f64> {
    let tail = &curve[curve.len().saturating_sub(n)..];
    (!tail.is_empty()).then(|| tail.iter().map(|p| p.1).sum::<f64>() / tail.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;

    #[test]
    fn every_sr_dataset_type_is_accepted() {
        fn accepts<D: Dataset<SrPair> + 'static>() {}
        accepts::<crate::dataset::sr_patch::SrPatchDataset>();
        accepts::<crate::train::data::HrImageDataset>();
        accepts::<crate::train::data::PairDataset>();
    }

    #[test]
    fn scheduler_record_resumes_the_lr_sequence() {
        let mut cfg = TrainConfig::new("edsr-tiny", 2, 10);
        cfg.milestones = vec![2, 4];
        let mut a = MultiStepLr::new(&cfg);
        let full: Vec<f64> = (0..6).map(|_| a.step()).collect();
        let mut b = MultiStepLr::new(&cfg);
        let mut resumed: Vec<f64> = (0..3).map(|_| b.step()).collect();
        let rec = LrScheduler::to_record::<Flex>(&b);
        assert_eq!(rec, 3);
        let mut c = LrScheduler::load_record::<Flex>(MultiStepLr::new(&cfg), rec);
        resumed.extend((0..3).map(|_| c.step()));
        assert_eq!(full, resumed);
        assert_eq!(full, vec![2e-4, 1e-4, 1e-4, 5e-5, 5e-5, 5e-5]);
    }
}
