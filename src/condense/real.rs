//! The real instance's side of Algorithm 1, computed once per instance: extractor features in
//! chunks, batch-norm statistics, the RLFF geometry, k-means groups and quotas, the pairing
//! space, and the (channel subset, frequency) draws with the real characteristic functions.
//!
//! Everything here is independent of the synthetic patches, so several instances can share one
//! synthetic forward pass later while each keeps its own [`RealSide`].

use super::common::stream;
use super::config::CondenseConfig;
use super::kmeans::{self, KMeans};
use super::ncfd;
use super::rlff::{self, BnStats, FilterBank, PaddedHost};
use crate::error::{IdcError, Result};
use crate::image::{Image, images_to_batch};
use crate::models::FeatureExtractor;
use burn::tensor::{Tensor, TensorData, backend::AutodiffBackend, backend::Backend};
use rand::rngs::StdRng;
use std::time::Instant;

pub(crate) type Inner<B> = <B as AutodiffBackend>::InnerBackend;

/// Runs `extractor` over `images` in chunks and concatenates the features, converted by `to`
/// (e.g. to the inner backend).
pub(crate) fn extract<B: Backend, IB: Backend, E: FeatureExtractor<B>>(
    extractor: &E,
    images: &[Image],
    chunk: usize,
    device: &B::Device,
    to: impl Fn(Tensor<B, 4>) -> Tensor<IB, 4>,
) -> Result<Tensor<IB, 4>> {
    let mut parts = Vec::new();
    for c in images.chunks(chunk.max(1)) {
        let x = images_to_batch::<B>(c, device)?;
        parts.push(to(extractor.features(x)));
    }
    Ok(Tensor::cat(parts, 0))
}

/// Batch-norm statistics of `feats` (`[n, c, h, w]`).
pub(crate) fn bn_stats<B: Backend>(feats: &Tensor<B, 4>, eps: f64) -> Result<BnStats> {
    let [n, c, h, w] = feats.dims();
    let mut sum = vec![0f64; c];
    let mut sq = vec![0f64; c];
    BnStats::accumulate(feats, &mut sum, &mut sq)?;
    Ok(BnStats::from_sums(&sum, &sq, n * h * w, eps))
}

/// Static RLFF geometry shared by the real and synthetic sides.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Geometry {
    pub p: usize,
    pub pad: usize,
    pub unfold: bool,
    pub l2: bool,
    /// Samples per local patch (`p^2` with unfolding, else 1).
    pub s: usize,
}

impl Geometry {
    pub fn new(config: &CondenseConfig) -> Self {
        let p = config.rlff.patch;
        Self {
            p,
            pad: if config.rlff.enabled {
                config.rlff.kernel / 2
            } else {
                0
            },
            unfold: config.rlff.unfold,
            l2: config.ncfd.l2_normalize,
            s: if config.rlff.unfold { p * p } else { 1 },
        }
    }

    /// NCFD sample dimension for `c` feature channels (after RLFF).
    pub fn dim(&self, c: usize) -> usize {
        if self.unfold { c } else { c * self.p * self.p }
    }

    /// RLFF + local patches + optional L2 normalisation: `[n_local, s, d]`.
    pub fn local<B: Backend>(
        &self,
        bn_feats: Tensor<B, 4>,
        filters: Option<&Tensor<B, 4>>,
        pad: usize,
    ) -> Tensor<B, 3> {
        let x = rlff::local_patches(rlff::apply(bn_feats, filters, pad), self.p, self.unfold);
        if self.l2 { rlff::l2_normalize(x) } else { x }
    }
}

/// Per-group sums of `cos`/`sin` of the real samples under one draw, `[m, T]` each, computed
/// `img_chunk` images at a time. `membership` is `[m, N' s]` (0/1).
#[allow(clippy::too_many_arguments)]
pub(crate) fn real_cf_sums<B: Backend>(
    geo: &Geometry,
    feats: &Tensor<B, 4>,
    filters: Option<&Tensor<B, 4>>,
    freqs: &Tensor<B, 2>,
    membership: &Tensor<B, 2>,
    img_chunk: usize,
    cf_chunk: usize,
) -> (Tensor<B, 2>, Tensor<B, 2>) {
    let [n, _, _, _] = feats.dims();
    let [m, _] = membership.dims();
    let t = freqs.dims()[1];
    let device = feats.device();
    let mut re = Tensor::<B, 2>::zeros([m, t], &device);
    let mut im = Tensor::<B, 2>::zeros([m, t], &device);
    let mut start = 0;
    let mut col = 0;
    while start < n {
        let len = img_chunk.max(1).min(n - start);
        let local = geo.local(feats.clone().narrow(0, start, len), filters, geo.pad);
        let [lp, s, d] = local.dims();
        let samples = local.reshape([lp * s, d]);
        let g = membership.clone().narrow(1, col, lp * s);
        let (r, i) = ncfd::cf_sums(samples, freqs.clone(), g, cf_chunk);
        re = re + r;
        im = im + i;
        col += lp * s;
        start += len;
    }
    (re, im)
}

/// One (channel subset, frequencies) draw: filters `[C_out, c, k, k]` (None with RLFF off) and
/// frequencies `[d, T]` as host data.
pub(crate) struct Draw {
    pub filters: Option<Vec<usize>>,
    pub freqs: Vec<f32>,
}

pub(crate) fn draw(
    config: &CondenseConfig,
    bank: Option<&FilterBank>,
    geo: &Geometry,
    c: usize,
    rng: &mut StdRng,
) -> Draw {
    let filters =
        bank.map(|b| rand::seq::index::sample(rng, b.len(), config.rlff.c_out).into_vec());
    let d = geo.dim(config.feature_dim(c));
    let freqs = ncfd::draw_freqs(rng, d, config.ncfd.num_freqs, config.ncfd.sigma);
    Draw { filters, freqs }
}

/// A draw materialised on the device: filters and frequencies on both backends, and the real
/// side's per-group `cos`/`sin` sums (inner backend, no gradient).
pub(crate) struct DeviceDraw<B: AutodiffBackend> {
    pub filters_inner: Option<Tensor<Inner<B>, 4>>,
    pub filters: Option<Tensor<B, 4>>,
    pub freqs: Tensor<B, 2>,
    pub real_re: Tensor<Inner<B>, 2>,
    pub real_im: Tensor<Inner<B>, 2>,
}

/// The real side of the pairing: flattened real local patches `[N', c p^2]`, their squared
/// norms `[1, N']` and their group one-hot `[M, N']`.
pub(crate) struct RealPairing<B: AutodiffBackend> {
    pub flat: Tensor<Inner<B>, 2>,
    pub sq_norms: Tensor<Inner<B>, 2>,
    pub groups: Tensor<Inner<B>, 2>,
    /// Padded host copy of the real feature maps for the pair windows (None without `L_pair`).
    pub padded: Option<PaddedHost>,
}

/// What the real side needs from its condenser: config, Fourier filter bank and device.
pub(crate) struct RealContext<'a, B: Backend> {
    pub config: &'a CondenseConfig,
    pub filter_bank: Option<&'a FilterBank>,
    pub device: &'a B::Device,
}

// By hand: a derive would require `B: Copy`.
impl<B: Backend> Clone for RealContext<'_, B> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<B: Backend> Copy for RealContext<'_, B> {}

/// One real instance's side, built once: statistics, groups, quotas, pairing space and the
/// frequency bank (or, with `freq_bank = 0`, the features and stream for fresh draws).
pub(crate) struct RealSide<'a, B: AutodiffBackend> {
    ctx: RealContext<'a, B>,
    pub geo: Geometry,
    /// Batch-norm statistics of the real features (applied to the synthetic ones too).
    pub stats: BnStats,
    /// Feature channels `c`.
    pub channels: usize,
    /// Local-patch grid `(gh, gw)` of one feature map.
    pub grid: (usize, usize),
    /// Real local patches `N'`.
    pub local_patches: usize,
    pub groups: KMeans,
    /// Real local patches per group.
    pub sizes: Vec<usize>,
    /// Synthetic local patches per group (largest remainder).
    pub quotas: Vec<usize>,
    /// `[M, N' s]` 0/1 membership of the real samples.
    membership: Tensor<Inner<B>, 2>,
    /// `[M, 1]`: `1 / (size s)` per group (0 for an empty group), turning sums into means.
    inv_group_samples: Tensor<Inner<B>, 2>,
    pub pairing: RealPairing<B>,
    bank: Vec<DeviceDraw<B>>,
    /// Batch-normalised real features, kept only for fresh draws (no bank).
    features: Option<Tensor<Inner<B>, 4>>,
    draws_rng: StdRng,
    /// Seconds spent extracting features and statistics, then grouping and the bank.
    pub features_s: f64,
    pub setup_s: f64,
}

impl<'a, B: AutodiffBackend> RealContext<'a, B> {
    /// Puts draw `d` on the device and computes the real side's per-group `cos`/`sin` sums.
    fn materialise(
        &self,
        d: &Draw,
        real: &Tensor<Inner<B>, 4>,
        membership: &Tensor<Inner<B>, 2>,
        geo: &Geometry,
    ) -> DeviceDraw<B> {
        let cfg = self.config;
        let filters_inner = match (self.filter_bank, &d.filters) {
            (Some(b), Some(idx)) => Some(b.select::<Inner<B>>(idx, self.device)),
            _ => None,
        };
        let dim = d.freqs.len() / cfg.ncfd.num_freqs;
        let freqs_inner = Tensor::<Inner<B>, 2>::from_data(
            TensorData::new(d.freqs.clone(), [dim, cfg.ncfd.num_freqs]),
            self.device,
        );
        let (real_re, real_im) = real_cf_sums(
            geo,
            real,
            filters_inner.as_ref(),
            &freqs_inner,
            membership,
            cfg.real_chunk,
            cfg.cf_chunk,
        );
        DeviceDraw {
            filters: filters_inner.clone().map(Tensor::from_inner),
            filters_inner,
            freqs: Tensor::from_inner(freqs_inner),
            real_re,
            real_im,
        }
    }

    /// Real features of `lr` (in chunks, inner backend), batch-normalised with their own
    /// statistics; checks the extractor's declared channel count.
    fn normalised_features<E: FeatureExtractor<B>>(
        &self,
        extractor: &E,
        lr: &[Image],
    ) -> Result<(BnStats, Tensor<Inner<B>, 4>)> {
        let cfg = self.config;
        let raw =
            extract::<B, Inner<B>, E>(extractor, lr, cfg.real_chunk, self.device, |t| t.inner())?;
        let stats = bn_stats(&raw, cfg.rlff.bn_eps)?;
        let real = stats.apply(raw);
        let c = real.dims()[1];
        if c != extractor.feature_channels() {
            return Err(IdcError::Model(format!(
                "extractor returned {c} channels, declared {}",
                extractor.feature_channels()
            )));
        }
        Ok((stats, real))
    }
}

/// k-means of the real local patches in the grouping space (per-local-patch mean of the BN
/// features, `[N', c]`).
fn kmeans_groups<B: Backend>(
    cfg: &CondenseConfig,
    geo: &Geometry,
    real: &Tensor<B, 4>,
    lp_real: usize,
    seed: u64,
) -> Result<KMeans> {
    let c = real.dims()[1];
    let real_mean = rlff::host_vec(
        rlff::local_patches(real.clone(), geo.p, true)
            .mean_dim(1)
            .reshape([lp_real, c]),
    )?;
    Ok(kmeans::kmeans(
        &real_mean,
        c,
        cfg.groups,
        cfg.kmeans_iters,
        &mut stream(seed, 2),
    ))
}

/// `[M, N' s]` 0/1 membership of the real samples in the k-means groups.
fn sample_membership<B: Backend>(
    km: &KMeans,
    lp_real: usize,
    s: usize,
    device: &B::Device,
) -> Tensor<B, 2> {
    let m = km.k;
    let mut member = vec![0f32; m * lp_real * s];
    for (i, &l) in km.labels.iter().enumerate() {
        for k in 0..s {
            member[l * lp_real * s + i * s + k] = 1.0;
        }
    }
    Tensor::from_data(TensorData::new(member, [m, lp_real * s]), device)
}

/// `[M, 1]`: `1 / (size s)` per group, 0 for an empty group (so masked rows stay finite).
fn inverse_group_samples<B: Backend>(
    sizes: &[usize],
    s: usize,
    device: &B::Device,
) -> Tensor<B, 2> {
    let inv: Vec<f32> = sizes
        .iter()
        .map(|&n| if n > 0 { 1.0 / (n * s) as f32 } else { 0.0 })
        .collect();
    Tensor::from_data(TensorData::new(inv, [sizes.len(), 1]), device)
}

impl<B: AutodiffBackend> RealPairing<B> {
    /// Pairing space (flattened BN local patches), the group one-hot for the same-group mask
    /// and, with `L_pair`, the padded host copy of the real feature maps.
    fn new(
        geo: &Geometry,
        real: &Tensor<Inner<B>, 4>,
        km: &KMeans,
        lp_real: usize,
        use_pair: bool,
        device: &B::Device,
    ) -> Result<Self> {
        let [n_real, c, fh, fw] = real.dims();
        let flat =
            rlff::local_patches(real.clone(), geo.p, false).reshape([lp_real, c * geo.p * geo.p]);
        let m = km.k;
        let mut g_real = vec![0f32; m * lp_real];
        for (i, &l) in km.labels.iter().enumerate() {
            g_real[l * lp_real + i] = 1.0;
        }
        let groups = Tensor::from_data(TensorData::new(g_real, [m, lp_real]), device);
        let sq_norms = flat.clone().square().sum_dim(1).reshape([1, lp_real]);
        let padded = if use_pair {
            Some(PaddedHost::new(
                &rlff::host_vec(real.clone())?,
                n_real,
                c,
                fh,
                fw,
                geo.pad,
            ))
        } else {
            None
        };
        Ok(Self {
            flat,
            sq_norms,
            groups,
            padded,
        })
    }
}

impl<'a, B: AutodiffBackend> RealSide<'a, B> {
    /// Builds the real side of `lr` (one instance) for `n_syn` synthetic patches: features and
    /// statistics, groups (stream 2 of `seed`), quotas, pairing space and the frequency bank
    /// (stream 3, continued by fresh draws without a bank).
    pub fn prepare<E: FeatureExtractor<B>>(
        ctx: RealContext<'a, B>,
        extractor: &E,
        lr: &[Image],
        n_syn: usize,
        seed: u64,
    ) -> Result<Self> {
        let cfg = ctx.config;
        let geo = Geometry::new(cfg);
        let t0 = Instant::now();
        let (stats, real) = ctx.normalised_features(extractor, lr)?;
        let [n_real, c, fh, fw] = real.dims();
        let grid = rlff::grid(fh, fw, geo.p)?;
        let features_s = t0.elapsed().as_secs_f64();

        let t1 = Instant::now();
        let lp_real = n_real * grid.0 * grid.1;
        let groups = kmeans_groups(cfg, &geo, &real, lp_real, seed)?;
        let sizes = groups.sizes();
        let quotas = kmeans::quotas(&sizes, n_syn * grid.0 * grid.1);
        let membership = sample_membership(&groups, lp_real, geo.s, ctx.device);
        let inv_group_samples = inverse_group_samples(&sizes, geo.s, ctx.device);
        let pairing =
            RealPairing::new(&geo, &real, &groups, lp_real, cfg.w_pair > 0.0, ctx.device)?;
        let mut draws_rng = stream(seed, 3);
        let bank: Vec<DeviceDraw<B>> = (0..cfg.freq_bank)
            .map(|_| {
                let d = draw(cfg, ctx.filter_bank, &geo, c, &mut draws_rng);
                ctx.materialise(&d, &real, &membership, &geo)
            })
            .collect();
        // With a bank, the real feature maps are only needed for the pair windows (host copy).
        let features = if bank.is_empty() { Some(real) } else { None };
        Ok(Self {
            ctx,
            geo,
            stats,
            channels: c,
            grid,
            local_patches: lp_real,
            groups,
            sizes,
            quotas,
            membership,
            inv_group_samples,
            pairing,
            bank,
            features,
            draws_rng,
            features_s,
            setup_s: t1.elapsed().as_secs_f64(),
        })
    }

    pub fn config(&self) -> &'a CondenseConfig {
        self.ctx.config
    }

    pub fn device(&self) -> &B::Device {
        self.ctx.device
    }

    /// Entries of the frequency bank (0: a fresh draw every step).
    pub fn bank_len(&self) -> usize {
        self.bank.len()
    }

    /// Without a bank, the next draw of stream 3 with its real sums; with a bank, `None`.
    pub fn fresh_draw(&mut self) -> Result<Option<DeviceDraw<B>>> {
        if !self.bank.is_empty() {
            return Ok(None);
        }
        let d = draw(
            self.ctx.config,
            self.ctx.filter_bank,
            &self.geo,
            self.channels,
            &mut self.draws_rng,
        );
        let r = self
            .features
            .as_ref()
            .ok_or_else(|| IdcError::InvalidInput("no real features".into()))?;
        Ok(Some(self.ctx.materialise(
            &d,
            r,
            &self.membership,
            &self.geo,
        )))
    }

    /// Bank entry used at step `j` and its slot (requires a non-empty bank).
    pub fn bank_entry(&self, j: usize) -> (&DeviceDraw<B>, Option<usize>) {
        let k = j % self.bank.len();
        (&self.bank[k], Some(k))
    }

    /// The whole instance's real characteristic function under `dd`, `[1, T]` each.
    pub fn instance_cf(&self, dd: &DeviceDraw<B>) -> (Tensor<Inner<B>, 2>, Tensor<Inner<B>, 2>) {
        let total_real = (self.local_patches * self.geo.s) as f64;
        let re_r = dd.real_re.clone().sum_dim(0).div_scalar(total_real);
        let im_r = dd.real_im.clone().sum_dim(0).div_scalar(total_real);
        (re_r, im_r)
    }

    /// Real characteristic functions of all `M` groups under `dd`, `[M, T]` each (zero rows for
    /// empty groups): a shape fixed per instance, masked by the caller.
    pub fn group_cf_all(&self, dd: &DeviceDraw<B>) -> (Tensor<Inner<B>, 2>, Tensor<Inner<B>, 2>) {
        let re_r = dd.real_re.clone() * self.inv_group_samples.clone();
        let im_r = dd.real_im.clone() * self.inv_group_samples.clone();
        (re_r, im_r)
    }

    /// Real characteristic functions of the `active` groups under `dd`, `[M_act, T]` each: the
    /// gather of varying size that [`Self::group_cf_all`] replaced, kept as the tests' reference.
    #[cfg(test)]
    pub fn group_cf(
        &self,
        dd: &DeviceDraw<B>,
        active: &[usize],
    ) -> (Tensor<Inner<B>, 2>, Tensor<Inner<B>, 2>) {
        let dev = self.ctx.device;
        let idx = Tensor::<Inner<B>, 1, burn::tensor::Int>::from_data(
            TensorData::new(
                active.iter().map(|&g| g as i64).collect::<Vec<_>>(),
                [active.len()],
            ),
            dev,
        );
        let inv: Vec<f32> = active
            .iter()
            .map(|&g| 1.0 / (self.sizes[g] * self.geo.s) as f32)
            .collect();
        let inv = Tensor::<Inner<B>, 1>::from_data(TensorData::new(inv, [active.len()]), dev)
            .reshape([active.len(), 1]);
        let re_r = dd.real_re.clone().select(0, idx.clone()) * inv.clone();
        let im_r = dd.real_im.clone().select(0, idx) * inv;
        (re_r, im_r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;
    use rand::{Rng, SeedableRng};

    #[test]
    fn bn_stats_match_f64_mean_and_biased_variance() {
        let (n, c, h, w) = (3, 4, 5, 6);
        let mut rng = StdRng::seed_from_u64(11);
        let v: Vec<f32> = (0..n * c * h * w)
            .map(|i| rng.random_range(-1.0f32..1.0) * (1 + i % c) as f32 + (i % c) as f32)
            .collect();
        let x = Tensor::<Flex, 4>::from_data(
            TensorData::new(v.clone(), [n, c, h, w]),
            &Default::default(),
        );
        let eps = 1e-5;
        let stats = bn_stats(&x, eps).unwrap();
        for ch in 0..c {
            let vals: Vec<f64> = (0..n)
                .flat_map(|i| (0..h * w).map(move |k| (i, k)))
                .map(|(i, k)| v[(i * c + ch) * h * w + k] as f64)
                .collect();
            let mean = vals.iter().sum::<f64>() / vals.len() as f64;
            let var = vals.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / vals.len() as f64;
            let inv_std = 1.0 / (var + eps).sqrt();
            let rel = |a: f64, b: f64| (a - b).abs() / b.abs().max(1e-12);
            assert!(
                rel(stats.mean[ch] as f64, mean) < 1e-5,
                "mean {ch}: {} vs {mean}",
                stats.mean[ch]
            );
            assert!(
                rel(stats.inv_std[ch] as f64, inv_std) < 1e-5,
                "inv_std {ch}: {} vs {inv_std}",
                stats.inv_std[ch]
            );
        }
    }
}
