//! Image decoding and PNG encoding with typed errors, and image discovery in folders.
//!
//! Conventions (the whole crate relies on them):
//! - every decoded image is 3-channel RGB with 8-bit precision: grey is replicated to RGB, an
//!   alpha channel is **dropped** (not composited; BasicSR's `cv2.IMREAD_COLOR` does the same),
//!   16-bit samples are rounded to 8 bits (`round(v / 257)`), float samples are clipped to
//!   `[0, 1]` and rounded to 8 bits; JPEG CMYK/YCCK is converted to RGB by the decoder;
//! - the pixel count is read from the header and checked against a limit (default
//!   [`DEFAULT_MAX_PIXELS`] = 64 MP) **before** the pixel data is decoded;
//! - errors: zero-byte, non-image, truncated or otherwise undecodable files give
//!   [`IdcError::Decode`]; zero-size and too-large images give [`IdcError::InvalidInput`]; file
//!   system failures give [`IdcError::Io`]. Decoder panics (malformed data) are caught and
//!   reported as `Decode`, never propagated. A JPEG whose last scan has no end-of-image marker
//!   (a cut download) is `Decode` too, as a truncated PNG always was;
//! - EXIF orientation is **ignored**: pixels are used as stored. SR training and benchmark sets
//!   (DIV2K, T91, BSD, Set5/Set14) carry no orientation tags, and the flip/rot90 augmentation
//!   makes orientation irrelevant for training; rotate camera files beforehand if it matters;
//! - one policy for a bad image everywhere (`idc eval`, `idc condense`, the datasets): it is an
//!   error that names the file; `idc condense --keep-going` and the datasets'
//!   `with_skip_bad_images(true)` are the explicit ways to go on without it.

use super::Image;
use crate::error::{IdcError, Result};
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};
use std::io::Cursor;
use std::path::{Path, PathBuf};

/// One `[0, 1]` value to 8 bits as BasicSR does (`np.clip(x * 255, 0, 255).round()` in `f32`):
/// NumPy rounds halves to even, which matters for bicubic outputs that land exactly on `k + 0.5`
/// (`Image::to_u8` rounds halves away from zero). NaN maps to 0.
#[inline]
pub fn quantize_u8(v: f32) -> u8 {
    (v * 255.0).clamp(0.0, 255.0).round_ties_even() as u8
}

/// All values of `img` through [`quantize_u8`] (planar, like `img.data`).
pub fn image_to_u8(img: &Image) -> Vec<u8> {
    img.data.iter().map(|&v| quantize_u8(v)).collect()
}

/// `img` rounded to 8 bits and back (`q / 255`), i.e. what BasicSR's 8-bit PNG of it holds.
pub fn quantize_image(img: &Image) -> Image {
    Image {
        channels: img.channels,
        height: img.height,
        width: img.width,
        data: img
            .data
            .iter()
            .map(|&v| quantize_u8(v) as f32 / 255.0)
            .collect(),
    }
}

/// Default pixel limit (width x height) for decoding: 64 megapixels.
pub const DEFAULT_MAX_PIXELS: u64 = 64 * 1024 * 1024;

/// File extensions (lower case) that [`list_images`] picks up.
pub const IMAGE_EXTENSIONS: [&str; 6] = ["png", "bmp", "jpg", "jpeg", "tif", "tiff"];

/// Compact 8-bit planar RGB image (3 x height x width bytes): what a decoded file holds, a
/// quarter of the memory of [`Image`]. Datasets keep these and convert per item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rgb8Image {
    /// Height in pixels.
    pub height: usize,
    /// Width in pixels.
    pub width: usize,
    /// `3 * height * width` bytes, channel-major then row-major.
    pub data: Vec<u8>,
}

impl Rgb8Image {
    /// `[0, 1]` float image (`v / 255`).
    pub fn to_image(&self) -> Image {
        Image {
            channels: 3,
            height: self.height,
            width: self.width,
            data: self.data.iter().map(|&v| v as f32 / 255.0).collect(),
        }
    }

    /// Float copy of the window at `(top, left)` of size `h x w` (must lie inside).
    pub fn crop_to_image(&self, top: usize, left: usize, h: usize, w: usize) -> Result<Image> {
        if h == 0 || w == 0 || top + h > self.height || left + w > self.width {
            return Err(IdcError::InvalidInput(format!(
                "crop {h}x{w} at ({top},{left}) outside {}x{}",
                self.height, self.width
            )));
        }
        let mut data = Vec::with_capacity(3 * h * w);
        for c in 0..3 {
            for y in top..top + h {
                let row = (c * self.height + y) * self.width + left;
                data.extend(self.data[row..row + w].iter().map(|&v| v as f32 / 255.0));
            }
        }
        Ok(Image {
            channels: 3,
            height: h,
            width: w,
            data,
        })
    }

    /// 8-bit copy of a float image: grey (1 channel) is replicated, values are quantised with
    /// [`quantize_u8`]. Errors on channel counts other than 1 and 3.
    pub fn from_image(img: &Image) -> Result<Rgb8Image> {
        let q = image_to_u8(img);
        let data = match img.channels {
            3 => q,
            1 => [q.as_slice(), q.as_slice(), q.as_slice()].concat(),
            c => {
                return Err(IdcError::InvalidInput(format!(
                    "expected 1 or 3 channels, got {c}"
                )));
            }
        };
        Ok(Rgb8Image {
            height: img.height,
            width: img.width,
            data,
        })
    }
}

fn decode_err(path: &Path, reason: impl Into<String>) -> IdcError {
    IdcError::Decode {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Decodes an image file into RGB with the default 64 MP limit (see the module docs).
pub fn decode_image(path: &Path) -> Result<Image> {
    decode_image_with_limit(path, DEFAULT_MAX_PIXELS)
}

/// Decodes an image file into RGB, refusing images above `max_pixels` (checked from the header).
pub fn decode_image_with_limit(path: &Path, max_pixels: u64) -> Result<Image> {
    Ok(decode_rgb8_with_limit(path, max_pixels)?.to_image())
}

/// Decodes an image file into compact 8-bit RGB with the default limit.
pub fn decode_rgb8(path: &Path) -> Result<Rgb8Image> {
    decode_rgb8_with_limit(path, DEFAULT_MAX_PIXELS)
}

/// Decodes an image file into compact 8-bit RGB, refusing images above `max_pixels`.
pub fn decode_rgb8_with_limit(path: &Path, max_pixels: u64) -> Result<Rgb8Image> {
    let bytes = crate::fsutil::read_bounded(path, max_file_bytes(max_pixels))?;
    decode_rgb8_bytes(&bytes, path, max_pixels)
}

/// The largest image file accepted for `max_pixels`: uncompressed 16-bit RGBA (8 bytes per
/// pixel) plus room for metadata, so no legal image is refused and nothing larger is read.
pub fn max_file_bytes(max_pixels: u64) -> u64 {
    max_pixels.saturating_mul(8).saturating_add(64 << 20)
}

/// Decodes in-memory file bytes (`path` is only used for the format fallback and messages).
pub fn decode_rgb8_bytes(bytes: &[u8], path: &Path, max_pixels: u64) -> Result<Rgb8Image> {
    if bytes.is_empty() {
        return Err(decode_err(path, "empty file (0 bytes)"));
    }
    // Content sniffing first (a JPEG named .png still decodes); the extension is the fallback.
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| decode_err(path, e.to_string()))?;
    if reader.format().is_none() {
        match ImageFormat::from_path(path) {
            Ok(f) => reader.set_format(f),
            Err(_) => return Err(decode_err(path, "not a recognised image format")),
        }
    }
    if reader.format() == Some(ImageFormat::Jpeg) {
        check_jpeg_complete(bytes, path)?;
    }
    let mut limits = Limits::default();
    // Our own pixel check below is the policy; the allocation cap only has to admit it
    // (up to 16-bit RGBA per pixel).
    limits.max_alloc = Some(max_pixels.saturating_mul(8).max(512 << 20));
    reader.limits(limits);

    let decoded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let decoder = reader
            .into_decoder()
            .map_err(|e| decode_err(path, decoder_message(&e)))?;
        let (w, h) = decoder.dimensions();
        check_size(path, w as u64, h as u64, max_pixels)?;
        DynamicImage::from_decoder(decoder).map_err(|e| decode_err(path, decoder_message(&e)))
    }));
    let dynimg = match decoded {
        Ok(r) => r?,
        Err(_) => return Err(decode_err(path, "decoder panicked on malformed data")),
    };
    check_size(
        path,
        dynimg.width() as u64,
        dynimg.height() as u64,
        max_pixels,
    )?;
    Ok(to_rgb8(&dynimg))
}

/// The decoder's message, with the PNG checksum failure (which the `png` crate reports as a Rust
/// debug struct) said in words.
fn decoder_message(e: &image::ImageError) -> String {
    let text = e.to_string();
    if text.contains("CRC error") || text.contains("CrcMismatch") {
        let chunk = ["IHDR", "PLTE", "IDAT", "IEND"]
            .into_iter()
            .find(|c| text.contains(c))
            .map_or(String::new(), |c| format!(" in its {c} chunk"));
        return format!("PNG checksum (CRC) mismatch{chunk}: the file is damaged");
    }
    text
}

/// Rejects a JPEG whose main scan is not closed by an end-of-image marker: the decoder fills a
/// truncated scan with grey without an error, which would silently train on a damaged image.
/// Entropy-coded data never contains `FF DA` or `FF D9` (byte stuffing), so the marker must follow
/// the last start-of-scan; bytes after it (padding some writers add) are allowed.
fn check_jpeg_complete(bytes: &[u8], path: &Path) -> Result<()> {
    let last = |marker: u8| bytes.windows(2).rposition(|w| w == [0xFF, marker]);
    match (last(0xDA), last(0xD9)) {
        (Some(sos), Some(eoi)) if eoi > sos => Ok(()),
        (None, _) => Err(decode_err(path, "JPEG without a start-of-scan marker")),
        _ => Err(decode_err(
            path,
            "truncated JPEG: no end-of-image marker after the last scan",
        )),
    }
}

fn check_size(path: &Path, w: u64, h: u64, max_pixels: u64) -> Result<()> {
    if w == 0 || h == 0 {
        return Err(IdcError::InvalidInput(format!(
            "{}: zero-size image {w}x{h}",
            path.display()
        )));
    }
    if w.saturating_mul(h) > max_pixels {
        return Err(IdcError::InvalidInput(format!(
            "{}: image {w}x{h} = {} pixels exceeds the limit of {max_pixels}",
            path.display(),
            w * h
        )));
    }
    Ok(())
}

/// 16-bit sample to 8 bits with rounding (`round(v * 255 / 65535) = round(v / 257)`).
#[inline]
fn u16_to_u8(v: u16) -> u8 {
    ((v as u32 * 2 + 257) / 514) as u8
}

#[inline]
fn f32_to_u8(v: f32) -> u8 {
    (v * 255.0).clamp(0.0, 255.0).round() as u8
}

/// Planar RGB from any decoded layout (grey replicated, alpha dropped, rounding to 8 bits).
fn to_rgb8(img: &DynamicImage) -> Rgb8Image {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let n = w * h;
    let mut data = vec![0u8; 3 * n];
    let mut put = |i: usize, r: u8, g: u8, b: u8| {
        data[i] = r;
        data[n + i] = g;
        data[2 * n + i] = b;
    };
    match img {
        DynamicImage::ImageLuma8(b) => {
            for (i, p) in b.as_raw().iter().enumerate() {
                put(i, *p, *p, *p);
            }
        }
        DynamicImage::ImageLumaA8(b) => {
            for (i, p) in b.as_raw().chunks_exact(2).enumerate() {
                put(i, p[0], p[0], p[0]);
            }
        }
        DynamicImage::ImageRgb8(b) => {
            for (i, p) in b.as_raw().chunks_exact(3).enumerate() {
                put(i, p[0], p[1], p[2]);
            }
        }
        DynamicImage::ImageRgba8(b) => {
            for (i, p) in b.as_raw().chunks_exact(4).enumerate() {
                put(i, p[0], p[1], p[2]);
            }
        }
        DynamicImage::ImageLuma16(b) => {
            for (i, p) in b.as_raw().iter().enumerate() {
                let v = u16_to_u8(*p);
                put(i, v, v, v);
            }
        }
        DynamicImage::ImageLumaA16(b) => {
            for (i, p) in b.as_raw().chunks_exact(2).enumerate() {
                let v = u16_to_u8(p[0]);
                put(i, v, v, v);
            }
        }
        DynamicImage::ImageRgb16(b) => {
            for (i, p) in b.as_raw().chunks_exact(3).enumerate() {
                put(i, u16_to_u8(p[0]), u16_to_u8(p[1]), u16_to_u8(p[2]));
            }
        }
        DynamicImage::ImageRgba16(b) => {
            for (i, p) in b.as_raw().chunks_exact(4).enumerate() {
                put(i, u16_to_u8(p[0]), u16_to_u8(p[1]), u16_to_u8(p[2]));
            }
        }
        DynamicImage::ImageRgb32F(b) => {
            for (i, p) in b.as_raw().chunks_exact(3).enumerate() {
                put(i, f32_to_u8(p[0]), f32_to_u8(p[1]), f32_to_u8(p[2]));
            }
        }
        DynamicImage::ImageRgba32F(b) => {
            for (i, p) in b.as_raw().chunks_exact(4).enumerate() {
                put(i, f32_to_u8(p[0]), f32_to_u8(p[1]), f32_to_u8(p[2]));
            }
        }
        other => {
            // Future layouts: let the image crate convert (it drops alpha the same way).
            for (i, p) in other.to_rgb8().as_raw().chunks_exact(3).enumerate() {
                put(i, p[0], p[1], p[2]);
            }
        }
    }
    Rgb8Image {
        height: h,
        width: w,
        data,
    }
}

/// Encodes `img` (1 or 3 channels, values in `[0, 1]`) as an 8-bit PNG, quantised with
/// `round(clip(x * 255, 0, 255))` like BasicSR's `tensor2img` (halves to even, [`quantize_u8`]),
/// and writes it atomically.
pub fn save_png(path: &Path, img: &Image) -> Result<()> {
    let bytes = encode_png(img)?;
    atomic_write(path, &bytes)
}

/// The PNG bytes [`save_png`] writes.
pub fn encode_png(img: &Image) -> Result<Vec<u8>> {
    use image::{ExtendedColorType, ImageEncoder, codecs::png::PngEncoder};
    let q = image_to_u8(img);
    let n = img.height * img.width;
    let (buf, color) = match img.channels {
        1 => (q, ExtendedColorType::L8),
        3 => {
            let mut buf = Vec::with_capacity(3 * n);
            for i in 0..n {
                buf.extend_from_slice(&[q[i], q[n + i], q[2 * n + i]]);
            }
            (buf, ExtendedColorType::Rgb8)
        }
        c => {
            return Err(IdcError::InvalidInput(format!(
                "PNG output needs 1 or 3 channels, got {c}"
            )));
        }
    };
    let (w, h) = (
        u32::try_from(img.width).map_err(|_| IdcError::InvalidInput("image too wide".into()))?,
        u32::try_from(img.height).map_err(|_| IdcError::InvalidInput("image too tall".into()))?,
    );
    let mut out = Vec::new();
    PngEncoder::new(&mut out)
        .write_image(&buf, w, h, color)
        .map_err(|e| IdcError::InvalidInput(format!("PNG encoding failed: {e}")))?;
    Ok(out)
}

pub(crate) use crate::fsutil::write_atomic as atomic_write;

/// True when `path` has one of [`IMAGE_EXTENSIONS`] (case-insensitive).
pub fn has_image_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.iter().any(|x| e.eq_ignore_ascii_case(x)))
}

/// Image files under `dir`, recursively, sorted by path.
///
/// Listed: every entry whose extension is an image extension (case-insensitive) and that is
/// **not a directory** — regular files, and symlinks to files. A **dangling symlink** with an
/// image extension is listed too (it then fails to decode with [`IdcError::Io`]), so a broken
/// data set is reported instead of silently shrinking. A directory named `x.png` is not listed
/// but is searched like any directory. Symlinked directories are followed (each real directory
/// is visited once, so link cycles terminate). Hidden names like `.png` have no extension and
/// are skipped. Errors when `dir` (or a subfolder) cannot be read.
pub fn list_images(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    visit(dir, &mut out, &mut seen)?;
    out.sort();
    Ok(out)
}

fn visit(
    dir: &Path,
    out: &mut Vec<PathBuf>,
    seen: &mut std::collections::HashSet<PathBuf>,
) -> Result<()> {
    let canon = std::fs::canonicalize(dir).map_err(|e| IdcError::io(dir, e))?;
    if !seen.insert(canon) {
        return Ok(());
    }
    let entries = std::fs::read_dir(dir).map_err(|e| IdcError::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| IdcError::io(dir, e))?;
        let path = entry.path();
        // `metadata` follows symlinks; it fails for dangling ones, which are then not dirs.
        let is_dir = std::fs::metadata(&path)
            .map(|m| m.is_dir())
            .unwrap_or(false);
        if is_dir {
            visit(&path, out, seen)?;
        } else if has_image_extension(&path) {
            out.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
