//! The ratio table (`<name>.md` / `<name>.json`, e.g. `table5`): per row and test set mean RGB
//! PSNR, its seed std and SSIM, the task's reference row last, and pairwise readings claimed
//! only beyond twice the larger seed std.

use super::aggregate::{Cell, cell};
use crate::repro::outcome::{RunOutcome, Scores, StudentResult};
use crate::repro::preset::{RatioTable, RowKind, pct};
use crate::task::Task;
use std::collections::BTreeMap;

/// One table row: label, seeds and a cell per test set that has results.
pub(super) struct Row {
    label: String,
    seeds: usize,
    cells: BTreeMap<String, Cell>,
}

/// The reference row's label: the task's do-nothing baseline.
fn reference_label(task: &Task) -> &'static str {
    match task {
        Task::SuperResolution { .. } => "Bicubic",
        Task::Denoise { .. } => "Noisy input",
    }
}

/// The table's rows in order, the reference row last.
pub(super) fn ratio_rows(outcome: &RunOutcome, t: &RatioTable) -> Vec<Row> {
    let sets = &outcome.preset.test_sets;
    let mut rows: Vec<Row> = t
        .rows
        .iter()
        .map(|row| {
            let key = t.method_key(row);
            let runs: Vec<&StudentResult> = outcome
                .ratio_table
                .iter()
                .filter(|s| s.method == key)
                .collect();
            let cells = sets
                .iter()
                .filter_map(|set| Some((set.clone(), cell(&runs, set)?)))
                .collect();
            Row {
                label: row.label(),
                seeds: runs.len(),
                cells,
            }
        })
        .collect();
    let reference: BTreeMap<String, Cell> = outcome
        .bicubic
        .iter()
        .map(|(n, s)| (n.clone(), reference_cell(s)))
        .collect();
    rows.push(Row {
        label: reference_label(&outcome.preset.task()).into(),
        seeds: usize::from(!reference.is_empty()),
        cells: reference,
    });
    rows
}

fn reference_cell(s: &Scores) -> Cell {
    Cell {
        psnr: s.psnr_rgb,
        psnr_std: 0.0,
        ssim: s.ssim_rgb,
        seeds: 1,
    }
}

/// `<name>.json`: the rows with per set `{psnr, psnr_std, ssim}`, the set sizes and provenance.
pub(super) fn ratio_json(outcome: &RunOutcome, rows: &[Row]) -> serde_json::Value {
    let task = outcome.preset.task();
    let rows: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            let sets: BTreeMap<&String, serde_json::Value> = r
                .cells
                .iter()
                .map(|(set, c)| {
                    let v =
                        serde_json::json!({"psnr": c.psnr, "psnr_std": c.psnr_std, "ssim": c.ssim});
                    (set, v)
                })
                .collect();
            serde_json::json!({"method": r.label, "seeds": r.seeds, "sets": sets})
        })
        .collect();
    serde_json::json!({
        "preset": outcome.preset,
        "task": task,
        "sigma": task.sigma(),
        "protocol": protocol(&task),
        "rows": rows,
        "pool_patches": outcome.pool_patches,
        "set_patches": outcome.ratio_sets,
        "students": outcome.ratio_table,
        "stage_seconds": outcome.stage_seconds,
        "backend": outcome.backend,
        "partial": !outcome.missing.is_empty(),
        "missing": outcome.missing,
    })
}

fn protocol(task: &Task) -> String {
    match task {
        Task::SuperResolution { scale } => format!(
            "RGB PSNR/SSIM, BasicSR protocol (border of {scale} px cropped), output clipped and rounded to 8 bits"
        ),
        Task::Denoise { .. } => "RGB PSNR/SSIM, no crop, output clipped and rounded to 8 bits; one fixed seeded noisy version per test image".into(),
    }
}

/// `<name>.md`: the caption, the partial note, the table and the reading.
pub(super) fn ratio_md(outcome: &RunOutcome, t: &RatioTable, rows: &[Row]) -> String {
    let p = &outcome.preset;
    let sets = &p.test_sets;
    let mut s = caption(outcome, t);
    if !outcome.missing.is_empty() {
        s += &format!(
            "**Partial**: {} stage(s) not finished: {}.\n\n",
            outcome.missing.len(),
            outcome.missing.join(", ")
        );
    }
    s += &format!("| method | seeds | {} |\n|---|---:|", sets.join(" | "));
    s += &"---:|".repeat(sets.len());
    s += "\n";
    for row in rows {
        let c: Vec<String> = sets
            .iter()
            .map(|set| match row.cells.get(set) {
                Some(c) if row.seeds > 1 => {
                    format!("{:.2} ± {:.2} / {:.4}", c.psnr, c.psnr_std, c.ssim)
                }
                Some(c) => format!("{:.2} / {:.4}", c.psnr, c.ssim),
                None => "-".into(),
            })
            .collect();
        s += &format!("| {} | {} | {} |\n", row.label, row.seeds, c.join(" | "));
    }
    s += "\n## Reading\n\n";
    s += &reading(sets, t, rows, reference_label(&p.task()));
    s
}

fn caption(outcome: &RunOutcome, t: &RatioTable) -> String {
    let p = &outcome.preset;
    let student = t.student(&p.student);
    let task = match p.task() {
        Task::SuperResolution { scale } => format!("super-resolution x{scale}"),
        Task::Denoise { sigma } => format!("colour denoising, sigma {sigma}"),
    };
    let targets = match p.teacher {
        Some(_) => "IDC's HR targets come from the teacher.",
        None => "IDC condenses clean patches (identity teacher); noise is redrawn per sample.",
    };
    format!(
        "# `{}`: {task} ({})\n\n\
         Training pool: {}x{} patches ({} in the pool); students {} ({} iterations, batch {}, \
         crop {}), {} seed(s) per row. {targets} RGB PSNR (dB) / SSIM, mean ± sample std over \
         seeds.\n\n",
        t.name,
        p.name,
        p.hr_patch,
        p.hr_patch,
        outcome.pool_patches,
        student.arch,
        student.iters,
        student.batch,
        student.lr_patch,
        p.seeds_main,
    )
}

/// Each IDC row against the other methods at its ratio, the Random row at the largest ratio
/// and Whole; then Whole against the reference row.
fn comparisons(t: &RatioTable, reference: &str) -> Vec<(String, String)> {
    let kinds: Vec<(String, Option<RowKind>)> =
        t.rows.iter().map(|r| (r.label(), r.kind().ok())).collect();
    let largest_random = t
        .rows
        .iter()
        .filter(|r| r.method == "Random")
        .filter_map(|r| r.ratio)
        .fold(None, |m: Option<f64>, r| Some(m.map_or(r, |m| m.max(r))));
    let mut pairs = Vec::new();
    for (label, kind) in &kinds {
        let Some(RowKind::Idc(r)) = kind else {
            continue;
        };
        for (other, k) in &kinds {
            if matches!(k, Some(RowKind::Select(_, r2)) if r2 == r) {
                pairs.push((label.clone(), other.clone()));
            }
        }
        if let Some(big) = largest_random.filter(|big| big != r) {
            pairs.push((label.clone(), format!("Random {}", pct(big))));
        }
        pairs.push((label.clone(), "Whole".into()));
    }
    pairs.push(("Whole".into(), reference.into()));
    pairs
}

/// Pairwise comparisons, claimed only beyond 2x the larger seed std.
fn reading(sets: &[String], t: &RatioTable, rows: &[Row], reference: &str) -> String {
    let find = |name: &str| rows.iter().find(|r| r.label == name);
    let mut s = String::new();
    for (a, b) in comparisons(t, reference) {
        let (Some(ra), Some(rb)) = (find(&a), find(&b)) else {
            continue;
        };
        if ra.cells.is_empty() || rb.cells.is_empty() {
            s += &format!("- {a} vs {b}: not available yet.\n");
            continue;
        }
        for set in sets {
            let (Some(x), Some(y)) = (ra.cells.get(set), rb.cells.get(set)) else {
                s += &format!("- {a} vs {b} on {set}: not available yet.\n");
                continue;
            };
            let one_seed_each = ra.seeds < 2 && rb.seeds < 2 && b != reference;
            s += &format!(
                "- {a} vs {b} on {set}: {}.\n",
                claim(&a, &b, x, y, one_seed_each)
            );
        }
    }
    s
}

fn claim(a: &str, b: &str, x: &Cell, y: &Cell, one_seed_each: bool) -> String {
    let d = x.psnr - y.psnr;
    let bar = 2.0 * x.psnr_std.max(y.psnr_std);
    if one_seed_each {
        format!("{d:+.2} dB, one seed each: no claim")
    } else if d.abs() > bar {
        let verb = if d > 0.0 { "beats" } else { "trails" };
        format!("{d:+.2} dB, beyond 2x seed std ({bar:.2} dB): {a} {verb} {b}")
    } else {
        format!("{d:+.2} dB, within 2x seed std ({bar:.2} dB): no difference claimed")
    }
}
