//! PyTorch's `PixelShuffle`: on `flex` (and `Autodiff<Flex>`) one host pass each way, on every
//! other backend Burn's reshape + permute + reshape.
//!
//! Why: the permute of a 6-D view is a generic strided copy on `flex`, 5x PyTorch's time for
//! EDSR-tiny's x2 up-sampler (`benches/peer`, 20 ms of a 98 ms forward), and autodiff's backward
//! is the same copy again. The shuffle is a fixed permutation, so the host pass writes whole
//! output rows in order and its backward (the un-shuffle) reads them back: no arithmetic, so the
//! values are exactly those of the tensor-op path. The choice is by type, as `models::conv`.

use super::conv::{AdFlex, AdTensor, cast, host_f32, primitive, same, to_flex};
use burn::backend::Flex;
use burn::backend::autodiff::checkpoint::{base::Checkpointer, strategy::NoCheckpointing};
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::tensor::{DType, Tensor, TensorPrimitive, backend::Backend};
use rayon::prelude::*;

/// `[N, C r², H, W] -> [N, C, H r, W r]`, PyTorch's layout.
pub fn pixel_shuffle<B: Backend>(x: Tensor<B, 4>, r: usize) -> Tensor<B, 4> {
    let dims = x.dims();
    if !(super::conv::fast_conv_enabled() && x.dtype() == DType::F32 && covered(dims, r)) {
        return pixel_shuffle_ops(x, r);
    }
    let shape = Shape::new(dims, r);
    let x = match cast::<_, Tensor<Flex, 4>>(x) {
        Ok(x) => return same(from_flex(shuffle_flex(&primitive(x), shape))),
        Err(x) => x,
    };
    match cast::<_, Tensor<AdFlex, 4>>(x) {
        Ok(x) => same(autodiff_shuffle(x, shape)),
        Err(x) => pixel_shuffle_ops(x, r),
    }
}

/// The tensor-op shuffle: the reference, and the path of every other backend.
pub fn pixel_shuffle_ops<B: Backend>(x: Tensor<B, 4>, r: usize) -> Tensor<B, 4> {
    let [n, c, h, w] = x.dims();
    let oc = c / (r * r);
    x.reshape([n, oc, r, r, h, w])
        .permute([0, 1, 4, 2, 5, 3])
        .reshape([n, oc, h * r, w * r])
}

fn covered([n, c, h, w]: [usize; 4], r: usize) -> bool {
    r > 0 && c % (r * r) == 0 && n * c * h * w > 0
}

/// The shuffle's sizes: `n` images of `oc` output channels, input planes `h x w`, factor `r`.
#[derive(Clone, Copy, Debug)]
struct Shape {
    n: usize,
    oc: usize,
    h: usize,
    w: usize,
    r: usize,
}

impl Shape {
    fn new([n, c, h, w]: [usize; 4], r: usize) -> Self {
        Self {
            n,
            oc: c / (r * r),
            h,
            w,
            r,
        }
    }

    fn input(&self) -> [usize; 4] {
        [self.n, self.oc * self.r * self.r, self.h, self.w]
    }

    fn output(&self) -> [usize; 4] {
        [self.n, self.oc, self.h * self.r, self.w * self.r]
    }

    /// Elements of one output channel = of its `r²` input channels.
    fn group(&self) -> usize {
        self.r * self.r * self.h * self.w
    }
}

/// One output channel from its `r²` input planes (`planes`: `[r, r, h, w]`, `image`:
/// `[h r, w r]`): row `y r + i` interleaves planes `(i, 0..r)` of row `y`.
fn shuffle_group(planes: &[f32], image: &mut [f32], s: &Shape) {
    let (h, w, r) = (s.h, s.w, s.r);
    for (row_index, row) in image.chunks_exact_mut(w * r).enumerate() {
        let (y, i) = (row_index / r, row_index % r);
        for j in 0..r {
            let plane = &planes[(i * r + j) * h * w + y * w..][..w];
            for (x, v) in plane.iter().enumerate() {
                row[x * r + j] = *v;
            }
        }
    }
}

/// The inverse of [`shuffle_group`] (the shuffle's backward).
fn unshuffle_group(image: &[f32], planes: &mut [f32], s: &Shape) {
    let (h, w, r) = (s.h, s.w, s.r);
    for (row_index, row) in image.chunks_exact(w * r).enumerate() {
        let (y, i) = (row_index / r, row_index % r);
        for j in 0..r {
            let plane = &mut planes[(i * r + j) * h * w + y * w..][..w];
            for (x, v) in plane.iter_mut().enumerate() {
                *v = row[x * r + j];
            }
        }
    }
}

/// Host passes run (both directions), so a test can see that the dispatch took them.
#[cfg(test)]
static HOST_PASSES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn count_pass() {
    #[cfg(test)]
    HOST_PASSES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

fn shuffle_flex(x: &FlexTensor, s: Shape) -> FlexTensor {
    count_pass();
    let input = host_f32(x);
    let mut out = vec![0f32; input.len()];
    let g = s.group();
    out.par_chunks_mut(g)
        .zip(input.par_chunks(g))
        .for_each(|(image, planes)| shuffle_group(planes, image, &s));
    to_flex(out, s.output())
}

fn unshuffle_flex(dy: &FlexTensor, s: Shape) -> FlexTensor {
    count_pass();
    let grad = host_f32(dy);
    let mut dx = vec![0f32; grad.len()];
    let g = s.group();
    dx.par_chunks_mut(g)
        .zip(grad.par_chunks(g))
        .for_each(|(planes, image)| unshuffle_group(image, planes, &s));
    to_flex(dx, s.input())
}

fn from_flex(t: FlexTensor) -> Tensor<Flex, 4> {
    Tensor::from_primitive(TensorPrimitive::Float(t))
}

fn autodiff_shuffle(x: Tensor<AdFlex, 4>, s: Shape) -> Tensor<AdFlex, 4> {
    let x: AdTensor = primitive(x);
    let y = shuffle_flex(&x.primitive, s);
    let prep = ShuffleBackward
        .prepare::<NoCheckpointing>([x.node.clone()])
        .compute_bound()
        .stateful();
    let y = match prep {
        OpsKind::Tracked(prep) => prep.finish(s, y),
        OpsKind::UnTracked(prep) => prep.finish(y),
    };
    Tensor::from_primitive(TensorPrimitive::Float(y))
}

/// The shuffle's backward: the un-shuffle of the output gradient.
#[derive(Debug)]
struct ShuffleBackward;

impl Backward<Flex, 1> for ShuffleBackward {
    type State = Shape;

    fn backward(self, ops: Ops<Shape, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let dy = grads.consume::<Flex>(&ops.node);
        if let [Some(node)] = ops.parents {
            grads.register::<Flex>(node.id, unshuffle_flex(&dy, ops.state));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Distribution, TensorData};

    fn values<B: Backend>(t: Tensor<B, 4>) -> Vec<f32> {
        t.into_data().to_vec::<f32>().expect("f32")
    }

    /// Values and input gradient of `sum(shuffle(x) * a)`, fast path vs the tensor ops.
    fn check(dims: [usize; 4], r: usize) {
        let dev = Default::default();
        let x = Tensor::<Flex, 4>::random(dims, Distribution::Uniform(-1.0, 1.0), &dev);
        let out = Shape::new(dims, r).output();
        let a = Tensor::<AdFlex, 4>::random(out, Distribution::Uniform(-1.0, 1.0), &dev);
        let run = |fast: bool| {
            let xa = Tensor::<AdFlex, 4>::from_inner(x.clone()).require_grad();
            let y = if fast {
                autodiff_shuffle(xa.clone(), Shape::new(dims, r))
            } else {
                pixel_shuffle_ops(xa.clone(), r)
            };
            let grads = (y.clone() * a.clone()).sum().backward();
            (
                values(y.inner()),
                values(xa.grad(&grads).expect("gradient")),
            )
        };
        let (fast, reference) = (run(true), run(false));
        assert_eq!(fast.0, reference.0, "values, {dims:?} r {r}");
        assert_eq!(fast.1, reference.1, "input gradient, {dims:?} r {r}");
        assert!(fast.1.iter().any(|g| *g != 0.0), "gradient vanished");
        let inference = from_flex(shuffle_flex(&primitive(x.clone()), Shape::new(dims, r)));
        assert_eq!(
            values(inference),
            values(pixel_shuffle_ops(x, r)),
            "flex, {dims:?}"
        );
    }

    #[test]
    fn matches_tensor_ops_for_model_shapes() {
        check([2, 16, 5, 7], 2);
        check([1, 27, 3, 4], 3);
        check([3, 64, 6, 6], 4);
        check([1, 4, 1, 1], 2);
    }

    #[test]
    fn dispatch_takes_the_host_pass_on_flex_and_autodiff_flex() {
        use std::sync::atomic::Ordering::Relaxed;
        if !crate::models::conv::fast_conv_enabled() {
            return; // IDC_FLEX_FAST_CONV=0 in this process: the tensor ops are the path
        }
        let dev = Default::default();
        let x = Tensor::<Flex, 4>::random([1, 8, 3, 5], Distribution::Default, &dev);
        let before = HOST_PASSES.load(Relaxed);
        let _ = pixel_shuffle(x.clone(), 2);
        let xa = Tensor::<AdFlex, 4>::from_inner(x).require_grad();
        let _ = pixel_shuffle(xa.clone(), 2).sum().backward();
        // Other tests may add passes meanwhile: at least these three (forward, forward, backward).
        assert!(HOST_PASSES.load(Relaxed) >= before + 3);
    }

    #[test]
    fn known_layout() {
        // One output channel, r = 2: the four input planes interleave into a 2x2 block.
        let dev = Default::default();
        let x = Tensor::<Flex, 4>::from_data(
            TensorData::new(vec![1f32, 2., 3., 4.], [1, 4, 1, 1]),
            &dev,
        );
        assert_eq!(values(pixel_shuffle(x, 2)), vec![1., 2., 3., 4.]);
        let x = Tensor::<Flex, 4>::from_data(
            TensorData::new((0..8).map(|v| v as f32).collect::<Vec<_>>(), [1, 4, 1, 2]),
            &dev,
        );
        // Planes p0=[0,1], p1=[2,3], p2=[4,5], p3=[6,7]; row 0 = p0/p1 interleaved, row 1 = p2/p3.
        assert_eq!(
            values(pixel_shuffle(x, 2)),
            vec![0., 2., 1., 3., 4., 6., 5., 7.]
        );
    }
}
