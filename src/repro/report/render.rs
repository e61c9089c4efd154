//! The result files' contents: markdown tables, `table1.json`, the README and the convergence
//! plot's series, as strings and values (nothing here touches the disk).

use super::aggregate::{
    CONTROLS, Cell, CurvePoint, Family, METHODS, families, iterations_to, single_row, table1_of,
};
use crate::repro::outcome::{RANDOM_TEACHER, RunOutcome};
use crate::repro::plot::Series;
use crate::repro::preset::Preset;
use crate::repro::preset::TEST_SETS;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// What a control row is, for the tables' footnotes.
pub const CONTROL_NOTE: &str = "Random+T: control, not a Table-1 method. Random's own sets (same LR patches, same seeds) with \
     HR targets from the teacher, like IDC's; IDC vs Random+T isolates what condensing the LR patches adds, \
     IDC vs Random mixes that with the teacher's distillation.";

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

/// The JSON rows of `methods` in table `t`.
fn rows_json(t: &BTreeMap<String, BTreeMap<String, Cell>>, methods: &[&str]) -> Vec<Value> {
    methods
        .iter()
        .map(|m| {
            let mut row = serde_json::Map::new();
            row.insert("method".into(), json!(m));
            row.extend(row_json(t.get(*m)));
            Value::Object(row)
        })
        .collect()
}

/// `table1.json`: the first student family's rows and controls at the top level (as always);
/// with further families, `families` lists every family's (`student`, `rows`, `controls`).
pub(super) fn table1_json(
    outcome: &RunOutcome,
    t: &BTreeMap<String, BTreeMap<String, Cell>>,
) -> Value {
    let rows_of = |methods: &[&str]| rows_json(t, methods);
    let mut v = json!({
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
    });
    let fams = families(&outcome.preset);
    if fams.len() > 1 {
        let list = fams.iter().map(|f| {
            let t = table1_of(outcome, f.key);
            json!({
                "student": f.spec.arch,
                "iters": f.spec.iters,
                "rows": rows_json(&t, &METHODS),
                "controls": rows_json(&t, &CONTROLS),
            })
        });
        v["families"] = Value::Array(list.collect());
    }
    v
}

/// PSNR of a cell, with its seed std when there is more than one seed.
pub(super) fn fmt_psnr(c: &Cell) -> String {
    if c.seeds > 1 {
        format!("{:.2} ± {:.2}", c.psnr, c.psnr_std)
    } else {
        format!("{:.2}", c.psnr)
    }
}

pub(super) fn fmt_cell(c: Option<&Cell>) -> String {
    match c {
        Some(c) => format!("{} / {:.4}", fmt_psnr(c), c.ssim),
        None => "—".into(),
    }
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
            (RANDOM_TEACHER, get(RANDOM_TEACHER)),
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
    let fams = families(&outcome.preset);
    for r in &outcome.students {
        let family = fams.iter().find(|f| f.key == r.family.as_deref());
        let every = family.map_or(1, |f| f.spec.valid_every.max(1));
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

/// One family's Table 1 rows (methods, the controls that have results, the teacher's reference
/// row) under the header row, and whether a control row is among them.
fn table1_rows(
    outcome: &RunOutcome,
    t: &BTreeMap<String, BTreeMap<String, Cell>>,
) -> (String, bool) {
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
        let teacher = outcome
            .preset
            .teacher
            .as_ref()
            .map_or("identity", |t| &t.arch);
        let label = format!("Teacher `{teacher}` (reference)");
        md.push_str(&md_row(&label, Some(&single_row(&outcome.teacher))));
    }
    (md, !controls.is_empty())
}

/// Every family's Table 1 rows: one table for a single family (as always), else a titled table
/// per family (the paper's blocks of rows per student architecture); the controls' footnote.
fn table1_blocks(outcome: &RunOutcome) -> String {
    let fams = families(&outcome.preset);
    let mut md = String::new();
    let mut any_controls = false;
    for f in &fams {
        let (rows, controls) = table1_rows(outcome, &table1_of(outcome, f.key));
        any_controls |= controls;
        if fams.len() == 1 {
            md.push_str(&rows);
        } else {
            let (arch, iters) = (&f.spec.arch, f.spec.iters);
            let _ = writeln!(md, "### Student `{arch}` ({iters} iterations)\n\n{rows}");
        }
    }
    if any_controls {
        let gap = if fams.len() == 1 { "\n" } else { "" };
        let _ = writeln!(md, "{gap}{CONTROL_NOTE}");
    }
    md
}

/// `table1.md`: Table 1 per student family, the control rows, the teacher's reference row and
/// the footnote.
pub(super) fn table1_md(outcome: &RunOutcome) -> String {
    let md = table1_blocks(outcome);
    let partial_note = if outcome.missing.is_empty() {
        String::new()
    } else {
        format!(
            "**Partial**: {} stage(s) of the run not finished yet; cells hold the finished seeds only.\n\n",
            outcome.missing.len()
        )
    };
    format!(
        "# Table 1 analogue (x{}, ratio {}, preset `{}`)\n\n{partial_note}RGB PSNR (dB, mean ± seed std) / SSIM, BasicSR protocol (crop = scale). \
         {} real pool patches; every reduced set has {} pairs.\n\n{md}",
        outcome.preset.scale,
        outcome.preset.ratio,
        outcome.preset.name,
        outcome.pool_patches,
        outcome.set_patches
    )
}

/// The name of family `f` in a title (empty when the preset has one family).
fn family_suffix(outcome: &RunOutcome, f: &Family) -> String {
    if outcome.preset.more_students.is_empty() {
        String::new()
    } else {
        format!(", student {}", f.spec.arch)
    }
}

/// The convergence plot of family `f`: its title and one series per method curve.
pub(super) fn convergence_plot(
    outcome: &RunOutcome,
    f: &Family,
    curves: &[(String, Vec<CurvePoint>)],
) -> (String, Vec<Series>) {
    let title = format!(
        "{} validation PSNR (RGB), x{}{}",
        outcome.preset.valid_set(),
        outcome.preset.scale,
        family_suffix(outcome, f)
    );
    let series = curves
        .iter()
        .map(|(label, points)| Series {
            label: label.clone(),
            points: points.clone(),
        })
        .collect();
    (title, series)
}

/// The convergence plot's file name for family `f`: `convergence.png` for the first, then
/// `convergence-<arch>.png`.
pub(super) fn convergence_file(f: &Family) -> String {
    match f.key {
        None => "convergence.png".into(),
        Some(arch) => format!("convergence-{arch}.png"),
    }
}

/// Family `f`'s part of `table2.md`: iterations each method's mean curve needs to reach two
/// targets (empty without bicubic and Whole scores on the validation set to place them).
pub(super) fn table2_md(
    outcome: &RunOutcome,
    f: &Family,
    curves: &[(String, Vec<CurvePoint>)],
) -> String {
    // Alphabetical, as Table 2 has always listed them.
    let curves: BTreeMap<&str, &[CurvePoint]> = curves
        .iter()
        .map(|(m, c)| (m.as_str(), c.as_slice()))
        .collect();
    let valid = outcome.preset.valid_set();
    let bic = outcome
        .bicubic
        .iter()
        .find(|(n, _)| n == valid)
        .map(|(_, s)| s.psnr_rgb);
    let whole_final = curves.get("Whole").and_then(|c| c.last()).map(|p| p.1);
    let mut t2 = String::new();
    if let (Some(b), Some(w)) = (bic, whole_final) {
        let heading = format!(
            "# Table 2 analogue: iterations to reach a {valid} PSNR{}",
            family_suffix(outcome, f)
        );
        if w <= b {
            // Targets between bicubic and Whole do not exist: say so rather than count
            // iterations to a level below bicubic.
            let _ = writeln!(
                t2,
                "{heading}\n\nNo targets: the Whole student's final {valid} PSNR ({w:.2} dB) does \
                 not beat bicubic ({b:.2} dB), so this student family is too weak at this budget \
                 to place targets between the two.",
            );
            return t2;
        }
        let targets = [b + 0.5 * (w - b), b + 0.9 * (w - b)];
        let _ = writeln!(
            t2,
            "{heading}\n\nTargets: bicubic + 50% and + 90% of the Whole student's final gain over bicubic \
             ({:.2} dB and {:.2} dB); mean validation curve over seeds, validated every {} iterations; — = not reached.\n\n| method | {:.2} dB | {:.2} dB |\n|---|---|---|",
            targets[0], targets[1], f.spec.valid_every, targets[0], targets[1]
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
    t2
}

/// The stage-time section (heading and table) and the sum of the recorded seconds.
fn stage_rows(outcome: &RunOutcome) -> (String, f64) {
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
    let section = format!(
        "## Stage times (s, measured when each stage ran)\n\n| stage | seconds |\n|---|---|\n{stages}"
    );
    (section, known)
}

/// The partial-results note of a report-only run (empty when every stage finished).
fn status(outcome: &RunOutcome) -> String {
    if outcome.missing.is_empty() {
        return String::new();
    }
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
}

/// The re-run arguments: the preset's name when it is the built-in one, else its file.
fn rerun_args(outcome: &RunOutcome, shown_out: &Path) -> String {
    let name = &outcome.preset.name;
    if Preset::by_name(name).is_ok_and(|p| p == outcome.preset) {
        format!("--preset {name}")
    } else {
        format!(
            "--preset-file {0}/preset.json --out {0}",
            shown_out.display()
        )
    }
}

/// The header every results README starts with: title, status, command, commit, backend, time.
fn header(outcome: &RunOutcome, commit: &str, shown_out: &Path, known: f64) -> String {
    let name = &outcome.preset.name;
    format!(
        "# Reproduction results: preset `{name}`\n\n{status}\
         Command: `cargo run --release --example reproduce -- {args}` (same as `idc reproduce {args}`).\n\
         Git commit: `{commit}`. Backend: {backend}. Measured compute time of the finished stages: {known:.0} s ({hours:.1} h; \
         stage table below); wall time of the invocation that wrote this: {wall:.0} s.\n\n",
        status = status(outcome),
        args = rerun_args(outcome, shown_out),
        backend = outcome.backend,
        wall = outcome.wall_seconds,
        hours = known / 3600.0,
    )
}

/// The header and the stage-time table every results README has (the header quotes the
/// stages' total time, so both come from one pass over the stages).
fn head_and_stages(outcome: &RunOutcome, commit: &str, shown_out: &Path) -> (String, String) {
    let (stages, known) = stage_rows(outcome);
    (header(outcome, commit, shown_out, known), stages)
}

/// The `README.md` of a results folder: command, provenance, the three tables (and `extra`, the
/// preset's other tables), the automatic reading per student family, the plots and the stage
/// times. `shown_out` is the folder the re-run command names;
/// `has_reading` links the hand-written `READING.md`.
pub(super) fn readme(
    outcome: &RunOutcome,
    [table1_md, t2, t3, extra]: [&str; 4],
    commit: &str,
    shown_out: &Path,
    has_reading: bool,
) -> String {
    let (head, stages) = head_and_stages(outcome, commit, shown_out);
    let fams = families(&outcome.preset);
    let mut read = String::new();
    let mut plots = String::new();
    for f in &fams {
        if fams.len() > 1 {
            let _ = writeln!(read, "Student `{}`:\n", f.spec.arch);
        }
        read.push_str(&reading(&table1_of(outcome, f.key)));
        if fams.len() > 1 {
            read.push('\n');
        }
        let _ = write!(plots, "![convergence]({})\n\n", convergence_file(f));
    }
    let extra = match extra {
        "" => String::new(),
        tables => format!("{tables}\n"),
    };
    format!(
        "{head}{table1_md}\n\n{t2}\n{t3}\n{extra}## Automatic reading (differences claimed only above 2x seed std)\n\n{human}{read}\n\
         {plots}{gaps}{stages}",
        gaps = curve_gaps(outcome),
        human = if has_reading {
            "The interpretation (written by hand from these numbers, with the controls and \
             ablation that explain them) is in [READING.md](READING.md).\n\n"
        } else {
            ""
        },
    )
}

/// README of a preset without a main table (the budget sweep, the ratio table): header, the
/// hand-written reading's link when there is one, each table's section, and the stage times.
pub(super) fn tables_readme(
    outcome: &RunOutcome,
    tables: &[String],
    commit: &str,
    shown_out: &Path,
    has_reading: bool,
) -> String {
    let (head, stages) = head_and_stages(outcome, commit, shown_out);
    format!(
        "{head}{reading}{tables}{stages}",
        reading = if has_reading {
            "The reading (written by hand from these numbers) is in [READING.md](READING.md).\n\n"
        } else {
            ""
        },
        tables = tables.concat(),
    )
}

/// The sweep's part of its README: the table, the plots and where the patch sheet comes from.
pub(super) fn sweep_section(sweep_md: &str) -> String {
    format!(
        "{sweep_md}\n![held-out PSNR](sweep-psnr.png)\n\n\
         ![hf ratio](sweep-hf.png)\n\n![saturation excess](sweep-saturation.png)\n\n\
         Patches: `sweep-sheet.png`, the first LR patches of the first image in each finished \
         set (drawn from the stage cache, so only a run beside its work folder writes it).\n\n"
    )
}
