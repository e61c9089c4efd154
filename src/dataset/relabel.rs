//! Teacher-labelled copies of a dataset: the same LR patches, HR targets from a teacher.
//!
//! IDC's HR targets are teacher outputs, which the paper itself calls knowledge distillation
//! (Sec. 3, "second stage"). A student trained on an IDC set therefore differs from one trained
//! on a selected subset in two ways: *which* LR patches it sees and *whose* HR targets it fits.
//! [`TeacherLabeled`] removes the second difference — e.g. a random selection with teacher
//! targets ("Random+T" in the reproduction) — so a table can say what the condensation itself
//! adds.

use crate::error::{IdcError, Result};
use crate::image::SrPair;
use crate::image::{Image, batch_to_images, images_to_batch};
use crate::models::Teacher;
use burn::data::dataset::Dataset;
use burn::tensor::backend::Backend;

/// A dataset whose HR targets are `teacher(LR)`, clamped to `[0, 1]` and rounded to 8 bits as
/// IDC's shards store them; LR patches are the source's, unchanged. Built once, held in memory
/// (a reduced set is small: 1,680 pairs of 32x32 LR are ~60 MB as f32).
#[derive(Clone, Debug)]
pub struct TeacherLabeled {
    pairs: Vec<SrPair>,
}

impl TeacherLabeled {
    /// Relabels every item of `source` with `teacher`, `chunk` LR patches per forward pass.
    ///
    /// Errors: `chunk == 0`, an item the source cannot produce, a source whose HR/LR size ratio
    /// is not the teacher's scale (the targets would not be comparable), or a model error.
    pub fn new<B, T, D>(source: &D, teacher: &T, device: &B::Device, chunk: usize) -> Result<Self>
    where
        B: Backend,
        T: Teacher<B> + ?Sized,
        D: Dataset<SrPair> + ?Sized,
    {
        if chunk == 0 {
            return Err(IdcError::InvalidInput(
                "relabel chunk must be at least 1".into(),
            ));
        }
        let s = teacher.scale();
        let mut lrs = Vec::with_capacity(source.len());
        for i in 0..source.len() {
            let p = source.get(i).ok_or_else(|| {
                IdcError::InvalidInput(format!(
                    "source dataset has no item {i} of {}",
                    source.len()
                ))
            })?;
            if p.hr.height != p.lr.height * s || p.hr.width != p.lr.width * s {
                return Err(IdcError::InvalidInput(format!(
                    "item {i}: LR {}x{} and HR {}x{} are not the teacher's scale x{s}",
                    p.lr.height, p.lr.width, p.hr.height, p.hr.width
                )));
            }
            lrs.push(p.lr);
        }
        let mut pairs = Vec::with_capacity(lrs.len());
        // Forward passes over runs of equal-sized patches (a batch needs one size).
        let mut start = 0;
        while start < lrs.len() {
            let dims = |im: &Image| (im.channels, im.height, im.width);
            let mut end = start + 1;
            while end < lrs.len() && end - start < chunk && dims(&lrs[end]) == dims(&lrs[start]) {
                end += 1;
            }
            let batch = images_to_batch::<B>(&lrs[start..end], device)?;
            let hr = batch_to_images::<B>(teacher.upscale(batch).clamp(0.0, 1.0))?;
            for (lr, hr) in lrs[start..end].iter().zip(hr) {
                pairs.push(SrPair {
                    lr: lr.clone(),
                    hr: hr.quantized(),
                });
            }
            start = end;
        }
        Ok(TeacherLabeled { pairs })
    }
}

impl Dataset<SrPair> for TeacherLabeled {
    fn get(&self, index: usize) -> Option<SrPair> {
        self.pairs.get(index).cloned()
    }
    fn len(&self) -> usize {
        self.pairs.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::edsr::EdsrConfig;
    use burn::backend::Flex;
    use burn::data::dataset::InMemDataset;

    type B = Flex;

    fn image(c: usize, h: usize, w: usize, seed: usize) -> Image {
        let data = (0..c * h * w)
            .map(|i| ((i * 37 + seed * 101) % 251) as f32 / 255.0)
            .collect();
        Image::new(c, h, w, data).unwrap()
    }

    #[test]
    fn targets_are_the_teachers_rounded_output_and_lr_is_kept() {
        let device = Default::default();
        let teacher = EdsrConfig::new(8, 1, 2).init_seeded::<B>(&device, 3);
        // Two sizes interleaved: batching must not mix them, nor change any item's result.
        let items: Vec<SrPair> = (0..5)
            .map(|k| {
                let (h, w) = if k % 2 == 0 { (6, 6) } else { (4, 5) };
                SrPair {
                    lr: image(3, h, w, k),
                    hr: Image::zeros(3, 2 * h, 2 * w),
                }
            })
            .collect();
        let source = InMemDataset::new(items.clone());
        let t = TeacherLabeled::new::<B, _, _>(&source, &teacher, &device, 2).unwrap();
        assert_eq!(t.len(), 5);
        for (k, orig) in items.iter().enumerate() {
            let got = t.get(k).unwrap();
            assert_eq!(got.lr, orig.lr);
            let one = images_to_batch::<B>(std::slice::from_ref(&orig.lr), &device).unwrap();
            let want = batch_to_images::<B>(teacher.upscale(one).clamp(0.0, 1.0)).unwrap();
            let want = want[0].quantized();
            assert_eq!((got.hr.height, got.hr.width), (want.height, want.width));
            let max_diff = got
                .hr
                .data
                .iter()
                .zip(&want.data)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            // Batched and single forward passes may round differently by one 8-bit level.
            assert!(max_diff <= 1.0 / 255.0 + 1e-6, "item {k}: {max_diff}");
            assert_ne!(got.hr, orig.hr, "item {k} kept its old target");
        }
    }

    #[test]
    fn mismatched_scale_and_zero_chunk_are_errors() {
        let device = Default::default();
        let teacher = EdsrConfig::new(8, 1, 2).init_seeded::<B>(&device, 3);
        let x3 = InMemDataset::new(vec![SrPair {
            lr: image(3, 4, 4, 0),
            hr: Image::zeros(3, 12, 12),
        }]);
        let e = TeacherLabeled::new::<B, _, _>(&x3, &teacher, &device, 4).unwrap_err();
        assert!(e.to_string().contains("x2"), "{e}");
        let ok = InMemDataset::new(vec![SrPair {
            lr: image(3, 4, 4, 0),
            hr: Image::zeros(3, 8, 8),
        }]);
        assert!(TeacherLabeled::new::<B, _, _>(&ok, &teacher, &device, 0).is_err());
    }
}
