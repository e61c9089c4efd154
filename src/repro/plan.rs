//! The stage list of a reproduction, derived from the preset before anything runs: its order
//! is the run order and its length is the `N` of the `[repro i/N]` progress line.

use super::ablation::{ABLATION_RANDOM_TEACHER, AblationVariant, ablation_variants};
use super::outcome::{RANDOM_TEACHER, method_name};
use super::preset::Preset;
use super::sweep::{
    STRONG_EXTRACTOR, SWEEP_RANDOM, SWEEP_RANDOM_SET, SWEEP_RANDOM_TEACHER, SweepCell,
};
use crate::select::SelectMethod;

/// The selection baselines, in table order.
const SELECT_METHODS: [SelectMethod; 4] = [
    SelectMethod::Random,
    SelectMethod::Herding,
    SelectMethod::KCenter,
    SelectMethod::Dcsr,
];

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
    /// Bicubic upscaling on the test sets.
    Bicubic,
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
}

/// One student: its table name, seed, training data and which table it belongs to.
#[derive(Clone, Debug)]
pub(crate) struct Student {
    pub method: String,
    pub seed: u64,
    pub data: Data,
    /// The table it belongs to.
    pub table: Table,
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
}

impl Step {
    /// The stage name: names its cache folder and its progress line.
    pub(crate) fn name(&self) -> String {
        match self {
            Step::Model(role) => role.to_string(),
            Step::IdcSet => IDC_SET.to_string(),
            Step::SelectSet { method, seed } => select_set_name(*method, *seed),
            Step::Bicubic => "bicubic".to_string(),
            Step::EvalTeacher => "eval-teacher".to_string(),
            Step::Train(s) => format!("student-{}-s{}", s.method, s.seed),
            Step::Eval(s) => format!("eval-{}-s{}", s.method, s.seed),
            Step::AblationSet(v) => ablation_set_name(&v.name),
            Step::AblationRandomSet => ABLATION_RANDOM_SET.to_string(),
            Step::SweepSet(c) => sweep_set_name(&c.name),
            Step::SweepRandomSet => SWEEP_RANDOM_SET.to_string(),
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
    let mut steps = vec![Step::Model("extractor"), Step::Model("teacher")];
    if preset.main_table {
        steps.push(Step::IdcSet);
        steps.extend(select_sets(preset));
        steps.extend([Step::Bicubic, Step::EvalTeacher]);
        for student in main_students(preset) {
            steps.extend([Step::Train(student.clone()), Step::Eval(student)]);
        }
    }
    steps.extend(ablation_steps(preset));
    steps.extend(sweep_steps(preset));
    steps
}

/// Random draws one set per seed; the other baselines draw one set (seed 0) and their extra
/// seeds vary only the student's training, like IDC (whose condensation is seeded once).
fn select_sets(preset: &Preset) -> Vec<Step> {
    SELECT_METHODS
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

/// Whole, IDC, the baselines and the Random+T control, each over its seeds.
fn main_students(preset: &Preset) -> Vec<Student> {
    let (main, base) = (preset.seeds_main as u64, preset.seeds_baselines as u64);
    let student = |method: &str, seed: u64, data: Data| Student {
        method: method.to_string(),
        seed,
        data,
        table: Table::Main,
    };
    let mut students: Vec<Student> = (0..main)
        .map(|seed| student("Whole", seed, Data::Whole))
        .collect();
    students.extend((0..main).map(|seed| student("IDC", seed, Data::Idc)));
    for method in SELECT_METHODS {
        let random = method == SelectMethod::Random;
        for seed in 0..if random { main } else { base } {
            let set = select_set_name(method, if random { seed } else { 0 });
            students.push(student(method_name(method), seed, Data::Selected { set }));
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
    let student = |method: String, seed: u64, data: Data| Student {
        method,
        seed,
        data,
        table: Table::Ablation,
    };
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

/// The sweep: the stronger extractor if a variant asks, then per cell its set and students,
/// cheapest budgets first (a partial run has every variant's short cells).
fn sweep_steps(preset: &Preset) -> Vec<Step> {
    let Some(sw) = &preset.sweep else {
        return Vec::new();
    };
    // The preset validated its sweep; an invalid one plans no cell.
    let mut cells = sw.cells(&preset.condense).unwrap_or_default();
    cells.sort_by_key(|c| c.iters);
    let mut steps = Vec::new();
    if cells.iter().any(|c| c.strong) {
        steps.push(Step::Model(STRONG_EXTRACTOR));
    }
    if sw.controls {
        steps.extend(sweep_control_steps());
    }
    for cell in cells {
        steps.push(Step::SweepSet(Box::new(cell.clone())));
        for seed in 0..sw.seeds_of(&cell.name) as u64 {
            let s = Student {
                method: format!("sweep-{}", cell.name),
                seed,
                data: Data::SweepIdc(Box::new(cell.clone())),
                table: Table::Sweep,
            };
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
        let s = Student {
            method: format!("sweep-{name}"),
            seed: 0,
            data,
            table: Table::Sweep,
        };
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
        let main_table = 1 + (main + 3) + 2 + 2 * (4 * main + 3 * base);
        2 + if p.main_table { main_table } else { 0 } + n_ablation + n_sweep
    }

    #[test]
    fn stage_count_matches_the_former_hand_count() {
        for name in ["smoke", "cpu", "gpu", "paper", "budget-sweep"] {
            let p = Preset::by_name(name).expect("built-in preset");
            assert_eq!(plan(&p).len(), hand_count(&p), "{name}");
        }
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
