//! The result files' contents: markdown tables, `table1.json`, the README and the convergence
//! plot's series, as strings and values (nothing here touches the disk).

use super::aggregate::{
    CONTROLS, Cell, CurvePoint, METHODS, cell, iterations_to, mean_std, significant, single_row,
};
use crate::repro::ablation::{ABLATION_FULL, ABLATION_FULL_RESEEDED, ABLATION_RANDOM_TEACHER};
use crate::repro::outcome::{RANDOM_TEACHER, RunOutcome, StudentResult, VALID_SET};
use crate::repro::plot::Series;
use crate::repro::preset::TEST_SETS;
use crate::repro::preset::{AblationSpec, Preset};
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

pub(super) fn table1_json(
    outcome: &RunOutcome,
    t: &BTreeMap<String, BTreeMap<String, Cell>>,
) -> Value {
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
pub(super) fn table3_md(a: &AblationSpec, results: &[StudentResult]) -> String {
    let mut t3 = table3_heading(a);
    let names = variant_names(results);
    let full = variant_rows(results, ABLATION_FULL);
    let reseeded = variant_rows(results, ABLATION_FULL_RESEEDED);
    for name in &names {
        let rs = variant_rows(results, name);
        let cells: Vec<String> = TEST_SETS
            .iter()
            .map(|s| table3_cell(name, &rs, &full, &reseeded, s))
            .collect();
        let _ = writeln!(t3, "| {name} | {} |", cells.join(" | "));
    }
    t3.push_str(&table3_notes(&names));
    // What finished, not what the preset asks for: a partial run must not claim a spread yet.
    let has_runs = names.contains(&ABLATION_FULL_RESEEDED) && !full.is_empty();
    let _ = writeln!(t3, "\n{}", table3_rule(a.seeds, full.len(), has_runs));
    t3
}

/// Title, the setup sentence (ratio, images, seeds, iterations) and the table header row.
fn table3_heading(a: &AblationSpec) -> String {
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
    t3
}

/// The ablation variants (method names without `abl-`), once each, in run order.
fn variant_names(results: &[StudentResult]) -> Vec<&str> {
    let mut names: Vec<&str> = Vec::new();
    for r in results {
        let n = r.method.trim_start_matches("abl-");
        if !names.contains(&n) {
            names.push(n);
        }
    }
    names
}

/// The results of one variant (`name` without `abl-`), one per seed.
fn variant_rows<'a>(results: &'a [StudentResult], name: &str) -> Vec<&'a StudentResult> {
    results
        .iter()
        .filter(|r| r.method.trim_start_matches("abl-") == name)
        .collect()
}

/// One variant's cell on test set `set`: PSNR with its difference to the full variant (starred
/// when significant) and SSIM; the full variant itself and missing pairs get a plain cell.
fn table3_cell(
    name: &str,
    rs: &[&StudentResult],
    full: &[&StudentResult],
    reseeded: &[&StudentResult],
    set: &str,
) -> String {
    let c = cell(rs, set);
    let f = cell(full, set);
    // The two full condensations as two samples: their std is the run-to-run spread.
    let runs = cell(reseeded, set)
        .zip(f)
        .map(|(r, f)| mean_std(&[r.psnr, f.psnr]).1);
    match (c, f) {
        (Some(c), Some(f)) if name != ABLATION_FULL => {
            let diff = c.psnr - f.psnr;
            let mark = if name != ABLATION_FULL_RESEEDED && significant(&c, &f, runs, diff) {
                "*"
            } else {
                ""
            };
            format!("{} ({diff:+.2}{mark}) / {:.4}", fmt_psnr(&c), c.ssim)
        }
        (c, _) => fmt_cell(c.as_ref()),
    }
}

/// Footnotes for the control variants present in the table (random+teacher, reseeded full).
fn table3_notes(names: &[&str]) -> String {
    let mut t3 = String::new();
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
    t3
}

/// The significance rule the stars follow: twice the larger of the spreads that finished runs
/// can show (`seeds` per variant, `full_seeds` finished full students, `has_runs` when the
/// reseeded full condensation finished), or no claim at all when none can be shown.
fn table3_rule(seeds: usize, full_seeds: usize, has_runs: bool) -> String {
    let students = if seeds >= 2 {
        Some("the larger seed std of the two rows".to_string())
    } else if full_seeds >= 2 {
        Some(format!(
            "the seed std of `{ABLATION_FULL}` ({full_seeds} seeds: the student-to-student spread, \
             which a variant's single student carries too)"
        ))
    } else {
        None
    };
    let runs = has_runs.then_some("the std between the two condensation runs of the full method");
    let bound = match (students, runs) {
        (None, None) => None,
        (Some(st), None) => Some(st),
        (None, Some(r)) => Some(r.to_string()),
        (Some(st), Some(r)) => Some(format!("the larger of {st} and {r}")),
    };
    match bound {
        Some(b) => format!("A difference is claimed (marked *) only where it exceeds twice {b}."),
        None => "One seed per variant: no seed spread, so no difference here is claimed as \
                 significant; read them against the seed spreads of Table 1."
            .to_string(),
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

/// `table1.md`: Table 1, the control rows, the teacher's reference row and the footnote.
pub(super) fn table1_md(
    outcome: &RunOutcome,
    t: &BTreeMap<String, BTreeMap<String, Cell>>,
) -> String {
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

/// The convergence plot: its title and one series per method curve.
pub(super) fn convergence_plot(
    outcome: &RunOutcome,
    curves: &[(String, Vec<CurvePoint>)],
) -> (String, Vec<Series>) {
    let title = format!(
        "{VALID_SET} validation PSNR (RGB), x{}",
        outcome.preset.scale
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

/// `table2.md`: iterations each method's mean curve needs to reach two targets (empty without
/// bicubic and Whole scores to place the targets).
pub(super) fn table2_md(outcome: &RunOutcome, curves: &[(String, Vec<CurvePoint>)]) -> String {
    // Alphabetical, as Table 2 has always listed them.
    let curves: BTreeMap<&str, &[CurvePoint]> = curves
        .iter()
        .map(|(m, c)| (m.as_str(), c.as_slice()))
        .collect();
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
    t2
}

/// `table3.md` (empty without an ablation).
pub(super) fn table3_file(outcome: &RunOutcome) -> String {
    match &outcome.preset.ablation {
        Some(a) => table3_md(a, &outcome.ablation),
        None => String::new(),
    }
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

/// The `README.md` of a results folder: command, provenance, the three tables, the automatic
/// reading, the plot and the stage times. `shown_out` is the folder the re-run command names;
/// `has_reading` links the hand-written `READING.md`.
pub(super) fn readme(
    outcome: &RunOutcome,
    t: &BTreeMap<String, BTreeMap<String, Cell>>,
    [table1_md, t2, t3]: [&str; 3],
    commit: &str,
    shown_out: &Path,
    has_reading: bool,
) -> String {
    let (head, stages) = head_and_stages(outcome, commit, shown_out);
    format!(
        "{head}{table1_md}\n\n{t2}\n{t3}\n## Automatic reading (differences claimed only above 2x seed std)\n\n{human}{read}\n\
         ![convergence](convergence.png)\n\n{gaps}{stages}",
        read = reading(t),
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
