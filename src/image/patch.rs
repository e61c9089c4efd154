//! BasicSR's HR sub-image grid (`scripts/data_preparation/extract_subimages.py`) and the HR -> LR
//! patch pairs built from it.
//!
//! Grid: top-left corners at `0, step, 2 step, ...` while the window fits; a last window snapped
//! to the image edge (`size - crop`) is added only when the uncovered remainder exceeds
//! `thresh_size`. Rows are the outer loop, columns the inner one (BasicSR's order).
//!
//! LR patch: `imresize(hr_patch, 1 / scale)` (MATLAB bicubic with antialiasing) **quantised to
//! 8 bits** (`round(clip(x * 255)) / 255`, halves to even like NumPy), i.e. exactly what BasicSR training reads back from its
//! LR PNG files. Unlike BasicSR's DIV2K recipe (downscale the whole image, then crop), each HR
//! patch is downscaled on its own, so LR pixels within ~2 px of a patch edge see the symmetric
//! border rather than the neighbouring image content; this keeps every pair self-contained (IDC
//! condenses patch pairs independently).
//!
//! Denoising ([`crate::task::Task::Denoise`]): the pair is the clean patch twice. The noisy
//! input is drawn later, afresh for every training sample ([`noisy_input`]), so a stored pair
//! (shard, selection) never freezes one noise realisation and never clips it to 8 bits.

use super::io::quantize_image;
use super::resize::{AxisWeights, axis_weights, resize_with};
use super::{Image, SrPair};
use crate::config::{PatchConfig, ValidPatchConfig};
use crate::error::{IdcError, Result};
use crate::task::{Task, add_gaussian_noise};

/// Window origins along one axis (BasicSR `np.arange(0, len - crop + 1, step)` plus the snapped
/// last window). Empty when `len < crop` or `step == 0`.
pub fn axis_positions(len: usize, crop: usize, step: usize, thresh_size: usize) -> Vec<usize> {
    if crop == 0 || step == 0 || len < crop {
        return Vec::new();
    }
    let mut v: Vec<usize> = (0..=len - crop).step_by(step).collect();
    if let Some(&last) = v.last()
        && len - (last + crop) > thresh_size
    {
        v.push(len - crop);
    }
    v
}

/// `(top, left)` of every HR window of an `height x width` image, rows outer, columns inner.
/// Empty when the image is smaller than one window.
pub fn grid_positions(
    height: usize,
    width: usize,
    crop: usize,
    step: usize,
    thresh_size: usize,
) -> Vec<(usize, usize)> {
    let rows = axis_positions(height, crop, step, thresh_size);
    let cols = axis_positions(width, crop, step, thresh_size);
    rows.iter()
        .flat_map(|&t| cols.iter().map(move |&l| (t, l)))
        .collect()
}

/// Number of patches of an `h x w` image under `cfg` (0 when it is smaller than one patch).
pub fn count_patches(h: usize, w: usize, cfg: &PatchConfig) -> usize {
    axis_positions(h, cfg.hr_patch, cfg.step, cfg.thresh_size).len()
        * axis_positions(w, cfg.hr_patch, cfg.step, cfg.thresh_size).len()
}

/// Builds LR patches from HR patches of one fixed size, with the resize weights computed once.
#[derive(Clone, Debug)]
pub struct PairMaker {
    cfg: ValidPatchConfig,
    /// Bicubic weights for SR; `None` for denoising (the pair is clean/clean).
    weights: Option<AxisWeights>,
}

impl PairMaker {
    /// Precomputes the `1 / scale` resize weights for `hr_patch` sides (`cfg` is checked, so
    /// nothing can fail here).
    pub fn new(cfg: &ValidPatchConfig) -> Self {
        let weights = match cfg.task() {
            Task::SuperResolution { scale } => Some(axis_weights(
                cfg.hr_patch,
                cfg.lr_patch(),
                1.0 / scale as f64,
            )),
            Task::Denoise { .. } => None,
        };
        Self {
            cfg: cfg.clone(),
            weights,
        }
    }

    /// The config this maker was built for.
    pub fn config(&self) -> &ValidPatchConfig {
        &self.cfg
    }

    /// LR partner of one HR patch (`hr_patch x hr_patch`): bicubic `1 / scale`, quantised to 8
    /// bits; for denoising the clean patch itself (see the module docs).
    pub fn lr_of(&self, hr: &Image) -> Result<Image> {
        let p = self.cfg.hr_patch;
        if hr.height != p || hr.width != p {
            return Err(IdcError::InvalidInput(format!(
                "HR patch is {}x{}, expected {p}x{p}",
                hr.height, hr.width
            )));
        }
        Ok(match &self.weights {
            Some(w) => quantize_image(&resize_with(hr, w, w)),
            None => hr.clone(),
        })
    }

    /// The pair for an HR patch (takes ownership of it).
    pub fn pair(&self, hr: Image) -> Result<SrPair> {
        let lr = self.lr_of(&hr)?;
        Ok(SrPair { lr, hr })
    }
}

/// The network input for a clean image under `task`: for denoising `clean` plus seeded
/// Gaussian noise, unclipped (SwinIR/KAIR); `None` for SR, whose input is the stored LR.
pub fn noisy_input(clean: &Image, task: &Task, seed: u64) -> Option<Image> {
    let sigma = task.sigma()?;
    let mut noisy = clean.clone();
    add_gaussian_noise(&mut noisy.data, sigma, seed);
    Some(noisy)
}

/// All patch pairs of one HR image in grid order (see the module docs for the LR convention).
/// Errors when the image is smaller than one patch.
pub fn instance_pairs(hr: &Image, cfg: &ValidPatchConfig) -> Result<Vec<SrPair>> {
    let maker = PairMaker::new(cfg);
    let pos = grid_positions(hr.height, hr.width, cfg.hr_patch, cfg.step, cfg.thresh_size);
    if pos.is_empty() {
        return Err(IdcError::InvalidInput(format!(
            "image {}x{} is smaller than one {}x{} patch",
            hr.height, hr.width, cfg.hr_patch, cfg.hr_patch
        )));
    }
    pos.into_iter()
        .map(|(t, l)| maker.pair(hr.crop(t, l, cfg.hr_patch, cfg.hr_patch)?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::resize::imresize;

    fn cfg(scale: usize, hr_patch: usize, step: usize, thresh_size: usize) -> ValidPatchConfig {
        PatchConfig {
            scale,
            hr_patch,
            step,
            thresh_size,
            task: None,
        }
        .check()
        .unwrap()
    }

    #[test]
    fn axis_positions_follow_extract_subimages() {
        // 100 px, crop 40, step 30: 0, 30, 60 cover up to 100 exactly -> no extra window.
        assert_eq!(axis_positions(100, 40, 30, 0), vec![0, 30, 60]);
        // 110 px: 0, 30, 60 leave 10 px -> snapped window at 70.
        assert_eq!(axis_positions(110, 40, 30, 0), vec![0, 30, 60, 70]);
        // ... unless the remainder does not exceed the threshold.
        assert_eq!(axis_positions(110, 40, 30, 10), vec![0, 30, 60]);
        assert_eq!(axis_positions(110, 40, 30, 9), vec![0, 30, 60, 70]);
        assert_eq!(axis_positions(40, 40, 30, 0), vec![0]);
        assert!(axis_positions(39, 40, 30, 0).is_empty());
    }

    #[test]
    fn grid_covers_the_image_with_snapped_windows() {
        for (h, w, crop, step) in [(321, 481, 96, 48), (100, 77, 32, 20), (64, 64, 64, 10)] {
            let pos = grid_positions(h, w, crop, step, 0);
            let mut covered = vec![false; h * w];
            for &(t, l) in &pos {
                assert!(t + crop <= h && l + crop <= w);
                for y in t..t + crop {
                    for x in l..l + crop {
                        covered[y * w + x] = true;
                    }
                }
            }
            assert!(covered.iter().all(|&c| c), "{h}x{w} not covered");
            // The last window of each axis touches the edge.
            assert!(pos.iter().any(|&(t, _)| t + crop == h));
            assert!(pos.iter().any(|&(_, l)| l + crop == w));
            // Rows outer, columns inner, no duplicates.
            let mut sorted = pos.clone();
            sorted.sort();
            sorted.dedup();
            assert_eq!(sorted, pos);
            assert_eq!(count_patches(h, w, &cfg(2, crop, step, 0)), pos.len());
        }
    }

    #[test]
    fn pairs_have_the_right_shapes_and_match_imresize() {
        let (h, w) = (50, 70);
        let data: Vec<f32> = (0..3 * h * w)
            .map(|i| (i * 37 % 251) as f32 / 255.0)
            .collect();
        let img = Image::new(3, h, w, data).unwrap();
        for scale in [2, 3, 4] {
            let c = cfg(scale, 24, 20, 0);
            let pairs = instance_pairs(&img, &c).unwrap();
            assert_eq!(pairs.len(), count_patches(h, w, &c));
            let pos = grid_positions(h, w, 24, 20, 0);
            for (p, &(t, l)) in pairs.iter().zip(&pos) {
                assert_eq!((p.hr.channels, p.hr.height, p.hr.width), (3, 24, 24));
                assert_eq!(
                    (p.lr.channels, p.lr.height, p.lr.width),
                    (3, 24 / scale, 24 / scale)
                );
                let hr = img.crop(t, l, 24, 24).unwrap();
                assert_eq!(p.hr, hr);
                let lr = quantize_image(&imresize(&hr, 1.0 / scale as f64).unwrap());
                assert_eq!(p.lr, lr);
                // 8-bit quantised.
                assert!(
                    p.lr.data
                        .iter()
                        .all(|v| ((v * 255.0).round() - v * 255.0).abs() < 1e-3)
                );
            }
        }
    }

    #[test]
    fn too_small_images_error() {
        let img = Image::zeros(3, 20, 40);
        assert!(instance_pairs(&img, &cfg(2, 24, 12, 0)).is_err());
        assert_eq!(count_patches(20, 40, &cfg(2, 24, 12, 0)), 0);
    }
}
