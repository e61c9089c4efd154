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
use crate::models::edsr::{Edsr, EdsrConfig};
use crate::models::{Teacher, load_model_dir, save_model_dir, store::write_atomic};
use crate::train::config::TrainConfig;
use crate::train::eval::prepare_pairs;
use crate::train::metric::{
    HistoryFile, SrValidMetric, ValidHistory, ValidKind, ValidLoader, history_records,
};
use crate::train::progress::{IterationRenderer, LossCurve};
use crate::train::sampler::{IterationLoader, SamplerParams, SamplerState};
use burn::data::dataset::Dataset;
use burn::optim::AdamConfig;
use burn::optim::LearningRate;
use burn::optim::lr_scheduler::LrScheduler;
use burn::record::{FullPrecisionSettings, NamedMpkFileRecorder, Recorder};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::train::checkpoint::KeepLastNCheckpoints;
use burn::train::metric::LossMetric;
use burn::train::{Interrupter, Learner, SupervisedTraining};
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

/// One validation of a training run (a metric that could not be computed is NaN; JSON writes
/// it as `null`, which reads back as NaN).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ValidRecord {
    pub iteration: usize,
    #[serde(deserialize_with = "f64_or_nan")]
    pub psnr_rgb: f64,
    #[serde(deserialize_with = "f64_or_nan")]
    pub ssim_rgb: f64,
    #[serde(deserialize_with = "f64_or_nan")]
    pub psnr_y: f64,
    #[serde(deserialize_with = "f64_or_nan")]
    pub ssim_y: f64,
}

fn f64_or_nan<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// What a training run did (also written to `<out>/summary.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainSummary {
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

/// Trains an EDSR of `config` on `train_set` and writes a model directory to `out_dir`.
///
/// - `train_set`: any `Dataset<SrPair>` (whole set, selected or condensed data train alike);
///   items larger than `lr_patch` are randomly cropped, smaller ones are an error.
/// - `valid_dir`: optional folder of HR images validated every `valid_every` iterations with the
///   evaluation protocol of [`crate::train::eval`].
/// - `resume`: continue from the newest checkpoint in `out_dir` (error if there is none, or if
///   its config differs in anything but `iters`). Without it, an `out_dir` that already holds a
///   run is an error, so no run is silently restarted or overwritten.
/// - `init`: initial weights from a model directory (same architecture), instead of seeded init.
pub fn train_sr<B, D>(
    config: &TrainConfig,
    train_set: D,
    valid_dir: Option<&Path>,
    out_dir: &Path,
    resume: bool,
    init: Option<&Path>,
    device: &B::Device,
) -> Result<TrainSummary>
where
    B: AutodiffBackend,
    D: Dataset<SrPair> + 'static,
{
    train_sr_with::<B, D>(
        config,
        train_set,
        valid_dir,
        out_dir,
        resume,
        init,
        TrainHooks::default(),
        device,
    )
}

/// Extra burn-train hooks of a training run.
#[derive(Default)]
pub struct TrainHooks {
    /// Condensation progress metrics (from [`crate::dataset::idc::IdcDataset::progress_metric`]),
    /// registered as burn-train numeric train metrics: burn-train updates them every iteration
    /// and its renderer shows them next to the loss (Burn 0.21's `SupervisedTraining` has no
    /// per-iteration user callback; an input-free metric is its extension point for this).
    pub progress: Vec<CondenseProgressMetric>,
}

/// [`train_sr`] with [`TrainHooks`].
#[allow(clippy::too_many_arguments)]
pub fn train_sr_with<B, D>(
    config: &TrainConfig,
    train_set: D,
    valid_dir: Option<&Path>,
    out_dir: &Path,
    resume: bool,
    init: Option<&Path>,
    hooks: TrainHooks,
    device: &B::Device,
) -> Result<TrainSummary>
where
    B: AutodiffBackend,
    D: Dataset<SrPair> + 'static,
{
    config.validate()?;
    let model_config: EdsrConfig = config.model_config()?;
    if train_set.is_empty() {
        return Err(IdcError::InvalidInput("training set is empty".into()));
    }
    if resume && init.is_some() {
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

    let checkpoints = complete_checkpoints(out_dir);
    let (start_epoch, start_iter, mut history) = if resume {
        let previous = read_train_config(out_dir).map_err(|e| {
            IdcError::InvalidInput(format!(
                "--resume: {} holds no resumable run ({e})",
                out_dir.display()
            ))
        })?;
        if !previous.same_run_as(config) {
            return Err(IdcError::InvalidInput(format!(
                "--resume: {} was trained with a different config ({previous:?}); only `iters` may change",
                out_dir.display()
            )));
        }
        let mut found = None;
        for &ep in &checkpoints {
            if let Ok(it) = checkpoint_iterations::<B>(out_dir, ep, device) {
                found = Some((ep, it));
                break;
            }
        }
        let (ep, it) = found.ok_or_else(|| {
            IdcError::InvalidInput(format!(
                "--resume: no complete checkpoint in {}",
                checkpoint_dir(out_dir).display()
            ))
        })?;
        let history = read_history(out_dir)
            .into_iter()
            .filter(|r| r.iteration <= it)
            .collect::<Vec<_>>();
        (Some(ep), it, history)
    } else {
        if !checkpoints.is_empty() || out_dir.join(TRAIN_CONFIG_FILE).exists() {
            return Err(IdcError::InvalidInput(format!(
                "{} already holds a training run; pass --resume to continue it or choose another --out",
                out_dir.display()
            )));
        }
        (None, 0, Vec::new())
    };

    std::fs::create_dir_all(out_dir).map_err(|e| IdcError::io(out_dir, e))?;
    let cfg_json = serde_json::to_vec_pretty(config)
        .map_err(|e| IdcError::Model(format!("cannot serialise training config: {e}")))?;
    write_atomic(&out_dir.join(TRAIN_CONFIG_FILE), &cfg_json)?;

    let model: Edsr<B> = match init {
        Some(dir) => {
            let (m, c) = load_model_dir::<B>(dir, device)?;
            if c != model_config {
                return Err(IdcError::InvalidInput(format!(
                    "--init {}: model is {}x{} x{}, training asks for {} x{}",
                    dir.display(),
                    c.num_feat,
                    c.num_block,
                    c.upscale,
                    config.arch,
                    config.scale
                )));
            }
            m
        }
        None => model_config.init_seeded::<B>(device, config.seed),
    };

    let valid_items = match valid_dir {
        Some(dir) => prepare_pairs(dir, config.scale)?
            .into_iter()
            .map(|p| (p.lr, p.gt))
            .collect(),
        None => Vec::new(),
    };

    let interrupter = Interrupter::new();
    let state = SamplerState::new(start_iter);
    let params = SamplerParams {
        seed: config.seed,
        batch: config.batch,
        lr_patch: config.lr_patch,
        scale: config.scale,
        augment: config.augment,
        chunk: config.checkpoint_every,
        total: config.iters,
    };
    let train_loader =
        IterationLoader::<B>::new(Arc::new(train_set), params, state.clone(), device.clone())
            .with_interrupter(interrupter.clone());
    let counter = state.counter();
    let valid_loader = ValidLoader::<B::InnerBackend>::new(
        Arc::new(valid_items),
        counter,
        config.valid_every,
        config.iters,
        Default::default(),
    );

    let remaining = config.iters.saturating_sub(start_iter);
    let base_epoch = start_epoch.unwrap_or(0);
    let num_epochs = base_epoch + remaining.div_ceil(config.checkpoint_every);

    let history_map: ValidHistory = Arc::new(Mutex::new(Default::default()));
    let losses: LossCurve = Arc::new(Mutex::new(Vec::new()));
    let mut training = SupervisedTraining::new(
        out_dir.join("burn"),
        Arc::new(train_loader),
        Arc::new(valid_loader),
    )
    .with_application_logger(None)
    .with_file_checkpointer(NamedMpkFileRecorder::<FullPrecisionSettings>::new())
    .with_checkpointing_strategy(KeepLastNCheckpoints::new(2))
    .with_interrupter(interrupter.clone())
    .renderer(IterationRenderer::new(
        start_iter,
        config.iters,
        losses.clone(),
    ))
    .metric_train_numeric(LossMetric::<burn::backend::Flex>::new())
    .num_epochs(num_epochs);
    let history_file = Arc::new(HistoryFile {
        path: out_dir.join(VALIDATION_FILE),
        earlier: history.clone(),
    });
    for kind in ValidKind::ALL {
        training = training.metric_valid_numeric(
            SrValidMetric::new(kind, config.scale, history_map.clone())
                .with_history_file(history_file.clone()),
        );
    }
    for metric in hooks.progress {
        training = training.metric_train_numeric(metric);
    }
    if let Some(ep) = start_epoch {
        training = training.checkpoint(ep);
    }

    let optim = AdamConfig::new()
        .with_beta_1(config.beta1)
        .with_beta_2(config.beta2)
        .with_epsilon(config.epsilon)
        .init();
    let learner = Learner::new(model, optim, MultiStepLr::new(config));

    let t0 = Instant::now();
    let result =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| training.launch(learner)))
            .map_err(|p| {
                let msg = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "unknown panic".into());
                IdcError::Model(format!("training aborted: {msg}"))
            })?;
    let wall_seconds = t0.elapsed().as_secs_f64();
    if let Some(e) = state.take_error() {
        return Err(e);
    }
    let done = state.counter().load(Ordering::SeqCst).min(config.iters);

    let model = result.model.refresh_fingerprint();
    save_model_dir(&model, &model_config, out_dir)?;

    if let Ok(h) = history_map.lock() {
        history = history_file.merged(history_records(&h));
    }
    let curve = losses.lock().map(|l| l.clone()).unwrap_or_default();
    let tail = &curve[curve.len().saturating_sub(50)..];
    let summary = TrainSummary {
        config: config.clone(),
        start_iteration: start_iter,
        iterations: done,
        wall_seconds,
        first_loss: curve.first().map(|p| p.1),
        final_loss: curve.last().map(|p| p.1),
        last_losses_mean: (!tail.is_empty())
            .then(|| tail.iter().map(|p| p.1).sum::<f64>() / tail.len() as f64),
        validation: history,
        fingerprint: Teacher::fingerprint(&model),
        model_dir: out_dir.to_path_buf(),
    };
    let json = serde_json::to_vec_pretty(&summary)
        .map_err(|e| IdcError::Model(format!("cannot serialise summary: {e}")))?;
    write_atomic(&out_dir.join(SUMMARY_FILE), &json)?;
    Ok(summary)
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
    fn validation_history_round_trips_nan_and_merges() {
        let rec = |iteration, psnr_rgb| ValidRecord {
            iteration,
            psnr_rgb,
            ssim_rgb: 0.5,
            psnr_y: 30.0,
            ssim_y: 0.6,
        };
        let json = serde_json::to_vec(&vec![rec(1, f64::NAN)]).unwrap();
        let back: Vec<ValidRecord> = serde_json::from_slice(&json).unwrap();
        assert!(back[0].psnr_rgb.is_nan() && back[0].ssim_y == 0.6);
        let file = HistoryFile {
            path: PathBuf::new(),
            earlier: vec![rec(100, 28.0), rec(200, 30.0)],
        };
        let merged = file.merged(vec![rec(300, 31.0), rec(200, 30.5)]);
        let got: Vec<(usize, f64)> = merged.iter().map(|r| (r.iteration, r.psnr_rgb)).collect();
        assert_eq!(got, [(100, 28.0), (200, 30.5), (300, 31.0)]);
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
