//! Minimal line plot to PNG (axes, ticks, one line per series with a min-max band, legend).
//!
//! Hand-rolled on the `image` crate with an 8x8 bitmap font (`font8x8`) so the plot needs no
//! system fonts and no heavy plotting stack; it is only used for the convergence figure.

use crate::error::{IdcError, Result};
use font8x8::UnicodeFonts;
use image::{Rgb, RgbImage};
use std::path::Path;

/// One line: points `(x, mean, low, high)`; the band `low..high` is shaded (seed spread).
#[derive(Clone, Debug)]
pub struct Series {
    /// Legend label.
    pub label: String,
    /// Points `(x, mean, low, high)`; `low..high` is the shaded band.
    pub points: Vec<(f64, f64, f64, f64)>,
}

const W: u32 = 900;
const H: u32 = 560;
const LEFT: i64 = 80;
const RIGHT: i64 = 200;
const TOP: i64 = 40;
const BOTTOM: i64 = 60;
const PALETTE: [[u8; 3]; 8] = [
    [31, 119, 180],
    [255, 127, 14],
    [44, 160, 44],
    [214, 39, 40],
    [148, 103, 189],
    [140, 86, 75],
    [227, 119, 194],
    [127, 127, 127],
];

fn put(img: &mut RgbImage, x: i64, y: i64, c: [u8; 3]) {
    if x >= 0 && y >= 0 && (x as u32) < img.width() && (y as u32) < img.height() {
        img.put_pixel(x as u32, y as u32, Rgb(c));
    }
}

fn blend(img: &mut RgbImage, x: i64, y: i64, c: [u8; 3], alpha: f32) {
    if x >= 0 && y >= 0 && (x as u32) < img.width() && (y as u32) < img.height() {
        let p = img.get_pixel_mut(x as u32, y as u32);
        for (v, c) in p.0.iter_mut().zip(c) {
            *v = (*v as f32 * (1.0 - alpha) + c as f32 * alpha).round() as u8;
        }
    }
}

fn line(img: &mut RgbImage, (x0, y0): (i64, i64), (x1, y1): (i64, i64), c: [u8; 3], width: i64) {
    let steps = (x1 - x0).abs().max((y1 - y0).abs()).max(1);
    for s in 0..=steps {
        let x = x0 + (x1 - x0) * s / steps;
        let y = y0 + (y1 - y0) * s / steps;
        for dx in 0..width {
            for dy in 0..width {
                put(img, x + dx - width / 2, y + dy - width / 2, c);
            }
        }
    }
}

/// Draws `text` with its top-left corner at `(x, y)`.
fn text(img: &mut RgbImage, x: i64, y: i64, s: &str, c: [u8; 3]) {
    for (i, ch) in s.chars().enumerate() {
        if let Some(glyph) = font8x8::BASIC_FONTS.get(ch) {
            for (row, bits) in glyph.iter().enumerate() {
                for col in 0..8 {
                    if bits & (1 << col) != 0 {
                        put(img, x + i as i64 * 8 + col, y + row as i64, c);
                    }
                }
            }
        }
    }
}

/// Round tick step (1, 2 or 5 times a power of ten) giving about `n` ticks over `span`.
fn tick_step(span: f64, n: f64) -> f64 {
    let raw = (span / n).max(f64::MIN_POSITIVE);
    let mag = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag)
}

/// Writes the plot as PNG (atomically, through `image::io::save_png`'s temp-and-rename rule).
pub fn line_plot_png(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
) -> Result<()> {
    let pts = series.iter().flat_map(|s| s.points.iter());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, _, lo, hi) in pts {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(lo);
        y1 = y1.max(hi);
    }
    if x0 > x1 || !y0.is_finite() || !y1.is_finite() {
        return Err(IdcError::InvalidInput("plot has no finite points".into()));
    }
    if x1 - x0 < 1e-9 {
        x1 = x0 + 1.0;
    }
    let pad = ((y1 - y0) * 0.05).max(0.05);
    y0 -= pad;
    y1 += pad;
    let mut img = RgbImage::from_pixel(W, H, Rgb([255, 255, 255]));
    let (pw, ph) = (W as i64 - LEFT - RIGHT, H as i64 - TOP - BOTTOM);
    let sx = |x: f64| LEFT + ((x - x0) / (x1 - x0) * pw as f64).round() as i64;
    let sy = |y: f64| TOP + ph - ((y - y0) / (y1 - y0) * ph as f64).round() as i64;
    let black = [0, 0, 0];
    let grey = [220, 220, 220];
    // Grid and tick labels.
    let ys = tick_step(y1 - y0, 6.0);
    let mut t = (y0 / ys).ceil() * ys;
    while t <= y1 {
        line(&mut img, (LEFT, sy(t)), (LEFT + pw, sy(t)), grey, 1);
        let label = format!("{t:.2}");
        text(
            &mut img,
            LEFT - 8 - 8 * label.len() as i64,
            sy(t) - 4,
            &label,
            black,
        );
        t += ys;
    }
    let xs = tick_step(x1 - x0, 6.0);
    let mut t = (x0 / xs).ceil() * xs;
    while t <= x1 {
        line(&mut img, (sx(t), TOP), (sx(t), TOP + ph), grey, 1);
        let label = format!("{t}");
        text(
            &mut img,
            sx(t) - 4 * label.len() as i64,
            TOP + ph + 8,
            &label,
            black,
        );
        t += xs;
    }
    line(&mut img, (LEFT, TOP), (LEFT, TOP + ph), black, 1);
    line(&mut img, (LEFT, TOP + ph), (LEFT + pw, TOP + ph), black, 1);
    text(&mut img, LEFT, 12, title, black);
    text(
        &mut img,
        LEFT + pw / 2 - 4 * x_label.len() as i64,
        H as i64 - 24,
        x_label,
        black,
    );
    text(&mut img, 8, TOP - 16, y_label, black);
    // Bands first, then lines on top, then the legend.
    for (i, s) in series.iter().enumerate() {
        let c = PALETTE[i % PALETTE.len()];
        for w in s.points.windows(2) {
            let (xa, xb) = (sx(w[0].0), sx(w[1].0));
            for x in xa..=xb {
                let f = if xb > xa {
                    (x - xa) as f64 / (xb - xa) as f64
                } else {
                    0.0
                };
                let lo = w[0].2 + f * (w[1].2 - w[0].2);
                let hi = w[0].3 + f * (w[1].3 - w[0].3);
                for y in sy(hi)..=sy(lo) {
                    blend(&mut img, x, y, c, 0.12);
                }
            }
        }
    }
    for (i, s) in series.iter().enumerate() {
        let c = PALETTE[i % PALETTE.len()];
        for w in s.points.windows(2) {
            line(
                &mut img,
                (sx(w[0].0), sy(w[0].1)),
                (sx(w[1].0), sy(w[1].1)),
                c,
                2,
            );
        }
        let ly = TOP + 10 + 18 * i as i64;
        line(
            &mut img,
            (LEFT + pw + 16, ly + 4),
            (LEFT + pw + 40, ly + 4),
            c,
            3,
        );
        text(&mut img, LEFT + pw + 48, ly, &s.label, black);
    }
    let tmp = path.with_extension("png.tmp");
    img.save_with_format(&tmp, image::ImageFormat::Png)
        .map_err(|e| IdcError::InvalidInput(format!("writing plot {}: {e}", path.display())))?;
    std::fs::rename(&tmp, path).map_err(|e| IdcError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_steps_are_round() {
        assert_eq!(tick_step(10.0, 5.0), 2.0);
        assert_eq!(tick_step(0.7, 6.0), 0.2);
        assert_eq!(tick_step(3000.0, 6.0), 500.0);
    }

    #[test]
    fn plot_draws_series_colours() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.png");
        let s = Series {
            label: "IDC".into(),
            points: vec![(0.0, 30.0, 29.5, 30.5), (100.0, 32.0, 31.8, 32.2)],
        };
        line_plot_png(&path, "t", "iteration", "PSNR", &[s]).unwrap();
        let img = image::open(&path).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), (W, H));
        let blue = img.pixels().filter(|p| p.0 == PALETTE[0]).count();
        assert!(blue > 100, "series line drawn ({blue} px)");
    }
}
