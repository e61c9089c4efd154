//! On-disk shard format: one file per instance holding its condensed (or selected) LR/HR patches.
//!
//! Layout (all integers little-endian):
//!
//! ```text
//! magic        8 bytes  b"IDCSHARD"
//! version      u32      1 or 2 (FORMAT_VERSION = 2 is written; 1 is still read)
//! fp_len       u32      length of the fingerprint (<= MAX_FINGERPRINT_LEN)
//! fingerprint  fp_len   UTF-8; hash of everything that determines the patches
//! scale        u32
//! count        u32      number of LR/HR pairs
//! channels     u32
//! lr_h, lr_w   u32 x 2
//! hr_h, hr_w   u32 x 2  (recorded even when HR is not stored)
//! -- version 1 --
//! lr patches   count * channels * lr_h * lr_w bytes (planar CHW, u8)
//! hr patches   count * channels * hr_h * hr_w bytes
//! -- version 2 --
//! flags        u32      bit 0: HR planes stored (0 only for `--store lr-only`, never when empty)
//! payload_len  u32
//! payload      payload_len bytes: the planes through `codec` (colour transform, LOCO-I, one
//!              zstd frame with its content checksum)
//! -- both --
//! crc32        u32      CRC-32 of every byte before it
//! ```
//!
//! Why this shape: patches are stored as u8 because training data is 8-bit PNG anyway (a
//! condensed patch is quantised exactly as a saved PNG would be), which makes shards 4x smaller
//! than f32; format 2 codes the planes losslessly, about half again (`benches/README.md`, "Shard
//! storage"). The reader checks every field *and* that the stated sizes account for the file
//! size exactly before allocating, so a corrupt header can never trigger a huge allocation; the
//! whole-file CRC catches flipped bytes, and a packed payload must decode to exactly the size
//! its dimensions state.
//!
//! Files are written with [`write_shard_atomic`] (temp file in the same directory, fsync, rename,
//! fsync the directory): a reader or a crash sees either the old file, no file, or the complete
//! new one. Concurrent writers coordinate through [`ShardCache`](super::ShardCache) (per-instance
//! [`lock`](super::lock) files); the human-readable [`Manifest`](super::Manifest)
//! (`manifest.json`) lists what the cache holds.

use super::codec;
use crate::error::{IdcError, Result};
use crate::image::Image;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

/// First bytes of every shard file.
pub const MAGIC: &[u8; 8] = b"IDCSHARD";
/// Layout version written; readers accept 1 to this (newer ones are refused, and the cache then
/// re-condenses). The version is not part of a shard's key: see [`KEY_VERSION`].
pub const FORMAT_VERSION: u32 = 2;
/// Version of the shard *key* (the fingerprint recipe). Kept apart from [`FORMAT_VERSION`] so a
/// new file layout leaves every existing cache valid; bumped only when the same key could mean
/// different patches.
pub const KEY_VERSION: u32 = 1;
/// Version 2 flag: the HR planes are stored (else LR only).
const FLAG_HR_STORED: u32 = 1;
/// Upper bound on the stored fingerprint length (a hex SHA-256 is 64 bytes).
pub const MAX_FINGERPRINT_LEN: usize = 1024;
/// File name extension of shards.
pub const SHARD_EXT: &str = "shard";
/// File name extension of per-instance lock files.
pub const LOCK_EXT: &str = "lock";
/// Sub-folder of a cache that holds its lock files, out of the way of the shards.
pub const LOCKS_DIR: &str = ".locks";

/// Fixed header size after the fingerprint: scale, count, channels, lr_h, lr_w, hr_h, hr_w.
const DIMS_LEN: usize = 7 * 4;

/// The condensed (or selected) patches of one instance plus the key they were made under.
#[derive(Clone, Debug, PartialEq)]
pub struct Shard {
    /// Hash of everything that determined the patches; a reader compares it to the one it expects.
    pub fingerprint: String,
    /// Up-sampling factor (HR side = scale x LR side).
    pub scale: usize,
    /// LR patches, all of one size.
    pub lr: Vec<Image>,
    /// HR patches, all of one size, `lr.len()` of them.
    pub hr: Vec<Image>,
}

/// Patch geometry shared by every pair in a shard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Dims {
    channels: usize,
    lr_h: usize,
    lr_w: usize,
    hr_h: usize,
    hr_w: usize,
    /// False when the shard stores LR patches only.
    hr_stored: bool,
}

impl Dims {
    /// Bytes of one LR patch.
    fn lr_plane_bytes(&self) -> usize {
        self.channels * self.lr_h * self.lr_w
    }

    /// What the pixel codec needs to know about `count` patches.
    fn geometry(&self, count: usize) -> codec::Geometry {
        codec::Geometry {
            count,
            channels: self.channels,
            lr: (self.lr_h, self.lr_w),
            hr: self.hr_stored.then_some((self.hr_h, self.hr_w)),
        }
    }
}

impl Shard {
    /// Number of LR/HR pairs.
    pub fn len(&self) -> usize {
        self.lr.len()
    }

    /// True when the shard holds no pairs.
    pub fn is_empty(&self) -> bool {
        self.lr.is_empty()
    }

    /// True when the shard holds HR patches (false: LR only, HR regenerated by the teacher
    /// its fingerprint names; see [`crate::cache`]).
    pub fn has_hr(&self) -> bool {
        self.hr.len() == self.lr.len()
    }

    /// Checks the invariants the file format relies on (as many HR patches as LR ones, or none,
    /// one size each, HR = scale x LR, fingerprint length); returns the shared dimensions.
    fn dims(&self) -> Result<Dims> {
        if !self.has_hr() && !self.hr.is_empty() {
            return Err(IdcError::InvalidInput(format!(
                "shard has {} LR but {} HR patches",
                self.lr.len(),
                self.hr.len()
            )));
        }
        if self.fingerprint.len() > MAX_FINGERPRINT_LEN {
            return Err(IdcError::InvalidInput(format!(
                "shard fingerprint longer than {MAX_FINGERPRINT_LEN} bytes"
            )));
        }
        if self.scale == 0 {
            return Err(IdcError::InvalidInput("shard scale is 0".into()));
        }
        let Some(l0) = self.lr.first() else {
            return Ok(Dims {
                channels: 0,
                lr_h: 0,
                lr_w: 0,
                hr_h: 0,
                hr_w: 0,
                hr_stored: true,
            });
        };
        // LR only: the HR size is still recorded (scale x LR), for readers and `inspect`.
        let hr0 = self.hr.first().map_or(
            (l0.channels, l0.height * self.scale, l0.width * self.scale),
            |h| (h.channels, h.height, h.width),
        );
        let d = Dims {
            channels: l0.channels,
            lr_h: l0.height,
            lr_w: l0.width,
            hr_h: hr0.1,
            hr_w: hr0.2,
            hr_stored: self.has_hr(),
        };
        if hr0.0 != d.channels || d.hr_h != d.lr_h * self.scale || d.hr_w != d.lr_w * self.scale {
            return Err(IdcError::InvalidInput(format!(
                "shard HR patch {}x{}x{} is not scale {} of LR patch {}x{}x{}",
                hr0.0, d.hr_h, d.hr_w, self.scale, d.channels, d.lr_h, d.lr_w
            )));
        }
        let lr_ok = |l: &Image| {
            (l.channels, l.height, l.width) == (d.channels, d.lr_h, d.lr_w)
                && l.data.len() == d.lr_plane_bytes()
        };
        let hr_ok = |h: &Image| {
            (h.channels, h.height, h.width) == (d.channels, d.hr_h, d.hr_w)
                && h.data.len() == d.channels * d.hr_h * d.hr_w
        };
        if !self.lr.iter().all(lr_ok) || !self.hr.iter().all(hr_ok) {
            return Err(IdcError::InvalidInput(
                "shard patches must all have one LR size and one HR size".into(),
            ));
        }
        for v in [
            d.channels,
            d.lr_h,
            d.lr_w,
            d.hr_h,
            d.hr_w,
            self.scale,
            self.lr.len(),
        ] {
            if u32::try_from(v).is_err() {
                return Err(IdcError::InvalidInput(format!(
                    "shard dimension {v} does not fit the format"
                )));
            }
        }
        Ok(d)
    }
}

/// Serialises a shard to the bytes of its file in the current [`FORMAT_VERSION`].
pub fn encode_shard(shard: &Shard) -> Result<Vec<u8>> {
    encode_shard_as(shard, FORMAT_VERSION)
}

/// Serialises a shard in layout `version` (1: raw planes, HR required; 2: packed planes). Kept
/// public so tests and tools can write the older layout that readers still accept.
pub fn encode_shard_as(shard: &Shard, version: u32) -> Result<Vec<u8>> {
    let d = shard.dims()?;
    let n = shard.len();
    let mut out = Vec::with_capacity(16 + shard.fingerprint.len() + DIMS_LEN + 8 + 4);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&(shard.fingerprint.len() as u32).to_le_bytes());
    out.extend_from_slice(shard.fingerprint.as_bytes());
    for v in [shard.scale, n, d.channels, d.lr_h, d.lr_w, d.hr_h, d.hr_w] {
        out.extend_from_slice(&(v as u32).to_le_bytes());
    }
    let lr: Vec<u8> = shard.lr.iter().flat_map(|im| im.to_u8()).collect();
    let hr: Vec<u8> = shard.hr.iter().flat_map(|im| im.to_u8()).collect();
    match version {
        1 if d.hr_stored => {
            out.extend(lr);
            out.extend(hr);
        }
        2 => {
            let packed = codec::pack(&lr, d.hr_stored.then_some(&hr[..]), &d.geometry(n))
                .map_err(|e| IdcError::InvalidInput(format!("shard payload: {e}")))?;
            let len = u32::try_from(packed.len()).map_err(|_| {
                IdcError::InvalidInput("shard payload does not fit the format".into())
            })?;
            let flags = if d.hr_stored { FLAG_HR_STORED } else { 0 };
            out.extend_from_slice(&flags.to_le_bytes());
            out.extend_from_slice(&len.to_le_bytes());
            out.extend(packed);
        }
        1 => {
            return Err(IdcError::InvalidInput(
                "shard format 1 cannot store LR patches only".into(),
            ));
        }
        v => {
            return Err(IdcError::InvalidInput(format!(
                "no shard format version {v} (this build writes 1 and 2)"
            )));
        }
    }
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    Ok(out)
}

/// Little-endian u32 reader over a byte slice that reports truncation as a cache error.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
    path: &'a Path,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or_else(|| IdcError::cache(self.path, "truncated shard header"))?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u32(&mut self) -> Result<usize> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    }
}

/// Parses shard bytes; `path` only labels errors. Every mismatch is an [`IdcError::Cache`]: the
/// header ([`parse_header`]: magic, version, dimensions against the length), the whole-file
/// checksum, the expected fingerprint, then the pixels (a packed payload must decode to exactly
/// the size its dimensions state).
pub fn decode_shard(
    bytes: &[u8],
    path: &Path,
    expected_fingerprint: Option<&str>,
) -> Result<Shard> {
    let bad = |reason: String| IdcError::cache(path, reason);
    let h = parse_header(bytes, bytes.len() as u64, path)?;
    let (payload, tail) = bytes.split_at(bytes.len() - 4);
    let stored_crc = u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]);
    let crc = crc32fast::hash(payload);
    if crc != stored_crc {
        return Err(bad(format!(
            "checksum mismatch (stored {stored_crc:08x}, computed {crc:08x})"
        )));
    }
    if let Some(expected) = expected_fingerprint
        && expected != h.fingerprint
    {
        return Err(bad(format!(
            "stale shard: fingerprint {} differs from expected {expected}",
            h.fingerprint
        )));
    }
    let d = h.dims();
    let body = &payload[h.body_offset..];
    let pixels;
    let (lr_bytes, hr_bytes) = if h.version == 1 {
        body.split_at(h.count * d.lr_plane_bytes())
    } else {
        pixels = codec::unpack(body, &d.geometry(h.count)).map_err(bad)?;
        pixels.split_at(h.count * d.lr_plane_bytes())
    };
    let to_images = |bytes: &[u8], h: usize, w: usize| -> Result<Vec<Image>> {
        let size = d.channels * h * w;
        if size == 0 {
            return Ok(Vec::new());
        }
        bytes
            .chunks_exact(size)
            .map(|c| Image::from_u8(d.channels, h, w, c))
            .collect()
    };
    Ok(Shard {
        fingerprint: h.fingerprint,
        scale: h.scale,
        lr: to_images(lr_bytes, d.lr_h, d.lr_w)?,
        hr: to_images(hr_bytes, d.hr_h, d.hr_w)?,
    })
}

/// Largest shard file any reader accepts (a shard holds one image's patches: a few MiB).
pub const MAX_SHARD_BYTES: u64 = 1 << 30;
/// Largest header: magic, version, fp_len, fingerprint, dims, version 2's flags and length.
const MAX_HEADER_LEN: usize = 16 + MAX_FINGERPRINT_LEN + DIMS_LEN + 8;

/// Reads and fully validates a shard: magic, format version, dimensions against the file size,
/// whole-file checksum and, when given, the expected fingerprint. Any mismatch (or a missing
/// file) is an [`IdcError::Cache`], so callers can re-condense or report. The header is read and
/// checked against the file length first, so a FIFO, a device or a huge file is refused before
/// anything large is read or allocated.
pub fn read_shard(path: &Path, expected_fingerprint: Option<&str>) -> Result<Shard> {
    let header = read_header(path)?;
    let bytes = crate::fsutil::read_bounded(path, header.file_len)
        .map_err(|e| IdcError::cache(path, format!("cannot read shard: {e}")))?;
    decode_shard(&bytes, path, expected_fingerprint)
}

/// Opens `path` only if it is a regular file of at most [`MAX_SHARD_BYTES`]
/// ([`crate::fsutil::open_bounded`]: a FIFO is never opened, so it cannot block), with its
/// failures as cache errors.
fn open_regular(path: &Path) -> Result<(File, u64)> {
    crate::fsutil::open_bounded(path, MAX_SHARD_BYTES).map_err(|e| match e {
        IdcError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            IdcError::cache(path, "shard missing")
        }
        IdcError::Io { source, .. } => {
            IdcError::cache(path, format!("cannot read shard: {source}"))
        }
        IdcError::InvalidInput(reason) => IdcError::cache(path, reason),
        other => other,
    })
}

/// Writes `shard` to `path` atomically (see [`write_bytes_atomic`]).
pub fn write_shard_atomic(path: &Path, shard: &Shard) -> Result<()> {
    let bytes = encode_shard(shard)?;
    write_bytes_atomic(path, &bytes)
}

pub(crate) use crate::fsutil::{remove_stale_temps, write_atomic as write_bytes_atomic};

/// File-system-safe, unique file stem for an instance name (typically the image path relative to
/// the HR folder): unsafe characters become `_`, the name is shortened to 80 bytes, and 12 hex
/// digits of the SHA-256 of the full name keep distinct names distinct (`a/b.png` vs `a_b.png`).
pub fn instance_key(instance_name: &str) -> String {
    let mut safe: String = instance_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    // No leading dots (hidden files, "..") and bounded length.
    while safe.starts_with('.') {
        safe.replace_range(..1, "_");
    }
    safe.truncate(80);
    let hash = crate::config::hex_sha256(instance_name.as_bytes());
    format!("{safe}-{}", &hash[..12])
}

/// The `.shard` paths directly in `dir`, sorted by name (the order every reader serves them in),
/// whatever kind of file each is: readers refuse special files when they open them. Temp files
/// of interrupted writes (`.tmp-*.shard`) are not shards and are left out.
pub fn list_shards(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir).map_err(|e| IdcError::io(dir, e))?;
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| !crate::fsutil::is_temp_name(&e.file_name().to_string_lossy()))
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == SHARD_EXT))
        .collect();
    files.sort();
    Ok(files)
}

/// `<cache_dir>/<instance_key>.shard`.
pub fn shard_path(cache_dir: &Path, instance_name: &str) -> PathBuf {
    cache_dir.join(format!("{}.{SHARD_EXT}", instance_key(instance_name)))
}

/// `<cache_dir>/.locks/<instance_key>.lock` (the folder is created when a lock is first taken).
pub fn lock_path(cache_dir: &Path, instance_name: &str) -> PathBuf {
    cache_dir
        .join(LOCKS_DIR)
        .join(format!("{}.{LOCK_EXT}", instance_key(instance_name)))
}

/// A shard's header fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardHeader {
    /// Layout version of the file (1: raw planes; 2: packed planes, optionally LR only).
    pub version: u32,
    /// Fingerprint of everything that determined the patches (compared to detect stale shards).
    pub fingerprint: String,
    /// Super-resolution factor (HR side = `scale` x LR side).
    pub scale: usize,
    /// Number of LR/HR pairs in the shard.
    pub count: usize,
    /// Channels per patch (3 for RGB).
    pub channels: usize,
    /// LR patch `(height, width)` in pixels.
    pub lr_size: (usize, usize),
    /// HR patch `(height, width)` in pixels (recorded even when HR is not stored).
    pub hr_size: (usize, usize),
    /// False when the file holds LR patches only (`--store lr-only`).
    pub hr_stored: bool,
    /// Bytes the patches would take as raw 8-bit planes (what format 1 stores).
    pub raw_pixel_bytes: u64,
    /// Length of the file, equal to what the header implies.
    pub file_len: u64,
    /// Offset of the pixel data (raw planes or packed payload) in the file.
    body_offset: usize,
}

impl ShardHeader {
    fn dims(&self) -> Dims {
        Dims {
            channels: self.channels,
            lr_h: self.lr_size.0,
            lr_w: self.lr_size.1,
            hr_h: self.hr_size.0,
            hr_w: self.hr_size.1,
            hr_stored: self.hr_stored,
        }
    }
}

/// Reads only the header of a shard and checks that its dimensions match the file size (no
/// checksum: use [`read_shard`] for full validation). Reads at most the header's bytes.
pub fn read_header(path: &Path) -> Result<ShardHeader> {
    let (f, file_len) = open_regular(path)?;
    let mut head = Vec::with_capacity(MAX_HEADER_LEN);
    f.take(MAX_HEADER_LEN as u64)
        .read_to_end(&mut head)
        .map_err(|e| IdcError::cache(path, format!("cannot read shard: {e}")))?;
    parse_header(&head, file_len, path)
}

/// Parses the header at the start of `head` (which may hold more bytes) and checks it: known
/// version, coherent dimensions, and the sizes it declares against `file_len`, with
/// overflow-free arithmetic (nothing is allocated from a declared size).
pub fn parse_header(head: &[u8], file_len: u64, path: &Path) -> Result<ShardHeader> {
    let bad = |reason: String| IdcError::cache(path, reason);
    let mut cur = Cursor {
        bytes: head,
        pos: 0,
        path,
    };
    if cur.take(MAGIC.len())? != MAGIC {
        return Err(bad("not a shard file (bad magic)".into()));
    }
    let version = cur.u32()? as u32;
    if !(1..=FORMAT_VERSION).contains(&version) {
        return Err(bad(format!(
            "shard format version {version}, this build reads 1 to {FORMAT_VERSION}"
        )));
    }
    let fp_len = cur.u32()?;
    if fp_len > MAX_FINGERPRINT_LEN {
        return Err(bad(format!("fingerprint length {fp_len} out of range")));
    }
    let fingerprint = std::str::from_utf8(cur.take(fp_len)?)
        .map_err(|_| bad("fingerprint is not UTF-8".into()))?
        .to_string();
    let mut v = [0usize; 7];
    for x in &mut v {
        *x = cur.u32()?;
    }
    let [scale, count, channels, lr_h, lr_w, hr_h, hr_w] = v;
    let (hr_stored, stored_body) = if version == 1 {
        (true, None)
    } else {
        let flags = cur.u32()? as u32;
        if flags & !FLAG_HR_STORED != 0 || (count == 0 && flags != FLAG_HR_STORED) {
            return Err(bad(format!("unknown shard flags {flags:#x}")));
        }
        (flags == FLAG_HR_STORED, Some(cur.u32()? as u128))
    };
    let mut h = ShardHeader {
        version,
        fingerprint,
        scale,
        count,
        channels,
        lr_size: (lr_h, lr_w),
        hr_size: (hr_h, hr_w),
        hr_stored,
        raw_pixel_bytes: 0,
        file_len,
        body_offset: cur.pos,
    };
    let raw = check_dims(&h).map_err(bad)?;
    let body = stored_body.unwrap_or(raw);
    let expected = (cur.pos as u128 + 4).saturating_add(body);
    if expected != file_len as u128 {
        return Err(bad(format!(
            "header implies {expected} bytes, file has {file_len}"
        )));
    }
    h.raw_pixel_bytes = raw as u64;
    Ok(h)
}

/// Checks that a header's dimensions are coherent and returns the raw pixel bytes they imply
/// (every stored plane), refusing more than [`MAX_SHARD_BYTES`] (the most any reader decodes).
fn check_dims(h: &ShardHeader) -> std::result::Result<u128, String> {
    let ((lh, lw), (hh, hw)) = (h.lr_size, h.hr_size);
    if h.scale == 0 {
        return Err("scale is 0".into());
    }
    let empty = h.channels == 0 && lh == 0 && lw == 0 && hh == 0 && hw == 0;
    if h.count == 0 && !empty {
        return Err("empty shard with non-zero dimensions".into());
    }
    if h.count > 0
        && (h.channels == 0
            || lh == 0
            || lw == 0
            || Some(hh) != lh.checked_mul(h.scale)
            || Some(hw) != lw.checked_mul(h.scale))
    {
        return Err(format!(
            "inconsistent dimensions: {} channels, LR {lh}x{lw}, HR {hh}x{hw}, scale {}",
            h.channels, h.scale
        ));
    }
    let hr_plane = if h.hr_stored {
        hh as u128 * hw as u128
    } else {
        0
    };
    let raw = (h.channels as u128)
        .saturating_mul(lh as u128 * lw as u128 + hr_plane)
        .saturating_mul(h.count as u128);
    if h.version > 1 && raw > MAX_SHARD_BYTES as u128 {
        return Err(format!(
            "dimensions need {raw} pixel bytes, more than a shard may hold"
        ));
    }
    Ok(raw)
}

#[cfg(test)]
#[path = "shard_tests.rs"]
mod tests;
