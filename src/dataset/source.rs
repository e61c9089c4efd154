//! Source images of an [`IdcDataset`](super::idc::IdcDataset): listing, cheap probing (header,
//! content hash, patch count) and loading one instance's LR patches.
//!
//! Probing reads the file once (to hash it) and decodes only the header, so `IdcDataset::build`
//! knows every instance's patch count and fingerprint without decoding pixels, and a header that
//! declares an absurd size is rejected before any allocation. Everything that can go wrong with a
//! file is a typed [`IdcError`]; nothing here panics on user input.

use crate::config::{PatchConfig, hex_sha256};
use crate::error::{IdcError, Result};
use crate::image::Image;
use std::fs;
use std::io::Cursor;
use std::path::{Path, PathBuf};

/// Images above this many pixels are rejected from the header (a 100000 x 100000 PNG would need
/// 30 GB decoded). 64 Mpixel covers DIV2K/Flickr2K (<= 2K x 2K) with a wide margin.
pub const MAX_PIXELS: u64 = 64 * 1024 * 1024;

/// File name extensions treated as images (case-insensitive).
pub const IMAGE_EXTENSIONS: [&str; 6] = ["png", "jpg", "jpeg", "bmp", "tif", "tiff"];

/// One probed source image.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceImage {
    /// Instance name: path relative to the HR folder (lossy UTF-8; a non-UTF-8 name gets a hash
    /// of its raw bytes appended so two such names stay distinct).
    pub name: String,
    pub path: PathBuf,
    pub height: usize,
    pub width: usize,
    /// SHA-256 of the file bytes (part of the shard fingerprint: an edited image re-condenses).
    pub content_hash: String,
    /// Real patches `N` of the grid.
    pub n_real: usize,
}

/// Candidate image paths in `dir` (non-recursive), sorted by file name bytes so instance order is
/// the same on every machine. Entries are selected by extension only: directories, FIFOs or
/// dangling symlinks named `*.png` are listed so [`probe_image`] can report them.
pub fn list_candidates(dir: &Path) -> Result<Vec<PathBuf>> {
    let meta = fs::metadata(dir).map_err(|e| IdcError::io(dir, e))?;
    if !meta.is_dir() {
        return Err(IdcError::InvalidInput(format!(
            "{} is not a directory",
            dir.display()
        )));
    }
    let mut out: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(|e| IdcError::io(dir, e))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.extension()
                .and_then(|x| x.to_str())
                .is_some_and(|x| IMAGE_EXTENSIONS.contains(&x.to_ascii_lowercase().as_str()))
        })
        .collect();
    out.sort_by(|a, b| {
        a.as_os_str()
            .as_encoded_bytes()
            .cmp(b.as_os_str().as_encoded_bytes())
    });
    Ok(out)
}

/// Instance name of `path` relative to `root` (see [`SourceImage::name`]).
pub fn instance_name(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    match rel.to_str() {
        Some(s) => s.replace('\\', "/"),
        None => {
            let raw = hex_sha256(rel.as_os_str().as_encoded_bytes());
            format!("{}#{}", rel.to_string_lossy(), &raw[..12])
        }
    }
}

/// Per-axis patch origins with BasicSR's `extract_subimages.py` rule: a stride-`step` grid, plus
/// a last window flush with the border when the remainder exceeds `thresh`. Empty when the axis
/// is shorter than one patch.
pub fn axis_positions(len: usize, patch: usize, step: usize, thresh: usize) -> Vec<usize> {
    if len < patch || step == 0 {
        return Vec::new();
    }
    let mut v: Vec<usize> = (0..=len - patch).step_by(step).collect();
    if let Some(&last) = v.last() {
        if len - (last + patch) > thresh {
            v.push(len - patch);
        }
    }
    v
}

/// Number of HR patches of an `h x w` image (after cropping to a multiple of the scale).
pub fn patch_count(h: usize, w: usize, patch: &PatchConfig) -> usize {
    let (h, w) = (h - h % patch.scale, w - w % patch.scale);
    axis_positions(h, patch.hr_patch, patch.step, patch.thresh_size).len()
        * axis_positions(w, patch.hr_patch, patch.step, patch.thresh_size).len()
}

/// Checks that `path` is a readable regular file of a decodable image format with a sane size,
/// hashes its bytes and counts its patches. Does not decode pixels.
///
/// Errors: [`IdcError::Io`] (missing, dangling symlink, unreadable), [`IdcError::InvalidInput`]
/// (directory, FIFO/device, above [`MAX_PIXELS`], smaller than one patch),
/// [`IdcError::Decode`] (empty, unknown format, corrupt header).
pub fn probe_image(root: &Path, path: &Path, patch: &PatchConfig) -> Result<SourceImage> {
    // Follow symlinks; a dangling one fails here with NotFound.
    let meta = fs::metadata(path).map_err(|e| IdcError::io(path, e))?;
    if meta.is_dir() {
        return Err(IdcError::InvalidInput(format!(
            "{} is a directory, not an image",
            path.display()
        )));
    }
    if !meta.is_file() {
        // Opening a FIFO would block forever; devices are never images.
        return Err(IdcError::InvalidInput(format!(
            "{} is not a regular file",
            path.display()
        )));
    }
    let bytes = fs::read(path).map_err(|e| IdcError::io(path, e))?;
    if bytes.is_empty() {
        return Err(IdcError::Decode {
            path: path.to_path_buf(),
            reason: "empty file".into(),
        });
    }
    let (w, h) = header_dims(path, &bytes)?;
    if w == 0 || h == 0 {
        return Err(IdcError::Decode {
            path: path.to_path_buf(),
            reason: format!("header declares {w}x{h} pixels"),
        });
    }
    if (w as u64) * (h as u64) > MAX_PIXELS {
        return Err(IdcError::InvalidInput(format!(
            "{}: {w}x{h} pixels exceeds the limit of {MAX_PIXELS}",
            path.display()
        )));
    }
    let (h, w) = (h as usize, w as usize);
    let n_real = patch_count(h, w, patch);
    if n_real == 0 {
        return Err(IdcError::InvalidInput(format!(
            "{}: {w}x{h} image is smaller than one {}x{} patch",
            path.display(),
            patch.hr_patch,
            patch.hr_patch
        )));
    }
    Ok(SourceImage {
        name: instance_name(root, path),
        path: path.to_path_buf(),
        height: h,
        width: w,
        content_hash: hex_sha256(&bytes),
        n_real,
    })
}

fn header_dims(path: &Path, bytes: &[u8]) -> Result<(u32, u32)> {
    let decode_err = |reason: String| IdcError::Decode {
        path: path.to_path_buf(),
        reason,
    };
    let reader = image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| decode_err(e.to_string()))?;
    if reader.format().is_none() {
        return Err(decode_err("unknown image format".into()));
    }
    reader
        .into_dimensions()
        .map_err(|e| decode_err(e.to_string()))
}

/// Decodes `src` to RGB and cuts its patch grid: HR patches of the (scale-cropped) image and the
/// LR patches at the same positions of its down-scaled version. Returns `(lr, hr)`.
pub fn load_pairs(src: &SourceImage, patch: &PatchConfig) -> Result<(Vec<Image>, Vec<Image>)> {
    let hr = decode_rgb(&src.path)?;
    if (hr.height, hr.width) != (src.height, src.width) {
        return Err(IdcError::InvalidInput(format!(
            "{}: decoded size {}x{} differs from the header's {}x{} (file changed?)",
            src.path.display(),
            hr.width,
            hr.height,
            src.width,
            src.height
        )));
    }
    let (lr, hr) = grid_pairs(&hr, patch)?;
    if lr.len() != src.n_real {
        return Err(IdcError::InvalidInput(format!(
            "{}: {} patches, expected {} (file changed?)",
            src.path.display(),
            lr.len(),
            src.n_real
        )));
    }
    Ok((lr, hr))
}

/// Full decode to planar RGB in [0, 1] (grey, RGBA and 16-bit are converted).
fn decode_rgb(path: &Path) -> Result<Image> {
    let bytes = fs::read(path).map_err(|e| IdcError::io(path, e))?;
    let decode_err = |reason: String| IdcError::Decode {
        path: path.to_path_buf(),
        reason,
    };
    let mut reader = image::ImageReader::new(Cursor::new(&bytes))
        .with_guessed_format()
        .map_err(|e| decode_err(e.to_string()))?;
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(MAX_PIXELS * 16);
    reader.limits(limits);
    let img = reader.decode().map_err(|e| decode_err(e.to_string()))?;
    let rgb = img.to_rgb8();
    let (w, h) = (rgb.width() as usize, rgb.height() as usize);
    let mut data = vec![0f32; 3 * h * w];
    for (i, px) in rgb.pixels().enumerate() {
        for c in 0..3 {
            data[c * h * w + i] = px.0[c] as f32 / 255.0;
        }
    }
    Image::new(3, h, w, data)
}

/// HR patches on the BasicSR grid and LR patches of the down-scaled image at the same places.
fn grid_pairs(hr: &Image, patch: &PatchConfig) -> Result<(Vec<Image>, Vec<Image>)> {
    let s = patch.scale;
    let (h, w) = (hr.height - hr.height % s, hr.width - hr.width % s);
    let lr_img = downscale(hr, s, h, w)?;
    let lp = patch.lr_patch();
    let ys = axis_positions(h, patch.hr_patch, patch.step, patch.thresh_size);
    let xs = axis_positions(w, patch.hr_patch, patch.step, patch.thresh_size);
    let (mut lrs, mut hrs) = (Vec::new(), Vec::new());
    for &y in &ys {
        for &x in &xs {
            hrs.push(hr.crop(y, x, patch.hr_patch, patch.hr_patch)?);
            // Flush windows may start off the scale grid; round down onto it.
            lrs.push(lr_img.crop(y / s, x / s, lp, lp)?);
        }
    }
    Ok((lrs, hrs))
}

/// Down-scale by `s` (box average over s x s blocks of the top-left h x w region).
fn downscale(img: &Image, s: usize, h: usize, w: usize) -> Result<Image> {
    let (lh, lw) = (h / s, w / s);
    let mut data = vec![0f32; img.channels * lh * lw];
    let norm = 1.0 / (s * s) as f32;
    for c in 0..img.channels {
        for y in 0..lh {
            for x in 0..lw {
                let mut acc = 0f32;
                for dy in 0..s {
                    for dx in 0..s {
                        acc += img.at(c, y * s + dy, x * s + dx);
                    }
                }
                data[(c * lh + y) * lw + x] = acc * norm;
            }
        }
    }
    Image::new(img.channels, lh, lw, data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basicsr_grid() {
        // 100 wide, patch 48, step 24: 0, 24, 48 and a final flush window at 52.
        assert_eq!(axis_positions(100, 48, 24, 0), vec![0, 24, 48, 52]);
        assert_eq!(axis_positions(96, 48, 24, 0), vec![0, 24, 48]);
        assert_eq!(axis_positions(100, 48, 24, 4), vec![0, 24, 48]);
        assert!(axis_positions(47, 48, 24, 0).is_empty());
        assert_eq!(axis_positions(48, 48, 24, 0), vec![0]);
    }

    #[test]
    fn names_are_relative_and_distinct_for_non_utf8() {
        let root = Path::new("/data");
        assert_eq!(instance_name(root, Path::new("/data/a/b.png")), "a/b.png");
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt;
            let a = std::ffi::OsStr::from_bytes(b"/data/x\xff.png");
            let b = std::ffi::OsStr::from_bytes(b"/data/x\xfe.png");
            let na = instance_name(root, Path::new(a));
            let nb = instance_name(root, Path::new(b));
            assert_ne!(na, nb);
        }
    }
}
