//! Per-patch feature vectors for the feature-based baselines (herding, k-center, DCSR-style).
//!
//! A patch's feature is the frozen extractor's feature map of its LR patch, globally
//! average-pooled over space (`[c, h', w'] -> [c]`). Pooling keeps the pool's feature matrix small
//! (`N x c` floats: 100k patches x 64 channels = 25 MB) while the patch tensors themselves are
//! only ever held one batch at a time.

use crate::error::{IdcError, Result};
use crate::image::SrPair;
use crate::image::{Image, images_to_batch};
use crate::models::FeatureExtractor;
use burn::tensor::backend::Backend;

/// Row-major `rows x dim` matrix of `f32` features, one row per patch.
#[derive(Clone, Debug, PartialEq)]
pub struct FeatureMatrix {
    rows: usize,
    dim: usize,
    data: Vec<f32>,
}

impl FeatureMatrix {
    /// Matrix from a flat row-major buffer; `data.len()` must equal `rows * dim` and `dim > 0`.
    pub fn new(rows: usize, dim: usize, data: Vec<f32>) -> Result<Self> {
        if dim == 0 {
            return Err(IdcError::InvalidInput("feature dimension is zero".into()));
        }
        if data.len() != rows * dim {
            return Err(IdcError::mismatch(
                "feature buffer values",
                format!("{rows}x{dim}"),
                data.len(),
            ));
        }
        if data.iter().any(|v| !v.is_finite()) {
            return Err(IdcError::InvalidInput(
                "features contain NaN or infinity".into(),
            ));
        }
        Ok(Self { rows, dim, data })
    }

    /// Matrix from equally long rows.
    pub fn from_rows(rows: &[Vec<f32>]) -> Result<Self> {
        let dim = rows.first().map(Vec::len).unwrap_or(0);
        if rows.iter().any(|r| r.len() != dim) {
            return Err(IdcError::InvalidInput(
                "feature rows differ in length".into(),
            ));
        }
        Self::new(rows.len(), dim, rows.concat())
    }

    /// Empty matrix with `dim` columns, to be filled with [`FeatureMatrix::push_rows`].
    pub fn empty(dim: usize) -> Result<Self> {
        Self::new(0, dim, Vec::new())
    }

    /// Appends rows given as a flat buffer (a multiple of `dim` values).
    pub fn push_rows(&mut self, flat: &[f32]) -> Result<()> {
        if !flat.len().is_multiple_of(self.dim) {
            return Err(IdcError::InvalidInput(format!(
                "{} values is not a whole number of {}-dim rows",
                flat.len(),
                self.dim
            )));
        }
        if flat.iter().any(|v| !v.is_finite()) {
            return Err(IdcError::InvalidInput(
                "features contain NaN or infinity".into(),
            ));
        }
        self.data.extend_from_slice(flat);
        self.rows += flat.len() / self.dim;
        Ok(())
    }

    /// Number of rows (patches).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns (feature channels).
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Row `i` (panics if out of range, like slice indexing; callers index within `rows()`).
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }

    /// The flat row-major buffer.
    pub fn as_slice(&self) -> &[f32] {
        &self.data
    }

    /// Column means in `f64` (the pool mean herding steers towards).
    pub fn mean(&self) -> Vec<f64> {
        let mut m = vec![0.0f64; self.dim];
        for i in 0..self.rows {
            for (acc, &v) in m.iter_mut().zip(self.row(i)) {
                *acc += v as f64;
            }
        }
        if self.rows > 0 {
            for v in &mut m {
                *v /= self.rows as f64;
            }
        }
        m
    }
}

/// Squared Euclidean distance, accumulated in `f64` so ties between far points are resolved the
/// same way on every machine.
pub(crate) fn sq_dist(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| {
            let d = x as f64 - y as f64;
            d * d
        })
        .sum()
}

/// Globally average-pooled features of the LR images, computed `batch_size` images at a time.
///
/// Returns an `images.len() x extractor.feature_channels()`-shaped matrix (row order = input
/// order). Memory beyond the result is one batch of patches and its feature maps.
pub fn pooled_features<B: Backend, E: FeatureExtractor<B> + ?Sized>(
    extractor: &E,
    images: &[Image],
    batch_size: usize,
    device: &B::Device,
) -> Result<FeatureMatrix> {
    pooled_by::<B, E, Image>(extractor, images, |im| im, batch_size, device)
}

/// [`pooled_features`] of the LR side of `pairs`.
pub fn pooled_pair_features<B: Backend, E: FeatureExtractor<B> + ?Sized>(
    extractor: &E,
    pairs: &[SrPair],
    batch_size: usize,
    device: &B::Device,
) -> Result<FeatureMatrix> {
    pooled_by::<B, E, SrPair>(extractor, pairs, |p| &p.lr, batch_size, device)
}

/// Pooled features of `lr_of(item)` for every item, one batch of `batch_size` at a time.
fn pooled_by<B: Backend, E: FeatureExtractor<B> + ?Sized, T>(
    extractor: &E,
    items: &[T],
    lr_of: impl Fn(&T) -> &Image,
    batch_size: usize,
    device: &B::Device,
) -> Result<FeatureMatrix> {
    if batch_size == 0 {
        return Err(IdcError::config("feature_batch", "must be positive"));
    }
    let mut out = FeatureMatrix::empty(extractor.feature_channels().max(1))?;
    for chunk in items.chunks(batch_size) {
        let lr: Vec<Image> = chunk.iter().map(|t| lr_of(t).clone()).collect();
        let maps = extractor.features(images_to_batch::<B>(&lr, device)?);
        let [n, c, _, _] = maps.dims();
        if c != out.dim() {
            return Err(IdcError::Model(format!(
                "extractor returned {c} channels, declared {}",
                out.dim()
            )));
        }
        // mean over H then W: [n, c, h, w] -> [n, c, 1, 1]
        let pooled = maps.mean_dim(3).mean_dim(2).reshape([n, c]);
        let flat = pooled
            .into_data()
            .convert::<f32>()
            .into_vec::<f32>()
            .map_err(|e| IdcError::Model(format!("reading features: {e:?}")))?;
        out.push_rows(&flat)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Tensor;

    /// Toy extractor: the input itself is the feature map (3 channels), so the pooled feature of
    /// an image is its per-channel mean.
    struct Identity;
    impl<B: Backend> FeatureExtractor<B> for Identity {
        fn features(&self, lr: Tensor<B, 4>) -> Tensor<B, 4> {
            lr
        }
        fn feature_channels(&self) -> usize {
            3
        }
        fn fingerprint(&self) -> String {
            "identity".into()
        }
    }

    #[test]
    fn matrix_checks_shapes_and_values() {
        assert!(FeatureMatrix::new(2, 3, vec![0.0; 5]).is_err());
        assert!(FeatureMatrix::new(1, 0, vec![]).is_err());
        assert!(FeatureMatrix::new(1, 2, vec![0.0, f32::NAN]).is_err());
        assert!(FeatureMatrix::from_rows(&[vec![1.0], vec![1.0, 2.0]]).is_err());
        let m = FeatureMatrix::from_rows(&[vec![1.0, 2.0], vec![3.0, 6.0]]).unwrap();
        assert_eq!(m.rows(), 2);
        assert_eq!(m.row(1), &[3.0, 6.0]);
        assert_eq!(m.mean(), vec![2.0, 4.0]);
    }

    crate::backend_test!(pooled_is_channel_mean_in_any_batching, |B, device| {
        let images: Vec<Image> = (0..5)
            .map(|i| {
                let data = (0..3 * 4 * 4)
                    .map(|v| ((v * (i + 1)) % 7) as f32 / 7.0)
                    .collect();
                Image::new(3, 4, 4, data).unwrap()
            })
            .collect();
        let a = pooled_features::<B, _>(&Identity, &images, 2, &device).unwrap();
        let b = pooled_features::<B, _>(&Identity, &images, 5, &device).unwrap();
        assert_eq!(a.rows(), 5);
        assert_eq!(a.dim(), 3);
        for i in 0..5 {
            for c in 0..3 {
                let want: f32 = images[i].plane(c).iter().sum::<f32>() / 16.0;
                assert!((a.row(i)[c] - want).abs() < 1e-5);
                assert!((a.row(i)[c] - b.row(i)[c]).abs() < 1e-6);
            }
        }
        assert!(pooled_features::<B, _>(&Identity, &images, 0, &device).is_err());
    });
}
