//! Neural Characteristic Function Discrepancy (paper eq. 2-3), as NCFM implements it.
//!
//! For samples `X` (`n x d`) and frequencies `t` (`d x T`), the empirical characteristic function
//! is `Re = mean_i cos(x_i . t)`, `Im = mean_i sin(x_i . t)`. Between a real (`r`) and a synthetic
//! (`s`) set, per frequency: amplitude term `(|phi_r| - |phi_s|)^2`, phase term
//! `2 (|phi_r||phi_s| - Re_r Re_s - Im_r Im_s)` clamped to `>= 1e-12` (so the square root has a
//! finite gradient at equality), and `NCFD = mean_t sqrt(alpha amp + (1 - alpha) phase)`.
//! The phase term is evaluated as `|phi_r||phi_s| |u_r - u_s|^2` (unit phasors `u`), which is
//! algebraically equal and exactly zero for identical sets in f32.
//!
//! The functions are split so the real side can be computed once (chunked, without autodiff)
//! and reused: [`cf_sums`] gives per-group sums of `cos`/`sin`, [`ncfd_from_cf`] combines two
//! characteristic functions.

use burn::tensor::{Tensor, backend::Backend};

/// Lower clamp of the phase term (NCFM's value).
pub const PHASE_CLAMP: f64 = 1e-12;
/// Added to the squared norm before the square root of `|phi|`, so `|phi| = 0` has a gradient.
const NORM_EPS: f64 = 1e-12;

/// Empirical characteristic function of `samples` (`n x d`) at `freqs` (`d x T`):
/// `(Re, Im)`, each `[1, T]`.
pub fn cf<B: Backend>(samples: Tensor<B, 2>, freqs: Tensor<B, 2>) -> (Tensor<B, 2>, Tensor<B, 2>) {
    let proj = samples.matmul(freqs);
    (proj.clone().cos().mean_dim(0), proj.sin().mean_dim(0))
}

/// Weighted characteristic functions: `weights` (`m x n`, rows summing to 1 for means) times
/// `cos`/`sin` of the projections, `(Re, Im)` each `[m, T]`. One-hot rows give per-group means.
/// On `flex` the projection, `cos`/`sin` and the sums are one fused host pass (`host_cf`).
pub fn cf_weighted<B: Backend>(
    samples: Tensor<B, 2>,
    freqs: Tensor<B, 2>,
    weights: Tensor<B, 2>,
) -> (Tensor<B, 2>, Tensor<B, 2>) {
    super::host_cf::projected_cf(&samples, &freqs, &weights)
        .unwrap_or_else(|| cf_weighted_ops(samples.matmul(freqs), weights))
}

/// [`cf_weighted`] from projections `proj` (`n x T`) in tensor ops: the reference, and the path
/// of every backend but `flex`.
fn cf_weighted_ops<B: Backend>(
    proj: Tensor<B, 2>,
    weights: Tensor<B, 2>,
) -> (Tensor<B, 2>, Tensor<B, 2>) {
    (
        weights.clone().matmul(proj.clone().cos()),
        weights.matmul(proj.sin()),
    )
}

/// Per-group sums of `cos`/`sin` over `samples` (`n x d`) with `groups` (`m x n` one-hot or
/// 0/1 membership), processed `chunk` samples at a time so `n x T` never materialises.
/// Returns `(sum cos, sum sin)`, each `[m, T]`.
pub fn cf_sums<B: Backend>(
    samples: Tensor<B, 2>,
    freqs: Tensor<B, 2>,
    groups: Tensor<B, 2>,
    chunk: usize,
) -> (Tensor<B, 2>, Tensor<B, 2>) {
    let [n, _] = samples.dims();
    let [m, _] = groups.dims();
    let t = freqs.dims()[1];
    let device = samples.device();
    let mut re = Tensor::<B, 2>::zeros([m, t], &device);
    let mut im = Tensor::<B, 2>::zeros([m, t], &device);
    let chunk = super::host_cf::row_chunk::<B>(t, chunk);
    let mut start = 0;
    while start < n {
        let len = chunk.min(n - start);
        let x = samples.clone().narrow(0, start, len);
        let g = groups.clone().narrow(1, start, len);
        let (r, i) = cf_weighted(x, freqs.clone(), g);
        re = re + r;
        im = im + i;
        start += len;
    }
    (re, im)
}

/// NCFD from two characteristic functions, each `(Re, Im)` of shape `[m, T]`; returns the
/// per-row discrepancy `[m]` (mean over frequencies).
pub fn ncfd_from_cf<B: Backend>(
    real: (Tensor<B, 2>, Tensor<B, 2>),
    syn: (Tensor<B, 2>, Tensor<B, 2>),
    alpha: f64,
) -> Tensor<B, 1> {
    let (re_r, im_r) = real;
    let (re_s, im_s) = syn;
    let norm_r = (re_r.clone().square() + im_r.clone().square())
        .add_scalar(NORM_EPS)
        .sqrt();
    let norm_s = (re_s.clone().square() + im_s.clone().square())
        .add_scalar(NORM_EPS)
        .sqrt();
    let amp = (norm_r.clone() - norm_s.clone()).square();
    // 2(|r||s| - Re_r Re_s - Im_r Im_s) = |r||s| |u_r - u_s|^2 with u = phi / |phi|: the same
    // value, but exactly 0 for equal sets in f32 (the difference form leaves ~1e-7 of rounding,
    // i.e. ~1e-4 after the square root).
    let du_re = re_r / norm_r.clone() - re_s / norm_s.clone();
    let du_im = im_r / norm_r.clone() - im_s / norm_s.clone();
    let phase = (norm_r * norm_s * (du_re.square() + du_im.square())).clamp_min(PHASE_CLAMP);
    let d = (amp.mul_scalar(alpha) + phase.mul_scalar(1.0 - alpha)).sqrt();
    d.mean_dim(1).squeeze_dim::<1>(1)
}

/// NCFD between a real set (`n_r x d`) and a synthetic set (`n_s x d`) at frequencies
/// `freqs` (`d x T`): a scalar `[1]` tensor. Gradients flow to both sides.
pub fn ncfd_loss<B: Backend>(
    real: Tensor<B, 2>,
    syn: Tensor<B, 2>,
    freqs: Tensor<B, 2>,
    alpha: f64,
) -> Tensor<B, 1> {
    ncfd_from_cf(cf(real, freqs.clone()), cf(syn, freqs), alpha)
}

/// Draws `d x T` Gaussian frequencies with standard deviation `sigma` from `rng` as host data.
pub fn draw_freqs(rng: &mut impl rand::Rng, d: usize, t: usize, sigma: f64) -> Vec<f32> {
    use rand_distr::{Distribution, StandardNormal};
    (0..d * t)
        .map(|_| {
            let z: f64 = StandardNormal.sample(rng);
            (z * sigma) as f32
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::{Autodiff, Flex};
    use burn::tensor::TensorData;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    type B = Flex;
    type AB = Autodiff<Flex>;

    fn t2<BB: Backend>(v: Vec<f32>, r: usize, c: usize) -> Tensor<BB, 2> {
        Tensor::from_data(TensorData::new(v, [r, c]), &Default::default())
    }

    fn gauss(rng: &mut StdRng, n: usize, shift: f32) -> Vec<f32> {
        draw_freqs(rng, n, 1, 1.0)
            .into_iter()
            .map(|v| v + shift)
            .collect()
    }

    #[test]
    fn zero_for_identical_positive_for_shifted() {
        let mut rng = StdRng::seed_from_u64(1);
        let x = gauss(&mut rng, 200 * 4, 0.0);
        let f = draw_freqs(&mut rng, 4, 128, 1.0);
        let same = ncfd_loss::<B>(
            t2(x.clone(), 200, 4),
            t2(x.clone(), 200, 4),
            t2(f.clone(), 4, 128),
            0.5,
        )
        .into_scalar();
        assert!(same.abs() < 1e-5, "NCFD(x, x) = {same}");
        let shifted: Vec<f32> = x.iter().map(|v| v + 1.0).collect();
        let d = ncfd_loss::<B>(
            t2(x.clone(), 200, 4),
            t2(shifted, 200, 4),
            t2(f.clone(), 4, 128),
            0.5,
        )
        .into_scalar();
        assert!(d > 0.1, "NCFD of shifted sets = {d}");
        // A bigger shift is further away.
        let far: Vec<f32> = x.iter().map(|v| v + 3.0).collect();
        let d_far =
            ncfd_loss::<B>(t2(x, 200, 4), t2(far, 200, 4), t2(f, 4, 128), 0.5).into_scalar();
        assert!(d_far > d, "{d_far} <= {d}");
    }

    #[test]
    fn chunked_sums_equal_direct_means() {
        let mut rng = StdRng::seed_from_u64(2);
        let x = gauss(&mut rng, 50 * 3, 0.0);
        let f = draw_freqs(&mut rng, 3, 16, 1.0);
        // Two groups: first 20 and last 30 samples.
        let mut g = vec![0f32; 2 * 50];
        for i in 0..50 {
            g[if i < 20 { i } else { 50 + i }] = 1.0;
        }
        let (re, im) = cf_sums::<B>(t2(x.clone(), 50, 3), t2(f.clone(), 3, 16), t2(g, 2, 50), 7);
        let (re_all, im_all) = cf::<B>(t2(x, 50, 3), t2(f, 3, 16));
        let re_sum = re.sum_dim(0).div_scalar(50.0);
        let im_sum = im.sum_dim(0).div_scalar(50.0);
        let a = (re_sum - re_all).abs().max().into_scalar();
        let b = (im_sum - im_all).abs().max().into_scalar();
        assert!(a < 1e-5 && b < 1e-5, "{a} {b}");
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let mut rng = StdRng::seed_from_u64(3);
        let (nr, ns, d, t) = (30, 5, 3, 32);
        let xr = gauss(&mut rng, nr * d, 0.0);
        let xs = gauss(&mut rng, ns * d, 0.5);
        let f = draw_freqs(&mut rng, d, t, 1.0);
        let loss_at = |s: &[f32]| -> f64 {
            // f64 evaluation for the reference.
            ncfd_ref(&xr, s, &f, nr, ns, d, t, 0.5)
        };
        let syn = t2::<AB>(xs.clone(), ns, d).require_grad();
        let loss = ncfd_loss(
            t2::<AB>(xr.clone(), nr, d),
            syn.clone(),
            t2(f.clone(), d, t),
            0.5,
        );
        let value = loss.clone().into_scalar() as f64;
        assert!((value - loss_at(&xs)).abs() < 1e-4, "{value}");
        let grads = loss.backward();
        let g = syn
            .grad(&grads)
            .unwrap()
            .into_data()
            .into_vec::<f32>()
            .unwrap();
        let h = 1e-3f32;
        for i in 0..ns * d {
            let mut p = xs.clone();
            p[i] += h;
            let mut m = xs.clone();
            m[i] -= h;
            let fd = (loss_at(&p) - loss_at(&m)) / (2.0 * h as f64);
            assert!(
                (fd - g[i] as f64).abs() < 1e-3 + 1e-2 * fd.abs(),
                "grad[{i}]: autodiff {} vs finite difference {fd}",
                g[i]
            );
        }
    }

    /// Optimising a small synthetic set under NCFD alone (fresh frequencies every step) moves
    /// it to the real set's mean and variance (2-D Gaussian toy).
    #[test]
    fn ncfd_alone_matches_mean_and_variance() {
        let mut rng = StdRng::seed_from_u64(11);
        let (nr, ns) = (400, 32);
        let (mu, sd) = ([1.0f32, -0.5], [0.5f32, 1.0]);
        let mut xr = gauss(&mut rng, nr * 2, 0.0);
        for i in 0..nr {
            for k in 0..2 {
                xr[i * 2 + k] = mu[k] + sd[k] * xr[i * 2 + k];
            }
        }
        let mut xs: Vec<f32> = gauss(&mut rng, ns * 2, 0.0)
            .into_iter()
            .map(|v| 0.1 * v)
            .collect();
        let real = t2::<AB>(xr.clone(), nr, 2);
        let (mut m, mut v) = (vec![0f32; ns * 2], vec![0f32; ns * 2]);
        let lr = 0.03f32;
        for step in 1..=400 {
            let f = draw_freqs(&mut rng, 2, 64, 1.0);
            let syn = t2::<AB>(xs.clone(), ns, 2).require_grad();
            let loss = ncfd_loss(real.clone(), syn.clone(), t2(f, 2, 64), 0.5);
            let g = syn
                .grad(&loss.backward())
                .unwrap()
                .into_data()
                .into_vec::<f32>()
                .unwrap();
            for i in 0..ns * 2 {
                m[i] = 0.9 * m[i] + 0.1 * g[i];
                v[i] = 0.999 * v[i] + 0.001 * g[i] * g[i];
                let mh = m[i] / (1.0 - 0.9f32.powi(step));
                let vh = v[i] / (1.0 - 0.999f32.powi(step));
                xs[i] -= lr * mh / (vh.sqrt() + 1e-8);
            }
        }
        for k in 0..2 {
            let vals: Vec<f64> = (0..ns).map(|i| xs[i * 2 + k] as f64).collect();
            let mean = vals.iter().sum::<f64>() / ns as f64;
            let sdv = (vals.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / ns as f64).sqrt();
            assert!(
                (mean - mu[k] as f64).abs() < 0.2 * sd[k] as f64 + 0.05,
                "axis {k}: mean {mean} vs {}",
                mu[k]
            );
            let ratio = sdv / sd[k] as f64;
            assert!(
                (0.7..1.3).contains(&ratio),
                "axis {k}: std {sdv} vs {}",
                sd[k]
            );
        }
    }

    /// f64 reference of NCFD.
    #[allow(clippy::too_many_arguments)]
    fn ncfd_ref(
        xr: &[f32],
        xs: &[f32],
        f: &[f32],
        nr: usize,
        ns: usize,
        d: usize,
        t: usize,
        alpha: f64,
    ) -> f64 {
        let cf = |x: &[f32], n: usize, k: usize| -> (f64, f64) {
            let (mut re, mut im) = (0.0, 0.0);
            for i in 0..n {
                let p: f64 = (0..d)
                    .map(|j| x[i * d + j] as f64 * f[j * t + k] as f64)
                    .sum();
                re += p.cos();
                im += p.sin();
            }
            (re / n as f64, im / n as f64)
        };
        let mut total = 0.0;
        for k in 0..t {
            let (rr, ir) = cf(xr, nr, k);
            let (rs, is) = cf(xs, ns, k);
            let nr_ = (rr * rr + ir * ir).sqrt();
            let ns_ = (rs * rs + is * is).sqrt();
            let amp = (nr_ - ns_).powi(2);
            let ph = (2.0 * (nr_ * ns_ - rr * rs - ir * is)).max(1e-12);
            total += (alpha * amp + (1.0 - alpha) * ph).sqrt();
        }
        total / t as f64
    }
}
