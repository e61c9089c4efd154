//! Multi-level distribution matching (paper 3.4) for one instance: the synthetic group
//! assignment and pairs, and one step's instance, group and pair losses as a function of the
//! instance's [`RealSide`] and its batch-normalised synthetic features.
//!
//! Choices where the paper is silent (all documented in [`super::CondenseConfig`]):
//! - Synthetic local patches are assigned to the k-means groups in the grouping space (the
//!   per-local-patch mean of the BN features), greedily under the groups' quotas.
//! - Pairing (nearest real local patch in the same group) uses the flattened batch-normalised
//!   features of the local patch (`c p^2` values), refreshed together with the assignment; the
//!   L1 of the pair loss is computed on the current step's RLFF samples (after L2 normalisation
//!   when enabled), averaged over elements and pairs inside each group and summed over groups
//!   (eq. 8 with a mean instead of a sum over feature elements).
//! - The group loss skips groups that receive no synthetic local patch (quota 0).

use super::common::ToF64;
use super::kmeans;
use super::ncfd;
use super::real::{DeviceDraw, Inner, RealSide};
use super::rlff;
use super::schedule::StepPlan;
use super::synthetic_cf::synthetic_cf;
use crate::error::{IdcError, Result};
use burn::tensor::{Tensor, TensorData, backend::AutodiffBackend};
use serde::{Deserialize, Serialize};

/// Losses of one step, before that step's update. `None`: the term was not active at this step
/// (warm-up, or weight 0). Values are unweighted; `total` is the weighted, ramped sum.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepLoss {
    /// Step index, from 0.
    pub step: usize,
    /// Instance loss `L_ins`.
    pub instance: Option<f64>,
    /// Group loss `L_group`.
    pub group: Option<f64>,
    /// Pair loss `L_pair`.
    pub pair: Option<f64>,
    /// Weighted, ramped sum of the active terms (what the step minimises).
    pub total: f64,
}

/// The synthetic group assignment and pairs, refreshed during the assigning phase.
///
/// Every tensor has a shape fixed at instance setup (`M` groups, `Ns'` synthetic local
/// patches): groups without a synthetic member keep a zero row and a 0 in `group_mask` instead
/// of being gathered out, so the step's kernels see the same shapes at every step (one compiled
/// kernel set on CubeCL backends).
struct Assignment<B: AutodiffBackend> {
    /// `[M]`: 1 for groups with at least one synthetic local patch, else 0.
    group_mask: Tensor<B, 1>,
    /// `[M, Ns' s]`: mean over each group's synthetic samples (zero rows for empty groups).
    sample_weights: Tensor<B, 2>,
    /// `[M, Ns']`: mean over each group's synthetic local patches (zero rows for empty groups).
    patch_weights: Tensor<B, 2>,
    /// Input windows of the paired real local patches `[Ns', c, p + 2 pad, p + 2 pad]`.
    real_windows: Tensor<Inner<B>, 4>,
}

/// Synthetic local patches per group.
fn group_counts(labels: &[usize], m: usize) -> Vec<usize> {
    let mut counts = vec![0usize; m];
    for &l in labels {
        counts[l] += 1;
    }
    counts
}

/// Row-per-group mean weights over the synthetic local patches (`[rows.len(), nl]`) and their
/// samples (`[rows.len(), nl s]`); `rows[r]` is the group of row `r`.
fn group_weights(
    labels: &[usize],
    counts: &[usize],
    rows: &[usize],
    s: usize,
) -> (Vec<f32>, Vec<f32>) {
    let nl = labels.len();
    let mut sw = vec![0f32; rows.len() * nl * s];
    let mut pw = vec![0f32; rows.len() * nl];
    for (i, &l) in labels.iter().enumerate() {
        if let Some(r) = rows.iter().position(|&g| g == l) {
            pw[r * nl + i] = 1.0 / counts[l] as f32;
            for k in 0..s {
                sw[r * nl * s + i * s + k] = 1.0 / (counts[l] * s) as f32;
            }
        }
    }
    (sw, pw)
}

/// Group labels of the synthetic local patches: greedy under the quotas, in the grouping space.
fn synthetic_labels<B: AutodiffBackend>(
    real: &RealSide<'_, B>,
    syn_bn: &Tensor<Inner<B>, 4>,
) -> Result<Vec<usize>> {
    let c = syn_bn.dims()[1];
    let syn_mean = rlff::local_patches(syn_bn.clone(), real.geo.p, true).mean_dim(1);
    let nl = syn_mean.dims()[0];
    let syn_mean = rlff::host_vec(syn_mean.reshape([nl, c]))?;
    Ok(kmeans::assign_with_quotas(
        &syn_mean,
        c,
        &real.groups.centroids,
        &real.quotas,
    ))
}

/// Index of the nearest real local patch of the same group for each synthetic local patch, in
/// the flattened BN space (rows of 256 at a time).
fn nearest_pairs<B: AutodiffBackend>(
    real: &RealSide<'_, B>,
    syn_bn: &Tensor<Inner<B>, 4>,
    labels: &[usize],
) -> Result<Vec<usize>> {
    let dev = real.device();
    let pairing = &real.pairing;
    let [_, c, _, _] = syn_bn.dims();
    let p = real.geo.p;
    let nl = labels.len();
    let m = real.groups.k;
    let syn_flat = rlff::local_patches(syn_bn.clone(), p, false).reshape([nl, c * p * p]);
    let mut g_syn = vec![0f32; nl * m];
    for (i, &l) in labels.iter().enumerate() {
        g_syn[i * m + l] = 1.0;
    }
    let g_syn = Tensor::<Inner<B>, 2>::from_data(TensorData::new(g_syn, [nl, m]), dev);
    let mut pairs = Vec::with_capacity(nl);
    let rows = 256;
    let mut start = 0;
    while start < nl {
        let len = rows.min(nl - start);
        let sf = syn_flat.clone().narrow(0, start, len);
        let same = g_syn
            .clone()
            .narrow(0, start, len)
            .matmul(pairing.groups.clone());
        let dist = pairing.sq_norms.clone()
            - sf.matmul(pairing.flat.clone().transpose()).mul_scalar(2.0)
            + (same.neg().add_scalar(1.0)).mul_scalar(1e30);
        let idx = dist
            .argmin(1)
            .into_data()
            .convert::<i64>()
            .into_vec::<i64>()
            .map_err(|e| IdcError::InvalidInput(format!("argmin readback: {e:?}")))?;
        pairs.extend(idx.into_iter().map(|v| v.max(0) as usize));
        start += len;
    }
    Ok(pairs)
}

impl<B: AutodiffBackend> Assignment<B> {
    /// Assigns the synthetic local patches to groups and pairs each with its nearest real local
    /// patch of the same group; builds the (fixed-shape) weight matrices, the group mask and the
    /// paired real windows.
    fn new(real: &RealSide<'_, B>, syn_bn: &Tensor<Inner<B>, 4>) -> Result<Self> {
        let dev = real.device();
        let labels = synthetic_labels(real, syn_bn)?;
        let nl = labels.len();
        let m = real.groups.k;
        let counts = group_counts(&labels, m);
        let all: Vec<usize> = (0..m).collect();
        let s = real.geo.s;
        let (sw, pw) = group_weights(&labels, &counts, &all, s);
        let mask: Vec<f32> = counts
            .iter()
            .map(|&n| if n > 0 { 1.0 } else { 0.0 })
            .collect();
        Ok(Self {
            group_mask: Tensor::from_data(TensorData::new(mask, [m]), dev),
            sample_weights: Tensor::from_data(TensorData::new(sw, [m, nl * s]), dev),
            patch_weights: Tensor::from_data(TensorData::new(pw, [m, nl]), dev),
            real_windows: paired_windows(real, syn_bn, &labels)?,
        })
    }
}

/// Input windows of each synthetic local patch's paired real local patch (a `[1, c, p, p]`
/// placeholder without `L_pair`).
fn paired_windows<B: AutodiffBackend>(
    real: &RealSide<'_, B>,
    syn_bn: &Tensor<Inner<B>, 4>,
    labels: &[usize],
) -> Result<Tensor<Inner<B>, 4>> {
    let dev = real.device();
    Ok(match &real.pairing.padded {
        Some(ph) => {
            let pairs = nearest_pairs(real, syn_bn, labels)?;
            let (gh, gw) = real.grid;
            ph.windows::<Inner<B>>(&pairs, real.geo.p, gw, gh, dev)
        }
        None => {
            let (c, p) = (syn_bn.dims()[1], real.geo.p);
            Tensor::zeros([1, c, p, p], dev)
        }
    })
}

/// One instance's matching state across steps: the current assignment and, with a frequency
/// bank, the paired real features of each bank entry (valid until the next refresh).
pub(crate) struct MultiLevel<B: AutodiffBackend> {
    assignment: Option<Assignment<B>>,
    pair_cache: Vec<Option<Tensor<Inner<B>, 2>>>,
}

/// The synthetic side of one step under one draw: unfolded RLFF samples and their
/// characteristic functions, `[1 + M, T]` each: row 0 the mean over all samples (`L_ins`), then
/// the `M` group means (`L_group`; only when the group term is active).
struct SyntheticCf<B: AutodiffBackend> {
    local: Tensor<B, 3>,
    re: Tensor<B, 2>,
    im: Tensor<B, 2>,
}

impl<B: AutodiffBackend> MultiLevel<B> {
    pub fn new(bank_len: usize) -> Self {
        Self {
            assignment: None,
            pair_cache: vec![None; bank_len],
        }
    }

    /// Step `j`'s weighted loss (None when no term is active) and its record, from the
    /// batch-normalised synthetic features `bn` under draw `dd` (bank `slot`, None if fresh).
    /// Refreshes the assignment first when `plan` says so.
    pub fn step_loss(
        &mut self,
        real: &RealSide<'_, B>,
        dd: &DeviceDraw<B>,
        slot: Option<usize>,
        plan: &StepPlan,
        bn: Tensor<B, 4>,
        j: usize,
    ) -> Result<(Option<Tensor<B, 1>>, StepLoss)> {
        let cfg = real.config();
        if plan.refresh && plan.multi_level {
            self.pair_cache.iter_mut().for_each(|c| *c = None);
            self.assignment = Some(Assignment::new(real, &bn.clone().inner())?);
        }
        let local = real.geo.local(bn, dd.filters.as_ref(), real.geo.pad);
        let [nl, s, d] = local.dims();
        let samples = local.clone().reshape([nl * s, d]);
        let mean = 1.0 / (nl * s) as f64;
        let mut weights = Tensor::<Inner<B>, 2>::full([1, nl * s], mean, real.device());
        let group_rows = plan.multi_level && cfg.w_group > 0.0;
        if let Some(a) = self.assignment.as_ref().filter(|_| group_rows) {
            weights = Tensor::cat(vec![weights, a.sample_weights.clone().inner()], 0);
        }
        // One weighted pass over the synthetic projections serves the instance and group terms.
        let (re, im) = synthetic_cf(samples, &dd.freqs, weights);
        let syn = SyntheticCf { local, re, im };
        let mut terms: Vec<Tensor<B, 1>> = Vec::new();
        let mut rec = StepLoss {
            step: j,
            instance: None,
            group: None,
            pair: None,
            total: 0.0,
        };
        if cfg.w_ins > 0.0 {
            let l = instance_term(real, dd, &syn);
            rec.instance = Some(l.clone().into_scalar().to_f64_lossy());
            terms.push(l.mul_scalar(cfg.w_ins));
        }
        if plan.multi_level {
            let a = self
                .assignment
                .as_ref()
                .ok_or_else(|| IdcError::InvalidInput("assignment missing".into()))?;
            if cfg.w_group > 0.0 {
                let l = group_term(real, dd, a, &syn);
                rec.group = Some(l.clone().into_scalar().to_f64_lossy());
                terms.push(l.mul_scalar(cfg.w_group * plan.ramp));
            }
            if cfg.w_pair > 0.0 {
                let real_local = paired_real(real, dd, a, slot, &mut self.pair_cache);
                let l = pair_term(a, syn.local, real_local);
                rec.pair = Some(l.clone().into_scalar().to_f64_lossy());
                terms.push(l.mul_scalar(cfg.w_pair * plan.ramp));
            }
        }
        // The last term first, then the others in order (the sum's float order is fixed).
        let loss = terms
            .pop()
            .map(|first| terms.into_iter().fold(first, |a, b| a + b));
        Ok((loss, rec))
    }
}

/// `L_ins`: NCFD between the whole real instance and all synthetic samples.
fn instance_term<B: AutodiffBackend>(
    real: &RealSide<'_, B>,
    dd: &DeviceDraw<B>,
    syn: &SyntheticCf<B>,
) -> Tensor<B, 1> {
    let (re_r, im_r) = real.instance_cf(dd);
    ncfd::ncfd_from_cf(
        (Tensor::from_inner(re_r), Tensor::from_inner(im_r)),
        (
            syn.re.clone().narrow(0, 0, 1),
            syn.im.clone().narrow(0, 0, 1),
        ),
        real.config().ncfd.alpha,
    )
}

/// `L_group` (eq. 7): per-group NCFD over all `M` groups, masked to the groups with synthetic
/// members and summed (a fixed `[M, T]` shape instead of a gather of the active groups).
fn group_term<B: AutodiffBackend>(
    real: &RealSide<'_, B>,
    dd: &DeviceDraw<B>,
    a: &Assignment<B>,
    syn: &SyntheticCf<B>,
) -> Tensor<B, 1> {
    let (re_r, im_r) = real.group_cf_all(dd);
    let m = re_r.dims()[0];
    let per_group = ncfd::ncfd_from_cf(
        (Tensor::from_inner(re_r), Tensor::from_inner(im_r)),
        (
            syn.re.clone().narrow(0, 1, m),
            syn.im.clone().narrow(0, 1, m),
        ),
        real.config().ncfd.alpha,
    );
    (per_group * a.group_mask.clone()).sum()
}

/// RLFF samples of the paired real local patches under `dd`, `[Ns', s d]`. With a bank they
/// are cached per entry until the next refresh (the pairs are fixed after the assigning phase).
fn paired_real<B: AutodiffBackend>(
    real: &RealSide<'_, B>,
    dd: &DeviceDraw<B>,
    a: &Assignment<B>,
    slot: Option<usize>,
    cache: &mut [Option<Tensor<Inner<B>, 2>>],
) -> Tensor<B, 2> {
    let cached = slot.and_then(|k| cache[k].clone());
    let real_local = match cached {
        Some(t) => t,
        None => {
            let local = real
                .geo
                .local(a.real_windows.clone(), dd.filters_inner.as_ref(), 0);
            let [nl, s, d] = local.dims();
            let t = local.reshape([nl, s * d]);
            if let Some(k) = slot {
                cache[k] = Some(t.clone());
            }
            t
        }
    };
    Tensor::<B, 2>::from_inner(real_local)
}

/// `L_pair` (eq. 8): mean L1 between each synthetic local patch and its pair, averaged inside
/// each group and summed over groups.
fn pair_term<B: AutodiffBackend>(
    a: &Assignment<B>,
    local: Tensor<B, 3>,
    real_local: Tensor<B, 2>,
) -> Tensor<B, 1> {
    let [nl, s, d] = local.dims();
    let diff = (local.reshape([nl, s * d]) - real_local).abs().mean_dim(1);
    a.patch_weights.clone().matmul(diff).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::condense::condenser::tests::{TinyNet, toy_instance};
    use crate::condense::config::CondenseConfig;
    use crate::condense::real::RealContext;
    use crate::condense::rlff::{FilterBank, host_vec};
    use crate::image::images_to_batch;
    use crate::models::FeatureExtractor;
    use burn::backend::{Autodiff, Flex};

    type AB = Autodiff<Flex>;

    /// `[n][c][h][w]` feature maps in f64.
    type Maps = Vec<Vec<Vec<Vec<f64>>>>;

    fn maps(v: &[f32], [n, c, h, w]: [usize; 4]) -> Maps {
        (0..n)
            .map(|i| {
                (0..c)
                    .map(|ch| {
                        (0..h)
                            .map(|y| {
                                (0..w)
                                    .map(|x| v[((i * c + ch) * h + y) * w + x] as f64)
                                    .collect()
                            })
                            .collect()
                    })
                    .collect()
            })
            .collect()
    }

    /// Batch norm with the f64 mean and biased variance of `real`, applied to `x`.
    fn bn_f64(real: &Maps, x: &Maps, eps: f64) -> Maps {
        let c = real[0].len();
        let mut out = x.clone();
        for ch in 0..c {
            let vals: Vec<f64> = real
                .iter()
                .flat_map(|m| m[ch].iter().flatten().copied())
                .collect();
            let mean = vals.iter().sum::<f64>() / vals.len() as f64;
            let var = vals.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / vals.len() as f64;
            for m in out.iter_mut() {
                for row in m[ch].iter_mut() {
                    for v in row.iter_mut() {
                        *v = (*v - mean) / (var + eps).sqrt();
                    }
                }
            }
        }
        out
    }

    /// "Same" zero-padded convolution with `filters` (`[C_out, c, k, k]`), or identity.
    fn rlff_f64(x: &Maps, filters: Option<(&[f32], usize)>) -> Maps {
        let Some((f, k)) = filters else {
            return x.clone();
        };
        let (c, h, w) = (x[0].len(), x[0][0].len(), x[0][0][0].len());
        let c_out = f.len() / (c * k * k);
        let pad = (k / 2) as isize;
        x.iter()
            .map(|m| {
                (0..c_out)
                    .map(|o| {
                        (0..h)
                            .map(|y| {
                                (0..w)
                                    .map(|xx| {
                                        let mut acc = 0.0;
                                        for ci in 0..c {
                                            for ky in 0..k {
                                                for kx in 0..k {
                                                    let yy = y as isize + ky as isize - pad;
                                                    let xs = xx as isize + kx as isize - pad;
                                                    if yy >= 0
                                                        && xs >= 0
                                                        && (yy as usize) < h
                                                        && (xs as usize) < w
                                                    {
                                                        acc += f[((o * c + ci) * k + ky) * k + kx]
                                                            as f64
                                                            * m[ci][yy as usize][xs as usize];
                                                    }
                                                }
                                            }
                                        }
                                        acc
                                    })
                                    .collect()
                            })
                            .collect()
                    })
                    .collect()
            })
            .collect()
    }

    /// Local patches in (image, row, column) order: `s` samples of `d` values each, unfolded
    /// (`p^2` samples of `C`) or flattened channel-major (1 sample of `C p^2`), optionally
    /// L2-normalised per sample.
    fn local_f64(x: &Maps, p: usize, unfold: bool, l2: bool) -> Vec<Vec<Vec<f64>>> {
        let (c, h, w) = (x[0].len(), x[0][0].len(), x[0][0][0].len());
        let mut out = Vec::new();
        for m in x {
            for gy in 0..h / p {
                for gx in 0..w / p {
                    let mut samples: Vec<Vec<f64>> = if unfold {
                        (0..p * p)
                            .map(|q| {
                                (0..c)
                                    .map(|ch| m[ch][gy * p + q / p][gx * p + q % p])
                                    .collect()
                            })
                            .collect()
                    } else {
                        vec![
                            (0..c * p * p)
                                .map(|e| {
                                    let (ch, q) = (e / (p * p), e % (p * p));
                                    m[ch][gy * p + q / p][gx * p + q % p]
                                })
                                .collect(),
                        ]
                    };
                    if l2 {
                        for s in samples.iter_mut() {
                            let norm = (s.iter().map(|v| v * v).sum::<f64>() + 1e-12).sqrt();
                            s.iter_mut().for_each(|v| *v /= norm);
                        }
                    }
                    out.push(samples);
                }
            }
        }
        out
    }

    /// NCFD (paper eq. 2-3) between two sample sets at frequencies `f` (`[d, T]`), in f64.
    fn ncfd_f64(xr: &[&Vec<f64>], xs: &[&Vec<f64>], f: &[f32], t: usize, alpha: f64) -> f64 {
        let cf = |x: &[&Vec<f64>], k: usize| -> (f64, f64) {
            let (mut re, mut im) = (0.0, 0.0);
            for s in x {
                let proj: f64 = s
                    .iter()
                    .enumerate()
                    .map(|(j, v)| v * f[j * t + k] as f64)
                    .sum();
                re += proj.cos();
                im += proj.sin();
            }
            (re / x.len() as f64, im / x.len() as f64)
        };
        let mut total = 0.0;
        for k in 0..t {
            let (rr, ir) = cf(xr, k);
            let (rs, is) = cf(xs, k);
            let (nr, ns) = ((rr * rr + ir * ir).sqrt(), (rs * rs + is * is).sqrt());
            let amp = (nr - ns).powi(2);
            let phase = (2.0 * (nr * ns - rr * rs - ir * is)).max(1e-12);
            total += (alpha * amp + (1.0 - alpha) * phase).sqrt();
        }
        total / t as f64
    }

    fn rel(a: f64, b: f64) -> f64 {
        (a - b).abs() / b.abs().max(1e-12)
    }

    /// The instance, group (eq. 7) and pair (eq. 8) losses of one step against a plain-f64
    /// re-computation from the paper's formulas, with RLFF and unfolding on and off. The
    /// groups, quotas and pairs are the crate's; the pairs are checked to be the nearest real
    /// local patch of the same group in the flattened BN space.
    #[test]
    fn group_and_pair_losses_match_f64_formulas() {
        let dev = Default::default();
        let c = 4;
        let net = TinyNet::<AB>::new(c, 1, &dev);
        let inst = toy_instance(4, 8, 2);
        let syn = toy_instance(2, 8, 9).lr;
        for (rlff_on, unfold) in [(true, true), (true, false), (false, true), (false, false)] {
            let mut cfg = CondenseConfig::default();
            cfg.rlff.enabled = rlff_on;
            cfg.rlff.unfold = unfold;
            cfg.rlff.c_out = 8;
            cfg.ncfd.num_freqs = 16;
            cfg.freq_bank = 1;
            cfg.groups = 3;
            cfg.real_chunk = 3;
            cfg.cf_chunk = 7;
            let bank = rlff_on.then(|| FilterBank::new(c, cfg.rlff.kernel));
            let ctx = RealContext::<AB> {
                config: &cfg,
                filter_bank: bank.as_ref(),
                device: &dev,
            };
            let real = RealSide::prepare(ctx, &net, &inst.lr, syn.len(), 3).unwrap();
            let (dd, slot) = real.bank_entry(0);
            let syn_raw = net.features(images_to_batch::<AB>(&syn, &dev).unwrap());
            let bn = real.stats.apply(syn_raw.clone());
            let plan = StepPlan {
                ramp: 1.0,
                multi_level: true,
                refresh: true,
            };
            let mut ml = MultiLevel::new(1);
            let (_, rec) = ml.step_loss(&real, dd, slot, &plan, bn.clone(), 0).unwrap();
            let labels = synthetic_labels(&real, &bn.clone().inner()).unwrap();
            let pairs = nearest_pairs(&real, &bn.clone().inner(), &labels).unwrap();

            // f64 side: features -> BN with the real statistics -> RLFF -> local patches.
            let real_raw = net.features(images_to_batch::<AB>(&inst.lr, &dev).unwrap());
            let real_maps = maps(&host_vec(real_raw.clone()).unwrap(), real_raw.dims());
            let syn_maps = maps(&host_vec(syn_raw.clone()).unwrap(), syn_raw.dims());
            let eps = cfg.rlff.bn_eps;
            let (real_bn, syn_bn) = (
                bn_f64(&real_maps, &real_maps, eps),
                bn_f64(&real_maps, &syn_maps, eps),
            );
            let filters = dd.filters_inner.clone().map(|f| host_vec(f).unwrap());
            let filters = filters.as_deref().map(|f| (f, cfg.rlff.kernel));
            let freqs = host_vec(dd.freqs.clone().inner()).unwrap();
            let (p, l2, t, alpha) = (
                cfg.rlff.patch,
                cfg.ncfd.l2_normalize,
                cfg.ncfd.num_freqs,
                cfg.ncfd.alpha,
            );
            let real_local = local_f64(&rlff_f64(&real_bn, filters), p, unfold, l2);
            let syn_local = local_f64(&rlff_f64(&syn_bn, filters), p, unfold, l2);
            let real_labels = &real.groups.labels;
            let what = format!("rlff {rlff_on}, unfold {unfold}");

            let all_real: Vec<&Vec<f64>> = real_local.iter().flatten().collect();
            let all_syn: Vec<&Vec<f64>> = syn_local.iter().flatten().collect();
            let ins = ncfd_f64(&all_real, &all_syn, &freqs, t, alpha);
            assert!(
                rel(rec.instance.unwrap(), ins) < 1e-5,
                "{what}: L_ins {:?} vs {ins}",
                rec.instance
            );

            // Eq. 7: sum over groups with synthetic members of the group NCFD.
            let mut group = 0.0;
            let mut pair = 0.0;
            for m in 0..real.groups.k {
                let syn_idx: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == m).collect();
                if syn_idx.is_empty() {
                    continue;
                }
                let gr: Vec<&Vec<f64>> = (0..real_local.len())
                    .filter(|&i| real_labels[i] == m)
                    .flat_map(|i| real_local[i].iter())
                    .collect();
                let gs: Vec<&Vec<f64>> =
                    syn_idx.iter().flat_map(|&i| syn_local[i].iter()).collect();
                group += ncfd_f64(&gr, &gs, &freqs, t, alpha);
                // Eq. 8 with the mean over the pair's elements: (1 / N_m) sum_i mean |f_r - f_s|.
                for &i in &syn_idx {
                    let (a, b) = (&syn_local[i], &real_local[pairs[i]]);
                    let n_el = a.len() * a[0].len();
                    let l1: f64 = a
                        .iter()
                        .flatten()
                        .zip(b.iter().flatten())
                        .map(|(x, y)| (x - y).abs())
                        .sum();
                    pair += l1 / n_el as f64 / syn_idx.len() as f64;
                }
            }
            assert!(
                rel(rec.group.unwrap(), group) < 1e-5,
                "{what}: L_group {:?} vs {group}",
                rec.group
            );
            assert!(
                rel(rec.pair.unwrap(), pair) < 1e-5,
                "{what}: L_pair {:?} vs {pair}",
                rec.pair
            );

            // Pairs: same group, nearest in the flattened BN space (up to f32 rounding).
            let real_flat = local_f64(&real_bn, p, false, false);
            let syn_flat = local_f64(&syn_bn, p, false, false);
            let d2 = |a: &Vec<f64>, b: &Vec<f64>| {
                a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum::<f64>()
            };
            for (i, &r) in pairs.iter().enumerate() {
                assert_eq!(real_labels[r], labels[i], "{what}: pair {i} crosses groups");
                let best = (0..real_flat.len())
                    .filter(|&q| real_labels[q] == labels[i])
                    .map(|q| d2(&syn_flat[i][0], &real_flat[q][0]))
                    .fold(f64::INFINITY, f64::min);
                let got = d2(&syn_flat[i][0], &real_flat[r][0]);
                assert!(
                    got <= best * (1.0 + 1e-4) + 1e-6,
                    "{what}: pair {i}: {got} vs nearest {best}"
                );
            }
        }
    }

    /// The gather-based `L_group` that the masked [`group_term`] replaced: only the active
    /// groups' rows (a `[M_act, T]` shape that changes with the assignment).
    fn group_term_gathered(
        real: &RealSide<'_, AB>,
        dd: &DeviceDraw<AB>,
        labels: &[usize],
        (cos, sin): (Tensor<AB, 2>, Tensor<AB, 2>),
    ) -> Tensor<AB, 1> {
        let dev = real.device();
        let counts = group_counts(labels, real.groups.k);
        let active: Vec<usize> = (0..counts.len()).filter(|&g| counts[g] > 0).collect();
        let (nl, s, ma) = (labels.len(), real.geo.s, active.len());
        let (sw, _) = group_weights(labels, &counts, &active, s);
        let sw = Tensor::<AB, 2>::from_data(TensorData::new(sw, [ma, nl * s]), dev);
        let (re_r, im_r) = real.group_cf(dd, &active);
        ncfd::ncfd_from_cf(
            (Tensor::from_inner(re_r), Tensor::from_inner(im_r)),
            (sw.clone().matmul(cos), sw.matmul(sin)),
            real.config().ncfd.alpha,
        )
        .sum()
    }

    /// The gather-based `L_pair`: patch weights of the active groups only, `[M_act, Ns']`.
    fn pair_term_gathered(
        real: &RealSide<'_, AB>,
        labels: &[usize],
        local: Tensor<AB, 3>,
        real_local: Tensor<AB, 2>,
    ) -> Tensor<AB, 1> {
        let counts = group_counts(labels, real.groups.k);
        let active: Vec<usize> = (0..counts.len()).filter(|&g| counts[g] > 0).collect();
        let (nl, ma) = (labels.len(), active.len());
        let (_, pw) = group_weights(labels, &counts, &active, real.geo.s);
        let pw = Tensor::<AB, 2>::from_data(TensorData::new(pw, [ma, nl]), real.device());
        let [nl, s, d] = local.dims();
        let diff = (local.reshape([nl, s * d]) - real_local).abs().mean_dim(1);
        pw.matmul(diff).sum()
    }

    /// LR patches (12x12) cut from a T91 image with the crate's patch code; None without data.
    fn t91_patches(n: usize) -> Option<Vec<crate::image::Image>> {
        let root = std::env::var_os("IDC_DATA")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| "/work/shared/data".into());
        let hr = crate::image::io::decode_image(&root.join("train/T91/tt2.bmp")).ok()?;
        let cfg = crate::config::PatchConfig {
            scale: 2,
            hr_patch: 24,
            step: 24,
            thresh_size: 0,
            task: None,
        }
        .check()
        .ok()?;
        let pairs = crate::image::patch::instance_pairs(&hr, &cfg).ok()?;
        Some(pairs.into_iter().take(n).map(|p| p.lr).collect())
    }

    /// The masked fixed-shape group and pair losses equal the gather-based ones (1e-5 relative)
    /// on real T91 patches and a seeded EDSR 8x1, over several bank entries, with some groups
    /// left without synthetic members (so the mask is exercised), unfolding on and off.
    #[test]
    fn masked_group_and_pair_losses_match_gathered_on_real_patches() {
        let Some(lr) = t91_patches(20) else {
            eprintln!("skipped: no T91 data under $IDC_DATA");
            return;
        };
        let dev = Default::default();
        let net = crate::models::edsr::EdsrConfig::from_arch("edsr:8x1", 2)
            .unwrap()
            .init_seeded::<AB>(&dev, 7);
        let syn = lr[..1].to_vec();
        for unfold in [true, false] {
            let mut cfg = CondenseConfig::default();
            cfg.rlff.unfold = unfold;
            cfg.rlff.c_out = 16;
            cfg.ncfd.num_freqs = 64;
            cfg.freq_bank = 3;
            cfg.groups = 12;
            let bank = FilterBank::new(8, cfg.rlff.kernel);
            let ctx = RealContext::<AB> {
                config: &cfg,
                filter_bank: Some(&bank),
                device: &dev,
            };
            let real = RealSide::prepare(ctx, &net, &lr, syn.len(), 5).unwrap();
            let bn = real
                .stats
                .apply(net.features(images_to_batch::<AB>(&syn, &dev).unwrap()));
            let labels = synthetic_labels(&real, &bn.clone().inner()).unwrap();
            let active = group_counts(&labels, real.groups.k)
                .iter()
                .filter(|&&n| n > 0)
                .count();
            assert!(active < real.groups.k, "every group active: mask untested");
            let mut ml = MultiLevel::new(cfg.freq_bank);
            for j in 0..cfg.freq_bank {
                let plan = StepPlan {
                    ramp: 1.0,
                    multi_level: true,
                    refresh: j == 0,
                };
                let (dd, slot) = real.bank_entry(j);
                let (_, rec) = ml.step_loss(&real, dd, slot, &plan, bn.clone(), j).unwrap();
                let a = ml.assignment.as_ref().unwrap();
                let local = real
                    .geo
                    .local(bn.clone(), dd.filters.as_ref(), real.geo.pad);
                let [nl, s, d] = local.dims();
                let proj = local.clone().reshape([nl * s, d]).matmul(dd.freqs.clone());
                let cos_sin = (proj.clone().cos(), proj.sin());
                let group = group_term_gathered(&real, dd, &labels, cos_sin)
                    .into_scalar()
                    .to_f64_lossy();
                let real_local = paired_real(&real, dd, a, None, &mut []);
                let pair = pair_term_gathered(&real, &labels, local, real_local)
                    .into_scalar()
                    .to_f64_lossy();
                let what = format!("unfold {unfold}, entry {j}");
                assert!(
                    rel(rec.group.unwrap(), group) < 1e-5,
                    "{what}: masked L_group {:?} vs gathered {group}",
                    rec.group
                );
                assert!(
                    rel(rec.pair.unwrap(), pair) < 1e-5,
                    "{what}: masked L_pair {:?} vs gathered {pair}",
                    rec.pair
                );
            }
        }
    }
}
