//! Reproduction presets: every size and budget of one reproduction run, in one serialisable
//! value (its pieces key the resumable stages, so editing a preset reruns only what it changes).

mod builtin;
mod denoise;
mod ratio;

use crate::condense::CondenseConfig;
use crate::config::{PatchConfig, valid_config};
use crate::error::{IdcError, Result};
use crate::task::Task;
pub use ratio::{RatioRow, RatioTable};
pub(crate) use ratio::{RowKind, pct};
use serde::{Deserialize, Serialize};

/// One network training budget.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainSpec {
    /// `edsr-tiny`, `edsr-small`, `edsr-baseline`, `edsr:<features>x<blocks>`, `swinir-tiny`,
    /// `swinir-light` or `swinir-classical` (see `models::NetConfig::from_arch`).
    pub arch: String,
    /// Training iterations.
    pub iters: usize,
    /// Batch size (pairs per iteration).
    pub batch: usize,
    /// LR training crop; must not exceed the pool's LR patch side.
    pub lr_patch: usize,
    /// Validation (on the validation set) every this many iterations.
    pub valid_every: usize,
    /// Initial learning rate; `None`: BasicSR's 2e-4 ([`crate::train::TrainConfig::new`]).
    /// Left out of the JSON when `None`, so the stage keys of presets without it are unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lr: Option<f64>,
}

/// The Table-3 analogue: IDC variants (and a random control) condensed at `ratio` per image on
/// the first `max_images` images, one student per variant and seed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AblationSpec {
    /// Condensation ratio per image, in (0, 1].
    pub ratio: f64,
    /// Seeds per variant.
    pub seeds: usize,
    /// Seeds of the full method, the row every variant is read against (`None`: `seeds`). Its
    /// seed spread is the student-to-student noise of the setting, so a few extra students
    /// there let the table tell differences from noise without multiplying every variant.
    #[serde(default)]
    pub seeds_full: Option<usize>,
    /// Also condense the full method with seed 1 (row `ins+group+pair@1`): every row is one
    /// condensation, and this pair of full sets shows how far two condensation runs differ.
    #[serde(default)]
    pub reseed_full: bool,
    /// Student budget for the ablation (usually shorter than the main table's).
    pub student: TrainSpec,
    /// Condensation iterations per instance for the ablation.
    pub condense_iters: usize,
    /// Run the ablation on the first N training images only (`None`: all).
    #[serde(default)]
    pub max_images: Option<usize>,
}

impl AblationSpec {
    /// Students per seed loop of `variant` (the full method may have more seeds).
    pub fn seeds_of(&self, variant: &str) -> usize {
        match self.seeds_full {
            Some(n) if variant == super::ABLATION_FULL => n,
            _ => self.seeds,
        }
    }
}

/// One row family of the budget sweep (issue #25; cells and checks in `repro::sweep`): a change to the base condensation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepVariant {
    /// Row name (e.g. `full`, `ins`, `noise-init`).
    pub name: String,
    /// Fields merged over the base config (a JSON object, nested objects merged; `{}`: the
    /// base itself). Unknown fields are errors, as in every config file.
    #[serde(default = "empty_object")]
    pub config: serde_json::Value,
    /// Crossed with every learning rate of the sweep (`false`: the first one only).
    #[serde(default)]
    pub all_lrs: bool,
    /// Condensed with the sweep's stronger extractor instead of the preset's.
    #[serde(default)]
    pub strong_extractor: bool,
    /// Learning rates of this variant alone, instead of the sweep's (`all_lrs` is then
    /// ignored): a parametrisation whose step means another pixel speed. Left out of the JSON
    /// when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lrs: Option<Vec<f64>>,
    /// Budgets of this variant alone, instead of the sweep's (a late variant that skips the
    /// long ones). Left out of the JSON when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iters: Option<Vec<usize>>,
}

impl SweepVariant {
    /// A variant condensed with the preset's extractor at the sweep's learning rates.
    pub fn new(name: &str, config: serde_json::Value, all_lrs: bool) -> Self {
        SweepVariant {
            name: name.into(),
            config,
            all_lrs,
            strong_extractor: false,
            lrs: None,
            iters: None,
        }
    }
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(Default::default())
}

/// The sweep's axes and budgets.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepSpec {
    /// Condensation iterations (the budget axis; the schedule keeps the base's proportions).
    pub iters: Vec<usize>,
    /// Adam learning rates; variants without `all_lrs` use the first.
    pub lrs: Vec<f64>,
    /// The variants, in table order.
    pub variants: Vec<SweepVariant>,
    /// The stronger extractor (trained on the whole set with this budget), if a variant asks.
    pub strong_extractor: Option<TrainSpec>,
    /// Condensation ratio per image.
    pub ratio: f64,
    /// Images condensed: the first N of the training pool.
    pub max_images: usize,
    /// Held-out training images scored after every student: the N after `max_images`.
    pub holdout_images: usize,
    /// One student per cell.
    pub student: TrainSpec,
    /// A cell (by name) given `seeds` students for the seed spread; every other cell has one.
    pub seed_cell: Option<String>,
    /// Students of `seed_cell`.
    pub seeds: usize,
    /// Control rows without condensation: the same images' real patches drawn at random per
    /// image at `ratio`, one student on their real HR targets (`random`) and one on the
    /// teacher's (`random+T`), so a cell's gain splits into distillation and condensation.
    /// Left out of the JSON when false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub controls: bool,
    /// Cells condensed again with other set seeds: the condensation-seed spread, which the
    /// student seeds (`seed_cell`) do not show. Left out of the JSON when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_seeds: Option<SetSeedSpread>,
}

/// Cells of the sweep condensed `sets` times in all, with set seeds `0..sets` (seed 0 is the
/// cell itself), one student each; every repeat is a row of its own (`<cell>-set<k>`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetSeedSpread {
    /// Cell names (`<variant>-i<iters>-lr<lr>`).
    pub cells: Vec<String>,
    /// Condensations per cell, the cell's own included (>= 2).
    pub sets: usize,
}

/// Everything a reproduction run does.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preset {
    /// Preset name (`smoke`, `cpu`, `gpu`, `paper` or a custom one).
    pub name: String,
    /// Super-resolution factor (1 for denoising).
    pub scale: usize,
    /// The task when it is not SR at `scale` (denoising at a noise level; `scale` is then 1), as
    /// in `PatchConfig` and `TrainConfig`. Left out of the JSON for SR.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<Task>,
    /// HR patch side of the pool (LR side = hr_patch / scale) and grid step.
    pub hr_patch: usize,
    /// HR grid step in pixels.
    pub step: usize,
    /// Use only the first N training images (sorted by path); `None`: all.
    pub max_train_images: Option<usize>,
    /// Condensation ratio of the main table.
    pub ratio: f64,
    /// Frozen feature extractor trained on the whole set.
    pub extractor: TrainSpec,
    /// Teacher (HR targets of IDC), trained on the whole set with a larger budget; `None`: the
    /// identity, for denoising, where a condensed clean patch is its own target. Left out of the
    /// JSON when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teacher: Option<TrainSpec>,
    /// Every student of the main table and, unless it names its own, of the ratio table (same
    /// architecture, iterations, batch, schedule).
    pub student: TrainSpec,
    /// Further student families of the main table (the paper's Table 1 has a block of rows
    /// per family): each trains every row as `student` does, on the same sets. Architectures
    /// are distinct from each other and from `student`'s. Left out of the JSON when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub more_students: Vec<TrainSpec>,
    /// Hold back the last N training images (sorted by path) from every stage and validate the
    /// students (and the extractor and teacher) on them instead of on the first test set, so
    /// convergence (Table 2) is read without touching the test sets. Left out of the JSON when
    /// absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holdout_images: Option<usize>,
    /// Seeds for Whole, Random and IDC (and every row of the ratio table).
    pub seeds_main: usize,
    /// Seeds for Herding, K-center and DCSR.
    pub seeds_baselines: usize,
    /// Base condensation config (its `ratio` is replaced by [`Preset::ratio`]).
    pub condense: CondenseConfig,
    /// The ablation table (`None`: no ablation).
    pub ablation: Option<AblationSpec>,
    /// Use only the first N images of each test set (`None`: all). Only the smoke preset sets it.
    pub max_test_images: Option<usize>,
    /// Test set folders under the test root, the first also the validation set of SR runs
    /// (default Set5, Set14, BSD100; left out of the JSON then).
    #[serde(
        default = "default_test_sets",
        skip_serializing_if = "is_default_test_sets"
    )]
    pub test_sets: Vec<String>,
    /// Run the main table (Table 1/2: the reduced sets, their students, bicubic and the
    /// teacher); `false` for a preset that only sweeps. Left out of the JSON when `true`.
    #[serde(default = "yes", skip_serializing_if = "is_yes")]
    pub main_table: bool,
    /// The budget sweep (issue #25; `None`: none). Left out of the JSON when absent, so every
    /// preset written before it is byte-identical.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep: Option<SweepSpec>,
    /// The ratio table (Tables 4 and 5 analogues: rows of methods at their own ratios; `None`:
    /// none). Left out of the JSON when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratio_table: Option<RatioTable>,
}

/// The SR evaluation sets, in table order (a preset's default `test_sets`).
pub const TEST_SETS: [&str; 3] = ["Set5", "Set14", "BSD100"];

/// Name of held-out training images scored as a set: the budget sweep's cells, and the
/// validation set of a preset with `holdout_images`.
pub const HOLDOUT_SET: &str = "train-holdout";

fn default_test_sets() -> Vec<String> {
    TEST_SETS.map(String::from).to_vec()
}

fn is_default_test_sets(sets: &[String]) -> bool {
    sets == default_test_sets()
}

fn yes() -> bool {
    true
}

fn is_yes(v: &bool) -> bool {
    *v
}

impl Preset {
    /// The built-in presets' names, in the order the CLI lists them.
    pub const NAMES: [&'static str; 10] = [
        "smoke",
        "smoke-x4",
        "cpu",
        "cpu-natural",
        "cpu-x4",
        "gpu",
        "paper",
        "budget-sweep",
        "denoise-smoke",
        "denoise-cpu",
    ];

    /// A built-in preset by name (one of [`Self::NAMES`]).
    pub fn by_name(name: &str) -> Result<Preset> {
        match name {
            "smoke" => Ok(Self::smoke()),
            "smoke-x4" => Ok(Self::smoke_x4()),
            "cpu" => Ok(Self::cpu()),
            "gpu" => Ok(Self::gpu()),
            "paper" => Ok(Self::paper()),
            "budget-sweep" => Ok(Self::budget_sweep()),
            "cpu-natural" => Ok(Self::cpu_natural()),
            "cpu-x4" => Ok(Self::cpu_x4()),
            "denoise-smoke" => Ok(Self::denoise_smoke()),
            "denoise-cpu" => Ok(Self::denoise_cpu()),
            other => Err(IdcError::config(
                "preset",
                format!("unknown preset {other:?} ({})", Self::NAMES.join(", ")),
            )),
        }
    }

    /// The task: SR at `scale` unless `task` says otherwise.
    pub fn task(&self) -> Task {
        self.task
            .unwrap_or(Task::SuperResolution { scale: self.scale })
    }

    /// The HR patch grid of the pool (the task's scale, HR side `hr_patch`, stride `step`).
    pub fn patch(&self) -> PatchConfig {
        PatchConfig {
            scale: self.scale,
            hr_patch: self.hr_patch,
            step: self.step,
            thresh_size: 0,
            task: self.task,
        }
    }

    /// Checks the preset's internal consistency (patch grid, budgets positive, crops fit the pool
    /// patches, the condensation and the sweep's cells valid): the rules [`Self::check`] applies.
    /// Errors name the field (`student.batch`, `ablation.seeds`, `condense.lr`, ...).
    pub fn validate(&self) -> Result<()> {
        self.patch().validate()?;
        let lr_side = self.hr_patch / self.scale;
        self.extractor.validate("extractor", lr_side)?;
        if let Some(teacher) = &self.teacher {
            teacher.validate("teacher", lr_side)?;
        }
        self.student.validate("student", lr_side)?;
        self.validate_families(lr_side)?;
        self.validate_tables(lr_side)?;
        for (name, n) in [
            ("seeds_main", self.seeds_main),
            ("seeds_baselines", self.seeds_baselines),
        ] {
            if n == 0 {
                return Err(IdcError::config(name, "must be > 0"));
            }
        }
        if let Some(a) = &self.ablation {
            a.validate(lr_side)?;
        }
        let mut c = self.condense.clone();
        c.ratio = self.ratio;
        c.validate().map_err(|e| match e {
            IdcError::InvalidConfig { field, reason } if field != "ratio" => {
                IdcError::config(format!("condense.{field}"), reason)
            }
            e => e,
        })?;
        if let Some(sw) = &self.sweep {
            sw.validate(&self.condense)?;
            sw.student.validate("sweep.student", lr_side)?;
            if let Some(strong) = &sw.strong_extractor {
                strong.validate("sweep.strong_extractor", lr_side)?;
            }
        }
        Ok(())
    }

    /// The set students' validation curves are measured on: the held-back training images
    /// when the preset holds some back, else the first test set.
    pub fn valid_set(&self) -> &str {
        match (self.holdout_images, self.test_sets.first()) {
            (None, Some(first)) => first,
            _ => HOLDOUT_SET,
        }
    }

    /// The main table's student families: `student`, then `more_students`.
    pub fn student_families(&self) -> impl Iterator<Item = &TrainSpec> {
        std::iter::once(&self.student).chain(&self.more_students)
    }

    /// Further families train like `student` (valid budgets), each under its own architecture
    /// (it names their rows and stages); a hold-out leaves images to train on.
    fn validate_families(&self, lr_side: usize) -> Result<()> {
        if !self.more_students.is_empty() && !self.main_table {
            return Err(IdcError::config(
                "more_students",
                "are rows of the main table, which this preset does not run",
            ));
        }
        let mut archs = vec![self.student.arch.as_str()];
        for (i, spec) in self.more_students.iter().enumerate() {
            let name = format!("more_students[{i}]");
            spec.validate(&name, lr_side)?;
            if archs.contains(&spec.arch.as_str()) {
                return Err(IdcError::config(
                    format!("{name}.arch"),
                    format!("{:?} is already a student family", spec.arch),
                ));
            }
            archs.push(&spec.arch);
        }
        if let Some(n) = self.holdout_images {
            let enough = self.max_train_images.is_none_or(|m| n < m);
            if n == 0 || !enough {
                return Err(IdcError::config(
                    "holdout_images",
                    "must be > 0 and leave training images (below max_train_images)",
                ));
            }
        }
        Ok(())
    }

    /// The tables a task and a teacher allow: the main table, the ablation and the sweep are
    /// super-resolution designs whose IDC targets come from a trained teacher; denoising has
    /// none (its teacher is the identity) and runs the ratio table only.
    fn validate_tables(&self, lr_side: usize) -> Result<()> {
        if self.test_sets.is_empty() {
            return Err(IdcError::config("test_sets", "must not be empty"));
        }
        if let Some(t) = &self.ratio_table {
            t.validate(&self.condense, lr_side)?;
        }
        let denoise = self.task().sigma().is_some();
        match (&self.teacher, denoise) {
            (Some(_), true) => Err(IdcError::config(
                "teacher",
                "denoising condenses clean patches with the identity teacher: leave it out",
            )),
            (None, false) => Err(IdcError::config(
                "teacher",
                "super-resolution needs a teacher for IDC's HR targets",
            )),
            _ if denoise
                && (self.main_table || self.ablation.is_some() || self.sweep.is_some()) =>
            {
                Err(IdcError::config(
                    "main_table/ablation/sweep",
                    "are super-resolution tables; a denoising preset runs ratio_table only",
                ))
            }
            _ => Ok(()),
        }
    }
}

valid_config! {
    /// A [`Preset`] that passed [`Preset::check`]: what [`crate::repro::run`] takes.
    ValidPreset(Preset)
}

impl TrainSpec {
    /// Positive budgets and a crop that fits the pool's LR side; errors name `{name}.{field}`.
    pub(crate) fn validate(&self, name: &str, lr_side: usize) -> Result<()> {
        for (field, n) in [
            ("iters", self.iters),
            ("batch", self.batch),
            ("valid_every", self.valid_every),
        ] {
            if n == 0 {
                return Err(IdcError::config(format!("{name}.{field}"), "must be > 0"));
            }
        }
        if self.lr.is_some_and(|lr| !(lr.is_finite() && lr > 0.0)) {
            return Err(IdcError::config(format!("{name}.lr"), "must be positive"));
        }
        if self.lr_patch > lr_side {
            return Err(IdcError::config(
                format!("{name}.lr_patch"),
                format!("{} exceeds the pool's LR patch {lr_side}", self.lr_patch),
            ));
        }
        Ok(())
    }
}

impl AblationSpec {
    /// Ratio in (0, 1], positive seeds and iterations, the student's budget.
    fn validate(&self, lr_side: usize) -> Result<()> {
        if !(self.ratio > 0.0 && self.ratio <= 1.0) {
            return Err(IdcError::config("ablation.ratio", "must be in (0, 1]"));
        }
        for (field, n) in [
            ("ablation.seeds", Some(self.seeds)),
            ("ablation.seeds_full", self.seeds_full),
            ("ablation.condense_iters", Some(self.condense_iters)),
        ] {
            if n == Some(0) {
                return Err(IdcError::config(field, "must be > 0"));
            }
        }
        self.student.validate("ablation.student", lr_side)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One test per field `Preset::validate` refuses, from the smoke preset (which has every
    /// optional part: ablation and sweep).
    mod invalid_field {
        use super::*;
        use crate::config::invalid_field_tests;

        fn ab(p: &mut Preset) -> &mut AblationSpec {
            p.ablation.as_mut().expect("smoke has an ablation")
        }

        fn te(p: &mut Preset) -> &mut TrainSpec {
            p.teacher.as_mut().expect("smoke has a teacher")
        }

        fn sw(p: &mut Preset) -> &mut SweepSpec {
            p.sweep.as_mut().expect("smoke has a sweep")
        }

        invalid_field_tests! { Preset::smoke();
            scale_not_2_3_or_4: |c| c.scale = 5 => "scale";
            hr_patch_not_a_multiple_of_scale: |c| c.hr_patch = 63 => "hr_patch";
            step_zero: |c| c.step = 0 => "step";
            ratio_zero: |c| c.ratio = 0.0 => "ratio";
            ratio_above_one: |c| c.ratio = 1.5 => "ratio";
            extractor_iters_zero: |c| c.extractor.iters = 0 => "extractor.iters";
            extractor_batch_zero: |c| c.extractor.batch = 0 => "extractor.batch";
            extractor_valid_every_zero: |c| c.extractor.valid_every = 0 => "extractor.valid_every";
            extractor_lr_patch_above_pool: |c| c.extractor.lr_patch = 33 => "extractor.lr_patch";
            teacher_iters_zero: |c| te(&mut c).iters = 0 => "teacher.iters";
            teacher_lr_patch_above_pool: |c| te(&mut c).lr_patch = 64 => "teacher.lr_patch";
            teacher_missing_for_sr: |c| c.teacher = None => "teacher";
            more_students_same_arch: |c| c.more_students = vec![c.student.clone()]
                => "more_students[0].arch";
            more_students_batch_zero: |c| c.more_students = vec![TrainSpec {
                arch: "swinir-tiny".into(),
                batch: 0,
                ..c.student.clone()
            }] => "more_students[0].batch";
            holdout_images_zero: |c| c.holdout_images = Some(0) => "holdout_images";
            holdout_images_all: |c| c.holdout_images = Some(4) => "holdout_images";
            test_sets_empty: |c| c.test_sets.clear() => "test_sets";
            student_batch_zero: |c| c.student.batch = 0 => "student.batch";
            student_lr_zero: |c| c.student.lr = Some(0.0) => "student.lr";
            student_lr_nan: |c| c.student.lr = Some(f64::NAN) => "student.lr";
            student_lr_patch_above_pool: |c| c.student.lr_patch = 64 => "student.lr_patch";
            seeds_main_zero: |c| c.seeds_main = 0 => "seeds_main";
            seeds_baselines_zero: |c| c.seeds_baselines = 0 => "seeds_baselines";
            condense_lr_zero: |c| c.condense.lr = 0.0 => "condense.lr";
            condense_rlff_kernel_even: |c| c.condense.rlff.kernel = 2 => "condense.rlff.kernel";
            ablation_ratio_zero: |c| ab(&mut c).ratio = 0.0 => "ablation.ratio";
            ablation_ratio_above_one: |c| ab(&mut c).ratio = 1.5 => "ablation.ratio";
            ablation_seeds_zero: |c| ab(&mut c).seeds = 0 => "ablation.seeds";
            ablation_seeds_full_zero: |c| ab(&mut c).seeds_full = Some(0) => "ablation.seeds_full";
            ablation_condense_iters_zero: |c| ab(&mut c).condense_iters = 0
                => "ablation.condense_iters";
            ablation_student_iters_zero: |c| ab(&mut c).student.iters = 0
                => "ablation.student.iters";
            ablation_student_lr_patch_above_pool: |c| ab(&mut c).student.lr_patch = 64
                => "ablation.student.lr_patch";
            sweep_iters_empty: |c| sw(&mut c).iters.clear() => "sweep.iters";
            sweep_iters_zero: |c| sw(&mut c).iters = vec![0] => "sweep.iters";
            sweep_lrs_empty: |c| sw(&mut c).lrs.clear() => "sweep.lrs";
            sweep_lrs_negative: |c| sw(&mut c).lrs = vec![-0.01] => "sweep.lrs";
            sweep_variants_empty: |c| sw(&mut c).variants.clear() => "sweep.variants";
            sweep_variant_unknown_field: |c| sw(&mut c).variants[0].config =
                serde_json::json!({"nope": 1}) => "sweep.variants";
            sweep_variant_bad_value: |c| sw(&mut c).variants[1].config =
                serde_json::json!({"w_ins": -1.0}) => "sweep.variants";
            sweep_ratio_zero: |c| sw(&mut c).ratio = 0.0 => "sweep.ratio";
            sweep_max_images_zero: |c| sw(&mut c).max_images = 0 => "sweep.max_images";
            sweep_holdout_images_zero: |c| sw(&mut c).holdout_images = 0 => "sweep.holdout_images";
            sweep_seeds_zero: |c| sw(&mut c).seeds = 0 => "sweep.seeds";
            sweep_variant_iters_empty: |c| sw(&mut c).variants[0].iters = Some(Vec::new())
                => "sweep.variants.iters";
            sweep_set_seeds_one: |c| sw(&mut c).set_seeds.as_mut().unwrap().sets = 1
                => "sweep.set_seeds.sets";
            sweep_set_seeds_no_cells: |c| sw(&mut c).set_seeds.as_mut().unwrap().cells.clear()
                => "sweep.set_seeds.cells";
            sweep_set_seeds_unknown_cell: |c| sw(&mut c).set_seeds.as_mut().unwrap().cells =
                vec!["ins-i2-lr0.003".into()] => "sweep.set_seeds.cells";
            sweep_strong_extractor_missing: |c| sw(&mut c).variants[0].strong_extractor = true
                => "sweep.strong_extractor";
            sweep_strong_extractor_iters_zero: |c| {
                let s = sw(&mut c);
                s.strong_extractor = Some(TrainSpec { iters: 0, ..s.student.clone() });
            } => "sweep.strong_extractor.iters";
            sweep_seed_cell_unknown: |c| sw(&mut c).seed_cell = Some("nope".into())
                => "sweep.seed_cell";
            sweep_student_batch_zero: |c| sw(&mut c).student.batch = 0 => "sweep.student.batch";
        }
    }

    /// One test per field a denoising preset (the ratio table's home) refuses.
    mod invalid_denoise_field {
        use super::*;
        use crate::config::invalid_field_tests;

        fn rows(p: &mut Preset) -> &mut Vec<RatioRow> {
            &mut p.ratio_table.as_mut().expect("a ratio table").rows
        }

        fn table(p: &mut Preset) -> &mut RatioTable {
            p.ratio_table.as_mut().expect("a ratio table")
        }

        invalid_field_tests! { Preset::denoise_smoke();
            scale_not_1: |c| c.scale = 2 => "scale";
            teacher_given: |c| c.teacher = Some(c.student.clone()) => "teacher";
            main_table_on: |c| c.main_table = true => "main_table/ablation/sweep";
            sweep_given: |c| c.sweep = Preset::smoke().sweep => "main_table/ablation/sweep";
            name_empty: |c| table(&mut c).name.clear() => "ratio_table.name";
            name_not_a_file_stem: |c| table(&mut c).name = "a/b".into() => "ratio_table.name";
            rows_empty: |c| rows(&mut c).clear() => "ratio_table.rows";
            row_unknown_method: |c| rows(&mut c)[1].method = "Nope".into() => "ratio_table.rows";
            row_whole_with_ratio: |c| rows(&mut c)[0].ratio = Some(0.1) => "ratio_table.rows";
            row_idc_without_ratio: |c| rows(&mut c)[3].ratio = None => "ratio_table.rows";
            row_ratio_zero: |c| rows(&mut c)[1].ratio = Some(0.0) => "ratio_table.rows";
            row_ratio_above_one: |c| rows(&mut c)[4].ratio = Some(1.5) => "ratio_table.rows";
            row_twice: |c| rows(&mut c)[2] = RatioRow::new("Random", Some(0.1))
                => "ratio_table.rows";
            student_iters_zero: |c| table(&mut c).student = Some(TrainSpec {
                iters: 0,
                ..c.student.clone()
            }) => "ratio_table.student.iters";
        }
    }

    #[test]
    fn valid_preset_is_transparent_and_checked_on_read() {
        let v = Preset::smoke().check().unwrap();
        let json = serde_json::to_string(&v).unwrap();
        assert_eq!(json, serde_json::to_string(&*v).unwrap());
        assert_eq!(serde_json::from_str::<ValidPreset>(&json).unwrap(), v);
        let bad = json.replace(r#""seeds_main":1"#, r#""seeds_main":0"#);
        assert!(serde_json::from_str::<Preset>(&bad).is_ok());
        let err = serde_json::from_str::<ValidPreset>(&bad).unwrap_err();
        assert!(err.to_string().contains("seeds_main"), "{err}");
    }

    #[test]
    fn presets_validate_and_unknown_is_an_error() {
        for name in Preset::NAMES {
            Preset::by_name(name).unwrap().check().unwrap();
        }
        assert!(Preset::by_name("nope").is_err());
    }

    #[test]
    fn crop_larger_than_pool_patch_is_rejected() {
        let mut p = Preset::smoke();
        p.student.lr_patch = 64;
        assert!(p.validate().is_err());
    }

    #[test]
    fn full_method_extras_default_off_and_zero_seeds_are_rejected() {
        let mut a = Preset::cpu().ablation.expect("cpu has an ablation");
        assert_eq!(a.seeds_of(crate::repro::ABLATION_FULL), 3);
        assert_eq!(a.seeds_of("ins"), 1);
        // A preset file written before the field existed still reads, with one seed for all.
        let mut json = serde_json::to_value(&a).expect("serialises");
        let obj = json.as_object_mut().expect("object");
        obj.remove("seeds_full");
        obj.remove("reseed_full");
        let old: AblationSpec = serde_json::from_value(json).expect("old files parse");
        assert_eq!(old.seeds_of(crate::repro::ABLATION_FULL), 1);
        assert!(!old.reseed_full);
        a.seeds_full = Some(0);
        let mut p = Preset::cpu();
        p.ablation = Some(a);
        assert!(p.validate().is_err());
    }
}
