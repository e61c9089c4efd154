//! Direct 3x3 "same" convolution with AVX-512 (every body conv of the models).
//!
//! Why: im2col + `gemm` copies the input nine times per item and runs the product at ~75% of
//! the cores' FMA peak (`benches/README.md`); a direct kernel reads a once-padded input band in
//! place: 16 output pixels per vector, a block of up to 8 output channels x 3 vectors held in
//! 24 registers, one FMA per (channel, tap, output channel, vector). Used on `flex` when the CPU
//! has AVX-512F (checked once at run time); otherwise im2col + `gemm` stays the path.
//! Every output element's sum runs in one fixed order: bit-identical run to run.

use super::geom::{Geom, with_scratch};
use std::ops::Range;
use std::sync::OnceLock;

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// Output pixels per vector.
const LANES: usize = 16;
/// Output channels per register block at most.
const MAX_OB: usize = 8;
/// Vectors per register block at most (`MAX_OB x MAX_XV` accumulators).
const MAX_XV: usize = 3;

/// Whether this kernel computes `g`: a 3x3, padding-1 convolution as wide and tall as its input,
/// on a CPU with AVX-512F.
pub(super) fn applies(g: &Geom) -> bool {
    let shape = (g.kh, g.kw, g.pt, g.pl) == (3, 3, 1, 1) && (g.ho, g.wo) == (g.h, g.w);
    shape && g.w > 0 && avx512()
}

/// Whether the CPU has AVX-512F (detected once).
pub(super) fn avx512() -> bool {
    static DETECTED: OnceLock<bool> = OnceLock::new();
    *DETECTED.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            std::arch::is_x86_feature_detected!("avx512f")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    })
}

/// Padded row width: whole vectors plus the two columns of padding the taps read.
fn padded_width(g: &Geom) -> usize {
    g.w.div_ceil(LANES) * LANES + 2
}

/// Weights `[co, c, 3, 3]` as `[c, 3, 3, co]`, so a tap's output channels are contiguous.
pub(super) fn taps_major(weight: &[f32], g: &Geom) -> Vec<f32> {
    let mut out = vec![0f32; weight.len()];
    for o in 0..g.co {
        for t in 0..g.c * 9 {
            out[t * g.co + o] = weight[o * g.c * 9 + t];
        }
    }
    out
}

/// `buf` = the input rows output band `rows` reads (one above, one below), each zero-padded to
/// [`padded_width`] (one column on the left): `[c, rows + 2, wp]`.
fn fill_band(image: &[f32], g: &Geom, rows: &Range<usize>, buf: &mut [f32]) {
    let wp = padded_width(g);
    let plane = (rows.len() + 2) * wp;
    for (ci, dst_plane) in buf.chunks_exact_mut(plane).enumerate() {
        let src = &image[ci * g.h * g.w..(ci + 1) * g.h * g.w];
        for (j, dst) in dst_plane.chunks_exact_mut(wp).enumerate() {
            dst.fill(0.0);
            // Band row `j` is input row `rows.start + j - 1`.
            if let Some(iy) = (rows.start + j).checked_sub(1).filter(|&y| y < g.h) {
                dst[1..=g.w].copy_from_slice(&src[iy * g.w..(iy + 1) * g.w]);
            }
        }
    }
}

/// One item: output band `rows` of `image` into `dst` (the band's first element of `[co, h w]`,
/// channel stride `lo`), bias added; `wt` from [`taps_major`].
///
/// SAFETY: [`applies`] held for `g`; `dst` is this item's band of an output with channel stride
/// `lo`, written by no one else.
pub(super) unsafe fn forward_item(
    image: &[f32],
    wt: &[f32],
    bias: Option<&[f32]>,
    g: &Geom,
    rows: &Range<usize>,
    dst: *mut f32,
    lo: usize,
) {
    let len = g.c * (rows.len() + 2) * padded_width(g);
    with_scratch(len, |band| {
        fill_band(image, g, rows, band);
        // SAFETY: the caller's contract; the band is filled.
        unsafe { band_product(band, wt, bias, g, rows.len(), dst, lo) }
    })
}

/// Every register block of one band: output-channel blocks outermost (their weights stay in
/// L1), then rows, then groups of up to [`MAX_XV`] vectors.
///
/// SAFETY: as [`forward_item`], `band` filled by [`fill_band`] for `n_rows` rows.
#[cfg(target_arch = "x86_64")]
unsafe fn band_product(
    band: &[f32],
    wt: &[f32],
    bias: Option<&[f32]>,
    g: &Geom,
    n_rows: usize,
    dst: *mut f32,
    lo: usize,
) {
    let wp = padded_width(g);
    let vectors = g.w.div_ceil(LANES);
    let mut o0 = 0;
    while o0 < g.co {
        let ob = [MAX_OB, 4, 2, 1]
            .into_iter()
            .find(|&b| b <= g.co - o0)
            .unwrap_or(1);
        for y in 0..n_rows {
            let mut v0 = 0;
            while v0 < vectors {
                let xv = (vectors - v0).min(MAX_XV);
                let block = Block {
                    input: band[y * wp + v0 * LANES..].as_ptr(),
                    plane: (n_rows + 2) * wp,
                    wp,
                    c: g.c,
                    wt: wt[o0..].as_ptr(),
                    co: g.co,
                    bias: bias.map(|b| b[o0..].as_ptr()),
                    // SAFETY: row `y`, columns from `v0` vectors on, channel `o0` of the band.
                    out: unsafe { dst.add(o0 * lo + y * g.wo + v0 * LANES) },
                    lo,
                    valid: g.w - v0 * LANES,
                };
                // SAFETY: AVX-512F is present ([`applies`]); the block is inside the band,
                // the weights and the output.
                unsafe { dispatch(ob, xv, &block) };
                v0 += xv;
            }
        }
        o0 += ob;
    }
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn band_product(
    _: &[f32],
    _: &[f32],
    _: Option<&[f32]>,
    _: &Geom,
    _: usize,
    _: *mut f32,
    _: usize,
) {
    unreachable!("direct::applies is false off x86_64")
}

/// One register block's operands.
struct Block {
    /// Band element (channel 0, top tap row, first column of the block).
    input: *const f32,
    plane: usize,
    wp: usize,
    c: usize,
    /// Weight of (channel 0, tap 0, the block's first output channel) in [`taps_major`].
    wt: *const f32,
    co: usize,
    bias: Option<*const f32>,
    out: *mut f32,
    lo: usize,
    /// Output pixels from the block's first column to the row's end.
    valid: usize,
}

#[cfg(target_arch = "x86_64")]
unsafe fn dispatch(ob: usize, xv: usize, b: &Block) {
    macro_rules! go {
        ($($o:literal $x:literal),*) => {
            match (ob, xv) {
                // SAFETY: the caller's contract.
                $(($o, $x) => unsafe { block::<$o, $x>(b) },)*
                _ => unreachable!("block sizes are 1, 2, 4, 8 x 1, 2, 3"),
            }
        };
    }
    go!(8 3, 8 2, 8 1, 4 3, 4 2, 4 1, 2 3, 2 2, 2 1, 1 3, 1 2, 1 1)
}

/// `OB` output channels x `XV` vectors of one output row: the sum over channels and the nine
/// taps, in that order, then the bias; lanes past the row's end are not stored.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn block<const OB: usize, const XV: usize>(b: &Block) {
    let mut acc = [[_mm512_setzero_ps(); XV]; OB];
    for ci in 0..b.c {
        for ki in 0..3 {
            // SAFETY (whole loop): every read is inside the band (`XV` vectors from the
            // block's column plus at most 2, within the padded row) or the weights.
            let row = unsafe { b.input.add(ci * b.plane + ki * b.wp) };
            for kj in 0..3 {
                let xs: [__m512; XV] =
                    std::array::from_fn(|v| unsafe { _mm512_loadu_ps(row.add(kj + v * LANES)) });
                let w = unsafe { b.wt.add(((ci * 3 + ki) * 3 + kj) * b.co) };
                for (o, acc_o) in acc.iter_mut().enumerate() {
                    let wv = _mm512_set1_ps(unsafe { *w.add(o) });
                    for (a, x) in acc_o.iter_mut().zip(&xs) {
                        *a = _mm512_fmadd_ps(wv, *x, *a);
                    }
                }
            }
        }
    }
    for (o, acc_o) in acc.iter().enumerate() {
        let bias = b.bias.map_or(0.0, |p| unsafe { *p.add(o) });
        for (v, a) in acc_o.iter().enumerate() {
            let sum = _mm512_add_ps(*a, _mm512_set1_ps(bias));
            let lanes = b.valid.saturating_sub(v * LANES).min(LANES);
            let mask: __mmask16 = if lanes == LANES {
                !0
            } else {
                (1u16 << lanes) - 1
            };
            // SAFETY: the first `lanes` pixels of vector `v` are in this row of the output.
            unsafe { _mm512_mask_storeu_ps(b.out.add(o * b.lo + v * LANES), mask, sum) };
        }
    }
}
