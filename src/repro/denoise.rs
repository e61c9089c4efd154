//! The paper's Table 5 analogue: colour denoising at `sigma` (issue #19). Rows Whole, Random at
//! each ratio, IDC at each ratio (seeds vary the student; each set is drawn or condensed once
//! per ratio, Random once per seed), and the noisy input; test sets CBSD68, Kodak24, McMaster.
//!
//! Same machinery as the SR tables: fingerprinted, resumable [`Stage`]s, [`Progress`] with a
//! report-only mode. Every set holds clean patches (see ARCHITECTURE.md, "Tasks"); students and
//! the extractor draw fresh noise per sample; IDC's teacher is the identity. Results:
//! `table5.md` and `table5.json` (per set `{psnr, psnr_std, ssim}`) in the output folder.

use super::outcome::Scores;
use super::preset::TrainSpec;
use super::progress::{Progress, if_done};
use super::stage::{Stage, write_atomic};
use super::tasks::{DynSet, instances_key, subset_dir, train_in};
use super::{RunMode, RunPaths};
use crate::condense::CondenseConfig;
use crate::config::{PatchConfig, ValidPatchConfig};
use crate::dataset::idc::{CacheMode, IdcDataset};
use crate::dataset::selection::SelectionDataset;
use crate::dataset::sr_patch::SrPatchDataset;
use crate::device::{DefaultBackend, TrainBackend, default_device};
use crate::error::{IdcError, Result};
use crate::models::identity::IdentityTeacher;
use crate::models::load_model_dir;
use crate::models::net::SrNet;
use crate::select::pipeline::select_to_cache;
use crate::select::{SelectConfig, SelectMethod};
use crate::task::Task;
use crate::train::eval::{InferOptions, evaluate_noisy, evaluate_task};
use crate::train::{TrainConfig, TrainSummary, ValidTrainConfig};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Every size and budget of a denoising reproduction.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DenoisePreset {
    /// Preset name (`denoise-smoke`, `denoise-cpu`).
    pub name: String,
    /// Noise level in `[0, 255]` units (the paper: 50).
    pub sigma: f32,
    /// Side of the clean pool patches and grid step.
    pub hr_patch: usize,
    /// Grid step in pixels.
    pub step: usize,
    /// Use only the first N training images; `None`: all.
    pub max_train_images: Option<usize>,
    /// Reduced-set ratios (Random and IDC at each).
    pub ratios: Vec<f64>,
    /// The frozen extractor (a denoiser trained on the whole set).
    pub extractor: TrainSpec,
    /// Every student.
    pub student: TrainSpec,
    /// Student seeds for Whole, Random and IDC.
    pub seeds: usize,
    /// Base condensation config (its `ratio` is replaced by each of `ratios`).
    pub condense: CondenseConfig,
    /// Test set folders under the test root.
    pub test_sets: Vec<String>,
    /// Use only the first N images of each test set; `None`: all.
    pub max_test_images: Option<usize>,
}

impl DenoisePreset {
    /// `denoise-smoke` (minutes: proves the pipeline) or `denoise-cpu` (hours on 2 cores).
    pub fn by_name(name: &str) -> Result<Self> {
        match name {
            "denoise-smoke" => Ok(Self::smoke()),
            "denoise-cpu" => Ok(Self::cpu()),
            other => Err(IdcError::config(
                "preset",
                format!("unknown denoising preset {other:?} (denoise-smoke, denoise-cpu)"),
            )),
        }
    }

    /// T91 + BSD200 at sigma 50, 48x48 clean patches, EDSR-tiny (no up-sampler) students of
    /// 1000 iterations, 3 seeds, sets at 1% and 10%. Not run to completion yet; estimated from
    /// the SR `cpu` preset's measured stage times (scale-1 students on 32x32 crops are cheaper
    /// than x2 ones; condensation at 48x48 with 20 steps costs about as much as SR's at 40):
    /// extractor ~15 min, two IDC sets ~2.5 h, 15 students ~3 h, in all about 6 hours.
    pub fn cpu() -> Self {
        let condense = CondenseConfig {
            iters: 20,
            warmup: 5,
            assign: 5,
            assign_every: 5,
            freq_bank: 4,
            ..CondenseConfig::default()
        };
        let spec = |iters, valid_every| TrainSpec {
            arch: "edsr-tiny".into(),
            iters,
            batch: 16,
            lr_patch: 32,
            valid_every,
        };
        DenoisePreset {
            name: "denoise-cpu".into(),
            sigma: 50.0,
            hr_patch: 48,
            step: 48,
            max_train_images: None,
            ratios: vec![0.01, 0.1],
            extractor: spec(1000, 250),
            student: spec(1000, 250),
            seeds: 3,
            condense,
            test_sets: ["CBSD68", "Kodak24", "McMaster"].map(String::from).to_vec(),
            max_test_images: None,
        }
    }

    /// Minutes on 2 cores: the whole pipeline on 4 training and 2 test images per set.
    pub fn smoke() -> Self {
        let mut p = Self::cpu();
        p.name = "denoise-smoke".into();
        p.max_train_images = Some(4);
        p.max_test_images = Some(2);
        p.hr_patch = 32;
        p.step = 32;
        let tiny = |iters| TrainSpec {
            arch: "edsr:8x1".into(),
            iters,
            batch: 4,
            lr_patch: 16,
            valid_every: iters,
        };
        p.extractor = tiny(4);
        p.student = tiny(4);
        p.seeds = 2;
        p.condense.iters = 4;
        p.condense.warmup = 1;
        p.condense.assign = 1;
        p.condense.assign_every = 1;
        p.condense.eval_draws = 1;
        p.condense.ncfd.num_freqs = 32;
        p
    }

    /// The task (denoising at `sigma`).
    pub fn task(&self) -> Task {
        Task::Denoise { sigma: self.sigma }
    }

    /// Checks budgets, crops, ratios and the condensation config.
    pub fn validate(&self) -> Result<()> {
        self.task().validate()?;
        for (name, s) in [("extractor", &self.extractor), ("student", &self.student)] {
            if s.iters == 0 || s.batch == 0 || s.valid_every == 0 || s.lr_patch > self.hr_patch {
                return Err(IdcError::config(
                    name,
                    "iters, batch, valid_every > 0 and lr_patch <= hr_patch",
                ));
            }
        }
        if self.seeds == 0 || self.ratios.is_empty() || self.test_sets.is_empty() {
            return Err(IdcError::config(
                "seeds/ratios/test_sets",
                "must not be empty",
            ));
        }
        for &r in &self.ratios {
            let mut c = self.condense.clone();
            c.ratio = r;
            c.validate()?;
        }
        Ok(())
    }
}

/// What a student trains on.
#[derive(Clone, Debug, PartialEq)]
enum Data {
    Whole,
    Random { ratio: f64, seed: u64 },
    Idc { ratio: f64 },
}

/// One stage of the denoising pipeline, in run order.
#[derive(Clone, Debug, PartialEq)]
enum Step {
    Extractor,
    IdcSet(f64),
    RandomSet { ratio: f64, seed: u64 },
    Noisy,
    Train { row: String, seed: u64, data: Data },
    Eval { row: String, seed: u64 },
}

fn pct(ratio: f64) -> String {
    format!("{}%", (ratio * 1000.0).round() / 10.0)
}

fn idc_set_name(ratio: f64) -> String {
    format!("dn-set-IDC-{}", pct(ratio))
}

fn random_set_name(ratio: f64, seed: u64) -> String {
    format!("dn-set-random-{}-s{seed}", pct(ratio))
}

impl Step {
    fn name(&self) -> String {
        match self {
            Step::Extractor => "dn-extractor".into(),
            Step::IdcSet(r) => idc_set_name(*r),
            Step::RandomSet { ratio, seed } => random_set_name(*ratio, *seed),
            Step::Noisy => "dn-noisy".into(),
            Step::Train { row, seed, .. } => format!("dn-student-{}-s{seed}", row.replace(' ', "")),
            Step::Eval { row, seed } => format!("dn-eval-{}-s{seed}", row.replace(' ', "")),
        }
    }
}

/// The table's rows in order (the noisy input last) with their training data per seed.
fn rows(p: &DenoisePreset) -> Vec<(String, Box<dyn Fn(u64) -> Data>)> {
    let mut by_ratio = p.ratios.clone();
    by_ratio.sort_by(|a, b| b.total_cmp(a));
    let mut rows: Vec<(String, Box<dyn Fn(u64) -> Data>)> =
        vec![("Whole".into(), Box::new(|_| Data::Whole))];
    for &ratio in &by_ratio {
        rows.push((
            format!("Random {}", pct(ratio)),
            Box::new(move |seed| Data::Random { ratio, seed }),
        ));
    }
    for &ratio in by_ratio.iter().rev() {
        rows.push((
            format!("IDC {}", pct(ratio)),
            Box::new(move |_| Data::Idc { ratio }),
        ));
    }
    rows
}

/// Every stage of `p`, in run order.
fn plan(p: &DenoisePreset) -> Vec<Step> {
    let mut steps = vec![Step::Extractor];
    steps.extend(p.ratios.iter().map(|&r| Step::IdcSet(r)));
    for &ratio in &p.ratios {
        steps.extend((0..p.seeds as u64).map(|seed| Step::RandomSet { ratio, seed }));
    }
    steps.push(Step::Noisy);
    for (row, data) in rows(p) {
        for seed in 0..p.seeds as u64 {
            let data = data(seed);
            steps.push(Step::Train {
                row: row.clone(),
                seed,
                data,
            });
            steps.push(Step::Eval {
                row: row.clone(),
                seed,
            });
        }
    }
    steps
}

/// Number of stages of `p` (the `N` of `[repro i/N]`).
pub fn stage_count(p: &DenoisePreset) -> usize {
    plan(p).len()
}

/// One evaluated student.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DenoiseStudent {
    /// Table row (`Whole`, `Random 10%`, `IDC 1%`, ...).
    pub row: String,
    /// Student seed.
    pub seed: u64,
    /// Samples drawn in training (iterations x batch), each with its own noise.
    pub samples_seen: usize,
    /// Scores per test set.
    pub eval: Vec<(String, Scores)>,
}

/// Everything a denoising run produced (or, report-only, found).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DenoiseOutcome {
    /// The preset run.
    pub preset: DenoisePreset,
    /// Patches in the whole pool.
    pub pool_patches: usize,
    /// Patches per reduced set, by stage name.
    pub set_patches: BTreeMap<String, usize>,
    /// The noisy input's scores per test set.
    pub noisy: Vec<(String, Scores)>,
    /// Every evaluated student.
    pub students: Vec<DenoiseStudent>,
    /// Measured seconds per finished stage.
    pub stage_seconds: Vec<(String, Option<f64>)>,
    /// Stages not finished (report-only) or skipped because a stage before them was missing.
    pub missing: Vec<String>,
    /// Backend name.
    pub backend: String,
}

struct Ctx<'a> {
    preset: &'a DenoisePreset,
    work: &'a Path,
    train_dir: PathBuf,
    test_dirs: Vec<(String, PathBuf)>,
    patch: ValidPatchConfig,
    pool: SrPatchDataset,
    pool_key: (Vec<(String, usize)>, ValidPatchConfig),
}

#[derive(Default)]
struct State {
    extractor: Option<TrainSummary>,
    sets: BTreeMap<String, (PathBuf, usize)>,
    trained: BTreeMap<String, TrainSummary>,
    noisy: Vec<(String, Scores)>,
    students: Vec<DenoiseStudent>,
}

/// Runs (or resumes, or with [`RunMode::ReportOnly`] only reports) the denoising table.
pub fn run_denoise(
    preset: &DenoisePreset,
    paths: &RunPaths,
    mode: RunMode,
) -> Result<DenoiseOutcome> {
    preset.validate()?;
    let start = Instant::now();
    let ctx = Ctx::prepare(preset, paths)?;
    let steps = plan(preset);
    let mut progress = Progress::new(start, steps.len(), mode == RunMode::ReportOnly);
    let mut state = State::default();
    for step in &steps {
        ctx.run_step(step, &mut state, &mut progress)?;
    }
    let outcome = DenoiseOutcome {
        preset: preset.clone(),
        pool_patches: ctx.pool.len(),
        set_patches: state
            .sets
            .iter()
            .map(|(k, (_, n))| (k.clone(), *n))
            .collect(),
        noisy: state.noisy,
        students: state.students,
        stage_seconds: progress.times,
        missing: progress.missing,
        backend: crate::device::BACKEND_NAME.to_string(),
    };
    write_report(&outcome, &paths.out)?;
    Ok(outcome)
}

use burn::data::dataset::Dataset;

impl<'a> Ctx<'a> {
    fn prepare(preset: &'a DenoisePreset, paths: &'a RunPaths) -> Result<Self> {
        let work = &paths.work;
        std::fs::create_dir_all(work).map_err(|e| IdcError::io(work, e))?;
        std::fs::create_dir_all(&paths.out).map_err(|e| IdcError::io(&paths.out, e))?;
        let data = work.join("data");
        let train_dir = subset_dir(
            &paths.train_dir,
            &data.join("train"),
            preset.max_train_images,
        )?;
        let test_dirs = preset
            .test_sets
            .iter()
            .map(|s| {
                let src = paths.test_root.join(s);
                let d = subset_dir(&src, &data.join(format!("dn-{s}")), preset.max_test_images)?;
                Ok((s.clone(), d))
            })
            .collect::<Result<Vec<_>>>()?;
        let patch = PatchConfig {
            hr_patch: preset.hr_patch,
            step: preset.step,
            ..PatchConfig::default()
        }
        .with_task(preset.task())
        .check()?;
        let pool = SrPatchDataset::new(&train_dir, patch.clone())?;
        let pool_key = (instances_key(&pool), patch.clone());
        Ok(Ctx {
            preset,
            work,
            train_dir,
            test_dirs,
            patch,
            pool,
            pool_key,
        })
    }

    fn train_config(&self, spec: &TrainSpec, seed: u64) -> Result<ValidTrainConfig> {
        let mut c = TrainConfig::for_task(&spec.arch, self.preset.task(), spec.iters);
        c.batch = spec.batch;
        c.lr_patch = spec.lr_patch;
        c.seed = seed;
        c.valid_every = spec.valid_every;
        c.checkpoint_every = spec.valid_every;
        c.check()
    }

    fn run_step(&self, step: &Step, state: &mut State, progress: &mut Progress) -> Result<()> {
        let name = step.name();
        match step {
            Step::Extractor => {
                let cfg = self.train_config(&self.preset.extractor, 1000)?;
                let st = Stage::new(self.work, &name, &(&cfg, &self.pool_key));
                let whole = || SrPatchDataset::new(&self.train_dir, self.patch.clone());
                state.extractor =
                    if_done(progress.stage(&st, |dir| train_in(&cfg, &whole, None, dir)))?;
            }
            Step::IdcSet(ratio) => self.idc_set(&name, *ratio, state, progress)?,
            Step::RandomSet { ratio, seed } => {
                self.random_set(&name, *ratio, *seed, state, progress)?
            }
            Step::Noisy => {
                let key = (&self.test_dirs, self.preset.sigma, "noisy");
                let st = Stage::new(self.work, &name, &key);
                let scores: Option<Vec<(String, Scores)>> = if_done(progress.stage(&st, |_| {
                    self.test_dirs
                        .iter()
                        .map(|(n, d)| {
                            Ok((
                                n.clone(),
                                Scores::from(&evaluate_noisy(d, &self.preset.task())?),
                            ))
                        })
                        .collect()
                }))?;
                state.noisy = scores.unwrap_or_default();
            }
            Step::Train { data, seed, .. } => self.train(&name, data, *seed, state, progress)?,
            Step::Eval { row, seed } => self.eval(&name, row, *seed, state, progress)?,
        }
        Ok(())
    }

    fn load_extractor(&self, state: &State) -> Option<(TrainSummary, SrNet<TrainBackend>)> {
        let ex = state.extractor.clone()?;
        let model = load_model_dir::<TrainBackend>(&ex.model_dir, &default_device())
            .ok()?
            .0;
        Some((ex, model))
    }

    fn build_idc(
        &self,
        dir: &Path,
        ratio: f64,
        model: SrNet<TrainBackend>,
        mode: CacheMode,
    ) -> Result<IdcDataset> {
        let mut cfg = self.preset.condense.clone();
        cfg.ratio = ratio;
        IdcDataset::builder(&self.train_dir, self.patch.clone())
            .with_condense_config(cfg.check()?)
            .with_models::<TrainBackend, _, _>(model, IdentityTeacher, default_device())
            .with_cache_dir(dir.join("shards"))
            .with_mode(mode)
            .with_seed(0)
            .with_skip_small_images(true)
            .build()
    }

    fn idc_set(&self, name: &str, ratio: f64, state: &mut State, p: &mut Progress) -> Result<()> {
        let Some((ex, model)) = self.load_extractor(state) else {
            p.missing.push(name.to_string());
            return Ok(());
        };
        let mut cfg = self.preset.condense.clone();
        cfg.ratio = ratio;
        let key = (&cfg, &self.pool_key, &ex.fingerprint, "identity-teacher");
        let st = Stage::new(self.work, name, &key);
        let n: Option<usize> = if_done(p.stage(&st, |dir| {
            let ds = self.build_idc(dir, ratio, model, CacheMode::LazyCondense)?;
            ds.condense_all()?;
            Ok(ds.len())
        }))?;
        if let Some(n) = n {
            state.sets.insert(name.to_string(), (st.dir, n));
        }
        Ok(())
    }

    fn random_set(
        &self,
        name: &str,
        ratio: f64,
        seed: u64,
        state: &mut State,
        p: &mut Progress,
    ) -> Result<()> {
        let cfg = SelectConfig {
            method: SelectMethod::Random,
            ratio,
            seed,
            ..SelectConfig::default()
        }
        .check()?;
        let st = Stage::new(self.work, name, &(&cfg, &self.pool_key));
        let n: Option<usize> = if_done(p.stage(&st, |dir| {
            let r = select_to_cache::<DefaultBackend, SrNet<DefaultBackend>>(
                &self.pool,
                &dir.join("shards"),
                &self.patch,
                &cfg,
                None,
                &default_device(),
            )?;
            Ok(r.selected)
        }))?;
        if let Some(n) = n {
            state.sets.insert(name.to_string(), (st.dir, n));
        }
        Ok(())
    }

    /// The set's stage name and a loader for it; `None` when the set is not finished.
    fn data<'s>(&'s self, data: &Data, state: &'s State) -> Option<(String, DataFn<'s>)> {
        match data {
            Data::Whole => Some((
                "whole".into(),
                Box::new(|| {
                    Ok(DynSet::new(SrPatchDataset::new(
                        &self.train_dir,
                        self.patch.clone(),
                    )?))
                }),
            )),
            Data::Random { ratio, seed } => {
                let (dir, _) = state.sets.get(&random_set_name(*ratio, *seed))?.clone();
                let tag = dir.to_string_lossy().into_owned();
                Some((
                    tag,
                    Box::new(move || Ok(DynSet::new(SelectionDataset::open(&dir.join("shards"))?))),
                ))
            }
            Data::Idc { ratio } => {
                let (dir, _) = state.sets.get(&idc_set_name(*ratio))?.clone();
                let tag = dir.to_string_lossy().into_owned();
                let ratio = *ratio;
                Some((
                    tag,
                    Box::new(move || {
                        let (_, model) = self.load_extractor(state).ok_or_else(|| {
                            IdcError::InvalidInput("the extractor stage has not run".into())
                        })?;
                        let ds = self.build_idc(&dir, ratio, model, CacheMode::LoadOnly)?;
                        Ok(DynSet::new(ds))
                    }),
                ))
            }
        }
    }

    fn train(
        &self,
        name: &str,
        data: &Data,
        seed: u64,
        state: &mut State,
        p: &mut Progress,
    ) -> Result<()> {
        let cfg = self.train_config(&self.preset.student, seed)?;
        let summary: Option<TrainSummary> = {
            let Some((tag, load)) = self.data(data, state) else {
                p.missing.push(name.to_string());
                return Ok(());
            };
            let st = Stage::new(self.work, name, &(&cfg, &tag, &self.pool_key));
            if_done(p.stage(&st, |dir| train_in(&cfg, &|| load(), None, dir)))?
        };
        if let Some(s) = summary {
            state.trained.insert(name.to_string(), s);
        }
        Ok(())
    }

    fn eval(
        &self,
        name: &str,
        row: &str,
        seed: u64,
        state: &mut State,
        p: &mut Progress,
    ) -> Result<()> {
        let train_name = name.replacen("dn-eval-", "dn-student-", 1);
        let Some(trained) = state.trained.get(&train_name).cloned() else {
            p.missing.push(name.to_string());
            return Ok(());
        };
        let task = self.preset.task();
        let key = (&trained.fingerprint, &self.test_dirs, &task);
        let st = Stage::new(self.work, name, &key);
        let scores: Option<Vec<(String, Scores)>> = if_done(p.stage(&st, |_| {
            let device = default_device();
            let (model, _) = load_model_dir::<DefaultBackend>(&trained.model_dir, &device)?;
            self.test_dirs
                .iter()
                .map(|(n, d)| {
                    let r = evaluate_task(&model, d, &task, &InferOptions::default(), &device)?;
                    Ok((n.clone(), Scores::from(&r)))
                })
                .collect()
        }))?;
        if let Some(eval) = scores {
            state.students.push(DenoiseStudent {
                row: row.to_string(),
                seed,
                samples_seen: trained.config.iters * trained.config.batch,
                eval,
            });
        }
        Ok(())
    }
}

type DataFn<'s> = Box<dyn Fn() -> Result<DynSet> + 's>;

/// One cell of table 5: mean PSNR, its sample standard deviation over seeds, mean SSIM.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    /// Mean RGB PSNR over seeds, dB.
    pub psnr: f64,
    /// Sample standard deviation of the PSNR over seeds (0 with one seed).
    pub psnr_std: f64,
    /// Mean RGB SSIM over seeds.
    pub ssim: f64,
}

/// Row `row` per test set: `(seeds, cells)`.
fn aggregate(outcome: &DenoiseOutcome, row: &str) -> (usize, BTreeMap<String, Cell>) {
    let runs: Vec<&DenoiseStudent> = outcome.students.iter().filter(|s| s.row == row).collect();
    let mut cells = BTreeMap::new();
    for set in &outcome.preset.test_sets {
        let vals: Vec<&Scores> = runs
            .iter()
            .filter_map(|s| s.eval.iter().find(|(n, _)| n == set).map(|(_, v)| v))
            .collect();
        if vals.is_empty() {
            continue;
        }
        let n = vals.len() as f64;
        let psnr = vals.iter().map(|v| v.psnr_rgb).sum::<f64>() / n;
        let var = vals
            .iter()
            .map(|v| (v.psnr_rgb - psnr).powi(2))
            .sum::<f64>()
            / (n - 1.0).max(1.0);
        let ssim = vals.iter().map(|v| v.ssim_rgb).sum::<f64>() / n;
        cells.insert(
            set.clone(),
            Cell {
                psnr,
                psnr_std: var.sqrt(),
                ssim,
            },
        );
    }
    (runs.len(), cells)
}

/// Writes `table5.json` and `table5.md` into `out`.
fn write_report(outcome: &DenoiseOutcome, out: &Path) -> Result<()> {
    let mut names: Vec<String> = rows(&outcome.preset).into_iter().map(|(r, _)| r).collect();
    let mut table = Vec::new();
    for row in &names {
        let (seeds, cells) = aggregate(outcome, row);
        table.push((row.clone(), seeds, cells));
    }
    let noisy: BTreeMap<String, Cell> = outcome
        .noisy
        .iter()
        .map(|(n, s)| {
            (
                n.clone(),
                Cell {
                    psnr: s.psnr_rgb,
                    psnr_std: 0.0,
                    ssim: s.ssim_rgb,
                },
            )
        })
        .collect();
    table.push(("Noisy input".into(), usize::from(!noisy.is_empty()), noisy));
    names.push("Noisy input".into());
    let json = serde_json::json!({
        "preset": outcome.preset,
        "sigma": outcome.preset.sigma,
        "protocol": "RGB PSNR/SSIM, no crop, output clipped and rounded to 8 bits; one fixed seeded noisy version per test image",
        "rows": table.iter().map(|(row, seeds, cells)| serde_json::json!({
            "method": row, "seeds": seeds, "sets": cells,
        })).collect::<Vec<_>>(),
        "pool_patches": outcome.pool_patches,
        "set_patches": outcome.set_patches,
        "students": outcome.students,
        "stage_seconds": outcome.stage_seconds,
        "backend": outcome.backend,
        "partial": !outcome.missing.is_empty(),
        "missing": outcome.missing,
    });
    let text = serde_json::to_string_pretty(&json)
        .map_err(|e| IdcError::InvalidInput(format!("table5.json: {e}")))?;
    write_atomic(&out.join("table5.json"), format!("{text}\n").as_bytes())?;
    write_atomic(
        &out.join("table5.md"),
        render_md(outcome, &table).as_bytes(),
    )?;
    Ok(())
}

type Row = (String, usize, BTreeMap<String, Cell>);

fn render_md(outcome: &DenoiseOutcome, table: &[Row]) -> String {
    let p = &outcome.preset;
    let mut s = format!(
        "# Table 5 analogue: colour denoising, sigma {} ({})\n\n\
         Training: T91 + BSD200 clean {}x{} patches ({} in the pool), noise redrawn per sample; \
         students {} ({} iterations, batch {}, crop {}), {} seed(s). IDC condenses clean patches \
         (identity teacher). RGB PSNR (dB) / SSIM, no crop, mean ± sample std over seeds.\n\n",
        p.sigma,
        p.name,
        p.hr_patch,
        p.hr_patch,
        outcome.pool_patches,
        p.student.arch,
        p.student.iters,
        p.student.batch,
        p.student.lr_patch,
        p.seeds
    );
    if !outcome.missing.is_empty() {
        s += &format!(
            "**Partial**: {} stage(s) not finished: {}.\n\n",
            outcome.missing.len(),
            outcome.missing.join(", ")
        );
    }
    s += &format!(
        "| method | seeds | {} |\n|---|---:|",
        p.test_sets.join(" | ")
    );
    s += &"---:|".repeat(p.test_sets.len());
    s += "\n";
    for (row, seeds, cells) in table {
        let c: Vec<String> = p
            .test_sets
            .iter()
            .map(|set| match cells.get(set) {
                Some(c) if *seeds > 1 => {
                    format!("{:.2} ± {:.2} / {:.4}", c.psnr, c.psnr_std, c.ssim)
                }
                Some(c) => format!("{:.2} / {:.4}", c.psnr, c.ssim),
                None => "-".into(),
            })
            .collect();
        s += &format!("| {row} | {seeds} | {} |\n", c.join(" | "));
    }
    s += "\n## Reading\n\n";
    s += &reading(p, table);
    s
}

/// Pairwise comparisons the paper draws, claimed only beyond 2x the larger seed std.
fn reading(p: &DenoisePreset, table: &[Row]) -> String {
    let find = |name: &str| table.iter().find(|(r, _, _)| r == name);
    let pairs = [
        ("IDC 1%", "Random 1%"),
        ("IDC 1%", "Random 10%"),
        ("IDC 10%", "Random 10%"),
        ("IDC 10%", "Whole"),
        ("Whole", "Noisy input"),
    ];
    let mut s = String::new();
    for (a, b) in pairs {
        let (Some((_, na, ca)), Some((_, nb, cb))) = (find(a), find(b)) else {
            continue;
        };
        if ca.is_empty() || cb.is_empty() {
            s += &format!("- {a} vs {b}: not available yet.\n");
            continue;
        }
        for set in &p.test_sets {
            let (Some(x), Some(y)) = (ca.get(set), cb.get(set)) else {
                s += &format!("- {a} vs {b} on {set}: not available yet.\n");
                continue;
            };
            let d = x.psnr - y.psnr;
            let bar = 2.0 * x.psnr_std.max(y.psnr_std);
            let line = if *na < 2 && *nb < 2 && b != "Noisy input" {
                format!("{d:+.2} dB, one seed each: no claim")
            } else if d.abs() > bar {
                format!(
                    "{d:+.2} dB, beyond 2x seed std ({bar:.2} dB): {a} {} {b}",
                    if d > 0.0 { "beats" } else { "trails" }
                )
            } else {
                format!("{d:+.2} dB, within 2x seed std ({bar:.2} dB): no difference claimed")
            };
            s += &format!("- {a} vs {b} on {set}: {line}.\n");
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_validate_and_stage_count_is_derived() {
        for name in ["denoise-smoke", "denoise-cpu"] {
            let p = DenoisePreset::by_name(name).unwrap();
            p.validate().unwrap();
            let (r, s) = (p.ratios.len(), p.seeds);
            // extractor + IDC sets + Random sets + noisy + (train, eval) per row and seed
            assert_eq!(
                stage_count(&p),
                1 + r + r * s + 1 + 2 * s * (1 + 2 * r),
                "{name}"
            );
        }
        assert_eq!(stage_count(&DenoisePreset::cpu()), 40);
        assert!(DenoisePreset::by_name("cpu").is_err());
        let names: Vec<String> = plan(&DenoisePreset::cpu()).iter().map(Step::name).collect();
        let unique: std::collections::HashSet<&String> = names.iter().collect();
        assert_eq!(
            unique.len(),
            names.len(),
            "stage names are unique: {names:?}"
        );
        let rows: Vec<String> = rows(&DenoisePreset::cpu())
            .into_iter()
            .map(|r| r.0)
            .collect();
        assert_eq!(
            rows,
            ["Whole", "Random 10%", "Random 1%", "IDC 1%", "IDC 10%"]
        );
    }

    #[test]
    fn report_only_on_an_empty_work_dir_writes_partial_tables() {
        let root = tempfile::tempdir().unwrap();
        let train = root.path().join("train");
        let tests = root.path().join("tests");
        crate::image::synthetic::write_synthetic_images(&train, 2, 48).unwrap();
        let p = DenoisePreset::smoke();
        for set in &p.test_sets {
            crate::image::synthetic::write_synthetic_images(&tests.join(set), 1, 40).unwrap();
        }
        let paths = RunPaths {
            train_dir: train,
            test_root: tests,
            work: root.path().join("work"),
            out: root.path().join("out"),
        };
        let o = run_denoise(&p, &paths, RunMode::ReportOnly).unwrap();
        assert!(o.students.is_empty() && o.noisy.is_empty());
        assert_eq!(
            o.missing.len(),
            stage_count(&p),
            "every stage is reported missing"
        );
        let md = std::fs::read_to_string(paths.out.join("table5.md")).unwrap();
        assert!(md.contains("**Partial**") && md.contains("| Whole |"));
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(paths.out.join("table5.json")).unwrap())
                .unwrap();
        assert_eq!(json["partial"], true);
        assert_eq!(json["rows"].as_array().unwrap().len(), 6);
    }
}
