//! SwinIR as in BasicSR 1.4.2 `basicsr/archs/swinir_arch.py`, as a Burn module.
//!
//! Layout (parameter names follow BasicSR so `.pth` files map one to one, see
//! [`crate::models::weights::swinir_keys`]): `conv_first` -> `patch_embed` (flatten to tokens, optional
//! LayerNorm) -> optional `absolute_pos_embed` -> `layers.{i}` (RSTB: `residual_group.blocks.{j}`
//! Swin blocks, then `conv` on the unembedded map, plus the RSTB input) -> `norm` -> unembed ->
//! `conv_after_body` + long skip -> reconstruction (`pixelshuffle`, `pixelshuffledirect`,
//! `nearest+conv` or none). A Swin block is `x + attn(norm1(x))`, then `x + mlp(norm2(x))`, the
//! attention running in `window_size²` windows with a learned relative position bias; every odd
//! block shifts the windows by `window_size / 2` and masks the wrapped-around pairs (the mask is
//! computed for the actual input size, as BasicSR does at test time).
//!
//! Inputs whose height or width is not a multiple of `window_size` are reflect-padded at the
//! bottom/right and the output cropped back, exactly as BasicSR's `SwinIRModel.test` does, so
//! [`SwinIr::forward`] accepts any size. Dropout and stochastic depth (`drop_path_rate`) are
//! inference no-ops in BasicSR and are not modelled: training here runs without them.

use crate::error::{IdcError, Result};
use crate::models::edsr::{DIV2K_RGB_MEAN, pixel_shuffle};
use crate::models::permute::permute_contiguous;
use crate::models::{FeatureExtractor, Teacher, conv};
use burn::module::{Module, ModuleMapper, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{LayerNorm, LayerNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::{gelu, leaky_relu, softmax};
use burn::tensor::{Int, Tensor, TensorData, backend::Backend};
use rand::{Rng, SeedableRng, rngs::StdRng};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
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

/// BasicSR's `relative_position_index` for a `win x win` window, flattened (`win⁴` entries):
/// the row of `relative_position_bias_table` that holds the bias between tokens `i` and `j`.
pub fn relative_position_index(win: usize) -> Vec<i64> {
    let n = win * win;
    let mut out = Vec::with_capacity(n * n);
    for i in 0..n {
        for j in 0..n {
            let dh = (i / win) as i64 - (j / win) as i64 + win as i64 - 1;
            let dw = (i % win) as i64 - (j % win) as i64 + win as i64 - 1;
            out.push(dh * (2 * win as i64 - 1) + dw);
        }
    }
    out
}

/// BasicSR's `calculate_mask` for an `h x w` token grid (multiples of `win`), shift `shift`:
/// `[nW, win², win²]` row-major, 0 where two tokens of a shifted window came from the same
/// region of the unshifted image, -100 otherwise. Windows are ordered row-major.
pub fn shifted_window_mask(h: usize, w: usize, win: usize, shift: usize) -> Vec<f32> {
    let region = |x: usize, len: usize| -> usize {
        if x < len - win {
            0
        } else if x < len - shift {
            1
        } else {
            2
        }
    };
    let (nh, nw, n) = (h / win, w / win, win * win);
    let mut out = Vec::with_capacity(nh * nw * n * n);
    for wy in 0..nh {
        for wx in 0..nw {
            let label: Vec<usize> = (0..n)
                .map(|t| {
                    let (y, x) = (wy * win + t / win, wx * win + t % win);
                    region(y, h) * 3 + region(x, w)
                })
                .collect();
            for &a in &label {
                for &b in &label {
                    out.push(if a == b { 0.0 } else { -100.0 });
                }
            }
        }
    }
    out
}

/// Reflect-pads `[N, C, H, W]` at the bottom/right to `(h2, w2)` (PyTorch `reflect`: the edge
/// is not repeated); mirrors again when the padding exceeds the size (PyTorch refuses that).
fn reflect_pad<B: Backend>(x: Tensor<B, 4>, h2: usize, w2: usize) -> Tensor<B, 4> {
    let [_, _, h, w] = x.dims();
    let idx = |len: usize, to: usize| -> Vec<i64> {
        (0..to)
            .map(|i| {
                if len == 1 {
                    return 0;
                }
                let period = 2 * (len - 1);
                let m = i % period;
                (if m < len { m } else { period - m }) as i64
            })
            .collect()
    };
    let device = x.device();
    let mut x = x;
    if h2 > h {
        let ih = idx(h, h2);
        x = x.select(
            2,
            Tensor::<B, 1, Int>::from_data(TensorData::new(ih, [h2]), &device),
        );
    }
    if w2 > w {
        let iw = idx(w, w2);
        x = x.select(
            3,
            Tensor::<B, 1, Int>::from_data(TensorData::new(iw, [w2]), &device),
        );
    }
    x
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

/// BasicSR `Mlp`: `fc2(gelu(fc1(x)))`.
#[derive(Module, Debug)]
pub struct Mlp<B: Backend> {
    /// `embed_dim -> embed_dim * mlp_ratio`.
    pub fc1: Linear<B>,
    /// Back to `embed_dim`.
    pub fc2: Linear<B>,
}

/// BasicSR `WindowAttention`: multi-head self-attention inside each window with a learned
/// relative position bias (`relative_position_index` is recomputed, not stored).
#[derive(Module, Debug)]
pub struct WindowAttention<B: Backend> {
    /// `[(2 win - 1)², heads]` bias per relative offset and head.
    pub relative_position_bias_table: Param<Tensor<B, 2>>,
    /// Joint query/key/value projection `dim -> 3 dim`.
    pub qkv: Linear<B>,
    /// Output projection.
    pub proj: Linear<B>,
}

/// BasicSR `SwinTransformerBlock` (the shift is decided by the block's index).
#[derive(Module, Debug)]
pub struct SwinBlock<B: Backend> {
    /// LayerNorm before attention.
    pub norm1: LayerNorm<B>,
    /// (Shifted) window attention.
    pub attn: WindowAttention<B>,
    /// LayerNorm before the MLP.
    pub norm2: LayerNorm<B>,
    /// Feed-forward network.
    pub mlp: Mlp<B>,
}

/// BasicSR `BasicLayer` (no down-sampling in SwinIR).
#[derive(Module, Debug)]
pub struct BasicLayer<B: Backend> {
    /// The Swin blocks; odd indices use shifted windows.
    pub blocks: Vec<SwinBlock<B>>,
}

/// BasicSR `RSTB`: `conv(unembed(residual_group(x))) + x`.
#[derive(Module, Debug)]
pub struct Rstb<B: Backend> {
    /// The Swin blocks.
    pub residual_group: BasicLayer<B>,
    /// `1conv`: one conv; `3conv`: three (LeakyReLU 0.2 between). BasicSR's `conv.0/2/4`.
    pub conv: Vec<Conv2d<B>>,
}

/// BasicSR `PatchEmbed` with patch size 1: only the optional LayerNorm holds weights.
#[derive(Module, Debug)]
pub struct PatchEmbed<B: Backend> {
    /// LayerNorm over tokens when `patch_norm`.
    pub norm: Option<LayerNorm<B>>,
}

/// SwinIR network (see the module docs for the layout).
#[derive(Module, Debug)]
pub struct SwinIr<B: Backend> {
    /// Shallow feature conv `in_chans -> embed_dim`.
    pub conv_first: Conv2d<B>,
    /// Token embedding (optional LayerNorm).
    pub patch_embed: PatchEmbed<B>,
    /// `[1, img_size², embed_dim]` when `ape`.
    pub absolute_pos_embed: Option<Param<Tensor<B, 3>>>,
    /// The RSTBs.
    pub layers: Vec<Rstb<B>>,
    /// LayerNorm after the last RSTB.
    pub norm: LayerNorm<B>,
    /// Conv block after the body, before the long skip.
    pub conv_after_body: Vec<Conv2d<B>>,
    /// `pixelshuffle` / `nearest+conv`: conv `embed_dim -> 64` (LeakyReLU 0.01 after).
    pub conv_before_upsample: Option<Conv2d<B>>,
    /// Pixel-shuffle convs (BasicSR `upsample.0/2/...`).
    pub upsample: Vec<Conv2d<B>>,
    /// `nearest+conv`: conv after the first nearest x2.
    pub conv_up1: Option<Conv2d<B>>,
    /// `nearest+conv`: conv after the second nearest x2.
    pub conv_up2: Option<Conv2d<B>>,
    /// `nearest+conv`: conv before the last.
    pub conv_hr: Option<Conv2d<B>>,
    /// Last conv to RGB (absent for `pixelshuffledirect`).
    pub conv_last: Option<Conv2d<B>>,
    #[module(skip)]
    config: SwinIrConfig,
    #[module(skip)]
    relative_index: Arc<Vec<i64>>,
    #[module(skip)]
    fingerprint: Arc<String>,
}

/// Per-forward geometry shared by every block: window, shift, token grid and the mask.
struct Geometry<B: Backend> {
    win: usize,
    shift: usize,
    h: usize,
    w: usize,
    /// `[1, nW, 1, n, n]` shifted-window mask, `None` when no block shifts.
    mask: Option<Tensor<B, 5>>,
    /// Flat relative position index `[n²]`.
    index: Tensor<B, 1, Int>,
}

fn conv_block<B: Backend>(convs: &[Conv2d<B>], x: Tensor<B, 4>) -> Tensor<B, 4> {
    let mut x = x;
    for (i, c) in convs.iter().enumerate() {
        if i > 0 {
            x = leaky_relu(x, 0.2);
        }
        x = conv::forward(c, x);
    }
    x
}

impl<B: Backend> WindowAttention<B> {
    fn forward(
        &self,
        x: Tensor<B, 3>,
        heads: usize,
        geo: &Geometry<B>,
        masked: bool,
    ) -> Tensor<B, 3> {
        let [bw, n, c] = x.dims();
        let hd = c / heads;
        let qkv = self.qkv.forward(x).reshape([bw, n, 3, heads, hd]);
        let qkv = permute_contiguous(qkv, [2, 0, 3, 1, 4]);
        let part = |i: usize| qkv.clone().narrow(0, i, 1).reshape([bw, heads, n, hd]);
        let (q, k, v) = (part(0), part(1), part(2));
        let q = q * (hd as f64).powf(-0.5);
        let attn = q.matmul(k.swap_dims(2, 3));
        let bias = self
            .relative_position_bias_table
            .val()
            .select(0, geo.index.clone())
            .reshape([n, n, heads]);
        let bias = permute_contiguous(bias, [2, 0, 1]);
        let mut attn = add_to_every_row(attn, bias);
        if masked && let Some(mask) = &geo.mask {
            let nw = mask.dims()[1];
            let mask =
                permute_contiguous(mask.clone().expand([1, nw, heads, n, n]), [0, 1, 2, 3, 4]);
            attn = add_to_every_row(attn.reshape([bw / nw, nw, heads, n, n]), mask)
                .reshape([bw, heads, n, n]);
        }
        let attn = softmax(attn, 3);
        let out = permute_contiguous(attn.matmul(v), [0, 2, 1, 3]).reshape([bw, n, c]);
        self.proj.forward(out)
    }
}

impl<B: Backend> SwinBlock<B> {
    /// One block on tokens `[B, h w, c]`; `shifted` for odd block indices.
    fn forward(
        &self,
        x: Tensor<B, 3>,
        heads: usize,
        geo: &Geometry<B>,
        shifted: bool,
    ) -> Tensor<B, 3> {
        let [b, l, c] = x.dims();
        let (h, w, win) = (geo.h, geo.w, geo.win);
        let shift = if shifted { geo.shift } else { 0 };
        let y = self.norm1.forward(x.clone()).reshape([b, h, w, c]);
        let y = if shift > 0 {
            // torch.roll(x, -s): out[i] = x[i + s], which is Burn's roll by +s (Burn's sign
            // convention is the opposite of PyTorch's).
            y.roll(&[shift as i64, shift as i64], &[1, 2])
        } else {
            y
        };
        let windows = y.reshape([b, h / win, win, w / win, win, c]);
        let windows = permute_contiguous(windows, [0, 1, 3, 2, 4, 5]).reshape([
            b * (h / win) * (w / win),
            win * win,
            c,
        ]);
        let out = self.attn.forward(windows, heads, geo, shift > 0);
        let y = out.reshape([b, h / win, w / win, win, win, c]);
        let y = permute_contiguous(y, [0, 1, 3, 2, 4, 5]).reshape([b, h, w, c]);
        let y = if shift > 0 {
            y.roll(&[-(shift as i64), -(shift as i64)], &[1, 2])
        } else {
            y
        };
        let x = x + y.reshape([b, l, c]);
        let m = self
            .mlp
            .fc2
            .forward(gelu(self.mlp.fc1.forward(self.norm2.forward(x.clone()))));
        x + m
    }
}

/// `x + row` for `x` of shape `[B, rest..]` and `row` holding one `rest` block, added to each of
/// the `B` blocks. Written as `[B, K] + [1, K]`: a broadcast over the leading axis alone is a
/// vectorised path on `flex` (attention bias and shift mask, ~2.4M elements per block in
/// `benches/swinir`); as `[B, rest..] + [1, rest..]` flex walks it element by element.
fn add_to_every_row<B: Backend, const D: usize, const E: usize>(
    x: Tensor<B, D>,
    row: Tensor<B, E>,
) -> Tensor<B, D> {
    let dims = x.dims();
    let k = row.shape().num_elements();
    (x.reshape([dims[0], k]) + row.reshape([1, k])).reshape(dims)
}

/// `[B, C, H, W] -> [B, H W, C]`.
fn to_tokens<B: Backend>(x: Tensor<B, 4>) -> Tensor<B, 3> {
    permute_contiguous(x.flatten::<3>(2, 3), [0, 2, 1])
}

/// `[B, H W, C] -> [B, C, H, W]`.
fn to_map<B: Backend>(x: Tensor<B, 3>, h: usize, w: usize) -> Tensor<B, 4> {
    let [b, _, c] = x.dims();
    permute_contiguous(x, [0, 2, 1]).reshape([b, c, h, w])
}

fn nearest2<B: Backend>(x: Tensor<B, 4>) -> Tensor<B, 4> {
    let [n, c, h, w] = x.dims();
    x.reshape([n, c, h, 1, w, 1])
        .expand([n, c, h, 2, w, 2])
        .reshape([n, c, 2 * h, 2 * w])
}

impl<B: Backend> SwinIr<B> {
    /// The hyper-parameters this network was built with.
    pub fn config(&self) -> &SwinIrConfig {
        &self.config
    }

    fn mean(&self, device: &B::Device) -> Tensor<B, 4> {
        Tensor::<B, 1>::from_data(TensorData::new(DIV2K_RGB_MEAN.to_vec(), [3]), device)
            .reshape([1, 3, 1, 1])
    }

    fn geometry(&self, h: usize, w: usize, device: &B::Device) -> Geometry<B> {
        let (win, shift) = self.config.attention_window();
        let n = win * win;
        let shifts = shift > 0 && self.config.depths.iter().any(|&d| d > 1);
        let mask = shifts.then(|| {
            let nw = (h / win) * (w / win);
            let m = shifted_window_mask(h, w, win, shift);
            Tensor::<B, 1>::from_data(TensorData::new(m, [nw * n * n]), device)
                .reshape([1, nw, 1, n, n])
        });
        let index = Tensor::<B, 1, Int>::from_data(
            TensorData::new(self.relative_index.as_ref().clone(), [n * n]),
            device,
        );
        Geometry {
            win,
            shift,
            h,
            w,
            mask,
            index,
        }
    }

    /// BasicSR `forward_features` on a map whose sides are multiples of the window.
    fn forward_features(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let [_, _, h, w] = x.dims();
        let geo = self.geometry(h, w, &x.device());
        let mut t = to_tokens(x);
        if let Some(norm) = &self.patch_embed.norm {
            t = norm.forward(t);
        }
        if let Some(ape) = &self.absolute_pos_embed {
            let [_, l, _] = t.dims();
            assert_eq!(
                ape.dims()[1],
                l,
                "SwinIR with ape needs inputs of img_size² tokens after padding (BasicSR too)"
            );
            t = t + ape.val();
        }
        for (layer, &heads) in self.layers.iter().zip(&self.config.num_heads) {
            let mut y = t.clone();
            for (j, blk) in layer.residual_group.blocks.iter().enumerate() {
                y = blk.forward(y, heads, &geo, j % 2 == 1);
            }
            t = to_tokens(conv_block(&layer.conv, to_map(y, h, w))) + t;
        }
        to_map(self.norm.forward(t), h, w)
    }

    /// Pads `[N, 3, h, w]` (mean-shifted) to window multiples: `(padded, h, w)`.
    fn pad(&self, x: Tensor<B, 4>) -> (Tensor<B, 4>, usize, usize) {
        let [_, _, h, w] = x.dims();
        let ws = self.config.window_size;
        (
            reflect_pad(x, h.div_ceil(ws) * ws, w.div_ceil(ws) * ws),
            h,
            w,
        )
    }

    /// Deep features on the padded input: `conv_first(x)` and
    /// `conv_after_body(forward_features(conv_first(x))) + conv_first(x)`.
    fn deep(&self, x: Tensor<B, 4>) -> (Tensor<B, 4>, Tensor<B, 4>) {
        let mean = self.mean(&x.device());
        let x = (x - mean) * self.config.img_range;
        let first = conv::forward(&self.conv_first, x);
        let deep =
            conv_block(&self.conv_after_body, self.forward_features(first.clone())) + first.clone();
        (first, deep)
    }

    /// The paper's feature tensor: `conv_after_body(forward_features(conv_first(x'))) +
    /// conv_first(x')` with `x' = (x - mean) * img_range` (the deep features plus the long
    /// skip, the input of the reconstruction), `[N, embed_dim, h, w]`. Computed on the
    /// reflect-padded input and cropped back to `h x w`.
    pub fn features(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let (x, h, w) = self.pad(x);
        let n = x.dims()[0];
        let (_, deep) = self.deep(x);
        deep.slice([0..n, 0..self.config.embed_dim, 0..h, 0..w])
    }

    /// Super-resolves `[N, 3, h, w]` (values in `[0, 1]`) to `[N, 3, s h, s w]`, not clamped.
    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let (xp, h, w) = self.pad(x);
        let s = self.config.upscale;
        let n = xp.dims()[0];
        let input = xp.clone();
        let (_, deep) = self.deep(xp);
        let lrelu = |t: Tensor<B, 4>, a: f64| leaky_relu(t, a);
        let y = match self.config.upsampler {
            Upsampler::PixelShuffle => {
                let before = self
                    .conv_before_upsample
                    .as_ref()
                    .expect("pixelshuffle layout");
                let mut y = lrelu(conv::forward(before, deep), 0.01);
                let r = if s == 3 { 3 } else { 2 };
                for conv in &self.upsample {
                    y = pixel_shuffle(conv::forward(conv, y), r);
                }
                conv::forward(self.conv_last.as_ref().expect("conv_last"), y)
            }
            Upsampler::PixelShuffleDirect => {
                pixel_shuffle(conv::forward(&self.upsample[0], deep), s)
            }
            Upsampler::NearestConv => {
                let before = self
                    .conv_before_upsample
                    .as_ref()
                    .expect("nearest+conv layout");
                let up =
                    |c: &Option<Conv2d<B>>, t| conv::forward(c.as_ref().expect("nearest+conv"), t);
                let y = lrelu(conv::forward(before, deep), 0.01);
                let y = lrelu(up(&self.conv_up1, nearest2(y)), 0.2);
                let y = lrelu(up(&self.conv_up2, nearest2(y)), 0.2);
                up(&self.conv_last, lrelu(up(&self.conv_hr, y), 0.2))
            }
            Upsampler::None => {
                let mean = self.mean(&input.device());
                let x = (input - mean) * self.config.img_range;
                x + conv::forward(self.conv_last.as_ref().expect("conv_last"), deep)
            }
        };
        let mean = self.mean(&y.device());
        let y = y / self.config.img_range + mean;
        y.slice([0..n, 0..3, 0..h * s, 0..w * s])
    }

    /// Recomputes the cached fingerprint from the current weights; call after changing weights
    /// outside the constructors/loaders (e.g. after training).
    pub fn refresh_fingerprint(mut self) -> Self {
        self.fingerprint = Arc::new(compute_fingerprint(&self));
        self
    }
}

/// SHA-256 over the JSON config and every parameter's `f32` bytes in module order.
fn compute_fingerprint<B: Backend>(model: &SwinIr<B>) -> String {
    struct Hash<'a>(&'a mut Sha256);
    impl<B: Backend> burn::module::ModuleVisitor<B> for Hash<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            let data = param.val().into_data().convert::<f32>();
            self.0.update(data.as_bytes());
        }
    }
    let mut hasher = Sha256::new();
    hasher.update(b"swinir");
    hasher.update(serde_json::to_vec(&model.config).unwrap_or_default());
    model.visit(&mut Hash(&mut hasher));
    let digest = hasher.finalize();
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

impl_roles!(SwinIr, |m| channels: m.config.embed_dim, scale: m.config.upscale,
    fingerprint: m.fingerprint.as_ref().clone());

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::weights::swinir_names::{
        basicsr_to_burn_key, burn_to_basicsr_key, is_recomputed_buffer,
    };
    use burn::backend::Flex;
    use burn::tensor::Distribution;

    type B = Flex;

    fn small(upsampler: Upsampler, scale: usize) -> SwinIrConfig {
        SwinIrConfig {
            upscale: scale,
            img_size: 16,
            window_size: 4,
            embed_dim: 8,
            depths: vec![2, 1],
            num_heads: vec![2, 4],
            mlp_ratio: 2.0,
            upsampler,
            ..SwinIrConfig::default()
        }
    }

    #[test]
    fn presets_validate_and_bad_configs_fail() {
        let l = SwinIrConfig::from_arch("swinir-light", 2).unwrap();
        assert_eq!(
            (l.embed_dim, l.window_size, l.upsampler),
            (60, 8, Upsampler::PixelShuffleDirect)
        );
        let c = SwinIrConfig::from_arch("swinir-classical", 4).unwrap();
        assert_eq!(
            (c.embed_dim, c.depths.len(), c.upsampler),
            (180, 6, Upsampler::PixelShuffle)
        );
        SwinIrConfig::from_arch("swinir-tiny", 3).unwrap();
        // Scale 1 (denoising) is BasicSR's no-up-sampler variant.
        let d = SwinIrConfig::from_arch("swinir-tiny", 1).unwrap();
        assert_eq!((d.upscale, d.upsampler), (1, Upsampler::None));
        assert!(SwinIrConfig::from_arch("swinir-huge", 2).is_err());
        let bad = [
            SwinIrConfig {
                num_heads: vec![7; 4],
                ..l.clone()
            },
            SwinIrConfig {
                num_heads: vec![6; 3],
                ..l.clone()
            },
            SwinIrConfig {
                upscale: 1,
                ..l.clone()
            },
            SwinIrConfig {
                upsampler: Upsampler::NearestConv,
                ..l.clone()
            },
            SwinIrConfig {
                upsampler: Upsampler::None,
                ..l.clone()
            },
            SwinIrConfig {
                window_size: 0,
                ..l.clone()
            },
            SwinIrConfig {
                in_chans: 1,
                ..l.clone()
            },
            SwinIrConfig {
                img_range: f32::NAN,
                ..l.clone()
            },
        ];
        for b in bad {
            assert!(b.validate().is_err(), "{b:?} accepted");
        }
    }

    #[test]
    fn light_has_basicsr_parameter_count() {
        // Hand count of BasicSR's SwinIR lightweight x2 layers (embed 60, 4x6, window 8, mlp 2;
        // relative_position_index / attn_mask are buffers, not parameters).
        let cfg = SwinIrConfig::from_arch("swinir-light", 2).unwrap();
        let m = cfg.init_seeded::<B>(&Default::default(), 1);
        assert_eq!(m.num_params(), 910_152);
    }

    #[test]
    fn shapes_for_every_upsampler_and_odd_sizes() {
        let device = Default::default();
        let cases = [
            (Upsampler::PixelShuffle, 2),
            (Upsampler::PixelShuffle, 3),
            (Upsampler::PixelShuffle, 4),
            (Upsampler::PixelShuffleDirect, 2),
            (Upsampler::PixelShuffleDirect, 4),
            (Upsampler::NearestConv, 4),
            (Upsampler::None, 1),
        ];
        for (up, s) in cases {
            let mut cfg = small(up, s);
            cfg.resi_connection = if s == 4 {
                ResiConnection::ThreeConv
            } else {
                ResiConnection::OneConv
            };
            let m = cfg.init_seeded::<B>(&device, 3);
            let x = Tensor::<B, 4>::random([2, 3, 5, 9], Distribution::Uniform(0.0, 1.0), &device);
            assert_eq!(
                m.forward(x.clone()).dims(),
                [2, 3, 5 * s, 9 * s],
                "{up:?} x{s}"
            );
            assert_eq!(m.features(x).dims(), [2, 8, 5, 9]);
        }
    }

    #[test]
    fn mask_matches_basicsr_regions() {
        // 8x8 grid, window 4, shift 2: window (1,1) holds tokens from 4 regions.
        let m = shifted_window_mask(8, 8, 4, 2);
        let (n, nw) = (16, 4);
        assert_eq!(m.len(), nw * n * n);
        // Window 0 lies entirely in region (0,0): no masking.
        assert!(m[..n * n].iter().all(|&v| v == 0.0));
        // Window 3 (bottom-right): token 0 (row 4, col 4) region (1,1); token 3 (row 4, col 7)
        // region (1,2); token 2 (row 4, col 6) region (1,2).
        let w3 = &m[3 * n * n..];
        assert_eq!(w3[0 * n + 3], -100.0);
        assert_eq!(w3[2 * n + 3], 0.0);
        assert_eq!(w3[0 * n + 1], 0.0);
        // Token 15 (row 7, col 7) region (2,2) differs from token 11 (row 6, col 7) region (2,2)?
        // Row 6 >= 8 - 2: region 2, so same.
        assert_eq!(w3[11 * n + 15], 0.0);
        assert_eq!(w3[5 * n + 15], -100.0);
        // Symmetric, zero diagonal.
        for a in 0..n {
            assert_eq!(w3[a * n + a], 0.0);
            for b in 0..n {
                assert_eq!(w3[a * n + b], w3[b * n + a]);
            }
        }
    }

    #[test]
    fn relative_index_matches_basicsr_formula() {
        let idx = relative_position_index(3);
        assert_eq!(idx.len(), 81);
        // Token 0 with itself: offset (0,0) -> (2)*(5)+2 = 12; token 0 vs 8 (2,2 apart) -> 0.
        assert_eq!(idx[0], 12);
        assert_eq!(idx[8], 0);
        assert_eq!(idx[8 * 9], 24);
        assert!(idx.iter().all(|&i| (0..25).contains(&i)));
    }

    #[test]
    fn shifted_attention_is_local_in_the_padded_frame() {
        // A change in one corner pixel must not reach the far corner of a large map in a
        // one-block (unshifted) network: windows are independent.
        let device = Default::default();
        let cfg = SwinIrConfig {
            depths: vec![1],
            num_heads: vec![2],
            ..small(Upsampler::PixelShuffleDirect, 2)
        };
        let m = cfg.init_seeded::<B>(&device, 5);
        let x = Tensor::<B, 4>::random([1, 3, 16, 16], Distribution::Uniform(0.0, 1.0), &device);
        let mut v = x.to_data().into_vec::<f32>().unwrap();
        v[0] += 0.5;
        let x2 = Tensor::<B, 4>::from_data(TensorData::new(v, [1, 3, 16, 16]), &device);
        let d = (m.features(x) - m.features(x2)).abs();
        let far = d
            .clone()
            .slice([0..1, 0..8, 8..16, 8..16])
            .max()
            .into_scalar();
        let near = d.slice([0..1, 0..8, 0..4, 0..4]).max().into_scalar();
        assert_eq!(far, 0.0);
        assert!(near > 0.0);
    }

    #[test]
    fn padding_equals_explicit_reflect_then_crop() {
        let device = Default::default();
        let cfg = small(Upsampler::PixelShuffle, 2);
        let m = cfg.init_seeded::<B>(&device, 9);
        let x = Tensor::<B, 4>::random([1, 3, 6, 7], Distribution::Uniform(0.0, 1.0), &device);
        let padded = x
            .clone()
            .pad([(0, 2), (0, 1)], burn::tensor::ops::PadMode::Reflect);
        assert_eq!(padded.dims(), [1, 3, 8, 8]);
        let full = m.forward(padded).slice([0..1, 0..3, 0..12, 0..14]);
        let y = m.forward(x);
        let diff = (full - y).abs().max().into_scalar();
        assert!(diff < 1e-6, "{diff}");
        // Mirror beyond the size (PyTorch refuses) still gives a valid padded map.
        let tiny = Tensor::<B, 4>::random([1, 3, 2, 3], Distribution::Uniform(0.0, 1.0), &device);
        assert_eq!(m.forward(tiny).dims(), [1, 3, 4, 6]);
    }

    #[test]
    fn seeding_and_fingerprint() {
        let device = Default::default();
        let cfg = small(Upsampler::PixelShuffleDirect, 2);
        let a = cfg.init_seeded::<B>(&device, 7);
        let b = cfg.init_seeded::<B>(&device, 7);
        let c = cfg.init_seeded::<B>(&device, 8);
        assert_eq!(Teacher::fingerprint(&a), Teacher::fingerprint(&b));
        assert_ne!(Teacher::fingerprint(&a), Teacher::fingerprint(&c));
        // LayerNorm initialised to 1/0, Linear biases 0.
        let g = a.norm.gamma.val().into_data().into_vec::<f32>().unwrap();
        assert!(g.iter().all(|&v| v == 1.0));
        let qb = a.layers[0].residual_group.blocks[0]
            .attn
            .qkv
            .bias
            .as_ref()
            .unwrap()
            .val();
        assert_eq!(qb.abs().max().into_scalar(), 0.0);
    }

    #[test]
    fn key_names_round_trip() {
        let cases = [
            (
                "layers.0.residual_group.blocks.1.norm1.weight",
                "layers.0.residual_group.blocks.1.norm1.gamma",
                true,
            ),
            ("layers.2.conv.weight", "layers.2.conv.0.weight", true),
            ("layers.2.conv.4.bias", "layers.2.conv.2.bias", false),
            ("conv_after_body.weight", "conv_after_body.0.weight", true),
            (
                "conv_before_upsample.0.weight",
                "conv_before_upsample.weight",
                true,
            ),
            ("upsample.2.weight", "upsample.1.weight", true),
            ("patch_embed.norm.bias", "patch_embed.norm.beta", true),
            ("norm.weight", "norm.gamma", true),
            (
                "layers.0.residual_group.blocks.0.attn.qkv.weight",
                "layers.0.residual_group.blocks.0.attn.qkv.weight",
                true,
            ),
        ];
        for (b, burn, one) in cases {
            assert_eq!(basicsr_to_burn_key(b).as_deref(), Some(burn), "{b}");
            assert_eq!(burn_to_basicsr_key(burn, one), b, "{burn}");
        }
        assert_eq!(basicsr_to_burn_key("upsample.1.weight"), None);
        assert!(is_recomputed_buffer(
            "layers.0.residual_group.blocks.1.attn_mask"
        ));
    }
}
