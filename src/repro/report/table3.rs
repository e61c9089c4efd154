//! `table3.md`: the ablation (Table 3 analogue), each variant against the full method, with the
//! significance rule its stars follow.

use super::aggregate::{cell, mean_std, significant};
use super::render::{fmt_cell, fmt_psnr};
use crate::repro::ablation::{ABLATION_FULL, ABLATION_FULL_RESEEDED, ABLATION_RANDOM_TEACHER};
use crate::repro::outcome::{RunOutcome, StudentResult};
use crate::repro::preset::AblationSpec;
use crate::repro::preset::TEST_SETS;
use std::fmt::Write as _;

/// `table3.md` (empty without an ablation).
pub(super) fn table3_file(outcome: &RunOutcome) -> String {
    match &outcome.preset.ablation {
        Some(a) => table3_md(a, &outcome.ablation),
        None => String::new(),
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
