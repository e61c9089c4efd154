//! `conv2d` for the models: on `flex` (and `Autodiff<Flex>`) a host forward (a direct AVX-512
//! kernel for 3x3 "same" convs where the CPU has it, `direct`; im2col + `gemm` otherwise) and a
//! custom backward; Burn's own `conv2d` on every other backend.
//!
//! Why: Burn 0.21 derives conv2d's weight gradient as a convolution whose kernel is the whole
//! output gradient (48x48 at EDSR's patch size), which `flex` runs at a third of the speed of the
//! same product as one matrix multiply (`benches/conv_grad`). Here the weight gradient is
//! `dY cols^T` per image band, the input gradient is the forward of the flipped, transposed
//! kernel, the bias gradient a sum. The fast path covers what the models use: stride 1,
//! dilation 1, one group, zero padding below the kernel size, f32; anything else goes to Burn.
//! The choice is by type (`TypeId`, as `condense::host_cf`), so CUDA keeps Burn's path untouched.
//! `IDC_FLEX_FAST_CONV=0` (read once per process) turns the fast path off, for A/B benches.

mod direct;
mod geom;
mod host;

use burn::backend::Flex;
use burn::backend::autodiff::checkpoint::{base::Checkpointer, strategy::NoCheckpointing};
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::{Autodiff, NodeId};
use burn::backend::flex::FlexTensor;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::tensor::ops::PaddedConvOptions;
use burn::tensor::{DType, Tensor, TensorData, TensorPrimitive, backend::Backend};
use geom::Geom;
pub(crate) use geom::with_scratch;
pub(crate) use host::matmul_rows;
use std::any::Any;
use std::borrow::Cow;
use std::sync::OnceLock;

pub(super) type AdFlex = Autodiff<Flex>;

/// Passes run by the fast path (forwards and backwards), so tests can see it was taken.
#[cfg(test)]
static FAST_PASSES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn count_pass() {
    #[cfg(test)]
    FAST_PASSES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}
pub(super) type AdTensor = burn::tensor::ops::FloatTensor<AdFlex>;

/// False when `IDC_FLEX_FAST_CONV=0` (read once): then `flex` runs Burn's conv2d (and the
/// tensor-op pixel shuffle, `models::shuffle`) too.
pub fn fast_conv_enabled() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var("IDC_FLEX_FAST_CONV").map_or(true, |v| v.trim() != "0"))
}

/// `conv.forward(x)` through [`conv2d`]: same parameters, same explicit padding. `Same`/`Valid`
/// padding (not used by the models) goes through Burn's module.
pub fn forward<B: Backend>(conv: &Conv2d<B>, x: Tensor<B, 4>) -> Tensor<B, 4> {
    let PaddingConfig2d::Explicit(top, left, bottom, right) = conv.padding else {
        return conv.forward(x);
    };
    let options = PaddedConvOptions::asymmetric(
        conv.stride,
        [top, left],
        [bottom, right],
        conv.dilation,
        conv.groups,
    );
    conv2d(
        x,
        conv.weight.val(),
        conv.bias.as_ref().map(|b| b.val()),
        options,
    )
}

/// Drop-in for `burn::tensor::module::conv2d`: the fast path on `flex` / `Autodiff<Flex>` when
/// the convolution is one it covers (module docs), Burn's otherwise.
pub fn conv2d<B: Backend>(
    x: Tensor<B, 4>,
    weight: Tensor<B, 4>,
    bias: Option<Tensor<B, 1>>,
    options: impl Into<PaddedConvOptions<2>>,
) -> Tensor<B, 4> {
    let options = options.into();
    let geom = fast_conv_enabled()
        .then(|| fast_geom(&x, &weight, bias.as_ref(), &options))
        .flatten();
    let Some(g) = geom else {
        return burn::tensor::module::conv2d(x, weight, bias, options);
    };
    let parts = match cast::<_, Parts<Flex>>((x, weight, bias)) {
        Ok((x, w, b)) => return same(flex_conv(x, w, b, &g)),
        Err(parts) => parts,
    };
    let parts = match cast::<_, Parts<AdFlex>>(parts) {
        Ok((x, w, b)) => return same(autodiff_conv(x, w, b, &g)),
        Err(parts) => parts,
    };
    let (x, weight, bias) = parts;
    burn::tensor::module::conv2d(x, weight, bias, options)
}

type Parts<B> = (Tensor<B, 4>, Tensor<B, 4>, Option<Tensor<B, 1>>);

/// `t` as a `U` when `T` is `U` (how a generic `B` becomes `Flex` without `unsafe`), else `t`.
pub(super) fn cast<T: 'static, U: 'static>(t: T) -> Result<U, T> {
    let mut slot = Some(t);
    match (&mut slot as &mut dyn Any).downcast_mut::<Option<U>>() {
        Some(u) => Ok(u.take().expect("slot filled")),
        None => Err(slot.expect("slot untouched")),
    }
}

/// `t` as a `U` where the caller has just seen that `T` is `U`.
pub(super) fn same<T: 'static, U: 'static>(t: T) -> U {
    cast(t).unwrap_or_else(|_| unreachable!("types checked equal"))
}

/// The geometry when the fast path covers this convolution (module docs), else None.
fn fast_geom<B: Backend>(
    x: &Tensor<B, 4>,
    weight: &Tensor<B, 4>,
    bias: Option<&Tensor<B, 1>>,
    options: &PaddedConvOptions<2>,
) -> Option<Geom> {
    let o = &options.options;
    let simple = o.stride == [1, 1] && o.dilation == [1, 1] && o.groups == 1;
    let f32s = x.dtype() == DType::F32
        && weight.dtype() == DType::F32
        && bias.is_none_or(|b| b.dtype() == DType::F32);
    let ([n, c, h, w], [co, ci, kh, kw]) = (x.dims(), weight.dims());
    let [pt, pl] = o.padding;
    let [pb, pr] = options.padding_end.unwrap_or(o.padding);
    let shapes = ci == c
        && bias.is_none_or(|b| b.dims() == [co])
        && n * c * h * w * co > 0
        && pt.max(pb) < kh
        && pl.max(pr) < kw;
    if !(simple && f32s && shapes) {
        return None;
    }
    let ho = (h + pt + pb).checked_sub(kh)? + 1;
    let wo = (w + pl + pr).checked_sub(kw)? + 1;
    Some(Geom {
        n,
        c,
        h,
        w,
        co,
        kh,
        kw,
        pt,
        pl,
        ho,
        wo,
    })
}

/// `t`'s values as a contiguous f32 slice: `flex`'s own buffer when it is one (no copy).
pub(super) fn host_f32(t: &FlexTensor) -> Cow<'_, [f32]> {
    if t.is_contiguous() {
        let (start, n) = (t.layout().start_offset(), t.layout().num_elements());
        return Cow::Borrowed(&t.storage::<f32>()[start..start + n]);
    }
    let t = t.to_contiguous();
    let (start, n) = (t.layout().start_offset(), t.layout().num_elements());
    Cow::Owned(t.storage::<f32>()[start..start + n].to_vec())
}

pub(super) fn to_flex(values: Vec<f32>, shape: impl Into<burn::tensor::Shape>) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}

pub(super) fn primitive<B: Backend, const D: usize>(
    t: Tensor<B, D>,
) -> burn::tensor::ops::FloatTensor<B> {
    t.into_primitive().tensor()
}

/// The forward on `flex` tensors, `[n, co, ho, wo]`.
fn forward_flex(x: &FlexTensor, w: &FlexTensor, b: Option<&FlexTensor>, g: &Geom) -> FlexTensor {
    count_pass();
    let bias = b.map(host_f32);
    let y = host::forward(&host_f32(x), &host_f32(w), bias.as_deref(), g);
    to_flex(y, [g.n, g.co, g.ho, g.wo])
}

fn flex_conv(
    x: Tensor<Flex, 4>,
    w: Tensor<Flex, 4>,
    b: Option<Tensor<Flex, 1>>,
    g: &Geom,
) -> Tensor<Flex, 4> {
    let y = forward_flex(&primitive(x), &primitive(w), b.map(primitive).as_ref(), g);
    Tensor::from_primitive(TensorPrimitive::Float(y))
}

fn autodiff_conv(
    x: Tensor<AdFlex, 4>,
    w: Tensor<AdFlex, 4>,
    b: Option<Tensor<AdFlex, 1>>,
    g: &Geom,
) -> Tensor<AdFlex, 4> {
    let (x, w, b) = (primitive(x), primitive(w), b.map(primitive));
    let y = forward_flex(
        &x.primitive,
        &w.primitive,
        b.as_ref().map(|b| &b.primitive),
        g,
    );
    let y = match &b {
        Some(b) => track([&x, &w, b], y, g),
        None => track([&x, &w], y, g),
    };
    Tensor::from_primitive(TensorPrimitive::Float(y))
}

/// Registers the forward's output `y` with [`FastConvBackward`] over `parents` (`x`, `w`, and
/// the bias when there is one).
fn track<const N: usize>(parents: [&AdTensor; N], y: FlexTensor, g: &Geom) -> AdTensor
where
    FastConvBackward: Backward<Flex, N, State = ConvState>,
{
    let prep = FastConvBackward
        .prepare::<NoCheckpointing>(parents.map(|t| t.node.clone()))
        .compute_bound()
        .stateful();
    match prep {
        OpsKind::Tracked(mut prep) => {
            let state = (prep.checkpoint(parents[0]), prep.checkpoint(parents[1]), *g);
            prep.finish(state, y)
        }
        OpsKind::UnTracked(prep) => prep.finish(y),
    }
}

/// Checkpointed input and weight nodes, and the geometry.
type ConvState = (NodeId, NodeId, Geom);

/// The backward of the fast conv: parents are `[x, weight]` or `[x, weight, bias]`.
#[derive(Debug)]
struct FastConvBackward;

impl<const N: usize> Backward<Flex, N> for FastConvBackward {
    type State = ConvState;

    fn backward(
        self,
        ops: Ops<ConvState, N>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        count_pass();
        let dy = grads.consume::<Flex>(&ops.node);
        let (x_id, w_id, g) = ops.state;
        let x = checkpointer.retrieve_node_output::<FlexTensor>(x_id);
        let w = checkpointer.retrieve_node_output::<FlexTensor>(w_id);
        let dy = host_f32(&dy);
        let mut parents = ops.parents.into_iter();
        let (px, pw, pb) = (
            parents.next().flatten(),
            parents.next().flatten(),
            parents.next().flatten(),
        );
        if let Some(node) = px {
            let dx = host::input_grad(&host_f32(&w), &dy, &g);
            grads.register::<Flex>(node.id, to_flex(dx, [g.n, g.c, g.h, g.w]));
        }
        if let Some(node) = pw {
            let dw = host::weight_grad(&host_f32(&x), &dy, &g);
            grads.register::<Flex>(node.id, to_flex(dw, [g.co, g.c, g.kh, g.kw]));
        }
        if let Some(node) = pb {
            grads.register::<Flex>(node.id, to_flex(host::bias_grad(&dy, &g), [g.co]));
        }
    }
}

/// The fast path's backward passes alone (symmetric padding `pad`), for `benches/conv_grad`;
/// None off `flex` or where the fast path does not apply.
#[doc(hidden)]
pub mod passes {
    use super::*;

    fn on_flex<B: Backend>(
        x: Tensor<B, 4>,
        w: Tensor<B, 4>,
        dy: Tensor<B, 4>,
        pad: [usize; 2],
    ) -> Option<(Geom, FlexTensor, FlexTensor, FlexTensor)> {
        let options = burn::tensor::ops::ConvOptions::new([1, 1], pad, [1, 1], 1);
        let g = fast_geom(&x, &w, None, &options.into())?;
        let (x, w, dy) =
            cast::<_, (Tensor<Flex, 4>, Tensor<Flex, 4>, Tensor<Flex, 4>)>((x, w, dy)).ok()?;
        Some((g, primitive(x), primitive(w), primitive(dy)))
    }

    fn back<B: Backend>(values: Vec<f32>, shape: [usize; 4]) -> Option<Tensor<B, 4>> {
        let t = Tensor::<Flex, 4>::from_primitive(TensorPrimitive::Float(to_flex(values, shape)));
        cast(t).ok()
    }

    /// Input gradient `[n, c, h, w]` of the conv of `x` by `w`, for output gradient `dy`.
    pub fn input_grad<B: Backend>(
        x: Tensor<B, 4>,
        w: Tensor<B, 4>,
        dy: Tensor<B, 4>,
        pad: [usize; 2],
    ) -> Option<Tensor<B, 4>> {
        let (g, _, w, dy) = on_flex(x, w, dy, pad)?;
        back(
            host::input_grad(&host_f32(&w), &host_f32(&dy), &g),
            [g.n, g.c, g.h, g.w],
        )
    }

    /// Weight gradient `[co, c, kh, kw]` of the conv of `x` by `w`, for output gradient `dy`.
    pub fn weight_grad<B: Backend>(
        x: Tensor<B, 4>,
        w: Tensor<B, 4>,
        dy: Tensor<B, 4>,
        pad: [usize; 2],
    ) -> Option<Tensor<B, 4>> {
        let (g, x, _, dy) = on_flex(x, w, dy, pad)?;
        back(
            host::weight_grad(&host_f32(&x), &host_f32(&dy), &g),
            [g.co, g.c, g.kh, g.kw],
        )
    }
}

#[cfg(test)]
mod tests;
