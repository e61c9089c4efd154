//! Evaluation-time NCFD: the instance loss `L_ins` measured between the real patches and other
//! sets (synthetic, random real subsets) with draws of its own, outside any optimisation.

use super::common::{ToF64, check_images, stream};
use super::config::{CondenseConfig, ValidCondenseConfig};
use super::ncfd;
use super::real::{Geometry, bn_stats, draw, extract, real_cf_sums};
use super::rlff;
use crate::error::{IdcError, Result};
use crate::image::Image;
use crate::models::FeatureExtractor;
use burn::tensor::{Tensor, TensorData, backend::Backend};

/// Instance NCFD between the real patches `real` and another set `other` (e.g. synthetic
/// patches, or `n` random real ones) under `extractor`, exactly as `L_ins` sees them: batch norm
/// with `real`'s statistics, the config's RLFF and unfolding, averaged over `config.eval_draws`
/// (channel subset, frequency) draws made from `seed`. Same seed -> same draws, so two sets
/// compared with one seed are measured with the same frequencies.
pub fn instance_ncfd<B: Backend, E: FeatureExtractor<B>>(
    extractor: &E,
    config: &ValidCondenseConfig,
    real: &[Image],
    other: &[Image],
    seed: u64,
    device: &B::Device,
) -> Result<f64> {
    let v = instance_ncfd_many(extractor, config, real, &[other], seed, device)?;
    v.first()
        .copied()
        .ok_or_else(|| IdcError::Internal("no NCFD value".into()))
}

/// [`instance_ncfd`] of each set in `others` against `real`, all under the same draws, with the
/// real patches' features and characteristic functions computed once (one real forward).
pub fn instance_ncfd_many<B: Backend, E: FeatureExtractor<B>>(
    extractor: &E,
    config: &ValidCondenseConfig,
    real: &[Image],
    others: &[&[Image]],
    seed: u64,
    device: &B::Device,
) -> Result<Vec<f64>> {
    ncfd_sets::<B, B, E>(extractor, config, real, others, seed, device, |t| t)
}

/// [`instance_ncfd_many`] with the features moved by `to` onto the backend `IB` for the
/// characteristic functions (an autodiff extractor's inner backend, where `flex` has its fused
/// host path).
pub(crate) fn ncfd_sets<B: Backend, IB: Backend, E: FeatureExtractor<B>>(
    extractor: &E,
    config: &ValidCondenseConfig,
    real: &[Image],
    others: &[&[Image]],
    seed: u64,
    device: &B::Device,
    to: impl Fn(Tensor<B, 4>) -> Tensor<IB, 4>,
) -> Result<Vec<f64>> {
    let config: &CondenseConfig = config;
    let dr = check_images(real, "real patches")?;
    for other in others {
        let dother = check_images(other, "other patches")?;
        if dr != dother {
            return Err(IdcError::InvalidInput(format!(
                "real patches are {dr:?}, other patches {dother:?}"
            )));
        }
    }
    let c = extractor.feature_channels();
    let bank = filter_bank(config, c)?;
    let geo = Geometry::new(config);
    let raw_r = extract::<B, IB, E>(extractor, real, config.real_chunk, device, &to)?;
    let cf_device = &raw_r.device();
    let stats = bn_stats(&raw_r, config.rlff.bn_eps)?;
    let sets: Vec<Tensor<IB, 4>> = std::iter::once(Ok(stats.apply(raw_r)))
        .chain(others.iter().map(|o| {
            let f = extract::<B, IB, E>(extractor, o, config.real_chunk, device, &to)?;
            Ok(stats.apply(f))
        }))
        .collect::<Result<_>>()?;
    let ones = sets
        .iter()
        .map(|f| {
            let [n, _, h, w] = f.dims();
            let (gh, gw) = rlff::grid(h, w, geo.p)?;
            let cols = n * gh * gw * geo.s;
            Ok((Tensor::<IB, 2>::ones([1, cols], cf_device), cols as f64))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut rng = stream(seed, 4);
    let mut totals = vec![0.0; others.len()];
    for _ in 0..config.eval_draws {
        let d = draw(config, bank.as_ref(), &geo, c, &mut rng);
        let filters = match (&bank, &d.filters) {
            (Some(b), Some(idx)) => Some(b.select::<IB>(idx, cf_device)),
            _ => None,
        };
        let dim = d.freqs.len() / config.ncfd.num_freqs;
        let freqs = Tensor::<IB, 2>::from_data(
            TensorData::new(d.freqs, [dim, config.ncfd.num_freqs]),
            cf_device,
        );
        let cf = |k: usize| {
            let (re, im) = real_cf_sums(
                &geo,
                &sets[k],
                filters.as_ref(),
                &freqs,
                &ones[k].0,
                config.real_chunk,
                config.cf_chunk,
            );
            (re.div_scalar(ones[k].1), im.div_scalar(ones[k].1))
        };
        let real_cf = cf(0);
        for (k, total) in totals.iter_mut().enumerate() {
            let v = ncfd::ncfd_from_cf(real_cf.clone(), cf(k + 1), config.ncfd.alpha)
                .into_scalar()
                .to_f64_lossy();
            *total += v;
        }
    }
    Ok(totals
        .into_iter()
        .map(|t| t / config.eval_draws as f64)
        .collect())
}

/// The config's Fourier filter bank for `c` feature channels (None with RLFF off).
fn filter_bank(config: &CondenseConfig, c: usize) -> Result<Option<rlff::FilterBank>> {
    if !config.rlff.enabled {
        return Ok(None);
    }
    let b = rlff::FilterBank::new(c, config.rlff.kernel);
    if config.rlff.c_out > b.len() {
        return Err(IdcError::config(
            "rlff.c_out",
            format!(
                "{} exceeds the {} Fourier filters",
                config.rlff.c_out,
                b.len()
            ),
        ));
    }
    Ok(Some(b))
}
