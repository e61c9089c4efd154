//! `permute` whose result is laid out contiguously: on `flex` (and `Autodiff<Flex>`) one host
//! gather each way, on every other backend Burn's `permute` (a view; layout is theirs to choose).
//!
//! Why: SwinIR's window partition/reverse, attention head split/merge and token/map transposes
//! are permutes followed by reshapes; `flex` materialises each with a generic strided iterator
//! (that iterator, with the attention's broadcast adds, was ~45% of a SwinIR-tiny step on 2 cores
//! by `perf`), and autodiff's backward repeats it. Here a permute is one copy of whole output rows (a plain copy when the
//! innermost axis stays innermost), and its backward the inverse permute, the same way. Pure
//! copies: the values are bit-identical to the tensor ops'. Chosen by type, as `models::conv`.

use super::conv::{AdFlex, AdTensor, cast, primitive, same, to_flex};
use burn::backend::Flex;
use burn::backend::autodiff::checkpoint::{base::Checkpointer, strategy::NoCheckpointing};
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::tensor::{DType, Tensor, TensorPrimitive, backend::Backend};
use rayon::prelude::*;

/// `x.permute(axes)`, contiguous on `flex`.
pub fn permute_contiguous<B: Backend, const D: usize>(
    x: Tensor<B, D>,
    axes: [usize; D],
) -> Tensor<B, D> {
    if !(super::conv::fast_conv_enabled() && x.dtype() == DType::F32) {
        return x.permute(axes);
    }
    let dims = x.dims();
    let x = match cast::<_, Tensor<Flex, D>>(x) {
        Ok(x) => {
            let y = permute_flex(&primitive(x), &dims, &axes);
            return same(Tensor::<Flex, D>::from_primitive(TensorPrimitive::Float(y)));
        }
        Err(x) => x,
    };
    match cast::<_, Tensor<AdFlex, D>>(x) {
        Ok(x) => same(autodiff_permute(x, dims, axes)),
        Err(x) => x.permute(axes),
    }
}

/// The permuted copy of `x` (of shape `dims`, any non-negative strides), contiguous.
fn permute_flex(x: &FlexTensor, dims: &[usize], axes: &[usize]) -> FlexTensor {
    count_pass();
    if x.layout().strides().iter().any(|&s| s < 0) {
        // A flipped view (not made by the models): flex's own copy first.
        return permute_flex(&x.to_contiguous(), dims, axes);
    }
    let layout = x.layout();
    let shape: Vec<usize> = axes.iter().map(|&a| dims[a]).collect();
    let strides: Vec<isize> = axes.iter().map(|&a| layout.strides()[a]).collect();
    let out = gather(x.storage::<f32>(), &shape, &strides, layout.start_offset());
    to_flex(out, shape)
}

/// Rows of the output one rayon task copies (about 64 KiB of f32).
const TASK_ELEMENTS: usize = 16_384;

/// The strided view (`shape`, `strides`, `offset`) of `src` as a new contiguous buffer, in
/// output order: row by row over the last axis, rows split into fixed tasks.
fn gather(src: &[f32], shape: &[usize], strides: &[isize], offset: usize) -> Vec<f32> {
    let total: usize = shape.iter().product();
    let mut out = vec![0f32; total];
    let Some((&inner, outer)) = shape.split_last() else {
        out.copy_from_slice(&src[offset..offset + total]);
        return out;
    };
    if total == 0 {
        return out;
    }
    let inner_stride = strides[outer.len()];
    let rows_per_task = (TASK_ELEMENTS / inner).max(1);
    out.par_chunks_mut(rows_per_task * inner)
        .enumerate()
        .for_each(|(task, chunk)| {
            let mut index = unravel(task * rows_per_task, outer);
            for row in chunk.chunks_exact_mut(inner) {
                let base = offset as isize
                    + index
                        .iter()
                        .zip(strides)
                        .map(|(&i, &s)| i as isize * s)
                        .sum::<isize>();
                copy_row(src, base, inner_stride, row);
                advance(&mut index, outer);
            }
        });
    out
}

fn copy_row(src: &[f32], base: isize, stride: isize, row: &mut [f32]) {
    let base = base as usize;
    if stride == 1 {
        row.copy_from_slice(&src[base..base + row.len()]);
    } else {
        let stride = stride as usize;
        for (k, v) in row.iter_mut().enumerate() {
            *v = src[base + k * stride];
        }
    }
}

/// The multi-index of row `row` over the outer axes `outer` (row-major).
fn unravel(mut row: usize, outer: &[usize]) -> Vec<usize> {
    let mut index = vec![0; outer.len()];
    for (i, &n) in index.iter_mut().zip(outer).rev() {
        *i = row % n;
        row /= n;
    }
    index
}

/// The next row's multi-index (row-major odometer).
fn advance(index: &mut [usize], outer: &[usize]) {
    for (i, &n) in index.iter_mut().zip(outer).rev() {
        *i += 1;
        if *i < n {
            return;
        }
        *i = 0;
    }
}

/// Host gathers run (both directions), so a test can see that the dispatch took them.
#[cfg(test)]
static HOST_PASSES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn count_pass() {
    #[cfg(test)]
    HOST_PASSES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

/// Output dims and the inverse permutation: what the backward needs.
type PermuteState = (Vec<usize>, Vec<usize>);

fn autodiff_permute<const D: usize>(
    x: Tensor<AdFlex, D>,
    dims: [usize; D],
    axes: [usize; D],
) -> Tensor<AdFlex, D> {
    let x: AdTensor = primitive(x);
    let y = permute_flex(&x.primitive, &dims, &axes);
    let prep = PermuteBackward
        .prepare::<NoCheckpointing>([x.node.clone()])
        .compute_bound()
        .stateful();
    let y = match prep {
        OpsKind::Tracked(prep) => {
            let out_dims = axes.iter().map(|&a| dims[a]).collect();
            let mut inverse = vec![0; D];
            for (i, &a) in axes.iter().enumerate() {
                inverse[a] = i;
            }
            prep.finish((out_dims, inverse), y)
        }
        OpsKind::UnTracked(prep) => prep.finish(y),
    };
    Tensor::from_primitive(TensorPrimitive::Float(y))
}

/// The permute's backward: the inverse permute of the output gradient.
#[derive(Debug)]
struct PermuteBackward;

impl Backward<Flex, 1> for PermuteBackward {
    type State = PermuteState;

    fn backward(self, ops: Ops<PermuteState, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let dy = grads.consume::<Flex>(&ops.node);
        let (out_dims, inverse) = ops.state;
        if let [Some(node)] = ops.parents {
            grads.register::<Flex>(node.id, permute_flex(&dy, &out_dims, &inverse));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;

    fn values<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
        t.into_data().to_vec::<f32>().expect("f32")
    }

    /// Values and input gradient of `sum(permute(x) * a)`, host gather vs Burn's permute, on a
    /// contiguous input and on a strided view of one (a transpose).
    fn check<const D: usize>(dims: [usize; D], axes: [usize; D]) {
        let dev = Default::default();
        let x = Tensor::<Flex, D>::random(dims, Distribution::Uniform(-1.0, 1.0), &dev);
        let out: [usize; D] = axes.map(|a| dims[a]);
        let a = Tensor::<AdFlex, D>::random(out, Distribution::Uniform(-1.0, 1.0), &dev);
        let run = |fast: bool, view: bool| {
            let xa = Tensor::<AdFlex, D>::from_inner(x.clone()).require_grad();
            // A strided input: transpose twice (a view), the values unchanged.
            let input = if view {
                xa.clone().swap_dims(0, D - 1).swap_dims(0, D - 1)
            } else {
                xa.clone()
            };
            let y = if fast {
                autodiff_permute(input, dims, axes)
            } else {
                input.permute(axes)
            };
            let grads = (y.clone() * a.clone()).sum().backward();
            (
                values(y.inner()),
                values(xa.grad(&grads).expect("gradient")),
            )
        };
        for view in [false, true] {
            let (fast, reference) = (run(true, view), run(false, view));
            assert_eq!(fast.0, reference.0, "values, {dims:?} {axes:?}");
            assert_eq!(fast.1, reference.1, "input gradient, {dims:?} {axes:?}");
        }
        let inference = permute_flex(&primitive(x.clone()), &dims, &axes);
        let inference = Tensor::<Flex, D>::from_primitive(TensorPrimitive::Float(inference));
        assert_eq!(values(inference), values(x.permute(axes)), "flex, {dims:?}");
    }

    #[test]
    fn matches_burn_permute_for_swinir_shapes() {
        check([2, 3, 8, 3, 8, 5], [0, 1, 3, 2, 4, 5]); // window partition
        check([4, 7, 3, 2, 6], [2, 0, 3, 1, 4]); // qkv split
        check([3, 2, 7, 5], [0, 2, 1, 3]); // head merge
        check([2, 9, 5], [0, 2, 1]); // tokens <-> map
        check([1, 1, 1], [2, 1, 0]);
        check([5], [0]);
    }

    #[test]
    fn dispatch_takes_the_host_gather_on_flex_and_autodiff_flex() {
        use std::sync::atomic::Ordering::Relaxed;
        if !crate::models::conv::fast_conv_enabled() {
            return; // IDC_FLEX_FAST_CONV=0 in this process: Burn's permute is the path
        }
        let dev = Default::default();
        let x = Tensor::<Flex, 3>::random([2, 3, 4], Distribution::Default, &dev);
        let before = HOST_PASSES.load(Relaxed);
        let _ = permute_contiguous(x.clone(), [0, 2, 1]);
        let xa = Tensor::<AdFlex, 3>::from_inner(x).require_grad();
        let _ = permute_contiguous(xa, [2, 1, 0]).sum().backward();
        assert!(HOST_PASSES.load(Relaxed) >= before + 3);
    }
}
