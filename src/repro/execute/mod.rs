//! How each planned stage runs: its fingerprinted key, its work, and what it leaves for the
//! stages after it.

use super::ablation::AblationVariant;
use super::outcome::{Scores, StudentResult};
use super::plan::{
    ABLATION_RANDOM_SET, Data, IDC_SET, Step, Student, Table, ablation_set_name, sweep_set_name,
};
use super::preset::{AblationSpec, HOLDOUT_SET, Preset, RatioTable, SweepSpec, TrainSpec};
use super::progress::{Progress, if_done};
use super::stage::Stage;
use super::sweep::{
    STRONG_EXTRACTOR, SWEEP_RANDOM, SWEEP_RANDOM_SET, SWEEP_RANDOM_TEACHER, SweepCell, SweepResult,
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
use crate::image::io::list_images;
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

mod sets;
mod students;
mod sweep;

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
    /// The held-back training images (`holdout_images`), scored by the reference stage too.
    holdout: Option<PathBuf>,
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
        let (train_dir, holdout) = train_and_holdout(preset, &paths.train_dir, &data)?;
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
        let valid_dir = match (task, &holdout) {
            (_, Some(held)) => Some(held.clone()),
            (Task::SuperResolution { .. }, None) => test_dirs.first().map(|(_, d)| d.clone()),
            (Task::Denoise { .. }, None) => None,
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
            holdout,
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

/// The training images (the first `max_train_images`) and, when the preset holds some back,
/// the pool without them and the held-back slice (the last `holdout_images`).
fn train_and_holdout(
    preset: &Preset,
    src: &Path,
    data: &Path,
) -> Result<(PathBuf, Option<PathBuf>)> {
    let train = subset_dir(src, &data.join("train"), preset.max_train_images)?;
    let Some(held) = preset.holdout_images else {
        return Ok((train, None));
    };
    let n = list_images(&train)?.len();
    if held >= n {
        return Err(IdcError::config(
            "holdout_images",
            format!("{held} leaves none of the {n} training images to train on"),
        ));
    }
    let pool = subset_dir(&train, &data.join("train-pool"), Some(n - held))?;
    let valid = holdout_dir(&train, &data.join("valid"), n - held, held)?;
    Ok((pool, Some(valid)))
}

/// A random control set: its stage name, the images it draws from, per-image ratio and the
/// image cap (part of the stage key).
struct RandomDraw<'a> {
    name: &'static str,
    images: &'a Path,
    ratio: f64,
    max_images: Option<usize>,
}

/// A student's training data, built only when its training stage runs.
type DataFn<'a> = Box<dyn Fn() -> Result<DynSet> + 'a>;

/// An optional part of the preset that a planned step needs (the plan only makes such steps
/// when the part is there, so `None` is a planning bug shown as an error, not a panic).
fn preset_part<'a, T>(part: &'a Option<T>, what: &str) -> Result<&'a T> {
    part.as_ref().ok_or_else(|| {
        IdcError::Internal(format!("a step needs the preset's {what}, which it lacks"))
    })
}
