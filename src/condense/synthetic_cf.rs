//! The synthetic side's characteristic functions under autodiff: `W cos P`, `W sin P` for the
//! instance and group means at once, with a hand-written gradient (fewer `[n, T]` passes than
//! autodiff's `cos`/`sin`), and on `flex` in row chunks (`host_cf`).

use super::host_cf;
use super::real::Inner;
use burn::tensor::{Tensor, backend::AutodiffBackend};

/// `(W cos P, W sin P)` with `P = samples freqs` (see [`weighted_cos_sin`]). On `flex`, in
/// row chunks of `host_cf::row_chunk`: every `[rows, T]` buffer then stays under glibc's
/// largest mmap threshold and is reused from the heap, instead of being page-faulted in afresh
/// ~10 times a step (measured: ~5% of a `condense_step` iteration at 9,216 rows x 1,024).
pub(crate) fn synthetic_cf<B: AutodiffBackend>(
    samples: Tensor<B, 2>,
    freqs: &Tensor<B, 2>,
    weights: Tensor<Inner<B>, 2>,
) -> (Tensor<B, 2>, Tensor<B, 2>) {
    let n = samples.dims()[0];
    let chunk = host_cf::row_chunk::<Inner<B>>(freqs.dims()[1], n);
    if chunk >= n {
        return weighted_cos_sin(samples.matmul(freqs.clone()), weights);
    }
    let part = |start: usize| {
        let len = chunk.min(n - start);
        let proj = samples.clone().narrow(0, start, len).matmul(freqs.clone());
        weighted_cos_sin(proj, weights.clone().narrow(1, start, len))
    };
    let first = part(0);
    (chunk..n).step_by(chunk).fold(first, |(re, im), start| {
        let (r, i) = part(start);
        (re + r, im + i)
    })
}

/// `(W cos P, W sin P)` for projections `P` (`[n, T]`, differentiable) and constant weights `W`
/// (`[r, n]`), with a hand-written backward: `dP = -sin P * (W^T dRe) + cos P * (W^T dIm)`.
///
/// Why: through autodiff's `cos`/`sin` and the sums after them, the `[n, T]` tensors (9,216 x
/// 1,024 in `condense_step`) are written ~19 times per step; this way ~9. Values are `W` times
/// `cos`/`sin` evaluated once on the inner backend (one vectorised host pass on `flex`); the
/// gradient comes from the linear term `W (delta * cos/sin)` with `delta = P - detach(P)`, which
/// is exactly 0 in value.
fn weighted_cos_sin<B: AutodiffBackend>(
    proj: Tensor<B, 2>,
    weights: Tensor<Inner<B>, 2>,
) -> (Tensor<B, 2>, Tensor<B, 2>) {
    let inner = proj.clone().inner();
    let (c, s) =
        host_cf::cos_sin(&inner).unwrap_or_else(|| (inner.clone().cos(), inner.clone().sin()));
    let re0 = Tensor::<B, 2>::from_inner(weights.clone().matmul(c.clone()));
    let im0 = Tensor::<B, 2>::from_inner(weights.clone().matmul(s.clone()));
    let delta = proj - Tensor::from_inner(inner);
    let w = Tensor::<B, 2>::from_inner(weights);
    let re = re0 - w.clone().matmul(delta.clone() * Tensor::from_inner(s));
    let im = im0 + w.matmul(delta * Tensor::from_inner(c));
    (re, im)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::condense::rlff::host_vec;
    use burn::backend::Autodiff;
    use burn::tensor::TensorData;

    // [`weighted_cos_sin`] gives the values of `W cos x`, `W sin x` and autodiff's gradient
    // through them (to float precision), with a 0 weight and rows of both signs: on `flex` the
    // host path, on CUDA the tensor ops.
    crate::backend_test!(weighted_cos_sin_matches_autodiff, |B, dev| {
        type AD = Autodiff<B>;
        let (n, t, r) = (6, 5, 3);
        let v: Vec<f32> = (0..n * t)
            .map(|i| ((i * 7) % 13) as f32 * 0.37 - 2.1)
            .collect();
        let wv: Vec<f32> = (0..r * n)
            .map(|i| ((i * 5) % 7) as f32 * 0.3 - 0.6)
            .collect();
        let weights = Tensor::<B, 2>::from_data(TensorData::new(wv, [r, n]), &dev);
        let av: Vec<f32> = (0..r * t).map(|i| i as f32 * 0.1 - 0.7).collect();
        let a = Tensor::<AD, 2>::from_data(TensorData::new(av, [r, t]), &dev);
        let run = |fast: bool| {
            let x =
                Tensor::<AD, 2>::from_data(TensorData::new(v.clone(), [n, t]), &dev).require_grad();
            let (re, im) = if fast {
                weighted_cos_sin(x.clone(), weights.clone())
            } else {
                let w = Tensor::<AD, 2>::from_inner(weights.clone());
                (w.clone().matmul(x.clone().cos()), w.matmul(x.clone().sin()))
            };
            let (rv, iv) = (
                host_vec(re.clone().inner()).unwrap(),
                host_vec(im.clone().inner()).unwrap(),
            );
            let loss = (re * a.clone() + im.square()).sum();
            let g = host_vec(x.grad(&loss.backward()).unwrap()).unwrap();
            (rv, iv, g)
        };
        let (fast, slow) = (run(true), run(false));
        for (a, b) in fast.0.iter().zip(&slow.0).chain(fast.1.iter().zip(&slow.1)) {
            assert!((a - b).abs() <= 1e-6, "value {a} vs {b}");
        }
        assert!(fast.2.iter().any(|g| g.abs() > 0.1), "gradient vanished");
        for (a, b) in fast.2.iter().zip(&slow.2) {
            assert!(
                (a - b).abs() <= 1e-6 * (1.0 + b.abs()),
                "gradient {a} vs {b}"
            );
        }
    });
}
