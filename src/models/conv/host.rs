//! Host kernels of the fast convolution: im2col of a band of output rows + one `gemm` call.
//!
//! Work is split into items `(image, band of output rows)` fixed by the shape alone, each item
//! runs one single-threaded `gemm`, and the weight gradient sums its per-group partials in a
//! fixed order: results are bit-identical run to run, whatever the thread count.

use super::direct;
use super::geom::{Geom, with_scratch};
use gemm::{Parallelism, gemm};
use rayon::prelude::*;
use std::mem::MaybeUninit;
use std::ops::Range;

/// Partial sums of the weight gradient at most (one per group of items).
const MAX_GROUPS: usize = 8;

/// Raw output pointer shared by items that write disjoint regions.
#[derive(Clone, Copy)]
struct OutPtr(*mut f32);
// SAFETY: every item writes a disjoint set of elements (its image's band of rows).
unsafe impl Send for OutPtr {}
unsafe impl Sync for OutPtr {}

impl OutPtr {
    /// The element `offset` (a method, so closures capture the `Send` wrapper, not the pointer).
    fn at(self, offset: usize) -> *mut f32 {
        self.0.wrapping_add(offset)
    }
}

/// The im2col rows `(ci, ki, kj)` of image `x` (`[c, h, w]`) for output rows `rows`, each
/// `rows.len() * wo` long, into `out`.
fn im2col(x: &[f32], g: &Geom, rows: Range<usize>, out: &mut [f32]) {
    if g.w == g.wo {
        return im2col_same_width(x, g, rows, out);
    }
    let len = rows.len() * g.wo;
    for (ck, dst_row) in out.chunks_exact_mut(len).enumerate().take(g.k()) {
        let (ci, ki, kj) = (ck / (g.kh * g.kw), ck / g.kw % g.kh, ck % g.kw);
        let plane = &x[ci * g.h * g.w..(ci + 1) * g.h * g.w];
        // Output columns whose input column `ox + kj - pl` lies inside the image.
        let lo = g.pl.saturating_sub(kj).min(g.wo);
        let hi = (g.w + g.pl).saturating_sub(kj).clamp(lo, g.wo);
        for (r, dst) in rows.clone().zip(dst_row.chunks_exact_mut(g.wo)) {
            let iy = (r + ki).checked_sub(g.pt).filter(|&y| y < g.h);
            let Some(iy) = iy.filter(|_| lo < hi) else {
                dst.fill(0.0);
                continue;
            };
            let src = &plane[iy * g.w + lo + kj - g.pl..iy * g.w + hi + kj - g.pl];
            dst[..lo].fill(0.0);
            dst[lo..hi].copy_from_slice(src);
            dst[hi..].fill(0.0);
        }
    }
}

/// [`im2col`] when the output is as wide as the input (every model conv): an im2col row is then
/// the input band shifted by `kj - pl` along the flattened rows, so each is one copy plus a
/// zeroed pad column per row, instead of a copy and two fills per row (libc calls on ~50-float
/// pieces cost more than the bytes they move).
fn im2col_same_width(x: &[f32], g: &Geom, rows: Range<usize>, out: &mut [f32]) {
    let (len, plane_len) = (rows.len() * g.wo, g.h * g.w);
    for (ck, dst) in out.chunks_exact_mut(len).enumerate().take(g.k()) {
        let (ci, ki, kj) = (ck / (g.kh * g.kw), ck / g.kw % g.kh, ck % g.kw);
        let plane = &x[ci * plane_len..(ci + 1) * plane_len];
        // Output rows whose input row `r + ki - pt` lies inside the image.
        let r_lo = rows.start.max(g.pt.saturating_sub(ki)).min(rows.end);
        let r_hi = rows.end.min((g.h + g.pt).saturating_sub(ki)).max(r_lo);
        let (d0, d1) = ((r_lo - rows.start) * g.wo, (r_hi - rows.start) * g.wo);
        dst[..d0].fill(0.0);
        dst[d1..].fill(0.0);
        if d0 == d1 {
            continue;
        }
        // dst[d] = plane[d + offset], clipped to the plane (clipped ends are pad columns).
        let shift = kj as isize - g.pl as isize;
        let offset = ((r_lo + ki - g.pt) * g.w) as isize + shift - d0 as isize;
        let a = (d0 as isize).max(-offset) as usize;
        let b = (d1 as isize)
            .min(plane_len as isize - offset)
            .max(a as isize) as usize;
        dst[d0..a].fill(0.0);
        dst[b..d1].fill(0.0);
        let src = (a as isize + offset) as usize;
        dst[a..b].copy_from_slice(&plane[src..src + (b - a)]);
        // Columns whose input column `ox + shift` is outside the row got a neighbour row's pixel.
        let bad = if shift < 0 {
            0..(-shift as usize).min(g.wo)
        } else {
            g.wo.saturating_sub(shift as usize)..g.wo
        };
        for row in dst[d0..d1].chunks_exact_mut(g.wo) {
            for ox in bad.clone() {
                row[ox] = 0.0;
            }
        }
    }
}

/// `f(cols, col_stride_between_k_rows)` with the im2col matrix of one item (rows `ci kh kw`, one
/// column per output pixel of the band): the input itself when pointwise, else this thread's
/// scratch buffer ([`with_scratch`]) filled.
fn with_cols<R>(
    x: &[f32],
    g: &Geom,
    b: usize,
    rows: &Range<usize>,
    f: impl FnOnce(&[f32], usize) -> R,
) -> R {
    let image = &x[b * g.c * g.h * g.w..(b + 1) * g.c * g.h * g.w];
    if g.pointwise() {
        return f(&image[rows.start * g.w..], g.h * g.w);
    }
    let len = rows.len() * g.wo;
    with_scratch(g.k() * len, |cols| {
        im2col(image, g, rows.clone(), cols);
        f(cols, len)
    })
}

/// A strided `rows x cols` matrix: first element, row stride, column stride (in elements).
type View = (*const f32, usize, usize);

/// `dst = lhs rhs`, or `dst += lhs rhs` when `accumulate`, for `lhs` `m x k`, `rhs` `k x n`;
/// `dst` is `m x n` with row stride `dst_rs` and column stride `dst_cs`. One thread, so the
/// sums' order is fixed.
///
/// SAFETY: every element of the three views must be in bounds, `dst` written by no one else.
unsafe fn matmul(
    [m, n, k]: [usize; 3],
    (dst, dst_rs, dst_cs): (*mut f32, usize, usize),
    accumulate: bool,
    lhs: View,
    rhs: View,
) {
    let i = |v: usize| v as isize;
    // SAFETY: the caller's contract.
    unsafe {
        gemm(
            m,
            n,
            k,
            dst,
            i(dst_cs),
            i(dst_rs),
            accumulate,
            lhs.0,
            i(lhs.2),
            i(lhs.1),
            rhs.0,
            i(rhs.2),
            i(rhs.1),
            1.0,
            1.0,
            false,
            false,
            false,
            Parallelism::None,
        )
    }
}

/// `dst = lhs rhs` for contiguous row-major `lhs` (`m x k`), `rhs` (`k x n`) and `dst`
/// (`m x n`), on this thread: the NCFD projections' blocks (`condense::host_cf`).
pub(crate) fn matmul_rows(dst: &mut [f32], lhs: &[f32], rhs: &[f32], [m, n, k]: [usize; 3]) {
    assert!(
        dst.len() == m * n && lhs.len() == m * k && rhs.len() == k * n,
        "matmul_rows: slice lengths"
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        dst.fill(0.0);
        return;
    }
    // SAFETY: the three views are exactly the checked slices; `dst` is borrowed mutably.
    unsafe {
        matmul(
            [m, n, k],
            (dst.as_mut_ptr(), n, 1),
            false,
            (lhs.as_ptr(), k, 1),
            (rhs.as_ptr(), n, 1),
        )
    }
}

/// Forward: `y[b] = bias + W cols[b]` with `x` `[n, c, h, w]`, `weight` `[co, c, kh, kw]` (its
/// natural layout is already the `[co, c kh kw]` matrix), `bias` `[co]`; `[n, co, ho, wo]`.
pub(crate) fn forward(x: &[f32], weight: &[f32], bias: Option<&[f32]>, g: &Geom) -> Vec<f32> {
    forward_with(x, weight, bias, g, true)
}

/// [`forward`] with the direct 3x3 kernel ([`direct`]) where `allow_direct` and
/// [`direct::applies`], else im2col + `gemm`; tests compare the two.
pub(super) fn forward_with(
    x: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    g: &Geom,
    allow_direct: bool,
) -> Vec<f32> {
    let (k, lo) = (g.k(), g.ho * g.wo);
    // Not zero-filled: the items cover every element, each written before `set_len`.
    let mut out = Vec::<f32>::with_capacity(g.n * g.co * lo);
    let ptr = OutPtr(out.as_mut_ptr());
    let direct_weights =
        (allow_direct && direct::applies(g)).then(|| direct::taps_major(weight, g));
    g.items().into_par_iter().for_each(|(b, rows)| {
        let len = rows.len() * g.wo;
        let dst = ptr.at(b * g.co * lo + rows.start * g.wo);
        if let Some(wt) = &direct_weights {
            let image = &x[b * g.c * g.h * g.w..(b + 1) * g.c * g.h * g.w];
            // SAFETY: `applies` held; `dst` is this item's band of `out`, its alone.
            unsafe { direct::forward_item(image, wt, bias, g, &rows, dst, lo) };
            return;
        }
        if let Some(bias) = bias {
            for (o, &v) in bias.iter().enumerate() {
                // SAFETY: row `o` of this item's band is in `out`'s capacity, written by this
                // item only (as `MaybeUninit`: the memory is not initialised yet).
                let row = unsafe { std::slice::from_raw_parts_mut(dst.add(o * lo).cast(), len) };
                row.fill(MaybeUninit::new(v));
            }
        }
        with_cols(x, g, b, &rows, |cols, cs| {
            // SAFETY: `dst` is `[co, len]` with row stride `lo` inside `out`'s capacity;
            // `weight` is `[co, k]`, `cols` is `[k, len]` with row stride `cs`; all in
            // bounds. Without a bias `gemm` writes `dst` without reading it.
            unsafe {
                let (lhs, rhs) = ((weight.as_ptr(), k, 1), (cols.as_ptr(), cs, 1));
                matmul([g.co, len, k], (dst, lo, 1), bias.is_some(), lhs, rhs)
            }
        });
    });
    // SAFETY: the items partition `[n, co, ho, wo]`; each wrote all of its elements above.
    unsafe { out.set_len(g.n * g.co * lo) };
    out
}

/// Weight gradient `sum_b dy[b] cols[b]^T`, `[co, c, kh, kw]`: items in at most
/// [`MAX_GROUPS`] contiguous groups, each accumulated in order, the groups added in order.
///
/// Each partial is held transposed (`[c kh kw, co]`): `gemm` packs the operand that indexes its
/// destination's contiguous axis unless that operand is contiguous along it, and `dy` (`co`
/// rows) is `c kh kw / co` times cheaper to pack than the im2col matrix.
pub(crate) fn weight_grad(x: &[f32], dy: &[f32], g: &Geom) -> Vec<f32> {
    let (k, lo) = (g.k(), g.ho * g.wo);
    let items = g.items();
    let per_group = items.len().div_ceil(MAX_GROUPS).max(1);
    let partials: Vec<Vec<f32>> = items
        .par_chunks(per_group)
        .map(|group| {
            let mut acc_t = vec![0f32; k * g.co];
            for (b, rows) in group {
                let len = rows.len() * g.wo;
                let dyp = &dy[b * g.co * lo + rows.start * g.wo..];
                with_cols(x, g, *b, rows, |cols, cs| {
                    // SAFETY: `acc_t` is `[co, k]` with row stride 1 and column stride `co`;
                    // `dyp` is `[co, len]` with row stride `lo`; `cols^T` is `[len, k]`
                    // (column stride `cs`); all in bounds.
                    unsafe {
                        let (lhs, rhs) = ((dyp.as_ptr(), lo, 1), (cols.as_ptr(), 1, cs));
                        let dst = (acc_t.as_mut_ptr(), 1, g.co);
                        matmul([g.co, k, len], dst, true, lhs, rhs)
                    }
                });
            }
            acc_t
        })
        .collect();
    let mut it = partials.into_iter();
    let first = it.next().unwrap_or_else(|| vec![0f32; k * g.co]);
    let sum_t = it.fold(first, |mut a, p| {
        a.iter_mut().zip(&p).for_each(|(a, p)| *a += p);
        a
    });
    (0..g.co * k)
        .map(|i| sum_t[(i % k) * g.co + i / k])
        .collect()
}

/// Bias gradient: `dy` summed over images and pixels per output channel (in f64, in order).
pub(crate) fn bias_grad(dy: &[f32], g: &Geom) -> Vec<f32> {
    let lo = g.ho * g.wo;
    (0..g.co)
        .into_par_iter()
        .map(|o| {
            let sum: f64 = (0..g.n)
                .map(|b| {
                    let row = &dy[(b * g.co + o) * lo..(b * g.co + o + 1) * lo];
                    row.iter().map(|&v| v as f64).sum::<f64>()
                })
                .sum();
            sum as f32
        })
        .collect()
}

/// `W'[ci, o, ki, kj] = W[o, ci, kh-1-ki, kw-1-kj]`: the weights of [`Geom::input_grad`].
pub(crate) fn flip_transpose(weight: &[f32], g: &Geom) -> Vec<f32> {
    let ks = g.kh * g.kw;
    let mut out = vec![0f32; weight.len()];
    for o in 0..g.co {
        for ci in 0..g.c {
            let src = &weight[(o * g.c + ci) * ks..(o * g.c + ci + 1) * ks];
            let dst = &mut out[(ci * g.co + o) * ks..(ci * g.co + o + 1) * ks];
            dst.iter_mut()
                .zip(src.iter().rev())
                .for_each(|(d, s)| *d = *s);
        }
    }
    out
}

/// Input gradient `[n, c, h, w]`: the forward of [`Geom::input_grad`] on `dy`.
pub(crate) fn input_grad(weight: &[f32], dy: &[f32], g: &Geom) -> Vec<f32> {
    forward(dy, &flip_transpose(weight, g), None, &g.input_grad())
}
