//! The one SR batch type: [`SrBatch`] (LR/HR tensors), built by [`SrBatcher`] for burn data
//! loaders and by the training sampler ([`crate::train::sampler`]); EDSR's burn-train step
//! consumes it, so user loaders and `train_sr` feed the same model step.

use super::SrPair;
use crate::error::{IdcError, Result};
use crate::image::Image;
use burn::data::dataloader::batcher::Batcher;
use burn::tensor::{Tensor, TensorData, backend::Backend};

/// A training batch: `lr` `[N, C, h, w]` and `hr` `[N, C, s h, s w]`, values in `[0, 1]`.
#[derive(Clone, Debug)]
pub struct SrBatch<B: Backend> {
    /// LR images `[N, C, h, w]`.
    pub lr: Tensor<B, 4>,
    /// HR images `[N, C, s h, s w]`.
    pub hr: Tensor<B, 4>,
}

impl<B: Backend> SrBatch<B> {
    /// Stacks pairs; errors on an empty list or mixed sizes.
    pub fn from_pairs(pairs: &[SrPair], device: &B::Device) -> Result<Self> {
        if pairs.is_empty() {
            return Err(IdcError::InvalidInput("empty batch".into()));
        }
        let lrs: Vec<&Image> = pairs.iter().map(|p| &p.lr).collect();
        let hrs: Vec<&Image> = pairs.iter().map(|p| &p.hr).collect();
        Self::from_images(&lrs, &hrs, device)
    }

    /// Stacks LR and HR images (same count, one size each).
    pub fn from_images(lrs: &[&Image], hrs: &[&Image], device: &B::Device) -> Result<Self> {
        if lrs.len() != hrs.len() {
            return Err(IdcError::InvalidInput(format!(
                "batch has {} LR but {} HR images",
                lrs.len(),
                hrs.len()
            )));
        }
        Ok(Self {
            lr: stack(lrs, device)?,
            hr: stack(hrs, device)?,
        })
    }
}

/// `[N, C, h, w]` tensor of same-sized images.
fn stack<B: Backend>(images: &[&Image], device: &B::Device) -> Result<Tensor<B, 4>> {
    let first = images
        .first()
        .ok_or_else(|| IdcError::InvalidInput("empty batch".into()))?;
    let shape = (first.channels, first.height, first.width);
    let (c, h, w) = shape;
    let mut data = Vec::with_capacity(images.len() * c * h * w);
    for im in images {
        if (im.channels, im.height, im.width) != shape {
            return Err(IdcError::InvalidInput(format!(
                "batch mixes sizes {c}x{h}x{w} and {}x{}x{}",
                im.channels, im.height, im.width
            )));
        }
        data.extend_from_slice(&im.data);
    }
    Ok(Tensor::from_data(
        TensorData::new(data, [images.len(), c, h, w]),
        device,
    ))
}

/// Burn batcher for [`SrPair`] items.
///
/// Burn's `Batcher::batch` cannot fail, so items whose sizes differ from the first item's are
/// dropped with a warning on stderr (every dataset in this crate yields one size, so this only
/// guards against misuse); an empty item list — which burn's data loader never passes — panics.
#[derive(Clone, Debug, Default)]
pub struct SrBatcher;

impl SrBatcher {
    /// The (stateless) batcher.
    pub fn new() -> Self {
        Self
    }
}

impl<B: Backend> Batcher<B, SrPair, SrBatch<B>> for SrBatcher {
    fn batch(&self, items: Vec<SrPair>, device: &B::Device) -> SrBatch<B> {
        let shape = |im: &Image| (im.channels, im.height, im.width);
        let Some(first) = items.first() else {
            panic!("SrBatcher::batch called with no items");
        };
        let (lr0, hr0) = (shape(&first.lr), shape(&first.hr));
        let n = items.len();
        let kept: Vec<SrPair> = items
            .into_iter()
            .filter(|p| shape(&p.lr) == lr0 && shape(&p.hr) == hr0)
            .collect();
        if kept.len() != n {
            eprintln!(
                "warning: SrBatcher dropped {} items whose size differs from the first",
                n - kept.len()
            );
        }
        match SrBatch::from_pairs(&kept, device) {
            Ok(b) => b,
            // Unreachable: `kept` is non-empty and uniform.
            Err(e) => panic!("SrBatcher: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::sr_patch::SrPatchDataset;
    use crate::image::fixtures::{cfg, textured};
    use burn::data::dataset::Dataset;

    #[test]
    fn batcher_stacks_pairs() {
        type B = burn::backend::Flex;
        let device = Default::default();
        let ds =
            SrPatchDataset::from_images(vec![("a".into(), textured(32, 24, 1))], cfg()).unwrap();
        let items: Vec<SrPair> = (0..3).map(|i| ds.get(i).unwrap()).collect();
        let batch: SrBatch<B> = SrBatcher.batch(items.clone(), &device);
        assert_eq!(batch.lr.dims(), [3, 3, 8, 8]);
        assert_eq!(batch.hr.dims(), [3, 3, 16, 16]);
        let hr = crate::image::batch_to_images(batch.hr).unwrap();
        assert_eq!(hr[2], items[2].hr);
        assert!(SrBatch::<B>::from_pairs(&[], &device).is_err());
    }
}
