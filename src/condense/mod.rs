//! Instance Data Condensation (paper section 3, Algorithm 1).
//!
//! - [`config`]: [`CondenseConfig`] (every choice a field; CPU defaults, `paper()` preset).
//! - [`rlff`]: Random Local Fourier Features: Fourier filter bank, batch norm with the real
//!   instance's statistics, local patches and unfolding.
//! - [`ncfd`]: Neural Characteristic Function Discrepancy ([`ncfd::ncfd_loss`]).
//! - `host_cf` (crate-internal): NCFD's `cos`/`sin` passes on the CPU backend as one fused,
//!   vectorised host loop (the tensor ops stay the reference and every other backend's path).
//! - [`kmeans`]: k-means++ grouping, largest-remainder quotas, greedy assignment under quotas.
//! - [`schedule`]: warm-up / assigning / full phases.
//! - `real` (crate-internal): the real instance's side, built once per instance (features,
//!   batch-norm statistics, groups, quotas, pairing space, frequency bank).
//! - `matching` (crate-internal): synthetic assignment and pairs, one step's instance, group and
//!   pair losses.
//! - `synthetic_cf` (crate-internal): the synthetic side's characteristic functions with a
//!   hand-written gradient.
//! - [`condenser`]: [`Condenser`] running Algorithm 1 and the teacher, with a [`CondenseReport`].
//! - [`eval`]: [`instance_ncfd`], `L_ins` measured outside the optimisation (own draws).
//! - [`realism`]: [`Realism`], how far each instance's synthetic patches drift from its real
//!   patches (out-of-gamut, saturation, high frequencies, colour histogram, fresh-draw NCFD),
//!   next to the real patches' own spread; computed at the end of every condensation.
//!
//! The ratio lives in the config: an instance of `N` real patches yields
//! `n = max(1, ceil(ratio N))` synthetic ones ([`CondenseConfig::synthetic_count`]).

mod common;
pub mod condenser;
pub mod config;
pub mod eval;
mod host_cf;
pub mod kmeans;
mod matching;
pub mod ncfd;
mod real;
pub mod realism;
pub mod rlff;
pub mod schedule;
mod synthetic_cf;

pub use condenser::{
    CondenseReport, CondenseTimings, CondensedInstance, Condenser, Instance, StepLoss,
    default_batch_instances,
};
pub use config::{
    CondenseConfig, InitMode, LrSchedule, NcfdConfig, PixelParam, RlffConfig, ValidCondenseConfig,
};
pub use eval::{instance_ncfd, instance_ncfd_many};
pub use realism::{RealSpread, Realism, Spread};
