//! Every knob of the condenser in one serde struct, validated before any algorithm runs.
//!
//! [`CondenseConfig::default`] is sized for a CPU (100 iterations, a frequency bank of 16 draws,
//! 256 frequencies); [`CondenseConfig::paper`] records the paper's scale (20k iterations, fresh
//! draws every step, T = 1024) for GPU runs. Where the paper is silent, the choice is ours and
//! each one is a field here (see the field docs).

use crate::error::{IdcError, Result};
use serde::{Deserialize, Serialize};

/// How the synthetic patches start.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InitMode {
    /// `n` distinct real patches drawn with the seed (the default: starts on the data manifold).
    Real,
    /// Uniform noise in `[0, 1]`.
    Noise,
    /// Real patches plus uniform noise in `[-init_noise, init_noise]`, clamped to `[0, 1]`
    /// (serialised `real-noise`; `real+noise` is accepted too).
    #[serde(alias = "real+noise")]
    RealNoise,
}

/// How the optimiser sees the synthetic pixels (issue #25: what keeps patches in gamut).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PixelParam {
    /// Adam on the pixels, clamped to `[0, 1]` after every step (the reference: the paper
    /// optimises pixels). Overshoots pile up at the bounds as saturated colour.
    #[default]
    Clamp,
    /// Pixels are `sigmoid(z)` and Adam moves `z`: always in gamut, and a step shrinks by
    /// `x (1 - x)` as a pixel nears 0 or 1, so saturation has to be earned by the loss.
    Sigmoid,
}

/// Learning-rate schedule over the condensation steps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LrSchedule {
    /// `lr` at every step (the reference).
    #[default]
    Constant,
    /// `lr (1 + cos(pi (t - 1) / iters)) / 2`: the last steps are small, so the patches are not
    /// left mid-oscillation (Adam's per-pixel steps are the speckle's source).
    Cosine,
}

/// Random Local Fourier Features (paper 3.3).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RlffConfig {
    /// `false`: ablation "w/o local feature": the batch-normalised extractor features are used as
    /// they are (identity 1x1 features, all `c` channels, no random channel subset).
    pub enabled: bool,
    /// Kernel size `k` of the local neighbourhood (odd; "same" zero padding keeps `h x w`).
    pub kernel: usize,
    /// Number of Fourier filters `C_out` drawn (without replacement) from the `2 c k^2` each step.
    pub c_out: usize,
    /// Local patch side `p`: feature maps are cut into `p x p` local patches (trailing rows and
    /// columns that do not fill a whole local patch are dropped).
    pub patch: usize,
    /// `true`: each of the `p^2` positions of a local patch is one NCFD sample of dimension
    /// `C_out` (the paper's unfolding). `false` (ablation): one sample per local patch of
    /// dimension `C_out p^2`.
    pub unfold: bool,
    /// Epsilon of the batch normalisation with the real instance's statistics.
    pub bn_eps: f64,
}

/// Neural Characteristic Function Discrepancy (paper eq. 2-3, NCFM's implementation).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NcfdConfig {
    /// Frequencies `T` per step (t ~ N(0, sigma^2 I)).
    pub num_freqs: usize,
    /// Standard deviation of the frequencies.
    pub sigma: f64,
    /// Amplitude weight alpha (phase weight `1 - alpha`).
    pub alpha: f64,
    /// L2-normalise every sample before the characteristic function (NCFM does; default `true`:
    /// without it the Fourier features have a scale of ~sqrt(c k^2) and every CF is ~0).
    pub l2_normalize: bool,
}

/// All settings of one condensation run (Algorithm 1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CondenseConfig {
    /// Condensation ratio `r` in (0, 1]: `n = max(1, ceil(r N))` synthetic patches per instance.
    pub ratio: f64,
    /// Optimisation steps per instance.
    pub iters: usize,
    /// Adam learning rate on the pixels.
    pub lr: f64,
    /// Adam beta1.
    pub beta1: f64,
    /// Adam beta2.
    pub beta2: f64,
    /// Adam epsilon.
    pub adam_eps: f64,
    /// Initialisation of the synthetic patches.
    pub init: InitMode,
    /// Noise amplitude of [`InitMode::RealNoise`].
    pub init_noise: f64,
    /// Parametrisation of the pixels (left out of the JSON when `clamp`, so configs and cache
    /// keys written before it existed are unchanged).
    #[serde(default, skip_serializing_if = "is_default")]
    pub param: PixelParam,
    /// Learning-rate schedule (left out of the JSON when `constant`).
    #[serde(default, skip_serializing_if = "is_default")]
    pub lr_schedule: LrSchedule,
    /// Scale of Adam's step on the chroma of each pixel (its deviation from the pixel's RGB
    /// mean), luma keeping `lr`: below 1 the optimiser moves brightness more than colour, which
    /// the false-colour speckle is made of. `1` (left out of the JSON) is the reference.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub chroma_lr: f64,
    /// Share of Adam's step replaced by its `[1 2 1]/4` blur (0 to 1): the blur has no response
    /// at the two-pixel period, so at 1 the steps cannot paint the Nyquist-period checkers the
    /// instance term otherwise leaves on flat areas. `0` (left out of the JSON) is the paper's
    /// step.
    #[serde(default, skip_serializing_if = "is_default")]
    pub step_lowpass: f64,
    /// Random Local Fourier Features (local feature extraction) settings.
    pub rlff: RlffConfig,
    /// NCFD loss settings (frequencies and their scale).
    pub ncfd: NcfdConfig,
    /// Number of groups `M` of the k-means (fewer when there are fewer real local patches).
    pub groups: usize,
    /// Lloyd iterations of the k-means (k-means++ init, seeded).
    pub kmeans_iters: usize,
    /// Steps with `w_ins L_ins` only (Algorithm 1 "warm up").
    pub warmup: usize,
    /// Length of the assigning phase after the warm-up: the group and pair weights ramp linearly
    /// from `1/assign` to 1 and the group assignment (and pairing) is refreshed every
    /// `assign_every` steps; afterwards both stay fixed. `0`: the full loss right after warm-up.
    pub assign: usize,
    /// Refresh period of the assignment during the assigning phase.
    pub assign_every: usize,
    /// Weight of the instance loss.
    pub w_ins: f64,
    /// Weight of the group loss.
    pub w_group: f64,
    /// Weight of the pair loss.
    pub w_pair: f64,
    /// Frequency bank size `B`: `0` draws a fresh channel subset and fresh frequencies every step
    /// (the paper); `B > 0` draws `B` (subset, frequencies) pairs once per instance, precomputes
    /// their real-side characteristic functions and cycles through them (step `j` uses `j mod B`).
    pub freq_bank: usize,
    /// Real patches per extractor call when computing the real features (bounds memory).
    pub real_chunk: usize,
    /// Real samples per chunk in the characteristic-function pass (bounds the `samples x T`
    /// intermediate).
    pub cf_chunk: usize,
    /// Synthetic patches per teacher call.
    pub teacher_chunk: usize,
    /// Number of (subset, frequency) draws averaged by [`crate::condense::instance_ncfd`].
    pub eval_draws: usize,
}

impl Default for CondenseConfig {
    /// CPU-friendly defaults, chosen from the realism measures (issue #25,
    /// `docs/results/realism-sweep/`): [`Self::reference`] with sigmoid pixels
    /// ([`PixelParam::Sigmoid`]: always in gamut) and a quarter of the step on chroma
    /// (`chroma_lr` 0.25: the false colour of the clamped reference is mostly gone), constant
    /// learning rate 0.01, 100 iterations.
    fn default() -> Self {
        Self {
            param: PixelParam::Sigmoid,
            lr_schedule: LrSchedule::Constant,
            chroma_lr: 0.25,
            lr: 0.01,
            ..Self::reference()
        }
    }
}

impl CondenseConfig {
    /// The defaults before issue #25 (pixels clamped after every Adam step, constant lr 1e-2):
    /// the paper's pixel optimisation, kept by the presets whose committed results used it
    /// (`cpu`, `gpu`, `paper`) and as the sweep's reference. r = 0.1, 100 iterations (20
    /// warm-up, 30 assigning, refresh every 10), Adam lr 1e-2, real init, RLFF k = 3 / C_out = 64
    /// / p = 4 with unfolding, T = 256, sigma 1, alpha 0.5, L2-normalised samples, M = 4, all
    /// weights 1, a bank of B = 16 draws.
    pub fn reference() -> Self {
        Self {
            ratio: 0.1,
            iters: 100,
            lr: 1e-2,
            beta1: 0.9,
            beta2: 0.999,
            adam_eps: 1e-8,
            init: InitMode::Real,
            init_noise: 0.1,
            param: PixelParam::Clamp,
            lr_schedule: LrSchedule::Constant,
            chroma_lr: 1.0,
            step_lowpass: 0.0,
            rlff: RlffConfig {
                enabled: true,
                kernel: 3,
                c_out: 64,
                patch: 4,
                unfold: true,
                bn_eps: 1e-5,
            },
            ncfd: NcfdConfig {
                num_freqs: 256,
                sigma: 1.0,
                alpha: 0.5,
                l2_normalize: true,
            },
            groups: 4,
            kmeans_iters: 20,
            warmup: 20,
            assign: 30,
            assign_every: 10,
            w_ins: 1.0,
            w_group: 1.0,
            w_pair: 1.0,
            freq_bank: 16,
            real_chunk: 8,
            cf_chunk: 16384,
            teacher_chunk: 8,
            eval_draws: 8,
        }
    }
}

/// A [`CondenseConfig`] that passed [`CondenseConfig::check`]: the only form
/// [`crate::condense::Condenser`] (and through it every condensing path) accepts, so an invalid
/// config cannot reach Algorithm 1 and nothing downstream checks it again (linfa's
/// `ParamGuard`). Read it through `Deref`; change it only by going back through
/// [`ValidCondenseConfig::into_inner`] and [`CondenseConfig::check`].
///
/// ```compile_fail
/// // An unchecked config does not compile where a checked one is asked for.
/// use burn::tensor::backend::AutodiffBackend;
/// use burn_idc::{CondenseConfig, Condenser};
/// use burn_idc::{FeatureExtractor, Teacher};
/// fn build<B: AutodiffBackend, E: FeatureExtractor<B>, T: Teacher<B>>(e: E, t: T, d: B::Device) {
///     let _ = Condenser::<B, E, T>::new(CondenseConfig::default(), e, t, d);
/// }
/// ```
/// The same code with `.check()` compiles:
/// ```
/// use burn::tensor::backend::AutodiffBackend;
/// use burn_idc::{CondenseConfig, Condenser};
/// use burn_idc::{FeatureExtractor, Teacher};
/// fn build<B: AutodiffBackend, E: FeatureExtractor<B>, T: Teacher<B>>(
///     e: E,
///     t: T,
///     d: B::Device,
/// ) -> burn_idc::Result<()> {
///     let _ = Condenser::<B, E, T>::new(CondenseConfig::default().check()?, e, t, d)?;
///     Ok(())
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(transparent)]
pub struct ValidCondenseConfig(CondenseConfig);

impl ValidCondenseConfig {
    /// The checked config, to change and check again.
    pub fn into_inner(self) -> CondenseConfig {
        self.0
    }
}

impl Default for ValidCondenseConfig {
    /// [`CondenseConfig::default`], which is valid (tested).
    fn default() -> Self {
        ValidCondenseConfig(CondenseConfig::default())
    }
}

impl std::ops::Deref for ValidCondenseConfig {
    type Target = CondenseConfig;
    fn deref(&self) -> &CondenseConfig {
        &self.0
    }
}

impl<'de> Deserialize<'de> for ValidCondenseConfig {
    /// A config file is checked as it is read.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        CondenseConfig::deserialize(d)?
            .check()
            .map_err(serde::de::Error::custom)
    }
}

impl CondenseConfig {
    /// Checks every field ([`Self::validate`]) once and returns the proof.
    pub fn check(self) -> Result<ValidCondenseConfig> {
        self.validate()?;
        Ok(ValidCondenseConfig(self))
    }

    /// This config with the fields of the JSON object `over` merged in (nested objects key by
    /// key), as a config file is read: fields left out keep this config's values, unknown fields
    /// are errors. Not checked.
    pub fn with_json(&self, over: serde_json::Value) -> Result<CondenseConfig> {
        let mut json =
            serde_json::to_value(self).map_err(|e| IdcError::config("config", e.to_string()))?;
        merge_json(&mut json, over);
        serde_json::from_value(json).map_err(|e| IdcError::config("config", e.to_string()))
    }

    /// The paper's scale (section 4): 20k iterations, r = 0.1, T = 1024, fresh draws every step
    /// (B = 0). Warm-up 5k and assigning 5k (refresh every 500) are our choice; the paper gives
    /// them only in its supplementary material.
    pub fn paper() -> Self {
        let mut c = Self {
            iters: 20_000,
            warmup: 5_000,
            assign: 5_000,
            assign_every: 500,
            freq_bank: 0,
            ..Self::reference()
        };
        c.ncfd.num_freqs = 1024;
        c
    }

    /// Number of synthetic patches for `n_real` real ones: `max(1, ceil(r N))`, at most `N`.
    pub fn synthetic_count(&self, n_real: usize) -> usize {
        crate::config::reduced_count(n_real.max(1), self.ratio)
    }

    /// Cross-field check for configs a user writes: warm-up and assigning phases must fit in
    /// `iters` (`warmup + assign <= iters`), else the group and pair losses never reach full
    /// weight and the run silently condenses with a different loss than asked for. Not part of
    /// [`Self::validate`] because short test and smoke runs cut the schedule on purpose.
    pub fn validate_schedule(&self) -> Result<()> {
        let phases = self.warmup.saturating_add(self.assign);
        if phases > self.iters {
            return Err(IdcError::config(
                "warmup",
                format!(
                    "warmup ({}) + assign ({}) = {phases} exceeds iters ({}): the group and \
                     pair losses would never reach full weight",
                    self.warmup, self.assign, self.iters
                ),
            ));
        }
        Ok(())
    }

    /// Checks every field; [`Self::check`] runs it (call `check` to get a config a
    /// [`crate::condense::Condenser`] accepts). The first bad field (in declaration order of
    /// the checks below) is the one reported.
    pub fn validate(&self) -> Result<()> {
        self.validate_optimiser()?;
        self.validate_features()?;
        self.validate_losses()
    }

    /// Ratio, iterations, Adam and the synthetic-init and chroma fields.
    fn validate_optimiser(&self) -> Result<()> {
        if !(self.ratio.is_finite() && self.ratio > 0.0 && self.ratio <= 1.0) {
            return bad("ratio", "must be in (0, 1]");
        }
        if self.iters == 0 {
            return bad("iters", "must be positive");
        }
        if !finite_pos(self.lr) {
            return bad("lr", "must be a positive finite number");
        }
        if !(0.0..1.0).contains(&self.beta1) {
            return bad("beta1", "must be in [0, 1)");
        }
        if !(0.0..1.0).contains(&self.beta2) {
            return bad("beta2", "must be in [0, 1)");
        }
        if !finite_pos(self.adam_eps) {
            return bad("adam_eps", "must be positive");
        }
        if !(self.init_noise.is_finite() && (0.0..=1.0).contains(&self.init_noise)) {
            return bad("init_noise", "must be in [0, 1]");
        }
        if !(self.chroma_lr.is_finite() && (0.0..=1.0).contains(&self.chroma_lr)) {
            return bad("chroma_lr", "must be in [0, 1]");
        }
        if !(self.step_lowpass.is_finite() && (0.0..=1.0).contains(&self.step_lowpass)) {
            return bad("step_lowpass", "must be in [0, 1]");
        }
        Ok(())
    }

    /// The feature path: RLFF (`c_out` only when enabled) and NCFD.
    fn validate_features(&self) -> Result<()> {
        let r = &self.rlff;
        if r.kernel == 0 || r.kernel.is_multiple_of(2) {
            return bad("rlff.kernel", "must be odd and positive");
        }
        if r.patch == 0 {
            return bad("rlff.patch", "must be positive");
        }
        if r.enabled && r.c_out == 0 {
            return bad("rlff.c_out", "must be positive");
        }
        if !finite_pos(r.bn_eps) {
            return bad("rlff.bn_eps", "must be positive");
        }
        let n = &self.ncfd;
        if n.num_freqs == 0 {
            return bad("ncfd.num_freqs", "must be positive");
        }
        if !finite_pos(n.sigma) {
            return bad("ncfd.sigma", "must be positive");
        }
        if !(0.0..=1.0).contains(&n.alpha) {
            return bad("ncfd.alpha", "must be in [0, 1]");
        }
        Ok(())
    }

    /// Grouping, loss weights (at least one positive), chunk sizes and evaluation draws.
    fn validate_losses(&self) -> Result<()> {
        if self.groups == 0 {
            return bad("groups", "must be positive");
        }
        if self.assign > 0 && self.assign_every == 0 {
            return bad("assign_every", "must be positive");
        }
        for (f, w) in [
            ("w_ins", self.w_ins),
            ("w_group", self.w_group),
            ("w_pair", self.w_pair),
        ] {
            if !(w.is_finite() && w >= 0.0) {
                return bad(f, "must be finite and >= 0");
            }
        }
        if self.w_ins == 0.0 && self.w_group == 0.0 && self.w_pair == 0.0 {
            return bad("w_ins", "at least one loss weight must be positive");
        }
        for (field, chunk) in [
            ("real_chunk", self.real_chunk),
            ("cf_chunk", self.cf_chunk),
            ("teacher_chunk", self.teacher_chunk),
        ] {
            if chunk == 0 {
                return bad(field, "chunk sizes must be positive");
            }
        }
        if self.eval_draws == 0 {
            return bad("eval_draws", "must be positive");
        }
        Ok(())
    }

    /// The learning rate of step `t` (1-based) under [`Self::lr_schedule`].
    pub fn lr_at(&self, t: usize) -> f64 {
        match self.lr_schedule {
            LrSchedule::Constant => self.lr,
            LrSchedule::Cosine => {
                let progress = t.saturating_sub(1) as f64 / self.iters.max(1) as f64;
                self.lr * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos())
            }
        }
    }

    /// Channels `c_out` of the feature the losses see for an extractor with `c` channels.
    pub fn feature_dim(&self, c: usize) -> usize {
        if self.rlff.enabled {
            self.rlff.c_out
        } else {
            c
        }
    }
}

/// Merges `over` into `base`: objects key by key (recursively), anything else replaced.
fn merge_json(base: &mut serde_json::Value, over: serde_json::Value) {
    match (base, over) {
        (serde_json::Value::Object(b), serde_json::Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(slot) => merge_json(slot, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

/// `skip_serializing_if` for fields left out of the JSON at their default (so adding one keeps
/// older cache keys).
pub(crate) fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

fn one() -> f64 {
    1.0
}

fn is_one(v: &f64) -> bool {
    *v == 1.0
}

/// The config error for `field` (the return value of a failed check).
fn bad(field: &str, reason: &str) -> Result<()> {
    Err(IdcError::config(field, reason))
}

/// Positive and finite.
fn finite_pos(v: f64) -> bool {
    v.is_finite() && v > 0.0
}

#[cfg(test)]
mod tests;
