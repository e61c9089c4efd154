//! PSNR and SSIM exactly as BasicSR 1.4.2 computes them (`basicsr/metrics/psnr_ssim.py`:
//! `calculate_psnr`, `calculate_ssim`), so our tables compare with published ones.
//!
//! Conventions:
//! - inputs are **8-bit images**: an [`Image`] in `[0, 1]` is first quantised with
//!   `round(clip(x * 255, 0, 255))` (halves to even, what BasicSR's `tensor2img` gives; see
//!   [`crate::image::io::quantize_u8`]), then the metric
//!   runs in `f64` on the 0-255 range, as BasicSR does on `uint8` arrays;
//! - `crop_border` pixels are removed from every edge before anything else;
//! - `y_channel` uses BasicSR's `to_y_channel` on 3-channel inputs, including its float32
//!   round trips: `Y = f32(f32((16 + 24.966 B + 128.553 G + 65.481 R) / 255) * 255)` with
//!   `R, G, B = f32(v / 255)`; 1-channel inputs go through the same `f32(v / 255) * 255` trip;
//! - PSNR: `10 log10(255^2 / MSE)` over all pixels and channels; identical images give
//!   `f64::INFINITY` (BasicSR returns `float('inf')`);
//! - SSIM: 11x11 Gaussian window (sigma 1.5, OpenCV `getGaussianKernel`), `c1 = (0.01 * 255)^2`,
//!   `c2 = (0.03 * 255)^2`, statistics over the *valid* region only (BasicSR's
//!   `cv2.filter2D(...)[5:-5, 5:-5]`), mean SSIM map per channel, averaged over channels.
//!   Needs at least 11x11 pixels after cropping.

use crate::error::{IdcError, Result};
use crate::image::Image;
use crate::image::io::image_to_u8;

/// Planar f64 channels in the 0-255 range, as the metrics see them.
struct Planes {
    channels: usize,
    height: usize,
    width: usize,
    data: Vec<Vec<f64>>,
}

/// Crop, optional Y conversion, to f64 planes (see the module docs for the exact arithmetic).
fn prepare(
    u8data: &[u8],
    channels: usize,
    height: usize,
    width: usize,
    crop_border: usize,
    y_channel: bool,
) -> Result<Planes> {
    if 2 * crop_border >= height || 2 * crop_border >= width {
        return Err(IdcError::InvalidInput(format!(
            "crop_border {crop_border} leaves nothing of a {height}x{width} image"
        )));
    }
    let (h, w) = (height - 2 * crop_border, width - 2 * crop_border);
    let plane = |c: usize| -> Vec<u8> {
        let mut v = Vec::with_capacity(h * w);
        for y in crop_border..crop_border + h {
            let row = (c * height + y) * width + crop_border;
            v.extend_from_slice(&u8data[row..row + w]);
        }
        v
    };
    let data = if y_channel && channels == 3 {
        let (r, g, b) = (plane(0), plane(1), plane(2));
        let y: Vec<f64> = (0..h * w)
            .map(|i| {
                let (rf, gf, bf) = (
                    (r[i] as f32 / 255.0) as f64,
                    (g[i] as f32 / 255.0) as f64,
                    (b[i] as f32 / 255.0) as f64,
                );
                // BasicSR works on BGR: np.dot(img, [24.966, 128.553, 65.481]) + 16.
                let y64 = bf * 24.966 + gf * 128.553 + rf * 65.481 + 16.0;
                (((y64 / 255.0) as f32) * 255.0f32) as f64
            })
            .collect();
        vec![y]
    } else if y_channel {
        (0..channels)
            .map(|c| {
                plane(c)
                    .into_iter()
                    .map(|v| ((v as f32 / 255.0) * 255.0f32) as f64)
                    .collect()
            })
            .collect()
    } else {
        (0..channels)
            .map(|c| plane(c).into_iter().map(|v| v as f64).collect())
            .collect()
    };
    Ok(Planes {
        channels: data.len(),
        height: h,
        width: w,
        data,
    })
}

fn check_same(sr: &Image, hr: &Image) -> Result<()> {
    if (sr.channels, sr.height, sr.width) != (hr.channels, hr.height, hr.width) {
        return Err(IdcError::mismatch(
            "image shape (restored vs reference)",
            format!("{}x{}x{}", hr.channels, hr.height, hr.width),
            format!("{}x{}x{}", sr.channels, sr.height, sr.width),
        ));
    }
    Ok(())
}

fn psnr_planes(a: &Planes, b: &Planes) -> f64 {
    let mut sum = 0.0f64;
    for (pa, pb) in a.data.iter().zip(&b.data) {
        for (x, y) in pa.iter().zip(pb) {
            let d = x - y;
            sum += d * d;
        }
    }
    let mse = sum / (a.channels * a.height * a.width) as f64;
    if mse == 0.0 {
        return f64::INFINITY;
    }
    10.0 * (255.0 * 255.0 / mse).log10()
}

/// OpenCV `getGaussianKernel(11, 1.5)` (f64, normalised by multiplying with `1 / sum`).
fn gaussian_11() -> [f64; 11] {
    let sigma = 1.5f64;
    let scale2x = -0.5 / (sigma * sigma);
    let mut k = [0.0f64; 11];
    let mut sum = 0.0;
    for (i, v) in k.iter_mut().enumerate() {
        let x = i as f64 - 5.0;
        *v = (scale2x * x * x).exp();
        sum += *v;
    }
    let inv = 1.0 / sum;
    k.iter_mut().for_each(|v| *v *= inv);
    k
}

/// 11x11 Gaussian correlation, valid region only: `(h - 10) x (w - 10)` outputs.
fn filter_valid(src: &[f64], h: usize, w: usize, g: &[f64; 11]) -> Vec<f64> {
    let (oh, ow) = (h - 10, w - 10);
    // Horizontal pass on all rows, then vertical.
    let mut tmp = vec![0.0f64; h * ow];
    for y in 0..h {
        let row = &src[y * w..(y + 1) * w];
        for x in 0..ow {
            let mut s = 0.0;
            for (k, gk) in g.iter().enumerate() {
                s += gk * row[x + k];
            }
            tmp[y * ow + x] = s;
        }
    }
    let mut out = vec![0.0f64; oh * ow];
    for y in 0..oh {
        let o = &mut out[y * ow..(y + 1) * ow];
        for (k, gk) in g.iter().enumerate() {
            let t = &tmp[(y + k) * ow..(y + k + 1) * ow];
            for (a, b) in o.iter_mut().zip(t) {
                *a += gk * b;
            }
        }
    }
    out
}

/// BasicSR `_ssim` for one channel in the 0-255 range.
fn ssim_channel(a: &[f64], b: &[f64], h: usize, w: usize) -> f64 {
    let c1 = (0.01f64 * 255.0).powi(2);
    let c2 = (0.03f64 * 255.0).powi(2);
    let g = gaussian_11();
    let mu1 = filter_valid(a, h, w, &g);
    let mu2 = filter_valid(b, h, w, &g);
    let a2: Vec<f64> = a.iter().map(|v| v * v).collect();
    let b2: Vec<f64> = b.iter().map(|v| v * v).collect();
    let ab: Vec<f64> = a.iter().zip(b).map(|(x, y)| x * y).collect();
    let s11 = filter_valid(&a2, h, w, &g);
    let s22 = filter_valid(&b2, h, w, &g);
    let s12 = filter_valid(&ab, h, w, &g);
    let n = mu1.len();
    let mut sum = 0.0f64;
    for i in 0..n {
        let (m1, m2) = (mu1[i], mu2[i]);
        let (m1s, m2s, m12) = (m1 * m1, m2 * m2, m1 * m2);
        let sig1 = s11[i] - m1s;
        let sig2 = s22[i] - m2s;
        let sig12 = s12[i] - m12;
        sum += ((2.0 * m12 + c1) * (2.0 * sig12 + c2)) / ((m1s + m2s + c1) * (sig1 + sig2 + c2));
    }
    sum / n as f64
}

fn ssim_planes(a: &Planes, b: &Planes) -> Result<f64> {
    if a.height < 11 || a.width < 11 {
        return Err(IdcError::InvalidInput(format!(
            "SSIM needs at least 11x11 pixels after cropping, got {}x{}",
            a.height, a.width
        )));
    }
    let total: f64 = a
        .data
        .iter()
        .zip(&b.data)
        .map(|(pa, pb)| ssim_channel(pa, pb, a.height, a.width))
        .sum();
    Ok(total / a.channels as f64)
}

/// Checks shapes and data sizes of planar 8-bit inputs.
fn check_u8(sr: &[u8], hr: &[u8], channels: usize, height: usize, width: usize) -> Result<()> {
    let n = channels * height * width;
    if n == 0 || sr.len() != n || hr.len() != n {
        return Err(IdcError::InvalidInput(format!(
            "8-bit images must both hold {channels}x{height}x{width} values, got {} and {}",
            sr.len(),
            hr.len()
        )));
    }
    Ok(())
}

/// Both images checked against each other and prepared as BasicSR does before measuring.
fn prepare_pair(
    sr: &[u8],
    hr: &[u8],
    [channels, height, width]: [usize; 3],
    crop_border: usize,
    y_channel: bool,
) -> Result<(Planes, Planes)> {
    check_u8(sr, hr, channels, height, width)?;
    let a = prepare(sr, channels, height, width, crop_border, y_channel)?;
    let b = prepare(hr, channels, height, width, crop_border, y_channel)?;
    Ok((a, b))
}

/// PSNR (dB) of planar 8-bit images (`channels x height x width`), BasicSR `calculate_psnr`.
pub fn psnr_u8(
    sr: &[u8],
    hr: &[u8],
    channels: usize,
    height: usize,
    width: usize,
    crop_border: usize,
    y_channel: bool,
) -> Result<f64> {
    let (a, b) = prepare_pair(sr, hr, [channels, height, width], crop_border, y_channel)?;
    Ok(psnr_planes(&a, &b))
}

/// SSIM of planar 8-bit images, BasicSR `calculate_ssim`.
pub fn ssim_u8(
    sr: &[u8],
    hr: &[u8],
    channels: usize,
    height: usize,
    width: usize,
    crop_border: usize,
    y_channel: bool,
) -> Result<f64> {
    let (a, b) = prepare_pair(sr, hr, [channels, height, width], crop_border, y_channel)?;
    ssim_planes(&a, &b)
}

/// PSNR and SSIM of planar 8-bit images in one pass over the preparation.
pub fn psnr_ssim_u8(
    sr: &[u8],
    hr: &[u8],
    channels: usize,
    height: usize,
    width: usize,
    crop_border: usize,
    y_channel: bool,
) -> Result<(f64, f64)> {
    check_u8(sr, hr, channels, height, width)?;
    let a = prepare(sr, channels, height, width, crop_border, y_channel)?;
    let b = prepare(hr, channels, height, width, crop_border, y_channel)?;
    Ok((psnr_planes(&a, &b), ssim_planes(&a, &b)?))
}

/// PSNR (dB) of `sr` against `hr` (both quantised to 8 bits first; see the module docs).
pub fn psnr(sr: &Image, hr: &Image, crop_border: usize, y_channel: bool) -> Result<f64> {
    check_same(sr, hr)?;
    psnr_u8(
        &image_to_u8(sr),
        &image_to_u8(hr),
        sr.channels,
        sr.height,
        sr.width,
        crop_border,
        y_channel,
    )
}

/// SSIM of `sr` against `hr` (both quantised to 8 bits first; see the module docs).
pub fn ssim(sr: &Image, hr: &Image, crop_border: usize, y_channel: bool) -> Result<f64> {
    check_same(sr, hr)?;
    ssim_u8(
        &image_to_u8(sr),
        &image_to_u8(hr),
        sr.channels,
        sr.height,
        sr.width,
        crop_border,
        y_channel,
    )
}

/// `(psnr, ssim)` of `sr` against `hr`, sharing the quantisation and Y conversion.
pub fn psnr_ssim(
    sr: &Image,
    hr: &Image,
    crop_border: usize,
    y_channel: bool,
) -> Result<(f64, f64)> {
    check_same(sr, hr)?;
    psnr_ssim_u8(
        &image_to_u8(sr),
        &image_to_u8(hr),
        sr.channels,
        sr.height,
        sr.width,
        crop_border,
        y_channel,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn textured(c: usize, h: usize, w: usize, seed: usize) -> Image {
        let data = (0..c * h * w)
            .map(|i| (((i * 31 + seed * 17) % 97) as f32 * 2.0 + ((i / w) % 7) as f32) / 255.0)
            .collect();
        Image::new(c, h, w, data).unwrap()
    }

    #[test]
    fn identical_images() {
        let a = textured(3, 32, 40, 1);
        for y in [false, true] {
            assert_eq!(psnr(&a, &a, 4, y).unwrap(), f64::INFINITY);
            assert!((ssim(&a, &a, 4, y).unwrap() - 1.0).abs() < 1e-12);
        }
    }

    #[test]
    fn psnr_of_a_known_error() {
        // Every value off by exactly 5 levels: MSE = 25 -> PSNR = 10 log10(65025 / 25).
        let a = Image::from_u8(3, 16, 16, &vec![100u8; 3 * 256]).unwrap();
        let b = Image::from_u8(3, 16, 16, &vec![105u8; 3 * 256]).unwrap();
        let expect = 10.0 * (65025.0f64 / 25.0).log10();
        assert!((psnr(&a, &b, 0, false).unwrap() - expect).abs() < 1e-12);
        // Crop border 2 changes nothing for a uniform error.
        assert!((psnr(&a, &b, 2, false).unwrap() - expect).abs() < 1e-12);
        // Y of a grey offset of 5 is 5 * 219 / 255 levels (up to f32 rounding).
        let ey = 10.0 * (65025.0f64 / (5.0 * 219.0 / 255.0f64).powi(2)).log10();
        assert!((psnr(&a, &b, 0, true).unwrap() - ey).abs() < 1e-4);
    }

    #[test]
    fn ssim_is_symmetric_and_below_one() {
        let a = textured(3, 30, 33, 1);
        let b = textured(3, 30, 33, 5);
        for y in [false, true] {
            let ab = ssim(&a, &b, 2, y).unwrap();
            let ba = ssim(&b, &a, 2, y).unwrap();
            assert!((ab - ba).abs() < 1e-12);
            assert!(ab < 0.999 && ab > -1.0);
            let (p, s) = psnr_ssim(&a, &b, 2, y).unwrap();
            assert_eq!(s, ab);
            assert_eq!(p, psnr(&a, &b, 2, y).unwrap());
        }
    }

    #[test]
    fn constant_images_ssim_formula() {
        // Constant images: sigmas are 0, SSIM = (2 m1 m2 + c1) / (m1^2 + m2^2 + c1).
        let a = Image::from_u8(1, 12, 12, &vec![50u8; 144]).unwrap();
        let b = Image::from_u8(1, 12, 12, &vec![80u8; 144]).unwrap();
        let c1 = (0.01f64 * 255.0).powi(2);
        let expect = (2.0 * 50.0 * 80.0 + c1) / (2500.0 + 6400.0 + c1);
        assert!((ssim(&a, &b, 0, false).unwrap() - expect).abs() < 1e-9);
    }

    #[test]
    fn gaussian_matches_opencv() {
        let g = gaussian_11();
        assert!((g.iter().sum::<f64>() - 1.0).abs() < 1e-15);
        // cv2.getGaussianKernel(11, 1.5)[5] = 0.2660117248617943
        assert!((g[5] - 0.266_011_724_861_794_3).abs() < 1e-12, "{}", g[5]);
        assert_eq!(g[0], g[10]);
    }

    #[test]
    fn errors_on_bad_shapes() {
        let a = textured(3, 20, 20, 1);
        let b = textured(3, 20, 21, 1);
        assert!(psnr(&a, &b, 0, false).is_err());
        assert!(ssim(&a, &a, 10, false).is_err());
        assert!(ssim(&a, &a, 5, false).is_err()); // 10x10 left < 11x11 window
        assert!(psnr_u8(&[1, 2], &[1], 1, 1, 2, 0, false).is_err());
    }
}
