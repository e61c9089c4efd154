//! The whole-set SR dataset: every HR image of a folder cut into BasicSR's patch grid, LR patches
//! by MATLAB bicubic (see [`crate::image::patch`]). Batching lives in [`super::batch`], flips in
//! [`super::augment`].
//!
//! - [`SrPatchDataset`]: `Dataset<SrPair>`; item `i` is patch `i - offset[j]` of instance `j`
//!   (prefix sums over the instances' patch counts, images in [`list_candidates`] order, patches in
//!   grid order). Decoded HR images stay in memory as 8-bit planar RGB (3 bytes per pixel, about
//!   100 MB for T91 + BSD200); each pair is cut and down-scaled on `get`, so memory does not grow
//!   with the number of patches. With `with_in_memory(false)` only headers are read at build and
//!   `get` decodes the image file each time (BasicSR's disk backend: constant memory for sets of
//!   any size, at the price of one decode per item).

use crate::config::{ValidPatchConfig, hex_sha256};
use crate::error::{IdcError, Result};
use crate::image::Image;
use crate::image::SrPair;
use crate::image::io::{DEFAULT_MAX_PIXELS, Rgb8Image, decode_rgb8_bytes};
use crate::image::patch::{PairMaker, grid_positions};
use crate::source::{SkipPolicy, SkippedImage, header_size, instance_name, list_candidates};
use burn::data::dataset::Dataset;
use std::path::{Path, PathBuf};
use std::sync::Arc;

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
    cfg: ValidPatchConfig,
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
        let files = list_candidates(&self.hr_dir)?;
        let mut ds = SrPatchDataset::empty(self.cfg.clone());
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
    cfg: ValidPatchConfig,
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
    pub fn new(hr_dir: impl AsRef<Path>, cfg: ValidPatchConfig) -> Result<Self> {
        Self::builder(hr_dir, cfg).build()
    }

    /// Builder for non-default loading options.
    pub fn builder(hr_dir: impl AsRef<Path>, cfg: ValidPatchConfig) -> SrPatchDatasetBuilder {
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
    pub fn from_images(images: Vec<(String, Image)>, cfg: ValidPatchConfig) -> Result<Self> {
        let mut ds = Self::empty(cfg);
        for (name, img) in images {
            let rgb = Rgb8Image::from_image(&img)?;
            let hash = hex_sha256(&rgb.data);
            ds.push(name, None, Stored::Decoded(rgb), hash)?;
        }
        Ok(ds)
    }

    fn empty(cfg: ValidPatchConfig) -> Self {
        let maker = PairMaker::new(&cfg);
        Self {
            cfg,
            maker,
            images: Vec::new(),
            max_pixels: DEFAULT_MAX_PIXELS,
            instances: Vec::new(),
            positions: Vec::new(),
            offsets: vec![0],
            skipped: Vec::new(),
        }
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
    pub fn config(&self) -> &ValidPatchConfig {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::fixtures::{cfg, textured};
    use crate::image::io::save_png;
    use crate::image::patch::instance_pairs;
    use crate::image::resize::imresize;

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
}
