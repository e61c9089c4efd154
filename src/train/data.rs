//! Whole-image training set in BasicSR's paired-folder style, for `idc train`.
//!
//! Each item is one whole image: GT = `mod_crop(HR, scale)`, LR = `imresize(GT, 1/scale)`
//! rounded to 8 bits (what BasicSR's DIV2K LR PNGs hold). The training sampler then takes
//! random `lr_patch` crops (BasicSR `paired_random_crop`), so every position of every image can
//! be drawn. For denoising ([`HrImageDataset::for_task`]) LR is the clean image itself and the
//! sampler adds fresh noise to every crop. Pixels are kept as 8-bit (a quarter of the memory of `f32`) and converted per item.

use crate::dataset::SrPair;
use crate::error::{IdcError, Result};
use crate::image::Image;
use crate::image::io::{decode_image, list_images};
use crate::image::resize::{imresize, try_mod_crop};
use crate::task::Task;
use burn::data::dataset::Dataset;
use std::path::Path;

struct U8Image {
    c: usize,
    h: usize,
    w: usize,
    data: Vec<u8>,
}

impl U8Image {
    fn of(img: &Image) -> Self {
        Self {
            c: img.channels,
            h: img.height,
            w: img.width,
            data: img.to_u8(),
        }
    }
    fn image(&self) -> Option<Image> {
        Image::from_u8(self.c, self.h, self.w, &self.data).ok()
    }
}

/// Whole HR images of a folder (recursively, sorted) with their 8-bit bicubic LR.
pub struct HrImageDataset {
    items: Vec<(U8Image, U8Image)>,
}

impl HrImageDataset {
    /// Loads every image under `dir`; images whose LR side is below `min_lr_side` are skipped
    /// (they cannot give a training crop), and it is an error if none remains.
    pub fn new(dir: &Path, scale: usize, min_lr_side: usize) -> Result<Self> {
        Self::for_task(dir, &Task::SuperResolution { scale }, min_lr_side)
    }

    /// [`Self::new`] for `task`: SR pairs as above; for denoising each item is the clean image
    /// twice (the sampler draws the noisy input per sample, [`crate::train::sampler`]).
    pub fn for_task(dir: &Path, task: &Task, min_lr_side: usize) -> Result<Self> {
        task.validate()?;
        let scale = task.scale();
        let files = list_images(dir)?;
        let mut items = Vec::with_capacity(files.len());
        for f in &files {
            let hr = decode_image(f)?;
            let Ok(gt) = try_mod_crop(&hr, scale) else {
                continue;
            };
            if gt.height / scale < min_lr_side || gt.width / scale < min_lr_side {
                continue;
            }
            let lr = match task {
                Task::SuperResolution { .. } => U8Image::of(&imresize(&gt, 1.0 / scale as f64)?),
                Task::Denoise { .. } => U8Image::of(&gt),
            };
            items.push((lr, U8Image::of(&gt)));
        }
        if items.is_empty() {
            return Err(IdcError::InvalidInput(format!(
                "no usable training image in {} (need LR sides >= {min_lr_side} at x{scale})",
                dir.display()
            )));
        }
        Ok(Self { items })
    }
}

impl Dataset<SrPair> for HrImageDataset {
    fn get(&self, index: usize) -> Option<SrPair> {
        let (lr, hr) = self.items.get(index)?;
        Some(SrPair {
            lr: lr.image()?,
            hr: hr.image()?,
        })
    }
    fn len(&self) -> usize {
        self.items.len()
    }
}

/// In-memory training pairs (e.g. condensed or selected patches already decoded).
pub struct PairDataset {
    pairs: Vec<SrPair>,
}

impl PairDataset {
    /// Dataset over `pairs`, in the given order.
    pub fn new(pairs: Vec<SrPair>) -> Self {
        Self { pairs }
    }
}

impl Dataset<SrPair> for PairDataset {
    fn get(&self, index: usize) -> Option<SrPair> {
        self.pairs.get(index).cloned()
    }
    fn len(&self) -> usize {
        self.pairs.len()
    }
}
