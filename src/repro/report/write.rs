//! Writes the result files of a run into its output folder (each atomically).

use super::aggregate::{families, method_curves, table1};
use super::ratio::{ratio_json, ratio_md, ratio_rows};
use super::render::{
    convergence_file, convergence_plot, readme, sweep_section, table1_json, table1_md, table2_md,
    tables_readme,
};
use super::sweep::{sweep_json, sweep_md, sweep_plots};
use super::table3::table3_file;
use crate::error::{IdcError, Result};
use crate::repro::outcome::RunOutcome;
use crate::repro::plot::line_plot_png;
use crate::repro::stage::write_atomic;
use serde::Serialize;
use std::path::Path;

/// Writes every result file into `out`.
pub fn write_all(outcome: &RunOutcome, out: &Path) -> Result<()> {
    write_all_as(outcome, out, &git_commit(), out)
}

/// The short hash of the checked-out commit ("unknown" outside a git checkout).
fn git_commit() -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// Pretty JSON through `serde_json::Value`, whose map orders the keys (as the committed files).
fn json_bytes<T: Serialize>(v: &T) -> Result<Vec<u8>> {
    let value = serde_json::to_value(v).map_err(|e| IdcError::InvalidInput(e.to_string()))?;
    serde_json::to_vec_pretty(&value).map_err(|e| IdcError::InvalidInput(format!("json: {e}")))
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
    let mut tables = Vec::new();
    if let Some(spec) = &outcome.preset.sweep {
        let md = sweep_md(outcome, spec);
        write_atomic(&out.join("sweep.md"), md.as_bytes())?;
        write_atomic(
            &out.join("sweep.json"),
            &json_bytes(&sweep_json(outcome, spec))?,
        )?;
        sweep_plots(outcome, spec, out)?;
        tables.push(sweep_section(&md));
    }
    if let Some(t) = &outcome.preset.ratio_table {
        let rows = ratio_rows(outcome, t);
        let md = ratio_md(outcome, t, &rows);
        write_atomic(&out.join(format!("{}.md", t.name)), md.as_bytes())?;
        let json = json_bytes(&ratio_json(outcome, &rows))?;
        write_atomic(&out.join(format!("{}.json", t.name)), &json)?;
        tables.push(md);
    }
    if outcome.preset.main_table {
        write_main(outcome, out, commit, shown_out, &tables.concat())?;
    } else {
        write_atomic(&out.join("run.json"), &json_bytes(outcome)?)?;
        write_atomic(&out.join("preset.json"), &json_bytes(&outcome.preset)?)?;
        let has_reading = out.join("READING.md").is_file();
        let text = tables_readme(outcome, &tables, commit, shown_out, has_reading);
        write_atomic(&out.join("README.md"), text.as_bytes())?;
    }
    Ok(())
}

/// Tables 1-3, the convergence plots, `run.json`, `preset.json` and the README (which shows
/// the preset's other tables, `extra`, after Table 3).
fn write_main(
    outcome: &RunOutcome,
    out: &Path,
    commit: &str,
    shown_out: &Path,
    extra: &str,
) -> Result<()> {
    let t = table1(outcome);
    write_atomic(
        &out.join("table1.json"),
        &json_bytes(&table1_json(outcome, &t))?,
    )?;
    write_atomic(&out.join("run.json"), &json_bytes(outcome)?)?;
    let t1 = table1_md(outcome);
    write_atomic(&out.join("table1.md"), t1.as_bytes())?;

    let mut t2 = Vec::new();
    for f in families(&outcome.preset) {
        let curves = method_curves(outcome, f.key);
        let (title, series) = convergence_plot(outcome, &f, &curves);
        if !series.is_empty() {
            let png = out.join(convergence_file(&f));
            line_plot_png(&png, &title, "iteration", "PSNR (dB)", &series)?;
        }
        t2.push(table2_md(outcome, &f, &curves));
    }
    let t2 = t2.join("\n");
    write_atomic(&out.join("table2.md"), t2.as_bytes())?;
    let t3 = table3_file(outcome);
    write_atomic(&out.join("table3.md"), t3.as_bytes())?;

    // The preset as run, so a custom one (`--preset-file`) can be re-run from this folder.
    write_atomic(&out.join("preset.json"), &json_bytes(&outcome.preset)?)?;
    let has_reading = out.join("READING.md").is_file();
    let tables = [t1.as_str(), &t2, &t3, extra];
    let text = readme(outcome, tables, commit, shown_out, has_reading);
    write_atomic(&out.join("README.md"), text.as_bytes())?;
    Ok(())
}
