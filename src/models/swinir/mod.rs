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

use crate::models::edsr::{DIV2K_RGB_MEAN, pixel_shuffle};
use crate::models::permute::permute_contiguous;
use crate::models::softmax::softmax_last;
use crate::models::{FeatureExtractor, Teacher, conv};
use burn::module::{Module, Param};
use burn::nn::conv::Conv2d;
use burn::nn::{LayerNorm, Linear};
use burn::tensor::activation::{gelu, leaky_relu};
use burn::tensor::{Int, Tensor, TensorData, backend::Backend};
use sha2::{Digest, Sha256};
use std::sync::Arc;

mod config;
#[cfg(test)]
mod tests;

pub use config::{RECON_FEAT, ResiConnection, SwinIrConfig, Upsampler};

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
        let attn = softmax_last(attn);
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
