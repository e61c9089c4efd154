//! `softmax` over the last axis: under `Autodiff<Flex>` one host pass per row each way, on every
//! other backend (plain `flex` too) Burn's `softmax`.
//!
//! Why: under autodiff, Burn's softmax is max / subtract / exp / sum / divide, each a broadcast
//! and a new buffer, and autodiff's backward of each. Here a row is one pass (libm's `expf`, as
//! Burn's, and an exact division: the values are Burn's to the last bits but for the sum's order)
//! and the backward is the closed form `dx = y (dy - sum(dy y))` from the saved output. Rows are
//! independent and summed in a fixed order, so results are identical run to run. Chosen by type,
//! as `models::conv`; `IDC_FLEX_FAST_CONV=0` turns it off with the other fast paths.
//!
//! A vectorised polynomial `exp` (within 3e-7 of `expf`) was tried and dropped: it made the
//! softmax cheaper still, but the seeded 500-step SwinIR-tiny training of
//! `integration-tests/tests/swinir.rs` then ended at +0.19 dB PSNR-Y over bicubic (the test
//! asserts +0.2; its doc records +0.44 with Burn's softmax): short transformer training is that
//! sensitive to last-bit changes.

use super::conv::{AdFlex, AdTensor, cast, primitive, same, to_flex};
use burn::backend::Flex;
use burn::backend::autodiff::checkpoint::{base::Checkpointer, strategy::NoCheckpointing};
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::tensor::activation::softmax;
use burn::tensor::{DType, Tensor, TensorPrimitive, backend::Backend};
use rayon::prelude::*;

/// `softmax(x, D - 1)`: the host pass under autodiff on `flex`, Burn's elsewhere (plain `flex`
/// included: its inference softmax is already one pass, and the A/B showed no gain there).
pub fn softmax_last<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    if !(super::conv::fast_conv_enabled() && x.dtype() == DType::F32) {
        return softmax(x, D - 1);
    }
    let dims = x.dims();
    match cast::<_, Tensor<AdFlex, D>>(x) {
        Ok(x) => same(autodiff_softmax(x, dims)),
        Err(x) => softmax(x, D - 1),
    }
}

/// Rows one rayon task handles (about 64 KiB of f32 at SwinIR's 64-token rows).
const TASK_ELEMENTS: usize = 16_384;

fn softmax_flex(x: &FlexTensor, dims: &[usize]) -> FlexTensor {
    count_pass();
    let x = x.to_contiguous();
    let src = x.storage::<f32>();
    let inner = dims.last().copied().unwrap_or(1).max(1);
    let mut out = vec![0f32; src.len()];
    let rows_per_task = (TASK_ELEMENTS / inner).max(1);
    out.par_chunks_mut(rows_per_task * inner)
        .zip(src.par_chunks(rows_per_task * inner))
        .for_each(|(dst, src)| {
            for (y, x) in dst.chunks_exact_mut(inner).zip(src.chunks_exact(inner)) {
                softmax_row(x, y);
            }
        });
    to_flex(out, dims.to_vec())
}

/// `y = exp(x - max x) / sum`.
fn softmax_row(x: &[f32], y: &mut [f32]) {
    let max = lanes(x, f32::NEG_INFINITY, |acc, v| acc.max(v), f32::max);
    for (y, &x) in y.iter_mut().zip(x) {
        *y = x - max;
    }
    for y in y.iter_mut() {
        *y = y.exp();
    }
    let sum = lanes(y, 0.0, |acc, v| acc + v, |a, b| a + b);
    for y in y.iter_mut() {
        *y /= sum;
    }
}

/// Lanes of a row reduction: a sequential fold is one long dependency chain the compiler may
/// not reorder (float sums), so eight independent lanes are folded, then combined in order
/// (a fixed order: the same result every run).
const LANES: usize = 8;

/// `combine` over the lanes of `fold(init, v)` taken every [`LANES`]-th element.
fn lanes(
    v: &[f32],
    init: f32,
    fold: impl Fn(f32, f32) -> f32,
    combine: impl Fn(f32, f32) -> f32,
) -> f32 {
    let mut acc = [init; LANES];
    let chunks = v.chunks_exact(LANES);
    let tail = chunks.remainder();
    for chunk in chunks {
        for (a, &x) in acc.iter_mut().zip(chunk) {
            *a = fold(*a, x);
        }
    }
    for (a, &x) in acc.iter_mut().zip(tail) {
        *a = fold(*a, x);
    }
    acc.into_iter().reduce(combine).unwrap_or(init)
}

/// Host passes run (both directions), so a test can see that the dispatch took them.
#[cfg(test)]
static HOST_PASSES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn count_pass() {
    #[cfg(test)]
    HOST_PASSES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

fn autodiff_softmax<const D: usize>(x: Tensor<AdFlex, D>, dims: [usize; D]) -> Tensor<AdFlex, D> {
    let x: AdTensor = primitive(x);
    let y = softmax_flex(&x.primitive, &dims);
    let prep = SoftmaxBackward
        .prepare::<NoCheckpointing>([x.node.clone()])
        .compute_bound()
        .stateful();
    let y = match prep {
        OpsKind::Tracked(prep) => prep.finish((y.clone(), dims.to_vec()), y),
        OpsKind::UnTracked(prep) => prep.finish(y),
    };
    Tensor::from_primitive(TensorPrimitive::Float(y))
}

/// The softmax's backward: `dx = y (dy - sum(dy y))` per row, from the saved output `y`.
#[derive(Debug)]
struct SoftmaxBackward;

impl Backward<Flex, 1> for SoftmaxBackward {
    type State = (FlexTensor, Vec<usize>);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let dy = grads.consume::<Flex>(&ops.node);
        let (y, dims) = ops.state;
        if let [Some(node)] = ops.parents {
            grads.register::<Flex>(node.id, softmax_grad(&y, &dy, &dims));
        }
    }
}

fn softmax_grad(y: &FlexTensor, dy: &FlexTensor, dims: &[usize]) -> FlexTensor {
    count_pass();
    let (y, dy) = (y.to_contiguous(), dy.to_contiguous());
    let (y, dy) = (y.storage::<f32>(), dy.storage::<f32>());
    let inner = dims.last().copied().unwrap_or(1).max(1);
    let mut out = vec![0f32; y.len()];
    let chunk = (TASK_ELEMENTS / inner).max(1) * inner;
    out.par_chunks_mut(chunk)
        .zip(y.par_chunks(chunk).zip(dy.par_chunks(chunk)))
        .for_each(|(dx, (y, dy))| {
            let rows = dx.chunks_exact_mut(inner).zip(y.chunks_exact(inner));
            for ((dx, y), dy) in rows.zip(dy.chunks_exact(inner)) {
                let dot = dot(y, dy);
                for ((dx, &y), &d) in dx.iter_mut().zip(y).zip(dy) {
                    *dx = y * (d - dot);
                }
            }
        });
    to_flex(out, dims.to_vec())
}

/// `sum(a b)` in [`LANES`] lanes.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (ta, tb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for ((s, &x), &y) in acc.iter_mut().zip(x).zip(y) {
            *s += x * y;
        }
    }
    for ((s, &x), &y) in acc.iter_mut().zip(ta).zip(tb) {
        *s += x * y;
    }
    acc.into_iter().sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Distribution, TensorData};
    use std::sync::atomic::Ordering::Relaxed;

    fn values<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
        t.into_data().to_vec::<f32>().expect("f32")
    }

    /// Relative to `|b|`, or to `floor` for values smaller than that: a gradient entry is
    /// `y (dy - dot)`, a difference of O(1) terms, so its own rounding is absolute (~1e-7).
    fn assert_close(what: &str, fast: &[f32], reference: &[f32], tol: f32, floor: f32) {
        assert_eq!(fast.len(), reference.len(), "{what}: lengths");
        for (i, (a, b)) in fast.iter().zip(reference).enumerate() {
            assert!(
                (a - b).abs() <= tol * b.abs().max(floor),
                "{what}[{i}]: {a} vs Burn's {b}"
            );
        }
    }

    /// Values and input gradient of `sum(softmax(x) * a)` against Burn's softmax, with
    /// attention-like rows: 64 wide, some entries masked by -100 (SwinIR's shift mask), and a
    /// 7-wide case whose rows do not fill a task evenly.
    fn check<const D: usize>(dims: [usize; D], mask_every: usize) {
        let dev = Default::default();
        let n: usize = dims.iter().product();
        let x = Tensor::<Flex, D>::random(dims, Distribution::Uniform(-4.0, 4.0), &dev);
        let mask: Vec<f32> = (0..n)
            .map(|i| if i % mask_every == 0 { -100.0 } else { 0.0 })
            .collect();
        let x = x + Tensor::<Flex, D>::from_data(TensorData::new(mask, dims), &dev);
        let a = Tensor::<AdFlex, D>::random(dims, Distribution::Uniform(-1.0, 1.0), &dev);
        let run = |fast: bool| {
            let xa = Tensor::<AdFlex, D>::from_inner(x.clone()).require_grad();
            let y = if fast {
                softmax_last(xa.clone())
            } else {
                softmax(xa.clone(), D - 1)
            };
            let grads = (y.clone() * a.clone()).sum().backward();
            (values(y), values(xa.grad(&grads).expect("grad")))
        };
        let before = HOST_PASSES.load(Relaxed);
        let (y, dx) = run(true);
        assert!(
            HOST_PASSES.load(Relaxed) >= before + 2,
            "host passes not taken"
        );
        let (y_ref, dx_ref) = run(false);
        assert_close("softmax", &y, &y_ref, 1e-5, 1e-3);
        assert_close("input gradient", &dx, &dx_ref, 1e-5, 0.1);
        let host = values(Tensor::<Flex, D>::from_primitive(TensorPrimitive::Float(
            softmax_flex(&primitive(x.clone()), &dims),
        )));
        assert_close("host softmax", &host, &y_ref, 1e-5, 1e-3);
    }

    #[test]
    fn attention_rows_match_burn() {
        check([3, 2, 64, 64], 5);
    }

    #[test]
    fn odd_rows_match_burn() {
        check([5, 7], 3);
        check([1, 1, 1], 2);
    }

    #[test]
    fn results_are_deterministic() {
        let dev = Default::default();
        let x = Tensor::<Flex, 3>::random([6, 64, 64], Distribution::Uniform(-4.0, 4.0), &dev);
        assert_eq!(values(softmax_last(x.clone())), values(softmax_last(x)));
    }
}
