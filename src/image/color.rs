//! BasicSR's RGB -> Y conversion (ITU-R BT.601 "studio swing", MATLAB `rgb2ycbcr`).
//!
//! ISR papers report Y-channel PSNR/SSIM with this formula; OpenCV's `YCrCb` (full-range JPEG
//! conversion) gives different numbers, so it must not be used for evaluation.

use super::Image;

/// BT.601 luma weights for R, G, B on `[0, 1]` inputs, giving Y in `[16, 235]`.
pub const Y_WEIGHTS: [f64; 3] = [65.481, 128.553, 24.966];

/// Y of one RGB pixel with values in `[0, 1]`, result in `[0, 1]` (`Y / 255`).
#[inline]
pub fn y_of(r: f64, g: f64, b: f64) -> f64 {
    (16.0 + Y_WEIGHTS[0] * r + Y_WEIGHTS[1] * g + Y_WEIGHTS[2] * b) / 255.0
}

/// One-channel Y image of an RGB image in `[0, 1]`, as BasicSR `rgb2ycbcr(img, y_only=True)`
/// on float inputs: `(16 + 65.481 R + 128.553 G + 24.966 B) / 255`. Computed in `f64`.
///
/// A one-channel input is returned unchanged (it is already luma, like BasicSR's
/// `to_y_channel`, which only converts 3-channel images).
pub fn rgb_to_y(img: &Image) -> Image {
    if img.channels != 3 {
        return img.clone();
    }
    let n = img.height * img.width;
    let (r, g, b) = (img.plane(0), img.plane(1), img.plane(2));
    let data = (0..n)
        .map(|i| y_of(r[i] as f64, g[i] as f64, b[i] as f64) as f32)
        .collect();
    Image {
        channels: 1,
        height: img.height,
        width: img.width,
        data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pixel(r: f32, g: f32, b: f32) -> Image {
        Image::new(3, 1, 1, vec![r, g, b]).unwrap()
    }

    #[test]
    fn y_of_known_colours() {
        // Black and white map to the studio-swing limits 16 and 235.
        let cases = [
            ((0.0, 0.0, 0.0), 16.0),
            ((1.0, 1.0, 1.0), 235.0),
            ((1.0, 0.0, 0.0), 16.0 + 65.481),
            ((0.0, 1.0, 0.0), 16.0 + 128.553),
            ((0.0, 0.0, 1.0), 16.0 + 24.966),
        ];
        for ((r, g, b), y255) in cases {
            let y = rgb_to_y(&pixel(r, g, b));
            assert_eq!(y.channels, 1);
            assert!(
                (y.data[0] as f64 * 255.0 - y255).abs() < 1e-4,
                "({r},{g},{b}) -> {} expected {y255}",
                y.data[0] * 255.0
            );
        }
    }

    #[test]
    fn grey_is_monotone_and_single_channel_passes_through() {
        let a = rgb_to_y(&pixel(0.2, 0.2, 0.2)).data[0];
        let b = rgb_to_y(&pixel(0.3, 0.3, 0.3)).data[0];
        assert!(b > a);
        let one = Image::new(1, 1, 2, vec![0.1, 0.9]).unwrap();
        assert_eq!(rgb_to_y(&one), one);
    }
}
