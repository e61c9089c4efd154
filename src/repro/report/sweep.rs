//! The budget sweep's files: `sweep.md` / `sweep.json` (one row per cell: held-out student
//! PSNR and the realism measures) and plots of both against the condensation budget.

use super::aggregate::mean_std;
use crate::condense::Realism;
use crate::condense::realism::{markdown_cells, spread_markdown_cells};
use crate::error::Result;
use crate::repro::outcome::RunOutcome;
use crate::repro::plot::{Series, line_plot_png};
use crate::repro::preset::SweepSpec;
use crate::repro::sweep::{SweepResult, set_seed_repeat_name};
use serde_json::{Value, json};
use std::path::Path;

/// The control rows, then the finished cells in table order (the spec's: variant, budget,
/// learning rate).
fn rows<'a>(outcome: &'a RunOutcome, spec: &SweepSpec) -> Vec<&'a SweepResult> {
    let order = spec.cells(&outcome.preset.condense).unwrap_or_default();
    let controls = outcome.sweep.iter().filter(|r| r.is_control());
    controls
        .chain(
            order
                .iter()
                .filter_map(|c| outcome.sweep.iter().find(|r| r.cell == c.name)),
        )
        .collect()
}

/// A row's learning rate (`-` for a control row, which optimises nothing).
fn fmt_lr(r: &SweepResult) -> String {
    match r.is_control() {
        true => "-".into(),
        false => r.lr.to_string(),
    }
}

fn fmt_psnr(v: &[f64]) -> String {
    match v.len() {
        0 => "-".into(),
        1 => format!("{:.2}", v[0]),
        n => {
            let (m, s) = mean_std(v);
            format!("{m:.2} ± {s:.2} ({n} seeds)")
        }
    }
}

fn fmt_realism(r: Option<&Realism>) -> String {
    r.map_or("- | - | - | - | -".into(), markdown_cells)
}

/// `sweep.md`.
pub(super) fn sweep_md(outcome: &RunOutcome, spec: &SweepSpec) -> String {
    let rows = rows(outcome, spec);
    let mut md = format!(
        "## Budget sweep\n\nThe first {} training images condensed at {} per image; one `{}` \
         student per cell ({} iterations, batch {}), scored by RGB PSNR on the {} training \
         images after them (held out: the sweep never reads the test sets). Realism: mean over \
         the images of `condense::realism`, synthetic against each image's own real LR patches \
         (`docs/cli.md`, \"Realism measures\"); the last row is real subsets of the same size. \
         Control rows (0 iterations): real patches drawn at random per image at the same ratio, \
         the student on their real HR targets (`random`) or on the teacher's (`random+T`: \
         distillation without condensation).\n\n\
         | variant | extractor | iterations | lr | held-out PSNR (dB) | out of gamut | \
         saturation excess | hf ratio | histogram distance | fresh NCFD |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        spec.max_images,
        spec.ratio,
        spec.student.arch,
        spec.student.iters,
        spec.student.batch,
        spec.holdout_images,
    );
    for r in &rows {
        md += &format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            variant_label(r),
            match (r.is_control(), r.strong) {
                (true, _) => "-",
                (false, true) => "strong",
                (false, false) => "preset",
            },
            r.iters,
            fmt_lr(r),
            fmt_psnr(&r.holdout_psnr),
            fmt_realism(r.realism.as_ref().map(|s| &s.mean)),
        );
    }
    if let Some(s) = rows.iter().find_map(|r| r.realism.as_ref()) {
        let cells = spread_markdown_cells(&s.mean.real_spread);
        md += &format!("| real subsets (mean ± std) | | | | | {cells} |\n");
    }
    md + &set_seed_md(&rows, spec)
}

/// A row's variant, with its set seed when it repeats a cell's condensation.
fn variant_label(r: &SweepResult) -> String {
    match r.set_seed {
        0 => r.variant.clone(),
        k => format!("{} (set seed {k})", r.variant),
    }
}

/// Per cell of [`SweepSpec::set_seeds`]: the first student's held-out PSNR of each finished
/// condensation (the cell and its repeats), for mean and spread over set seeds.
fn set_seed_psnrs(rows: &[&SweepResult], spec: &SweepSpec) -> Vec<(String, Vec<f64>)> {
    let Some(spread) = &spec.set_seeds else {
        return Vec::new();
    };
    let of_cell = |cell: &String| {
        let psnrs = (0..spread.sets)
            .map(|k| set_seed_repeat_name(cell, k))
            .filter_map(|name| rows.iter().find(|r| r.cell == name))
            .filter_map(|r| r.holdout_psnr.first().copied());
        (cell.clone(), psnrs.collect())
    };
    spread.cells.iter().map(of_cell).collect()
}

/// The condensation-seed spread under the table (nothing when the sweep asks for none).
fn set_seed_md(rows: &[&SweepResult], spec: &SweepSpec) -> String {
    let cells = set_seed_psnrs(rows, spec);
    if cells.is_empty() {
        return String::new();
    }
    let mut md = "\nCondensation-seed spread (the cell condensed again with other set seeds, one \
                  student each; the rows `(set seed k)` above): held-out PSNR over the sets.\n\n\
                  | cell | sets | held-out PSNR (dB) |\n|---|---:|---:|\n"
        .to_string();
    for (cell, v) in cells {
        let (m, sd) = mean_std(&v);
        let psnr = match v.len() {
            0 => "-".to_string(),
            1 => format!("{m:.2}"),
            _ => format!("{m:.2} ± {sd:.2}"),
        };
        md += &format!("| {cell} | {} | {psnr} |\n", v.len());
    }
    md
}

/// `sweep.json`: every finished cell with its numbers.
pub(super) fn sweep_json(outcome: &RunOutcome, spec: &SweepSpec) -> Value {
    let cells: Vec<Value> = rows(outcome, spec)
        .iter()
        .map(|r| {
            let (psnr, psnr_std) = match r.holdout_psnr.is_empty() {
                true => (Value::Null, Value::Null),
                false => {
                    let (m, s) = mean_std(&r.holdout_psnr);
                    (json!(m), json!(s))
                }
            };
            let mut row = json!({
                "cell": r.cell, "variant": r.variant, "iters": r.iters,
                "lr": (!r.is_control()).then_some(r.lr),
                "strong_extractor": r.strong, "holdout_psnr": psnr, "holdout_psnr_std": psnr_std,
                "seeds": r.holdout_psnr.len(), "realism": r.realism.as_ref().map(|s| &s.mean),
            });
            if r.set_seed != 0 {
                row["set_seed"] = json!(r.set_seed);
            }
            row
        })
        .collect();
    let mut out = json!({"preset": outcome.preset.name, "cells": cells});
    let spread = set_seed_psnrs(&rows(outcome, spec), spec);
    if !spread.is_empty() {
        out["set_seed_spread"] = spread
            .iter()
            .map(|(cell, v)| {
                let (m, sd) = mean_std(v);
                json!({"cell": cell, "sets": v.len(), "holdout_psnr": m, "holdout_psnr_std": sd})
            })
            .collect();
    }
    out
}

/// One series per (variant, extractor, lr): `value` of each finished cell against log10 of its
/// iterations.
fn series_of(
    rows: &[&SweepResult],
    value: &dyn Fn(&SweepResult) -> Option<(f64, f64, f64)>,
) -> Vec<Series> {
    let mut out: Vec<Series> = Vec::new();
    // A set-seed repeat would put a second point at its cell's budget: the table has it.
    for r in rows.iter().filter(|r| !r.is_control() && r.set_seed == 0) {
        let Some((mean, lo, hi)) = value(r) else {
            continue;
        };
        let label = format!(
            "{}{} lr {}",
            r.variant,
            if r.strong { "*" } else { "" },
            r.lr
        );
        let point = ((r.iters as f64).log10(), mean, lo, hi);
        match out.iter_mut().find(|s| s.label == label) {
            Some(s) => s.points.push(point),
            None => out.push(Series {
                label,
                points: vec![point],
            }),
        }
    }
    out
}

/// Each scored control row as a flat line across the cells' budgets (no condensation: the
/// level a cell's student must beat).
fn control_lines(rows: &[&SweepResult]) -> Vec<Series> {
    let xs: Vec<f64> = rows
        .iter()
        .filter(|r| !r.is_control() && !r.holdout_psnr.is_empty())
        .map(|r| (r.iters as f64).log10())
        .collect();
    let (lo, hi) = (
        xs.iter().copied().fold(f64::INFINITY, f64::min),
        xs.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    );
    if xs.is_empty() {
        return Vec::new();
    }
    rows.iter()
        .filter(|r| r.is_control() && !r.holdout_psnr.is_empty())
        .map(|r| {
            let m = mean_std(&r.holdout_psnr).0;
            Series {
                label: format!("{} (no condensation)", r.variant),
                points: vec![(lo, m, m, m), (hi, m, m, m)],
            }
        })
        .collect()
}

/// `sweep-psnr.png`, `sweep-hf.png` and `sweep-saturation.png` (the plots with any point).
pub(super) fn sweep_plots(outcome: &RunOutcome, spec: &SweepSpec, out: &Path) -> Result<()> {
    let rows = rows(outcome, spec);
    let mut psnr = series_of(&rows, &|r| {
        let v = &r.holdout_psnr;
        let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (!v.is_empty()).then(|| (mean_std(v).0, lo, hi))
    });
    psnr.extend(control_lines(&rows));
    let measure = |f: fn(&Realism) -> f64| {
        series_of(&rows, &move |r: &SweepResult| {
            r.realism.as_ref().map(|s| {
                let v = f(&s.mean);
                (v, v, v)
            })
        })
    };
    let x = "log10 condensation iterations";
    let plots = [
        (
            "sweep-psnr.png",
            "Student PSNR on held-out training images",
            "PSNR (dB)",
            psnr,
        ),
        (
            "sweep-hf.png",
            "High-frequency energy ratio (real: ~1)",
            "hf ratio",
            measure(|r| r.hf_ratio),
        ),
        (
            "sweep-saturation.png",
            "Saturation excess (real: ~0)",
            "saturation excess",
            measure(|r| r.saturation_excess),
        ),
    ];
    for (file, title, y, series) in plots {
        if !series.is_empty() {
            line_plot_png(&out.join(file), title, x, y, &series)?;
        }
    }
    Ok(())
}
