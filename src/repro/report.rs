//! Tables, plot and README of a reproduction run, all derived from [`RunOutcome`].
//!
//! - `table1.json` / `table1.md`: mean RGB PSNR (and its seed standard deviation) and SSIM per
//!   method and test set (Table 1 analogue).
//! - `table2.md`: iterations each set needs to reach two target PSNRs on the validation set.
//! - `table3.md`: the ablation (if the preset has one).
//! - `convergence.png`: validation PSNR vs iteration, mean line and min-max band over seeds.
//! - `run.json`: everything, for tools.
//!
//! A difference between two methods is called significant only when it exceeds twice the larger
//! of their seed standard deviations (and both have at least two seeds).

use super::plot::{Series, line_plot_png};
use super::stage::write_atomic;
use super::{
    ABLATION_FULL, ABLATION_FULL_RESEEDED, ABLATION_RANDOM_TEACHER, AblationSpec, RunOutcome,
    Scores, StudentResult, TEST_SETS, VALID_SET,
};
use crate::error::{IdcError, Result};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// Table-1 method order.
pub const METHODS: [&str; 7] = [
    "Whole", "Random", "Herding", "K-center", "DCSR", "IDC", "Bicubic",
];

/// Control rows, reported beside Table 1 (not among its methods): `Random+T` is Random's sets
/// with the teacher's HR targets, which separates IDC's condensation from its distillation.
pub const CONTROLS: [&str; 1] = [super::RANDOM_TEACHER];

/// What a control row is, for the tables' footnotes.
pub const CONTROL_NOTE: &str = "Random+T: control, not a Table-1 method. Random's own sets (same LR patches, same seeds) with \
     HR targets from the teacher, like IDC's; IDC vs Random+T isolates what condensing the LR patches adds, \
     IDC vs Random mixes that with the teacher's distillation.";

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
    pub psnr: f64,
    pub psnr_std: f64,
    pub ssim: f64,
    pub seeds: usize,
}

fn cell(results: &[&StudentResult], set: &str) -> Option<Cell> {
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

/// Table 1 as `method -> set -> cell`.
pub fn table1(outcome: &RunOutcome) -> BTreeMap<String, BTreeMap<String, Cell>> {
    let mut t = BTreeMap::new();
    for m in METHODS.iter().chain(CONTROLS.iter()).copied() {
        if m == "Bicubic" {
            t.insert(m.to_string(), single_row(&outcome.bicubic));
            continue;
        }
        let rs: Vec<&StudentResult> = outcome.students.iter().filter(|r| r.method == m).collect();
        let row = TEST_SETS
            .iter()
            .filter_map(|set| cell(&rs, set).map(|c| (set.to_string(), c)))
            .collect();
        t.insert(m.to_string(), row);
    }
    t
}

/// A row of one-off scores (bicubic, the teacher): no seeds, no spread.
fn single_row(scores: &[(String, Scores)]) -> BTreeMap<String, Cell> {
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

/// The JSON cells of one row, in test-set order (sets without a cell are left out).
fn row_json(row: Option<&BTreeMap<String, Cell>>) -> serde_json::Map<String, Value> {
    let mut out = serde_json::Map::new();
    for set in TEST_SETS {
        if let Some(c) = row.and_then(|r| r.get(set)) {
            out.insert(
                set.into(),
                json!({"psnr": c.psnr, "psnr_std": c.psnr_std, "ssim": c.ssim, "seeds": c.seeds}),
            );
        }
    }
    out
}

/// One markdown table row.
fn md_row(label: &str, row: Option<&BTreeMap<String, Cell>>) -> String {
    let cells: Vec<String> = TEST_SETS
        .iter()
        .map(|s| fmt_cell(row.and_then(|r| r.get(*s))))
        .collect();
    format!("| {label} | {} |\n", cells.join(" | "))
}

fn table1_json(outcome: &RunOutcome, t: &BTreeMap<String, BTreeMap<String, Cell>>) -> Value {
    let rows_of = |methods: &[&str]| -> Vec<Value> {
        methods
            .iter()
            .map(|m| {
                let mut row = serde_json::Map::new();
                row.insert("method".into(), json!(m));
                row.extend(row_json(t.get(*m)));
                Value::Object(row)
            })
            .collect()
    };
    json!({
        "scale": outcome.preset.scale,
        "ratio": outcome.preset.ratio,
        "preset": outcome.preset.name,
        "pool_patches": outcome.pool_patches,
        "set_patches": outcome.set_patches,
        "partial": !outcome.missing.is_empty(),
        "missing": outcome.missing,
        "rows": rows_of(&METHODS),
        "controls": rows_of(&CONTROLS),
        "teacher": row_json(Some(&single_row(&outcome.teacher))),
        "controls_note": CONTROL_NOTE,
    })
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

/// PSNR of a cell, with its seed std when there is more than one seed.
fn fmt_psnr(c: &Cell) -> String {
    if c.seeds > 1 {
        format!("{:.2} ± {:.2}", c.psnr, c.psnr_std)
    } else {
        format!("{:.2}", c.psnr)
    }
}

fn fmt_cell(c: Option<&Cell>) -> String {
    match c {
        Some(c) => format!("{} / {:.4}", fmt_psnr(c), c.ssim),
        None => "—".into(),
    }
}

/// Table 3: one row per variant (in run order) with its PSNR, its difference to the full
/// variant and SSIM, plus what the seed count allows concluding (a single seed allows none).
fn table3_md(a: &AblationSpec, results: &[StudentResult]) -> String {
    let mut t3 = String::new();
    let _ = writeln!(
        t3,
        "# Table 3 analogue: ablation, ratio {} per image on {}\n\nRGB PSNR (dB) / SSIM; in brackets the difference to the full method \
         (`{ABLATION_FULL}`); {} seed(s) per variant{}, {} student iterations, {} condensation iterations.\n",
        a.ratio,
        a.max_images
            .map_or("all training images".to_string(), |n| format!(
                "the first {n} training images"
            )),
        a.seeds,
        match a.seeds_full {
            Some(n) if n != a.seeds => format!(" ({n} for `{ABLATION_FULL}`)"),
            _ => String::new(),
        },
        a.student.iters,
        a.condense_iters
    );
    let _ = writeln!(
        t3,
        "| variant | {} |\n|---|---|---|---|",
        TEST_SETS.join(" | ")
    );
    let mut names: Vec<&str> = Vec::new();
    for r in results {
        let n = r.method.trim_start_matches("abl-");
        if !names.contains(&n) {
            names.push(n);
        }
    }
    let rows_of = |name: &str| -> Vec<&StudentResult> {
        results
            .iter()
            .filter(|r| r.method.trim_start_matches("abl-") == name)
            .collect()
    };
    let full = rows_of(ABLATION_FULL);
    let reseeded = rows_of(ABLATION_FULL_RESEEDED);
    for name in &names {
        let rs = rows_of(name);
        let cells: Vec<String> = TEST_SETS
            .iter()
            .map(|s| {
                let c = cell(&rs, s);
                let f = cell(&full, s);
                // The two full condensations as two samples: their std is the run-to-run spread.
                let runs = cell(&reseeded, s)
                    .zip(f)
                    .map(|(r, f)| mean_std(&[r.psnr, f.psnr]).1);
                match (c, f) {
                    (Some(c), Some(f)) if *name != ABLATION_FULL => {
                        let diff = c.psnr - f.psnr;
                        let mark =
                            if *name != ABLATION_FULL_RESEEDED && significant(&c, &f, runs, diff) {
                                "*"
                            } else {
                                ""
                            };
                        format!("{} ({diff:+.2}{mark}) / {:.4}", fmt_psnr(&c), c.ssim)
                    }
                    (c, _) => fmt_cell(c.as_ref()),
                }
            })
            .collect();
        let _ = writeln!(t3, "| {name} | {} |", cells.join(" | "));
    }
    if names.contains(&ABLATION_RANDOM_TEACHER) {
        let _ = writeln!(
            t3,
            "\n`{}`: control, not an IDC variant: real LR patches drawn at random, as many from each image \
             as IDC makes, with the teacher's HR targets (like IDC's); the IDC variants differ from it only in \
             how the LR patches are made.",
            ABLATION_RANDOM_TEACHER
        );
    }
    if names.contains(&ABLATION_FULL_RESEEDED) {
        let _ = writeln!(
            t3,
            "\n`{ABLATION_FULL_RESEEDED}`: the full method condensed again with seed 1 (other initial \
             patches, k-means and frequency draws, same configuration). Every row is one condensation, \
             so its difference to `{ABLATION_FULL}` is the spread between condensation runs, which \
             student seeds cannot show; the std of the two runs counts in the rule below."
        );
    }
    // What finished, not what the preset asks for: a partial run must not claim a spread yet.
    let full_seeds = full.len();
    let students = if a.seeds >= 2 {
        Some("the larger seed std of the two rows".to_string())
    } else if full_seeds >= 2 {
        Some(format!(
            "the seed std of `{ABLATION_FULL}` ({full_seeds} seeds: the student-to-student spread, \
             which a variant's single student carries too)"
        ))
    } else {
        None
    };
    let runs = (names.contains(&ABLATION_FULL_RESEEDED) && !full.is_empty())
        .then_some("the std between the two condensation runs of the full method");
    let bound = match (students, runs) {
        (None, None) => None,
        (Some(st), None) => Some(st),
        (None, Some(r)) => Some(r.to_string()),
        (Some(st), Some(r)) => Some(format!("the larger of {st} and {r}")),
    };
    let rule = match bound {
        Some(b) => format!("A difference is claimed (marked *) only where it exceeds twice {b}."),
        None => "One seed per variant: no seed spread, so no difference here is claimed as \
                 significant; read them against the seed spreads of Table 1."
            .to_string(),
    };
    let _ = writeln!(t3, "\n{rule}");
    t3
}

/// Whether `diff` (a row minus the full method) exceeds twice the spread: the larger of the two
/// rows' seed stds (a single-seed row borrows the other's: the same students' noise) and, when
/// measured, the std between two condensation runs of the full method (`runs`). With no spread
/// measured nothing is significant.
fn significant(row: &Cell, full: &Cell, runs: Option<f64>, diff: f64) -> bool {
    let spread = [row, full]
        .iter()
        .filter(|c| c.seeds >= 2)
        .map(|c| c.psnr_std)
        .chain(runs)
        .fold(None, |m: Option<f64>, s| Some(m.map_or(s, |m| m.max(s))));
    spread.is_some_and(|s| diff.abs() > 2.0 * s)
}

/// The automatic, conservative reading: which differences to Whole and to Random exceed twice
/// the seed spread.
fn reading(t: &BTreeMap<String, BTreeMap<String, Cell>>) -> String {
    let mut out = String::new();
    for set in TEST_SETS {
        let get = |m: &str| t.get(m).and_then(|r| r.get(set)).copied();
        let (Some(idc), Some(whole), Some(bic)) = (get("IDC"), get("Whole"), get("Bicubic")) else {
            continue;
        };
        let _ = write!(
            out,
            "- {set}: Whole {:+.2} dB over bicubic; IDC {:+.2} dB vs Whole",
            whole.psnr - bic.psnr,
            idc.psnr - whole.psnr
        );
        for (other, oc) in [
            ("Whole", Some(whole)),
            ("Random", get("Random")),
            (super::RANDOM_TEACHER, get(super::RANDOM_TEACHER)),
        ] {
            let Some(oc) = oc else { continue };
            let diff = idc.psnr - oc.psnr;
            let spread = idc.psnr_std.max(oc.psnr_std);
            let verdict = if idc.seeds < 2 || oc.seeds < 2 {
                "not testable (fewer than 2 seeds)".to_string()
            } else if diff.abs() > 2.0 * spread {
                format!("significant ({:+.3} dB > 2 x {:.3})", diff, spread)
            } else {
                format!("within noise ({:+.3} dB <= 2 x {:.3})", diff, spread)
            };
            let _ = write!(out, "; IDC vs {other}: {verdict}");
        }
        out.push('\n');
    }
    out
}

/// Students whose validation curve lacks points the schedule should have made (e.g. lost when
/// an older version resumed the training from a checkpoint), one line each; empty when none.
fn curve_gaps(outcome: &RunOutcome) -> String {
    let mut out = String::new();
    let every = outcome.preset.student.valid_every.max(1);
    for r in &outcome.students {
        let mut expected: Vec<usize> = (1..=r.items / every).map(|k| k * every).collect();
        if !r.items.is_multiple_of(every) {
            expected.push(r.items);
        }
        let missing: Vec<String> = expected
            .iter()
            .filter(|it| r.validation.iter().all(|v| v.iteration != **it))
            .map(|it| it.to_string())
            .collect();
        if !missing.is_empty() {
            let _ = writeln!(
                out,
                "- {} s{}: no validation recorded at iteration(s) {}",
                r.method,
                r.seed,
                missing.join(", ")
            );
        }
    }
    if !out.is_empty() {
        out = format!(
            "Validation points missing (the plot and Table 2 average only the iterations every seed of a \
             method has; final scores are unaffected):\n\n{out}\n"
        );
    }
    out
}

/// Writes every result file into `out`.
pub fn write_all(outcome: &RunOutcome, out: &Path) -> Result<()> {
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    write_all_as(outcome, out, &commit, out)
}

/// [`write_all`] with the two facts the README states that the outcome does not hold: the git
/// commit, and the folder its re-run command names (`shown_out`), so committed results can be
/// regenerated elsewhere byte for byte.
pub fn write_all_as(
    outcome: &RunOutcome,
    out: &Path,
    commit: &str,
    shown_out: &Path,
) -> Result<()> {
    let t = table1(outcome);
    let j = table1_json(outcome, &t);
    let to_bytes = |v: &Value| {
        serde_json::to_vec_pretty(v).map_err(|e| IdcError::InvalidInput(format!("json: {e}")))
    };
    write_atomic(&out.join("table1.json"), &to_bytes(&j)?)?;
    let run = serde_json::to_value(outcome).map_err(|e| IdcError::InvalidInput(e.to_string()))?;
    write_atomic(&out.join("run.json"), &to_bytes(&run)?)?;

    let mut md = String::new();
    let _ = writeln!(
        md,
        "| method | {} |\n|---|---|---|---|",
        TEST_SETS.join(" | ")
    );
    for m in METHODS {
        md.push_str(&md_row(m, t.get(m)));
    }
    let controls: Vec<&str> = CONTROLS
        .into_iter()
        .filter(|m| t.get(*m).is_some_and(|r| !r.is_empty()))
        .collect();
    for m in &controls {
        md.push_str(&md_row(&format!("{m} (control)"), t.get(*m)));
    }
    if !outcome.teacher.is_empty() {
        let label = format!("Teacher `{}` (reference)", outcome.preset.teacher.arch);
        md.push_str(&md_row(&label, Some(&single_row(&outcome.teacher))));
    }
    if !controls.is_empty() {
        let _ = writeln!(md, "\n{CONTROL_NOTE}");
    }
    let partial_note = if outcome.missing.is_empty() {
        String::new()
    } else {
        format!(
            "**Partial**: {} stage(s) of the run not finished yet; cells hold the finished seeds only.\n\n",
            outcome.missing.len()
        )
    };
    let table1_md = format!(
        "# Table 1 analogue (x{}, ratio {}, preset `{}`)\n\n{partial_note}RGB PSNR (dB, mean ± seed std) / SSIM, BasicSR protocol (crop = scale). \
         {} real pool patches; every reduced set has {} pairs.\n\n{md}",
        outcome.preset.scale,
        outcome.preset.ratio,
        outcome.preset.name,
        outcome.pool_patches,
        outcome.set_patches
    );
    write_atomic(&out.join("table1.md"), table1_md.as_bytes())?;

    // Convergence plot and Table 2.
    let mut series = Vec::new();
    let mut curves = BTreeMap::new();
    for m in METHODS
        .iter()
        .chain(CONTROLS.iter())
        .filter(|m| **m != "Bicubic")
    {
        let rs: Vec<&StudentResult> = outcome.students.iter().filter(|r| r.method == *m).collect();
        let c = curve(&rs);
        if !c.is_empty() {
            series.push(Series {
                label: m.to_string(),
                points: c.clone(),
            });
            curves.insert(m.to_string(), c);
        }
    }
    if !series.is_empty() {
        line_plot_png(
            &out.join("convergence.png"),
            &format!(
                "{VALID_SET} validation PSNR (RGB), x{}",
                outcome.preset.scale
            ),
            "iteration",
            "PSNR (dB)",
            &series,
        )?;
    }
    let bic = outcome
        .bicubic
        .iter()
        .find(|(n, _)| n == VALID_SET)
        .map(|(_, s)| s.psnr_rgb);
    let whole_final = curves.get("Whole").and_then(|c| c.last()).map(|p| p.1);
    let mut t2 = String::new();
    if let (Some(b), Some(w)) = (bic, whole_final) {
        let targets = [b + 0.5 * (w - b), b + 0.9 * (w - b)];
        let _ = writeln!(
            t2,
            "# Table 2 analogue: iterations to reach a {VALID_SET} PSNR\n\nTargets: bicubic + 50% and + 90% of the Whole student's final gain over bicubic \
             ({:.2} dB and {:.2} dB); mean validation curve over seeds, validated every {} iterations; — = not reached.\n\n| method | {:.2} dB | {:.2} dB |\n|---|---|---|",
            targets[0], targets[1], outcome.preset.student.valid_every, targets[0], targets[1]
        );
        for (m, c) in &curves {
            let f = |t: f64| {
                iterations_to(c, t)
                    .map(|i| i.to_string())
                    .unwrap_or("—".into())
            };
            let _ = writeln!(t2, "| {m} | {} | {} |", f(targets[0]), f(targets[1]));
        }
    }
    write_atomic(&out.join("table2.md"), t2.as_bytes())?;

    // Table 3 (ablation).
    let t3 = match &outcome.preset.ablation {
        Some(a) => table3_md(a, &outcome.ablation),
        None => String::new(),
    };
    write_atomic(&out.join("table3.md"), t3.as_bytes())?;

    let stages: String = outcome
        .stage_seconds
        .iter()
        .map(|(n, s)| match s {
            Some(s) => format!("| {n} | {s:.0} |\n"),
            None => format!("| {n} | not recorded |\n"),
        })
        .collect();
    let known: f64 = outcome
        .stage_seconds
        .iter()
        .filter_map(|(_, s)| *s)
        .fold(0.0, |a, b| a + b);
    let status = if outcome.missing.is_empty() {
        String::new()
    } else {
        format!(
            "**Partial results** (written by `--report-only` while the run is still going): {} stage(s) \
             not finished yet, first {}; the tables below hold only the finished students, and a row \
             with fewer seeds than the preset asks for has a smaller (or no) spread.\n\n",
            outcome.missing.len(),
            outcome
                .missing
                .iter()
                .take(3)
                .map(|m| format!("`{m}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    // The preset as run, so a custom one (`--preset-file`) can be re-run from this folder.
    let preset_json =
        serde_json::to_value(&outcome.preset).map_err(|e| IdcError::InvalidInput(e.to_string()))?;
    write_atomic(&out.join("preset.json"), &to_bytes(&preset_json)?)?;
    let name = &outcome.preset.name;
    let args = if super::Preset::by_name(name).is_ok_and(|p| p == outcome.preset) {
        format!("--preset {name}")
    } else {
        format!(
            "--preset-file {0}/preset.json --out {0}",
            shown_out.display()
        )
    };
    let readme = format!(
        "# Reproduction results: preset `{name}`\n\n{status}\
         Command: `cargo run --release --example reproduce -- {args}` (same as `idc reproduce {args}`).\n\
         Git commit: `{commit}`. Backend: {backend}. Measured compute time of the finished stages: {known:.0} s ({hours:.1} h; \
         stage table below); wall time of the invocation that wrote this: {wall:.0} s.\n\n\
         {table1_md}\n\n{t2}\n{t3}\n## Automatic reading (differences claimed only above 2x seed std)\n\n{human}{read}\n\
         ![convergence](convergence.png)\n\n{gaps}## Stage times (s, measured when each stage ran)\n\n| stage | seconds |\n|---|---|\n{stages}",
        backend = outcome.backend,
        wall = outcome.wall_seconds,
        hours = known / 3600.0,
        read = reading(&t),
        gaps = curve_gaps(outcome),
        human = if out.join("READING.md").is_file() {
            "The interpretation (written by hand from these numbers, with the controls and \
             ablation that explain them) is in [READING.md](READING.md).\n\n"
        } else {
            ""
        },
    );
    write_atomic(&out.join("README.md"), readme.as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_std_matches_hand_values() {
        let (m, s) = mean_std(&[1.0, 2.0, 3.0]);
        assert!((m - 2.0).abs() < 1e-12 && (s - 1.0).abs() < 1e-12);
        assert_eq!(mean_std(&[5.0]), (5.0, 0.0));
    }

    fn result(method: &str, psnr: f64) -> StudentResult {
        let scores = Scores {
            psnr_rgb: psnr,
            ssim_rgb: 0.9,
            psnr_y: psnr,
            ssim_y: 0.9,
        };
        StudentResult {
            method: method.into(),
            seed: 0,
            items: 1,
            train_seconds: 1.0,
            final_loss: None,
            validation: Vec::new(),
            eval: TEST_SETS.iter().map(|s| (s.to_string(), scores)).collect(),
        }
    }

    #[test]
    fn table3_shows_each_variant_against_the_full_method() {
        let spec = crate::repro::Preset::cpu()
            .ablation
            .expect("cpu has an ablation");
        let rs = vec![
            result("abl-ins", 30.0),
            result("abl-ins+group+pair", 30.5),
            result("abl-rlff-off", 30.75),
            result("abl-random+T", 30.25),
        ];
        let md = table3_md(&spec, &rs);
        let rows: Vec<&str> = md
            .lines()
            .filter(|l| l.starts_with("| ") && !l.starts_with("| variant"))
            .collect();
        assert_eq!(rows.len(), 4, "{md}");
        assert!(
            rows[0].starts_with("| ins | 30.00 (-0.50) / 0.9000"),
            "{md}"
        );
        assert!(
            rows[1].starts_with("| ins+group+pair | 30.50 / 0.9000"),
            "{md}"
        );
        assert!(rows[2].contains("30.75 (+0.25)"), "{md}");
        assert!(rows[3].starts_with("| random+T | 30.25 (-0.25)"), "{md}");
        assert!(md.contains("`random+T`: control"), "{md}");
        assert!(md.contains("no difference here is claimed"), "{md}");
    }

    #[test]
    fn table3_marks_only_differences_beyond_twice_the_full_methods_spread() {
        let spec = crate::repro::Preset::cpu()
            .ablation
            .expect("cpu has an ablation");
        // Full method: three seeds, mean 30.5, sample std 0.1.
        let rs = vec![
            result("abl-ins", 30.0),
            result("abl-ins+group+pair", 30.4),
            result("abl-ins+group+pair", 30.5),
            result("abl-ins+group+pair", 30.6),
            result("abl-rlff-off", 30.65),
        ];
        let md = table3_md(&spec, &rs);
        assert!(md.contains("| ins | 30.00 (-0.50*) / 0.9000"), "{md}");
        assert!(
            md.contains("| ins+group+pair | 30.50 ± 0.10 / 0.9000"),
            "{md}"
        );
        assert!(md.contains("| rlff-off | 30.65 (+0.15) / 0.9000"), "{md}");
        assert!(md.contains("3 for `ins+group+pair`"), "{md}");
        assert!(
            md.contains("exceeds twice the seed std of `ins+group+pair` (3 seeds"),
            "{md}"
        );

        // A second condensation of the full method 0.4 dB higher: the run-to-run std (0.28)
        // now bounds the claims, so -0.50 is no longer one and -0.70 still is.
        let mut rs = rs;
        rs.push(result("abl-ins+group+pair@1", 30.9));
        rs.push(result("abl-unfold-off", 29.8));
        let md = table3_md(&spec, &rs);
        assert!(md.contains("| ins | 30.00 (-0.50) / 0.9000"), "{md}");
        assert!(
            md.contains("| unfold-off | 29.80 (-0.70*) / 0.9000"),
            "{md}"
        );
        assert!(
            md.contains("| ins+group+pair@1 | 30.90 (+0.40) / 0.9000"),
            "{md}"
        );
        assert!(
            md.contains("two condensation runs of the full method"),
            "{md}"
        );
    }

    #[test]
    fn iterations_to_target() {
        let c = vec![(100.0, 30.0, 30.0, 30.0), (200.0, 31.0, 31.0, 31.0)];
        assert_eq!(iterations_to(&c, 30.5), Some(200));
        assert_eq!(iterations_to(&c, 32.0), None);
    }
}
