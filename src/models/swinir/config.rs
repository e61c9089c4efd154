//! [`SwinIrConfig`]: the architecture's hyper-parameters (BasicSR `network_g`), their
//! validation, and building a seeded [`SwinIr`] (BasicSR's initialisation, drawn in module order).

use super::{
    BasicLayer, Mlp, PatchEmbed, Rstb, SwinBlock, SwinIr, WindowAttention, relative_position_index,
};
use crate::error::{IdcError, Result};
use burn::module::{Module, ModuleMapper, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{LayerNormConfig, LinearConfig, PaddingConfig2d};
use burn::tensor::{Tensor, TensorData, backend::Backend};
use rand::{Rng, SeedableRng, rngs::StdRng};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Channels of the `pixelshuffle` / `nearest+conv` reconstruction (BasicSR's fixed `num_feat`).
pub const RECON_FEAT: usize = 64;

/// Reconstruction module (BasicSR `upsampler`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Upsampler {
    /// Classical SR: conv + LeakyReLU, pixel-shuffle stages, conv.
    #[serde(rename = "pixelshuffle")]
    PixelShuffle,
    /// Lightweight SR: one conv to `3 s²` channels + one shuffle.
    #[serde(rename = "pixelshuffledirect")]
    PixelShuffleDirect,
    /// Real-world SR (x4 only): nearest up-sampling + convs.
    #[serde(rename = "nearest+conv")]
    NearestConv,
    /// No up-sampling (scale 1, denoising / artifact reduction): `x + conv_last(features)`.
    #[serde(rename = "")]
    None,
}

/// Convolution block of the residual connections (BasicSR `resi_connection`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ResiConnection {
    /// One 3x3 conv.
    #[serde(rename = "1conv")]
    OneConv,
    /// 3x3 conv to dim/4, LeakyReLU(0.2), 1x1 conv, LeakyReLU(0.2), 3x3 conv back to dim.
    #[serde(rename = "3conv")]
    ThreeConv,
}

/// SwinIR hyper-parameters with BasicSR's `network_g` names and defaults (`patch_size` is
/// always 1, `qk_scale` always `head_dim^-0.5`, as in every published SwinIR option file).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SwinIrConfig {
    /// Up-sampling factor (1 only with upsampler `""`).
    pub upscale: usize,
    /// Input (= output) channels; 3 (the RGB mean shift is 3-channel).
    pub in_chans: usize,
    /// Training patch size; sets the absolute position embedding's size and, when not larger
    /// than `window_size`, shrinks the attention window to it (BasicSR's rule).
    pub img_size: usize,
    /// Attention window side.
    pub window_size: usize,
    /// Factor applied after subtracting the mean (BasicSR SwinIR: 1.0).
    pub img_range: f32,
    /// Swin blocks per RSTB.
    pub depths: Vec<usize>,
    /// Token (feature) channels.
    pub embed_dim: usize,
    /// Attention heads per RSTB (each must divide `embed_dim`).
    pub num_heads: Vec<usize>,
    /// MLP hidden width / `embed_dim`.
    pub mlp_ratio: f32,
    /// Reconstruction module.
    pub upsampler: Upsampler,
    /// Residual-connection conv block.
    pub resi_connection: ResiConnection,
    /// Absolute position embedding (inputs must then be `img_size` square after padding).
    pub ape: bool,
    /// LayerNorm after the patch embedding.
    pub patch_norm: bool,
    /// Bias in the qkv projection.
    pub qkv_bias: bool,
}

impl Default for SwinIrConfig {
    /// BasicSR's `SwinIR.__init__` defaults.
    fn default() -> Self {
        Self {
            upscale: 2,
            in_chans: 3,
            img_size: 64,
            window_size: 7,
            img_range: 1.0,
            depths: vec![6; 4],
            embed_dim: 96,
            num_heads: vec![6; 4],
            mlp_ratio: 4.0,
            upsampler: Upsampler::None,
            resi_connection: ResiConnection::OneConv,
            ape: false,
            patch_norm: true,
            qkv_bias: true,
        }
    }
}

impl SwinIrConfig {
    /// Preset by name for `scale`:
    /// - `swinir-light`: the lightweight SR model (embed 60, depths/heads 4x6, window 8, mlp 2,
    ///   `pixelshuffledirect`, img_size 64), 0.9 M parameters at x2.
    /// - `swinir-classical`: the classical SR model (embed 180, 6x6, window 8, mlp 2,
    ///   `pixelshuffle`, img_size 48 for x2 / 64 otherwise as in BasicSR's option files).
    /// - `swinir-tiny`: a CPU-sized model for experiments and tests: embed 24, depths [2, 2],
    ///   heads [4, 4] (head dim 6), window 8, mlp 2, `pixelshuffledirect`, img_size 64
    ///   (42,084 parameters at x2, as BasicSR counts them). Not a published model.
    pub fn from_arch(arch: &str, scale: usize) -> Result<Self> {
        let base = Self {
            upscale: scale,
            img_size: 64,
            window_size: 8,
            mlp_ratio: 2.0,
            ..Self::default()
        };
        let config = match arch.trim() {
            "swinir-light" => Self {
                embed_dim: 60,
                depths: vec![6; 4],
                num_heads: vec![6; 4],
                upsampler: Upsampler::PixelShuffleDirect,
                ..base
            },
            "swinir-classical" => Self {
                embed_dim: 180,
                depths: vec![6; 6],
                num_heads: vec![6; 6],
                img_size: if scale == 2 { 48 } else { 64 },
                upsampler: Upsampler::PixelShuffle,
                ..base
            },
            "swinir-tiny" => Self {
                embed_dim: 24,
                depths: vec![2, 2],
                num_heads: vec![4, 4],
                upsampler: Upsampler::PixelShuffleDirect,
                ..base
            },
            other => {
                return Err(IdcError::config(
                    "arch",
                    format!(
                        "unknown SwinIR preset {other:?}; expected swinir-tiny, swinir-light or \
                         swinir-classical"
                    ),
                ));
            }
        };
        // Scale 1 is restoration without resizing (denoising): BasicSR's SwinIR then has no
        // up-sampler and adds the reconstruction to its input.
        let config = if scale == 1 {
            Self {
                upsampler: Upsampler::None,
                ..config
            }
        } else {
            config
        };
        config.validate()?;
        Ok(config)
    }

    /// Checks every field (called by every constructor and loader).
    pub fn validate(&self) -> Result<()> {
        let err = |f: &str, r: String| Err(IdcError::config(f, r));
        if self.in_chans != 3 {
            return err(
                "in_chans",
                "must be 3 (the RGB mean shift is 3-channel)".into(),
            );
        }
        if self.embed_dim == 0 || self.embed_dim > 1024 {
            return err("embed_dim", "must be in 1..=1024".into());
        }
        if self.depths.is_empty() || self.depths.len() > 64 {
            return err("depths", "must list 1..=64 RSTB depths".into());
        }
        if self.depths.iter().any(|&d| d == 0 || d > 64) {
            return err("depths", "every depth must be in 1..=64".into());
        }
        if self.num_heads.len() != self.depths.len() {
            return err(
                "num_heads",
                format!(
                    "{} entries for {} RSTBs",
                    self.num_heads.len(),
                    self.depths.len()
                ),
            );
        }
        if let Some(h) = self
            .num_heads
            .iter()
            .find(|&&h| h == 0 || !self.embed_dim.is_multiple_of(h))
        {
            return err(
                "num_heads",
                format!("{h} does not divide embed_dim {}", self.embed_dim),
            );
        }
        if !(1..=64).contains(&self.window_size) {
            return err("window_size", "must be in 1..=64".into());
        }
        if !(1..=4096).contains(&self.img_size) {
            return err("img_size", "must be in 1..=4096".into());
        }
        if !(self.mlp_ratio.is_finite() && self.mlp_ratio > 0.0 && self.mlp_ratio <= 16.0) {
            return err("mlp_ratio", "must be in (0, 16]".into());
        }
        if !(self.img_range.is_finite() && self.img_range > 0.0) {
            return err("img_range", "must be positive".into());
        }
        if self.resi_connection == ResiConnection::ThreeConv && self.embed_dim < 4 {
            return err("resi_connection", "3conv needs embed_dim >= 4".into());
        }
        let s = self.upscale;
        match self.upsampler {
            Upsampler::None if s != 1 => err(
                "upscale",
                format!("{s} needs an upsampler; upsampler \"\" is scale 1"),
            ),
            Upsampler::NearestConv if s != 4 => err(
                "upscale",
                "upsampler nearest+conv supports only 4 (as BasicSR)".into(),
            ),
            Upsampler::PixelShuffle
                if !(s == 3 || (s.is_power_of_two() && (2..=16).contains(&s))) =>
            {
                err(
                    "upscale",
                    format!("{s} not supported by pixelshuffle: use 2, 3, 4, 8"),
                )
            }
            Upsampler::PixelShuffleDirect if !(2..=8).contains(&s) => err(
                "upscale",
                format!("{s} not supported by pixelshuffledirect: use 2..=8"),
            ),
            _ => Ok(()),
        }
    }

    /// `(window, shift)` the blocks actually use: BasicSR shrinks the window to `img_size` (and
    /// drops the shift) when `img_size <= window_size`.
    pub fn attention_window(&self) -> (usize, usize) {
        if self.img_size <= self.window_size {
            (self.img_size, 0)
        } else {
            (self.window_size, self.window_size / 2)
        }
    }

    fn conv<B: Backend>(cin: usize, cout: usize, k: usize, device: &B::Device) -> Conv2d<B> {
        let p = k / 2;
        Conv2dConfig::new([cin, cout], [k, k])
            .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
            .init(device)
    }

    fn resi_conv<B: Backend>(&self, device: &B::Device) -> Vec<Conv2d<B>> {
        let d = self.embed_dim;
        match self.resi_connection {
            ResiConnection::OneConv => vec![Self::conv(d, d, 3, device)],
            ResiConnection::ThreeConv => vec![
                Self::conv(d, d / 4, 3, device),
                Self::conv(d / 4, d / 4, 1, device),
                Self::conv(d / 4, d, 3, device),
            ],
        }
    }

    /// Module with weights drawn from a `StdRng` seeded with `seed`, distributed as BasicSR
    /// initialises SwinIR (Linear and position tables N(0, 0.02²) with zero biases, LayerNorm
    /// 1/0, convs PyTorch's uniform `±1/sqrt(fan_in)`), identical on every backend.
    ///
    /// Panics only if the config is invalid; call [`SwinIrConfig::validate`] first on user input
    /// (the presets, the JSON parser and the loaders do).
    pub fn init_seeded<B: Backend>(&self, device: &B::Device, seed: u64) -> SwinIr<B> {
        self.validate().expect("invalid SwinIrConfig");
        let d = self.embed_dim;
        let (win, _) = self.attention_window();
        let ln = || LayerNormConfig::new(d).init::<B>(device);
        let layers = self.rstbs(device);
        let (before, upsample, ups, last) = self.reconstruction(device);
        let f = RECON_FEAT;
        let opt = |on: bool| on.then(|| Self::conv(f, f, 3, device));
        let model = SwinIr {
            conv_first: Self::conv(self.in_chans, d, 3, device),
            patch_embed: PatchEmbed {
                norm: self.patch_norm.then(ln),
            },
            absolute_pos_embed: self.ape.then(|| {
                Param::from_tensor(Tensor::zeros([1, self.img_size * self.img_size, d], device))
            }),
            layers,
            norm: ln(),
            conv_after_body: self.resi_conv(device),
            conv_before_upsample: before,
            upsample,
            conv_up1: opt(ups),
            conv_up2: opt(ups),
            conv_hr: opt(ups),
            conv_last: last,
            config: self.clone(),
            relative_index: Arc::new(relative_position_index(win)),
            fingerprint: Arc::new(String::new()),
        };
        let mut init = SeededInit::new(seed);
        model.map(&mut init).refresh_fingerprint()
    }

    /// The RSTBs (`layers`), default-initialised ([`SwinIrConfig::init_seeded`] draws the weights).
    fn rstbs<B: Backend>(&self, device: &B::Device) -> Vec<Rstb<B>> {
        let d = self.embed_dim;
        let (win, _) = self.attention_window();
        let hidden = (d as f32 * self.mlp_ratio) as usize;
        let ln = || LayerNormConfig::new(d).init::<B>(device);
        let linear = |i: usize, o: usize, bias: bool| {
            LinearConfig::new(i, o).with_bias(bias).init::<B>(device)
        };
        self.depths
            .iter()
            .zip(&self.num_heads)
            .map(|(&depth, &heads)| Rstb {
                residual_group: BasicLayer {
                    blocks: (0..depth)
                        .map(|_| SwinBlock {
                            norm1: ln(),
                            attn: WindowAttention {
                                relative_position_bias_table: Param::from_tensor(Tensor::zeros(
                                    [(2 * win - 1) * (2 * win - 1), heads],
                                    device,
                                )),
                                qkv: linear(d, 3 * d, self.qkv_bias),
                                proj: linear(d, d, true),
                            },
                            norm2: ln(),
                            mlp: Mlp {
                                fc1: linear(d, hidden, true),
                                fc2: linear(hidden, d, true),
                            },
                        })
                        .collect(),
                },
                conv: self.resi_conv(device),
            })
            .collect()
    }

    /// The reconstruction convs of the up-sampler: `(conv_before_upsample, upsample,
    /// nearest+conv's three convs present, conv_last)`.
    #[allow(clippy::type_complexity)]
    fn reconstruction<B: Backend>(
        &self,
        device: &B::Device,
    ) -> (Option<Conv2d<B>>, Vec<Conv2d<B>>, bool, Option<Conv2d<B>>) {
        let d = self.embed_dim;
        let f = RECON_FEAT;
        let s = self.upscale;
        match self.upsampler {
            Upsampler::PixelShuffle => {
                let stages: Vec<_> = if s == 3 {
                    vec![Self::conv(f, 9 * f, 3, device)]
                } else {
                    (0..s.trailing_zeros())
                        .map(|_| Self::conv(f, 4 * f, 3, device))
                        .collect()
                };
                (
                    Some(Self::conv(d, f, 3, device)),
                    stages,
                    false,
                    Some(Self::conv(f, 3, 3, device)),
                )
            }
            Upsampler::PixelShuffleDirect => {
                (None, vec![Self::conv(d, s * s * 3, 3, device)], false, None)
            }
            Upsampler::NearestConv => (
                Some(Self::conv(d, f, 3, device)),
                vec![],
                true,
                Some(Self::conv(f, 3, 3, device)),
            ),
            Upsampler::None => (None, vec![], false, Some(Self::conv(d, 3, 3, device))),
        }
    }

    /// Like [`SwinIrConfig::init_seeded`] with a fresh random seed.
    pub fn init<B: Backend>(&self, device: &B::Device) -> SwinIr<B> {
        self.init_seeded(device, rand::random())
    }
}

/// Initialiser run over a fresh module: draws every parameter from one seeded `StdRng` in
/// module order, by the kind of layer that owns it (see [`SwinIrConfig::init_seeded`]).
struct SeededInit {
    rng: StdRng,
    stack: Vec<String>,
    seen_in_module: usize,
    conv_bound: f32,
}

impl SeededInit {
    fn new(seed: u64) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
            stack: Vec::new(),
            seen_in_module: 0,
            conv_bound: 1.0,
        }
    }

    fn normal(&mut self, std: f32) -> f32 {
        // Box-Muller; BasicSR's trunc_normal_ cuts at ±2 (100 std), i.e. never.
        let u1: f32 = self.rng.random_range(f32::EPSILON..1.0);
        let u2: f32 = self.rng.random_range(0.0..1.0);
        std * (-2.0 * u1.ln()).sqrt() * (2.0 * std::f32::consts::PI * u2).cos()
    }

    fn draw(&mut self, dims: &[usize]) -> Vec<f32> {
        let n: usize = dims.iter().product();
        let owner = self.stack.last().map(String::as_str).unwrap_or("");
        let k = self.seen_in_module;
        self.seen_in_module += 1;
        match (owner, dims.len()) {
            ("Struct:Linear", 2) => (0..n).map(|_| self.normal(0.02)).collect(),
            ("Struct:Linear", _) => vec![0.0; n],
            ("Struct:LayerNorm", _) => vec![if k == 0 { 1.0 } else { 0.0 }; n],
            ("Struct:Conv2d", 4) => {
                self.conv_bound = 1.0 / ((dims[1] * dims[2] * dims[3]) as f32).sqrt();
                let b = self.conv_bound;
                (0..n).map(|_| self.rng.random_range(-b..b)).collect()
            }
            ("Struct:Conv2d", _) => {
                let b = self.conv_bound;
                (0..n).map(|_| self.rng.random_range(-b..b)).collect()
            }
            _ => (0..n).map(|_| self.normal(0.02)).collect(),
        }
    }
}

impl<B: Backend> ModuleMapper<B> for SeededInit {
    fn enter_module(&mut self, _name: &str, container_type: &str) {
        if container_type.starts_with("Struct:") {
            self.stack.push(container_type.to_string());
            self.seen_in_module = 0;
        }
    }
    fn exit_module(&mut self, _name: &str, container_type: &str) {
        if container_type.starts_with("Struct:") {
            self.stack.pop();
            self.seen_in_module = 0;
        }
    }
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        let (id, tensor, mapper) = param.consume();
        let dims = tensor.dims();
        let grad = tensor.is_require_grad();
        let values = self.draw(&dims);
        let fresh = Tensor::<B, D>::from_data(TensorData::new(values, dims), &tensor.device());
        let fresh = if grad { fresh.require_grad() } else { fresh };
        Param::from_mapped_value(id, fresh, mapper)
    }
}
