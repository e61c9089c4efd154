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
/// Series colours in order: the first eight are the committed tables' (unchanged, so their
/// plots regenerate byte-identical); six more so the budget sweep's 13 series repeat none.
const PALETTE: [[u8; 3]; 14] = [
    [31, 119, 180],
    [255, 127, 14],
    [44, 160, 44],
    [214, 39, 40],
    [148, 103, 189],
    [140, 86, 75],
    [227, 119, 194],
    [127, 127, 127],
    [188, 189, 34],
    [23, 190, 207],
    [0, 0, 128],
    [128, 0, 0],
    [0, 128, 128],
    [0, 0, 0],
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

/// Data ranges of a plot and the pixel rectangle they map onto.
struct Frame {
    x0: f64,
    x1: f64,
    y0: f64,
    y1: f64,
    /// Plot-area width in pixels.
    pw: i64,
    /// Plot-area height in pixels.
    ph: i64,
}

impl Frame {
    /// Spans every point and band of `series`; a degenerate x range is widened to 1 and the
    /// y range padded by 5% (at least 0.05) so lines never sit on the frame.
    fn fit(series: &[Series]) -> Result<Self> {
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
        Ok(Self {
            x0,
            x1,
            y0: y0 - pad,
            y1: y1 + pad,
            pw: W as i64 - LEFT - RIGHT,
            ph: H as i64 - TOP - BOTTOM,
        })
    }

    /// Pixel column of data `x`.
    fn sx(&self, x: f64) -> i64 {
        LEFT + ((x - self.x0) / (self.x1 - self.x0) * self.pw as f64).round() as i64
    }

    /// Pixel row of data `y` (rows grow downwards).
    fn sy(&self, y: f64) -> i64 {
        TOP + self.ph - ((y - self.y0) / (self.y1 - self.y0) * self.ph as f64).round() as i64
    }
}

const BLACK: [u8; 3] = [0, 0, 0];
const GREY: [u8; 3] = [220, 220, 220];

/// Grid lines with tick labels, the two axes, the title and both axis labels.
fn draw_axes(img: &mut RgbImage, f: &Frame, title: &str, x_label: &str, y_label: &str) {
    let (pw, ph) = (f.pw, f.ph);
    let ys = tick_step(f.y1 - f.y0, 6.0);
    let mut t = (f.y0 / ys).ceil() * ys;
    while t <= f.y1 {
        line(img, (LEFT, f.sy(t)), (LEFT + pw, f.sy(t)), GREY, 1);
        let label = format!("{t:.2}");
        let x = LEFT - 8 - 8 * label.len() as i64;
        text(img, x, f.sy(t) - 4, &label, BLACK);
        t += ys;
    }
    let xs = tick_step(f.x1 - f.x0, 6.0);
    let mut t = (f.x0 / xs).ceil() * xs;
    while t <= f.x1 {
        line(img, (f.sx(t), TOP), (f.sx(t), TOP + ph), GREY, 1);
        let label = format!("{t}");
        let x = f.sx(t) - 4 * label.len() as i64;
        text(img, x, TOP + ph + 8, &label, BLACK);
        t += xs;
    }
    line(img, (LEFT, TOP), (LEFT, TOP + ph), BLACK, 1);
    line(img, (LEFT, TOP + ph), (LEFT + pw, TOP + ph), BLACK, 1);
    text(img, LEFT, 12, title, BLACK);
    let x = LEFT + pw / 2 - 4 * x_label.len() as i64;
    text(img, x, H as i64 - 24, x_label, BLACK);
    text(img, 8, TOP - 16, y_label, BLACK);
}

/// Shades each series' `low..high` band, linearly interpolated between points; drawn before
/// any line so no band covers another series' line.
fn draw_bands(img: &mut RgbImage, f: &Frame, series: &[Series]) {
    for (i, s) in series.iter().enumerate() {
        let c = PALETTE[i % PALETTE.len()];
        for w in s.points.windows(2) {
            let (xa, xb) = (f.sx(w[0].0), f.sx(w[1].0));
            for x in xa..=xb {
                let t = if xb > xa {
                    (x - xa) as f64 / (xb - xa) as f64
                } else {
                    0.0
                };
                let lo = w[0].2 + t * (w[1].2 - w[0].2);
                let hi = w[0].3 + t * (w[1].3 - w[0].3);
                for y in f.sy(hi)..=f.sy(lo) {
                    blend(img, x, y, c, 0.12);
                }
            }
        }
    }
}

/// Draws each series' mean line and its legend entry (swatch and label right of the plot).
fn draw_lines_and_legend(img: &mut RgbImage, f: &Frame, series: &[Series]) {
    for (i, s) in series.iter().enumerate() {
        let c = PALETTE[i % PALETTE.len()];
        for w in s.points.windows(2) {
            let (a, b) = ((f.sx(w[0].0), f.sy(w[0].1)), (f.sx(w[1].0), f.sy(w[1].1)));
            line(img, a, b, c, 2);
        }
        let ly = TOP + 10 + 18 * i as i64;
        let (lx0, lx1) = (LEFT + f.pw + 16, LEFT + f.pw + 40);
        line(img, (lx0, ly + 4), (lx1, ly + 4), c, 3);
        text(img, LEFT + f.pw + 48, ly, &s.label, BLACK);
    }
}

/// Writes the plot as PNG (atomically, through `image::io::save_png`'s temp-and-rename rule).
pub fn line_plot_png(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
) -> Result<()> {
    let frame = Frame::fit(series)?;
    let mut img = RgbImage::from_pixel(W, H, Rgb([255, 255, 255]));
    draw_axes(&mut img, &frame, title, x_label, y_label);
    // Bands first, then lines on top, then the legend.
    draw_bands(&mut img, &frame, series);
    draw_lines_and_legend(&mut img, &frame, series);
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
