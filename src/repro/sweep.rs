//! The budget sweep (issue #25): condensed sets over iterations x learning rate x variant x
//! extractor strength, each with its realism measures and one student scored on held-out
//! *training* images (never the test sets: the sweep chooses defaults).

use super::preset::{SweepSpec, SweepVariant};
use crate::condense::config::is_default;
use crate::condense::realism::RealismSummary;
use crate::condense::{CondenseConfig, ValidCondenseConfig};
use crate::error::{IdcError, Result};
use serde::{Deserialize, Serialize};

/// The extractor role of the sweep's stronger extractor stage.
pub const STRONG_EXTRACTOR: &str = "extractor-strong";

/// The control rows' stage set: real patches drawn at random per image (no condensation).
pub const SWEEP_RANDOM_SET: &str = "set-sweep-random";

/// Control row: the random set with its real HR targets.
pub const SWEEP_RANDOM: &str = "random";

/// Control row: the random set with the teacher's HR targets (distillation alone).
pub const SWEEP_RANDOM_TEACHER: &str = "random+T";

/// One condensed set of the sweep.
#[derive(Clone, Debug)]
pub struct SweepCell {
    /// `<variant>-i<iters>-lr<lr>`.
    pub name: String,
    /// The variant's name.
    pub variant: String,
    /// Condensation iterations.
    pub iters: usize,
    /// Adam learning rate.
    pub lr: f64,
    /// The cell's full condensation config.
    pub config: ValidCondenseConfig,
    /// Condensed with [`STRONG_EXTRACTOR`].
    pub strong: bool,
    /// The set's seed (0 but for the repeats of [`SweepSpec::set_seeds`]).
    pub set_seed: u64,
}

impl SweepCell {
    /// The extractor role the cell is condensed with.
    pub fn extractor_role(&self) -> &'static str {
        if self.strong {
            STRONG_EXTRACTOR
        } else {
            "extractor"
        }
    }
}

impl SweepResult {
    /// A control row (no condensation: no iterations, no learning rate, no realism).
    pub fn control(name: &str) -> Self {
        Self {
            cell: name.into(),
            variant: name.into(),
            iters: 0,
            lr: 0.0,
            strong: false,
            set_seed: 0,
            realism: None,
            holdout_psnr: Vec::new(),
        }
    }

    /// Whether this row is a control (see [`SweepSpec::controls`]).
    pub fn is_control(&self) -> bool {
        self.iters == 0
    }
}

impl SweepSpec {
    /// Every cell, variant by variant, budgets ascending; `base` is the preset's condensation.
    pub fn cells(&self, base: &CondenseConfig) -> Result<Vec<SweepCell>> {
        let mut cells = Vec::new();
        for v in &self.variants {
            let lrs = match (&v.lrs, v.all_lrs) {
                (Some(own), _) => &own[..],
                (None, true) => &self.lrs[..],
                (None, false) => &self.lrs[..self.lrs.len().min(1)],
            };
            for &iters in v.iters.as_ref().unwrap_or(&self.iters) {
                for &lr in lrs {
                    let config = cell_config(base, v, iters, lr, self.ratio)?;
                    cells.push(SweepCell {
                        name: format!("{}-i{iters}-lr{lr}", v.name),
                        variant: v.name.clone(),
                        iters,
                        lr,
                        config,
                        strong: v.strong_extractor,
                        set_seed: 0,
                    });
                }
            }
        }
        let repeats = self.set_seed_repeats(&cells);
        cells.extend(repeats);
        Ok(cells)
    }

    /// The repeats of [`SweepSpec::set_seeds`], after every other cell so the table's order
    /// (and each cell's stage) stays as without them.
    fn set_seed_repeats(&self, cells: &[SweepCell]) -> Vec<SweepCell> {
        let Some(spread) = &self.set_seeds else {
            return Vec::new();
        };
        let named = |name: &String| cells.iter().find(|c| &c.name == name);
        let mut repeats = Vec::new();
        for c in spread.cells.iter().filter_map(named) {
            repeats.extend((1..spread.sets).map(|k| SweepCell {
                name: set_seed_repeat_name(&c.name, k),
                set_seed: k as u64,
                ..c.clone()
            }));
        }
        repeats
    }

    /// Students of `cell`.
    pub fn seeds_of(&self, cell: &str) -> usize {
        match &self.seed_cell {
            Some(c) if c == cell => self.seeds,
            _ => 1,
        }
    }

    /// Non-empty axes, a stronger extractor where a variant asks for one, valid cell configs
    /// (`base` checked first, so a cell's error is the sweep's: named after its axis).
    pub fn validate(&self, base: &CondenseConfig) -> Result<()> {
        for (field, empty) in [
            ("sweep.iters", self.iters.is_empty()),
            ("sweep.lrs", self.lrs.is_empty()),
            ("sweep.variants", self.variants.is_empty()),
            (
                "sweep.variants.lrs",
                self.variants
                    .iter()
                    .any(|v| v.lrs.as_ref().is_some_and(Vec::is_empty)),
            ),
            (
                "sweep.variants.iters",
                self.variants
                    .iter()
                    .any(|v| v.iters.as_ref().is_some_and(Vec::is_empty)),
            ),
        ] {
            if empty {
                return Err(IdcError::config(field, "must be non-empty"));
            }
        }
        for (field, n) in [
            ("sweep.max_images", self.max_images),
            ("sweep.holdout_images", self.holdout_images),
            ("sweep.seeds", self.seeds),
        ] {
            if n == 0 {
                return Err(IdcError::config(field, "must be > 0"));
            }
        }
        if self.strong_extractor.is_none() && self.variants.iter().any(|v| v.strong_extractor) {
            return Err(IdcError::config(
                "sweep.strong_extractor",
                "a variant asks for the stronger extractor, which is not given",
            ));
        }
        let cells = self.cells(base).map_err(cell_error)?;
        if let Some(c) = &self.seed_cell
            && !cells.iter().any(|cell| &cell.name == c)
        {
            return Err(IdcError::config(
                "sweep.seed_cell",
                format!("no cell named {c:?}"),
            ));
        }
        self.validate_set_seeds(&cells)
    }

    fn validate_set_seeds(&self, cells: &[SweepCell]) -> Result<()> {
        let Some(spread) = &self.set_seeds else {
            return Ok(());
        };
        if spread.sets < 2 {
            return Err(IdcError::config("sweep.set_seeds.sets", "must be >= 2"));
        }
        if spread.cells.is_empty() {
            return Err(IdcError::config(
                "sweep.set_seeds.cells",
                "must be non-empty",
            ));
        }
        match spread
            .cells
            .iter()
            .find(|n| !cells.iter().any(|c| c.set_seed == 0 && &c.name == *n))
        {
            Some(n) => Err(IdcError::config(
                "sweep.set_seeds.cells",
                format!("no cell named {n:?}"),
            )),
            None => Ok(()),
        }
    }
}

/// A cell config's error named after the sweep field that set the refused value.
fn cell_error(e: IdcError) -> IdcError {
    match e {
        IdcError::InvalidConfig { field, reason } if !field.starts_with("sweep.") => {
            let axis = match field.as_str() {
                "lr" => "lrs",
                "iters" | "ratio" => field.as_str(),
                _ => "variants",
            };
            IdcError::config(format!("sweep.{axis}"), format!("{field} {reason}"))
        }
        e => e,
    }
}

/// `base` with the variant's fields merged in, at `iters` and `lr`, the warm-up and assigning
/// phases at the base's proportions of its own `iters`.
fn cell_config(
    base: &CondenseConfig,
    v: &SweepVariant,
    iters: usize,
    lr: f64,
    ratio: f64,
) -> Result<ValidCondenseConfig> {
    let mut c = base
        .with_json(v.config.clone())
        .map_err(|e| IdcError::config("sweep.variants", format!("variant {:?}: {e}", v.name)))?;
    let share = |n: usize| n * iters / base.iters.max(1);
    c.warmup = share(base.warmup);
    c.assign = share(base.assign);
    c.assign_every = share(base.assign_every).clamp(1, c.assign.max(1));
    c.iters = iters;
    c.lr = lr;
    c.ratio = ratio;
    c.check()
}

/// The name of `cell`'s repeat with set seed `k` (the cell itself for `k` 0).
pub(crate) fn set_seed_repeat_name(cell: &str, k: usize) -> String {
    match k {
        0 => cell.to_string(),
        k => format!("{cell}-set{k}"),
    }
}

/// One cell's results: its realism and its students' held-out scores.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SweepResult {
    /// Cell name.
    pub cell: String,
    /// Variant name.
    pub variant: String,
    /// Condensation iterations.
    pub iters: usize,
    /// Adam learning rate.
    pub lr: f64,
    /// Condensed with the stronger extractor.
    pub strong: bool,
    /// The set's seed (see [`SweepCell::set_seed`]); left out of the JSON when 0.
    #[serde(default, skip_serializing_if = "is_default")]
    pub set_seed: u64,
    /// The condensed set's realism (None until the set exists).
    pub realism: Option<RealismSummary>,
    /// Held-out RGB PSNR of each student, by seed.
    pub holdout_psnr: Vec<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::condense::{LrSchedule, PixelParam};
    use crate::repro::preset::TrainSpec;

    fn empty_object() -> serde_json::Value {
        serde_json::Value::Object(Default::default())
    }

    fn spec(variants: Vec<SweepVariant>) -> SweepSpec {
        SweepSpec {
            iters: vec![20, 100],
            lrs: vec![0.01, 0.003],
            variants,
            strong_extractor: None,
            ratio: 0.1,
            max_images: 4,
            holdout_images: 2,
            student: TrainSpec {
                arch: "edsr:8x1".into(),
                iters: 2,
                batch: 2,
                lr_patch: 16,
                valid_every: 2,
                lr: None,
            },
            seed_cell: None,
            seeds: 3,
            controls: false,
            set_seeds: None,
        }
    }

    fn names(cells: &[SweepCell]) -> Vec<&str> {
        cells.iter().map(|c| c.name.as_str()).collect()
    }

    #[test]
    fn a_variant_with_its_own_lrs_crosses_only_those() {
        let base = CondenseConfig::default();
        let mut fast = SweepVariant::new("fast", empty_object(), false);
        fast.lrs = Some(vec![0.02, 0.04]);
        let s = spec(vec![fast.clone()]);
        s.validate(&base).unwrap();
        assert_eq!(
            names(&s.cells(&base).unwrap()),
            [
                "fast-i20-lr0.02",
                "fast-i20-lr0.04",
                "fast-i100-lr0.02",
                "fast-i100-lr0.04"
            ]
        );
        fast.lrs = Some(Vec::new());
        let err = spec(vec![fast]).validate(&base).unwrap_err().to_string();
        assert!(err.contains("sweep.variants.lrs"), "{err}");
    }

    #[test]
    fn a_variant_with_its_own_iters_runs_only_those_budgets() {
        let base = CondenseConfig::default();
        let mut late = SweepVariant::new("late", empty_object(), false);
        late.iters = Some(vec![100]);
        let s = spec(vec![SweepVariant::new("a", empty_object(), false), late]);
        s.validate(&base).unwrap();
        assert_eq!(
            names(&s.cells(&base).unwrap()),
            ["a-i20-lr0.01", "a-i100-lr0.01", "late-i100-lr0.01"]
        );
    }

    #[test]
    fn set_seed_repeats_follow_every_cell_and_differ_only_in_seed() {
        let base = CondenseConfig::default();
        let mut s = spec(vec![SweepVariant::new("a", empty_object(), false)]);
        let plain = s.cells(&base).unwrap();
        s.set_seeds = Some(crate::repro::SetSeedSpread {
            cells: vec!["a-i100-lr0.01".into()],
            sets: 3,
        });
        s.validate(&base).unwrap();
        let cells = s.cells(&base).unwrap();
        assert_eq!(
            names(&cells),
            [
                "a-i20-lr0.01",
                "a-i100-lr0.01",
                "a-i100-lr0.01-set1",
                "a-i100-lr0.01-set2"
            ]
        );
        let seeds: Vec<u64> = cells.iter().map(|c| c.set_seed).collect();
        assert_eq!(seeds, [0, 0, 1, 2]);
        for (before, now) in plain.iter().zip(&cells) {
            assert_eq!(before.name, now.name);
        }
        for repeat in &cells[2..] {
            assert_eq!((repeat.iters, repeat.lr), (100, 0.01));
            assert_eq!(repeat.config, cells[1].config);
        }
    }

    #[test]
    fn cells_cross_budgets_and_merge_variant_fields() {
        let base = CondenseConfig {
            iters: 40,
            warmup: 10,
            assign: 10,
            assign_every: 5,
            ..CondenseConfig::default()
        };
        let s = spec(vec![
            SweepVariant::new("full", empty_object(), true),
            SweepVariant::new(
                "natural",
                serde_json::json!({"param": "sigmoid", "lr_schedule": "cosine", "ncfd": {"sigma": 2.0}}),
                false,
            ),
        ]);
        s.validate(&base).unwrap();
        let cells = s.cells(&base).unwrap();
        assert_eq!(
            names(&cells),
            [
                "full-i20-lr0.01",
                "full-i20-lr0.003",
                "full-i100-lr0.01",
                "full-i100-lr0.003",
                "natural-i20-lr0.01",
                "natural-i100-lr0.01"
            ]
        );
        let full100 = &cells[2].config;
        assert_eq!(
            (
                full100.iters,
                full100.warmup,
                full100.assign,
                full100.assign_every
            ),
            (100, 25, 25, 12)
        );
        assert_eq!(full100.lr, 0.01);
        let nat = &cells[4].config;
        assert_eq!(
            (nat.param, nat.lr_schedule),
            (PixelParam::Sigmoid, LrSchedule::Cosine)
        );
        assert_eq!(nat.ncfd.sigma, 2.0);
        assert_eq!(
            nat.ncfd.num_freqs, base.ncfd.num_freqs,
            "nested fields kept"
        );
    }

    #[test]
    fn bad_variants_and_axes_are_refused() {
        let base = CondenseConfig::default();
        let typo = spec(vec![SweepVariant::new(
            "x",
            serde_json::json!({"parm": "sigmoid"}),
            false,
        )]);
        assert!(typo.validate(&base).is_err());
        let bad_value = spec(vec![SweepVariant::new(
            "x",
            serde_json::json!({"chroma_lr": 2.0}),
            false,
        )]);
        assert!(bad_value.validate(&base).is_err());
        let mut strong = spec(vec![SweepVariant::new("x", empty_object(), false)]);
        strong.variants[0].strong_extractor = true;
        assert!(strong.validate(&base).is_err());
        let mut unknown_cell = spec(vec![SweepVariant::new("x", empty_object(), false)]);
        unknown_cell.seed_cell = Some("y-i20-lr0.01".into());
        assert!(unknown_cell.validate(&base).is_err());
        unknown_cell.seed_cell = Some("x-i20-lr0.01".into());
        unknown_cell.validate(&base).unwrap();
        assert_eq!(unknown_cell.seeds_of("x-i20-lr0.01"), 3);
        assert_eq!(unknown_cell.seeds_of("x-i100-lr0.01"), 1);
        let mut empty = spec(vec![SweepVariant::new("x", empty_object(), false)]);
        empty.lrs.clear();
        assert!(empty.validate(&base).is_err());
    }
}
