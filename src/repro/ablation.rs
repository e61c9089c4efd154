//! The Table-3 variants: which condensed sets the ablation trains students on.

use super::preset::AblationSpec;
use crate::condense::CondenseConfig;

/// Table-3 name of the same control at the ablation's ratio (per-instance random draw).
pub const ABLATION_RANDOM_TEACHER: &str = "random+T";

/// The ablation variant every other one is compared with (all three losses, RLFF, unfolding,
/// frequency bank: the paper's full method at the ablation's ratio).
pub const ABLATION_FULL: &str = "ins+group+pair";

/// Name of the full method condensed again with another seed: the difference between the two
/// full sets is the spread between condensation runs, which student seeds cannot show (every
/// other row is one condensation).
pub const ABLATION_FULL_RESEEDED: &str = "ins+group+pair@1";

/// One Table-3 row's condensed set.
#[derive(Clone, Debug)]
pub struct AblationVariant {
    /// Row name (e.g. `ins+group+pair`).
    pub name: String,
    /// Condensation config of this variant.
    pub config: CondenseConfig,
    /// Base seed of the condensation (initial patches, k-means, frequency draws).
    pub condense_seed: u64,
}

/// The Table-3 variants at the ablation ratio: full IDC, instance only, + group, RLFF off,
/// unfolding off, fresh draws instead of the frequency bank, and (`reseed_full`) the full method
/// with condensation seed 1.
pub fn ablation_variants(base: &CondenseConfig, a: &AblationSpec) -> Vec<AblationVariant> {
    let mut full = base.clone();
    full.ratio = a.ratio;
    full.iters = a.condense_iters;
    full.warmup = full.warmup.min(a.condense_iters / 3);
    full.assign = full.assign.min(a.condense_iters / 3);
    full.assign_every = full.assign_every.clamp(1, full.assign.max(1));
    let with = |f: &dyn Fn(&mut CondenseConfig)| {
        let mut c = full.clone();
        f(&mut c);
        c
    };
    let variant = |name: &str, config: CondenseConfig, condense_seed: u64| AblationVariant {
        name: name.into(),
        config,
        condense_seed,
    };
    let mut variants = vec![
        variant(
            "ins",
            with(&|c| {
                c.w_group = 0.0;
                c.w_pair = 0.0;
            }),
            0,
        ),
        variant("ins+group", with(&|c| c.w_pair = 0.0), 0),
        variant(ABLATION_FULL, full.clone(), 0),
        variant("rlff-off", with(&|c| c.rlff.enabled = false), 0),
        variant("unfold-off", with(&|c| c.rlff.unfold = false), 0),
        variant("fresh-draws", with(&|c| c.freq_bank = 0), 0),
    ];
    if a.reseed_full {
        variants.push(variant(ABLATION_FULL_RESEEDED, full, 1));
    }
    variants
}
