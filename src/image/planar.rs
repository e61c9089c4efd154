//! [`Image`], the crate's planar `f32` pixel currency, and its batch conversions.

use crate::error::{IdcError, Result};
use burn::tensor::{Tensor, TensorData, backend::Backend};

/// Planar (channel, row, column) `f32` image, values nominally in `[0, 1]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Image {
    /// Number of channels (3 for RGB, 1 for Y).
    pub channels: usize,
    /// Height in pixels.
    pub height: usize,
    /// Width in pixels.
    pub width: usize,
    /// `channels * height * width` values, channel-major then row-major.
    pub data: Vec<f32>,
}

impl Image {
    /// Builds an image, checking that `data` has the stated size and that no dimension is zero.
    pub fn new(channels: usize, height: usize, width: usize, data: Vec<f32>) -> Result<Self> {
        if channels == 0 || height == 0 || width == 0 {
            return Err(IdcError::InvalidInput(format!(
                "zero-size image {channels}x{height}x{width}"
            )));
        }
        if data.len() != channels * height * width {
            return Err(IdcError::mismatch(
                "image data values",
                format!("{channels}x{height}x{width}"),
                data.len(),
            ));
        }
        Ok(Self {
            channels,
            height,
            width,
            data,
        })
    }

    /// All-zero image (dimensions must be non-zero; used for fixtures and buffers).
    pub fn zeros(channels: usize, height: usize, width: usize) -> Self {
        Self {
            channels,
            height,
            width,
            data: vec![0.0; channels * height * width],
        }
    }

    /// Value at channel `c`, row `y`, column `x`.
    #[inline]
    pub fn at(&self, c: usize, y: usize, x: usize) -> f32 {
        self.data[(c * self.height + y) * self.width + x]
    }

    /// One channel plane as a slice.
    pub fn plane(&self, c: usize) -> &[f32] {
        let n = self.height * self.width;
        &self.data[c * n..(c + 1) * n]
    }

    /// Copy of the window with top-left `(top, left)` and size `h x w` (must lie inside).
    pub fn crop(&self, top: usize, left: usize, h: usize, w: usize) -> Result<Image> {
        if h == 0 || w == 0 || top + h > self.height || left + w > self.width {
            return Err(IdcError::InvalidInput(format!(
                "crop {h}x{w} at ({top},{left}) outside {}x{}",
                self.height, self.width
            )));
        }
        let mut data = Vec::with_capacity(self.channels * h * w);
        for c in 0..self.channels {
            for y in top..top + h {
                let row = (c * self.height + y) * self.width;
                data.extend_from_slice(&self.data[row + left..row + left + w]);
            }
        }
        Ok(Image {
            channels: self.channels,
            height: h,
            width: w,
            data,
        })
    }

    /// Quantises to 8 bits as BasicSR's `tensor2img` does: `round(clip(x * 255, 0, 255))`, with
    /// NumPy's round-half-to-even (exact `.5` values are common after bicubic resizing).
    pub fn to_u8(&self) -> Vec<u8> {
        self.data
            .iter()
            .map(|&v| (v * 255.0).clamp(0.0, 255.0).round_ties_even() as u8)
            .collect()
    }

    /// Image from planar 8-bit values (`v / 255`).
    pub fn from_u8(channels: usize, height: usize, width: usize, data: &[u8]) -> Result<Image> {
        Image::new(
            channels,
            height,
            width,
            data.iter().map(|&v| v as f32 / 255.0).collect(),
        )
    }

    /// The image rounded to 8 bits and back, i.e. what a PNG round trip gives.
    pub fn quantized(&self) -> Image {
        Image {
            channels: self.channels,
            height: self.height,
            width: self.width,
            data: self.to_u8().into_iter().map(|v| v as f32 / 255.0).collect(),
        }
    }

    /// `[C, H, W]` tensor on `device`.
    pub fn to_tensor<B: Backend>(&self, device: &B::Device) -> Tensor<B, 3> {
        Tensor::from_data(
            TensorData::new(self.data.clone(), [self.channels, self.height, self.width]),
            device,
        )
    }

    /// Image from a `[C, H, W]` float tensor.
    pub fn from_tensor<B: Backend>(tensor: Tensor<B, 3>) -> Result<Image> {
        let [c, h, w] = tensor.dims();
        let data = tensor
            .into_data()
            .convert::<f32>()
            .into_vec::<f32>()
            .map_err(|e| IdcError::InvalidInput(format!("tensor to image: {e:?}")))?;
        Image::new(c, h, w, data)
    }
}

/// Stacks same-sized images into an `[N, C, H, W]` tensor.
pub fn images_to_batch<B: Backend>(images: &[Image], device: &B::Device) -> Result<Tensor<B, 4>> {
    let first = images
        .first()
        .ok_or_else(|| IdcError::InvalidInput("empty image batch".into()))?;
    let (c, h, w) = (first.channels, first.height, first.width);
    let mut data = Vec::with_capacity(images.len() * c * h * w);
    for im in images {
        if (im.channels, im.height, im.width) != (c, h, w) {
            return Err(IdcError::InvalidInput(format!(
                "batch mixes image sizes {c}x{h}x{w} and {}x{}x{}",
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

/// Splits an `[N, C, H, W]` tensor into images.
pub fn batch_to_images<B: Backend>(batch: Tensor<B, 4>) -> Result<Vec<Image>> {
    let [n, c, h, w] = batch.dims();
    let data = batch
        .into_data()
        .convert::<f32>()
        .into_vec::<f32>()
        .map_err(|e| IdcError::InvalidInput(format!("tensor to images: {e:?}")))?;
    let per = c * h * w;
    (0..n)
        .map(|i| Image::new(c, h, w, data[i * per..(i + 1) * per].to_vec()))
        .collect()
}
