//! The whole-set SR dataset: every HR image of a folder cut into BasicSR's patch grid, LR patches
//! by MATLAB bicubic (see [`crate::image::patch`]), plus the batcher and a flip/rot90 wrapper.
//!
//! - [`SrPatchDataset`]: `Dataset<SrPair>`; item `i` is patch `i - offset[j]` of instance `j`
//!   (prefix sums over the instances' patch counts, images in [`list_candidates`] order, patches in
//!   grid order). Decoded HR images stay in memory as 8-bit planar RGB (3 bytes per pixel, about
//!   100 MB for T91 + BSD200); each pair is cut and down-scaled on `get`, so memory does not grow
//!   with the number of patches. With `with_in_memory(false)` only headers are read at build and
//!   `get` decodes the image file each time (BasicSR's disk backend: constant memory for sets of
//!   any size, at the price of one decode per item).
//! - [`SrBatcher`] / [`SrBatch`]: stacks pairs into `[N, 3, h, w]` tensors in `[0, 1]`.
//! - [`Augment`]: random horizontal flip, vertical flip and transpose (BasicSR `augment` with
//!   `hflip` and `rotation`), the same transform for LR and HR, a pure function of
//!   `(seed, epoch, index)`.

use crate::config::{PatchConfig, hex_sha256};
use crate::error::{IdcError, Result};
use crate::image::Image;
use crate::image::SrPair;
use crate::image::io::{DEFAULT_MAX_PIXELS, Rgb8Image, decode_rgb8_bytes};
use crate::image::patch::{PairMaker, grid_positions};
use crate::source::{SkipPolicy, SkippedImage, header_size, instance_name, list_candidates};
use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::Dataset;
use burn::tensor::{Tensor, TensorData, backend::Backend};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// One source image of the dataset.
#[derive(Clone, Debug, PartialEq)]
pub struct InstanceInfo {
    /// Path relative to the HR folder with `/` separators (or the name given to
    /// [`SrPatchDataset::from_images`]); stable across machines.
    pub name: String,
    /// Source file (`None` for in-memory images).
    pub path: Option<PathBuf>,
    /// Patches of this image in the grid.
    pub num_patches: usize,
    /// HR image size `(height, width)`.
    pub size: (usize, usize),
    /// SHA-256 (hex) of the source file bytes, or of the 8-bit pixels for in-memory images; lets
    /// caches notice an edited image.
    pub source_hash: String,
}

/// Options for loading a folder (burn-dataset style builder; see [`SrPatchDataset::builder`]).
#[derive(Clone, Debug)]
pub struct SrPatchDatasetBuilder {
    hr_dir: PathBuf,
    cfg: PatchConfig,
    skip: SkipPolicy,
    max_pixels: u64,
    in_memory: bool,
}

impl SrPatchDatasetBuilder {
    /// Keep decoded images in memory (default `true`). `false`: read only headers (and hashes)
    /// at build and decode the file on every `get`; a file that stops decoding later makes that
    /// `get` return `None` (Burn's `Dataset` has no error channel).
    pub fn with_in_memory(mut self, in_memory: bool) -> Self {
        self.in_memory = in_memory;
        self
    }

    /// Skip files that fail to decode (recorded in [`SrPatchDataset::skipped`]) instead of
    /// failing the whole load. Default `false`: a broken data set is an error.
    pub fn with_skip_bad_images(mut self, skip: bool) -> Self {
        self.skip.bad_images = skip;
        self
    }

    /// Skip images smaller than one HR patch (recorded in `skipped`). Default `true`: T91 holds
    /// images of 78 px, below the usual 96 px patch; `false` makes them an error.
    pub fn with_skip_small_images(mut self, skip: bool) -> Self {
        self.skip.small_images = skip;
        self
    }

    /// Pixel limit per image (default 64 MP), checked from the header before decoding.
    pub fn with_max_pixels(mut self, max_pixels: u64) -> Self {
        self.max_pixels = max_pixels;
        self
    }

    /// Lists, decodes and indexes the folder.
    pub fn build(self) -> Result<SrPatchDataset> {
        self.cfg.validate()?;
        let files = list_candidates(&self.hr_dir)?;
        let mut ds = SrPatchDataset::empty(self.cfg.clone())?;
        ds.max_pixels = self.max_pixels;
        for path in files {
            let loaded = std::fs::read(&path)
                .map_err(|e| IdcError::io(&path, e))
                .and_then(|bytes| {
                    let img = if self.in_memory {
                        Stored::Decoded(decode_rgb8_bytes(&bytes, &path, self.max_pixels)?)
                    } else {
                        Stored::OnDisk(header_size(&bytes, &path, self.max_pixels)?)
                    };
                    Ok((img, hex_sha256(&bytes)))
                });
            let (img, hash) = match loaded {
                Ok(v) => v,
                Err(e) if self.skip.bad_images => {
                    ds.skipped.push(SkippedImage {
                        path: path.clone(),
                        reason: e.to_string(),
                    });
                    continue;
                }
                Err(e) => return Err(e),
            };
            let name = instance_name(&self.hr_dir, &path);
            if let Err(e) = ds.push(name, Some(path.clone()), img, hash) {
                if self.skip.small_images {
                    ds.skipped.push(SkippedImage {
                        path,
                        reason: e.to_string(),
                    });
                } else {
                    return Err(e);
                }
            }
        }
        if ds.instances.is_empty() {
            return Err(IdcError::InvalidInput(format!(
                "no usable images in {} ({} skipped)",
                self.hr_dir.display(),
                ds.skipped.len()
            )));
        }
        Ok(ds)
    }
}

/// An image as the builder hands it over: decoded, or only its `(height, width)`.
enum Stored {
    Decoded(Rgb8Image),
    OnDisk((usize, usize)),
}

/// Whole-set dataset of LR/HR patch pairs over a folder of HR images (see the module docs).
#[derive(Clone, Debug)]
pub struct SrPatchDataset {
    cfg: PatchConfig,
    maker: PairMaker,
    /// `None`: decoded from `instances[j].path` on each access (`with_in_memory(false)`).
    images: Vec<Option<Arc<Rgb8Image>>>,
    max_pixels: u64,
    instances: Vec<InstanceInfo>,
    positions: Vec<Vec<(u32, u32)>>,
    /// `offsets[j]` = first item index of instance `j`; `offsets[n]` = total.
    offsets: Vec<usize>,
    skipped: Vec<SkippedImage>,
}

impl SrPatchDataset {
    /// Loads every image under `hr_dir` (recursive, sorted) with the default options: undecodable
    /// files are an error, images smaller than one patch are skipped.
    pub fn new(hr_dir: impl AsRef<Path>, cfg: PatchConfig) -> Result<Self> {
        Self::builder(hr_dir, cfg).build()
    }

    /// Builder for non-default loading options.
    pub fn builder(hr_dir: impl AsRef<Path>, cfg: PatchConfig) -> SrPatchDatasetBuilder {
        SrPatchDatasetBuilder {
            hr_dir: hr_dir.as_ref().to_path_buf(),
            cfg,
            skip: SkipPolicy::default(),
            max_pixels: DEFAULT_MAX_PIXELS,
            in_memory: true,
        }
    }

    /// Dataset over in-memory images (`(name, image)`, 1 or 3 channels, stored quantised to 8 bits).
    /// Strict: an image smaller than one patch is an error.
    pub fn from_images(images: Vec<(String, Image)>, cfg: PatchConfig) -> Result<Self> {
        let mut ds = Self::empty(cfg)?;
        for (name, img) in images {
            let rgb = Rgb8Image::from_image(&img)?;
            let hash = hex_sha256(&rgb.data);
            ds.push(name, None, Stored::Decoded(rgb), hash)?;
        }
        Ok(ds)
    }

    fn empty(cfg: PatchConfig) -> Result<Self> {
        let maker = PairMaker::new(&cfg)?;
        Ok(Self {
            cfg,
            maker,
            images: Vec::new(),
            max_pixels: DEFAULT_MAX_PIXELS,
            instances: Vec::new(),
            positions: Vec::new(),
            offsets: vec![0],
            skipped: Vec::new(),
        })
    }

    fn push(
        &mut self,
        name: String,
        path: Option<PathBuf>,
        img: Stored,
        source_hash: String,
    ) -> Result<()> {
        let c = &self.cfg;
        let (height, width) = match &img {
            Stored::Decoded(im) => (im.height, im.width),
            Stored::OnDisk(size) => *size,
        };
        let pos = grid_positions(height, width, c.hr_patch, c.step, c.thresh_size);
        if pos.is_empty() {
            return Err(IdcError::InvalidInput(format!(
                "{name}: image {height}x{width} is smaller than one {}x{} patch",
                c.hr_patch, c.hr_patch
            )));
        }
        let total = self.offsets.last().copied().unwrap_or(0) + pos.len();
        self.instances.push(InstanceInfo {
            name,
            path,
            num_patches: pos.len(),
            size: (height, width),
            source_hash,
        });
        self.positions
            .push(pos.into_iter().map(|(t, l)| (t as u32, l as u32)).collect());
        self.images.push(match img {
            Stored::Decoded(im) => Some(Arc::new(im)),
            Stored::OnDisk(_) => None,
        });
        self.offsets.push(total);
        Ok(())
    }

    /// The patch config.
    pub fn config(&self) -> &PatchConfig {
        &self.cfg
    }

    /// Source images in order.
    pub fn instances(&self) -> &[InstanceInfo] {
        &self.instances
    }

    /// Images left out while loading (bad or too small), with reasons.
    pub fn skipped(&self) -> &[SkippedImage] {
        &self.skipped
    }

    /// First item index of each instance, plus the total at the end (`instances().len() + 1`).
    pub fn offsets(&self) -> &[usize] {
        &self.offsets
    }

    /// `(instance, patch)` of item `index`, `None` when out of range.
    pub fn locate(&self, index: usize) -> Option<(usize, usize)> {
        if index >= self.len() {
            return None;
        }
        // Last instance whose offset is <= index (instances are non-empty).
        let j = self.offsets.partition_point(|&o| o <= index) - 1;
        Some((j, index - self.offsets[j]))
    }

    /// `(top, left)` HR origins of instance `j`'s patches, grid order.
    pub fn positions(&self, j: usize) -> Option<Vec<(usize, usize)>> {
        self.positions
            .get(j)
            .map(|v| v.iter().map(|&(t, l)| (t as usize, l as usize)).collect())
    }

    /// The whole HR image of instance `j` as a float image.
    pub fn instance_image(&self, j: usize) -> Result<Image> {
        Ok(self.image(j)?.to_image())
    }

    fn image(&self, j: usize) -> Result<Arc<Rgb8Image>> {
        let slot = self.images.get(j).ok_or_else(|| {
            IdcError::InvalidInput(format!(
                "instance {j} out of range ({} instances)",
                self.images.len()
            ))
        })?;
        if let Some(img) = slot {
            return Ok(img.clone());
        }
        let info = &self.instances[j];
        let path = info.path.as_deref().ok_or_else(|| {
            IdcError::InvalidInput(format!("instance {j} has neither pixels nor a file"))
        })?;
        let img = crate::image::io::decode_rgb8_with_limit(path, self.max_pixels)?;
        if (img.height, img.width) != info.size {
            return Err(IdcError::InvalidInput(format!(
                "{}: decoded size {}x{} differs from {}x{} at build (file changed?)",
                path.display(),
                img.width,
                img.height,
                info.size.1,
                info.size.0
            )));
        }
        Ok(Arc::new(img))
    }

    /// Pair `k` of instance `j`.
    pub fn pair(&self, j: usize, k: usize) -> Result<SrPair> {
        let img = self.image(j)?;
        self.pair_of(&img, j, k)
    }

    fn pair_of(&self, img: &Rgb8Image, j: usize, k: usize) -> Result<SrPair> {
        let &(t, l) = self.positions[j].get(k).ok_or_else(|| {
            IdcError::InvalidInput(format!(
                "patch {k} out of range for instance {j} ({} patches)",
                self.positions[j].len()
            ))
        })?;
        let p = self.cfg.hr_patch;
        let hr = img.crop_to_image(t as usize, l as usize, p, p)?;
        self.maker.pair(hr)
    }

    /// All pairs of instance `j` in grid order (the image is decoded once, also when lazy).
    pub fn instance_pairs(&self, j: usize) -> Result<Vec<SrPair>> {
        let img = self.image(j)?;
        (0..self.positions[j].len())
            .map(|k| self.pair_of(&img, j, k))
            .collect()
    }
}

impl Dataset<SrPair> for SrPatchDataset {
    fn get(&self, index: usize) -> Option<SrPair> {
        let (j, k) = self.locate(index)?;
        self.pair(j, k).ok()
    }

    fn len(&self) -> usize {
        self.offsets.last().copied().unwrap_or(0)
    }
}

/// A training batch: `lr` `[N, C, h, w]` and `hr` `[N, C, s h, s w]`, values in `[0, 1]`.
#[derive(Clone, Debug)]
pub struct SrBatch<B: Backend> {
    pub lr: Tensor<B, 4>,
    pub hr: Tensor<B, 4>,
}

impl<B: Backend> SrBatch<B> {
    /// Stacks pairs; errors on an empty list or mixed sizes.
    pub fn from_pairs(pairs: &[SrPair], device: &B::Device) -> Result<Self> {
        let first = pairs
            .first()
            .ok_or_else(|| IdcError::InvalidInput("empty batch".into()))?;
        let stack = |get: &dyn Fn(&SrPair) -> &Image, shape: (usize, usize, usize)| {
            let (c, h, w) = shape;
            let mut data = Vec::with_capacity(pairs.len() * c * h * w);
            for p in pairs {
                let im = get(p);
                if (im.channels, im.height, im.width) != shape {
                    return Err(IdcError::InvalidInput(format!(
                        "batch mixes sizes {c}x{h}x{w} and {}x{}x{}",
                        im.channels, im.height, im.width
                    )));
                }
                data.extend_from_slice(&im.data);
            }
            Ok(Tensor::<B, 4>::from_data(
                TensorData::new(data, [pairs.len(), c, h, w]),
                device,
            ))
        };
        let lr_shape = (first.lr.channels, first.lr.height, first.lr.width);
        let hr_shape = (first.hr.channels, first.hr.height, first.hr.width);
        Ok(Self {
            lr: stack(&|p: &SrPair| &p.lr, lr_shape)?,
            hr: stack(&|p: &SrPair| &p.hr, hr_shape)?,
        })
    }
}

/// Burn batcher for [`SrPair`] items.
///
/// Burn's `Batcher::batch` cannot fail, so items whose sizes differ from the first item's are
/// dropped with a warning on stderr (every dataset in this crate yields one size, so this only
/// guards against misuse); an empty item list — which burn's data loader never passes — panics.
#[derive(Clone, Debug, Default)]
pub struct SrBatcher;

impl SrBatcher {
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

/// One of the 8 flip/transpose combinations: bit 0 horizontal flip, bit 1 vertical flip,
/// bit 2 transpose (applied in that order, like BasicSR's `augment`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transform(pub u8);

impl Transform {
    pub const IDENTITY: Transform = Transform(0);

    pub fn hflip(self) -> bool {
        self.0 & 1 != 0
    }
    pub fn vflip(self) -> bool {
        self.0 & 2 != 0
    }
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

use crate::seed::splitmix64 as mix;

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
    use crate::image::io::save_png;
    use crate::image::patch::instance_pairs;
    use crate::image::resize::imresize;

    fn cfg() -> PatchConfig {
        PatchConfig {
            scale: 2,
            hr_patch: 16,
            step: 8,
            thresh_size: 0,
        }
    }

    fn textured(h: usize, w: usize, seed: usize) -> Image {
        let data = (0..3 * h * w)
            .map(|i| ((i * 13 + seed * 101) % 256) as f32 / 255.0)
            .collect();
        Image::new(3, h, w, data).unwrap()
    }

    #[test]
    fn items_follow_prefix_sums_and_match_instance_pairs() {
        let imgs = vec![
            ("a".to_string(), textured(20, 30, 1)),
            ("b".to_string(), textured(16, 16, 2)),
            ("c".to_string(), textured(33, 17, 3)),
        ];
        let ds = SrPatchDataset::from_images(imgs.clone(), cfg()).unwrap();
        let counts: Vec<usize> = ds.instances().iter().map(|i| i.num_patches).collect();
        // 20x30: rows {0, 4}, cols {0, 8, 14} -> 6; 16x16 -> 1; 33x17: rows {0,8,16,17}, cols {0,1}.
        assert_eq!(counts, vec![6, 1, 8]);
        assert_eq!(ds.len(), 15);
        assert_eq!(ds.offsets(), &[0, 6, 7, 15]);
        assert_eq!(ds.locate(6), Some((1, 0)));
        assert_eq!(ds.locate(14), Some((2, 7)));
        assert_eq!(ds.locate(15), None);
        assert!(ds.get(15).is_none());
        let mut i = 0;
        for (j, (_, img)) in imgs.iter().enumerate() {
            let expect = instance_pairs(img, &cfg()).unwrap();
            assert_eq!(ds.instance_pairs(j).unwrap(), expect);
            for p in expect {
                assert_eq!(ds.get(i).unwrap(), p);
                i += 1;
            }
        }
        // LR is the quantised bicubic downscale of HR.
        let p = ds.get(3).unwrap();
        assert_eq!(
            p.lr,
            crate::image::io::quantize_image(&imresize(&p.hr, 0.5).unwrap())
        );
        assert!(
            SrPatchDataset::from_images(vec![("s".into(), textured(10, 40, 1))], cfg()).is_err()
        );
    }

    #[test]
    fn folder_loading_skips_small_and_optionally_bad_images() {
        let d = tempfile::tempdir().unwrap();
        save_png(&d.path().join("b.png"), &textured(24, 20, 1)).unwrap();
        std::fs::create_dir(d.path().join("sub")).unwrap();
        save_png(&d.path().join("sub/a.png"), &textured(16, 32, 2)).unwrap();
        save_png(&d.path().join("small.png"), &textured(8, 8, 3)).unwrap();
        let ds = SrPatchDataset::new(d.path(), cfg()).unwrap();
        let names: Vec<&str> = ds.instances().iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, vec!["b.png", "sub/a.png"]);
        assert_eq!(ds.skipped().len(), 1);
        assert_eq!(ds.instances()[0].size, (24, 20));
        assert_eq!(ds.instances()[0].source_hash.len(), 64);
        assert!(
            SrPatchDataset::builder(d.path(), cfg())
                .with_skip_small_images(false)
                .build()
                .is_err()
        );
        // Stored 8-bit data reproduces the files exactly.
        let hr = ds.instance_image(0).unwrap();
        assert_eq!(hr.to_u8(), textured(24, 20, 1).to_u8());

        std::fs::write(d.path().join("bad.png"), b"not a png").unwrap();
        assert!(matches!(
            SrPatchDataset::new(d.path(), cfg()),
            Err(IdcError::Decode { .. })
        ));
        let ds = SrPatchDataset::builder(d.path(), cfg())
            .with_skip_bad_images(true)
            .build()
            .unwrap();
        assert_eq!(ds.instances().len(), 2);
        assert_eq!(ds.skipped().len(), 2);
        assert!(SrPatchDataset::new(d.path().join("absent"), cfg()).is_err());
    }

    #[test]
    fn lazy_decoding_serves_the_same_items_and_notices_a_changed_file() {
        let d = tempfile::tempdir().unwrap();
        save_png(&d.path().join("a.png"), &textured(24, 20, 1)).unwrap();
        save_png(&d.path().join("b.png"), &textured(16, 32, 2)).unwrap();
        let eager = SrPatchDataset::new(d.path(), cfg()).unwrap();
        let lazy = SrPatchDataset::builder(d.path(), cfg())
            .with_in_memory(false)
            .build()
            .unwrap();
        assert_eq!(eager.len(), lazy.len());
        assert_eq!(eager.instances(), lazy.instances());
        for i in 0..eager.len() {
            let (a, b) = (eager.get(i).unwrap(), lazy.get(i).unwrap());
            assert_eq!((a.lr.data, a.hr.data), (b.lr.data, b.hr.data), "item {i}");
        }
        assert_eq!(
            lazy.instance_pairs(1).unwrap().len(),
            eager.instance_pairs(1).unwrap().len()
        );
        // A file replaced by one of another size is an error on access, not wrong pixels.
        save_png(&d.path().join("b.png"), &textured(20, 32, 2)).unwrap();
        assert!(lazy.pair(1, 0).is_err());
        assert!(lazy.get(lazy.offsets()[1]).is_none());
        assert!(lazy.get(0).is_some());
        // Headers are still checked at build.
        std::fs::write(d.path().join("bad.png"), b"not a png").unwrap();
        assert!(matches!(
            SrPatchDataset::builder(d.path(), cfg())
                .with_in_memory(false)
                .build(),
            Err(IdcError::Decode { .. })
        ));
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
