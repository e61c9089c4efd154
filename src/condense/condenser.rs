//! Algorithm 1: condense one instance (the LR patches of one image) into `n` synthetic LR
//! patches with Adam on the pixels, then up-sample them with the teacher.
//!
//! Cost structure (why it is fast): the real features are extracted and batch-normalised once
//! per instance (in chunks of `real_chunk` patches) and kept on the device; the k-means, the
//! pairing space and the padded host copy for the pair windows are built once. Per step only
//! the synthetic batch goes through the extractor (forward and backward). With `freq_bank = B > 0`
//! the real side's characteristic functions of `B` (channel subset, frequency) draws are
//! precomputed, so a step touches no real sample except the paired windows of the pair loss
//! (`n_syn_local` windows of `(p + k - 1)^2` pixels). With `B = 0` (the paper) every step
//! recomputes the real RLFF and its characteristic functions.
//!
//! Choices where the paper is silent (all documented in [`CondenseConfig`]):
//! - k-means runs on the per-local-patch *average* of the batch-normalised extractor features
//!   (a space that does not change with the per-step random channel subset); synthetic local
//!   patches are assigned in the same space.
//! - Pairing (nearest real local patch in the same group) uses the flattened batch-normalised
//!   features of the local patch (`c p^2` values), refreshed together with the assignment; the
//!   L1 of the pair loss is computed on the current step's RLFF samples (after L2 normalisation
//!   when enabled), averaged over elements and pairs inside each group and summed over groups
//!   (eq. 8 with a mean instead of a sum over feature elements).
//! - The group loss skips groups that receive no synthetic local patch (quota 0).

use super::config::CondenseConfig;
use super::kmeans::{self, KMeans};
use super::ncfd;
use super::rlff::{self, BnStats, FilterBank, PaddedHost};
use super::schedule;
use crate::error::{IdcError, Result};
use crate::image::{Image, batch_to_images, images_to_batch};
use crate::models::{FeatureExtractor, Teacher};
use burn::tensor::{Int, Tensor, TensorData, backend::AutodiffBackend, backend::Backend};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};
use std::time::Instant;

type Inner<B> = <B as AutodiffBackend>::InnerBackend;

/// One instance: the `N` real LR patches of one HR image (all the same size).
#[derive(Clone, Debug)]
pub struct Instance {
    pub name: String,
    pub lr: Vec<Image>,
}

/// Result of condensing one instance: `n` synthetic LR patches, their teacher HR targets
/// (clamped to `[0, 1]`) and the run's report.
#[derive(Clone, Debug)]
pub struct CondensedInstance {
    pub lr: Vec<Image>,
    pub hr: Vec<Image>,
    pub report: CondenseReport,
}

/// Losses of one step, before that step's update. `None`: the term was not active at this step
/// (warm-up, or weight 0). Values are unweighted; `total` is the weighted, ramped sum.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepLoss {
    pub step: usize,
    pub instance: Option<f64>,
    pub group: Option<f64>,
    pub pair: Option<f64>,
    pub total: f64,
}

/// Wall-clock timings of one run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct CondenseTimings {
    /// Real feature extraction and batch-norm statistics (once per instance).
    pub real_features_s: f64,
    /// k-means, pairing space and the frequency bank's real characteristic functions.
    pub setup_s: f64,
    /// Median milliseconds per optimisation step.
    pub step_ms_median: f64,
    /// All optimisation steps.
    pub steps_s: f64,
    /// Teacher up-sampling of the synthetic patches.
    pub teacher_s: f64,
    /// Whole `condense` call.
    pub total_s: f64,
}

/// What a run did: sizes, grouping, per-step losses and timings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CondenseReport {
    pub name: String,
    pub seed: u64,
    pub n_real: usize,
    pub n_synthetic: usize,
    /// Real local patches `N'`.
    pub real_local_patches: usize,
    /// Real local patches per group (k-means).
    pub group_sizes: Vec<usize>,
    /// Synthetic local patches per group (largest-remainder quotas).
    pub quotas: Vec<usize>,
    pub steps: Vec<StepLoss>,
    pub timings: CondenseTimings,
}

/// Derives an independent random stream for `purpose`.
pub(crate) fn stream(seed: u64, purpose: u64) -> StdRng {
    StdRng::seed_from_u64(crate::seed::mix_seed(seed, purpose, 0))
}

/// Checks that `images` is a non-empty batch of equally sized, finite images.
pub(crate) fn check_images(images: &[Image], what: &str) -> Result<(usize, usize, usize)> {
    let first = images
        .first()
        .ok_or_else(|| IdcError::InvalidInput(format!("{what}: no patches")))?;
    let dims = (first.channels, first.height, first.width);
    for im in images {
        if (im.channels, im.height, im.width) != dims {
            return Err(IdcError::InvalidInput(format!(
                "{what}: patches of different sizes ({}x{}x{} and {}x{}x{})",
                dims.0, dims.1, dims.2, im.channels, im.height, im.width
            )));
        }
        if im.data.iter().any(|v| !v.is_finite()) {
            return Err(IdcError::InvalidInput(format!("{what}: non-finite pixel")));
        }
    }
    Ok(dims)
}

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
struct DeviceDraw<B: AutodiffBackend> {
    filters_inner: Option<Tensor<Inner<B>, 4>>,
    filters: Option<Tensor<B, 4>>,
    freqs: Tensor<B, 2>,
    real_re: Tensor<Inner<B>, 2>,
    real_im: Tensor<Inner<B>, 2>,
}

/// The real side of the pairing: flattened real local patches, their squared norms and their
/// group one-hot (`[M, N']`), built once per instance.
type RealPairing<'a, B> = (
    &'a Tensor<Inner<B>, 2>,
    &'a Tensor<Inner<B>, 2>,
    &'a Tensor<Inner<B>, 2>,
);

/// The synthetic group assignment and pairs, refreshed during the assigning phase.
struct Assignment<B: AutodiffBackend> {
    /// Groups with at least one synthetic local patch.
    active: Vec<usize>,
    /// `[M_act, Ns' s]`: mean over each active group's synthetic samples.
    sample_weights: Tensor<B, 2>,
    /// `[M_act, Ns']`: mean over each active group's synthetic local patches.
    patch_weights: Tensor<B, 2>,
    /// Input windows of the paired real local patches `[Ns', c, p + 2 pad, p + 2 pad]`.
    real_windows: Tensor<Inner<B>, 4>,
}

/// Condenses instances with a fixed extractor, teacher and config.
pub struct Condenser<'a, B: AutodiffBackend, E: FeatureExtractor<B>, T: Teacher<B>> {
    config: CondenseConfig,
    extractor: &'a E,
    teacher: &'a T,
    device: B::Device,
    bank: Option<FilterBank>,
}

impl<'a, B: AutodiffBackend, E: FeatureExtractor<B>, T: Teacher<B>> Condenser<'a, B, E, T> {
    /// Validates `config` against itself and the extractor (`C_out <= 2 c k^2`) and builds the
    /// Fourier filter bank once.
    pub fn new(
        config: CondenseConfig,
        extractor: &'a E,
        teacher: &'a T,
        device: B::Device,
    ) -> Result<Self> {
        config.validate()?;
        let c = extractor.feature_channels();
        if c == 0 {
            return Err(IdcError::InvalidInput(
                "extractor has 0 feature channels".into(),
            ));
        }
        let bank = if config.rlff.enabled {
            let b = FilterBank::new(c, config.rlff.kernel);
            if config.rlff.c_out > b.len() {
                return Err(IdcError::config(
                    "rlff.c_out",
                    format!(
                        "{} exceeds the {} Fourier filters of c = {c}",
                        config.rlff.c_out,
                        b.len()
                    ),
                ));
            }
            Some(b)
        } else {
            None
        };
        Ok(Self {
            config,
            extractor,
            teacher,
            device,
            bank,
        })
    }

    /// The validated config.
    pub fn config(&self) -> &CondenseConfig {
        &self.config
    }

    fn device_draw(
        &self,
        d: &Draw,
        real: &Tensor<Inner<B>, 4>,
        membership: &Tensor<Inner<B>, 2>,
        geo: &Geometry,
    ) -> DeviceDraw<B> {
        let cfg = &self.config;
        let filters_inner = match (&self.bank, &d.filters) {
            (Some(b), Some(idx)) => Some(b.select::<Inner<B>>(idx, &self.device)),
            _ => None,
        };
        let dim = d.freqs.len() / cfg.ncfd.num_freqs;
        let freqs_inner = Tensor::<Inner<B>, 2>::from_data(
            TensorData::new(d.freqs.clone(), [dim, cfg.ncfd.num_freqs]),
            &self.device,
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

    /// Runs Algorithm 1 on `instance` with `seed` (bit-identical results for a seed on CPU).
    pub fn condense(&self, instance: &Instance, seed: u64) -> Result<CondensedInstance> {
        self.condense_with(instance, seed, &mut |_| {})
    }

    /// [`Condenser::condense`] calling `on_step` after every step (progress bars, logging).
    pub fn condense_with(
        &self,
        instance: &Instance,
        seed: u64,
        on_step: &mut dyn FnMut(&StepLoss),
    ) -> Result<CondensedInstance> {
        let t_start = Instant::now();
        let cfg = &self.config;
        let dev = &self.device;
        let (ch, ph, pw) = check_images(&instance.lr, "instance")?;
        let n_real = instance.lr.len();
        let n_syn = cfg.synthetic_count(n_real);
        let geo = Geometry::new(cfg);

        // --- Real side, once per instance. -------------------------------------------------
        let t0 = Instant::now();
        let raw =
            extract::<B, Inner<B>, E>(self.extractor, &instance.lr, cfg.real_chunk, dev, |t| {
                t.inner()
            })?;
        let stats = bn_stats(&raw, cfg.rlff.bn_eps)?;
        let real = stats.apply(raw);
        let [_, c, fh, fw] = real.dims();
        if c != self.extractor.feature_channels() {
            return Err(IdcError::Model(format!(
                "extractor returned {c} channels, declared {}",
                self.extractor.feature_channels()
            )));
        }
        let (gh, gw) = rlff::grid(fh, fw, geo.p)?;
        let real_features_s = t0.elapsed().as_secs_f64();

        let t1 = Instant::now();
        let lp_real = n_real * gh * gw;
        let lp_syn = n_syn * gh * gw;
        // Grouping space: per-local-patch mean of the BN features; pairing space: flattened.
        let real_flat =
            rlff::local_patches(real.clone(), geo.p, false).reshape([lp_real, c * geo.p * geo.p]);
        let real_mean = rlff::host_vec(
            rlff::local_patches(real.clone(), geo.p, true)
                .mean_dim(1)
                .reshape([lp_real, c]),
        )?;
        let km = kmeans::kmeans(
            &real_mean,
            c,
            cfg.groups,
            cfg.kmeans_iters,
            &mut stream(seed, 2),
        );
        let sizes = km.sizes();
        let quotas = kmeans::quotas(&sizes, lp_syn);
        let m = km.k;
        let mut member = vec![0f32; m * lp_real * geo.s];
        for (i, &l) in km.labels.iter().enumerate() {
            for k in 0..geo.s {
                member[l * lp_real * geo.s + i * geo.s + k] = 1.0;
            }
        }
        let membership =
            Tensor::<Inner<B>, 2>::from_data(TensorData::new(member, [m, lp_real * geo.s]), dev);
        // Group one-hot of real local patches `[M, N']` for the pairing mask.
        let mut g_real = vec![0f32; m * lp_real];
        for (i, &l) in km.labels.iter().enumerate() {
            g_real[l * lp_real + i] = 1.0;
        }
        let g_real = Tensor::<Inner<B>, 2>::from_data(TensorData::new(g_real, [m, lp_real]), dev);
        let real_sq = real_flat.clone().square().sum_dim(1).reshape([1, lp_real]);
        let use_pair = cfg.w_pair > 0.0;
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
        let mut draws_rng = stream(seed, 3);
        let bank: Vec<DeviceDraw<B>> = (0..cfg.freq_bank)
            .map(|_| {
                let d = draw(cfg, self.bank.as_ref(), &geo, c, &mut draws_rng);
                self.device_draw(&d, &real, &membership, &geo)
            })
            .collect();
        // With a bank, the real feature maps are only needed for the pair windows (host copy).
        let real = if bank.is_empty() { Some(real) } else { None };
        let setup_s = t1.elapsed().as_secs_f64();

        // --- Synthetic init. ---------------------------------------------------------------
        let mut init_rng = stream(seed, 1);
        let mut syn_imgs: Vec<Image> = rand::seq::index::sample(&mut init_rng, n_real, n_syn)
            .into_vec()
            .into_iter()
            .map(|i| instance.lr[i].clone())
            .collect();
        {
            use rand::Rng;
            for im in &mut syn_imgs {
                match cfg.init {
                    super::config::InitMode::Real => {}
                    super::config::InitMode::Noise => {
                        for v in &mut im.data {
                            *v = init_rng.random::<f32>();
                        }
                    }
                    super::config::InitMode::RealNoise => {
                        let a = cfg.init_noise as f32;
                        for v in &mut im.data {
                            *v = (*v + init_rng.random_range(-a..=a)).clamp(0.0, 1.0);
                        }
                    }
                }
            }
        }
        let mut x = images_to_batch::<Inner<B>>(&syn_imgs, dev)?;
        let mut adam_m = x.zeros_like();
        let mut adam_v = x.zeros_like();

        // --- Optimisation. -----------------------------------------------------------------
        let mut steps = Vec::with_capacity(cfg.iters);
        let mut step_ms = Vec::with_capacity(cfg.iters);
        let mut assignment: Option<Assignment<B>> = None;
        let mut pair_cache: Vec<Option<Tensor<Inner<B>, 2>>> = vec![None; bank.len()];
        let t2 = Instant::now();
        for j in 0..cfg.iters {
            let ts = Instant::now();
            let plan = schedule::plan(cfg, j);
            let fresh;
            let dd: &DeviceDraw<B> = if bank.is_empty() {
                let d = draw(cfg, self.bank.as_ref(), &geo, c, &mut draws_rng);
                let r = real
                    .as_ref()
                    .ok_or_else(|| IdcError::InvalidInput("no real features".into()))?;
                fresh = self.device_draw(&d, r, &membership, &geo);
                &fresh
            } else {
                &bank[j % bank.len()]
            };

            let xa = Tensor::<B, 4>::from_inner(x.clone()).require_grad();
            let bn = stats.apply(self.extractor.features(xa.clone()));
            if plan.refresh && plan.multi_level {
                pair_cache.iter_mut().for_each(|c| *c = None);
                assignment = Some(self.assign(
                    &bn.clone().inner(),
                    &km,
                    &quotas,
                    &geo,
                    (&real_flat, &real_sq, &g_real),
                    padded.as_ref(),
                    (gh, gw),
                )?);
            }
            let local = geo.local(bn, dd.filters.as_ref(), geo.pad);
            let [nl, s, d] = local.dims();
            let samples = local.clone().reshape([nl * s, d]);
            let total_real = (lp_real * geo.s) as f64;

            let mut terms: Vec<Tensor<B, 1>> = Vec::new();
            let mut rec = StepLoss {
                step: j,
                instance: None,
                group: None,
                pair: None,
                total: 0.0,
            };
            // cos/sin of the synthetic projections, shared by the instance and group terms.
            let proj = samples.matmul(dd.freqs.clone());
            let (cos_s, sin_s) = (proj.clone().cos(), proj.sin());
            if cfg.w_ins > 0.0 {
                let re_r = dd.real_re.clone().sum_dim(0).div_scalar(total_real);
                let im_r = dd.real_im.clone().sum_dim(0).div_scalar(total_real);
                let l = ncfd::ncfd_from_cf(
                    (Tensor::from_inner(re_r), Tensor::from_inner(im_r)),
                    (cos_s.clone().mean_dim(0), sin_s.clone().mean_dim(0)),
                    cfg.ncfd.alpha,
                );
                rec.instance = Some(l.clone().into_scalar().to_f64_lossy());
                terms.push(l.mul_scalar(cfg.w_ins));
            }
            if plan.multi_level {
                let a = assignment
                    .as_ref()
                    .ok_or_else(|| IdcError::InvalidInput("assignment missing".into()))?;
                if cfg.w_group > 0.0 {
                    let idx = Tensor::<Inner<B>, 1, Int>::from_data(
                        TensorData::new(
                            a.active.iter().map(|&g| g as i64).collect::<Vec<_>>(),
                            [a.active.len()],
                        ),
                        dev,
                    );
                    let inv: Vec<f32> = a
                        .active
                        .iter()
                        .map(|&g| 1.0 / (sizes[g] * geo.s) as f32)
                        .collect();
                    let inv = Tensor::<Inner<B>, 1>::from_data(
                        TensorData::new(inv, [a.active.len()]),
                        dev,
                    )
                    .reshape([a.active.len(), 1]);
                    let re_r = dd.real_re.clone().select(0, idx.clone()) * inv.clone();
                    let im_r = dd.real_im.clone().select(0, idx) * inv;
                    let l = ncfd::ncfd_from_cf(
                        (Tensor::from_inner(re_r), Tensor::from_inner(im_r)),
                        (
                            a.sample_weights.clone().matmul(cos_s.clone()),
                            a.sample_weights.clone().matmul(sin_s.clone()),
                        ),
                        cfg.ncfd.alpha,
                    )
                    .sum();
                    rec.group = Some(l.clone().into_scalar().to_f64_lossy());
                    terms.push(l.mul_scalar(cfg.w_group * plan.ramp));
                }
                if use_pair {
                    // With a bank, the paired real features of an entry are cached until the
                    // next refresh (the pairs are fixed after the assigning phase).
                    let slot = if bank.is_empty() {
                        None
                    } else {
                        Some(j % bank.len())
                    };
                    let cached = slot.and_then(|k| pair_cache[k].clone());
                    let real_local = match cached {
                        Some(t) => t,
                        None => {
                            let t = geo
                                .local(a.real_windows.clone(), dd.filters_inner.as_ref(), 0)
                                .reshape([nl, s * d]);
                            if let Some(k) = slot {
                                pair_cache[k] = Some(t.clone());
                            }
                            t
                        }
                    };
                    let real_local = Tensor::<B, 2>::from_inner(real_local);
                    let diff = (local.reshape([nl, s * d]) - real_local).abs().mean_dim(1);
                    let l = a.patch_weights.clone().matmul(diff).sum();
                    rec.pair = Some(l.clone().into_scalar().to_f64_lossy());
                    terms.push(l.mul_scalar(cfg.w_pair * plan.ramp));
                }
            }
            if let Some(first) = terms.pop() {
                let loss = terms.into_iter().fold(first, |a, b| a + b);
                rec.total = loss.clone().into_scalar().to_f64_lossy();
                let grads = loss.backward();
                let g = xa.grad(&grads).ok_or_else(|| {
                    IdcError::Model("no gradient reached the synthetic pixels".into())
                })?;
                // Adam on the pixels, then clamp to [0, 1].
                let t = (j + 1) as i32;
                adam_m = adam_m.mul_scalar(cfg.beta1) + g.clone().mul_scalar(1.0 - cfg.beta1);
                adam_v = adam_v.mul_scalar(cfg.beta2) + g.square().mul_scalar(1.0 - cfg.beta2);
                let mhat = adam_m.clone().div_scalar(1.0 - cfg.beta1.powi(t));
                let vhat = adam_v.clone().div_scalar(1.0 - cfg.beta2.powi(t));
                let upd = mhat / vhat.sqrt().add_scalar(cfg.adam_eps);
                x = (x - upd.mul_scalar(cfg.lr)).clamp(0.0, 1.0);
            }
            if !rec.total.is_finite() {
                return Err(IdcError::Model(format!("non-finite loss at step {j}")));
            }
            on_step(&rec);
            steps.push(rec);
            step_ms.push(ts.elapsed().as_secs_f64() * 1e3);
        }
        let steps_s = t2.elapsed().as_secs_f64();

        // --- HR targets from the teacher. --------------------------------------------------
        let t3 = Instant::now();
        let lr = batch_to_images::<Inner<B>>(x.clone())?;
        let mut hr = Vec::with_capacity(n_syn);
        for chunk in lr.chunks(cfg.teacher_chunk) {
            let b = images_to_batch::<B>(chunk, dev)?;
            let up = self.teacher.upscale(b.detach()).clamp(0.0, 1.0);
            hr.extend(batch_to_images::<Inner<B>>(up.inner())?);
        }
        let teacher_s = t3.elapsed().as_secs_f64();
        let _ = (ch, ph, pw);

        let report = CondenseReport {
            name: instance.name.clone(),
            seed,
            n_real,
            n_synthetic: n_syn,
            real_local_patches: lp_real,
            group_sizes: sizes,
            quotas,
            steps,
            timings: CondenseTimings {
                real_features_s,
                setup_s,
                step_ms_median: median(&mut step_ms),
                steps_s,
                teacher_s,
                total_s: t_start.elapsed().as_secs_f64(),
            },
        };
        Ok(CondensedInstance { lr, hr, report })
    }

    /// Assigns the synthetic local patches to groups (greedy under quotas, in the grouping
    /// space) and pairs each with its nearest real local patch of the same group (pairing
    /// space); builds the weight matrices and the paired real windows.
    #[allow(clippy::too_many_arguments)]
    fn assign(
        &self,
        syn_bn: &Tensor<Inner<B>, 4>,
        km: &KMeans,
        quotas: &[usize],
        geo: &Geometry,
        real: RealPairing<'_, B>,
        padded: Option<&PaddedHost>,
        (gh, gw): (usize, usize),
    ) -> Result<Assignment<B>> {
        let dev = &self.device;
        let [_, c, _, _] = syn_bn.dims();
        let p = geo.p;
        let syn_mean = rlff::local_patches(syn_bn.clone(), p, true).mean_dim(1);
        let nl = syn_mean.dims()[0];
        let syn_mean = rlff::host_vec(syn_mean.reshape([nl, c]))?;
        let labels = kmeans::assign_with_quotas(&syn_mean, c, &km.centroids, quotas);
        let m = km.k;
        let counts = {
            let mut v = vec![0usize; m];
            for &l in &labels {
                v[l] += 1;
            }
            v
        };
        let active: Vec<usize> = (0..m).filter(|&g| counts[g] > 0).collect();
        let ma = active.len();
        let s = geo.s;
        let mut sw = vec![0f32; ma * nl * s];
        let mut pw = vec![0f32; ma * nl];
        for (i, &l) in labels.iter().enumerate() {
            if let Some(r) = active.iter().position(|&g| g == l) {
                pw[r * nl + i] = 1.0 / counts[l] as f32;
                for k in 0..s {
                    sw[r * nl * s + i * s + k] = 1.0 / (counts[l] * s) as f32;
                }
            }
        }
        let sample_weights = Tensor::<B, 2>::from_data(TensorData::new(sw, [ma, nl * s]), dev);
        let patch_weights = Tensor::<B, 2>::from_data(TensorData::new(pw, [ma, nl]), dev);

        // Pairs: nearest real local patch of the same group, in the flattened BN space.
        let real_windows = match padded {
            Some(ph) => {
                let (real_flat, real_sq, g_real) = real;
                let dflat = c * p * p;
                let syn_flat = rlff::local_patches(syn_bn.clone(), p, false).reshape([nl, dflat]);
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
                    let same = g_syn.clone().narrow(0, start, len).matmul(g_real.clone());
                    let dist = real_sq.clone()
                        - sf.matmul(real_flat.clone().transpose()).mul_scalar(2.0)
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
                ph.windows::<Inner<B>>(&pairs, p, gw, gh, dev)
            }
            None => Tensor::zeros([1, c, p, p], dev),
        };
        Ok(Assignment {
            active,
            sample_weights,
            patch_weights,
            real_windows,
        })
    }
}

/// Median of `v` (0 when empty).
pub(crate) fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

/// Lossy conversion of a backend float element to `f64`.
pub(crate) trait ToF64 {
    fn to_f64_lossy(self) -> f64;
}

impl<E: burn::tensor::ElementConversion> ToF64 for E {
    fn to_f64_lossy(self) -> f64 {
        self.elem::<f64>()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::condense::config::InitMode;
    use burn::backend::{Autodiff, Flex};
    use burn::tensor::module::conv2d;
    use burn::tensor::ops::ConvOptions;
    use rand::Rng;

    type AB = Autodiff<Flex>;

    /// Fixed random 3x3 conv (3 -> `c` channels) + tanh: a tiny differentiable extractor, and a
    /// nearest-neighbour x2 teacher.
    pub(crate) struct TinyNet<B: Backend> {
        w: Tensor<B, 4>,
        c: usize,
    }

    impl<B: Backend> TinyNet<B> {
        pub fn new(c: usize, seed: u64, device: &B::Device) -> Self {
            let mut rng = StdRng::seed_from_u64(seed);
            let w: Vec<f32> = (0..c * 27).map(|_| rng.random_range(-0.5..0.5)).collect();
            Self {
                w: Tensor::from_data(TensorData::new(w, [c, 3, 3, 3]), device),
                c,
            }
        }
    }

    impl<B: Backend> FeatureExtractor<B> for TinyNet<B> {
        fn features(&self, lr: Tensor<B, 4>) -> Tensor<B, 4> {
            conv2d(
                lr,
                self.w.clone(),
                None,
                ConvOptions::new([1, 1], [1, 1], [1, 1], 1),
            )
            .tanh()
        }
        fn feature_channels(&self) -> usize {
            self.c
        }
        fn fingerprint(&self) -> String {
            "tiny".into()
        }
    }

    impl<B: Backend> Teacher<B> for TinyNet<B> {
        fn upscale(&self, lr: Tensor<B, 4>) -> Tensor<B, 4> {
            let [n, c, h, w] = lr.dims();
            lr.reshape([n, c, h, 1, w, 1])
                .repeat_dim(3, 2)
                .repeat_dim(5, 2)
                .reshape([n, c, 2 * h, 2 * w])
        }
        fn scale(&self) -> usize {
            2
        }
        fn fingerprint(&self) -> String {
            "nearest".into()
        }
    }

    /// Smooth random patches (sums of a few sinusoids) so features have structure.
    pub(crate) fn toy_instance(n: usize, side: usize, seed: u64) -> Instance {
        let mut rng = StdRng::seed_from_u64(seed);
        let lr = (0..n)
            .map(|_| {
                let (a, b, ph): (f32, f32, f32) = (
                    rng.random_range(0.1..0.8),
                    rng.random_range(0.1..0.8),
                    rng.random_range(0.0..6.0),
                );
                let mut data = Vec::with_capacity(3 * side * side);
                for c in 0..3 {
                    for y in 0..side {
                        for x in 0..side {
                            let v =
                                0.5 + 0.3 * ((a * x as f32 + b * y as f32 + ph + c as f32).sin());
                            data.push(v.clamp(0.0, 1.0));
                        }
                    }
                }
                Image::new(3, side, side, data).unwrap()
            })
            .collect();
        Instance {
            name: "toy".into(),
            lr,
        }
    }

    fn small_config() -> CondenseConfig {
        let mut c = CondenseConfig::default();
        c.ratio = 0.25;
        c.iters = 12;
        c.warmup = 3;
        c.assign = 4;
        c.assign_every = 2;
        c.rlff.c_out = 16;
        c.ncfd.num_freqs = 64;
        c.freq_bank = 4;
        c.groups = 3;
        c.real_chunk = 3;
        c.cf_chunk = 100;
        c
    }

    #[test]
    fn same_seed_is_bit_identical_and_report_is_complete() {
        let dev = Default::default();
        let net = TinyNet::<AB>::new(6, 1, &dev);
        let inst = toy_instance(8, 12, 2);
        let cfg = small_config();
        let cond = Condenser::new(cfg.clone(), &net, &net, dev).unwrap();
        let a = cond.condense(&inst, 5).unwrap();
        let b = cond.condense(&inst, 5).unwrap();
        assert_eq!(a.lr.len(), 2);
        assert_eq!(a.hr.len(), 2);
        assert_eq!(a.hr[0].height, 24);
        for (x, y) in a.lr.iter().zip(&b.lr) {
            assert_eq!(x.data, y.data, "same seed must give bit-identical patches");
        }
        assert_eq!(a.report.steps, b.report.steps);
        let c = cond.condense(&inst, 6).unwrap();
        assert_ne!(a.lr[0].data, c.lr[0].data, "another seed should differ");
        // Report: terms inactive during warm-up, active afterwards.
        let s = &a.report.steps;
        assert_eq!(s.len(), cfg.iters);
        assert!(
            s[..3]
                .iter()
                .all(|r| r.instance.is_some() && r.group.is_none() && r.pair.is_none())
        );
        assert!(s[3..].iter().all(|r| r.group.is_some() && r.pair.is_some()));
        assert_eq!(a.report.quotas.iter().sum::<usize>(), 2 * 3 * 3);
        assert!(
            a.lr.iter()
                .all(|im| im.data.iter().all(|v| (0.0..=1.0).contains(v)))
        );
    }

    #[test]
    fn fresh_draws_and_ablation_switches_run() {
        let dev = Default::default();
        let net = TinyNet::<AB>::new(4, 3, &dev);
        let inst = toy_instance(6, 8, 4);
        for mutate in [
            (|c: &mut CondenseConfig| c.freq_bank = 0) as fn(&mut CondenseConfig),
            |c| c.rlff.enabled = false,
            |c| c.rlff.unfold = false,
            |c| {
                c.w_pair = 0.0;
                c.init = InitMode::Noise;
            },
            |c| {
                c.w_ins = 0.0;
                c.assign = 0;
                c.init = InitMode::RealNoise;
            },
        ] {
            let mut cfg = small_config();
            cfg.iters = 6;
            mutate(&mut cfg);
            let cond = Condenser::new(cfg.clone(), &net, &net, dev).unwrap();
            let out = cond.condense(&inst, 1).unwrap();
            assert_eq!(out.lr.len(), 2);
            for r in &out.report.steps {
                assert!(r.total.is_finite());
                assert_eq!(r.instance.is_some(), cfg.w_ins > 0.0);
                assert_eq!(r.pair.is_some(), cfg.w_pair > 0.0 && r.step >= cfg.warmup);
            }
        }
    }

    #[test]
    fn rejects_invalid_inputs() {
        let dev = Default::default();
        let net = TinyNet::<AB>::new(2, 3, &dev);
        let mut cfg = small_config();
        cfg.rlff.c_out = 100; // > 2 * 2 * 9 = 36 filters
        assert!(Condenser::new(cfg, &net, &net, dev).is_err());
        let cond = Condenser::new(small_config(), &net, &net, dev).unwrap();
        let empty = Instance {
            name: "e".into(),
            lr: vec![],
        };
        assert!(cond.condense(&empty, 0).is_err());
        let tiny = toy_instance(3, 2, 0); // 2x2 maps < one 4x4 local patch
        assert!(cond.condense(&tiny, 0).is_err());
    }

    #[test]
    fn instance_ncfd_zero_for_same_set_and_lower_for_condensed() {
        let dev = Default::default();
        let net = TinyNet::<AB>::new(6, 1, &dev);
        let inst = toy_instance(8, 12, 2);
        let cfg = small_config();
        let same = crate::condense::instance_ncfd(&net, &cfg, &inst.lr, &inst.lr, 3, &dev).unwrap();
        assert!(same.abs() < 1e-5, "{same}");
        let other = toy_instance(8, 12, 99);
        let d = crate::condense::instance_ncfd(&net, &cfg, &inst.lr, &other.lr, 3, &dev).unwrap();
        assert!(d > same + 1e-3, "{d}");
    }
}
