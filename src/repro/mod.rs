//! Reproduction of the paper's Tables 1-3 on real images, as resumable stages.
//!
//! - `preset`: the sizes and budgets (`smoke`, `cpu`, `gpu`, `paper`).
//! - `stage`: on-disk stage cache keyed by fingerprints (an interrupted run continues).
//! - `report`: tables (`table1.md/json`, Table 2 and 3 analogues) and the convergence plot.
//!
//! Pipeline ([`run`]): extractor and teacher trained on the whole training set -> 10% sets (IDC,
//! Random, Herding, K-center, DCSR; same patch count) -> one student per set and seed, plus the
//! whole set, same architecture and schedule -> evaluation on Set5/Set14/BSD100 (BasicSR
//! protocol) plus bicubic -> tables and plot. The validation curve of every student is measured
//! on Set5 (reported, never used to choose anything).

pub mod plot;
pub mod preset;
pub mod report;
pub mod stage;

pub use preset::{AblationSpec, Preset, TrainSpec};

use crate::condense::CondenseConfig;
use crate::config::PatchConfig;
use crate::dataset::SrPair;
use crate::dataset::idc::{CacheMode, IdcDataset};
use crate::dataset::relabel::TeacherLabeled;
use crate::dataset::selection::SelectionDataset;
use crate::dataset::sr_patch::SrPatchDataset;
use crate::device::{DefaultBackend, TrainBackend, default_device};
use crate::error::{IdcError, Result};
use crate::image::io::list_images;
use crate::models::edsr::Edsr;
use crate::models::load_model_dir;
use crate::select::pipeline::select_to_cache;
use crate::select::{SelectConfig, SelectMethod};
use crate::train::{
    EvalReport, TrainConfig, TrainOptions, TrainSummary, ValidRecord, evaluate_bicubic,
    evaluate_model, train_sr,
};
use burn::data::dataset::Dataset;
use serde::{Deserialize, Serialize};
use stage::Stage;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Where a run reads and writes.
#[derive(Clone, Debug)]
pub struct RunPaths {
    /// HR training images (T91 + BSD200 by default; DIV2K for the paper preset).
    pub train_dir: PathBuf,
    /// Folder holding `Set5`, `Set14`, `BSD100`.
    pub test_root: PathBuf,
    /// Stage cache (large; not committed).
    pub work: PathBuf,
    /// Results (tables, plot, README) to commit.
    pub out: PathBuf,
}

/// The evaluation sets, in table order.
pub const TEST_SETS: [&str; 3] = ["Set5", "Set14", "BSD100"];
/// The validation set of the convergence curves.
pub const VALID_SET: &str = "Set5";

/// One trained student and its evaluation.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StudentResult {
    pub method: String,
    pub seed: u64,
    pub items: usize,
    pub train_seconds: f64,
    pub final_loss: Option<f64>,
    pub validation: Vec<ValidRecord>,
    /// Per test set: (name, report without per-image rows).
    pub eval: Vec<(String, Scores)>,
}

/// Mean scores of one evaluation.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct Scores {
    pub psnr_rgb: f64,
    pub ssim_rgb: f64,
    pub psnr_y: f64,
    pub ssim_y: f64,
}

impl From<&EvalReport> for Scores {
    fn from(r: &EvalReport) -> Self {
        Scores {
            psnr_rgb: r.psnr_rgb,
            ssim_rgb: r.ssim_rgb,
            psnr_y: r.psnr_y,
            ssim_y: r.ssim_y,
        }
    }
}

/// Whole-run outcome, written to `run.json` next to the tables.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunOutcome {
    pub preset: Preset,
    pub pool_patches: usize,
    pub set_patches: usize,
    pub bicubic: Vec<(String, Scores)>,
    /// The teacher on the test sets (reference row; empty in runs from before it was kept).
    #[serde(default)]
    pub teacher: Vec<(String, Scores)>,
    pub students: Vec<StudentResult>,
    pub ablation: Vec<StudentResult>,
    /// (stage name, seconds it took when it ran) for every finished stage, in pipeline order,
    /// whichever invocation ran it (None: finished before stage times were recorded).
    pub stage_seconds: Vec<(String, Option<f64>)>,
    /// Wall seconds of the invocation that wrote this outcome.
    pub wall_seconds: f64,
    pub backend: String,
    /// Stages not finished yet (only a report-only run leaves any): the tables are partial.
    #[serde(default)]
    pub missing: Vec<String>,
}

/// Whether [`run_with`] runs the missing stages or only reports the finished ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunMode {
    /// Run (or resume) every stage, then write the results.
    Run,
    /// Run nothing; write the results of the finished stages and list the missing ones (a
    /// progress report for a run that spans several sessions).
    ReportOnly,
}

/// Progress over the stages of a run: prints stage i/N, elapsed and a naive ETA; in a
/// report-only run it runs nothing and records which stages are missing.
struct Progress {
    start: Instant,
    done: usize,
    total: usize,
    /// Stages run by this invocation, with their seconds (for the ETA).
    ran: Vec<(String, f64)>,
    /// Every finished stage met so far, with its measured seconds (whenever it ran).
    times: Vec<(String, Option<f64>)>,
    report_only: bool,
    missing: Vec<String>,
}

impl Progress {
    fn stage<T, F>(&mut self, stage: &Stage, f: F) -> Result<T>
    where
        T: Serialize + serde::de::DeserializeOwned,
        F: FnOnce(&Path) -> Result<T>,
    {
        self.done += 1;
        if self.report_only {
            return match stage.load::<T>() {
                Some(v) => {
                    self.times.push((stage.name.clone(), stage.seconds()));
                    Ok(v)
                }
                None => {
                    self.missing.push(stage.name.clone());
                    Err(IdcError::StageMissing(stage.name.clone()))
                }
            };
        }
        let t0 = Instant::now();
        let elapsed = self.start.elapsed().as_secs_f64();
        let run_secs: f64 = self.ran.iter().map(|(_, s)| s).sum();
        let eta = if self.ran.is_empty() {
            "unknown".to_string()
        } else {
            let per = run_secs / self.ran.len() as f64;
            format!(
                "~{:.0} min",
                per * (self.total + 1 - self.done) as f64 / 60.0
            )
        };
        eprintln!(
            "[repro {}/{}] {} (elapsed {:.0} s, ETA {eta})",
            self.done, self.total, stage.name, elapsed
        );
        // `Stage::run` calls `f` only when the stage is not cached; its marker is read once there.
        let mut ran = false;
        let v = stage.run(|dir| {
            ran = true;
            f(dir)
        })?;
        if ran {
            self.ran
                .push((stage.name.clone(), t0.elapsed().as_secs_f64()));
        }
        self.times.push((stage.name.clone(), stage.seconds()));
        Ok(v)
    }
}

/// `Ok(None)` for a stage a report-only run found unfinished; other errors pass through.
fn if_done<T>(r: Result<T>) -> Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(IdcError::StageMissing(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Copies the first `n` images (sorted) of `src` into `dst` (a fixed subset for small presets).
fn subset_dir(src: &Path, dst: &Path, n: Option<usize>) -> Result<PathBuf> {
    let Some(n) = n else {
        return Ok(src.to_path_buf());
    };
    // One folder per size (`<dst>-<n>`): presets with different subsets of the same images can
    // share a stage cache, and run at the same time, without changing each other's images.
    let mut name = dst.file_name().unwrap_or_default().to_os_string();
    name.push(format!("-{n}"));
    let dst = &dst.with_file_name(name);
    let files = list_images(src)?;
    std::fs::create_dir_all(dst).map_err(|e| IdcError::io(dst, e))?;
    let mut wanted = std::collections::HashSet::new();
    for f in files.iter().take(n) {
        let rel = f.strip_prefix(src).unwrap_or(f);
        let name = rel.to_string_lossy().replace(['/', '\\'], "__");
        let target = dst.join(&name);
        if !target.exists() {
            std::fs::copy(f, &target).map_err(|e| IdcError::io(&target, e))?;
        }
        wanted.insert(std::ffi::OsString::from(name));
    }
    // The folder is exactly the subset: a preset that lowers `n` must not keep training on the
    // images an earlier, larger subset copied here (the folder is ours, under `--work`).
    for entry in std::fs::read_dir(dst).map_err(|e| IdcError::io(dst, e))? {
        let entry = entry.map_err(|e| IdcError::io(dst, e))?;
        if !wanted.contains(&entry.file_name()) {
            let path = entry.path();
            std::fs::remove_file(&path).map_err(|e| IdcError::io(&path, e))?;
        }
    }
    Ok(dst.to_path_buf())
}

/// What a stage keyed on a patch pool depends on: each instance's name and patch count.
fn instances_key(pool: &SrPatchDataset) -> Vec<(String, usize)> {
    pool.instances()
        .iter()
        .map(|i| (i.name.clone(), i.num_patches))
        .collect()
}

fn train_config(spec: &TrainSpec, scale: usize, seed: u64) -> TrainConfig {
    let mut c = TrainConfig::new(&spec.arch, scale, spec.iters);
    c.batch = spec.batch;
    c.lr_patch = spec.lr_patch;
    c.seed = seed;
    c.valid_every = spec.valid_every;
    c.checkpoint_every = spec.valid_every;
    c
}

/// Trains into `<dir>/model`, resuming an interrupted attempt when it left a checkpoint; a
/// checkpoint that cannot be resumed (e.g. torn by a kill) is discarded and training restarts.
fn train_in<D: Dataset<SrPair> + 'static>(
    config: &TrainConfig,
    data: &dyn Fn() -> Result<D>,
    valid: Option<&Path>,
    dir: &Path,
) -> Result<TrainSummary> {
    let model = dir.join("model");
    let has_checkpoint = std::fs::read_dir(model.join("burn").join("checkpoint"))
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .any(|e| e.file_name().to_string_lossy().starts_with("model-"))
        })
        .unwrap_or(false);
    let device = default_device();
    if has_checkpoint {
        let options = TrainOptions::new(config.clone(), &model)
            .with_valid_dir(valid)
            .with_resume(true);
        match train_sr::<TrainBackend, D>(data()?, &options, &device) {
            Ok(s) => return Ok(s),
            Err(e) => eprintln!("[repro] resume failed ({e}); restarting this training"),
        }
    }
    if model.exists() {
        std::fs::remove_dir_all(&model).map_err(|e| IdcError::io(&model, e))?;
    }
    let options = TrainOptions::new(config.clone(), &model).with_valid_dir(valid);
    train_sr::<TrainBackend, D>(data()?, &options, &device)
}

fn evaluate_dir(
    model_dir: &Path,
    test_dirs: &[(String, PathBuf)],
    scale: usize,
) -> Result<Vec<(String, Scores)>> {
    let device = default_device();
    let (model, _) = load_model_dir::<DefaultBackend>(model_dir, &device)?;
    test_dirs
        .iter()
        .map(|(name, dir)| {
            Ok((
                name.clone(),
                Scores::from(&evaluate_model(&model, dir, scale, &device)?),
            ))
        })
        .collect()
}

#[derive(Serialize)]
struct StudentKey<'a> {
    method: &'a str,
    set: &'a str,
    spec: &'a TrainSpec,
    scale: usize,
    seed: u64,
    tests: &'a [(String, PathBuf)],
}

/// Runs (or resumes) the whole reproduction and writes the results into `paths.out`.
pub fn run(preset: &Preset, paths: &RunPaths) -> Result<RunOutcome> {
    run_with(preset, paths, RunMode::Run)
}

/// [`run`], or with [`RunMode::ReportOnly`] the partial results of the stages finished so far.
pub fn run_with(preset: &Preset, paths: &RunPaths, mode: RunMode) -> Result<RunOutcome> {
    preset.validate()?;
    let start = Instant::now();
    let work = &paths.work;
    std::fs::create_dir_all(work).map_err(|e| IdcError::io(work, e))?;
    std::fs::create_dir_all(&paths.out).map_err(|e| IdcError::io(&paths.out, e))?;
    let train_dir = subset_dir(
        &paths.train_dir,
        &work.join("data").join("train"),
        preset.max_train_images,
    )?;
    let test_dirs: Vec<(String, PathBuf)> = TEST_SETS
        .iter()
        .map(|s| {
            let d = subset_dir(
                &paths.test_root.join(s),
                &work.join("data").join(s),
                preset.max_test_images,
            )?;
            Ok((s.to_string(), d))
        })
        .collect::<Result<_>>()?;
    let valid_dir = test_dirs[0].1.clone();
    let patch = PatchConfig {
        scale: preset.scale,
        hr_patch: preset.hr_patch,
        step: preset.step,
        thresh_size: 0,
    };
    patch.validate()?;
    let whole = || SrPatchDataset::new(&train_dir, patch.clone());
    let pool = whole()?;
    let pool_patches = pool.len();
    let pool_key = (instances_key(&pool), &patch);

    let main_seeds = preset.seeds_main as u64;
    let base_seeds = preset.seeds_baselines as u64;
    // Whole, IDC, Random, the Random+T control (main seeds) and three baselines.
    let n_students = 4 * main_seeds + 3 * base_seeds;
    let n_ablation = preset
        .ablation
        .as_ref()
        // Each IDC variant and the random control: a set, and a student + evaluation per seed.
        .map(|a| {
            let variants = ablation_variants(&preset.condense, a);
            let seeds: usize = variants.iter().map(|v| a.seeds_of(&v.name)).sum();
            variants.len() + 1 + 2 * (seeds + a.seeds)
        })
        .unwrap_or(0);
    let mut progress = Progress {
        start,
        done: 0,
        // models, IDC set, selected sets, bicubic, students x (train + eval), ablation.
        total: 2 + 1 + (main_seeds + 3) as usize + 2 + 2 * n_students as usize + n_ablation,
        ran: Vec::new(),
        times: Vec::new(),
        report_only: mode == RunMode::ReportOnly,
        missing: Vec::new(),
    };

    // 1. Extractor and teacher on the whole set.
    let device = default_device();
    let mut models = Vec::new();
    for (role, spec) in [
        ("extractor", &preset.extractor),
        ("teacher", &preset.teacher),
    ] {
        let cfg = train_config(spec, preset.scale, 1000);
        let st = Stage::new(work, role, &(&cfg, &pool_key));
        let summary: TrainSummary =
            progress.stage(&st, |dir| train_in(&cfg, &whole, Some(&valid_dir), dir))?;
        models.push(summary);
    }
    let (extractor_dir, teacher_dir) = (models[0].model_dir.clone(), models[1].model_dir.clone());
    let load = |dir: &Path| -> Result<Edsr<TrainBackend>> {
        Ok(load_model_dir::<TrainBackend>(dir, &device)?.0)
    };

    // 2. The 10% sets.
    let mut condense = preset.condense.clone();
    condense.ratio = preset.ratio;
    let idc_stage_for = |tag: &str, cfg: &CondenseConfig| {
        let key = (
            cfg,
            &pool_key,
            &models[0].fingerprint,
            &models[1].fingerprint,
        );
        Stage::new(work, &format!("set-{tag}"), &key)
    };
    let build_idc_in = |images: &Path,
                        cache: &Path,
                        cfg: &CondenseConfig,
                        seed: u64,
                        mode: CacheMode|
     -> Result<IdcDataset> {
        // `clone`, not a copy: the CUDA device is not `Copy`, and this closure must stay `Fn`.
        #[allow(clippy::clone_on_copy)]
        let device = device.clone();
        IdcDataset::builder(images)
            .patch_config(patch.clone())
            .ratio(cfg.ratio)
            .condense(cfg.clone())
            .models::<TrainBackend, _, _>(load(&extractor_dir)?, load(&teacher_dir)?, device)
            .cache_dir(cache.join("shards"))
            .mode(mode)
            .seed(seed)
            // The Whole pool (SrPatchDataset) skips images below one patch; IDC must too.
            .skip_small_images(true)
            .build()
    };
    let build_idc = |cache: &Path, cfg: &CondenseConfig, mode: CacheMode| {
        build_idc_in(&train_dir, cache, cfg, 0, mode)
    };
    let idc_stage = idc_stage_for("IDC", &condense);
    let set_patches: Option<usize> = if_done(progress.stage(&idc_stage, |dir| {
        let ds = build_idc(dir, &condense, CacheMode::LazyCondense)?;
        ds.condense_all()?;
        Ok(ds.len())
    }))?;

    // Random draws one set per seed; the other baselines draw one set (seed 0) and their extra
    // seeds vary only the student's training, like IDC (whose condensation is seeded once).
    let mut select_sets = Vec::new();
    for method in [
        SelectMethod::Random,
        SelectMethod::Herding,
        SelectMethod::KCenter,
        SelectMethod::Dcsr,
    ] {
        let random = method == SelectMethod::Random;
        let seeds = if random { main_seeds } else { base_seeds };
        let mut set_dir: Option<PathBuf> = None;
        for seed in 0..seeds {
            if seed == 0 || random {
                let cfg = SelectConfig {
                    method,
                    ratio: preset.ratio,
                    seed,
                    ..SelectConfig::default()
                };
                let st = Stage::new(
                    work,
                    &format!("set-{method}-s{seed}"),
                    &(&cfg, &pool_key, &models[0].fingerprint),
                );
                let n: Option<usize> = if_done(progress.stage(&st, |dir| {
                    // Inference backend: forward passes on the autodiff backend keep their
                    // graphs (activations) until a backward that never comes; over a whole pool
                    // that exhausted 24 GiB.
                    let ex = load_model_dir::<DefaultBackend>(&extractor_dir, &device)?.0;
                    let r = select_to_cache::<DefaultBackend, Edsr<DefaultBackend>>(
                        &pool,
                        &dir.join("shards"),
                        &patch,
                        &cfg,
                        Some(&ex),
                        &device,
                    )?;
                    Ok(r.selected)
                }))?;
                if let (Some(n), Some(m)) = (n, set_patches)
                    && n != m
                {
                    return Err(IdcError::InvalidInput(format!(
                        "{method} selected {n} patches, IDC made {m}: the sets must be equal in size"
                    )));
                }
                set_dir = n.map(|_| st.dir.clone());
            }
            if let Some(dir) = &set_dir {
                select_sets.push((method, seed, dir.clone()));
            }
        }
    }

    // 3. Students (+ evaluation), and bicubic.
    let bicubic_stage = Stage::new(work, "bicubic", &(&test_dirs, preset.scale));
    let bicubic: Vec<(String, Scores)> = if_done(progress.stage(&bicubic_stage, |_| {
        test_dirs
            .iter()
            .map(|(n, d)| Ok((n.clone(), Scores::from(&evaluate_bicubic(d, preset.scale)?))))
            .collect()
    }))?
    .unwrap_or_default();
    // The teacher on the test sets: the reference the teacher-labelled sets (IDC, Random+T) are
    // distilled from (not a Table-1 method).
    let teacher_stage = Stage::new(
        work,
        "eval-teacher",
        &(&models[1].fingerprint, &test_dirs, preset.scale),
    );
    let teacher_scores: Vec<(String, Scores)> = if_done(progress.stage(&teacher_stage, |_| {
        evaluate_dir(&teacher_dir, &test_dirs, preset.scale)
    }))?
    .unwrap_or_default();

    let mut students = Vec::new();
    let student = |method: &str,
                   set_tag: &str,
                   seed: u64,
                   spec: &TrainSpec,
                   data: &dyn Fn() -> Result<DynSet>,
                   progress: &mut Progress|
     -> Result<StudentResult> {
        let cfg = train_config(spec, preset.scale, seed);
        let key = StudentKey {
            method,
            set: set_tag,
            spec,
            scale: preset.scale,
            seed,
            tests: &test_dirs,
        };
        let st = Stage::new(work, &format!("student-{method}-s{seed}"), &key);
        let summary: TrainSummary =
            progress.stage(&st, |dir| train_in(&cfg, data, Some(&valid_dir), dir))?;
        let ev_stage = Stage::new(
            work,
            &format!("eval-{method}-s{seed}"),
            &(&summary.fingerprint, &test_dirs),
        );
        let eval: Vec<(String, Scores)> = progress.stage(&ev_stage, |_| {
            evaluate_dir(&summary.model_dir, &test_dirs, preset.scale)
        })?;
        Ok(StudentResult {
            method: method.to_string(),
            seed,
            items: summary.config.iters,
            train_seconds: summary.wall_seconds,
            final_loss: summary.final_loss,
            validation: summary.validation,
            eval,
        })
    };

    for seed in 0..main_seeds {
        let data = || Ok(DynSet::new(whole()?));
        students.extend(if_done(student(
            "Whole",
            "whole",
            seed,
            &preset.student,
            &data,
            &mut progress,
        ))?);
    }
    let idc_tag = idc_stage.dir.to_string_lossy().into_owned();
    for seed in 0..main_seeds {
        let data = || {
            Ok(DynSet::new(build_idc(
                &idc_stage.dir,
                &condense,
                CacheMode::LoadOnly,
            )?))
        };
        students.extend(if_done(student(
            "IDC",
            &idc_tag,
            seed,
            &preset.student,
            &data,
            &mut progress,
        ))?);
    }
    for (method, seed, set_dir) in &select_sets {
        let tag = set_dir.to_string_lossy().into_owned();
        let data = || {
            Ok(DynSet::new(SelectionDataset::open(
                &set_dir.join("shards"),
            )?))
        };
        students.extend(if_done(student(
            method_name(*method),
            &tag,
            *seed,
            &preset.student,
            &data,
            &mut progress,
        ))?);
    }

    // Control: Random's own sets with the teacher's HR targets. IDC's targets are teacher
    // outputs (distillation, paper Sec. 3), so IDC vs Random mixes two effects; IDC vs Random+T
    // isolates what the condensation of the LR patches adds.
    let teacher_fp = &models[1].fingerprint;
    // A selected set with teacher targets, and the tag that keys its students.
    let teacher_labeled = |set_dir: &Path| -> Result<DynSet> {
        let teacher = load_model_dir::<DefaultBackend>(&teacher_dir, &device)?.0;
        let sel = SelectionDataset::open(&set_dir.join("shards"))?;
        Ok(DynSet::new(TeacherLabeled::new::<DefaultBackend, _, _>(
            &sel, &teacher, &device, 16,
        )?))
    };
    let teacher_labeled_tag =
        |set_dir: &Path| format!("{}+teacher:{teacher_fp}", set_dir.to_string_lossy());
    for (_, seed, set_dir) in select_sets
        .iter()
        .filter(|(m, _, _)| *m == SelectMethod::Random)
    {
        let tag = teacher_labeled_tag(set_dir);
        let data = || teacher_labeled(set_dir);
        students.extend(if_done(student(
            RANDOM_TEACHER,
            &tag,
            *seed,
            &preset.student,
            &data,
            &mut progress,
        ))?);
    }

    // 4. Ablation (Table 3 analogue).
    let mut ablation = Vec::new();
    if let Some(a) = &preset.ablation {
        // The ablation may run on the first `max_images` training images (its cost is six
        // condensed sets); the subset is part of every ablation stage's key.
        let abl_dir = subset_dir(
            &train_dir,
            &work.join("data").join("ablation"),
            a.max_images,
        )?;
        for AblationVariant {
            name: variant,
            config: cfg,
            condense_seed,
        } in ablation_variants(&condense, a)
        {
            let key = (
                &cfg,
                &pool_key,
                &models[0].fingerprint,
                &models[1].fingerprint,
                a.max_images,
            );
            let name = format!("set-abl-{variant}");
            // Seed 0 keeps the key it had before condensation seeds were varied.
            let st = match condense_seed {
                0 => Stage::new(work, &name, &key),
                s => Stage::new(work, &name, &(key, s)),
            };
            let made: Option<usize> = if_done(progress.stage(&st, |dir| {
                let ds = build_idc_in(&abl_dir, dir, &cfg, condense_seed, CacheMode::LazyCondense)?;
                ds.condense_all()?;
                Ok(ds.len())
            }))?;
            if made.is_none() {
                continue;
            }
            let tag = st.dir.to_string_lossy().into_owned();
            for seed in 0..a.seeds_of(&variant) as u64 {
                let data = || {
                    Ok(DynSet::new(build_idc_in(
                        &abl_dir,
                        &st.dir,
                        &cfg,
                        condense_seed,
                        CacheMode::LoadOnly,
                    )?))
                };
                let name = format!("abl-{variant}");
                ablation.extend(if_done(student(
                    &name,
                    &tag,
                    seed,
                    &a.student,
                    &data,
                    &mut progress,
                ))?);
            }
        }

        // Control at the ablation's ratio: real patches drawn at random, the same number from
        // each image as IDC makes (`per_instance`), with the teacher's HR targets. What separates
        // it from the IDC variants is only the condensation of the LR patches.
        let abl_pool = SrPatchDataset::new(&abl_dir, patch.clone())?;
        let cfg = SelectConfig {
            method: SelectMethod::Random,
            ratio: a.ratio,
            seed: 0,
            per_instance: true,
            ..SelectConfig::default()
        };
        let st = Stage::new(
            work,
            "set-abl-random",
            &(&cfg, &instances_key(&abl_pool), &patch, a.max_images),
        );
        let made: Option<usize> = if_done(progress.stage(&st, |dir| {
            let r = select_to_cache::<DefaultBackend, Edsr<DefaultBackend>>(
                &abl_pool,
                &dir.join("shards"),
                &patch,
                &cfg,
                None,
                &device,
            )?;
            Ok(r.selected)
        }))?;
        if made.is_some() {
            let tag = teacher_labeled_tag(&st.dir);
            for seed in 0..a.seeds as u64 {
                let data = || teacher_labeled(&st.dir);
                ablation.extend(if_done(student(
                    &format!("abl-{ABLATION_RANDOM_TEACHER}"),
                    &tag,
                    seed,
                    &a.student,
                    &data,
                    &mut progress,
                ))?);
            }
        }
    }

    let outcome = RunOutcome {
        preset: preset.clone(),
        pool_patches,
        set_patches: set_patches.unwrap_or(0),
        bicubic,
        teacher: teacher_scores,
        students,
        ablation,
        stage_seconds: progress.times.clone(),
        wall_seconds: start.elapsed().as_secs_f64(),
        backend: crate::device::BACKEND_NAME.to_string(),
        missing: progress.missing.clone(),
    };
    report::write_all(&outcome, &paths.out)?;
    Ok(outcome)
}

/// Table name of the control row: Random's sets relabelled by the teacher.
pub const RANDOM_TEACHER: &str = "Random+T";

/// Table-3 name of the same control at the ablation's ratio (per-instance random draw).
pub const ABLATION_RANDOM_TEACHER: &str = "random+T";

/// The ablation variant every other one is compared with (all three losses, RLFF, unfolding,
/// frequency bank: the paper's full method at the ablation's ratio).
pub const ABLATION_FULL: &str = "ins+group+pair";

/// Table names of the selection methods.
pub fn method_name(m: SelectMethod) -> &'static str {
    match m {
        SelectMethod::Random => "Random",
        SelectMethod::Herding => "Herding",
        SelectMethod::KCenter => "K-center",
        SelectMethod::Dcsr => "DCSR",
    }
}

/// One Table-3 row's condensed set.
#[derive(Clone, Debug)]
pub struct AblationVariant {
    pub name: String,
    pub config: CondenseConfig,
    /// Base seed of the condensation (initial patches, k-means, frequency draws).
    pub condense_seed: u64,
}

/// Name of the full method condensed again with another seed: the difference between the two
/// full sets is the spread between condensation runs, which student seeds cannot show (every
/// other row is one condensation).
pub const ABLATION_FULL_RESEEDED: &str = "ins+group+pair@1";

/// The Table-3 variants at the ablation ratio: full IDC, instance only, + group, RLFF off,
/// unfolding off, fresh draws instead of the frequency bank, and (`reseed_full`) the full method
/// with condensation seed 1.
pub fn ablation_variants(base: &CondenseConfig, a: &AblationSpec) -> Vec<AblationVariant> {
    let mut full = base.clone();
    full.ratio = a.ratio;
    full.iters = a.condense_iters;
    full.warmup = full.warmup.min(a.condense_iters / 3);
    full.assign = full.assign.min(a.condense_iters / 3);
    full.assign_every = full.assign_every.clamp(1, full.assign.max(1));
    let with = |f: &dyn Fn(&mut CondenseConfig)| {
        let mut c = full.clone();
        f(&mut c);
        c
    };
    let variant = |name: &str, config: CondenseConfig, condense_seed: u64| AblationVariant {
        name: name.into(),
        config,
        condense_seed,
    };
    let mut variants = vec![
        variant(
            "ins",
            with(&|c| {
                c.w_group = 0.0;
                c.w_pair = 0.0;
            }),
            0,
        ),
        variant("ins+group", with(&|c| c.w_pair = 0.0), 0),
        variant(ABLATION_FULL, full.clone(), 0),
        variant("rlff-off", with(&|c| c.rlff.enabled = false), 0),
        variant("unfold-off", with(&|c| c.rlff.unfold = false), 0),
        variant("fresh-draws", with(&|c| c.freq_bank = 0), 0),
    ];
    if a.reseed_full {
        variants.push(variant(ABLATION_FULL_RESEEDED, full, 1));
    }
    variants
}

/// A boxed `Dataset<SrPair>` so every set trains through the same generic call.
pub struct DynSet(Box<dyn Dataset<SrPair>>);

impl DynSet {
    pub fn new<D: Dataset<SrPair> + 'static>(d: D) -> Self {
        DynSet(Box::new(d))
    }
}

impl Dataset<SrPair> for DynSet {
    fn get(&self, index: usize) -> Option<SrPair> {
        self.0.get(index)
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subset_dir_holds_exactly_the_first_n_images() {
        let src = tempfile::tempdir().expect("temp dir");
        let work = tempfile::tempdir().expect("temp dir");
        for name in ["a.png", "b.png", "c.png"] {
            image::RgbImage::new(4, 4)
                .save(src.path().join(name))
                .expect("write png");
        }
        let base = work.path().join("subset");
        let names = |d: &Path| {
            let mut v: Vec<String> = std::fs::read_dir(d)
                .expect("read dir")
                .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        };
        let three = subset_dir(src.path(), &base, Some(3)).expect("subset of 3");
        assert_eq!(three, work.path().join("subset-3"));
        assert_eq!(names(&three), ["a.png", "b.png", "c.png"]);
        let two = subset_dir(src.path(), &base, Some(2)).expect("subset of 2");
        assert_eq!(names(&two), ["a.png", "b.png"]);
        assert_eq!(
            names(&three).len(),
            3,
            "another size's folder is left alone"
        );
        // A stray file in a subset folder (e.g. from an older layout) is dropped.
        std::fs::write(two.join("stray.png"), b"x").expect("write");
        subset_dir(src.path(), &base, Some(2)).expect("subset of 2 again");
        assert_eq!(names(&two), ["a.png", "b.png"]);
        assert_eq!(
            subset_dir(src.path(), &base, None).expect("no subset"),
            src.path()
        );
    }
}
