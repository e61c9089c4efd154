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
//!
//! The ratio lives in the config: an instance of `N` real patches yields
//! `n = max(1, ceil(ratio N))` synthetic ones ([`CondenseConfig::synthetic_count`]).

mod common;
pub mod condenser;
pub mod config;
mod host_cf;
pub mod kmeans;
mod matching;
pub mod ncfd;
mod real;
pub mod rlff;
pub mod schedule;
mod synthetic_cf;

pub use condenser::{
    CondenseReport, CondenseTimings, CondensedInstance, Condenser, Instance, StepLoss,
    default_batch_instances,
};
pub use config::{CondenseConfig, InitMode, NcfdConfig, RlffConfig};

use crate::error::Result;
use crate::image::Image;
use crate::models::FeatureExtractor;
use burn::tensor::{Tensor, TensorData, backend::Backend};
use common::{ToF64, check_images, stream};
use real::{Geometry, bn_stats, draw, extract, real_cf_sums};

/// Instance NCFD between the real patches `real` and another set `other` (e.g. synthetic
/// patches, or `n` random real ones) under `extractor`, exactly as `L_ins` sees them: batch norm
/// with `real`'s statistics, the config's RLFF and unfolding, averaged over `config.eval_draws`
/// (channel subset, frequency) draws made from `seed`. Same seed -> same draws, so two sets
/// compared with one seed are measured with the same frequencies.
pub fn instance_ncfd<B: Backend, E: FeatureExtractor<B>>(
    extractor: &E,
    config: &CondenseConfig,
    real: &[Image],
    other: &[Image],
    seed: u64,
    device: &B::Device,
) -> Result<f64> {
    config.validate()?;
    let dr = check_images(real, "real patches")?;
    let dother = check_images(other, "other patches")?;
    if dr != dother {
        return Err(crate::IdcError::InvalidInput(format!(
            "real patches are {dr:?}, other patches {dother:?}"
        )));
    }
    let c = extractor.feature_channels();
    let bank = if config.rlff.enabled {
        let b = rlff::FilterBank::new(c, config.rlff.kernel);
        if config.rlff.c_out > b.len() {
            return Err(crate::IdcError::config(
                "rlff.c_out",
                format!(
                    "{} exceeds the {} Fourier filters",
                    config.rlff.c_out,
                    b.len()
                ),
            ));
        }
        Some(b)
    } else {
        None
    };
    let geo = Geometry::new(config);
    let raw_r = extract::<B, B, E>(extractor, real, config.real_chunk, device, |t| t)?;
    let stats = bn_stats(&raw_r, config.rlff.bn_eps)?;
    let fr = stats.apply(raw_r);
    let fo = stats.apply(extract::<B, B, E>(
        extractor,
        other,
        config.real_chunk,
        device,
        |t| t,
    )?);
    let ones = |f: &Tensor<B, 4>| -> Result<(Tensor<B, 2>, usize)> {
        let [n, _, h, w] = f.dims();
        let (gh, gw) = rlff::grid(h, w, geo.p)?;
        let cols = n * gh * gw * geo.s;
        Ok((Tensor::ones([1, cols], device), cols))
    };
    let (mr, nr) = ones(&fr)?;
    let (mo, no) = ones(&fo)?;
    let mut rng = stream(seed, 4);
    let mut total = 0.0;
    for _ in 0..config.eval_draws {
        let d = draw(config, bank.as_ref(), &geo, c, &mut rng);
        let filters = match (&bank, &d.filters) {
            (Some(b), Some(idx)) => Some(b.select::<B>(idx, device)),
            _ => None,
        };
        let dim = d.freqs.len() / config.ncfd.num_freqs;
        let freqs = Tensor::<B, 2>::from_data(
            TensorData::new(d.freqs, [dim, config.ncfd.num_freqs]),
            device,
        );
        let (rr, ri) = real_cf_sums(
            &geo,
            &fr,
            filters.as_ref(),
            &freqs,
            &mr,
            config.real_chunk,
            config.cf_chunk,
        );
        let (or, oi) = real_cf_sums(
            &geo,
            &fo,
            filters.as_ref(),
            &freqs,
            &mo,
            config.real_chunk,
            config.cf_chunk,
        );
        let v = ncfd::ncfd_from_cf(
            (rr.div_scalar(nr as f64), ri.div_scalar(nr as f64)),
            (or.div_scalar(no as f64), oi.div_scalar(no as f64)),
            config.ncfd.alpha,
        )
        .into_scalar()
        .to_f64_lossy();
        total += v;
    }
    Ok(total / config.eval_draws as f64)
}
