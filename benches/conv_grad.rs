//! `conv_grad`: where a 3x3 convolution's training cost goes on the current backend, Burn's path
//! next to this crate's (`burn_idc::models::conv`, the fast path on `flex`).
//!
//! The EDSR train step is ~5.6x its forward pass on the 2-core CPU (`benches/edsr`); this bench
//! splits one 32->32 3x3 convolution (batch 16, 48x48, EDSR-tiny's body shape) into the three
//! backend passes of a training step — forward, input gradient, weight gradient — and the whole
//! autodiff forward + backward. Column "Burn": Burn's own ops (input gradient
//! `conv_transpose2d`, weight gradient a convolution of the input by the output gradient, i.e. a
//! 48x48 kernel). Column "burn-idc": `models::conv` (on `flex`: im2col + one GEMM per image band
//! for the forward and the weight gradient, the flipped-kernel forward for the input gradient;
//! elsewhere it is Burn's path again). Two reference rows: the weight gradient's matrix product
//! alone (im2col given), and a convolution written as nine shifted matrix products (autodiff
//! derives its backward from `matmul` and `slice`). Rows are medians over `IDC_BENCH_ITERS` runs
//! (default 5) after one warm-up.
//!
//! Run: `cargo bench --bench conv_grad`.

use burn::tensor::module::{conv_transpose2d, conv2d};
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions, PadMode};
use burn::tensor::{Distribution, Tensor};
use burn_idc::models;
use burn_idc::{BACKEND_NAME, DefaultBackend as I, TrainBackend as A, default_device};

#[path = "common/mod.rs"]
mod common;
use common::{bench_iters, median_ms};

/// 3x3 "same" convolution as nine shifted matrix products over the flattened padded image
/// (shift (i, j) is one contiguous range), cropped back to `w` columns at the end.
fn shifted_matmul_conv(x: Tensor<A, 4>, w: Tensor<A, 4>) -> Tensor<A, 4> {
    let [n, c, h, wd] = x.dims();
    let co = w.dims()[0];
    let pw = wd + 2;
    let xp = x
        .pad((1, 1, 1, 2), PadMode::Constant(0.0))
        .reshape([n, c, (h + 3) * pw]);
    let mut acc: Option<Tensor<A, 3>> = None;
    for k in 0..9 {
        let (i, j) = (k / 3, k % 3);
        let off = i * pw + j;
        let s = xp.clone().slice([0..n, 0..c, off..off + h * pw]);
        let wk = w
            .clone()
            .slice([0..co, 0..c, i..i + 1, j..j + 1])
            .reshape([1, co, c]);
        let y = wk.matmul(s);
        acc = Some(match acc {
            Some(a) => a + y,
            None => y,
        });
    }
    acc.expect("nine terms")
        .reshape([n, co, h, pw])
        .slice([0..n, 0..co, 0..h, 0..wd])
}

fn main() {
    burn_idc::tune_allocator();
    let iters = bench_iters(5);
    let dev = default_device();
    let (n, c, h) = (16usize, 32usize, 48usize);
    let u =
        |shape: [usize; 4]| Tensor::<I, 4>::random(shape, Distribution::Uniform(-1.0, 1.0), &dev);
    let (x, g, w) = (u([n, c, h, h]), u([n, c, h, h]), u([c, c, 3, 3]));
    let same = ConvOptions::new([1, 1], [1, 1], [1, 1], 1);
    let time = |f: &dyn Fn()| median_ms(iters, f);
    // (pass, Burn ms, burn-idc ms)
    let mut rows: Vec<(&str, Option<f64>, Option<f64>)> = Vec::new();

    rows.push((
        "forward conv2d",
        Some(time(&|| {
            let _ = conv2d(x.clone(), w.clone(), None, same.clone()).into_data();
        })),
        Some(time(&|| {
            let _ = models::conv2d(x.clone(), w.clone(), None, same.clone()).into_data();
        })),
    ));
    let fast_input = models::conv_input_grad(x.clone(), w.clone(), g.clone(), [1, 1]).map(|_| {
        time(&|| {
            let dx = models::conv_input_grad(x.clone(), w.clone(), g.clone(), [1, 1]);
            let _ = dx.map(|t| t.into_data());
        })
    });
    rows.push((
        "input gradient",
        Some(time(&|| {
            let t = ConvTransposeOptions::new([1, 1], [1, 1], [0, 0], [1, 1], 1);
            let _ = conv_transpose2d(g.clone(), w.clone(), None, t).into_data();
        })),
        fast_input,
    ));
    let fast_weight = models::conv_weight_grad(x.clone(), w.clone(), g.clone(), [1, 1]).map(|_| {
        time(&|| {
            let dw = models::conv_weight_grad(x.clone(), w.clone(), g.clone(), [1, 1]);
            let _ = dw.map(|t| t.into_data());
        })
    });
    rows.push((
        "weight gradient",
        Some(time(&|| {
            let _ = conv2d(
                x.clone().swap_dims(0, 1),
                g.clone().swap_dims(0, 1),
                None,
                same.clone(),
            )
            .into_data();
        })),
        fast_weight,
    ));
    // The matrix product of an im2col weight gradient: [co, n*h*w] x [n*h*w, 9c].
    let gm = Tensor::<I, 2>::random([c, n * h * h], Distribution::Uniform(-1.0, 1.0), &dev);
    let cols = Tensor::<I, 2>::random([n * h * h, 9 * c], Distribution::Uniform(-1.0, 1.0), &dev);
    rows.push((
        "(reference) weight gradient as one matmul, im2col given",
        Some(time(&|| {
            let _ = gm.clone().matmul(cols.clone()).into_data();
        })),
        None,
    ));

    let target = Tensor::<A, 4>::from_data(u([n, c, h, h]).into_data(), &dev);
    let (xa, wa) = (
        Tensor::<A, 4>::from_data(x.clone().into_data(), &dev),
        Tensor::<A, 4>::from_data(w.clone().into_data(), &dev),
    );
    let fwd_bwd = |f: &dyn Fn(Tensor<A, 4>, Tensor<A, 4>) -> Tensor<A, 4>| {
        median_ms(iters, || {
            let (xi, wi) = (xa.clone().require_grad(), wa.clone().require_grad());
            let loss = (f(xi.clone(), wi.clone()) - target.clone()).abs().mean();
            let grads = loss.backward();
            let _ = xi.grad(&grads).map(|t| t.into_data());
            let _ = wi.grad(&grads).map(|t| t.into_data());
        })
    };
    rows.push((
        "autodiff forward + backward",
        Some(fwd_bwd(&|x, w| conv2d(x, w, None, same.clone()))),
        Some(fwd_bwd(&|x, w| models::conv2d(x, w, None, same.clone()))),
    ));
    rows.push((
        "(reference) autodiff forward + backward, nine shifted matmuls",
        Some(fwd_bwd(&|x, w| shifted_matmul_conv(x, w))),
        None,
    ));

    let fast = if models::fast_conv_enabled() {
        "on"
    } else {
        "off (IDC_FLEX_FAST_CONV=0)"
    };
    println!(
        "3x3 conv 32->32, batch {n}, {h}x{h}, backend {BACKEND_NAME}, fast conv {fast}, median of {iters}"
    );
    println!();
    println!("| pass | Burn ms | burn-idc ms |");
    println!("|---|---:|---:|");
    let cell = |v: Option<f64>| v.map_or("-".to_string(), |ms| format!("{ms:.1}"));
    for (name, burn, ours) in rows {
        println!("| {name} | {} | {} |", cell(burn), cell(ours));
    }
}
