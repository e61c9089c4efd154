//! From a run's outcome to numbers: table cells (mean and seed std), curves, spreads.

use crate::repro::outcome::{RANDOM_TEACHER, RunOutcome, Scores, StudentResult};
use crate::repro::preset::{Preset, TEST_SETS, TrainSpec};
use std::collections::BTreeMap;

/// Table-1 method order.
pub const METHODS: [&str; 7] = [
    "Whole", "Random", "Herding", "K-center", "DCSR", "IDC", "Bicubic",
];

/// Control rows, reported beside Table 1 (not among its methods): `Random+T` is Random's sets
/// with the teacher's HR targets, which separates IDC's condensation from its distillation.
pub const CONTROLS: [&str; 1] = [RANDOM_TEACHER];

/// Mean and sample standard deviation (0 for a single value).
pub fn mean_std(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    if xs.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let m = xs.iter().sum::<f64>() / n;
    let v = if xs.len() > 1 {
        xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (m, v.sqrt())
}

/// One cell: mean PSNR, its seed std, mean SSIM, number of seeds.
#[derive(Clone, Copy, Debug)]
pub struct Cell {
    /// Mean PSNR over seeds, in dB.
    pub psnr: f64,
    /// Standard deviation of the PSNR over seeds (sample std, 0 for one seed), in dB.
    pub psnr_std: f64,
    /// Mean SSIM over seeds.
    pub ssim: f64,
    /// Number of seeds in the cell.
    pub seeds: usize,
}

pub(super) fn cell(results: &[&StudentResult], set: &str) -> Option<Cell> {
    let scores: Vec<Scores> = results
        .iter()
        .filter_map(|r| r.eval.iter().find(|(n, _)| n == set).map(|(_, s)| *s))
        .collect();
    if scores.is_empty() {
        return None;
    }
    let (psnr, psnr_std) = mean_std(&scores.iter().map(|s| s.psnr_rgb).collect::<Vec<_>>());
    let (ssim, _) = mean_std(&scores.iter().map(|s| s.ssim_rgb).collect::<Vec<_>>());
    Some(Cell {
        psnr,
        psnr_std,
        ssim,
        seeds: scores.len(),
    })
}

/// Table 1 as `method -> set -> cell` (the preset's own student; see [`table1_of`]).
pub fn table1(outcome: &RunOutcome) -> BTreeMap<String, BTreeMap<String, Cell>> {
    table1_of(outcome, None)
}

/// A student family of the main table: its training budget and the `family` its results carry
/// (`None`: the preset's own student).
pub(super) struct Family<'a> {
    pub spec: &'a TrainSpec,
    pub key: Option<&'a str>,
}

/// The main table's student families, in preset order.
pub(super) fn families(preset: &Preset) -> Vec<Family<'_>> {
    let more = preset.more_students.iter().map(|s| Family {
        spec: s,
        key: Some(s.arch.as_str()),
    });
    std::iter::once(Family {
        spec: &preset.student,
        key: None,
    })
    .chain(more)
    .collect()
}

/// The main-table students of row `method` in family `family`.
fn family_rows<'a>(
    outcome: &'a RunOutcome,
    family: Option<&str>,
    method: &str,
) -> Vec<&'a StudentResult> {
    outcome
        .students
        .iter()
        .filter(|r| r.method == method && r.family.as_deref() == family)
        .collect()
}

/// Table 1 of one student family (`None`: the preset's own student).
pub(super) fn table1_of(
    outcome: &RunOutcome,
    family: Option<&str>,
) -> BTreeMap<String, BTreeMap<String, Cell>> {
    let mut t = BTreeMap::new();
    for m in METHODS.iter().chain(CONTROLS.iter()).copied() {
        if m == "Bicubic" {
            t.insert(m.to_string(), single_row(&outcome.bicubic));
            continue;
        }
        let rs = family_rows(outcome, family, m);
        let row = TEST_SETS
            .iter()
            .filter_map(|set| cell(&rs, set).map(|c| (set.to_string(), c)))
            .collect();
        t.insert(m.to_string(), row);
    }
    t
}

/// A row of one-off scores (bicubic, the teacher): no seeds, no spread.
pub(super) fn single_row(scores: &[(String, Scores)]) -> BTreeMap<String, Cell> {
    scores
        .iter()
        .map(|(set, s)| {
            let c = Cell {
                psnr: s.psnr_rgb,
                psnr_std: 0.0,
                ssim: s.ssim_rgb,
                seeds: 1,
            };
            (set.clone(), c)
        })
        .collect()
}

/// Mean validation curve of a method: (iteration, mean, min, max) of RGB PSNR over seeds.
pub fn curve(results: &[&StudentResult]) -> Vec<(f64, f64, f64, f64)> {
    let mut by_iter: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
    for r in results {
        for v in &r.validation {
            by_iter.entry(v.iteration).or_default().push(v.psnr_rgb);
        }
    }
    by_iter
        .into_iter()
        .filter(|(_, v)| v.len() == results.len())
        .map(|(it, v)| {
            let (m, _) = mean_std(&v);
            let lo = v.iter().cloned().fold(f64::INFINITY, f64::min);
            let hi = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            (it as f64, m, lo, hi)
        })
        .collect()
}

/// First iteration at which the mean curve reaches `target` (None: never).
pub fn iterations_to(curve: &[(f64, f64, f64, f64)], target: f64) -> Option<usize> {
    curve.iter().find(|p| p.1 >= target).map(|p| p.0 as usize)
}

/// Whether `diff` (a row minus the full method) exceeds twice the spread: the larger of the two
/// rows' seed stds (a single-seed row borrows the other's: the same students' noise) and, when
/// measured, the std between two condensation runs of the full method (`runs`). With no spread
/// measured nothing is significant.
pub(super) fn significant(row: &Cell, full: &Cell, runs: Option<f64>, diff: f64) -> bool {
    let spread = [row, full]
        .iter()
        .filter(|c| c.seeds >= 2)
        .map(|c| c.psnr_std)
        .chain(runs)
        .fold(None, |m: Option<f64>, s| Some(m.map_or(s, |m| m.max(s))));
    spread.is_some_and(|s| diff.abs() > 2.0 * s)
}

/// One point of a mean validation curve: (iteration, mean, min, max) of RGB PSNR over seeds.
pub(super) type CurvePoint = (f64, f64, f64, f64);

/// Mean validation curve of every method of a student family that has one, in table order
/// (Bicubic has none).
pub(super) fn method_curves(
    outcome: &RunOutcome,
    family: Option<&str>,
) -> Vec<(String, Vec<CurvePoint>)> {
    METHODS
        .iter()
        .chain(CONTROLS.iter())
        .filter(|m| **m != "Bicubic")
        .filter_map(|m| {
            let c = curve(&family_rows(outcome, family, m));
            (!c.is_empty()).then(|| (m.to_string(), c))
        })
        .collect()
}
