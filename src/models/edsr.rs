//! EDSR as in BasicSR 1.4.2 `basicsr/archs/edsr_arch.py`, as a Burn module.
//!
//! Layout (and parameter names, so BasicSR `.pth` files map one to one):
//! `conv_first` -> `body.{i}.conv1/conv2` (ReLU between, residual scaled by `res_scale`) ->
//! `conv_after_body` + long skip -> `upsample` (pixel-shuffle stages: x2/x4 `log2(s)` times
//! conv(4 feat) + shuffle(2); x3 one conv(9 feat) + shuffle(3)) -> `conv_last`. Inputs are in
//! `[0, 1]`; the mean shift `(x - rgb_mean) * img_range` and its inverse wrap the network, exactly
//! as BasicSR does. BasicSR names the up-sampler convs `upsample.0`, `upsample.2` (the shuffles sit
//! at the odd indices); here they are `upsample.0`, `upsample.1` and the `.pth` importer renumbers.

use crate::error::{IdcError, Result};
use crate::models::{FeatureExtractor, Teacher, conv};
use burn::module::{Module, Param};
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Tensor, TensorData, backend::Backend};
use rand::{Rng, SeedableRng, rngs::StdRng};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// DIV2K RGB mean used by BasicSR (and the original EDSR).
pub const DIV2K_RGB_MEAN: [f32; 3] = [0.4488, 0.4371, 0.4040];

/// EDSR hyper-parameters, with BasicSR's argument names.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EdsrConfig {
    /// Input channels (3 for RGB).
    pub num_in_ch: usize,
    /// Output channels (3 for RGB).
    pub num_out_ch: usize,
    /// Feature channels of the body.
    pub num_feat: usize,
    /// Residual blocks in the body.
    pub num_block: usize,
    /// Up-sampling factor: 2, 3 or 4 (BasicSR also allows 8, 16...: any power of two).
    pub upscale: usize,
    /// Scale of each block's residual branch (BasicSR default 1).
    pub res_scale: f32,
    /// Factor applied after subtracting `rgb_mean` (BasicSR: 255, so the network sees 0..255).
    pub img_range: f32,
    /// RGB mean subtracted from the `[0, 1]` input before the network (DIV2K by default).
    pub rgb_mean: [f32; 3],
}

impl EdsrConfig {
    /// EDSR with `num_feat` features, `num_block` blocks, factor `upscale`, BasicSR defaults
    /// otherwise (res_scale 1, img_range 255, DIV2K mean).
    pub fn new(num_feat: usize, num_block: usize, upscale: usize) -> Self {
        Self {
            num_in_ch: 3,
            num_out_ch: 3,
            num_feat,
            num_block,
            upscale,
            res_scale: 1.0,
            img_range: 255.0,
            rgb_mean: DIV2K_RGB_MEAN,
        }
    }

    /// Parses an architecture name: `edsr-tiny` (32 features, 4 blocks), `edsr-small` (48, 8),
    /// `edsr-baseline` (64, 16) or `edsr:<features>x<blocks>` (e.g. `edsr:16x2`), for `scale`.
    pub fn from_arch(arch: &str, scale: usize) -> Result<Self> {
        let arch = arch.trim();
        let (feat, blocks) = match arch {
            "edsr-tiny" => (32, 4),
            "edsr-small" => (48, 8),
            "edsr-baseline" => (64, 16),
            other => {
                let spec = other.strip_prefix("edsr:").ok_or_else(|| {
                    IdcError::config(
                        "arch",
                        format!(
                            "unknown architecture {other:?}; expected edsr-tiny, edsr-small, \
                             edsr-baseline or edsr:<features>x<blocks>"
                        ),
                    )
                })?;
                let parsed = spec.split_once('x').and_then(|(f, b)| {
                    Some((
                        f.trim().parse::<usize>().ok()?,
                        b.trim().parse::<usize>().ok()?,
                    ))
                });
                parsed.ok_or_else(|| {
                    IdcError::config(
                        "arch",
                        format!("{other:?}: expected edsr:<features>x<blocks>, e.g. edsr:16x2"),
                    )
                })?
            }
        };
        let config = Self::new(feat, blocks, scale);
        config.validate()?;
        Ok(config)
    }

    /// Checks every field (called by every constructor and loader).
    pub fn validate(&self) -> Result<()> {
        if self.num_in_ch != 3 || self.num_out_ch != 3 {
            return Err(IdcError::config(
                "num_in_ch/num_out_ch",
                "must be 3 (the RGB mean shift is 3-channel)",
            ));
        }
        if self.num_feat == 0 || self.num_feat > 1024 {
            return Err(IdcError::config("num_feat", "must be in 1..=1024"));
        }
        if self.num_block > 256 {
            return Err(IdcError::config("num_block", "must be at most 256"));
        }
        // 1: no up-sampler (denoising, `Task::scale`), the network keeps the size.
        let pow2 = self.upscale >= 1 && self.upscale.is_power_of_two() && self.upscale <= 16;
        if !(pow2 || self.upscale == 3) {
            return Err(IdcError::config(
                "upscale",
                format!(
                    "{} not supported: use 1 (denoising), 2, 3, 4 (or 8, 16)",
                    self.upscale
                ),
            ));
        }
        if !self.res_scale.is_finite() {
            return Err(IdcError::config("res_scale", "must be finite"));
        }
        if !(self.img_range.is_finite() && self.img_range > 0.0) {
            return Err(IdcError::config("img_range", "must be positive"));
        }
        if self.rgb_mean.iter().any(|m| !m.is_finite()) {
            return Err(IdcError::config("rgb_mean", "must be finite"));
        }
        Ok(())
    }

    /// `(conv output channels, shuffle factor)` of each up-sampling stage.
    pub fn upsample_stages(&self) -> Vec<(usize, usize)> {
        if self.upscale == 3 {
            vec![(9 * self.num_feat, 3)]
        } else {
            let n = self.upscale.trailing_zeros() as usize;
            vec![(4 * self.num_feat, 2); n]
        }
    }

    /// Number of trainable scalars.
    pub fn num_params(&self) -> usize {
        let conv = |cin: usize, cout: usize| cin * cout * 9 + cout;
        let f = self.num_feat;
        conv(self.num_in_ch, f)
            + self.num_block * 2 * conv(f, f)
            + conv(f, f)
            + self
                .upsample_stages()
                .iter()
                .map(|&(c, _)| conv(f, c))
                .sum::<usize>()
            + conv(f, self.num_out_ch)
    }

    /// Module with Burn's default initialiser (uniform `±1/sqrt(fan_in)`, PyTorch's default,
    /// which BasicSR keeps for EDSR via `pytorch_init=True`). Uses the backend's global RNG; use
    /// [`EdsrConfig::init_seeded`] for reproducible weights.
    ///
    /// Panics only if the config is invalid; call [`EdsrConfig::validate`] first on user input
    /// ([`EdsrConfig::from_arch`] and the loaders do).
    pub fn init<B: Backend>(&self, device: &B::Device) -> Edsr<B> {
        let conv = |cin: usize, cout: usize| {
            Conv2dConfig::new([cin, cout], [3, 3])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init::<B>(device)
        };
        let f = self.num_feat;
        let model = Edsr {
            conv_first: conv(self.num_in_ch, f),
            body: (0..self.num_block)
                .map(|_| ResidualBlockNoBn {
                    conv1: conv(f, f),
                    conv2: conv(f, f),
                })
                .collect(),
            conv_after_body: conv(f, f),
            upsample: self
                .upsample_stages()
                .iter()
                .map(|&(c, _)| conv(f, c))
                .collect(),
            conv_last: conv(f, self.num_out_ch),
            config: self.clone(),
            fingerprint: Arc::new(String::new()),
        };
        model.refresh_fingerprint()
    }

    /// Like [`EdsrConfig::init`] but every weight and bias is drawn from a `StdRng` seeded with
    /// `seed` (same distribution), so the same seed gives the same network on every backend and
    /// concurrent tests cannot disturb each other through the backend's global RNG.
    pub fn init_seeded<B: Backend>(&self, device: &B::Device, seed: u64) -> Edsr<B> {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut model = self.init::<B>(device);
        let mut reinit = |conv: Conv2d<B>| -> Conv2d<B> {
            let [cout, cin, kh, kw] = conv.weight.dims();
            let bound = 1.0 / ((cin * kh * kw) as f32).sqrt();
            let mut draw = |n: usize| -> Vec<f32> {
                (0..n).map(|_| rng.random_range(-bound..bound)).collect()
            };
            let w = draw(cout * cin * kh * kw);
            let b = draw(cout);
            Conv2d {
                weight: Param::initialized(
                    conv.weight.id,
                    Tensor::from_data(TensorData::new(w, [cout, cin, kh, kw]), device)
                        .require_grad(),
                ),
                bias: conv.bias.map(|p| {
                    Param::initialized(
                        p.id,
                        Tensor::from_data(TensorData::new(b, [cout]), device).require_grad(),
                    )
                }),
                ..conv
            }
        };
        model.conv_first = reinit(model.conv_first);
        model.body = model
            .body
            .into_iter()
            .map(|blk| ResidualBlockNoBn {
                conv1: reinit(blk.conv1),
                conv2: reinit(blk.conv2),
            })
            .collect();
        model.conv_after_body = reinit(model.conv_after_body);
        model.upsample = model.upsample.into_iter().map(&mut reinit).collect();
        model.conv_last = reinit(model.conv_last);
        model.refresh_fingerprint()
    }
}

/// BasicSR `ResidualBlockNoBN`: `x + conv2(relu(conv1(x))) * res_scale`.
#[derive(Module, Debug)]
pub struct ResidualBlockNoBn<B: Backend> {
    /// First 3x3 conv, followed by ReLU.
    pub conv1: Conv2d<B>,
    /// Second 3x3 conv, scaled by `res_scale` and added to the input.
    pub conv2: Conv2d<B>,
}

/// EDSR network (see the module docs for the layout).
#[derive(Module, Debug)]
pub struct Edsr<B: Backend> {
    /// 3x3 conv from the input channels to `num_feat`.
    pub conv_first: Conv2d<B>,
    /// The residual blocks.
    pub body: Vec<ResidualBlockNoBn<B>>,
    /// 3x3 conv after the body, before the long skip.
    pub conv_after_body: Conv2d<B>,
    /// Up-sampling convs, one per pixel-shuffle stage.
    pub upsample: Vec<Conv2d<B>>,
    /// 3x3 conv to the output channels.
    pub conv_last: Conv2d<B>,
    /// Hyper-parameters (not persisted in the record; the model directory keeps `config.json`).
    #[module(skip)]
    config: EdsrConfig,
    /// SHA-256 of config + weights, computed when the weights were set (construction, loading,
    /// [`Edsr::refresh_fingerprint`]). Not a parameter; an optimiser step does not update it.
    #[module(skip)]
    fingerprint: Arc<String>,
}

/// PyTorch `PixelShuffle(r)`: `[N, C r², H, W] -> [N, C, H r, W r]` (one host pass on `flex`,
/// see [`crate::models::shuffle`]).
pub fn pixel_shuffle<B: Backend>(x: Tensor<B, 4>, r: usize) -> Tensor<B, 4> {
    crate::models::shuffle::pixel_shuffle(x, r)
}

impl<B: Backend> Edsr<B> {
    /// The hyper-parameters this network was built with.
    pub fn config(&self) -> &EdsrConfig {
        &self.config
    }

    fn mean(&self, device: &B::Device) -> Tensor<B, 4> {
        Tensor::<B, 1>::from_data(TensorData::new(self.config.rgb_mean.to_vec(), [3]), device)
            .reshape([1, 3, 1, 1])
    }

    /// Body output plus the long skip, before the up-sampler: `[N, feat, h, w]`.
    pub fn features(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let mean = self.mean(&x.device());
        let x = (x - mean) * self.config.img_range;
        let x = conv::forward(&self.conv_first, x);
        let mut res = x.clone();
        for blk in &self.body {
            let out = conv::forward(&blk.conv2, relu(conv::forward(&blk.conv1, res.clone())));
            res = if self.config.res_scale == 1.0 {
                res + out
            } else {
                res + out * self.config.res_scale
            };
        }
        conv::forward(&self.conv_after_body, res) + x
    }

    /// Up-sampler and last conv applied to [`Edsr::features`], mean shift undone.
    pub fn reconstruct(&self, features: Tensor<B, 4>) -> Tensor<B, 4> {
        let mut x = features;
        for (conv, (_, r)) in self.upsample.iter().zip(self.config.upsample_stages()) {
            x = pixel_shuffle(conv::forward(conv, x), r);
        }
        let x = conv::forward(&self.conv_last, x);
        let mean = self.mean(&x.device());
        x / self.config.img_range + mean
    }

    /// Super-resolves `[N, 3, h, w]` (values in `[0, 1]`) to `[N, 3, s h, s w]`, not clamped.
    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        self.reconstruct(self.features(x))
    }

    /// Recomputes the cached fingerprint from the current weights; call after changing weights
    /// outside the constructors/loaders (e.g. after training).
    pub fn refresh_fingerprint(mut self) -> Self {
        self.fingerprint = Arc::new(compute_fingerprint(&self));
        self
    }

    /// Receptive-field radius in LR pixels: every 3x3 conv before the up-sampler widens it by
    /// one, the up-sampler/last convs by one LR pixel at most each. A tile overlap of at least this
    /// many LR pixels makes tiled inference equal to untiled inference.
    pub fn receptive_radius(&self) -> usize {
        // conv_first + 2 per block + conv_after_body + upsample convs + conv_last (which act on
        // finer grids, so each adds at most one LR pixel).
        1 + 2 * self.config.num_block + 1 + self.upsample.len() + 1
    }
}

/// SHA-256 over the JSON config and every parameter's `f32` bytes in module order.
fn compute_fingerprint<B: Backend>(model: &Edsr<B>) -> String {
    let mut hasher = Sha256::new();
    hasher.update(serde_json::to_vec(&model.config).unwrap_or_default());
    let mut add = |conv: &Conv2d<B>| {
        for t in std::iter::once(conv.weight.val()).chain(conv.bias.as_ref().map(|b| {
            let v = b.val();
            let n = v.dims()[0];
            v.reshape([1, 1, 1, n])
        })) {
            let data = t.into_data().convert::<f32>();
            hasher.update(data.as_bytes());
        }
    };
    add(&model.conv_first);
    for blk in &model.body {
        add(&blk.conv1);
        add(&blk.conv2);
    }
    add(&model.conv_after_body);
    for c in &model.upsample {
        add(c);
    }
    add(&model.conv_last);
    let digest = hasher.finalize();
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

impl_roles!(Edsr, |m| channels: m.config.num_feat, scale: m.config.upscale,
    fingerprint: m.fingerprint.as_ref().clone());

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;

    type B = Flex;

    /// The extractor role is frozen: a backward from its features reaches the input but no
    /// weight (the inherent `features`, which training's `forward` uses, still tracks them).
    #[test]
    fn extractor_features_track_the_input_only() {
        type Ad = burn::backend::Autodiff<B>;
        let dev = Default::default();
        let m = EdsrConfig::new(8, 1, 2).init_seeded::<Ad>(&dev, 3);
        let x = Tensor::<Ad, 4>::ones([1, 3, 6, 5], &dev).require_grad();
        let grads = FeatureExtractor::features(&m, x.clone()).sum().backward();
        assert!(x.grad(&grads).is_some(), "input gradient");
        assert!(
            m.conv_first.weight.val().grad(&grads).is_none(),
            "no weight gradient"
        );
        let grads = m.features(x.clone()).sum().backward();
        assert!(
            m.conv_first.weight.val().grad(&grads).is_some(),
            "training's path"
        );
    }

    #[test]
    fn presets_and_custom_arch_parse() {
        let t = EdsrConfig::from_arch("edsr-tiny", 2).unwrap();
        assert_eq!((t.num_feat, t.num_block, t.upscale), (32, 4, 2));
        let s = EdsrConfig::from_arch("edsr-small", 3).unwrap();
        assert_eq!((s.num_feat, s.num_block), (48, 8));
        let b = EdsrConfig::from_arch("edsr-baseline", 4).unwrap();
        assert_eq!((b.num_feat, b.num_block), (64, 16));
        let c = EdsrConfig::from_arch("edsr:16x2", 4).unwrap();
        assert_eq!((c.num_feat, c.num_block), (16, 2));
        // BasicSR EDSR-baseline x4 has 1,517,571 parameters.
        assert_eq!(b.num_params(), 1_517_571);
        for bad in ["edsr", "edsr:16", "edsr:x2", "rcan", "edsr:0x2"] {
            assert!(EdsrConfig::from_arch(bad, 2).is_err(), "{bad} accepted");
        }
        assert!(EdsrConfig::from_arch("edsr-tiny", 5).is_err());
    }

    #[test]
    fn pixel_shuffle_matches_pytorch_layout() {
        let device = Default::default();
        // out[0, c, h*r + i, w*r + j] = in[0, c*r*r + i*r + j, h, w]
        let (c, r, h, w) = (2, 2, 2, 3);
        let vals: Vec<f32> = (0..c * r * r * h * w).map(|v| v as f32).collect();
        let x =
            Tensor::<B, 4>::from_data(TensorData::new(vals.clone(), [1, c * r * r, h, w]), &device);
        let y = pixel_shuffle(x, r);
        assert_eq!(y.dims(), [1, c, h * r, w * r]);
        let out = y.into_data().into_vec::<f32>().unwrap();
        for cc in 0..c {
            for hh in 0..h {
                for ww in 0..w {
                    for i in 0..r {
                        for j in 0..r {
                            let src = ((cc * r * r + i * r + j) * h + hh) * w + ww;
                            let dst = (cc * h * r + hh * r + i) * w * r + ww * r + j;
                            assert_eq!(out[dst], vals[src]);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn shapes_fingerprint_and_seeding() {
        let device = Default::default();
        for scale in [1, 2, 3, 4] {
            let cfg = EdsrConfig::new(8, 1, scale);
            let m = cfg.init_seeded::<B>(&device, 1);
            let x = Tensor::<B, 4>::ones([2, 3, 5, 7], &device) * 0.5;
            assert_eq!(m.forward(x.clone()).dims(), [2, 3, 5 * scale, 7 * scale]);
            assert_eq!(m.features(x).dims(), [2, 8, 5, 7]);
            assert_eq!(m.num_params(), cfg.num_params());
        }
        let cfg = EdsrConfig::new(8, 1, 2);
        let a = cfg.init_seeded::<B>(&device, 7);
        let b = cfg.init_seeded::<B>(&device, 7);
        let c = cfg.init_seeded::<B>(&device, 8);
        assert_eq!(Teacher::fingerprint(&a), Teacher::fingerprint(&b));
        assert_ne!(Teacher::fingerprint(&a), Teacher::fingerprint(&c));
        assert_eq!(Teacher::fingerprint(&a).len(), 64);
        // Same weights, different config -> different fingerprint.
        let mut cfg2 = cfg.clone();
        cfg2.res_scale = 0.5;
        let d = cfg2.init_seeded::<B>(&device, 7);
        assert_ne!(Teacher::fingerprint(&a), Teacher::fingerprint(&d));
    }
}
