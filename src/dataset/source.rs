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
pub const MAX_PIXELS: u64 = crate::image::io::DEFAULT_MAX_PIXELS;

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

/// Image paths under `dir` (recursive, sorted), listed exactly as `SrPatchDataset` lists them
/// ([`crate::image::io::list_images`]): directories named `*.png` are searched, not listed;
/// dangling symlinks, FIFOs and the like are listed so [`probe_image`] reports them.
pub fn list_candidates(dir: &Path) -> Result<Vec<PathBuf>> {
    let meta = fs::metadata(dir).map_err(|e| IdcError::io(dir, e))?;
    if !meta.is_dir() {
        return Err(IdcError::InvalidInput(format!(
            "{} is not a directory",
            dir.display()
        )));
    }
    crate::image::io::list_images(dir)
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

/// Number of HR patches of an `h x w` image ([`crate::image::patch::count_patches`]).
pub fn patch_count(h: usize, w: usize, patch: &PatchConfig) -> usize {
    crate::image::patch::count_patches(h, w, patch)
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

/// Decodes `src` (RGB; grey, RGBA and 16-bit are converted) and cuts its patch grid with
/// [`crate::image::patch::instance_pairs`], exactly as `SrPatchDataset` does. Returns `(lr, hr)`.
pub fn load_pairs(src: &SourceImage, patch: &PatchConfig) -> Result<(Vec<Image>, Vec<Image>)> {
    let hr = crate::image::io::decode_image_with_limit(&src.path, MAX_PIXELS)?;
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
    let pairs = crate::image::patch::instance_pairs(&hr, patch)?;
    if pairs.len() != src.n_real {
        return Err(IdcError::InvalidInput(format!(
            "{}: {} patches, expected {} (file changed?)",
            src.path.display(),
            pairs.len(),
            src.n_real
        )));
    }
    Ok(pairs.into_iter().map(|p| (p.lr, p.hr)).unzip())
}

#[cfg(test)]
mod tests {
    use super::*;

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
