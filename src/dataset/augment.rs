//! The one flip/transpose augmentation (BasicSR `augment` with `hflip` and `rotation`): the
//! same [`Transform`] for LR and HR. Two seeded users: the [`Augment`] dataset wrapper (a pure
//! function of `(seed, epoch, index)`, [`transform_for`]) and the training sampler
//! ([`crate::train::sampler`], which draws the three flags from its own per-sample stream).

use super::SrPair;
use crate::image::Image;
use crate::seed::splitmix64 as mix;
use burn::data::dataset::Dataset;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// One of the 8 flip/transpose combinations: bit 0 horizontal flip, bit 1 vertical flip,
/// bit 2 transpose (applied in that order, like BasicSR's `augment`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transform(pub u8);

impl Transform {
    /// No flip, no transpose.
    pub const IDENTITY: Transform = Transform(0);

    /// The transform with these flips (BasicSR's `augment` argument order).
    pub fn new(hflip: bool, vflip: bool, transpose: bool) -> Self {
        Transform(hflip as u8 | (vflip as u8) << 1 | (transpose as u8) << 2)
    }

    /// Whether the transform flips horizontally (bit 0).
    pub fn hflip(self) -> bool {
        self.0 & 1 != 0
    }
    /// Whether the transform flips vertically (bit 1).
    pub fn vflip(self) -> bool {
        self.0 & 2 != 0
    }
    /// Whether the transform transposes height and width (bit 2).
    pub fn transpose(self) -> bool {
        self.0 & 4 != 0
    }

    /// Applies the transform to a CHW image.
    pub fn apply(self, img: &Image) -> Image {
        if self.0 & 7 == 0 {
            return img.clone();
        }
        let (c, h, w) = (img.channels, img.height, img.width);
        let (oh, ow) = if self.transpose() { (w, h) } else { (h, w) };
        let mut data = Vec::with_capacity(img.data.len());
        for ch in 0..c {
            let plane = img.plane(ch);
            for y in 0..oh {
                for x in 0..ow {
                    // Output (y, x) reads the flipped image at (x, y) when transposed.
                    let (fy, fx) = if self.transpose() { (x, y) } else { (y, x) };
                    let sy = if self.vflip() { h - 1 - fy } else { fy };
                    let sx = if self.hflip() { w - 1 - fx } else { fx };
                    data.push(plane[sy * w + sx]);
                }
            }
        }
        Image {
            channels: c,
            height: oh,
            width: ow,
            data,
        }
    }
}

/// The transform [`Augment`] uses for `(seed, epoch, index)`.
pub fn transform_for(
    seed: u64,
    epoch: u64,
    index: usize,
    hflip: bool,
    rotation: bool,
) -> Transform {
    let bits = mix(mix(mix(seed) ^ epoch) ^ index as u64);
    let mut t = 0u8;
    if hflip {
        t |= (bits & 3) as u8; // horizontal and vertical flips
    }
    if rotation {
        t |= (((bits >> 2) & 1) as u8) << 2;
    }
    Transform(t)
}

/// Data-augmentation wrapper: each item gets a random flip/transpose, the same for LR and HR
/// (BasicSR `augment(hflip=True, rotation=True)`: horizontal flip, vertical flip and transpose
/// each with probability 1/2, i.e. the 8 symmetries of the square, uniformly).
///
/// The transform is a pure function of `(seed, epoch, index)` ([`transform_for`]), so any worker
/// thread gets the same answer. The epoch comes from a shared counter ([`Augment::epoch_counter`]):
/// the training loop stores the epoch number in it, and with [`Augment::with_auto_epoch`] the
/// wrapper instead counts `get` calls and uses `calls / len` (deterministic with one loader worker;
/// with several workers an item fetched at an epoch boundary may use either epoch).
pub struct Augment<D> {
    inner: D,
    seed: u64,
    hflip: bool,
    rotation: bool,
    epoch: Arc<AtomicU64>,
    auto_epoch: Option<AtomicU64>,
}

impl<D> Augment<D> {
    /// Flips and transposes on, epoch 0 until the counter is set.
    pub fn new(inner: D, seed: u64) -> Self {
        Self {
            inner,
            seed,
            hflip: true,
            rotation: true,
            epoch: Arc::new(AtomicU64::new(0)),
            auto_epoch: None,
        }
    }

    /// Enables/disables the flips (bits 0-1) and the transpose (bit 2).
    pub fn with_ops(mut self, hflip: bool, rotation: bool) -> Self {
        self.hflip = hflip;
        self.rotation = rotation;
        self
    }

    /// Shares an externally owned epoch counter (e.g. with the training loop).
    pub fn with_epoch_counter(mut self, epoch: Arc<AtomicU64>) -> Self {
        self.epoch = epoch;
        self
    }

    /// Derive the epoch from the number of `get` calls (see the type docs).
    pub fn with_auto_epoch(mut self) -> Self {
        self.auto_epoch = Some(AtomicU64::new(0));
        self
    }

    /// The epoch counter; store the current epoch in it at the start of each epoch.
    pub fn epoch_counter(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.epoch)
    }

    /// Sets the epoch.
    pub fn set_epoch(&self, epoch: u64) {
        self.epoch.store(epoch, Ordering::SeqCst);
    }

    /// The wrapped dataset.
    pub fn inner(&self) -> &D {
        &self.inner
    }
}

impl<D: Dataset<SrPair>> Dataset<SrPair> for Augment<D> {
    fn get(&self, index: usize) -> Option<SrPair> {
        let pair = self.inner.get(index)?;
        let epoch = match &self.auto_epoch {
            Some(calls) => {
                let n = self.inner.len().max(1) as u64;
                calls.fetch_add(1, Ordering::SeqCst) / n
            }
            None => self.epoch.load(Ordering::SeqCst),
        };
        let t = transform_for(self.seed, epoch, index, self.hflip, self.rotation);
        Some(SrPair {
            lr: t.apply(&pair.lr),
            hr: t.apply(&pair.hr),
        })
    }

    fn len(&self) -> usize {
        self.inner.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::sr_patch::SrPatchDataset;
    use crate::image::fixtures::{cfg, textured};
    use crate::image::resize::imresize;

    #[test]
    fn augment_is_a_permutation_and_transpose_swaps_sides() {
        let img = Image::new(1, 2, 3, vec![0., 1., 2., 3., 4., 5.]).unwrap();
        assert_eq!(
            Transform::new(true, false, false).apply(&img).data,
            vec![2., 1., 0., 5., 4., 3.]
        );
        assert_eq!(
            Transform::new(false, true, false).apply(&img).data,
            vec![3., 4., 5., 0., 1., 2.]
        );
        let t = Transform::new(false, false, true).apply(&img);
        assert_eq!((t.height, t.width), (3, 2));
        assert_eq!(t.data, vec![0., 3., 1., 4., 2., 5.]);
    }

    #[test]
    fn transforms_are_the_dihedral_group() {
        let img = textured(3, 5, 7);
        let mut seen = Vec::new();
        for t in 0..8u8 {
            let out = Transform(t).apply(&img);
            if Transform(t).transpose() {
                assert_eq!((out.height, out.width), (5, 3));
            }
            // Applying the flips twice (without transpose) is the identity.
            if !Transform(t).transpose() {
                assert_eq!(Transform(t).apply(&out), img);
            }
            assert!(!seen.contains(&out), "transform {t} duplicates another");
            seen.push(out);
        }
        // hflip mirrors columns.
        let h = Transform(1).apply(&img);
        assert_eq!(h.at(0, 0, 0), img.at(0, 0, 4));
        // transpose swaps axes.
        let tr = Transform(4).apply(&img);
        assert_eq!(tr.at(1, 4, 2), img.at(1, 2, 4));
    }

    #[test]
    fn augment_is_deterministic_and_consistent() {
        let imgs = vec![("a".to_string(), textured(32, 32, 1))];
        let ds = SrPatchDataset::from_images(imgs, cfg()).unwrap();
        let aug = Augment::new(ds.clone(), 42);
        let a0: Vec<SrPair> = (0..ds.len()).map(|i| aug.get(i).unwrap()).collect();
        let again: Vec<SrPair> = (0..ds.len()).map(|i| aug.get(i).unwrap()).collect();
        assert_eq!(a0, again);
        for (i, p) in a0.iter().enumerate() {
            let t = transform_for(42, 0, i, true, true);
            let orig = ds.get(i).unwrap();
            assert_eq!(p.hr, t.apply(&orig.hr));
            assert_eq!(p.lr, t.apply(&orig.lr));
            // LR is still the downscale of HR (flips commute with the symmetric bicubic kernel;
            // only the f32 summation order changes, which can flip a rounding tie by one level).
            let direct = crate::image::io::quantize_image(&imresize(&p.hr, 0.5).unwrap());
            let max =
                p.lr.data
                    .iter()
                    .zip(&direct.data)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0, f32::max);
            assert!(max <= 1.0 / 255.0 + 1e-6, "{max}");
        }
        // Transforms vary with index and epoch, and all 8 occur.
        let ts: std::collections::HashSet<u8> = (0..200)
            .map(|i| transform_for(42, 0, i, true, true).0)
            .collect();
        assert_eq!(ts.len(), 8);
        aug.set_epoch(1);
        let a1: Vec<SrPair> = (0..ds.len()).map(|i| aug.get(i).unwrap()).collect();
        assert_ne!(a0, a1);
        let off = Augment::new(ds.clone(), 42).with_ops(false, false);
        assert_eq!(off.get(3).unwrap(), ds.get(3).unwrap());
    }
}
