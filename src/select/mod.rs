//! Selection baselines: pick a subset of the *real* LR/HR patch pairs of a folder.
//!
//! The paper's Table 1 compares IDC with four selection methods at the same ratio. All four are
//! pure host-side algorithms over pool indices here, plus a pipeline that computes what they
//! need, selects, and writes the chosen pairs into the same shard cache format as `IdcDataset`:
//!
//! - [`select_random`]: seeded uniform sample.
//! - [`herding()`]: Welling 2009, greedy mean matching (argmin; see [`herding()`] for why
//!   not DeepCore's argmax).
//! - [`kcenter_greedy`]: Sener & Savarese 2018, farthest-point cover.
//! - [`dcsr()`]: DCSR-style texture pruning + k-means + per-cluster sampling.
//! - `features`: pooled extractor features, computed in bounded-memory batches.
//!
//! **Patch budget.** IDC gives instance `j` with `N_j` patches `n_j = max(1, ceil(r N_j))`
//! synthetic patches ([`instance_budget`]). Selection uses the *same total*,
//! `k = sum_j n_j` ([`pool_budget`]), so IDC and every baseline train on exactly the same number
//! of pairs for a folder. By default (as in the paper) the `k` patches are chosen over the
//! whole pool; with `per_instance` each instance contributes exactly `n_j`. The total is the same
//! in both modes; it is at most one patch per instance above `ceil(r N)`.

use crate::config::valid_config;
use crate::error::{IdcError, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

// The sub-modules are private: every item has one public path, `burn_idc::select::X`.
pub(crate) mod dcsr;
pub(crate) mod features;
pub(crate) mod herding;
pub(crate) mod kcenter;
pub(crate) mod pipeline;
pub(crate) mod random;

pub use dcsr::{DCSR_CLUSTERS, DcsrSelection, dcsr, median, texture_score};
pub use features::{FeatureMatrix, pooled_features, pooled_pair_features};
pub use herding::{herding, mean_gap};
pub use kcenter::{covering_radius, kcenter_greedy};
pub use pipeline::{
    PatchPool, SelectionReport, Stage, expected_selected, instance_fingerprint, select_to_cache,
    select_to_cache_with_progress,
};
pub use random::select_random;

/// A selection baseline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SelectMethod {
    /// Seeded uniform sample.
    Random,
    /// Herding: greedy mean matching of features.
    Herding,
    /// K-center greedy: farthest-point cover of features.
    KCenter,
    /// DCSR-style texture pruning, k-means and per-cluster sampling.
    Dcsr,
}

impl SelectMethod {
    /// All methods, in the paper's table order.
    pub const ALL: [SelectMethod; 4] = [
        SelectMethod::Random,
        SelectMethod::Herding,
        SelectMethod::KCenter,
        SelectMethod::Dcsr,
    ];

    /// CLI / serde name (`random`, `herding`, `kcenter`, `dcsr`).
    pub fn name(self) -> &'static str {
        match self {
            SelectMethod::Random => "random",
            SelectMethod::Herding => "herding",
            SelectMethod::KCenter => "kcenter",
            SelectMethod::Dcsr => "dcsr",
        }
    }

    /// Name in the paper's tables (`Random`, `Herding`, `K-center`, `DCSR`).
    pub fn table_name(self) -> &'static str {
        match self {
            SelectMethod::Random => "Random",
            SelectMethod::Herding => "Herding",
            SelectMethod::KCenter => "K-center",
            SelectMethod::Dcsr => "DCSR",
        }
    }

    /// Whether the method needs extractor features (all but random).
    pub fn needs_features(self) -> bool {
        !matches!(self, SelectMethod::Random)
    }

    /// Whether the method needs texture scores of the HR patches (DCSR only).
    pub fn needs_texture(self) -> bool {
        matches!(self, SelectMethod::Dcsr)
    }
}

impl fmt::Display for SelectMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SelectMethod {
    type Err = IdcError;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "random" => Ok(SelectMethod::Random),
            "herding" => Ok(SelectMethod::Herding),
            "kcenter" | "k-center" => Ok(SelectMethod::KCenter),
            "dcsr" => Ok(SelectMethod::Dcsr),
            other => Err(IdcError::config(
                "method",
                format!("unknown selection method {other:?} (random|herding|kcenter|dcsr)"),
            )),
        }
    }
}

/// What to select and how. Part of the shard fingerprint, so a change re-selects.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SelectConfig {
    /// Selection method.
    pub method: SelectMethod,
    /// Fraction of patches to keep, in `(0, 1]`.
    pub ratio: f64,
    /// Seed of every random choice (random draw, k-center's first centre, k-means, DCSR draws).
    pub seed: u64,
    /// Select `n_j` patches inside each instance instead of `k` over the whole pool.
    pub per_instance: bool,
    /// Patches per extractor forward pass when computing features (bounds memory).
    pub feature_batch: usize,
}

impl Default for SelectConfig {
    fn default() -> Self {
        Self {
            method: SelectMethod::Random,
            ratio: 0.1,
            seed: 0,
            per_instance: false,
            feature_batch: 64,
        }
    }
}

valid_config! {
    /// A [`SelectConfig`] that passed [`SelectConfig::check`]: what [`select_indices`] and the
    /// selection pipeline take.
    ValidSelectConfig(SelectConfig)
}

impl Default for ValidSelectConfig {
    /// [`SelectConfig::default`], which is valid (tested).
    fn default() -> Self {
        ValidSelectConfig(SelectConfig::default())
    }
}

impl SelectConfig {
    /// Checks every field: the rules [`Self::check`] applies.
    pub fn validate(&self) -> Result<()> {
        if !(self.ratio > 0.0 && self.ratio <= 1.0) {
            return Err(IdcError::config("ratio", "must be in (0, 1]"));
        }
        if self.feature_batch == 0 {
            return Err(IdcError::config("feature_batch", "must be positive"));
        }
        Ok(())
    }
}

/// IDC's per-instance count ([`crate::config::reduced_count`], shared with
/// [`crate::condense::config::CondenseConfig::synthetic_count`]).
pub fn instance_budget(n: usize, ratio: f64) -> usize {
    crate::config::reduced_count(n, ratio)
}

/// Total number of pairs selected from instances of these sizes: `sum_j instance_budget(N_j)`,
/// the same count IDC condenses to.
pub fn pool_budget(instance_sizes: &[usize], ratio: f64) -> usize {
    instance_sizes
        .iter()
        .map(|&n| instance_budget(n, ratio))
        .sum()
}

/// What a selection method needs, pool-wide (rows in pool order = instances concatenated).
#[derive(Clone, Copy, Debug, Default)]
pub struct PoolInputs<'a> {
    /// Pooled extractor features, one row per patch (herding, k-center, DCSR).
    pub features: Option<&'a FeatureMatrix>,
    /// HR texture scores, one per patch (DCSR).
    pub texture: Option<&'a [f32]>,
}

/// Runs `method` on one index range of the pool and returns global indices.
fn select_range(
    method: SelectMethod,
    start: usize,
    len: usize,
    k: usize,
    seed: u64,
    inputs: &PoolInputs<'_>,
) -> Result<Vec<usize>> {
    let sub_features = || -> Result<FeatureMatrix> {
        let f = inputs
            .features
            .ok_or_else(|| IdcError::InvalidInput(format!("{method} needs features")))?;
        if f.rows() < start + len {
            return Err(IdcError::InvalidInput(format!(
                "{} feature rows for a pool of at least {}",
                f.rows(),
                start + len
            )));
        }
        let d = f.dim();
        FeatureMatrix::new(len, d, f.as_slice()[start * d..(start + len) * d].to_vec())
    };
    let local = match method {
        SelectMethod::Random => random::select_random(len, k, seed)?,
        SelectMethod::Herding => herding::herding(&sub_features()?, k)?,
        SelectMethod::KCenter => kcenter::kcenter_greedy(&sub_features()?, k, seed)?,
        SelectMethod::Dcsr => {
            let t = inputs
                .texture
                .ok_or_else(|| IdcError::InvalidInput("dcsr needs texture scores".into()))?;
            if t.len() < start + len {
                return Err(IdcError::InvalidInput(format!(
                    "{} texture scores for a pool of at least {}",
                    t.len(),
                    start + len
                )));
            }
            dcsr::dcsr(&t[start..start + len], &sub_features()?, k, seed)?.indices
        }
    };
    Ok(local.into_iter().map(|i| i + start).collect())
}

/// Selects pool indices (ascending, distinct) for `config` over instances of the given sizes.
///
/// Exactly [`pool_budget`]`(instance_sizes, config.ratio)` indices. Whole-pool mode runs the
/// method once on the concatenated pool; `per_instance` runs it on each instance with budget
/// [`instance_budget`] and seed `config.seed + j` (wrapping).
pub fn select_indices(
    config: &ValidSelectConfig,
    instance_sizes: &[usize],
    inputs: &PoolInputs<'_>,
) -> Result<Vec<usize>> {
    let total: usize = instance_sizes.iter().sum();
    let mut picked = if config.per_instance {
        let mut out = Vec::new();
        let mut start = 0;
        for (j, &n) in instance_sizes.iter().enumerate() {
            let k = instance_budget(n, config.ratio);
            let seed = config.seed.wrapping_add(j as u64);
            out.extend(select_range(config.method, start, n, k, seed, inputs)?);
            start += n;
        }
        out
    } else {
        let k = pool_budget(instance_sizes, config.ratio);
        select_range(config.method, 0, total, k, config.seed, inputs)?
    };
    picked.sort_unstable();
    Ok(picked)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng, rngs::StdRng};
    use std::collections::HashSet;

    #[test]
    fn method_names_round_trip() {
        for m in SelectMethod::ALL {
            assert_eq!(m.name().parse::<SelectMethod>().unwrap(), m);
            let json = serde_json::to_string(&m).unwrap();
            assert_eq!(json, format!("\"{}\"", m.name()));
        }
        assert!("coreset".parse::<SelectMethod>().is_err());
    }

    /// One test per field `SelectConfig::validate` refuses.
    mod invalid_field {
        use super::*;
        use crate::config::invalid_field_tests;

        invalid_field_tests! { SelectConfig::default();
            ratio_zero: |c| c.ratio = 0.0 => "ratio";
            ratio_negative: |c| c.ratio = -0.1 => "ratio";
            ratio_above_one: |c| c.ratio = 1.5 => "ratio";
            ratio_nan: |c| c.ratio = f64::NAN => "ratio";
            feature_batch_zero: |c| c.feature_batch = 0 => "feature_batch";
        }
    }

    #[test]
    fn valid_select_config_is_transparent_and_checked_on_read() {
        let v = ValidSelectConfig::default();
        assert_eq!(v, SelectConfig::default().check().unwrap());
        let json = serde_json::to_string(&v).unwrap();
        assert_eq!(json, serde_json::to_string(&*v).unwrap());
        assert_eq!(serde_json::from_str::<ValidSelectConfig>(&json).unwrap(), v);
        let bad = json.replace(r#""feature_batch":64"#, r#""feature_batch":0"#);
        assert!(serde_json::from_str::<SelectConfig>(&bad).is_ok());
        let err = serde_json::from_str::<ValidSelectConfig>(&bad).unwrap_err();
        assert!(err.to_string().contains("feature_batch"), "{err}");
    }

    #[test]
    fn budgets() {
        assert_eq!(instance_budget(0, 0.1), 0);
        assert_eq!(instance_budget(1, 0.1), 1);
        assert_eq!(instance_budget(9, 0.1), 1);
        assert_eq!(instance_budget(10, 0.1), 1);
        assert_eq!(instance_budget(11, 0.1), 2);
        assert_eq!(instance_budget(100, 0.07), 7); // 0.07*100 = 7.000000000000001 in f64
        assert_eq!(instance_budget(30, 0.1), 3);
        assert_eq!(instance_budget(5, 1.0), 5);
        assert_eq!(pool_budget(&[10, 11, 1, 0], 0.1), 1 + 2 + 1);
        // identical to IDC's count, so IDC and the baselines get the same number of pairs
        for ratio in [0.01, 0.05, 0.07, 0.1, 0.25, 0.3, 1.0 / 3.0, 0.5, 1.0] {
            let idc = crate::condense::config::CondenseConfig {
                ratio,
                ..Default::default()
            };
            for n in 1..2000 {
                assert_eq!(
                    instance_budget(n, ratio),
                    idc.synthetic_count(n),
                    "{n} {ratio}"
                );
            }
        }
    }

    fn inputs(n: usize) -> (FeatureMatrix, Vec<f32>) {
        let mut rng = StdRng::seed_from_u64(11);
        let f = FeatureMatrix::new(n, 3, (0..n * 3).map(|_| rng.random()).collect()).unwrap();
        let t = (0..n).map(|_| rng.random()).collect();
        (f, t)
    }

    #[test]
    fn exact_count_both_modes_all_methods() {
        let sizes = [37, 5, 120, 1, 64];
        let n: usize = sizes.iter().sum();
        let (f, t) = inputs(n);
        let inp = PoolInputs {
            features: Some(&f),
            texture: Some(&t),
        };
        let want = pool_budget(&sizes, 0.1);
        for method in SelectMethod::ALL {
            for per_instance in [false, true] {
                let cfg = SelectConfig {
                    method,
                    per_instance,
                    seed: 4,
                    ..Default::default()
                }
                .check()
                .unwrap();
                let s = select_indices(&cfg, &sizes, &inp).unwrap();
                assert_eq!(s.len(), want, "{method} per_instance={per_instance}");
                assert_eq!(s.iter().collect::<HashSet<_>>().len(), want);
                assert!(s.iter().all(|&i| i < n));
                assert_eq!(s, select_indices(&cfg, &sizes, &inp).unwrap());
                if per_instance {
                    let mut start = 0;
                    for &nj in &sizes {
                        let got = s.iter().filter(|&&i| i >= start && i < start + nj).count();
                        assert_eq!(got, instance_budget(nj, 0.1));
                        start += nj;
                    }
                }
            }
        }
        // feature methods without features are an error, random is not
        let none = PoolInputs::default();
        let mut cfg = SelectConfig::default();
        assert!(select_indices(&cfg.clone().check().unwrap(), &sizes, &none).is_ok());
        cfg.method = SelectMethod::Herding;
        assert!(select_indices(&cfg.check().unwrap(), &sizes, &none).is_err());
    }
}
