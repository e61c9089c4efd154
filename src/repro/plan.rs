//! The stage list of a reproduction, derived from the preset before anything runs: its order
//! is the run order and its length is the `N` of the `[repro i/N]` progress line.

use super::ablation::{ABLATION_RANDOM_TEACHER, AblationVariant, ablation_variants};
use super::outcome::RANDOM_TEACHER;
use super::preset::Preset;
use super::preset::RowKind;
use super::sweep::{
    STRONG_EXTRACTOR, SWEEP_RANDOM, SWEEP_RANDOM_SET, SWEEP_RANDOM_TEACHER, SweepCell,
};
use crate::select::SelectMethod;

/// Stage name of the set IDC condenses from the whole pool.
pub(crate) const IDC_SET: &str = "set-IDC";
/// Stage name of the ablation's random control set.
pub(crate) const ABLATION_RANDOM_SET: &str = "set-abl-random";

/// One stage of the pipeline.
#[derive(Clone, Debug)]
pub(crate) enum Step {
    /// The feature extractor (`extractor`) or the teacher (`teacher`), trained on the whole set.
    Model(&'static str),
    /// IDC's condensed set at the preset's ratio.
    IdcSet,
    /// A baseline's selected set.
    SelectSet { method: SelectMethod, seed: u64 },
    /// The task's do-nothing baseline on the test sets: `bicubic` up-sampling (SR) or the
    /// `noisy` input (denoising); the stage is named after it.
    Reference(&'static str),
    /// The teacher on the test sets.
    EvalTeacher,
    /// A student's training.
    Train(Student),
    /// The evaluation of the student trained by the step before.
    Eval(Student),
    /// A Table-3 variant's condensed set.
    AblationSet(AblationVariant),
    /// The ablation's control set: real patches drawn at random per image.
    AblationRandomSet,
    /// A budget-sweep cell's condensed set.
    SweepSet(Box<SweepCell>),
    /// The budget sweep's control set: its images' real patches drawn at random per image.
    SweepRandomSet,
    /// The ratio table's IDC set (stage `set`) at `ratio` per image.
    RatioIdcSet { set: String, ratio: f64 },
    /// The ratio table's selected set (stage `set`).
    RatioSelectSet {
        set: String,
        method: SelectMethod,
        ratio: f64,
        seed: u64,
    },
}

/// Which table a student belongs to (its training budget and where its result goes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Table {
    /// Tables 1 and 2.
    Main,
    /// Table 3 (the ablation's spec and list).
    Ablation,
    /// The budget sweep (scored on held-out training images only).
    Sweep,
    /// The ratio table (Tables 4 and 5 analogues).
    Ratio,
}

/// One student: its table name, seed, training data and which table it belongs to.
#[derive(Clone, Debug)]
pub(crate) struct Student {
    pub method: String,
    pub seed: u64,
    pub data: Data,
    /// The table it belongs to.
    pub table: Table,
    /// The architecture of a further student family of the main table (`more_students`);
    /// `None`: the table's own student.
    pub family: Option<String>,
}

impl Student {
    /// Row `method`, seed `seed` of `table`, trained as the table's own student.
    fn new(method: impl Into<String>, seed: u64, data: Data, table: Table) -> Student {
        Student {
            method: method.into(),
            seed,
            data,
            table,
            family: None,
        }
    }

    /// The stage-name part that tells students apart: the method, after the family's
    /// architecture for a further family (the first family keeps the names it always had).
    fn key(&self) -> String {
        match &self.family {
            Some(arch) => format!("{arch}-{}", self.method),
            None => self.method.clone(),
        }
    }
}

/// What a student trains on.
#[derive(Clone, Debug)]
pub(crate) enum Data {
    /// The whole patch pool.
    Whole,
    /// IDC's condensed set (tried even when a report-only run finds the set unfinished).
    Idc,
    /// The selected set of stage `set`.
    Selected { set: String },
    /// The set of stage `set` with the teacher's HR targets.
    TeacherLabeled { set: String },
    /// A Table-3 variant's condensed set.
    AblationIdc(Box<AblationVariant>),
    /// A budget-sweep cell's condensed set.
    SweepIdc(Box<SweepCell>),
    /// The ratio table's IDC set of stage `set`, condensed at `ratio`.
    RatioIdc { set: String, ratio: f64 },
}

impl Step {
    /// The stage name: names its cache folder and its progress line.
    pub(crate) fn name(&self) -> String {
        match self {
            Step::Model(role) => role.to_string(),
            Step::IdcSet => IDC_SET.to_string(),
            Step::SelectSet { method, seed } => select_set_name(*method, *seed),
            Step::Reference(name) => name.to_string(),
            Step::EvalTeacher => "eval-teacher".to_string(),
            Step::Train(s) => format!("student-{}-s{}", s.key(), s.seed),
            Step::Eval(s) => format!("eval-{}-s{}", s.key(), s.seed),
            Step::AblationSet(v) => ablation_set_name(&v.name),
            Step::AblationRandomSet => ABLATION_RANDOM_SET.to_string(),
            Step::SweepSet(c) => sweep_set_name(&c.name),
            Step::SweepRandomSet => SWEEP_RANDOM_SET.to_string(),
            Step::RatioIdcSet { set, .. } | Step::RatioSelectSet { set, .. } => set.clone(),
        }
    }
}

pub(crate) fn select_set_name(method: SelectMethod, seed: u64) -> String {
    format!("set-{method}-s{seed}")
}

pub(crate) fn ablation_set_name(variant: &str) -> String {
    format!("set-abl-{variant}")
}

pub(crate) fn sweep_set_name(cell: &str) -> String {
    format!("set-sweep-{cell}")
}

/// Every stage of `preset`, in run order.
pub(crate) fn plan(preset: &Preset) -> Vec<Step> {
    let mut steps = vec![Step::Model("extractor")];
    if preset.teacher.is_some() {
        steps.push(Step::Model("teacher"));
    }
    if preset.main_table {
        steps.push(Step::IdcSet);
        steps.extend(select_sets(preset));
        steps.extend([Step::Reference(reference_stage(preset)), Step::EvalTeacher]);
        for student in main_students(preset) {
            steps.extend([Step::Train(student.clone()), Step::Eval(student)]);
        }
    }
    steps.extend(ablation_steps(preset));
    steps.extend(sweep_steps(preset));
    steps.extend(ratio_steps(preset));
    steps
}

/// The reference row's stage: `bicubic` for SR, `noisy` for denoising.
pub(crate) fn reference_stage(preset: &Preset) -> &'static str {
    match preset.task().sigma() {
        Some(_) => "noisy",
        None => "bicubic",
    }
}

/// The ratio table: IDC's sets, the selections' sets, the reference row (unless the main table
/// has it), then per row and seed a student and its evaluation.
fn ratio_steps(preset: &Preset) -> Vec<Step> {
    let Some(t) = &preset.ratio_table else {
        return Vec::new();
    };
    // The preset validated its rows; an invalid one plans no stage.
    let Ok(rows) = t
        .rows
        .iter()
        .map(|r| Ok((r, r.kind()?)))
        .collect::<crate::error::Result<Vec<_>>>()
    else {
        return Vec::new();
    };
    let seeds = preset.seeds_main as u64;
    let mut steps = Vec::new();
    for (_, kind) in &rows {
        if let RowKind::Idc(ratio) = *kind {
            let set = t.idc_set_name(ratio);
            steps.push(Step::RatioIdcSet { set, ratio });
        }
    }
    for (_, kind) in &rows {
        if let RowKind::Select(method, ratio) = *kind {
            for seed in 0..ratio_set_seeds(method, seeds) {
                let set = t.select_set_name(method, ratio, seed);
                steps.push(Step::RatioSelectSet {
                    set,
                    method,
                    ratio,
                    seed,
                });
            }
        }
    }
    if !preset.main_table {
        steps.push(Step::Reference(reference_stage(preset)));
    }
    for (row, kind) in rows {
        for seed in 0..seeds {
            let data = match kind {
                RowKind::Whole => Data::Whole,
                RowKind::Idc(ratio) => Data::RatioIdc {
                    set: t.idc_set_name(ratio),
                    ratio,
                },
                RowKind::Select(method, ratio) => {
                    let set_seed = if ratio_set_seeds(method, seeds) > 1 {
                        seed
                    } else {
                        0
                    };
                    Data::Selected {
                        set: t.select_set_name(method, ratio, set_seed),
                    }
                }
            };
            let s = Student::new(t.method_key(row), seed, data, Table::Ratio);
            steps.extend([Step::Train(s.clone()), Step::Eval(s)]);
        }
    }
    steps
}

/// Sets a selection draws: Random one per student seed, the others one (as in the main table).
fn ratio_set_seeds(method: SelectMethod, seeds: u64) -> u64 {
    match method {
        SelectMethod::Random => seeds,
        _ => 1,
    }
}

/// Random draws one set per seed; the other baselines draw one set (seed 0) and their extra
/// seeds vary only the student's training, like IDC (whose condensation is seeded once).
fn select_sets(preset: &Preset) -> Vec<Step> {
    SelectMethod::ALL
        .into_iter()
        .flat_map(|method| {
            let seeds = match method {
                SelectMethod::Random => preset.seeds_main as u64,
                _ => 1,
            };
            (0..seeds).map(move |seed| Step::SelectSet { method, seed })
        })
        .collect()
}

/// Per student family: Whole, IDC, the baselines and the Random+T control, each over its seeds.
fn main_students(preset: &Preset) -> Vec<Student> {
    let families = std::iter::once(None).chain(preset.more_students.iter().map(|s| Some(&s.arch)));
    families
        .flat_map(|family| {
            family_rows(preset).into_iter().map(move |mut s| {
                s.family = family.cloned();
                s
            })
        })
        .collect()
}

/// One family's rows: Whole, IDC, the baselines and the Random+T control, each over its seeds.
fn family_rows(preset: &Preset) -> Vec<Student> {
    let (main, base) = (preset.seeds_main as u64, preset.seeds_baselines as u64);
    let student =
        |method: &str, seed: u64, data: Data| Student::new(method, seed, data, Table::Main);
    let mut students: Vec<Student> = (0..main)
        .map(|seed| student("Whole", seed, Data::Whole))
        .collect();
    students.extend((0..main).map(|seed| student("IDC", seed, Data::Idc)));
    for method in SelectMethod::ALL {
        let random = method == SelectMethod::Random;
        for seed in 0..if random { main } else { base } {
            let set = select_set_name(method, if random { seed } else { 0 });
            students.push(student(method.table_name(), seed, Data::Selected { set }));
        }
    }
    // Control: Random's own sets with the teacher's HR targets. IDC's targets are teacher
    // outputs (distillation, paper Sec. 3), so IDC vs Random mixes two effects; IDC vs Random+T
    // isolates what the condensation of the LR patches adds.
    students.extend((0..main).map(|seed| {
        let set = select_set_name(SelectMethod::Random, seed);
        student(RANDOM_TEACHER, seed, Data::TeacherLabeled { set })
    }));
    students
}

/// Table 3: per variant its set and its students, then the random control and its students.
fn ablation_steps(preset: &Preset) -> Vec<Step> {
    let Some(a) = &preset.ablation else {
        return Vec::new();
    };
    let mut condense = preset.condense.clone();
    condense.ratio = preset.ratio;
    let student =
        |method: String, seed: u64, data: Data| Student::new(method, seed, data, Table::Ablation);
    let mut steps = Vec::new();
    for variant in ablation_variants(&condense, a) {
        steps.push(Step::AblationSet(variant.clone()));
        for seed in 0..a.seeds_of(&variant.name) as u64 {
            let s = student(
                format!("abl-{}", variant.name),
                seed,
                Data::AblationIdc(Box::new(variant.clone())),
            );
            steps.extend([Step::Train(s.clone()), Step::Eval(s)]);
        }
    }
    steps.push(Step::AblationRandomSet);
    for seed in 0..a.seeds as u64 {
        let set = ABLATION_RANDOM_SET.to_string();
        let s = student(
            format!("abl-{ABLATION_RANDOM_TEACHER}"),
            seed,
            Data::TeacherLabeled { set },
        );
        steps.extend([Step::Train(s.clone()), Step::Eval(s)]);
    }
    steps
}

/// The sweep: per cell its set and students, cheapest budgets first (a partial run has every
/// variant's short cells); the stronger extractor right before the first cell that uses it, so
/// a second process has the controls and other cells to run while one trains it.
fn sweep_steps(preset: &Preset) -> Vec<Step> {
    let Some(sw) = &preset.sweep else {
        return Vec::new();
    };
    // The preset validated its sweep; an invalid one plans no cell.
    let mut cells = sw.cells(&preset.condense).unwrap_or_default();
    cells.sort_by_key(|c| c.iters);
    let mut steps = Vec::new();
    if sw.controls {
        steps.extend(sweep_control_steps());
    }
    let mut strong_planned = false;
    for cell in cells {
        if cell.strong && !std::mem::replace(&mut strong_planned, true) {
            steps.push(Step::Model(STRONG_EXTRACTOR));
        }
        steps.push(Step::SweepSet(Box::new(cell.clone())));
        for seed in 0..sw.seeds_of(&cell.name) as u64 {
            let data = Data::SweepIdc(Box::new(cell.clone()));
            let s = Student::new(format!("sweep-{}", cell.name), seed, data, Table::Sweep);
            steps.extend([Step::Train(s.clone()), Step::Eval(s)]);
        }
    }
    steps
}

/// The sweep's control set and its two students (real and teacher HR targets).
fn sweep_control_steps() -> Vec<Step> {
    let set = SWEEP_RANDOM_SET.to_string();
    let controls = [
        (SWEEP_RANDOM, Data::Selected { set: set.clone() }),
        (SWEEP_RANDOM_TEACHER, Data::TeacherLabeled { set }),
    ];
    let mut steps = vec![Step::SweepRandomSet];
    for (name, data) in controls {
        let s = Student::new(format!("sweep-{name}"), 0, data, Table::Sweep);
        steps.extend([Step::Train(s.clone()), Step::Eval(s)]);
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stage count the pipeline kept by hand before it was derived from the list.
    fn hand_count(p: &Preset) -> usize {
        let (main, base) = (p.seeds_main, p.seeds_baselines);
        let n_ablation = p.ablation.as_ref().map_or(0, |a| {
            let variants = ablation_variants(&p.condense, a);
            let seeds: usize = variants.iter().map(|v| a.seeds_of(&v.name)).sum();
            variants.len() + 1 + 2 * (seeds + a.seeds)
        });
        let n_sweep = p.sweep.as_ref().map_or(0, |sw| {
            let cells = sw.cells(&p.condense).expect("valid sweep");
            let strong = usize::from(cells.iter().any(|c| c.strong));
            let students: usize = cells.iter().map(|c| sw.seeds_of(&c.name)).sum();
            let controls = if sw.controls { 1 + 2 * 2 } else { 0 };
            strong + cells.len() + 2 * students + controls
        });
        let families = 1 + p.more_students.len();
        let main_table = 1 + (main + 3) + 2 + 2 * families * (4 * main + 3 * base);
        2 + if p.main_table { main_table } else { 0 } + n_ablation + n_sweep
    }

    #[test]
    fn stage_count_matches_the_former_hand_count() {
        for name in [
            "smoke",
            "cpu",
            "cpu-natural",
            "gpu",
            "paper",
            "budget-sweep",
        ] {
            let p = Preset::by_name(name).expect("built-in preset");
            assert_eq!(plan(&p).len(), hand_count(&p), "{name}");
        }
    }

    #[test]
    fn cpu_x4_has_a_block_of_rows_per_student_family_and_table4() {
        let p = Preset::cpu_x4();
        let names: Vec<String> = plan(&p).iter().map(Step::name).collect();
        let unique: std::collections::HashSet<&String> = names.iter().collect();
        assert_eq!(unique.len(), names.len(), "stage names are unique");
        // The first family keeps the stage names students always had; the second is prefixed.
        for name in ["student-Whole-s2", "student-swinir-tiny-Whole-s2"] {
            assert!(names.contains(&name.to_string()), "{name} in {names:?}");
        }
        for name in [
            "student-swinir-tiny-Random+T-s0",
            "eval-swinir-tiny-DCSR-s0",
        ] {
            assert!(names.contains(&name.to_string()), "{name} in {names:?}");
        }
        let t = p.ratio_table.as_ref().expect("table4");
        let sets = 1 + p.seeds_main + 1 + p.seeds_main; // IDC 1%, Random 1%, DCSR 1%, Random 10%
        let ratio = sets + 2 * p.seeds_main * t.rows.len();
        let mut no_ratio = p.clone();
        no_ratio.ratio_table = None;
        assert_eq!(names.len(), hand_count(&no_ratio) + ratio);
        assert!(
            names.contains(&"table4-set-dcsr-1%-s0".to_string()),
            "{names:?}"
        );
        // Without a main table the second family has no rows to train: refused.
        let mut q = Preset::cpu_x4();
        q.main_table = false;
        assert!(q.validate().is_err());
        q.main_table = true;
        q.more_students[0].arch = q.student.arch.clone();
        assert!(q.validate().is_err(), "a family twice");
    }

    #[test]
    fn denoise_plan_is_the_ratio_table() {
        for name in ["denoise-smoke", "denoise-cpu"] {
            let p = Preset::by_name(name).expect("built-in preset");
            let t = p.ratio_table.as_ref().expect("a ratio table");
            let ratios = t.rows.iter().filter(|r| r.method == "IDC").count();
            let randoms = t.rows.iter().filter(|r| r.method == "Random").count();
            let s = p.seeds_main;
            // extractor + IDC sets + Random sets per seed + noisy + (train, eval) per row and seed
            let count = 1 + ratios + randoms * s + 1 + 2 * s * t.rows.len();
            assert_eq!(plan(&p).len(), count, "{name}");
        }
        let names: Vec<String> = plan(&Preset::denoise_cpu())
            .iter()
            .map(Step::name)
            .collect();
        assert_eq!(names.len(), 40, "the count the denoising pipeline had");
        assert_eq!(
            &names[..4],
            [
                "extractor",
                "table5-set-IDC-1%",
                "table5-set-IDC-10%",
                "table5-set-random-10%-s0"
            ]
        );
        assert!(names.contains(&"noisy".to_string()) && !names.contains(&"teacher".to_string()));
        assert!(
            names.contains(&"student-table5-Random1%-s2".to_string()),
            "{names:?}"
        );
        let unique: std::collections::HashSet<&String> = names.iter().collect();
        assert_eq!(
            unique.len(),
            names.len(),
            "stage names are unique: {names:?}"
        );
    }

    #[test]
    fn sweep_trains_the_strong_extractor_right_before_its_first_cell() {
        let p = Preset::by_name("budget-sweep").expect("built-in preset");
        let steps = plan(&p);
        let names: Vec<String> = steps.iter().map(Step::name).collect();
        let at = |name: &str| names.iter().position(|n| n == name);
        let strong = at(STRONG_EXTRACTOR).expect("a variant uses the strong extractor");
        let first_strong_set = steps
            .iter()
            .position(|s| matches!(s, Step::SweepSet(c) if c.strong))
            .expect("a strong cell");
        assert_eq!(strong + 1, first_strong_set);
        assert!(
            at("set-sweep-random").is_some_and(|i| i < strong),
            "controls first"
        );
        assert_eq!(names.iter().filter(|n| *n == STRONG_EXTRACTOR).count(), 1);
    }

    #[test]
    fn smoke_stage_names_in_run_order() {
        let p = Preset::by_name("smoke").expect("smoke");
        let names: Vec<String> = plan(&p).iter().map(Step::name).collect();
        let head = ["extractor", "teacher", "set-IDC", "set-random-s0"];
        assert_eq!(&names[..head.len()], head);
        let unique: std::collections::HashSet<&String> = names.iter().collect();
        assert_eq!(
            unique.len(),
            names.len(),
            "stage names are unique: {names:?}"
        );
        let first_student = names.iter().position(|n| n.starts_with("student-"));
        assert_eq!(names[first_student.expect("students") - 2], "bicubic");
    }
}
