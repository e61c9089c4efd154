//! On-disk shard format: one file per instance holding its condensed (or selected) LR/HR patches.
//!
//! Layout (all integers little-endian):
//!
//! ```text
//! magic        8 bytes  b"IDCSHARD"
//! version      u32      FORMAT_VERSION
//! fp_len       u32      length of the fingerprint (<= MAX_FINGERPRINT_LEN)
//! fingerprint  fp_len   UTF-8; hash of everything that determines the patches
//! scale        u32
//! count        u32      number of LR/HR pairs
//! channels     u32
//! lr_h, lr_w   u32 x 2
//! hr_h, hr_w   u32 x 2
//! lr patches   count * channels * lr_h * lr_w bytes (planar CHW, u8)
//! hr patches   count * channels * hr_h * hr_w bytes
//! crc32        u32      CRC-32 of every byte before it
//! ```
//!
//! Why this shape: patches are stored as u8 because training data is 8-bit PNG anyway (a
//! condensed patch is quantised exactly as a saved PNG would be), which makes shards 4x smaller
//! than f32 and loading a shard one `read` plus a checksum. The reader checks every field *and*
//! that the stated dimensions account for the file size exactly before allocating, so a corrupt
//! header can never trigger a huge allocation, and the whole-file CRC catches flipped bytes.
//!
//! Files are written with [`write_shard_atomic`] (temp file in the same directory, fsync, rename,
//! fsync the directory): a reader or a crash sees either the old file, no file, or the complete
//! new one. Concurrent writers coordinate through [`ShardCache`](super::ShardCache) (per-instance
//! [`lock`](super::lock) files); the human-readable [`Manifest`](super::Manifest)
//! (`manifest.json`) lists what the cache holds.

use crate::error::{IdcError, Result};
use crate::image::Image;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

/// First bytes of every shard file.
pub const MAGIC: &[u8; 8] = b"IDCSHARD";
/// Bumped on any layout change; readers reject other versions (the cache then re-condenses).
pub const FORMAT_VERSION: u32 = 1;
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

    /// Checks the invariants the file format relies on (same count of LR and HR patches, one
    /// size each, HR = scale x LR, fingerprint length); returns the shared dimensions.
    fn dims(&self) -> Result<Dims> {
        if self.lr.len() != self.hr.len() {
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
        let (Some(l0), Some(h0)) = (self.lr.first(), self.hr.first()) else {
            return Ok(Dims {
                channels: 0,
                lr_h: 0,
                lr_w: 0,
                hr_h: 0,
                hr_w: 0,
            });
        };
        let d = Dims {
            channels: l0.channels,
            lr_h: l0.height,
            lr_w: l0.width,
            hr_h: h0.height,
            hr_w: h0.width,
        };
        if h0.channels != d.channels
            || d.hr_h != d.lr_h * self.scale
            || d.hr_w != d.lr_w * self.scale
        {
            return Err(IdcError::InvalidInput(format!(
                "shard HR patch {}x{}x{} is not scale {} of LR patch {}x{}x{}",
                h0.channels, d.hr_h, d.hr_w, self.scale, d.channels, d.lr_h, d.lr_w
            )));
        }
        for (l, h) in self.lr.iter().zip(&self.hr) {
            if (l.channels, l.height, l.width) != (d.channels, d.lr_h, d.lr_w)
                || (h.channels, h.height, h.width) != (d.channels, d.hr_h, d.hr_w)
                || l.data.len() != d.channels * d.lr_h * d.lr_w
                || h.data.len() != d.channels * d.hr_h * d.hr_w
            {
                return Err(IdcError::InvalidInput(
                    "shard patches must all have one LR size and one HR size".into(),
                ));
            }
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

/// Serialises a shard to the bytes of its file (see the module docs for the layout).
pub fn encode_shard(shard: &Shard) -> Result<Vec<u8>> {
    let d = shard.dims()?;
    let n = shard.len();
    let body = n * d.channels * (d.lr_h * d.lr_w + d.hr_h * d.hr_w);
    let mut out = Vec::with_capacity(8 + 8 + shard.fingerprint.len() + DIMS_LEN + body + 4);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&(shard.fingerprint.len() as u32).to_le_bytes());
    out.extend_from_slice(shard.fingerprint.as_bytes());
    for v in [shard.scale, n, d.channels, d.lr_h, d.lr_w, d.hr_h, d.hr_w] {
        out.extend_from_slice(&(v as u32).to_le_bytes());
    }
    for im in &shard.lr {
        out.extend(im.to_u8());
    }
    for im in &shard.hr {
        out.extend(im.to_u8());
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

/// Parses shard bytes; `path` only labels errors. Every mismatch is an [`IdcError::Cache`].
pub fn decode_shard(
    bytes: &[u8],
    path: &Path,
    expected_fingerprint: Option<&str>,
) -> Result<Shard> {
    let bad = |reason: String| IdcError::cache(path, reason);
    if bytes.len() < MAGIC.len() + 8 + DIMS_LEN + 4 {
        return Err(bad(format!(
            "file too short for a shard ({} bytes)",
            bytes.len()
        )));
    }
    if &bytes[..MAGIC.len()] != MAGIC {
        return Err(bad("not a shard file (bad magic)".into()));
    }
    let (payload, tail) = bytes.split_at(bytes.len() - 4);
    let stored_crc = u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]);
    let mut cur = Cursor {
        bytes: payload,
        pos: MAGIC.len(),
        path,
    };
    let version = cur.u32()? as u32;
    if version != FORMAT_VERSION {
        return Err(bad(format!(
            "shard format version {version}, this build reads {FORMAT_VERSION}"
        )));
    }
    let fp_len = cur.u32()?;
    if fp_len > MAX_FINGERPRINT_LEN {
        return Err(bad(format!("fingerprint length {fp_len} out of range")));
    }
    let fingerprint = std::str::from_utf8(cur.take(fp_len)?)
        .map_err(|_| bad("fingerprint is not UTF-8".into()))?
        .to_string();
    let scale = cur.u32()?;
    let count = cur.u32()?;
    let d = Dims {
        channels: cur.u32()?,
        lr_h: cur.u32()?,
        lr_w: cur.u32()?,
        hr_h: cur.u32()?,
        hr_w: cur.u32()?,
    };
    // Dimensions must be coherent and account for the rest of the file exactly; checked with
    // overflow-safe arithmetic before any allocation.
    if scale == 0 {
        return Err(bad("scale is 0".into()));
    }
    let empty_dims = d.channels == 0 && d.lr_h == 0 && d.lr_w == 0 && d.hr_h == 0 && d.hr_w == 0;
    if count == 0 && !empty_dims {
        return Err(bad("empty shard with non-zero dimensions".into()));
    }
    if count > 0
        && (d.channels == 0
            || d.lr_h == 0
            || d.lr_w == 0
            || Some(d.hr_h) != d.lr_h.checked_mul(scale)
            || Some(d.hr_w) != d.lr_w.checked_mul(scale))
    {
        return Err(bad(format!(
            "inconsistent dimensions: {} channels, LR {}x{}, HR {}x{}, scale {scale}",
            d.channels, d.lr_h, d.lr_w, d.hr_h, d.hr_w
        )));
    }
    let lr_size = d
        .channels
        .checked_mul(d.lr_h)
        .and_then(|v| v.checked_mul(d.lr_w));
    let hr_size = d
        .channels
        .checked_mul(d.hr_h)
        .and_then(|v| v.checked_mul(d.hr_w));
    let body = lr_size
        .zip(hr_size)
        .and_then(|(l, h)| l.checked_add(h))
        .and_then(|p| p.checked_mul(count));
    let remaining = payload.len() - cur.pos;
    let (Some(lr_size), Some(hr_size), Some(body)) = (lr_size, hr_size, body) else {
        return Err(bad("dimensions overflow".into()));
    };
    if body != remaining {
        return Err(bad(format!(
            "dimensions need {body} patch bytes, file has {remaining}"
        )));
    }
    let crc = crc32fast::hash(payload);
    if crc != stored_crc {
        return Err(bad(format!(
            "checksum mismatch (stored {stored_crc:08x}, computed {crc:08x})"
        )));
    }
    if let Some(expected) = expected_fingerprint
        && expected != fingerprint
    {
        return Err(bad(format!(
            "stale shard: fingerprint {fingerprint} differs from expected {expected}"
        )));
    }
    let data = &payload[cur.pos..];
    let (lr_bytes, hr_bytes) = data.split_at(count * lr_size);
    let to_images = |bytes: &[u8], size: usize, h: usize, w: usize| -> Result<Vec<Image>> {
        if size == 0 {
            return Ok(Vec::new());
        }
        bytes
            .chunks_exact(size)
            .map(|c| Image::from_u8(d.channels, h, w, c))
            .collect()
    };
    Ok(Shard {
        fingerprint,
        scale,
        lr: to_images(lr_bytes, lr_size, d.lr_h, d.lr_w)?,
        hr: to_images(hr_bytes, hr_size, d.hr_h, d.hr_w)?,
    })
}

/// Largest shard file any reader accepts (a shard holds one image's patches: a few MiB).
pub const MAX_SHARD_BYTES: u64 = 1 << 30;
/// Largest header: magic, version, fp_len, fingerprint, dims.
const MAX_HEADER_LEN: usize = 16 + MAX_FINGERPRINT_LEN + DIMS_LEN;

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

pub use crate::fsutil::{remove_stale_temps, write_atomic as write_bytes_atomic};

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
    /// HR patch `(height, width)` in pixels.
    pub hr_size: (usize, usize),
    /// Length of the file, equal to what the header implies.
    pub file_len: u64,
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

/// Parses the header at the start of `head` (which may hold more bytes) and checks the sizes it
/// declares against `file_len` with overflow-free arithmetic.
pub fn parse_header(head: &[u8], file_len: u64, path: &Path) -> Result<ShardHeader> {
    let mut cur = Cursor {
        bytes: head,
        pos: 0,
        path,
    };
    if cur.take(MAGIC.len())? != MAGIC {
        return Err(IdcError::cache(path, "not a shard file (bad magic)"));
    }
    let version = cur.u32()? as u32;
    if version != FORMAT_VERSION {
        return Err(IdcError::cache(
            path,
            format!("shard format version {version}"),
        ));
    }
    let fp_len = cur.u32()?;
    if fp_len > MAX_FINGERPRINT_LEN {
        return Err(IdcError::cache(path, "fingerprint length out of range"));
    }
    let fingerprint = std::str::from_utf8(cur.take(fp_len)?)
        .map_err(|_| IdcError::cache(path, "fingerprint is not UTF-8"))?
        .to_string();
    let mut v = [0usize; 7];
    for x in &mut v {
        *x = cur.u32()?;
    }
    let [scale, count, c, lh, lw, hh, hw] = v.map(|x| x as u128);
    let body = c.saturating_mul(lh * lw + hh * hw).saturating_mul(count);
    let expected = ((16 + fp_len + DIMS_LEN) as u128 + 4).saturating_add(body);
    if expected != file_len as u128 {
        return Err(IdcError::cache(
            path,
            format!("header implies {expected} bytes, file has {file_len}"),
        ));
    }
    Ok(ShardHeader {
        fingerprint,
        scale: scale as usize,
        count: count as usize,
        channels: c as usize,
        lr_size: (lh as usize, lw as usize),
        hr_size: (hh as usize, hw as usize),
        file_len,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::{Manifest, ManifestEntry, verify_cache};
    use std::fs;

    fn patch(c: usize, h: usize, w: usize, seed: u32) -> Image {
        let data = (0..c * h * w)
            .map(|i| ((i as u32 * 31 + seed * 7) % 256) as f32 / 255.0)
            .collect();
        Image::new(c, h, w, data).unwrap()
    }

    fn sample(n: usize) -> Shard {
        Shard {
            fingerprint: "abc123".into(),
            scale: 2,
            lr: (0..n).map(|i| patch(3, 4, 5, i as u32)).collect(),
            hr: (0..n).map(|i| patch(3, 8, 10, 100 + i as u32)).collect(),
        }
    }

    #[test]
    fn round_trip_is_exact_for_u8_values() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.shard");
        let s = sample(3);
        write_shard_atomic(&p, &s).unwrap();
        let back = read_shard(&p, Some("abc123")).unwrap();
        assert_eq!(back, s);
        // No temp file left behind.
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().flatten().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn empty_shard_round_trips() {
        let s = Shard {
            fingerprint: "x".into(),
            scale: 3,
            lr: vec![],
            hr: vec![],
        };
        let b = encode_shard(&s).unwrap();
        assert_eq!(decode_shard(&b, Path::new("x"), None).unwrap(), s);
    }

    #[test]
    fn every_flipped_byte_is_detected() {
        let s = sample(2);
        let bytes = encode_shard(&s).unwrap();
        for i in 0..bytes.len() {
            for mask in [0x01u8, 0x80, 0xff] {
                let mut b = bytes.clone();
                b[i] ^= mask;
                let r = decode_shard(&b, Path::new("x"), Some("abc123"));
                assert!(
                    matches!(r, Err(IdcError::Cache { .. })),
                    "flip at {i} mask {mask:#x} not detected"
                );
            }
        }
    }

    #[test]
    fn truncation_and_wrong_fingerprint_are_cache_errors() {
        let bytes = encode_shard(&sample(2)).unwrap();
        for len in [0, 5, 12, 40, bytes.len() - 1] {
            assert!(matches!(
                decode_shard(&bytes[..len], Path::new("x"), None),
                Err(IdcError::Cache { .. })
            ));
        }
        assert!(matches!(
            decode_shard(&bytes, Path::new("x"), Some("other")),
            Err(IdcError::Cache { .. })
        ));
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            read_shard(&dir.path().join("missing.shard"), None),
            Err(IdcError::Cache { .. })
        ));
    }

    #[test]
    fn huge_declared_dimensions_do_not_allocate() {
        let mut bytes = encode_shard(&sample(1)).unwrap();
        // count field sits after magic, version, fp_len, fp, scale.
        let off = 8 + 4 + 4 + 6 + 4;
        bytes[off..off + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        let r = decode_shard(&bytes, Path::new("x"), None);
        assert!(matches!(r, Err(IdcError::Cache { .. })));
    }

    #[test]
    fn writer_rejects_inconsistent_shards() {
        let mut s = sample(2);
        s.hr.pop();
        assert!(encode_shard(&s).is_err());
        let mut s = sample(2);
        s.scale = 3;
        assert!(encode_shard(&s).is_err());
        let mut s = sample(2);
        s.lr[1] = patch(3, 5, 5, 0);
        assert!(encode_shard(&s).is_err());
    }

    #[test]
    fn instance_keys_are_safe_and_distinct() {
        let a = instance_key("a/b.png");
        let b = instance_key("a_b.png");
        assert_ne!(a, b);
        for k in [
            &a,
            &b,
            &instance_key("../../etc/passwd"),
            &instance_key("x\u{fffd}y z"),
        ] {
            assert!(
                k.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            );
            assert!(!k.starts_with('.'));
        }
        assert_eq!(
            shard_path(Path::new("/c"), "a/b.png"),
            PathBuf::from(format!("/c/{a}.shard"))
        );
    }

    #[test]
    fn manifest_upsert_merges_and_verify_counts() {
        let dir = tempfile::tempdir().unwrap();
        for (i, name) in ["one.png", "two.png"].iter().enumerate() {
            let p = shard_path(dir.path(), name);
            write_shard_atomic(&p, &sample(i + 1)).unwrap();
            let entry = ManifestEntry {
                instance: name.to_string(),
                file: p.file_name().unwrap().to_string_lossy().into(),
                fingerprint: "abc123".into(),
                patches: i + 1,
                bytes: fs::metadata(&p).unwrap().len(),
            };
            Manifest::upsert(dir.path(), &[entry]).unwrap();
        }
        let m = Manifest::read(dir.path()).unwrap();
        assert_eq!(m.instances.len(), 2);
        let r = verify_cache(dir.path()).unwrap();
        assert_eq!((r.instances, r.valid, r.patches), (2, 2, 3));
        assert!(r.invalid.is_empty());
        // Corrupt one shard: verify flags exactly that file.
        let p = shard_path(dir.path(), "two.png");
        let mut b = fs::read(&p).unwrap();
        let mid = b.len() / 2;
        b[mid] ^= 0x10;
        fs::write(&p, b).unwrap();
        let r = verify_cache(dir.path()).unwrap();
        assert_eq!(r.valid, 1);
        assert_eq!(
            r.invalid.iter().map(|i| i.file.clone()).collect::<Vec<_>>(),
            vec![p.file_name().unwrap().to_string_lossy().to_string()]
        );
    }

    #[test]
    fn stale_temps_of_dead_processes_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        // pid 0x7fff_fff0 does not exist; our own temp is kept.
        fs::write(dir.path().join(".tmp-2147483632-0-a.shard"), b"x").unwrap();
        let own = dir
            .path()
            .join(format!(".tmp-{}-0-b.shard", std::process::id()));
        fs::write(&own, b"x").unwrap();
        assert_eq!(remove_stale_temps(dir.path()), 1);
        assert!(own.exists());
    }
}
