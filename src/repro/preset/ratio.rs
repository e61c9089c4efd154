//! The ratio table (the paper's Tables 4 and 5): rows of methods over the whole pool, each at its
//! own ratio, with `seeds_main` students per row. Random draws one set per seed; IDC and the other
//! selections make one set per ratio (their seeds vary the student only, as in the main table).
//! Denoising's Table 5 is one (Whole, Random and IDC at 10% and 1%); Table 4 (IDC 1% vs Random
//! 1% vs DCSR 1% vs Random 10%) is another. Stages and rows are data: a new table is a preset.

use super::TrainSpec;
use crate::condense::CondenseConfig;
use crate::error::{IdcError, Result};
use crate::select::SelectMethod;
use serde::{Deserialize, Serialize};

/// A table of methods at their own ratios.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RatioTable {
    /// File stem of the table (`table5` -> `table5.md`, `table5.json`) and prefix of its stages.
    pub name: String,
    /// Rows in table order.
    pub rows: Vec<RatioRow>,
    /// The students' budget (`None`: the preset's `student`). Left out of the JSON when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub student: Option<TrainSpec>,
}

/// One row: a method and its ratio.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RatioRow {
    /// `Whole`, `IDC`, or a selection's table name: `Random`, `Herding`, `K-center`, `DCSR`.
    pub method: String,
    /// Fraction of the pool (per image for IDC), in (0, 1]; absent for `Whole`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratio: Option<f64>,
}

/// What a row trains on, resolved from its method name.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum RowKind {
    /// The whole pool.
    Whole,
    /// IDC's set condensed at this ratio per image.
    Idc(f64),
    /// A selection's set at this ratio of the pool.
    Select(SelectMethod, f64),
}

/// `0.1` -> `10%`, `0.01` -> `1%` (one decimal at most).
pub(crate) fn pct(ratio: f64) -> String {
    format!("{}%", (ratio * 1000.0).round() / 10.0)
}

impl RatioRow {
    /// A row of `method` at `ratio` (`None` for `Whole`).
    pub fn new(method: &str, ratio: Option<f64>) -> Self {
        RatioRow {
            method: method.into(),
            ratio,
        }
    }

    /// Row label: `Whole`, `IDC 1%`, `Random 10%`.
    pub fn label(&self) -> String {
        match self.ratio {
            Some(r) => format!("{} {}", self.method, pct(r)),
            None => self.method.clone(),
        }
    }

    /// The row's kind; an unknown method or a ratio that does not fit it is an error.
    pub(crate) fn kind(&self) -> Result<RowKind> {
        let field = "ratio_table.rows";
        let ratio = match (self.method.as_str(), self.ratio) {
            ("Whole", None) => return Ok(RowKind::Whole),
            ("Whole", Some(_)) => return Err(IdcError::config(field, "Whole takes no ratio")),
            (m, None) => return Err(IdcError::config(field, format!("{m} needs a ratio"))),
            (_, Some(r)) => r,
        };
        if !(ratio > 0.0 && ratio <= 1.0) {
            return Err(IdcError::config(
                field,
                format!("{}: ratio must be in (0, 1]", self.method),
            ));
        }
        if self.method == "IDC" {
            return Ok(RowKind::Idc(ratio));
        }
        SelectMethod::ALL
            .into_iter()
            .find(|m| m.table_name() == self.method)
            .map(|m| RowKind::Select(m, ratio))
            .ok_or_else(|| {
                IdcError::config(
                    field,
                    format!(
                        "unknown method {:?} (Whole, IDC, Random, Herding, K-center, DCSR)",
                        self.method
                    ),
                )
            })
    }
}

impl RatioTable {
    /// The table's student budget: its own, else `preset_student`.
    pub fn student<'a>(&'a self, preset_student: &'a TrainSpec) -> &'a TrainSpec {
        self.student.as_ref().unwrap_or(preset_student)
    }

    /// A row's student method key: `<table>-<label without spaces>` (unique across tables).
    pub(crate) fn method_key(&self, row: &RatioRow) -> String {
        format!("{}-{}", self.name, row.label().replace(' ', ""))
    }

    /// Stage name of IDC's set at `ratio`.
    pub(crate) fn idc_set_name(&self, ratio: f64) -> String {
        format!("{}-set-IDC-{}", self.name, pct(ratio))
    }

    /// Stage name of a selection's set at `ratio` (Random: one per seed; the others seed 0).
    pub(crate) fn select_set_name(&self, method: SelectMethod, ratio: f64, seed: u64) -> String {
        format!("{}-set-{method}-{}-s{seed}", self.name, pct(ratio))
    }

    /// A file-stem name, known methods at valid ratios, distinct labels, IDC's condensation
    /// valid at each of its ratios, the student's budget (`lr_side`: the pool's LR patch).
    pub(crate) fn validate(&self, condense: &CondenseConfig, lr_side: usize) -> Result<()> {
        let stem_ok = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
        if self.name.is_empty() || !self.name.chars().all(stem_ok) {
            return Err(IdcError::config(
                "ratio_table.name",
                "must be a non-empty file stem (letters, digits, - and _)",
            ));
        }
        if self.rows.is_empty() {
            return Err(IdcError::config("ratio_table.rows", "must not be empty"));
        }
        let mut labels = std::collections::HashSet::new();
        for row in &self.rows {
            if !labels.insert(row.label()) {
                return Err(IdcError::config(
                    "ratio_table.rows",
                    format!("{} appears twice", row.label()),
                ));
            }
            if let RowKind::Idc(r) = row.kind()? {
                let mut c = condense.clone();
                c.ratio = r;
                c.validate()?;
            }
        }
        match &self.student {
            Some(s) => s.validate("ratio_table.student", lr_side),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repro::preset::Preset;
    use crate::repro::{RunMode, RunPaths, run_with};

    #[test]
    fn labels_keys_and_percentages() {
        let t = Preset::denoise_cpu().ratio_table.expect("a ratio table");
        let labels: Vec<String> = t.rows.iter().map(RatioRow::label).collect();
        assert_eq!(
            labels,
            ["Whole", "Random 10%", "Random 1%", "IDC 1%", "IDC 10%"]
        );
        assert_eq!(t.method_key(&t.rows[3]), "table5-IDC1%");
        assert_eq!(pct(0.005), "0.5%");
        assert_eq!(
            t.rows[2].kind().unwrap(),
            RowKind::Select(SelectMethod::Random, 0.01)
        );
    }

    #[test]
    fn report_only_on_an_empty_work_dir_names_the_extractor() {
        let root = tempfile::tempdir().unwrap();
        let train = root.path().join("train");
        let tests = root.path().join("tests");
        crate::image::synthetic::write_synthetic_images(&train, 2, 48).unwrap();
        let p = Preset::denoise_smoke();
        for set in &p.test_sets {
            crate::image::synthetic::write_synthetic_images(&tests.join(set), 1, 40).unwrap();
        }
        let paths = RunPaths {
            train_dir: train,
            test_root: tests,
            work: root.path().join("work"),
            out: root.path().join("out"),
        };
        // Nothing finished: a report-only run stops at the extractor, as every preset's does.
        let err = run_with(&p.check().unwrap(), &paths, RunMode::ReportOnly).unwrap_err();
        assert!(
            matches!(&err, IdcError::StageMissing(s) if s == "extractor"),
            "{err}"
        );
    }
}
