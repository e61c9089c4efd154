//! MATLAB-style bicubic resize with antialiasing, the algorithm of BasicSR 1.4.2
//! `basicsr/utils/matlab_functions.py::imresize`, and BasicSR's `mod_crop`.
//!
//! Every ISR benchmark builds its LR images this way, so our LR patches must match BasicSR's to
//! the 8-bit level. Details reproduced on purpose:
//! - cubic kernel with `a = -0.5`, support 4, widened to `4 / scale` (and scaled by `scale`)
//!   when downscaling (antialiasing);
//! - output size `ceil(in * scale)` per axis, same scale for both axes;
//! - source coordinate `u = x / scale + 0.5 (1 - 1 / scale)` (1-based), window start
//!   `floor(u - width / 2)`, `ceil(width) + 2` taps, weights normalised per output pixel;
//! - BasicSR's tap trimming: if the first tap column holds a zero weight in *any* row, the first
//!   and last columns are dropped; otherwise, if the last column holds a zero, the last two are;
//! - MATLAB "symmetric" borders (edge pixel repeated: `-1 -> 0`, `n -> n - 1`);
//! - the height axis first, then the width axis.
//!
//! Precision follows BasicSR on purpose: weights are computed in `f64` and rounded to `f32` (for
//! scales 2 and 4, and their inverses, they are dyadic and thus identical to torch's), the window
//! start uses torch's `f32` arithmetic, and both passes accumulate in `f32`, tap by tap, without
//! fused multiply-add -- the height pass is then bit-identical to torch's `mv`, the width pass
//! nearly so. This matters because bicubic down-scaling by 2 or 4 samples between pixels: on
//! smooth gradients many exact values are `k + 0.5`, and BasicSR's rounding of those is decided by
//! its `f32` rounding noise. Exact `f64` sums disagree with BasicSR on ~10x more pixels. Quantise
//! with [`crate::image::io::quantize_image`] (NumPy's round-half-to-even) to match BasicSR's
//! 8-bit files; see `integration-tests/tests/foundation.rs` for the measured agreement.

use super::Image;
use crate::error::{IdcError, Result};

/// Precomputed taps for one axis: output `o` reads `idx[o * taps + k]` (already reflected into
/// `0..in_len`) with weight `w[o * taps + k]` (`f64`), applied as `w32` (the same rounded to `f32`).
#[derive(Clone, Debug)]
pub struct AxisWeights {
    /// Input length along this axis.
    pub in_len: usize,
    /// Output length along this axis.
    pub out_len: usize,
    /// Taps (input samples) per output sample.
    pub taps: usize,
    /// Input index of each tap (reflected into `0..in_len`), `out_len * taps` entries.
    pub idx: Vec<usize>,
    /// Weight of each tap (`f64`), `out_len * taps` entries.
    pub w: Vec<f64>,
    /// `w` rounded to `f32`, the weights actually applied.
    pub w32: Vec<f32>,
}

/// Keys' cubic kernel with `a = -0.5`, exactly BasicSR's `cubic` (including its masks, which make
/// the kernel exactly zero at `|x| = 1` and `|x| >= 2`).
#[inline]
fn cubic(x: f64) -> f64 {
    let ax = x.abs();
    let ax2 = ax * ax;
    let ax3 = ax2 * ax;
    if ax <= 1.0 {
        1.5 * ax3 - 2.5 * ax2 + 1.0
    } else if ax <= 2.0 {
        -0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0
    } else {
        0.0
    }
}

/// MATLAB `symmetric` padding of a 0-based index into `0..n` (repeats the edge pixel; reflects
/// again for windows wider than the image, where BasicSR itself would fail).
#[inline]
fn reflect(i: i64, n: usize) -> usize {
    let n = n as i64;
    let period = 2 * n;
    let mut j = i.rem_euclid(period);
    if j >= n {
        j = period - 1 - j;
    }
    j as usize
}

/// Output length of `imresize` for an input length: `ceil(in * scale)` (as Python computes it).
pub fn output_len(in_len: usize, scale: f64) -> usize {
    (in_len as f64 * scale).ceil() as usize
}

/// BasicSR `calculate_weights_indices` (antialiasing on) for one axis.
pub fn axis_weights(in_len: usize, out_len: usize, scale: f64) -> AxisWeights {
    let antialias = scale < 1.0;
    let kernel_width = if antialias { 4.0 / scale } else { 4.0 };
    let p = kernel_width.ceil() as usize + 2;
    // Window start as torch computes it (f32), so the tap layout and trimming match BasicSR.
    let shift = 0.5 * (1.0 - 1.0 / scale);
    let (scale32, shift32, half32) = (scale as f32, shift as f32, (kernel_width / 2.0) as f32);

    let mut lefts = Vec::with_capacity(out_len);
    let mut w = vec![0.0f64; out_len * p];
    for o in 0..out_len {
        let x = (o + 1) as f64;
        let u32_ = (x as f32) / scale32 + shift32;
        let left = (u32_ - half32).floor() as i64;
        let u = x / scale + shift;
        let row = &mut w[o * p..(o + 1) * p];
        for (k, wk) in row.iter_mut().enumerate() {
            let d = u - (left + k as i64) as f64;
            *wk = if antialias {
                scale * cubic(d * scale)
            } else {
                cubic(d)
            };
        }
        let sum: f64 = row.iter().sum();
        if sum != 0.0 {
            for wk in row.iter_mut() {
                *wk /= sum;
            }
        }
        lefts.push(left);
    }

    // BasicSR's trimming (see module docs): decided on the first and last columns over all rows.
    let first_zero = (0..out_len).any(|o| w[o * p] == 0.0);
    let last_zero = (0..out_len).any(|o| w[o * p + p - 1] == 0.0);
    let (start, taps) = if first_zero && p > 2 {
        (1, p - 2)
    } else if last_zero && p > 2 {
        (0, p - 2)
    } else {
        (0, p)
    };

    let mut idx = Vec::with_capacity(out_len * taps);
    let mut wt = Vec::with_capacity(out_len * taps);
    for (o, &left) in lefts.iter().enumerate() {
        for k in start..start + taps {
            // `left + k` is a 1-based MATLAB index; convert to 0-based and reflect.
            idx.push(reflect(left + k as i64 - 1, in_len));
            wt.push(w[o * p + k]);
        }
    }
    let w32 = wt.iter().map(|&v| v as f32).collect();
    AxisWeights {
        in_len,
        out_len,
        taps,
        idx,
        w: wt,
        w32,
    }
}

/// Checks a resize scale and returns the output size.
fn output_size(height: usize, width: usize, scale: f64) -> Result<(usize, usize)> {
    if !scale.is_finite() || scale <= 0.0 {
        return Err(IdcError::InvalidInput(format!(
            "resize scale must be finite and positive, got {scale}"
        )));
    }
    let (oh, ow) = (output_len(height, scale), output_len(width, scale));
    if oh == 0 || ow == 0 {
        return Err(IdcError::InvalidInput(format!(
            "resize of {height}x{width} by {scale} gives an empty image"
        )));
    }
    // Guard against absurd up-scaling requests (allocation of many GB).
    if (oh as u128) * (ow as u128) > (1u128 << 31) {
        return Err(IdcError::InvalidInput(format!(
            "resize of {height}x{width} by {scale} gives {oh}x{ow}, too large"
        )));
    }
    Ok((oh, ow))
}

/// MATLAB-style bicubic resize with antialiasing (BasicSR 1.4.2 `imresize`), any positive scale,
/// same scale on both axes. Values are not clipped or rounded (like BasicSR); quantise with
/// [`crate::image::io::quantize_image`] to get what BasicSR's 8-bit file would hold.
pub fn imresize(img: &Image, scale: f64) -> Result<Image> {
    let (oh, ow) = output_size(img.height, img.width, scale)?;
    let wh = axis_weights(img.height, oh, scale);
    let ww = axis_weights(img.width, ow, scale);
    Ok(resize_with(img, &wh, &ww))
}

/// Resize with precomputed axis weights (`wh` for rows, `ww` for columns); lets callers that
/// resize many same-sized patches build the weights once.
pub fn resize_with(img: &Image, wh: &AxisWeights, ww: &AxisWeights) -> Image {
    let (c, h, w) = (img.channels, img.height, img.width);
    debug_assert_eq!((wh.in_len, ww.in_len), (h, w));
    let (oh, ow) = (wh.out_len, ww.out_len);
    let mut out = Vec::with_capacity(c * oh * ow);
    let mut rows = vec![0.0f32; oh * w];
    for ch in 0..c {
        let plane = img.plane(ch);
        // Height pass: each output row is a weighted sum of `taps` input rows, accumulated in
        // f32 in tap order (torch's `mv` on the transposed window does exactly this).
        for o in 0..oh {
            let acc = &mut rows[o * w..(o + 1) * w];
            acc.iter_mut().for_each(|v| *v = 0.0);
            for k in 0..wh.taps {
                let wk = wh.w32[o * wh.taps + k];
                if wk == 0.0 {
                    continue;
                }
                let src = &plane[wh.idx[o * wh.taps + k] * w..][..w];
                for (a, &s) in acc.iter_mut().zip(src) {
                    *a += wk * s;
                }
            }
        }
        // Width pass, same order.
        for r in 0..oh {
            let row = &rows[r * w..(r + 1) * w];
            for o in 0..ow {
                let base = o * ww.taps;
                let mut s = 0.0f32;
                for k in 0..ww.taps {
                    s += ww.w32[base + k] * row[ww.idx[base + k]];
                }
                out.push(s);
            }
        }
    }
    Image {
        channels: c,
        height: oh,
        width: ow,
        data: out,
    }
}

/// Crops bottom/right so both sides are multiples of `scale`, as BasicSR's `mod_crop` does for GT
/// images before building LR. With `scale == 0` or an image smaller than `scale` the image is
/// returned unchanged; [`try_mod_crop`] reports those cases as errors instead.
pub fn mod_crop(img: &Image, scale: usize) -> Image {
    try_mod_crop(img, scale).unwrap_or_else(|_| img.clone())
}

/// Checked `mod_crop`: errors when `scale == 0` or the image is smaller than `scale`.
pub fn try_mod_crop(img: &Image, scale: usize) -> Result<Image> {
    if scale == 0 {
        return Err(IdcError::InvalidInput(
            "mod_crop scale must be positive".into(),
        ));
    }
    let (h, w) = (
        img.height - img.height % scale,
        img.width - img.width % scale,
    );
    if h == 0 || w == 0 {
        return Err(IdcError::InvalidInput(format!(
            "image {}x{} is smaller than scale {scale}",
            img.height, img.width
        )));
    }
    if (h, w) == (img.height, img.width) {
        return Ok(img.clone());
    }
    img.crop(0, 0, h, w)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(h: usize, w: usize) -> Image {
        let data = (0..h * w)
            .map(|i| (i % w) as f32 / (w - 1) as f32)
            .collect();
        Image::new(1, h, w, data).unwrap()
    }

    #[test]
    fn constant_stays_constant() {
        let img = Image::new(3, 37, 23, vec![0.4; 3 * 37 * 23]).unwrap();
        for s in [0.5, 1.0 / 3.0, 0.25, 2.0, 3.0, 0.7, 1.5] {
            let out = imresize(&img, s).unwrap();
            for &v in &out.data {
                assert!((v - 0.4).abs() < 1e-6, "scale {s}: {v}");
            }
        }
    }

    #[test]
    fn output_sizes_on_odd_sizes() {
        let img = Image::zeros(3, 51, 37);
        let cases = [
            (0.5, 26, 19),
            (1.0 / 3.0, 17, 13),
            (0.25, 13, 10),
            (2.0, 102, 74),
            (3.0, 153, 111),
        ];
        for (s, oh, ow) in cases {
            let out = imresize(&img, s).unwrap();
            assert_eq!(
                (out.channels, out.height, out.width),
                (3, oh, ow),
                "scale {s}"
            );
        }
    }

    #[test]
    fn linear_ramp_is_preserved_in_the_interior() {
        // Cubic convolution reproduces linear functions exactly away from the borders: each
        // output equals the ramp value at its source coordinate u (0-based: u - 1).
        let (h, w) = (8, 64);
        let img = ramp(h, w);
        for s in [0.5, 0.25, 2.0] {
            let out = imresize(&img, s).unwrap();
            let half = if s < 1.0 { 2.0 / s } else { 2.0 };
            let mut checked = 0;
            for o in 0..out.width {
                // 0-based source coordinate; skip outputs whose kernel reaches the border.
                let u = (o + 1) as f64 / s + 0.5 * (1.0 - 1.0 / s) - 1.0;
                if u - half - 1.0 < 0.0 || u + half + 1.0 > (w - 1) as f64 {
                    continue;
                }
                checked += 1;
                let expect = u / (w - 1) as f64;
                let got = out.at(0, out.height / 2, o) as f64;
                assert!(
                    (got - expect).abs() < 1e-5,
                    "scale {s} col {o}: {got} vs {expect}"
                );
            }
            assert!(checked > 0, "scale {s}: no interior column was checked");
            // And it is monotone over the whole row (symmetric borders keep it non-decreasing).
            let row: Vec<f32> = (0..out.width).map(|x| out.at(0, 0, x)).collect();
            assert!(row.windows(2).all(|p| p[1] >= p[0] - 1e-6), "scale {s}");
        }
    }

    #[test]
    fn downscale_by_two_weights_match_basicsr_layout() {
        // 1/2: width 8, p = 10, first column zero -> 8 taps, symmetric weights summing to one.
        let aw = axis_weights(16, 8, 0.5);
        assert_eq!(aw.taps, 8);
        for o in 0..8 {
            let row = &aw.w[o * 8..(o + 1) * 8];
            assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12);
            for k in 0..4 {
                assert!((row[k] - row[7 - k]).abs() < 1e-12);
            }
        }
        // First output reads rows -3..4 (1-based -2..5): reflected 2,1,0,0,1,2,3,4.
        assert_eq!(&aw.idx[..8], &[2, 1, 0, 0, 1, 2, 3, 4]);
    }

    #[test]
    fn reflect_is_symmetric_padding() {
        assert_eq!(reflect(-1, 5), 0);
        assert_eq!(reflect(-2, 5), 1);
        assert_eq!(reflect(5, 5), 4);
        assert_eq!(reflect(6, 5), 3);
        assert_eq!(reflect(12, 5), 2);
    }

    #[test]
    fn tiny_images_and_bad_scales() {
        let img = Image::new(1, 1, 1, vec![0.3]).unwrap();
        let out = imresize(&img, 4.0).unwrap();
        assert_eq!((out.height, out.width), (4, 4));
        assert!(out.data.iter().all(|v| (v - 0.3).abs() < 1e-6));
        assert!(imresize(&img, 0.0).is_err());
        assert!(imresize(&img, f64::NAN).is_err());
        assert!(imresize(&img, -2.0).is_err());
    }

    #[test]
    fn mod_crop_crops_bottom_right() {
        let img = ramp(10, 11);
        let c = mod_crop(&img, 4);
        assert_eq!((c.height, c.width), (8, 8));
        assert_eq!(c.at(0, 7, 7), img.at(0, 7, 7));
        assert_eq!(mod_crop(&img, 1), img);
        assert!(try_mod_crop(&img, 12).is_err());
        assert!(try_mod_crop(&img, 0).is_err());
    }
}
