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
mod tests;
