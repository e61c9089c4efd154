//! Instance Data Condensation (paper section 3, Algorithm 1).
//!
//! - `config`: [`CondenseConfig`](crate::CondenseConfig) (every choice a field; CPU defaults, `paper()` preset).
//! - `rlff`: Random Local Fourier Features: Fourier filter bank, batch norm with the real
//!   instance's statistics, local patches and unfolding.
//! - `ncfd`: Neural Characteristic Function Discrepancy (`ncfd::ncfd_loss`).
//! - `host_cf` (crate-internal): NCFD's `cos`/`sin` passes on the CPU backend as one fused,
//!   vectorised host loop (the tensor ops stay the reference and every other backend's path).
//! - `kmeans`: k-means++ grouping, largest-remainder quotas, greedy assignment under quotas.
//! - `schedule`: warm-up / assigning / full phases.
//! - `real` (crate-internal): the real instance's side, built once per instance (features,
//!   batch-norm statistics, groups, quotas, pairing space, frequency bank).
//! - `matching` (crate-internal): synthetic assignment and pairs, one step's instance, group and
//!   pair losses.
//! - `synthetic_cf` (crate-internal): the synthetic side's characteristic functions with a
//!   hand-written gradient.
//! - `pixels` (crate-internal): the synthetic patches being optimised: initialisation, pixel
//!   parametrisation, Adam step with chroma damping.
//! - `condenser`: [`Condenser`](crate::Condenser) running Algorithm 1 and the teacher, with a [`CondenseReport`].
//! - `eval`: [`instance_ncfd`], `L_ins` measured outside the optimisation (own draws).
//! - `realism`: [`Realism`], how far each instance's synthetic patches drift from its real
//!   patches (out-of-gamut, saturation, high frequencies, colour histogram, fresh-draw NCFD),
//!   next to the real patches' own spread; computed at the end of every condensation.
//!
//! The ratio lives in the config: an instance of `N` real patches yields
//! `n = max(1, ceil(ratio N))` synthetic ones ([`CondenseConfig::synthetic_count`](crate::CondenseConfig::synthetic_count)).

// The sub-modules are private: `CondenseConfig`, `Condenser`, `Instance` and `CondensedInstance`
// live at the crate root, the rest of the public API here, once, as `burn_idc::condense::X`.
// The algorithm's pieces (`rlff`, `ncfd`, `kmeans`, `schedule`) are crate-internal.
mod common;
pub(crate) mod condenser;
pub(crate) mod config;
pub(crate) mod eval;
mod host_cf;
pub(crate) mod kmeans;
mod matching;
pub(crate) mod ncfd;
mod pixels;
mod real;
pub(crate) mod realism;
pub(crate) mod rlff;
pub(crate) mod schedule;
mod synthetic_cf;

pub(crate) use condenser::{CondensedInstance, Condenser, Instance};
pub(crate) use config::CondenseConfig;

pub use condenser::{CondenseReport, CondenseTimings, StepLoss, default_batch_instances};
pub use config::{InitMode, LrSchedule, NcfdConfig, PixelParam, RlffConfig, ValidCondenseConfig};
pub use eval::{instance_ncfd, instance_ncfd_many};
pub use kmeans::{KMeans, kmeans};
pub use ncfd::{cf, ncfd_loss};
pub use realism::{
    InstanceRealism, RealSpread, Realism, RealismSummary, SPREAD_SUBSETS, Spread, clipped,
    colour_histogram, fresh_ncfd_seed, hf_energy, histogram_distance, markdown_cells,
    mean_saturation, out_of_gamut, spread_markdown_cells,
};
pub use rlff::{FilterBank, PaddedHost};
