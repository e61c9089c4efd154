//! The `cos`/`sin` passes of NCFD on Burn's CPU backend (`flex`), done on host slices.
//!
//! Why: `flex` evaluates `cos` and `sin` element by element with libm on one thread, and the
//! weighted sums after them as two more tensors and matmuls. A profile of `condense_step` put
//! those passes at the size of the extractor itself with fresh draws (73,728 samples x 1,024
//! frequencies per step). Here one vectorised `sincos` (one range reduction for both, both
//! cores) is fused with the projection before it and the weighted sums after it
//! ([`projected_cf`], a block of rows at a time), so neither `[n, T]` projections nor their
//! `cos`/`sin` ever exist as tensors. The tensor-op
//! version in [`super::ncfd`] stays the reference and the path of every other backend; the tests
//! below hold this one to it.
//!
//! Results are deterministic: rows are summed in fixed blocks, and the blocks in order, whatever
//! the thread count.

use crate::models::conv::{matmul_rows, with_scratch};
use burn::tensor::{DType, Tensor, TensorData, TensorPrimitive, backend::Backend};
use rayon::prelude::*;
use std::any::{Any, TypeId};

/// True when `B` is `flex`, where the host path replaces the tensor ops.
fn enabled<B: Backend>() -> bool {
    TypeId::of::<B>() == TypeId::of::<burn::backend::Flex>()
}

/// Beyond this magnitude the 3-part Cody-Waite reduction loses accuracy: libm takes over.
const REDUCTION_LIMIT: f32 = 8192.0;
/// `pi / 2` in three parts (Cephes `sinf` constants, doubled), so `j * DP1` is exact.
const DP1: f32 = 1.570_312_5;
const DP2: f32 = 4.837_513e-4;
const DP3: f32 = 7.549_79e-8;
/// Adding and subtracting `1.5 * 2^23` rounds an f32 below `2^22` to an integer.
const ROUND_MAGIC: f32 = 12_582_912.0;

/// `(sin x, cos x)` for `|x| <= REDUCTION_LIMIT`: reduction to `[-pi/4, pi/4]` by multiples of
/// `pi / 2`, Cephes' minimax polynomials (|error| ~1e-7), then the quadrant. Branch-free, so the
/// loops over it vectorise.
#[inline(always)]
fn sincos_reduced(x: f32) -> (f32, f32) {
    let jf = (x * std::f32::consts::FRAC_2_PI + ROUND_MAGIC) - ROUND_MAGIC;
    let r = ((x - jf * DP1) - jf * DP2) - jf * DP3;
    let q = jf as i32;
    let z = r * r;
    let s = r + r * z * (-1.666_665_5e-1 + z * (8.332_161e-3 + z * -1.951_529_6e-4));
    let c = 1.0 - 0.5 * z + z * z * (4.166_664_6e-2 + z * (-1.388_731_6e-3 + z * 2.443_315_7e-5));
    let (s0, c0) = if q & 1 != 0 { (c, s) } else { (s, c) };
    let sin = if q & 2 != 0 { -s0 } else { s0 };
    let cos = if q.wrapping_add(1) & 2 != 0 { -c0 } else { c0 };
    (sin, cos)
}

#[inline(always)]
fn sincos_loop(x: &[f32], sin: &mut [f32], cos: &mut [f32]) {
    for ((&v, s), c) in x.iter().zip(sin.iter_mut()).zip(cos.iter_mut()) {
        (*s, *c) = sincos_reduced(v);
    }
    for ((&v, s), c) in x.iter().zip(sin.iter_mut()).zip(cos.iter_mut()) {
        // Rare (NCFD projections are a few tens at most); NaN/inf go through libm too.
        if v.is_nan() || v.abs() > REDUCTION_LIMIT {
            (*s, *c) = v.sin_cos();
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn sincos_loop_avx2(x: &[f32], sin: &mut [f32], cos: &mut [f32]) {
    sincos_loop(x, sin, cos);
}

/// `sin` and `cos` of every element of `x`, into `sin` and `cos` (same length). AVX2 when the
/// CPU has it (no FMA, so the values are the same either way).
pub(crate) fn sin_cos_into(x: &[f32], sin: &mut [f32], cos: &mut [f32]) {
    assert!(
        sin.len() == x.len() && cos.len() == x.len(),
        "slice lengths"
    );
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2 (checked just above).
        unsafe { sincos_loop_avx2(x, sin, cos) };
        return;
    }
    sincos_loop(x, sin, cos);
}

/// Most projection rows at `t` frequencies handed to the host path at once: 8 MiB of f32
/// (2,048 rows at 1,024 frequencies), under glibc's largest mmap threshold (32 MiB), so the
/// buffers are reused from the heap instead of page-faulted in afresh for every chunk (~10% of
/// a fresh-draw step at 16,384 rows).
fn chunk_rows(t: usize) -> usize {
    ((2 << 20) / t.max(1)).max(1)
}

/// Rows of projections at `t` frequencies to process at once on backend `B`: `preferred`,
/// capped by [`chunk_rows`] on `flex` (at least 1).
pub(crate) fn row_chunk<B: Backend>(t: usize, preferred: usize) -> usize {
    if enabled::<B>() {
        preferred.clamp(1, chunk_rows(t))
    } else {
        preferred.max(1)
    }
}

/// Rows per block: each block sums into its own `[m, T]` pair, then blocks are added in order.
const BLOCK_ROWS: usize = 256;

/// `(W cos(P), W sin(P))`, each `m x t`, of `P = X F` for samples `X` (`n x d`, row-major),
/// frequencies `F` (`d x t`) and weights `W` (`m x n`), each block of rows projected into this thread's scratch buffer right before its
/// `sincos`: neither `P` nor a chunk of it is ever a tensor (flex allocates a matmul's output
/// zeroed, then copies it to realign it).
pub(crate) fn projected_cos_sin_sums(
    samples: &[f32],
    d: usize,
    freqs: &[f32],
    t: usize,
    weights: &[f32],
    m: usize,
) -> (Vec<f32>, Vec<f32>) {
    let n = samples.len().checked_div(d).unwrap_or(0);
    let partials: Vec<(Vec<f32>, Vec<f32>)> = (0..n.div_ceil(BLOCK_ROWS))
        .into_par_iter()
        .map(|b| {
            let rows = b * BLOCK_ROWS..n.min((b + 1) * BLOCK_ROWS);
            let x = &samples[rows.start * d..rows.end * d];
            with_scratch(rows.len() * t, |proj| {
                matmul_rows(proj, x, freqs, [rows.len(), t, d]);
                block_sums(proj, t, weights, m, n, rows.clone())
            })
        })
        .collect();
    let (mut re, mut im) = (vec![0f32; m * t], vec![0f32; m * t]);
    for (r, i) in partials {
        re.iter_mut().zip(&r).for_each(|(a, b)| *a += b);
        im.iter_mut().zip(&i).for_each(|(a, b)| *a += b);
    }
    (re, im)
}

/// Sums of block `rows` (of `n` rows in all) whose projections `proj` start at `rows.start`.
fn block_sums(
    proj: &[f32],
    t: usize,
    weights: &[f32],
    m: usize,
    n: usize,
    rows: std::ops::Range<usize>,
) -> (Vec<f32>, Vec<f32>) {
    let (mut re, mut im) = (vec![0f32; m * t], vec![0f32; m * t]);
    let (mut s, mut c) = (vec![0f32; t], vec![0f32; t]);
    let first = rows.start;
    for i in rows {
        let r = i - first;
        sin_cos_into(&proj[r * t..(r + 1) * t], &mut s, &mut c);
        for g in 0..m {
            let w = weights[g * n + i];
            if w == 0.0 {
                continue;
            }
            let span = g * t..(g + 1) * t;
            re[span.clone()]
                .iter_mut()
                .zip(&c)
                .for_each(|(a, v)| *a += w * v);
            im[span].iter_mut().zip(&s).for_each(|(a, v)| *a += w * v);
        }
    }
    (re, im)
}

/// `f` applied to `t`'s values as an f32 slice: `flex`'s own buffer when `t` is a contiguous f32
/// tensor (no copy, even when autodiff shares it), else its data converted. None if unreadable.
fn with_host_f32<B: Backend, const D: usize, R>(
    t: Tensor<B, D>,
    f: impl FnOnce(&[f32]) -> R,
) -> Option<R> {
    let prim = match t.into_primitive() {
        TensorPrimitive::Float(p) => p,
        q => return with_data_f32(Tensor::<B, D>::from_primitive(q), f),
    };
    if let Some(ft) = (&prim as &dyn Any).downcast_ref::<burn::backend::flex::FlexTensor>()
        && ft.dtype() == DType::F32
        && ft.is_contiguous()
    {
        let (start, n) = (ft.layout().start_offset(), ft.layout().num_elements());
        return ft.storage::<f32>().get(start..start + n).map(f);
    }
    with_data_f32(
        Tensor::<B, D>::from_primitive(TensorPrimitive::Float(prim)),
        f,
    )
}

fn with_data_f32<B: Backend, const D: usize, R>(
    t: Tensor<B, D>,
    f: impl FnOnce(&[f32]) -> R,
) -> Option<R> {
    let data = t.into_data().convert::<f32>();
    data.as_slice::<f32>().ok().map(f)
}

/// [`projected_cos_sin_sums`] on tensors: `samples` `[n, d]`, `freqs` `[d, T]`, `weights`
/// `[m, n]`. None off `flex` or when the data cannot be read as f32 (the caller then uses
/// tensor ops).
pub(crate) fn projected_cf<B: Backend>(
    samples: &Tensor<B, 2>,
    freqs: &Tensor<B, 2>,
    weights: &Tensor<B, 2>,
) -> Option<(Tensor<B, 2>, Tensor<B, 2>)> {
    if !enabled::<B>() {
        return None;
    }
    let [d, t] = freqs.dims();
    let [m, _] = weights.dims();
    let device = samples.device();
    let f = with_host_f32(freqs.clone(), <[f32]>::to_vec)?;
    let w = with_host_f32(weights.clone(), <[f32]>::to_vec)?;
    let (re, im) = with_host_f32(samples.clone(), |x| {
        projected_cos_sin_sums(x, d, &f, t, &w, m)
    })?;
    let back = |v: Vec<f32>| Tensor::<B, 2>::from_data(TensorData::new(v, [m, t]), &device);
    Some((back(re), back(im)))
}

/// `(cos x, sin x)` elementwise on the host, split over the cores. None as for [`projected_cf`].
pub(crate) fn cos_sin<B: Backend, const D: usize>(
    x: &Tensor<B, D>,
) -> Option<(Tensor<B, D>, Tensor<B, D>)> {
    if !enabled::<B>() {
        return None;
    }
    let shape = x.shape();
    let device = x.device();
    let (s, c) = with_host_f32(x.clone(), |v| {
        let (mut s, mut c) = (vec![0f32; v.len()], vec![0f32; v.len()]);
        const CHUNK: usize = 1 << 14;
        v.par_chunks(CHUNK)
            .zip(s.par_chunks_mut(CHUNK))
            .zip(c.par_chunks_mut(CHUNK))
            .for_each(|((v, s), c)| sin_cos_into(v, s, c));
        (s, c)
    })?;
    let back = |v: Vec<f32>| Tensor::<B, D>::from_data(TensorData::new(v, shape.clone()), &device);
    Some((back(c), back(s)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;

    #[test]
    fn sincos_matches_libm_to_float_precision() {
        // A sweep over the NCFD range, quadrant boundaries, both signs, and the libm fallback.
        let mut xs: Vec<f32> = (-200_000..=200_000).map(|i| i as f32 * 1e-3).collect();
        for k in -40..=40 {
            let b = k as f32 * std::f32::consts::FRAC_PI_4;
            xs.extend([b, b.next_up(), b.next_down()]);
        }
        xs.extend([
            8191.9,
            -8192.0,
            8192.5,
            1e6,
            -3.5e7,
            0.0,
            -0.0,
            f32::MIN_POSITIVE,
        ]);
        let (mut s, mut c) = (vec![0f32; xs.len()], vec![0f32; xs.len()]);
        sin_cos_into(&xs, &mut s, &mut c);
        for ((&x, s), c) in xs.iter().zip(&s).zip(&c) {
            let (rs, rc) = (x as f64).sin_cos();
            let err = (*s as f64 - rs).abs().max((*c as f64 - rc).abs());
            // |x| up to 8192 carries an f32 rounding of ~5e-4 relative to itself in the argument,
            // which is not this function's error: compare against the f32 argument exactly.
            assert!(
                err <= 3e-7,
                "x = {x}: sin {s} vs {rs}, cos {c} vs {rc} (err {err:e})"
            );
        }
        let (mut s1, mut c1) = (vec![0f32; 1], vec![0f32; 1]);
        sin_cos_into(&[f32::NAN], &mut s1, &mut c1);
        assert!(s1[0].is_nan() && c1[0].is_nan());
        sin_cos_into(&[f32::INFINITY], &mut s1, &mut c1);
        assert!(s1[0].is_nan() && c1[0].is_nan());
        // The vectorised path gives the same bits as the plain loop (no FMA contraction).
        let (mut s0, mut c0) = (vec![0f32; xs.len()], vec![0f32; xs.len()]);
        sincos_loop(&xs, &mut s0, &mut c0);
        assert!(s.iter().zip(&s0).all(|(a, b)| a.to_bits() == b.to_bits()));
        assert!(c.iter().zip(&c0).all(|(a, b)| a.to_bits() == b.to_bits()));
    }

    /// The fused projection path against `cos`/`sin` of Burn's own matmul, summed as tensors:
    /// odd sizes (rows not a multiple of the block, `d` and `T` not multiples of a vector).
    #[test]
    fn projected_sums_match_tensor_ops_and_are_deterministic() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        let (n, d, t, m) = (BLOCK_ROWS * 2 + 45, 13, 70, 3);
        let x: Vec<f32> = (0..n * d).map(|_| rng.random_range(-1.0..1.0)).collect();
        let f: Vec<f32> = (0..d * t).map(|_| rng.random_range(-3.0..3.0)).collect();
        let mut w = vec![0f32; m * n];
        for i in 0..n {
            w[(i % 2) * n + i] = if i % 7 == 0 { 0.5 } else { 1.0 };
        }
        let dev = Default::default();
        let xt = Tensor::<Flex, 2>::from_data(TensorData::new(x.clone(), [n, d]), &dev);
        let ft = Tensor::<Flex, 2>::from_data(TensorData::new(f.clone(), [d, t]), &dev);
        let wt = Tensor::<Flex, 2>::from_data(TensorData::new(w.clone(), [m, n]), &dev);
        let (re, im) = projected_cf(&xt, &ft, &wt).expect("f32 data");
        let p = xt.matmul(ft);
        let re_ref = wt.clone().matmul(p.clone().cos());
        let im_ref = wt.matmul(p.sin());
        for (a, b) in [(re.clone(), re_ref), (im.clone(), im_ref)] {
            let diff = (a - b).abs().max().into_scalar();
            assert!(diff < 1e-4, "max abs diff {diff}");
        }
        let host = |t: Tensor<Flex, 2>| with_host_f32(t, <[f32]>::to_vec).unwrap();
        let again = projected_cos_sin_sums(&x, d, &f, t, &w, m);
        assert_eq!(host(re), again.0, "bit-identical on a second run");
        assert_eq!(host(im), again.1);
        let (e_re, e_im) = projected_cos_sin_sums(&[], d, &f, t, &w[..0], 0);
        assert!(e_re.is_empty() && e_im.is_empty(), "no groups, no sums");
    }

    #[test]
    fn only_flex_takes_the_host_path() {
        assert!(enabled::<Flex>());
        assert!(!enabled::<burn::backend::Autodiff<Flex>>());
    }
}
