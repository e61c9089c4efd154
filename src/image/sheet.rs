//! A white RGB canvas to lay out images and short labels (contact sheets), with a built-in 3x5
//! bitmap font so labels need no font file or extra dependency.

use super::Image;

/// Glyphs of the 3x5 font: 15 bits, rows top to bottom, 3 columns each ('1' = ink).
const FONT: [(char, &str); 46] = [
    ('A', "010101111101101"),
    ('B', "110101110101110"),
    ('C', "011100100100011"),
    ('D', "110101101101110"),
    ('E', "111100110100111"),
    ('F', "111100110100100"),
    ('G', "011100101101011"),
    ('H', "101101111101101"),
    ('I', "111010010010111"),
    ('J', "001001001101010"),
    ('K', "101101110101101"),
    ('L', "100100100100111"),
    ('M', "101111111101101"),
    ('N', "110101101101101"),
    ('O', "010101101101010"),
    ('P', "110101110100100"),
    ('Q', "010101101110011"),
    ('R', "110101110101101"),
    ('S', "011100010001110"),
    ('T', "111010010010010"),
    ('U', "101101101101111"),
    ('V', "101101101101010"),
    ('W', "101101111111101"),
    ('X', "101101010101101"),
    ('Y', "101101010010010"),
    ('Z', "111001010100111"),
    ('0', "111101101101111"),
    ('1', "010110010010111"),
    ('2', "110001010100111"),
    ('3', "110001010001110"),
    ('4', "101101111001001"),
    ('5', "111100110001110"),
    ('6', "011100111101111"),
    ('7', "111001010010010"),
    ('8', "111101111101111"),
    ('9', "111101111001110"),
    ('.', "000000000000010"),
    ('-', "000000111000000"),
    ('_', "000000000000111"),
    ('/', "001001010100100"),
    (':', "000010000010000"),
    ('(', "010100100100010"),
    (')', "010001001001010"),
    ('+', "000010111010000"),
    (' ', "000000000000000"),
    ('?', "110001010000010"),
];

/// Pixel height of one text line at `zoom` (5 rows of glyph plus one of spacing).
pub const fn text_height(zoom: usize) -> usize {
    6 * zoom
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

    /// Writes `text` (upper-cased; unknown characters as '?') in black with its top-left at
    /// `(x, y)`, each font pixel a `zoom x zoom` block; stops at `max_width` pixels.
    pub fn text(&mut self, text: &str, x: usize, y: usize, zoom: usize, max_width: usize) {
        let zoom = zoom.max(1);
        let advance = 4 * zoom;
        for (k, ch) in text.chars().enumerate() {
            let x0 = x + k * advance;
            if (k + 1) * advance > max_width + zoom {
                break;
            }
            let up = ch.to_ascii_uppercase();
            let bits = FONT
                .iter()
                .find(|(c, _)| *c == up)
                .or_else(|| FONT.iter().find(|(c, _)| *c == '?'))
                .map_or("", |(_, b)| b);
            for (b, bit) in bits.bytes().enumerate() {
                if bit == b'1' {
                    let (gx, gy) = (x0 + (b % 3) * zoom, y + (b / 3) * zoom);
                    for dy in 0..zoom {
                        for dx in 0..zoom {
                            self.put(gx + dx, gy + dy, [0.0; 3]);
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
    fn font_glyphs_are_well_formed_and_unique() {
        for (c, bits) in FONT {
            assert_eq!(bits.len(), 15, "{c}");
            assert!(bits.bytes().all(|b| b == b'0' || b == b'1'), "{c}");
        }
        let mut chars: Vec<char> = FONT.iter().map(|(c, _)| *c).collect();
        chars.sort();
        chars.dedup();
        assert_eq!(chars.len(), FONT.len());
    }

    #[test]
    fn blit_zooms_and_text_inks_only_its_box() {
        let mut canvas = Canvas::new(20, 12);
        let red = Image::new(3, 1, 1, vec![1.0, 0.0, 0.0]).unwrap();
        canvas.blit(&red, 2, 2, 3);
        canvas.text("L", 10, 0, 2, 10);
        let img = canvas.into_image();
        let at = |c: usize, y: usize, x: usize| img.data[(c * 12 + y) * 20 + x];
        assert_eq!((at(0, 4, 4), at(1, 4, 4)), (1.0, 0.0));
        assert_eq!(at(1, 5, 5), 1.0, "outside the 3x3 block stays white");
        assert_eq!(at(0, 0, 10), 0.0, "top-left of 'L' is ink");
        assert_eq!(at(0, 0, 12), 1.0, "top-middle of 'L' is blank");
        assert_eq!(at(0, 11, 19), 1.0);
    }
}
