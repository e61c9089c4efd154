//! The image catalogue: the one place that lists a folder of HR images, reads their headers,
//! hashes their bytes (with [`HashCache`], `sources.json`), names instances and decides which
//! unusable images are skipped ([`SkipPolicy`], [`SkippedImage`]). `SrPatchDataset`,
//! `IdcDataset` and `idc select` all see a folder through it, so they agree on which images
//! exist, what they are called and which are left out.
//!
//! Probing reads the file once (to hash it) and decodes only the header, so `IdcDataset::build`
//! knows every instance's patch count and fingerprint without decoding pixels, and a header that
//! declares an absurd size is rejected before any allocation. Everything that can go wrong with a
//! file is a typed [`IdcError`]; nothing here panics on user input.

use crate::config::{PatchConfig, ValidPatchConfig, hex_sha256};
use crate::error::{IdcError, Result};
use crate::image::Image;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fs;
use std::io::Cursor;
use std::path::{Path, PathBuf};

/// Images above this many pixels are rejected from the header (a 100000 x 100000 PNG would need
/// 30 GB decoded). 64 Mpixel covers DIV2K/Flickr2K (<= 2K x 2K) with a wide margin.
pub const MAX_PIXELS: u64 = crate::image::io::DEFAULT_MAX_PIXELS;

/// A source image that a dataset left out (bad or smaller than one patch), and why.
#[derive(Clone, Debug, PartialEq)]
pub struct SkippedImage {
    /// Path of the left-out file.
    pub path: PathBuf,
    /// Why it was left out.
    pub reason: String,
}

/// Which unusable images a dataset leaves out (recording a [`SkippedImage`]) instead of failing.
/// One default for every dataset, so swapping one dataset for another keeps the same instances.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SkipPolicy {
    /// Files that cannot be read or decoded. Default `false`: a broken data set is an error.
    pub bad_images: bool,
    /// Images smaller than one HR patch. Default `true`: T91 holds 78-pixel images, below the
    /// usual 96-pixel patch.
    pub small_images: bool,
}

impl Default for SkipPolicy {
    fn default() -> Self {
        Self {
            bad_images: false,
            small_images: true,
        }
    }
}

/// One probed source image.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceImage {
    /// Instance name: path relative to the HR folder (lossy UTF-8; a non-UTF-8 name gets a hash
    /// of its raw bytes appended so two such names stay distinct).
    pub name: String,
    /// Path of the image file.
    pub path: PathBuf,
    /// Height in pixels (from the header).
    pub height: usize,
    /// Width in pixels (from the header).
    pub width: usize,
    /// SHA-256 of the file bytes (part of the shard fingerprint: an edited image re-condenses).
    pub content_hash: String,
    /// Real patches `N` of the grid.
    pub n_real: usize,
}

/// Image paths under `dir` (recursive, sorted; [`crate::image::io::list_images`]), the listing of
/// every dataset: directories named `*.png` are searched, not listed;
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

/// Image formats people keep next to their training images that this crate does not decode.
pub const UNSUPPORTED_IMAGE_EXTENSIONS: [&str; 7] =
    ["gif", "webp", "avif", "heic", "heif", "jxl", "jp2"];

/// Files under `dir` (recursive, sorted) whose extension names an image format that is not
/// decoded ([`UNSUPPORTED_IMAGE_EXTENSIONS`]): callers report them instead of leaving them out
/// silently. Unreadable folders are passed over.
pub fn unsupported_images(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            let Ok(t) = e.file_type() else { continue };
            if t.is_dir() {
                stack.push(p);
            } else if p.extension().and_then(|x| x.to_str()).is_some_and(|x| {
                UNSUPPORTED_IMAGE_EXTENSIONS.contains(&x.to_ascii_lowercase().as_str())
            }) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Instance name of `path` relative to `root`, `/`-separated; the one naming function of the
/// crate (see [`SourceImage::name`] for non-UTF-8 names).
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
    probe_image_cached(root, path, patch, None, false)
}

/// [`probe_image`] that takes the content hash from `hashes` when the file's identity (size,
/// inode, mtime, ctime) is unchanged since it was hashed, and records new hashes there. The
/// header is still read and checked every time; only the full read + SHA-256 is skipped.
/// `allow_small`: an image smaller than one patch is returned with `n_real == 0` rather than as
/// an error, for callers that skip such images (as `SrPatchDataset` does by default).
pub fn probe_image_cached(
    root: &Path,
    path: &Path,
    patch: &PatchConfig,
    hashes: Option<&HashCache>,
    allow_small: bool,
) -> Result<SourceImage> {
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
    if meta.len() == 0 {
        return Err(IdcError::Decode {
            path: path.to_path_buf(),
            reason: "empty file".into(),
        });
    }
    let identity = FileIdentity::of(&meta);
    let cached = hashes.and_then(|h| h.lookup(path, &identity));
    let (content_hash, (w, h)) = match cached {
        Some(hash) => {
            let file = fs::File::open(path).map_err(|e| IdcError::io(path, e))?;
            let dims = header_dims(path, std::io::BufReader::new(file))?;
            (hash, dims)
        }
        None => {
            let bytes =
                crate::fsutil::read_bounded(path, crate::image::io::max_file_bytes(MAX_PIXELS))?;
            let dims = header_dims(path, Cursor::new(&bytes[..]))?;
            let hash = hex_sha256(&bytes);
            if let Some(h) = hashes {
                h.record(path, identity, &hash);
            }
            (hash, dims)
        }
    };
    let (h, w) = checked_size(path, (w, h), MAX_PIXELS)?;
    let n_real = patch_count(h, w, patch);
    if n_real == 0 && !allow_small {
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
        content_hash,
        n_real,
    })
}

/// What identifies one version of a file without reading it. Editing a file changes its mtime
/// and, unforgeably, its ctime (`touch -d` can reset mtime, never ctime); a copy elsewhere has
/// another inode. So an entry matching all four fields is the file that was hashed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileIdentity {
    /// File size in bytes.
    pub len: u64,
    /// Inode number.
    pub ino: u64,
    /// Modification time, nanoseconds since the Unix epoch.
    pub mtime_ns: i128,
    /// Status-change time, nanoseconds since the Unix epoch.
    pub ctime_ns: i128,
}

impl FileIdentity {
    fn of(meta: &fs::Metadata) -> FileIdentity {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            FileIdentity {
                len: meta.len(),
                ino: meta.ino(),
                mtime_ns: meta.mtime() as i128 * 1_000_000_000 + meta.mtime_nsec() as i128,
                ctime_ns: meta.ctime() as i128 * 1_000_000_000 + meta.ctime_nsec() as i128,
            }
        }
        #[cfg(not(unix))]
        {
            let ns = |t: std::io::Result<std::time::SystemTime>| {
                t.ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map(|d| d.as_nanos() as i128)
                    .unwrap_or(-1)
            };
            FileIdentity {
                len: meta.len(),
                ino: 0,
                mtime_ns: ns(meta.modified()),
                // No ctime: a negative value never matches, so every build re-hashes.
                ctime_ns: -1,
            }
        }
    }

    fn trustworthy(&self) -> bool {
        self.ctime_ns >= 0 && self.mtime_ns >= 0
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct HashEntry {
    identity: FileIdentity,
    sha256: String,
    /// Ties the hash to its path and identity: an entry edited by hand, merged from another cache
    /// or damaged (a hash that is not the one this crate computed for this file) does not match
    /// and is re-hashed, so shard fingerprints never rest on a hash nobody computed here.
    #[serde(default)]
    seal: String,
}

impl HashEntry {
    fn new(key: &str, identity: FileIdentity, sha256: &str) -> HashEntry {
        let seal = Self::seal_of(key, &identity, sha256);
        HashEntry {
            identity,
            sha256: sha256.to_string(),
            seal,
        }
    }

    fn seal_of(key: &str, identity: &FileIdentity, sha256: &str) -> String {
        let id = serde_json::to_string(identity).unwrap_or_default();
        hex_sha256(format!("burn-idc sources v1|{key}|{id}|{sha256}").as_bytes())[..32].to_string()
    }

    fn is_sealed(&self, key: &str) -> bool {
        self.seal == Self::seal_of(key, &self.identity, &self.sha256)
    }
}

/// Content hashes of source images keyed by path and [`FileIdentity`], kept in
/// `<cache>/sources.json` so a warm `IdcDataset::build` reads image headers, not whole images.
/// Losing or corrupting the file only costs re-hashing; concurrent writers may drop each other's
/// new entries, never store a wrong one (each entry is the hash of the file it names).
pub struct HashCache {
    path: PathBuf,
    entries: std::sync::Mutex<(HashMap<String, HashEntry>, bool)>,
}

impl HashCache {
    /// File name inside a cache directory.
    pub const FILE: &'static str = "sources.json";
    /// Largest `sources.json` read (about 200 bytes an image: a million images fit).
    pub const MAX_BYTES: u64 = 256 << 20;

    /// Opens (or starts) the cache of `cache_dir`; an unreadable file starts empty.
    pub fn open(cache_dir: &Path) -> HashCache {
        let path = cache_dir.join(Self::FILE);
        let entries = crate::fsutil::read_bounded(&path, Self::MAX_BYTES)
            .ok()
            .and_then(|b| serde_json::from_slice::<HashMap<String, HashEntry>>(&b).ok())
            .unwrap_or_default();
        HashCache {
            path,
            entries: std::sync::Mutex::new((entries, false)),
        }
    }

    fn key(path: &Path) -> String {
        path.canonicalize()
            .unwrap_or_else(|_| path.to_path_buf())
            .to_string_lossy()
            .into_owned()
    }

    fn lookup(&self, path: &Path, id: &FileIdentity) -> Option<String> {
        if !id.trustworthy() {
            return None;
        }
        let guard = self.entries.lock().ok()?;
        let key = Self::key(path);
        guard
            .0
            .get(&key)
            .filter(|e| &e.identity == id && e.is_sealed(&key))
            .map(|e| e.sha256.clone())
    }

    fn record(&self, path: &Path, identity: FileIdentity, sha256: &str) {
        if !identity.trustworthy() {
            return;
        }
        if let Ok(mut guard) = self.entries.lock() {
            let key = Self::key(path);
            let entry = HashEntry::new(&key, identity, sha256);
            guard.0.insert(key, entry);
            guard.1 = true;
        }
    }

    /// The source image paths it holds hashes for (sorted): where a cache's images came from,
    /// for tools that show them (the contact sheet of `idc inspect`).
    pub fn paths(&self) -> Vec<PathBuf> {
        let mut paths: Vec<PathBuf> = self
            .entries
            .lock()
            .map(|g| g.0.keys().map(PathBuf::from).collect())
            .unwrap_or_default();
        paths.sort();
        paths
    }

    /// Writes the cache atomically when it gained entries.
    pub fn save(&self) -> Result<()> {
        let Ok(guard) = self.entries.lock() else {
            return Ok(());
        };
        if !guard.1 {
            return Ok(());
        }
        let bytes = serde_json::to_vec(&guard.0)
            .map_err(|e| IdcError::cache(&self.path, format!("encoding: {e}")))?;
        crate::fsutil::write_atomic(&self.path, &bytes)
    }
}

/// `(width, height)` from the image header of `input` (format guessed from the bytes).
fn header_dims<R: std::io::BufRead + std::io::Seek>(path: &Path, input: R) -> Result<(u32, u32)> {
    let decode_err = |reason: String| IdcError::Decode {
        path: path.to_path_buf(),
        reason,
    };
    let reader = image::ImageReader::new(input)
        .with_guessed_format()
        .map_err(|e| decode_err(e.to_string()))?;
    if reader.format().is_none() {
        return Err(decode_err("unknown image format".into()));
    }
    reader
        .into_dimensions()
        .map_err(|e| decode_err(e.to_string()))
}

/// `(height, width)` of an image header's `(width, height)`, rejecting empty images and images
/// above `max_pixels` before anything is decoded.
fn checked_size(path: &Path, (w, h): (u32, u32), max_pixels: u64) -> Result<(usize, usize)> {
    if w == 0 || h == 0 {
        return Err(IdcError::Decode {
            path: path.to_path_buf(),
            reason: format!("header declares {w}x{h} pixels"),
        });
    }
    if (w as u64) * (h as u64) > max_pixels {
        return Err(IdcError::InvalidInput(format!(
            "{}: {w}x{h} pixels exceeds the limit of {max_pixels}",
            path.display()
        )));
    }
    Ok((h as usize, w as usize))
}

/// `(height, width)` from the header of the image file `path` alone (a regular file of bounded
/// size), with the pixel limit checked; pixels are not decoded.
pub fn file_header_size(path: &Path, max_pixels: u64) -> Result<(usize, usize)> {
    let max_bytes = crate::image::io::max_file_bytes(max_pixels);
    let (file, _) = crate::fsutil::open_bounded(path, max_bytes)?;
    let dims = header_dims(path, std::io::BufReader::new(file))?;
    checked_size(path, dims, max_pixels)
}

/// `(height, width)` from the header in a file's `bytes`, with the pixel limit checked; pixels
/// are not decoded.
pub fn header_size(bytes: &[u8], path: &Path, max_pixels: u64) -> Result<(usize, usize)> {
    let dims = header_dims(path, Cursor::new(bytes))?;
    checked_size(path, dims, max_pixels)
}

/// Decodes `src` (RGB; grey, RGBA and 16-bit are converted) and cuts its patch grid with
/// [`crate::image::patch::instance_pairs`], exactly as `SrPatchDataset` does. Returns `(lr, hr)`.
pub fn load_pairs(src: &SourceImage, patch: &ValidPatchConfig) -> Result<(Vec<Image>, Vec<Image>)> {
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

    fn patch() -> PatchConfig {
        PatchConfig {
            scale: 2,
            hr_patch: 8,
            step: 8,
            thresh_size: 0,
            task: None,
        }
    }

    fn png(path: &Path, seed: u8) {
        let data = (0..3 * 16 * 16)
            .map(|i| ((i * 7 + seed as usize * 31) % 256) as f32 / 255.0)
            .collect();
        crate::image::io::save_png(path, &Image::new(3, 16, 16, data).unwrap()).unwrap();
    }

    #[test]
    fn hash_cache_reuses_unchanged_files_and_rehashes_edited_ones() {
        let d = tempfile::tempdir().unwrap();
        let img = d.path().join("a.png");
        png(&img, 1);
        let plain = probe_image(d.path(), &img, &patch()).unwrap();

        let cache = HashCache::open(d.path());
        let first = probe_image_cached(d.path(), &img, &patch(), Some(&cache), false).unwrap();
        assert_eq!(first, plain);
        cache.save().unwrap();
        assert!(d.path().join(HashCache::FILE).exists());

        // A hash edited into the file (not the one computed for this file) is not trusted on
        // file identity: the image is hashed again.
        let text = std::fs::read_to_string(d.path().join(HashCache::FILE)).unwrap();
        let planted = text.replace(&plain.content_hash, &"0".repeat(64));
        std::fs::write(d.path().join(HashCache::FILE), &planted).unwrap();
        let tampered = HashCache::open(d.path());
        let rehashed =
            probe_image_cached(d.path(), &img, &patch(), Some(&tampered), false).unwrap();
        assert_eq!(rehashed.content_hash, plain.content_hash);

        // A reopened cache answers from the file: a planted hash with a valid seal is used (the
        // only way to observe a skipped read).
        let key = HashCache::key(&img);
        let mut entries: HashMap<String, HashEntry> = serde_json::from_str(&text).unwrap();
        let e = entries.get_mut(&key).unwrap();
        *e = HashEntry::new(&key, e.identity.clone(), &"0".repeat(64));
        std::fs::write(
            d.path().join(HashCache::FILE),
            serde_json::to_vec(&entries).unwrap(),
        )
        .unwrap();
        let reopened = HashCache::open(d.path());
        let hit = probe_image_cached(d.path(), &img, &patch(), Some(&reopened), false).unwrap();
        assert_eq!(hit.content_hash, "0".repeat(64));

        // Same length, mtime put back: the ctime still moves, so the edit is noticed.
        let mtime = std::fs::metadata(&img).unwrap().modified().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        png(&img, 2);
        std::fs::File::options()
            .write(true)
            .open(&img)
            .unwrap()
            .set_modified(mtime)
            .unwrap();
        let edited = probe_image_cached(d.path(), &img, &patch(), Some(&reopened), false).unwrap();
        assert_eq!(edited, probe_image(d.path(), &img, &patch()).unwrap());
        assert_ne!(edited.content_hash, plain.content_hash);

        // A corrupt cache file only costs re-hashing.
        std::fs::write(d.path().join(HashCache::FILE), b"{ torn").unwrap();
        let fresh = HashCache::open(d.path());
        let again = probe_image_cached(d.path(), &img, &patch(), Some(&fresh), false).unwrap();
        assert_eq!(again.content_hash, edited.content_hash);
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
