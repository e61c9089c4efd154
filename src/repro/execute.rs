//! How each planned stage runs: its fingerprinted key, its work, and what it leaves for the
//! stages after it.

use super::ablation::AblationVariant;
use super::outcome::{Scores, StudentResult};
use super::plan::{
    ABLATION_RANDOM_SET, Data, IDC_SET, Step, Student, Table, ablation_set_name, sweep_set_name,
};
use super::preset::{AblationSpec, Preset, RatioTable, SweepSpec, TrainSpec};
use super::progress::{Progress, if_done};
use super::stage::Stage;
use super::sweep::{
    HOLDOUT_SET, STRONG_EXTRACTOR, SWEEP_RANDOM, SWEEP_RANDOM_SET, SWEEP_RANDOM_TEACHER, SweepCell,
    SweepResult,
};
use super::tasks::{
    DynSet, evaluate_dir, evaluate_reference, holdout_dir, instances_key, subset_dir, train_config,
    train_in,
};
use crate::cache::manifest::Manifest;
use crate::condense::CondenseConfig;
use crate::config::ValidPatchConfig;
use crate::dataset::idc::{CacheMode, IdcDataset};
use crate::dataset::relabel::TeacherLabeled;
use crate::dataset::selection::SelectionDataset;
use crate::dataset::sr_patch::SrPatchDataset;
use crate::device::{DefaultBackend, DefaultDevice, TrainBackend, default_device};
use crate::error::{IdcError, Result};
use crate::models::identity::IdentityTeacher;
use crate::models::load_model_dir;
use crate::models::net::SrNet;
use crate::select::pipeline::select_to_cache;
use crate::select::{SelectConfig, SelectMethod};
use crate::task::Task;
use crate::train::TrainSummary;
use burn::data::dataset::Dataset;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where a run reads and writes.
#[derive(Clone, Debug)]
pub struct RunPaths {
    /// HR training images (T91 + BSD200 by default; DIV2K for the paper preset).
    pub train_dir: PathBuf,
    /// Folder holding the preset's test sets (`Set5`, `Set14`, `BSD100` for SR).
    pub test_root: PathBuf,
    /// Stage cache (large; not committed).
    pub work: PathBuf,
    /// Results (tables, plot, README) to commit.
    pub out: PathBuf,
}

#[derive(Serialize)]
struct StudentKey<'a> {
    method: &'a str,
    set: &'a str,
    spec: &'a TrainSpec,
    scale: usize,
    /// The task when not SR (left out, so SR students keep their keys).
    #[serde(skip_serializing_if = "Option::is_none")]
    task: Option<Task>,
    seed: u64,
    tests: &'a [(String, PathBuf)],
}

/// A set stage's folder, and whether the stage has finished (a report-only run may find it not).
struct SetDir {
    dir: PathBuf,
    done: bool,
}

/// What the stages run so far left for the ones after them, and the results.
#[derive(Default)]
pub(crate) struct State {
    /// Extractor and teacher by role.
    models: BTreeMap<&'static str, TrainSummary>,
    /// Patch count of IDC's set (every reduced set must have as many).
    pub(crate) set_patches: Option<usize>,
    /// Set stages by name.
    sets: BTreeMap<String, SetDir>,
    /// The student trained by the last `Train` step, waiting for its `Eval`.
    trained: Option<TrainSummary>,
    /// The ablation's subset of the training images, made at its first stage.
    ablation_dir: Option<PathBuf>,
    /// The sweep's condensed images and its held-out ones, made at its first stage.
    sweep_dirs: Option<(PathBuf, Vec<(String, PathBuf)>)>,
    /// The sweep's cells in run order.
    pub(crate) sweep: Vec<SweepResult>,
    pub(crate) bicubic: Vec<(String, Scores)>,
    pub(crate) teacher: Vec<(String, Scores)>,
    pub(crate) students: Vec<StudentResult>,
    pub(crate) ablation: Vec<StudentResult>,
    /// Students of the ratio table.
    pub(crate) ratio: Vec<StudentResult>,
    /// Pairs in each finished ratio-table set, by stage name.
    pub(crate) ratio_sets: BTreeMap<String, usize>,
}

impl State {
    fn model(&self, role: &str) -> Result<&TrainSummary> {
        self.models
            .get(role)
            .ok_or_else(|| IdcError::InvalidInput(format!("the {role} stage has not run")))
    }

    /// The teacher's fingerprint, or `identity-teacher` for a preset without one (denoising).
    fn teacher_key(&self, preset: &Preset) -> Result<String> {
        match preset.teacher {
            Some(_) => Ok(self.model("teacher")?.fingerprint.clone()),
            None => Ok("identity-teacher".into()),
        }
    }

    fn set(&self, name: &str) -> Result<&SetDir> {
        self.sets
            .get(name)
            .ok_or_else(|| IdcError::InvalidInput(format!("the {name} stage has not run")))
    }
}

/// The inputs every stage shares: data folders, patch pool and device.
pub(crate) struct Ctx<'a> {
    preset: &'a Preset,
    work: &'a Path,
    train_dir: PathBuf,
    test_dirs: Vec<(String, PathBuf)>,
    /// Where students' validation curves are measured: the first test set for SR (reported,
    /// never used to choose anything); none for denoising, whose whole-image evaluations would
    /// cost more than the students.
    valid_dir: Option<PathBuf>,
    task: Task,
    patch: ValidPatchConfig,
    pool: SrPatchDataset,
    /// What a stage keyed on the pool depends on: its instances and the patch geometry.
    pool_key: (Vec<(String, usize)>, ValidPatchConfig),
    /// The preset's condensation at the preset's ratio.
    condense: CondenseConfig,
    device: DefaultDevice,
}

impl<'a> Ctx<'a> {
    /// Creates the work and output folders, the image subsets and the patch pool.
    pub(crate) fn prepare(preset: &'a Preset, paths: &'a RunPaths) -> Result<Self> {
        let work = &paths.work;
        std::fs::create_dir_all(work).map_err(|e| IdcError::io(work, e))?;
        std::fs::create_dir_all(&paths.out).map_err(|e| IdcError::io(&paths.out, e))?;
        let data = work.join("data");
        let train_dir = subset_dir(
            &paths.train_dir,
            &data.join("train"),
            preset.max_train_images,
        )?;
        let test_dirs: Vec<(String, PathBuf)> = preset
            .test_sets
            .iter()
            .map(|s| {
                let d = subset_dir(
                    &paths.test_root.join(s),
                    &data.join(s),
                    preset.max_test_images,
                )?;
                Ok((s.to_string(), d))
            })
            .collect::<Result<_>>()?;
        let task = preset.task();
        let valid_dir = match task {
            Task::SuperResolution { .. } => test_dirs.first().map(|(_, d)| d.clone()),
            Task::Denoise { .. } => None,
        };
        let patch = preset.patch().check()?;
        let pool = SrPatchDataset::new(&train_dir, patch.clone())?;
        let pool_key = (instances_key(&pool), patch.clone());
        let mut condense = preset.condense.clone();
        condense.ratio = preset.ratio;
        Ok(Ctx {
            preset,
            work,
            valid_dir,
            task,
            train_dir,
            test_dirs,
            patch,
            pool,
            pool_key,
            condense,
            device: default_device(),
        })
    }

    /// Patches in the whole pool.
    pub(crate) fn pool_patches(&self) -> usize {
        self.pool.len()
    }

    /// Runs (or, report-only, loads) one stage. A missing extractor or teacher stops a
    /// report-only run; any other missing stage only leaves its results out.
    pub(crate) fn run_step(
        &self,
        step: &Step,
        state: &mut State,
        progress: &mut Progress,
    ) -> Result<()> {
        let name = step.name();
        match step {
            Step::Model(role) => self.model(role, state, progress),
            Step::IdcSet => self.idc_set(state, progress),
            Step::SelectSet { method, seed } => {
                let ratio = self.preset.ratio;
                let n = self.select_set(&name, *method, ratio, *seed, state, progress)?;
                self.check_set_size(*method, n, state)
            }
            Step::RatioIdcSet { set, ratio } => self.ratio_idc_set(set, *ratio, state, progress),
            Step::RatioSelectSet {
                set,
                method,
                ratio,
                seed,
            } => {
                let n = self.select_set(set, *method, *ratio, *seed, state, progress)?;
                state.ratio_sets.extend(n.map(|n| (set.clone(), n)));
                Ok(())
            }
            Step::Reference(_) => self.reference(&name, state, progress),
            Step::EvalTeacher => self.eval_teacher(&name, state, progress),
            Step::Train(s) => self.train(&name, s, state, progress),
            Step::Eval(s) => self.eval(&name, s, state, progress),
            Step::AblationSet(v) => self.ablation_set(&name, v, state, progress),
            Step::AblationRandomSet => self.ablation_random_set(state, progress),
            Step::SweepSet(c) => self.sweep_set(&name, c, state, progress),
            Step::SweepRandomSet => self.sweep_random_set(state, progress),
        }
    }
}

/// The model stages, the sets and the reference evaluations.
impl Ctx<'_> {
    fn model(&self, role: &'static str, state: &mut State, progress: &mut Progress) -> Result<()> {
        let spec = match role {
            "extractor" => &self.preset.extractor,
            STRONG_EXTRACTOR => self
                .sweep()?
                .strong_extractor
                .as_ref()
                .ok_or_else(|| IdcError::config("sweep.strong_extractor", "not given"))?,
            _ => self
                .preset
                .teacher
                .as_ref()
                .ok_or_else(|| IdcError::config("teacher", "not given"))?,
        };
        let cfg = train_config(spec, self.task, 1000)?;
        let st = Stage::new(self.work, role, &(&cfg, &self.pool_key));
        let whole = || SrPatchDataset::new(&self.train_dir, self.patch.clone());
        let valid = self.valid_dir.as_deref();
        let summary: TrainSummary =
            progress.stage(&st, |dir| train_in(&cfg, &whole, valid, dir))?;
        state.models.insert(role, summary);
        Ok(())
    }

    fn load(&self, dir: &Path) -> Result<SrNet<TrainBackend>> {
        Ok(load_model_dir::<TrainBackend>(dir, &self.device)?.0)
    }

    /// IDC's dataset over `images`, condensed (with the extractor of `role`) into (or loaded
    /// from) `cache`.
    #[allow(clippy::too_many_arguments)]
    fn build_idc(
        &self,
        state: &State,
        role: &str,
        images: &Path,
        cache: &Path,
        cfg: &CondenseConfig,
        seed: u64,
        mode: CacheMode,
    ) -> Result<IdcDataset> {
        // `clone`, not a copy: the CUDA device is not `Copy`.
        #[allow(clippy::clone_on_copy)]
        let device = self.device.clone();
        let extractor = self.load(&state.model(role)?.model_dir)?;
        let builder = IdcDataset::builder(images, self.patch.clone())
            .with_condense_config(cfg.clone().check()?);
        let builder = match self.preset.teacher {
            Some(_) => {
                let teacher = self.load(&state.model("teacher")?.model_dir)?;
                builder.with_models::<TrainBackend, _, _>(extractor, teacher, device)
            }
            None => builder.with_models::<TrainBackend, _, _>(extractor, IdentityTeacher, device),
        };
        builder
            .with_cache_dir(cache.join("shards"))
            .with_mode(mode)
            .with_seed(seed)
            // The Whole pool (SrPatchDataset) skips images below one patch; IDC must too.
            .with_skip_small_images(true)
            .build()
    }

    fn idc_set(&self, state: &mut State, progress: &mut Progress) -> Result<()> {
        state.set_patches = self.condense_set(IDC_SET, &self.condense, state, progress)?;
        Ok(())
    }

    /// The ratio table's IDC set at `ratio` (the preset's condensation otherwise).
    fn ratio_idc_set(
        &self,
        name: &str,
        ratio: f64,
        state: &mut State,
        progress: &mut Progress,
    ) -> Result<()> {
        let mut cfg = self.preset.condense.clone();
        cfg.ratio = ratio;
        let made = self.condense_set(name, &cfg, state, progress)?;
        state.ratio_sets.extend(made.map(|n| (name.to_string(), n)));
        Ok(())
    }

    /// Stage `name`: the whole pool condensed with `cfg` (seed 0); its pair count once done.
    fn condense_set(
        &self,
        name: &str,
        cfg: &CondenseConfig,
        state: &mut State,
        progress: &mut Progress,
    ) -> Result<Option<usize>> {
        let key = (
            cfg,
            &self.pool_key,
            &state.model("extractor")?.fingerprint,
            &state.teacher_key(self.preset)?,
        );
        let st = Stage::new(self.work, name, &key);
        let made: Option<usize> = if_done(progress.stage(&st, |dir| {
            let mode = CacheMode::LazyCondense;
            let images = &self.train_dir;
            let ds = self.build_idc(state, "extractor", images, dir, cfg, 0, mode)?;
            ds.condense_all()?;
            Ok(ds.len())
        }))?;
        let done = made.is_some();
        state.sets.insert(name.into(), SetDir { dir: st.dir, done });
        Ok(made)
    }

    /// Stage `name`: `method`'s selection of `ratio` of the pool; its pair count once done.
    fn select_set(
        &self,
        name: &str,
        method: SelectMethod,
        ratio: f64,
        seed: u64,
        state: &mut State,
        progress: &mut Progress,
    ) -> Result<Option<usize>> {
        let cfg = SelectConfig {
            method,
            ratio,
            seed,
            ..SelectConfig::default()
        }
        .check()?;
        let extractor = state.model("extractor")?;
        let st = Stage::new(
            self.work,
            name,
            &(&cfg, &self.pool_key, &extractor.fingerprint),
        );
        let n: Option<usize> = if_done(progress.stage(&st, |dir| {
            // Inference backend: forward passes on the autodiff backend keep their graphs
            // (activations) until a backward that never comes; over a whole pool that
            // exhausted 24 GiB.
            let ex = load_model_dir::<DefaultBackend>(&extractor.model_dir, &self.device)?.0;
            let r = select_to_cache::<DefaultBackend, SrNet<DefaultBackend>>(
                &self.pool,
                &dir.join("shards"),
                &self.patch,
                &cfg,
                Some(&ex),
                &self.device,
            )?;
            Ok(r.selected)
        }))?;
        let done = n.is_some();
        state.sets.insert(name.into(), SetDir { dir: st.dir, done });
        Ok(n)
    }

    /// The main table compares sets of equal size: a selection must have IDC's pair count.
    fn check_set_size(&self, method: SelectMethod, n: Option<usize>, state: &State) -> Result<()> {
        match (n, state.set_patches) {
            (Some(n), Some(m)) if n != m => Err(IdcError::InvalidInput(format!(
                "{method} selected {n} patches, IDC made {m}: the sets must be equal in size"
            ))),
            _ => Ok(()),
        }
    }

    /// The task's do-nothing baseline (bicubic or the noisy input) on the test sets.
    fn reference(&self, name: &str, state: &mut State, progress: &mut Progress) -> Result<()> {
        // SR keeps the key it had before denoising joined this pipeline.
        let st = match self.task {
            Task::SuperResolution { scale } => {
                Stage::new(self.work, name, &(&self.test_dirs, scale))
            }
            task => Stage::new(self.work, name, &(&self.test_dirs, task)),
        };
        let scores: Option<Vec<(String, Scores)>> =
            if_done(progress.stage(&st, |_| evaluate_reference(&self.test_dirs, &self.task)))?;
        state.bicubic = scores.unwrap_or_default();
        Ok(())
    }

    /// The teacher on the test sets: the reference the teacher-labelled sets (IDC, Random+T)
    /// are distilled from (not a Table-1 method).
    fn eval_teacher(&self, name: &str, state: &mut State, progress: &mut Progress) -> Result<()> {
        let teacher = state.model("teacher")?;
        let key = (&teacher.fingerprint, &self.test_dirs, self.preset.scale);
        let st = Stage::new(self.work, name, &key);
        let scores: Option<Vec<(String, Scores)>> = if_done(progress.stage(&st, |_| {
            evaluate_dir(&teacher.model_dir, &self.test_dirs, &self.task)
        }))?;
        state.teacher = scores.unwrap_or_default();
        Ok(())
    }
}

/// A student's training data, built only when its training stage runs.
/// A random control set: its stage name, the images it draws from, per-image ratio and the
/// image cap (part of the stage key).
struct RandomDraw<'a> {
    name: &'static str,
    images: &'a Path,
    ratio: f64,
    max_images: Option<usize>,
}

type DataFn<'a> = Box<dyn Fn() -> Result<DynSet> + 'a>;

/// The students and the ablation's sets.
impl Ctx<'_> {
    fn ratio_table(&self) -> Result<&RatioTable> {
        preset_part(&self.preset.ratio_table, "ratio table")
    }

    fn ablation(&self) -> Result<&AblationSpec> {
        preset_part(&self.preset.ablation, "ablation")
    }

    /// The ablation may run on the first `max_images` training images (its cost is six
    /// condensed sets); the subset is part of every ablation stage's key.
    fn ablation_dir(&self, state: &mut State) -> Result<PathBuf> {
        if let Some(dir) = &state.ablation_dir {
            return Ok(dir.clone());
        }
        let dst = self.work.join("data").join("ablation");
        let dir = subset_dir(&self.train_dir, &dst, self.ablation()?.max_images)?;
        state.ablation_dir = Some(dir.clone());
        Ok(dir)
    }

    /// The tag that keys a student's set and the function that loads it; `None` when the set
    /// has not finished (report-only), so the student is not tried.
    fn student_data<'s>(
        &'s self,
        data: &'s Data,
        state: &'s State,
    ) -> Result<Option<(String, DataFn<'s>)>> {
        let finished = |name: &str| -> Result<Option<PathBuf>> {
            let set = state.set(name)?;
            Ok(set.done.then(|| set.dir.clone()))
        };
        let tag_of = |dir: &Path| dir.to_string_lossy().into_owned();
        Ok(match data {
            Data::Whole => {
                let f = || {
                    Ok(DynSet::new(SrPatchDataset::new(
                        &self.train_dir,
                        self.patch.clone(),
                    )?))
                };
                Some(("whole".to_string(), Box::new(f) as DataFn))
            }
            Data::Idc => {
                let dir = state.set(IDC_SET)?.dir.clone();
                let images = self.train_dir.clone();
                let cfg = self.condense.clone();
                Some(self.condensed(state, "extractor", images, dir, cfg, 0))
            }
            Data::Selected { set } => finished(set)?.map(|dir| {
                let tag = tag_of(&dir);
                let f = move || Ok(DynSet::new(SelectionDataset::open(&dir.join("shards"))?));
                (tag, Box::new(f) as DataFn)
            }),
            Data::TeacherLabeled { set } => {
                let teacher = state.model("teacher")?;
                finished(set)?.map(|dir| {
                    let tag = format!("{}+teacher:{}", dir.to_string_lossy(), teacher.fingerprint);
                    let f = move || self.teacher_labeled(&teacher.model_dir, &dir);
                    (tag, Box::new(f) as DataFn)
                })
            }
            Data::AblationIdc(v) => {
                let images = state.ablation_dir.clone().unwrap_or_default();
                finished(&ablation_set_name(&v.name))?.map(|dir| {
                    let cfg = v.config.clone();
                    self.condensed(state, "extractor", images, dir, cfg, v.condense_seed)
                })
            }
            Data::RatioIdc { set, ratio } => {
                let mut cfg = self.preset.condense.clone();
                cfg.ratio = *ratio;
                let images = self.train_dir.clone();
                finished(set)?.map(|dir| self.condensed(state, "extractor", images, dir, cfg, 0))
            }
            Data::SweepIdc(c) => {
                let images = state
                    .sweep_dirs
                    .as_ref()
                    .map(|d| d.0.clone())
                    .unwrap_or_default();
                finished(&sweep_set_name(&c.name))?.map(|dir| {
                    let cfg = CondenseConfig::clone(&c.config);
                    self.condensed(state, c.extractor_role(), images, dir, cfg, 0)
                })
            }
        })
    }

    /// A condensed set in `dir` (of `images`, condensed with the extractor of `role`), loaded
    /// and never condensed, keyed by its folder.
    fn condensed<'s>(
        &'s self,
        state: &'s State,
        role: &'static str,
        images: PathBuf,
        dir: PathBuf,
        cfg: CondenseConfig,
        seed: u64,
    ) -> (String, DataFn<'s>) {
        let tag = dir.to_string_lossy().into_owned();
        let f = move || {
            let mode = CacheMode::LoadOnly;
            let ds = self.build_idc(state, role, &images, &dir, &cfg, seed, mode)?;
            Ok(DynSet::new(ds))
        };
        (tag, Box::new(f) as DataFn)
    }

    /// A selected set with the teacher's HR targets.
    fn teacher_labeled(&self, teacher_dir: &Path, set_dir: &Path) -> Result<DynSet> {
        let teacher = load_model_dir::<DefaultBackend>(teacher_dir, &self.device)?.0;
        let sel = SelectionDataset::open(&set_dir.join("shards"))?;
        Ok(DynSet::new(TeacherLabeled::new::<DefaultBackend, _, _>(
            &sel,
            &teacher,
            &self.device,
            16,
        )?))
    }

    fn train(
        &self,
        name: &str,
        s: &Student,
        state: &mut State,
        progress: &mut Progress,
    ) -> Result<()> {
        let spec = match s.table {
            Table::Main => &self.preset.student,
            Table::Ablation => &self.ablation()?.student,
            Table::Sweep => &self.sweep()?.student,
            Table::Ratio => self.ratio_table()?.student(&self.preset.student),
        };
        // Sweep students are validated and scored on held-out training images only.
        let (tests, valid) = match s.table {
            Table::Sweep => {
                let holdout = self.sweep_dirs(state)?.1;
                let valid = holdout.first().map(|(_, d)| d.clone());
                (holdout, valid)
            }
            _ => (self.test_dirs.clone(), self.valid_dir.clone()),
        };
        let trained = match self.student_data(&s.data, state)? {
            None => None,
            Some((tag, data)) => {
                let cfg = train_config(spec, self.task, s.seed)?;
                let key = StudentKey {
                    method: &s.method,
                    set: &tag,
                    spec,
                    scale: self.preset.scale,
                    task: self.preset.task,
                    seed: s.seed,
                    tests: &tests,
                };
                let st = Stage::new(self.work, name, &key);
                let valid = valid.as_deref();
                if_done(progress.stage(&st, |dir| train_in(&cfg, &*data, valid, dir)))?
            }
        };
        state.trained = trained;
        Ok(())
    }

    fn eval(
        &self,
        name: &str,
        s: &Student,
        state: &mut State,
        progress: &mut Progress,
    ) -> Result<()> {
        let Some(summary) = state.trained.take() else {
            return Ok(());
        };
        let tests = match s.table {
            Table::Sweep => self.sweep_dirs(state)?.1,
            _ => self.test_dirs.clone(),
        };
        let st = Stage::new(self.work, name, &(&summary.fingerprint, &tests));
        let eval: Option<Vec<(String, Scores)>> = if_done(progress.stage(&st, |_| {
            evaluate_dir(&summary.model_dir, &tests, &self.task)
        }))?;
        let Some(eval) = eval else {
            return Ok(());
        };
        if s.table == Table::Sweep {
            let cell = s.method.trim_start_matches("sweep-");
            if let Some(r) = state.sweep.iter_mut().find(|r| r.cell == cell) {
                r.holdout_psnr
                    .extend(eval.iter().map(|(_, sc)| sc.psnr_rgb));
            }
            return Ok(());
        }
        let result = StudentResult {
            method: s.method.clone(),
            seed: s.seed,
            items: summary.config.iters,
            train_seconds: summary.wall_seconds,
            final_loss: summary.final_loss,
            validation: summary.validation,
            eval,
        };
        match s.table {
            Table::Ablation => state.ablation.push(result),
            Table::Ratio => state.ratio.push(result),
            _ => state.students.push(result),
        }
        Ok(())
    }

    fn ablation_set(
        &self,
        name: &str,
        v: &AblationVariant,
        state: &mut State,
        progress: &mut Progress,
    ) -> Result<()> {
        let a = self.ablation()?;
        let images = self.ablation_dir(state)?;
        let key = (
            &v.config,
            &self.pool_key,
            &state.model("extractor")?.fingerprint,
            &state.model("teacher")?.fingerprint,
            a.max_images,
        );
        // Seed 0 keeps the key it had before condensation seeds were varied.
        let st = match v.condense_seed {
            0 => Stage::new(self.work, name, &key),
            s => Stage::new(self.work, name, &(key, s)),
        };
        let made: Option<usize> = if_done(progress.stage(&st, |dir| {
            let ds = self.build_idc(
                state,
                "extractor",
                &images,
                dir,
                &v.config,
                v.condense_seed,
                CacheMode::LazyCondense,
            )?;
            ds.condense_all()?;
            Ok(ds.len())
        }))?;
        let done = made.is_some();
        state.sets.insert(name.into(), SetDir { dir: st.dir, done });
        Ok(())
    }

    /// Control at the ablation's ratio: real patches drawn at random, the same number from
    /// each image as IDC makes (`per_instance`), with the teacher's HR targets. What separates
    /// it from the IDC variants is only the condensation of the LR patches.
    fn ablation_random_set(&self, state: &mut State, progress: &mut Progress) -> Result<()> {
        let (ratio, max_images) = (self.ablation()?.ratio, self.ablation()?.max_images);
        let images = self.ablation_dir(state)?;
        let draw = RandomDraw {
            name: ABLATION_RANDOM_SET,
            images: &images,
            ratio,
            max_images,
        };
        self.random_set(draw, state, progress)
    }

    /// Stage `draw.name`: real patches of `draw.images` drawn at random per image (seed 0), the
    /// control every condensed set is compared with.
    fn random_set(
        &self,
        draw: RandomDraw,
        state: &mut State,
        progress: &mut Progress,
    ) -> Result<()> {
        let pool = SrPatchDataset::new(draw.images, self.patch.clone())?;
        let cfg = SelectConfig {
            method: SelectMethod::Random,
            ratio: draw.ratio,
            seed: 0,
            per_instance: true,
            ..SelectConfig::default()
        }
        .check()?;
        let key = (&cfg, &instances_key(&pool), &self.patch, draw.max_images);
        let st = Stage::new(self.work, draw.name, &key);
        let made: Option<usize> = if_done(progress.stage(&st, |dir| {
            let r = select_to_cache::<DefaultBackend, SrNet<DefaultBackend>>(
                &pool,
                &dir.join("shards"),
                &self.patch,
                &cfg,
                None,
                &self.device,
            )?;
            Ok(r.selected)
        }))?;
        let done = made.is_some();
        state
            .sets
            .insert(draw.name.into(), SetDir { dir: st.dir, done });
        Ok(())
    }
}

impl State {
    /// `(label, shards folder)` of the sweep's finished sets for `sweep-sheet.png`: the random
    /// control, then the cells in table order.
    pub(crate) fn sweep_sheet_rows(&self, preset: &Preset) -> Vec<(String, PathBuf)> {
        let Some(sw) = &preset.sweep else {
            return Vec::new();
        };
        let cells = sw.cells(&preset.condense).unwrap_or_default();
        let control = (SWEEP_RANDOM_SET.to_string(), "random (real)".to_string());
        let named = cells.into_iter().map(|c| (sweep_set_name(&c.name), c.name));
        std::iter::once(control)
            .chain(named)
            .filter_map(|(stage, label)| {
                let set = self.sets.get(&stage).filter(|s| s.done)?;
                Some((label, set.dir.join("shards")))
            })
            .collect()
    }
}

/// The budget sweep's stages.
impl Ctx<'_> {
    fn sweep(&self) -> Result<&SweepSpec> {
        preset_part(&self.preset.sweep, "sweep")
    }

    /// The first `max_images` training images (condensed) and the `holdout_images` after them
    /// (each student's only score), made once.
    fn sweep_dirs(&self, state: &mut State) -> Result<(PathBuf, Vec<(String, PathBuf)>)> {
        if let Some(dirs) = &state.sweep_dirs {
            return Ok(dirs.clone());
        }
        let sw = self.sweep()?;
        let data = self.work.join("data");
        let images = subset_dir(&self.train_dir, &data.join("sweep"), Some(sw.max_images))?;
        let holdout = holdout_dir(
            &self.train_dir,
            &data.join("holdout"),
            sw.max_images,
            sw.holdout_images,
        )?;
        let dirs = (images, vec![(HOLDOUT_SET.to_string(), holdout)]);
        state.sweep_dirs = Some(dirs.clone());
        Ok(dirs)
    }

    /// The control rows' random set (the sweep's images at its ratio) and their result rows.
    fn sweep_random_set(&self, state: &mut State, progress: &mut Progress) -> Result<()> {
        let sw = self.sweep()?;
        let images = self.sweep_dirs(state)?.0;
        let draw = RandomDraw {
            name: SWEEP_RANDOM_SET,
            images: &images,
            ratio: sw.ratio,
            max_images: Some(sw.max_images),
        };
        self.random_set(draw, state, progress)?;
        for name in [SWEEP_RANDOM, SWEEP_RANDOM_TEACHER] {
            state.sweep.push(SweepResult::control(name));
        }
        Ok(())
    }

    /// A cell's condensed set and its realism (from the set's manifest).
    fn sweep_set(
        &self,
        name: &str,
        c: &SweepCell,
        state: &mut State,
        progress: &mut Progress,
    ) -> Result<()> {
        let (images, _) = self.sweep_dirs(state)?;
        let key = (
            &c.config,
            &self.pool_key,
            &state.model(c.extractor_role())?.fingerprint,
            &state.model("teacher")?.fingerprint,
            self.sweep()?.max_images,
        );
        let st = Stage::new(self.work, name, &key);
        let made: Option<usize> = if_done(progress.stage(&st, |dir| {
            let role = c.extractor_role();
            let ds = self.build_idc(
                state,
                role,
                &images,
                dir,
                &c.config,
                0,
                CacheMode::LazyCondense,
            )?;
            ds.condense_all()?;
            Ok(ds.len())
        }))?;
        let done = made.is_some();
        let realism = match done {
            true => Manifest::read(&st.dir.join("shards"))?.realism_summary(),
            false => None,
        };
        state.sweep.push(SweepResult {
            cell: c.name.clone(),
            variant: c.variant.clone(),
            iters: c.iters,
            lr: c.lr,
            strong: c.strong,
            realism,
            holdout_psnr: Vec::new(),
        });
        state.sets.insert(name.into(), SetDir { dir: st.dir, done });
        Ok(())
    }
}

/// An optional part of the preset that a planned step needs (the plan only makes such steps
/// when the part is there, so `None` is a planning bug shown as an error, not a panic).
fn preset_part<'a, T>(part: &'a Option<T>, what: &str) -> Result<&'a T> {
    part.as_ref().ok_or_else(|| {
        IdcError::Internal(format!("a step needs the preset's {what}, which it lacks"))
    })
}
