//! A white RGB canvas to lay out images and short labels (contact sheets); labels use the 8x8
//! bitmap font of `font8x8` (as the reproduction's plots do), so no font file is needed.

use super::Image;

/// Pixel height of one text line at `zoom` (8 rows of glyph plus two of spacing).
pub const fn text_height(zoom: usize) -> usize {
    10 * zoom
}

/// An RGB canvas (white background) to draw images and labels on.
pub struct Canvas {
    image: Image,
}

impl Canvas {
    /// A white `width x height` canvas.
    pub fn new(width: usize, height: usize) -> Self {
        Self {
            image: Image {
                channels: 3,
                height: height.max(1),
                width: width.max(1),
                data: vec![1.0; 3 * height.max(1) * width.max(1)],
            },
        }
    }

    fn put(&mut self, x: usize, y: usize, rgb: [f32; 3]) {
        let (w, h) = (self.image.width, self.image.height);
        if x < w && y < h {
            for (c, v) in rgb.into_iter().enumerate() {
                self.image.data[(c * h + y) * w + x] = v;
            }
        }
    }

    /// Draws `img` (RGB, or grey shown as grey) with its top-left at `(x, y)`, each pixel as a
    /// `zoom x zoom` block (nearest neighbour, so patch pixels stay visible); clipped at the edges.
    pub fn blit(&mut self, img: &Image, x: usize, y: usize, zoom: usize) {
        let zoom = zoom.max(1);
        let plane = img.height * img.width;
        for r in 0..img.height * zoom {
            for c in 0..img.width * zoom {
                let i = (r / zoom) * img.width + c / zoom;
                let px = |ch: usize| img.data[ch.min(img.channels - 1) * plane + i].clamp(0.0, 1.0);
                self.put(x + c, y + r, [px(0), px(1), px(2)]);
            }
        }
    }

    /// Writes `text` in black with its top-left at `(x, y)`, each font pixel a `zoom x zoom`
    /// block; characters outside the font are skipped; stops at `max_width` pixels.
    pub fn text(&mut self, text: &str, x: usize, y: usize, zoom: usize, max_width: usize) {
        use font8x8::UnicodeFonts;
        let zoom = zoom.max(1);
        let advance = 8 * zoom;
        for (k, ch) in text.chars().enumerate() {
            if (k + 1) * advance > max_width {
                break;
            }
            let Some(glyph) = font8x8::BASIC_FONTS.get(ch) else {
                continue;
            };
            for (row, bits) in glyph.iter().enumerate() {
                for col in 0..8 {
                    if bits & (1 << col) != 0 {
                        let (gx, gy) = (x + k * advance + col * zoom, y + row * zoom);
                        for d in 0..zoom * zoom {
                            self.put(gx + d % zoom, gy + d / zoom, [0.0; 3]);
                        }
                    }
                }
            }
        }
    }

    /// The finished canvas.
    pub fn into_image(self) -> Image {
        self.image
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blit_zooms_and_text_inks_only_its_box() {
        let mut canvas = Canvas::new(30, 12);
        let red = Image::new(3, 1, 1, vec![1.0, 0.0, 0.0]).unwrap();
        canvas.blit(&red, 2, 2, 3);
        canvas.text("|", 10, 0, 1, 8);
        canvas.text("too long", 20, 0, 1, 8);
        let img = canvas.into_image();
        let at = |c: usize, y: usize, x: usize| img.data[(c * 12 + y) * 30 + x];
        assert_eq!((at(0, 4, 4), at(1, 4, 4)), (1.0, 0.0));
        assert_eq!(at(1, 5, 5), 1.0, "outside the 3x3 block stays white");
        let ink = |x0: usize, x1: usize| (0..8).any(|y| (x0..x1).any(|x| at(0, y, x) == 0.0));
        assert!(ink(10, 18), "'|' is drawn");
        assert!(ink(20, 28), "the first glyph that fits is drawn");
        assert!(!ink(28, 30), "text stops at max_width");
    }
}
