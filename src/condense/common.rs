//! Small helpers shared by the condensation modules (kept apart so `condenser`, `real` and
//! `matching` import them without importing each other).

use crate::error::{IdcError, Result};
use crate::image::Image;
use rand::SeedableRng;
use rand::rngs::StdRng;

/// Derives an independent random stream for `purpose`.
pub(crate) fn stream(seed: u64, purpose: u64) -> StdRng {
    StdRng::seed_from_u64(crate::seed::mix_seed(seed, purpose, 0))
}

/// Checks that `images` is a non-empty batch of equally sized, finite images.
pub(crate) fn check_images(images: &[Image], what: &str) -> Result<(usize, usize, usize)> {
    let first = images
        .first()
        .ok_or_else(|| IdcError::InvalidInput(format!("{what}: no patches")))?;
    let dims = (first.channels, first.height, first.width);
    for im in images {
        if (im.channels, im.height, im.width) != dims {
            return Err(IdcError::InvalidInput(format!(
                "{what}: patches of different sizes ({}x{}x{} and {}x{}x{})",
                dims.0, dims.1, dims.2, im.channels, im.height, im.width
            )));
        }
        if im.data.iter().any(|v| !v.is_finite()) {
            return Err(IdcError::InvalidInput(format!("{what}: non-finite pixel")));
        }
    }
    Ok(dims)
}

/// Median of `v` (0 when empty).
pub(crate) fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

/// Lossy conversion of a backend float element to `f64`.
pub(crate) trait ToF64 {
    fn to_f64_lossy(self) -> f64;
}

impl<E: burn::tensor::ElementConversion> ToF64 for E {
    fn to_f64_lossy(self) -> f64 {
        self.elem::<f64>()
    }
}
