//! Small deterministic test fixtures shared by the unit tests of several modules.

use super::Image;
use crate::config::{PatchConfig, ValidPatchConfig};

/// A 3-channel `h x w` image with a deterministic, seed-dependent texture.
pub(crate) fn textured(h: usize, w: usize, seed: usize) -> Image {
    let data = (0..3 * h * w)
        .map(|i| ((i * 13 + seed * 101) % 256) as f32 / 255.0)
        .collect();
    Image::new(3, h, w, data).unwrap()
}

/// x2 patches of 16 (step 8): many small pairs from small images.
pub(crate) fn cfg() -> ValidPatchConfig {
    PatchConfig {
        scale: 2,
        hr_patch: 16,
        step: 8,
        thresh_size: 0,
        task: None,
    }
    .check()
    .unwrap()
}
