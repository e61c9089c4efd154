//! The fast path against Burn's own `conv2d` (called directly, so never the fast path) on the same
//! backend: values and every gradient, on the shapes the models use and odd ones.

use super::*;
use burn::tensor::ops::ConvOptions;
use rand::{Rng, SeedableRng, rngs::StdRng};

/// One convolution case: input `[n, c, h, w]`, `co` outputs, kernel, padding
/// `(top, left, bottom, right)`, bias or not.
#[derive(Clone, Copy, Debug)]
struct Case {
    x: [usize; 4],
    co: usize,
    k: [usize; 2],
    pad: [usize; 4],
    bias: bool,
}

impl Case {
    fn options(&self) -> PaddedConvOptions<2> {
        let [t, l, b, r] = self.pad;
        PaddedConvOptions::asymmetric([1, 1], [t, l], [b, r], [1, 1], 1)
    }
    fn w_shape(&self) -> [usize; 4] {
        [self.co, self.x[1], self.k[0], self.k[1]]
    }
}

fn random(rng: &mut StdRng, len: usize) -> Vec<f32> {
    (0..len).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

fn values<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .to_vec::<f32>()
        .expect("f32 data")
}

/// `(y, dx, dw, db)` of `sum(conv(x) * a)` under `Autodiff<Flex>`, by the fast path or Burn's.
fn run(case: Case, fast: bool, seed: u64) -> [Vec<f32>; 4] {
    let dev = Default::default();
    let mut rng = StdRng::seed_from_u64(seed);
    let [n, _, h, w] = case.x;
    let [t, l, b, r] = case.pad;
    let y_shape = [
        n,
        case.co,
        h + t + b + 1 - case.k[0],
        w + l + r + 1 - case.k[1],
    ];
    let tensor = |rng: &mut StdRng, shape: [usize; 4]| {
        let v = random(rng, shape.iter().product());
        Tensor::<AdFlex, 4>::from_data(TensorData::new(v, shape), &dev)
    };
    let x = tensor(&mut rng, case.x).require_grad();
    let wt = tensor(&mut rng, case.w_shape()).require_grad();
    let a = tensor(&mut rng, y_shape);
    let bias = case.bias.then(|| {
        let v = random(&mut rng, case.co);
        Tensor::<AdFlex, 1>::from_data(TensorData::new(v, [case.co]), &dev).require_grad()
    });
    let y = if fast {
        conv2d(x.clone(), wt.clone(), bias.clone(), case.options())
    } else {
        burn::tensor::module::conv2d(x.clone(), wt.clone(), bias.clone(), case.options())
    };
    assert_eq!(y.dims(), y_shape);
    let grads = (y.clone() * a).sum().backward();
    let grad = |g: Option<Tensor<Flex, 4>>| values(g.expect("gradient"));
    let db = bias.map_or(vec![], |b| values(b.grad(&grads).expect("bias gradient")));
    [values(y), grad(x.grad(&grads)), grad(wt.grad(&grads)), db]
}

/// Max |fast - reference| relative to the reference's largest magnitude.
fn assert_close(what: &str, case: Case, fast: &[f32], reference: &[f32]) {
    assert_eq!(fast.len(), reference.len(), "{what} length, {case:?}");
    let scale = reference.iter().fold(1e-12f32, |m, v| m.max(v.abs()));
    for (i, (a, b)) in fast.iter().zip(reference).enumerate() {
        assert!(
            (a - b).abs() <= 1e-5 * scale,
            "{what}[{i}]: fast {a} vs Burn {b} (scale {scale}), {case:?}"
        );
    }
}

fn check(case: Case) {
    assert!(
        fast_conv_enabled(),
        "IDC_FLEX_FAST_CONV=0 set: nothing to test"
    );
    let passes = || FAST_PASSES.load(std::sync::atomic::Ordering::Relaxed);
    let before = passes();
    let fast = run(case, true, 7);
    assert!(
        passes() >= before + 2,
        "fast forward and backward not taken, {case:?}"
    );
    let reference = run(case, false, 7);
    for (i, what) in [
        "output",
        "input gradient",
        "weight gradient",
        "bias gradient",
    ]
    .iter()
    .enumerate()
    {
        assert_close(what, case, &fast[i], &reference[i]);
    }
}

const fn case(x: [usize; 4], co: usize, k: usize, p: usize, bias: bool) -> Case {
    Case {
        x,
        co,
        k: [k, k],
        pad: [p, p, p, p],
        bias,
    }
}

// The models' convs: 3x3 pad 1 (EDSR, SwinIR), 1x1 pad 0 (SwinIR's 3conv), at odd sizes.
#[test]
fn edsr_first_conv_3_to_8_odd_size_matches_burn() {
    check(case([2, 3, 7, 11], 8, 3, 1, true));
}

#[test]
fn body_conv_32_to_32_batch_1_no_bias_matches_burn() {
    check(case([1, 32, 9, 13], 32, 3, 1, false));
}

#[test]
fn wide_conv_64_to_128_matches_burn() {
    check(case([2, 64, 6, 5], 128, 3, 1, true));
}

#[test]
fn pointwise_conv_matches_burn() {
    check(case([2, 16, 7, 11], 24, 1, 0, true));
    check(case([1, 8, 5, 3], 4, 1, 0, false));
}

#[test]
fn other_kernels_and_paddings_match_burn() {
    check(case([2, 4, 7, 11], 5, 3, 0, true));
    check(case([1, 3, 8, 9], 6, 5, 2, true));
    check(case([2, 3, 6, 7], 4, 2, 1, false));
    let asymmetric = Case {
        x: [2, 3, 7, 11],
        co: 5,
        k: [3, 2],
        pad: [2, 1, 0, 0],
        bias: true,
    };
    check(asymmetric);
    // Output as wide as the input with all the width padding on one side: im2col's
    // same-width path shifts the flattened rows one way only (right, then left).
    for pad in [[0, 0, 2, 2], [2, 2, 0, 0], [1, 0, 1, 2]] {
        check(Case {
            x: [2, 3, 7, 11],
            co: 4,
            k: [3, 3],
            pad,
            bias: true,
        });
    }
}

// The direct AVX-512 kernel (where the CPU has it): rows shorter and longer than one
// 16-pixel vector, masked row tails, output-channel blocks of 8, 4, 2 and 1, bands of one row.
#[test]
fn direct_kernel_widths_and_channel_blocks_match_burn() {
    for (x, co) in [
        ([2, 4, 5, 17], 13),
        ([1, 3, 3, 33], 7),
        ([1, 2, 2, 16], 8),
        ([2, 5, 4, 50], 3),
        ([1, 1, 1, 1], 1),
    ] {
        let c = case(x, co, 3, 1, true);
        let [n, ci, h, w] = x;
        let g = geom::Geom {
            n,
            c: ci,
            h,
            w,
            co,
            kh: 3,
            kw: 3,
            pt: 1,
            pl: 1,
            ho: h,
            wo: w,
        };
        // Every one of these shapes qualifies; the CPU decides.
        assert_eq!(direct::applies(&g), direct::avx512(), "{c:?}");
        check(c);
        // The im2col path on the same shape (the path of CPUs without AVX-512).
        let mut rng = StdRng::seed_from_u64(3);
        let xs = random(&mut rng, n * ci * h * w);
        let wt = random(&mut rng, co * ci * 9);
        let b = random(&mut rng, co);
        let direct = host::forward_with(&xs, &wt, Some(&b), &g, true);
        let im2col = host::forward_with(&xs, &wt, Some(&b), &g, false);
        assert_close("direct vs im2col", c, &direct, &im2col);
    }
}

#[test]
fn tiny_images_match_burn() {
    check(case([3, 2, 1, 1], 3, 3, 1, true));
    check(case([1, 2, 2, 1], 3, 3, 2, false));
}

// Same inputs, same bits: the work split does not depend on thread timing.
#[test]
fn fast_path_is_deterministic() {
    let c = case([3, 8, 17, 19], 8, 3, 1, true);
    assert_eq!(run(c, true, 11), run(c, true, 11));
}

// Inference on plain `flex` (no autodiff) matches Burn's conv2d there too.
#[test]
fn inference_forward_matches_burn() {
    let dev = Default::default();
    let mut rng = StdRng::seed_from_u64(3);
    let c = case([2, 6, 7, 11], 9, 3, 1, true);
    let x = Tensor::<Flex, 4>::from_data(TensorData::new(random(&mut rng, 2 * 6 * 77), c.x), &dev);
    let w =
        Tensor::<Flex, 4>::from_data(TensorData::new(random(&mut rng, 9 * 54), c.w_shape()), &dev);
    let b = Tensor::<Flex, 1>::from_data(TensorData::new(random(&mut rng, 9), [9]), &dev);
    let before = FAST_PASSES.load(std::sync::atomic::Ordering::Relaxed);
    let fast = conv2d(x.clone(), w.clone(), Some(b.clone()), c.options());
    assert!(
        FAST_PASSES.load(std::sync::atomic::Ordering::Relaxed) > before,
        "fast path not taken"
    );
    let reference = burn::tensor::module::conv2d(x, w, Some(b), c.options());
    assert_close("output", c, &values(fast), &values(reference));
}

// What the fast path does not cover (stride 2, groups, f64 is left to Burn) still works.
#[test]
fn uncovered_convs_fall_back_to_burn() {
    let dev = Default::default();
    let x = Tensor::<Flex, 4>::ones([1, 4, 6, 6], &dev);
    let w = Tensor::<Flex, 4>::ones([2, 4, 3, 3], &dev);
    let strided = ConvOptions::new([2, 2], [1, 1], [1, 1], 1);
    assert!(fast_geom(&x, &w, None, &strided.clone().into()).is_none());
    let y = conv2d(x.clone(), w.clone(), None, strided.clone());
    let reference = burn::tensor::module::conv2d(x.clone(), w, None, strided);
    assert_eq!(values(y), values(reference));
    let grouped = ConvOptions::new([1, 1], [1, 1], [1, 1], 2);
    let wg = Tensor::<Flex, 4>::ones([2, 2, 3, 3], &dev);
    assert!(fast_geom(&x, &wg, None, &grouped.into()).is_none());
}

// The module wrapper reads `Conv2d`'s explicit padding like Burn's `Conv2d::forward`.
#[test]
fn module_forward_matches_burn_module() {
    use burn::nn::conv::Conv2dConfig;
    let dev = Default::default();
    let conv = Conv2dConfig::new([3, 5], [3, 3])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
        .init::<Flex>(&dev);
    let x = Tensor::<Flex, 4>::from_data(
        TensorData::new(random(&mut StdRng::seed_from_u64(5), 3 * 35), [1, 3, 5, 7]),
        &dev,
    );
    let c = case([1, 3, 5, 7], 5, 3, 1, true);
    assert_close(
        "output",
        c,
        &values(forward(&conv, x.clone())),
        &values(conv.forward(x)),
    );
}
