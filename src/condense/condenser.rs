//! Algorithm 1: condense one instance (the LR patches of one image) into `n` synthetic LR
//! patches with Adam on the pixels, then up-sample them with the teacher.
//!
//! One run ([`Condenser::condense_with`]) has four phases, each a method of the private
//! `CondenseRun` holding one instance's state:
//! 1. real side, once per instance (`real::RealSide`): features in chunks of
//!    `real_chunk`, batch-norm statistics, k-means groups and quotas, pairing space and, with
//!    `freq_bank = B > 0`, the real characteristic functions of `B` (channel subset, frequency)
//!    draws, so a step touches no real sample except the paired windows of the pair loss
//!    (`n_syn_local` windows of `(p + k - 1)^2` pixels). With `B = 0` (the paper) every step
//!    recomputes the real RLFF and its characteristic functions;
//! 2. synthetic init (stream 1 of the seed);
//! 3. steps: only the synthetic batch goes through the extractor (forward and backward); the
//!    schedule ([`super::schedule`]) picks warm-up / assigning / full, and the losses come from
//!    `matching::MultiLevel` as a function of the real side and the synthetic features;
//! 4. teacher HR targets, the realism measures ([`super::realism`]: synthetic against the
//!    instance's real patches, fresh NCFD draws) and the report.

use super::common::{ToF64, check_images, median};
use super::config::ValidCondenseConfig;
use super::matching::MultiLevel;
pub use super::matching::StepLoss;
use super::pixels::SyntheticPatches;
use super::real::{Inner, RealContext, RealSide};
use super::realism::Realism;
use super::rlff::FilterBank;
use super::schedule;
use crate::error::{IdcError, Result};
use crate::image::{Image, batch_to_images, images_to_batch};
use crate::models::{FeatureExtractor, Teacher};
use burn::tensor::{Tensor, backend::AutodiffBackend};
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// One instance: the `N` real LR patches of one HR image (all the same size).
#[derive(Clone, Debug)]
pub struct Instance {
    /// Instance name (the source image's name; used in reports).
    pub name: String,
    /// The real LR patches, all the same size.
    pub lr: Vec<Image>,
}

/// Result of condensing one instance: `n` synthetic LR patches, their teacher HR targets
/// (clamped to `[0, 1]`) and the run's report.
#[derive(Clone, Debug)]
pub struct CondensedInstance {
    /// The `n` synthetic LR patches.
    pub lr: Vec<Image>,
    /// Teacher HR targets of `lr`, in the same order, clamped to `[0, 1]`.
    pub hr: Vec<Image>,
    /// What the run did (sizes, grouping, losses, timings).
    pub report: CondenseReport,
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
    /// Realism measures (pixel statistics and the fresh-draw NCFD).
    #[serde(default)]
    pub realism_s: f64,
    /// Whole `condense` call.
    pub total_s: f64,
}

/// What a run did: sizes, grouping, per-step losses and timings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CondenseReport {
    /// Instance name.
    pub name: String,
    /// Seed the run was condensed with.
    pub seed: u64,
    /// Real LR patches `N` of the instance.
    pub n_real: usize,
    /// Synthetic patches `n` produced.
    pub n_synthetic: usize,
    /// Real local patches `N'`.
    pub real_local_patches: usize,
    /// Real local patches per group (k-means).
    pub group_sizes: Vec<usize>,
    /// Synthetic local patches per group (largest-remainder quotas).
    pub quotas: Vec<usize>,
    /// Losses of every step, in order.
    pub steps: Vec<StepLoss>,
    /// Wall-clock timings.
    pub timings: CondenseTimings,
    /// The synthetic patches against the instance's real ones ([`super::realism`]); None in
    /// reports written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realism: Option<Realism>,
}

/// Instances to condense together by default ([`Condenser::condense_batch`]): 1 on the CPU
/// (`benches/condense_throughput`: with an EDSR 64x16 extractor, batching there costs 5-10% per
/// instance, a larger working set for the same linear work), 16 with CUDA (one instance's few
/// synthetic patches leave a GPU mostly idle).
pub fn default_batch_instances() -> usize {
    if cfg!(feature = "cuda") { 16 } else { 1 }
}

/// Condenses instances with a fixed extractor, teacher and config. The models are held by
/// value: pass `&model` to borrow a caller's, or `Arc<model>` to share one (models implement
/// their roles through both), so a long-lived owner can keep the condenser it built.
pub struct Condenser<B: AutodiffBackend, E: FeatureExtractor<B>, T: Teacher<B>> {
    config: ValidCondenseConfig,
    extractor: E,
    teacher: T,
    device: B::Device,
    bank: Option<FilterBank>,
}

impl<B: AutodiffBackend, E: FeatureExtractor<B>, T: Teacher<B>> Condenser<B, E, T> {
    /// Checks the (already checked) `config` against the extractor (`C_out <= 2 c k^2`) and
    /// builds the Fourier filter bank once.
    pub fn new(
        config: ValidCondenseConfig,
        extractor: E,
        teacher: T,
        device: B::Device,
    ) -> Result<Self> {
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

    /// The checked config.
    pub fn config(&self) -> &ValidCondenseConfig {
        &self.config
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
        self.condense_batch_with(&[(instance, seed)], &mut |_, rec| on_step(rec))
            .pop()
            .unwrap_or_else(|| Err(IdcError::Internal("empty batch result".into())))
    }

    /// Condenses the `(instance, seed)` jobs together: one extractor forward and backward per
    /// step over all their synthetic patches (a GPU is busy only with many patches at once),
    /// everything else per instance, so each result equals [`Condenser::condense`] of that job
    /// up to float reassociation. Instances must share the LR patch size; one failing instance
    /// (bad input, non-finite loss) leaves the others running.
    pub fn condense_batch(&self, jobs: &[(&Instance, u64)]) -> Vec<Result<CondensedInstance>> {
        self.condense_batch_with(jobs, &mut |_, _| {})
    }

    /// [`Condenser::condense_batch`] calling `on_step(job index, step)` after every step.
    pub fn condense_batch_with(
        &self,
        jobs: &[(&Instance, u64)],
        on_step: &mut dyn FnMut(usize, &StepLoss),
    ) -> Vec<Result<CondensedInstance>> {
        let t_start = Instant::now();
        let mut runs: Vec<Result<CondenseRun<'_, B>>> = jobs
            .iter()
            .map(|&(instance, seed)| {
                let _autodiff = crate::device::autodiff_section();
                CondenseRun::prepare(self.real_context(), &self.extractor, instance, seed)
            })
            .collect();
        check_same_patch_size(&mut runs);
        let t_steps = Instant::now();
        for j in 0..self.config.iters {
            step_batch(&mut runs, &self.extractor, j, on_step);
        }
        let steps_s = t_steps.elapsed().as_secs_f64();
        let t_teacher = Instant::now();
        let labelled = {
            let _autodiff = crate::device::autodiff_section();
            self.label_batch(&runs)
        };
        let teacher_s = t_teacher.elapsed().as_secs_f64();
        let mut labelled = match labelled {
            Ok(l) => l.into_iter(),
            Err(e) => {
                let live = runs.iter().filter(|r| r.is_ok()).count();
                let mut errors = spread_error(e, live).into_iter();
                return runs
                    .into_iter()
                    .map(|r| {
                        Err(r
                            .err()
                            .or_else(|| errors.next())
                            .unwrap_or_else(|| IdcError::Internal("teacher failed".into())))
                    })
                    .collect();
            }
        };
        runs.into_iter()
            .zip(jobs)
            .map(|(run, &(instance, _))| {
                let run = run?;
                let (lr, hr) = labelled.next().unwrap_or_default();
                let t_realism = Instant::now();
                let realism = self.realism(&run, &instance.lr, &lr)?;
                let realism_s = t_realism.elapsed().as_secs_f64();
                let times = (steps_s, teacher_s, realism_s);
                Ok(run.finish_report(lr, hr, realism, times, t_start))
            })
            .collect()
    }

    /// The realism of `run`'s final synthetic patches `lr` against the instance's real patches
    /// `real` (its values before the last clamp for the out-of-gamut fraction).
    fn realism(&self, run: &CondenseRun<'_, B>, real: &[Image], lr: &[Image]) -> Result<Realism> {
        let _autodiff = crate::device::autodiff_section();
        let unclipped = match &run.syn.unclipped {
            Some(x) => Some(batch_to_images::<Inner<B>>(x.clone())?),
            None => None,
        };
        Realism::measure(
            &self.extractor,
            &self.config,
            lr,
            unclipped.as_deref(),
            real,
            run.seed,
            &self.device,
        )
    }

    /// Teacher targets for every live run's synthetic patches, in one batch (chunked by
    /// `teacher_chunk`), split back per run.
    fn label_batch(&self, runs: &[Result<CondenseRun<'_, B>>]) -> Result<Vec<LabelledPatches>> {
        let live: Vec<&CondenseRun<'_, B>> = runs.iter().filter_map(|r| r.as_ref().ok()).collect();
        if live.is_empty() {
            return Ok(Vec::new());
        }
        let x = Tensor::cat(live.iter().map(|r| r.syn.x.clone()).collect(), 0);
        let (mut lr, mut hr) = self.label_with_teacher(x)?;
        let mut out = Vec::with_capacity(live.len());
        for r in live.iter().rev() {
            let n = r.syn.count();
            out.push((lr.split_off(lr.len() - n), hr.split_off(hr.len() - n)));
        }
        out.reverse();
        Ok(out)
    }

    fn real_context(&self) -> RealContext<'_, B> {
        RealContext {
            config: &self.config,
            filter_bank: self.bank.as_ref(),
            device: &self.device,
        }
    }

    /// Synthetic LR patches `x` as images and their teacher HR targets, clamped to `[0, 1]`.
    fn label_with_teacher(&self, x: Tensor<Inner<B>, 4>) -> Result<(Vec<Image>, Vec<Image>)> {
        let lr = batch_to_images::<Inner<B>>(x)?;
        let mut hr = Vec::with_capacity(lr.len());
        for chunk in lr.chunks(self.config.teacher_chunk) {
            let b = images_to_batch::<B>(chunk, &self.device)?;
            let up = self.teacher.upscale(b.detach()).clamp(0.0, 1.0);
            hr.extend(batch_to_images::<Inner<B>>(up.inner())?);
        }
        Ok((lr, hr))
    }
}

/// One run's synthetic LR patches and their teacher HR targets.
type LabelledPatches = (Vec<Image>, Vec<Image>);

/// `e` for each of `n` runs sharing a failure: the first gets `e` itself (a batch of one keeps
/// its error's kind), the others its message.
fn spread_error(e: IdcError, n: usize) -> Vec<IdcError> {
    let rest: Vec<IdcError> = (1..n).map(|_| IdcError::Model(e.to_string())).collect();
    std::iter::once(e).chain(rest).take(n.max(1)).collect()
}

/// Fails the runs whose LR patch size differs from the first live run's (they cannot share
/// one extractor batch).
fn check_same_patch_size<B: AutodiffBackend>(runs: &mut [Result<CondenseRun<'_, B>>]) {
    let mut first: Option<[usize; 3]> = None;
    for run in runs.iter_mut() {
        let Ok(r) = run else { continue };
        let [_, c, h, w] = r.syn.x.dims();
        match first {
            None => first = Some([c, h, w]),
            Some(d) if d != [c, h, w] => {
                *run = Err(IdcError::InvalidInput(format!(
                    "batched instance {}: LR patches {c}x{h}x{w}, the batch's are {}x{}x{}",
                    r.name, d[0], d[1], d[2]
                )));
            }
            Some(_) => {}
        }
    }
}

/// Step `j` of every live run: one extractor forward over the concatenated synthetic patches,
/// per-run losses on their slice of the features, one backward of the sum, per-run Adam. A run
/// whose step fails becomes its error; the others go on.
fn step_batch<B: AutodiffBackend, E: FeatureExtractor<B>>(
    runs: &mut [Result<CondenseRun<'_, B>>],
    extractor: &E,
    j: usize,
    on_step: &mut dyn FnMut(usize, &StepLoss),
) {
    let _autodiff = crate::device::autodiff_section();
    let started = Instant::now();
    let live: Vec<usize> = (0..runs.len()).filter(|&i| runs[i].is_ok()).collect();
    let Some(batch) = SyntheticBatch::new(runs, &live) else {
        return;
    };
    let feats = extractor.features(batch.leaf.clone());
    let mut losses = Vec::new();
    let mut recs = Vec::new();
    for (k, &i) in live.iter().enumerate() {
        let Ok(run) = &mut runs[i] else { continue };
        match run.step_loss(batch.part(&feats, k), j) {
            Ok((loss, rec)) => {
                if let Some(l) = loss {
                    losses.push((k, l));
                }
                recs.push((i, rec));
            }
            Err(e) => runs[i] = Err(e),
        }
    }
    if let Err(e) = batch.update(runs, &live, losses, j) {
        for (i, e) in live.iter().zip(spread_error(e, live.len())) {
            runs[*i] = Err(e);
        }
        return;
    }
    for (i, rec) in recs {
        if let Ok(run) = &mut runs[i] {
            on_step(i, &rec);
            run.record(rec, started);
        }
    }
}

/// The live runs' synthetic patches concatenated along the batch axis as one autodiff leaf.
struct SyntheticBatch<B: AutodiffBackend> {
    leaf: Tensor<B, 4>,
    /// `(offset, count)` of each live run's patches in the batch.
    spans: Vec<(usize, usize)>,
}

impl<B: AutodiffBackend> SyntheticBatch<B> {
    /// None when no run is live.
    fn new(runs: &[Result<CondenseRun<'_, B>>], live: &[usize]) -> Option<Self> {
        let xs: Vec<Tensor<Inner<B>, 4>> = live
            .iter()
            .filter_map(|&i| runs[i].as_ref().ok().map(|r| r.syn.x.clone()))
            .collect();
        let mut spans = Vec::with_capacity(xs.len());
        let mut offset = 0;
        for x in &xs {
            let n = x.dims()[0];
            spans.push((offset, n));
            offset += n;
        }
        // One run: no concatenation, so a single condense is exactly the unbatched one.
        let x = match xs.len() {
            0 => return None,
            1 => xs.into_iter().next()?,
            _ => Tensor::cat(xs, 0),
        };
        Some(Self {
            leaf: Tensor::<B, 4>::from_inner(x).require_grad(),
            spans,
        })
    }

    /// Live run `k`'s part of a batch tensor (the whole tensor for a batch of one).
    fn part<BB: burn::tensor::backend::Backend, const D: usize>(
        &self,
        t: &Tensor<BB, D>,
        k: usize,
    ) -> Tensor<BB, D> {
        let (offset, n) = self.spans[k];
        if self.spans.len() == 1 {
            t.clone()
        } else {
            t.clone().narrow(0, offset, n)
        }
    }

    /// Backward of the sum of `losses` (live run index, loss), then Adam for each run that had
    /// a loss. The sum's gradient on run `k`'s pixels is its own loss's gradient.
    fn update(
        &self,
        runs: &mut [Result<CondenseRun<'_, B>>],
        live: &[usize],
        losses: Vec<(usize, Tensor<B, 1>)>,
        j: usize,
    ) -> Result<()> {
        let Some(total) = losses.iter().map(|(_, l)| l.clone()).reduce(|a, b| a + b) else {
            return Ok(());
        };
        let grads = total.backward();
        let g = self
            .leaf
            .grad(&grads)
            .ok_or_else(|| IdcError::Model("no gradient reached the synthetic pixels".into()))?;
        for (k, _) in losses {
            if let Ok(run) = &mut runs[live[k]] {
                let cfg = run.real.config();
                run.syn.adam_step(self.part(&g, k), (j + 1) as i32, cfg);
            }
        }
        Ok(())
    }
}

/// One instance's condensation state: its real side, synthetic patches with Adam moments, the
/// multi-level matching state and the per-step record. A batch holds one per instance and
/// shares the extractor pass over their synthetic patches.
struct CondenseRun<'a, B: AutodiffBackend> {
    name: String,
    seed: u64,
    n_real: usize,
    real: RealSide<'a, B>,
    syn: SyntheticPatches<B>,
    matching: MultiLevel<B>,
    steps: Vec<StepLoss>,
    step_ms: Vec<f64>,
}

impl<'a, B: AutodiffBackend> CondenseRun<'a, B> {
    /// Phases 1-2: checks the instance, builds its real side, then initialises the synthetic
    /// patches.
    fn prepare<E: FeatureExtractor<B>>(
        ctx: RealContext<'a, B>,
        extractor: &E,
        instance: &Instance,
        seed: u64,
    ) -> Result<Self> {
        check_images(&instance.lr, "instance")?;
        let n_real = instance.lr.len();
        let n_syn = ctx.config.synthetic_count(n_real);
        let real = RealSide::prepare(ctx, extractor, &instance.lr, n_syn, seed)?;
        let syn = SyntheticPatches::init(ctx.config, &instance.lr, n_syn, seed, ctx.device)?;
        let matching = MultiLevel::new(real.bank_len());
        Ok(Self {
            name: instance.name.clone(),
            seed,
            n_real,
            real,
            syn,
            matching,
            steps: Vec::with_capacity(ctx.config.iters),
            step_ms: Vec::with_capacity(ctx.config.iters),
        })
    }

    /// Phase 3, step `j` given this run's synthetic features `feats` (their part of the batch
    /// forward): draw, losses and the record. A non-finite loss is the run's error (it is then
    /// left out of the backward).
    fn step_loss(
        &mut self,
        feats: Tensor<B, 4>,
        j: usize,
    ) -> Result<(Option<Tensor<B, 1>>, StepLoss)> {
        let cfg = self.real.config();
        let plan = schedule::plan(cfg, j);
        let fresh = self.real.fresh_draw()?;
        let (dd, slot) = match &fresh {
            Some(d) => (d, None),
            None => self.real.bank_entry(j),
        };
        let bn = self.real.stats.apply(feats);
        let (loss, mut rec) = self
            .matching
            .step_loss(&self.real, dd, slot, &plan, bn, j)?;
        if let Some(loss) = &loss {
            rec.total = loss.clone().into_scalar().to_f64_lossy();
        }
        if !rec.total.is_finite() {
            return Err(IdcError::Model(format!(
                "{}: non-finite loss at step {j}",
                self.name
            )));
        }
        Ok((loss, rec))
    }

    /// Keeps step `rec`, started at `started`.
    fn record(&mut self, rec: StepLoss, started: Instant) {
        self.steps.push(rec);
        self.step_ms.push(started.elapsed().as_secs_f64() * 1e3);
    }

    /// Phase 4: the condensed instance with its report; `times` are all steps', the teacher's
    /// and this run's realism's seconds.
    fn finish_report(
        mut self,
        lr: Vec<Image>,
        hr: Vec<Image>,
        realism: Realism,
        times: (f64, f64, f64),
        started: Instant,
    ) -> CondensedInstance {
        let (steps_s, teacher_s, realism_s) = times;
        let report = CondenseReport {
            name: self.name,
            seed: self.seed,
            n_real: self.n_real,
            n_synthetic: lr.len(),
            real_local_patches: self.real.local_patches,
            group_sizes: self.real.sizes.clone(),
            quotas: self.real.quotas.clone(),
            steps: self.steps,
            timings: CondenseTimings {
                real_features_s: self.real.features_s,
                setup_s: self.real.setup_s,
                step_ms_median: median(&mut self.step_ms),
                steps_s,
                teacher_s,
                realism_s,
                total_s: started.elapsed().as_secs_f64(),
            },
            realism: Some(realism),
        };
        CondensedInstance { lr, hr, report }
    }
}

#[cfg(test)]
pub(crate) mod tests;
