//! [`PairedFolderDataset`]: a `Dataset<SrPair>` over two folders of images paired by file stem
//! (`HR/x.png` with `LR/x.png`), the layout BasicSR's `PairedImageDataset` reads and
//! [`super::export`] writes. So a set exported from a shard cache, or made by another tool,
//! trains through any Burn loop like the crate's own datasets.
//!
//! Lazy: opening lists both folders and reads only image headers (so `len()` is exact and a
//! missing partner or a size that is not `scale` x the LR size fails at open, not mid-epoch);
//! `get` decodes the two files. Memory stays constant for sets of any size, as with BasicSR's
//! `disk` backend; an exported pair is two small PNGs, so the per-item decode is cheap next to a
//! training step.

use crate::error::{IdcError, Result};
use crate::image::SrPair;
use crate::image::io::{DEFAULT_MAX_PIXELS, decode_image_with_limit, has_image_extension};
use crate::source::file_header_size;
use burn::data::dataset::Dataset;
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// HR folder of the BasicSR layout (`<root>/HR`).
pub const BASICSR_HR_DIR: &str = "HR";
/// HR folder of the plain `folder` layout (`<root>/hr`).
pub const FOLDER_HR_DIR: &str = "hr";
/// LR folder of the plain `folder` layout (`<root>/lr`).
pub const FOLDER_LR_DIR: &str = "lr";
/// BasicSR's meta-info file name in an exported root (`meta_info_file` of `PairedImageDataset`).
pub const META_INFO_FILE: &str = "meta_info.txt";

/// LR folder of the BasicSR layout relative to the root: `LR_bicubic/X{scale}` (DIV2K's).
pub fn basicsr_lr_dir(scale: usize) -> PathBuf {
    Path::new("LR_bicubic").join(format!("X{scale}"))
}

/// One pair's files and header sizes `(height, width)`.
#[derive(Clone, Debug, PartialEq, Eq)]
struct PairFiles {
    stem: String,
    hr: PathBuf,
    lr: PathBuf,
    hr_size: (usize, usize),
    lr_size: (usize, usize),
}

/// Read-only `Dataset<SrPair>` over an HR folder and an LR folder (see the module docs). Items
/// are in file-stem order (byte order of the names), which is the export order.
#[derive(Clone, Debug)]
pub struct PairedFolderDataset {
    hr_dir: PathBuf,
    lr_dir: PathBuf,
    scale: usize,
    pairs: Vec<PairFiles>,
}

impl PairedFolderDataset {
    /// Pairs the images directly in `hr_dir` and `lr_dir` by file stem (extensions may differ;
    /// sub-folders and non-image files are ignored, as BasicSR's folder mode does).
    ///
    /// Errors: [`IdcError::InvalidConfig`] for scale 0; [`IdcError::Io`] when a folder cannot be
    /// read; [`IdcError::InvalidInput`] when a folder has no image, an image has no partner, a
    /// stem appears twice in one folder, an HR size is not `scale` x its LR size, or an image
    /// header declares more than the pixel limit;
    /// [`IdcError::Decode`] for an unreadable header.
    pub fn new(hr_dir: impl AsRef<Path>, lr_dir: impl AsRef<Path>, scale: usize) -> Result<Self> {
        let (hr_dir, lr_dir) = (hr_dir.as_ref(), lr_dir.as_ref());
        if scale == 0 {
            return Err(IdcError::config("scale", "must be at least 1"));
        }
        let hr = stems(hr_dir)?;
        let lr = stems(lr_dir)?;
        check_partners(&hr, hr_dir, &lr, lr_dir)?;
        let pairs = hr
            .into_iter()
            .map(|(stem, hr)| {
                let lr = lr[&stem].clone();
                let size = |p: &Path| file_header_size(p, DEFAULT_MAX_PIXELS);
                let (hr_size, lr_size) = (size(&hr)?, size(&lr)?);
                check_scale(&hr, hr_size, lr_size, scale)?;
                Ok(PairFiles {
                    stem,
                    hr,
                    lr,
                    hr_size,
                    lr_size,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            hr_dir: hr_dir.to_path_buf(),
            lr_dir: lr_dir.to_path_buf(),
            scale,
            pairs,
        })
    }

    /// BasicSR's layout under `root`: `HR/` and `LR_bicubic/X{scale}/` (what
    /// `idc export --format basicsr` writes; `meta_info.txt`, when present, is not needed).
    pub fn basicsr(root: impl AsRef<Path>, scale: usize) -> Result<Self> {
        let root = root.as_ref();
        Self::new(
            root.join(BASICSR_HR_DIR),
            root.join(basicsr_lr_dir(scale)),
            scale,
        )
    }

    /// The plain layout under `root`: `hr/` and `lr/` (what `idc export --format folder` writes).
    pub fn folder(root: impl AsRef<Path>, scale: usize) -> Result<Self> {
        let root = root.as_ref();
        Self::new(root.join(FOLDER_HR_DIR), root.join(FOLDER_LR_DIR), scale)
    }

    /// Up-sampling factor of every pair (HR side = `scale` x LR side).
    pub fn scale(&self) -> usize {
        self.scale
    }

    /// The HR folder.
    pub fn hr_dir(&self) -> &Path {
        &self.hr_dir
    }

    /// The LR folder.
    pub fn lr_dir(&self) -> &Path {
        &self.lr_dir
    }

    /// File stem of item `index` (shared by its HR and LR files).
    pub fn stem(&self, index: usize) -> Option<&str> {
        self.pairs.get(index).map(|p| p.stem.as_str())
    }

    /// Item `index` with a typed error (the `Dataset::get` form returns `None` on any error).
    /// A file that no longer decodes, or whose size changed since open, is an error.
    pub fn try_get(&self, index: usize) -> Result<SrPair> {
        let p = self.pairs.get(index).ok_or_else(|| {
            IdcError::InvalidInput(format!(
                "index {index} out of range for {} pairs",
                self.pairs.len()
            ))
        })?;
        let hr = decode_image_with_limit(&p.hr, DEFAULT_MAX_PIXELS)?;
        let lr = decode_image_with_limit(&p.lr, DEFAULT_MAX_PIXELS)?;
        for (path, img, size) in [(&p.hr, &hr, p.hr_size), (&p.lr, &lr, p.lr_size)] {
            if (img.height, img.width) != size {
                return Err(IdcError::InvalidInput(format!(
                    "{}: now {}x{}, {}x{} when the dataset was opened (file changed?)",
                    path.display(),
                    img.width,
                    img.height,
                    size.1,
                    size.0
                )));
            }
        }
        Ok(SrPair { lr, hr })
    }
}

impl Dataset<SrPair> for PairedFolderDataset {
    fn get(&self, index: usize) -> Option<SrPair> {
        match self.try_get(index) {
            Ok(p) => Some(p),
            Err(e) => {
                if index < self.pairs.len() {
                    eprintln!("warning: PairedFolderDataset item {index}: {e}");
                }
                None
            }
        }
    }

    fn len(&self) -> usize {
        self.pairs.len()
    }
}

/// Image files directly in `dir` by stem (sorted); hidden names (temp files) are skipped, a stem
/// used twice is an error, and so is a folder without images.
fn stems(dir: &Path) -> Result<BTreeMap<String, PathBuf>> {
    let entries = fs::read_dir(dir).map_err(|e| IdcError::io(dir, e))?;
    let mut out = BTreeMap::new();
    for entry in entries {
        let path = entry.map_err(|e| IdcError::io(dir, e))?.path();
        let hidden = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if hidden || path.is_dir() || !has_image_extension(&path) {
            continue;
        }
        let Some(stem) = path.file_stem().map(|s| s.to_string_lossy().into_owned()) else {
            continue;
        };
        if let Some(other) = out.insert(stem.clone(), path.clone()) {
            return Err(IdcError::InvalidInput(format!(
                "{} and {} share the stem {stem:?}; pairs are matched by stem",
                other.display(),
                path.display()
            )));
        }
    }
    if out.is_empty() {
        return Err(IdcError::InvalidInput(format!(
            "no image (png, bmp, jpg, tif) in {}",
            dir.display()
        )));
    }
    Ok(out)
}

/// Every stem on one side has a partner on the other; names the first missing one.
fn check_partners(
    hr: &BTreeMap<String, PathBuf>,
    hr_dir: &Path,
    lr: &BTreeMap<String, PathBuf>,
    lr_dir: &Path,
) -> Result<()> {
    let missing = |from: &BTreeMap<String, PathBuf>, to: &BTreeMap<String, PathBuf>| {
        from.iter()
            .find(|(stem, _)| !to.contains_key(*stem))
            .map(|(_, path)| path.clone())
    };
    for (path, other_dir) in [(missing(hr, lr), lr_dir), (missing(lr, hr), hr_dir)] {
        if let Some(path) = path {
            return Err(IdcError::InvalidInput(format!(
                "{} has no partner with the same stem in {} ({} HR, {} LR images)",
                path.display(),
                other_dir.display(),
                hr.len(),
                lr.len()
            )));
        }
    }
    Ok(())
}

/// HR `(h, w)` must be `scale` x LR `(h, w)`.
fn check_scale(
    hr: &Path,
    hr_size: (usize, usize),
    lr_size: (usize, usize),
    s: usize,
) -> Result<()> {
    if hr_size != (lr_size.0 * s, lr_size.1 * s) {
        return Err(IdcError::InvalidInput(format!(
            "{}: HR {}x{} is not {s} x its LR {}x{} (scale {s})",
            hr.display(),
            hr_size.1,
            hr_size.0,
            lr_size.1,
            lr_size.0
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::Image;
    use crate::image::io::save_png;

    fn img(h: usize, w: usize, seed: usize) -> Image {
        let data: Vec<u8> = (0..3 * h * w)
            .map(|i| ((i * 7 + seed * 31) % 256) as u8)
            .collect();
        Image::from_u8(3, h, w, &data).unwrap()
    }

    /// `hr/` and `lr/` under `root` with pairs `names` (LR 4x5, HR scale x that).
    fn write_pairs(root: &Path, names: &[&str], scale: usize) {
        for d in [FOLDER_HR_DIR, FOLDER_LR_DIR] {
            fs::create_dir_all(root.join(d)).unwrap();
        }
        for (k, n) in names.iter().enumerate() {
            save_png(&root.join("hr").join(n), &img(4 * scale, 5 * scale, k)).unwrap();
            save_png(&root.join("lr").join(n), &img(4, 5, 100 + k)).unwrap();
        }
    }

    #[test]
    fn pairs_by_stem_in_name_order_and_decodes_lazily() {
        let d = tempfile::tempdir().unwrap();
        write_pairs(d.path(), &["b.png", "a.png", "c.png"], 3);
        fs::write(d.path().join("hr").join("notes.txt"), "ignored").unwrap();
        let ds = PairedFolderDataset::folder(d.path(), 3).unwrap();
        assert_eq!(ds.len(), 3);
        assert_eq!(
            (ds.stem(0), ds.stem(2), ds.stem(3)),
            (Some("a"), Some("c"), None)
        );
        let p = ds.try_get(0).unwrap();
        assert_eq!(
            (p.hr.height, p.hr.width, p.lr.height, p.lr.width),
            (12, 15, 4, 5)
        );
        // "a.png" was the second file written: HR seed 1, LR seed 101
        assert_eq!(p.hr, img(12, 15, 1));
        assert_eq!(p.lr, img(4, 5, 101));
        assert!(ds.get(3).is_none());
        // lazy: a file replaced after open is read (and checked) at get
        save_png(&d.path().join("lr").join("b.png"), &img(5, 5, 0)).unwrap();
        let e = ds.try_get(1).unwrap_err().to_string();
        assert!(e.contains("when the dataset was opened"), "{e}");
        assert!(ds.get(1).is_none());
    }

    #[test]
    fn typed_errors_for_bad_folders() {
        let d = tempfile::tempdir().unwrap();
        let (hr, lr) = (d.path().join("hr"), d.path().join("lr"));
        assert!(matches!(
            PairedFolderDataset::new(&hr, &lr, 2),
            Err(IdcError::Io { .. })
        ));
        fs::create_dir_all(&hr).unwrap();
        fs::create_dir_all(&lr).unwrap();
        let e = PairedFolderDataset::new(&hr, &lr, 2).unwrap_err();
        assert!(
            matches!(&e, IdcError::InvalidInput(m) if m.contains("no image")),
            "{e}"
        );
        write_pairs(d.path(), &["a.png", "b.png"], 2);
        assert!(matches!(
            PairedFolderDataset::new(&hr, &lr, 0),
            Err(IdcError::InvalidConfig { .. })
        ));
        let e = PairedFolderDataset::new(&hr, &lr, 3).unwrap_err();
        assert!(
            matches!(&e, IdcError::InvalidInput(m) if m.contains("is not 3 x")),
            "{e}"
        );
        fs::remove_file(lr.join("b.png")).unwrap();
        let e = PairedFolderDataset::new(&hr, &lr, 2).unwrap_err();
        assert!(
            matches!(&e, IdcError::InvalidInput(m) if m.contains("b.png has no partner")),
            "{e}"
        );
        fs::remove_file(hr.join("b.png")).unwrap();
        save_png(&lr.join("a.bmp"), &img(4, 5, 0)).unwrap();
        let e = PairedFolderDataset::new(&hr, &lr, 2).unwrap_err();
        assert!(
            matches!(&e, IdcError::InvalidInput(m) if m.contains("share the stem")),
            "{e}"
        );
        fs::remove_file(lr.join("a.bmp")).unwrap();
        fs::write(hr.join("c.png"), b"not a png").unwrap();
        save_png(&lr.join("c.png"), &img(4, 5, 0)).unwrap();
        assert!(matches!(
            PairedFolderDataset::new(&hr, &lr, 2),
            Err(IdcError::Decode { .. })
        ));
        fs::remove_file(hr.join("c.png")).unwrap();
        fs::remove_file(lr.join("c.png")).unwrap();
        assert_eq!(PairedFolderDataset::new(&hr, &lr, 2).unwrap().len(), 1);
    }
}
