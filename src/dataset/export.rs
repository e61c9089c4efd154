//! Export of a shard cache (`idc condense`, `idc select`) as paired PNG folders that other tools
//! train on: [`export_cache`], behind `idc export`. Reading the result back with
//! [`super::paired_folder::PairedFolderDataset`] gives the shards' pairs bit for bit (shards hold
//! 8-bit values and PNG is lossless).
//!
//! Layouts ([`ExportFormat`]):
//! - `basicsr`: `HR/<name>.png`, `LR_bicubic/X{s}/<name>.png` (same name in both, so BasicSR's
//!   `PairedImageDataset` pairs them with its default `filename_tmpl: '{}'`) and `meta_info.txt`
//!   with one `<name> (h,w,c)` line per pair, the format of BasicSR's own meta-info files (its
//!   reader keeps the text before the first space);
//! - `folder`: `hr/<name>.png`, `lr/<name>.png`.
//!
//! `<name>` is `<instance key>_<patch index>`: the shard's file stem (the instance name made
//! file-safe, plus a hash) and the index zero-padded to at least 4 digits (wider when a shard has
//! more pairs, so names sort in index order). Pairs are written in shard-file order, then patch
//! index, which is [`super::selection::SelectionDataset`]'s item order; the output is a function
//! of the cache alone.
//!
//! Safety: every shard is read through [`read_shard`] (header, size and whole-file checksum), so
//! a damaged cache is an error naming the shard. Everything is written into a temp folder next to
//! `out`, fsynced and renamed to `out` at the end: a failed or killed export never leaves a partial
//! set under `out` (at worst a `.<out>.export-tmp-<pid>` folder). A non-empty `out` is replaced
//! only with `force`, and only when it holds nothing but an export's entries, so a mistyped
//! `--out` cannot delete unrelated files.

use super::paired_folder::{
    BASICSR_HR_DIR, FOLDER_HR_DIR, FOLDER_LR_DIR, META_INFO_FILE, basicsr_lr_dir,
};
use super::selection::shard_files;
use crate::cache::shard::read_shard;
use crate::cache::{HrRegenerator, complete_shard};
use crate::error::{IdcError, Result};
use crate::image::Image;
use crate::image::io::encode_png;
use serde::Serialize;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Folder layout of an export (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    /// `HR/`, `LR_bicubic/X{s}/`, `meta_info.txt` (BasicSR's `PairedImageDataset`).
    BasicSr,
    /// `hr/`, `lr/`.
    Folder,
}

impl ExportFormat {
    /// The name `idc export --format` takes.
    pub fn name(self) -> &'static str {
        match self {
            ExportFormat::BasicSr => "basicsr",
            ExportFormat::Folder => "folder",
        }
    }

    /// `(hr, lr)` folders relative to the export root for `scale`.
    pub fn dirs(self, scale: usize) -> (PathBuf, PathBuf) {
        match self {
            ExportFormat::BasicSr => (PathBuf::from(BASICSR_HR_DIR), basicsr_lr_dir(scale)),
            ExportFormat::Folder => (PathBuf::from(FOLDER_HR_DIR), PathBuf::from(FOLDER_LR_DIR)),
        }
    }
}

impl std::str::FromStr for ExportFormat {
    type Err = IdcError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "basicsr" => Ok(ExportFormat::BasicSr),
            "folder" => Ok(ExportFormat::Folder),
            _ => Err(IdcError::config(
                "format",
                format!("{s:?} is not an export format (basicsr | folder)"),
            )),
        }
    }
}

/// What [`export_cache`] wrote (the `--json` summary of `idc export`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ExportReport {
    /// The layout written.
    pub format: ExportFormat,
    /// LR/HR pairs written (two PNGs each).
    pub pairs: usize,
    /// Shards read (instances).
    pub instances: usize,
    /// Up-sampling factor of every pair.
    pub scale: usize,
    /// Bytes of every file written (PNGs and `meta_info.txt`).
    pub bytes: u64,
    /// The export root.
    pub out: PathBuf,
    /// HR folder (under `out`).
    pub hr_dir: PathBuf,
    /// LR folder (under `out`).
    pub lr_dir: PathBuf,
    /// `meta_info.txt` (BasicSR layout only).
    pub meta_info: Option<PathBuf>,
}

/// Entries an export writes at its root; `force` replaces a folder holding only these.
const EXPORT_ENTRIES: [&str; 5] = [
    BASICSR_HR_DIR,
    "LR_bicubic",
    FOLDER_HR_DIR,
    FOLDER_LR_DIR,
    META_INFO_FILE,
];

/// Writes every pair of the shard cache `cache_dir` under `out` in `format` (see the module
/// docs). `force`: replace a non-empty `out` that holds a previous export.
///
/// Errors: [`IdcError::InvalidInput`] when `out` is a file, or is not empty without `force`, or
/// holds something other than an export; [`IdcError::Cache`] for a cache without shards, a
/// damaged shard or shards of different scales; [`IdcError::Io`] for file-system failures. `out`
/// is untouched on any error.
pub fn export_cache(
    cache_dir: &Path,
    out: &Path,
    format: ExportFormat,
    force: bool,
) -> Result<ExportReport> {
    export_cache_with(cache_dir, out, format, force, None)
}

/// [`export_cache`] of a cache that may hold LR-only shards (`--store lr-only`): `regen`, the
/// teacher the cache records, remakes their HR patches. Without it such a shard is an error,
/// never an export with pairs missing.
pub fn export_cache_with(
    cache_dir: &Path,
    out: &Path,
    format: ExportFormat,
    force: bool,
    regen: Option<&dyn HrRegenerator>,
) -> Result<ExportReport> {
    let existing = check_out(out, force)?;
    let files = shard_files(cache_dir)?;
    let tmp = temp_sibling(out, "export-tmp")?;
    let _ = fs::remove_dir_all(&tmp);
    fs::create_dir_all(&tmp).map_err(|e| IdcError::io(&tmp, e))?;
    let written = write_export(&files, &tmp, format, regen).and_then(|w| {
        crate::fsutil::sync_dir(&tmp)?;
        install(&tmp, out, existing)?;
        Ok(w)
    });
    let _ = fs::remove_dir_all(&tmp);
    let w = written?;
    let (hr, lr) = format.dirs(w.scale);
    Ok(ExportReport {
        format,
        pairs: w.pairs,
        instances: files.len(),
        scale: w.scale,
        bytes: w.bytes,
        out: out.to_path_buf(),
        hr_dir: out.join(hr),
        lr_dir: out.join(lr),
        meta_info: (format == ExportFormat::BasicSr).then(|| out.join(META_INFO_FILE)),
    })
}

/// What is at `out` before the export.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Existing {
    /// Nothing.
    None,
    /// An empty folder.
    Empty,
    /// A previous export, to replace (`force`).
    Export,
}

/// Refuses a file at `out`, a non-empty `out` without `force`, and (with `force`) a folder that
/// holds anything an export does not write.
fn check_out(out: &Path, force: bool) -> Result<Existing> {
    let meta = match fs::metadata(out) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Existing::None),
        r => r.map_err(|e| IdcError::io(out, e))?,
    };
    if !meta.is_dir() {
        return Err(IdcError::InvalidInput(format!(
            "export target {} exists and is not a folder",
            out.display()
        )));
    }
    let mut names = Vec::new();
    for entry in fs::read_dir(out).map_err(|e| IdcError::io(out, e))? {
        let entry = entry.map_err(|e| IdcError::io(out, e))?;
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    if names.is_empty() {
        return Ok(Existing::Empty);
    }
    if !force {
        return Err(IdcError::InvalidInput(format!(
            "export target {} is not empty ({} entries); pass --force to replace a previous export",
            out.display(),
            names.len()
        )));
    }
    if let Some(other) = names.iter().find(|n| !EXPORT_ENTRIES.contains(&n.as_str())) {
        return Err(IdcError::InvalidInput(format!(
            "--force replaces only a previous export, but {} also holds {other:?}; remove it yourself",
            out.display()
        )));
    }
    Ok(Existing::Export)
}

/// `<parent of out>/.<out name>.<tag>-<pid>`: same file system as `out`, so renames are atomic.
fn temp_sibling(out: &Path, tag: &str) -> Result<PathBuf> {
    let name = out.file_name().ok_or_else(|| {
        IdcError::InvalidInput(format!(
            "export target {} has no folder name",
            out.display()
        ))
    })?;
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&parent).map_err(|e| IdcError::io(&parent, e))?;
    let name = format!(".{}.{tag}-{}", name.to_string_lossy(), std::process::id());
    Ok(parent.join(name))
}

/// Moves the finished `tmp` to `out`; a previous export there is moved aside first and removed
/// after (put back if the move fails).
fn install(tmp: &Path, out: &Path, existing: Existing) -> Result<()> {
    let parent = tmp.parent().unwrap_or(Path::new("."));
    match existing {
        Existing::None => {}
        Existing::Empty => fs::remove_dir(out).map_err(|e| IdcError::io(out, e))?,
        Existing::Export => {
            let old = temp_sibling(out, "export-old")?;
            fs::rename(out, &old).map_err(|e| IdcError::io(out, e))?;
            if let Err(e) = fs::rename(tmp, out) {
                let _ = fs::rename(&old, out);
                return Err(IdcError::io(out, e));
            }
            let _ = fs::remove_dir_all(&old);
            return crate::fsutil::sync_dir(parent);
        }
    }
    fs::rename(tmp, out).map_err(|e| IdcError::io(out, e))?;
    crate::fsutil::sync_dir(parent)
}

/// Counts of a finished export.
struct Written {
    pairs: usize,
    scale: usize,
    bytes: u64,
}

/// Reads every shard (checked) and writes its pairs under `root`; the folders are made once the
/// first shard gives the scale.
fn write_export(
    files: &[PathBuf],
    root: &Path,
    format: ExportFormat,
    regen: Option<&dyn HrRegenerator>,
) -> Result<Written> {
    let mut w = Written {
        pairs: 0,
        scale: 0,
        bytes: 0,
    };
    let mut meta = String::new();
    let mut dirs: Option<(PathBuf, PathBuf)> = None;
    for file in files {
        let shard = complete_shard(read_shard(file, None)?, regen)
            .map_err(|e| IdcError::cache(file, e.to_string()))?;
        let (hr_dir, lr_dir) = match &dirs {
            Some(d) if shard.scale == w.scale => d.clone(),
            Some(_) => {
                return Err(IdcError::cache(
                    file,
                    format!(
                        "scale {} differs from the cache's scale {}",
                        shard.scale, w.scale
                    ),
                ));
            }
            None => {
                w.scale = shard.scale;
                let (hr, lr) = format.dirs(shard.scale);
                let d = (root.join(hr), root.join(lr));
                for dir in [&d.0, &d.1] {
                    fs::create_dir_all(dir).map_err(|e| IdcError::io(dir, e))?;
                }
                dirs = Some(d.clone());
                d
            }
        };
        let stem = file.file_stem().unwrap_or_default().to_string_lossy();
        let width = (shard.len().saturating_sub(1)).to_string().len().max(4);
        for (k, (lr, hr)) in shard.lr.iter().zip(&shard.hr).enumerate() {
            let name = format!("{stem}_{k:0width$}.png");
            w.bytes += write_png(&hr_dir.join(&name), hr)?;
            w.bytes += write_png(&lr_dir.join(&name), lr)?;
            meta.push_str(&format!(
                "{name} ({},{},{})\n",
                hr.height, hr.width, hr.channels
            ));
            w.pairs += 1;
        }
    }
    if let Some((hr_dir, lr_dir)) = &dirs {
        crate::fsutil::sync_dir(hr_dir)?;
        crate::fsutil::sync_dir(lr_dir)?;
    }
    if format == ExportFormat::BasicSr {
        w.bytes += write_new(&root.join(META_INFO_FILE), meta.as_bytes())?;
    }
    Ok(w)
}

/// Encodes `img` as an 8-bit PNG into the new file `path`; returns its size.
fn write_png(path: &Path, img: &Image) -> Result<u64> {
    write_new(path, &encode_png(img)?)
}

/// Creates `path` (never overwrites), writes `bytes` and fsyncs it; the folder is renamed into
/// place only after every file is durable.
fn write_new(path: &Path, bytes: &[u8]) -> Result<u64> {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| IdcError::io(path, e))?;
    f.write_all(bytes).map_err(|e| IdcError::io(path, e))?;
    f.sync_all().map_err(|e| IdcError::io(path, e))?;
    Ok(bytes.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::shard::{Shard, shard_path, write_shard_atomic};
    use crate::dataset::paired_folder::PairedFolderDataset;
    use burn::data::dataset::Dataset;

    fn img(h: usize, w: usize, seed: usize) -> Image {
        let data: Vec<u8> = (0..3 * h * w)
            .map(|i| ((i * 5 + seed * 17) % 256) as u8)
            .collect();
        Image::from_u8(3, h, w, &data).unwrap()
    }

    fn write_shard(dir: &Path, name: &str, n: usize, scale: usize) {
        let shard = Shard {
            fingerprint: format!("fp-{name}"),
            scale,
            lr: (0..n).map(|i| img(4, 4, i)).collect(),
            hr: (0..n).map(|i| img(4 * scale, 4 * scale, 50 + i)).collect(),
        };
        write_shard_atomic(&shard_path(dir, name), &shard).unwrap();
    }

    #[test]
    fn both_formats_read_back_and_meta_info_lists_the_hr_names() {
        let d = tempfile::tempdir().unwrap();
        let cache = d.path().join("cache");
        fs::create_dir(&cache).unwrap();
        write_shard(&cache, "b.png", 2, 2);
        write_shard(&cache, "a.png", 3, 2);
        for format in [ExportFormat::BasicSr, ExportFormat::Folder] {
            let out = d.path().join(format.name());
            let r = export_cache(&cache, &out, format, false).unwrap();
            assert_eq!((r.pairs, r.instances, r.scale), (5, 2, 2));
            let ds = match format {
                ExportFormat::BasicSr => PairedFolderDataset::basicsr(&out, 2).unwrap(),
                ExportFormat::Folder => PairedFolderDataset::folder(&out, 2).unwrap(),
            };
            assert_eq!(ds.len(), 5);
            // a.png's shard first, its pair 1 second
            let a = crate::cache::shard::instance_key("a.png");
            assert_eq!(ds.stem(1), Some(format!("{a}_0001").as_str()));
            assert_eq!(ds.try_get(1).unwrap().hr, img(8, 8, 51));
            assert_eq!(ds.try_get(4).unwrap().lr, img(4, 4, 1));
            let on_disk: u64 = walk_bytes(&out);
            assert_eq!(r.bytes, on_disk);
        }
        let meta = fs::read_to_string(d.path().join("basicsr").join(META_INFO_FILE)).unwrap();
        let lines: Vec<&str> = meta.lines().collect();
        assert_eq!(lines.len(), 5);
        let a = crate::cache::shard::instance_key("a.png");
        assert_eq!(lines[0], format!("{a}_0000.png (8,8,3)"));
        for l in &lines {
            let name = l.split(' ').next().unwrap();
            assert!(d.path().join("basicsr/HR").join(name).is_file(), "{l}");
            assert!(
                d.path().join("basicsr/LR_bicubic/X2").join(name).is_file(),
                "{l}"
            );
        }
        assert!(!d.path().join("folder").join(META_INFO_FILE).exists());
    }

    fn walk_bytes(dir: &Path) -> u64 {
        fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| match e.path() {
                p if p.is_dir() => walk_bytes(&p),
                p => fs::metadata(p).unwrap().len(),
            })
            .sum()
    }

    #[test]
    fn refuses_non_empty_targets_and_damaged_caches_without_touching_out() {
        let d = tempfile::tempdir().unwrap();
        let cache = d.path().join("cache");
        fs::create_dir(&cache).unwrap();
        let out = d.path().join("out");
        let e = export_cache(&cache, &out, ExportFormat::Folder, false).unwrap_err();
        assert!(matches!(e, IdcError::Cache { .. }), "{e}");
        assert!(!out.exists());
        write_shard(&cache, "a.png", 2, 2);
        // an empty folder is fine; then it is a previous export
        fs::create_dir(&out).unwrap();
        export_cache(&cache, &out, ExportFormat::Folder, false).unwrap();
        let e = export_cache(&cache, &out, ExportFormat::BasicSr, false).unwrap_err();
        assert!(e.to_string().contains("--force"), "{e}");
        let r = export_cache(&cache, &out, ExportFormat::BasicSr, true).unwrap();
        assert_eq!(r.pairs, 2);
        assert!(!out.join("hr").exists() && out.join("HR").is_dir());
        // force never deletes what an export does not write
        fs::write(out.join("notes.txt"), "mine").unwrap();
        let e = export_cache(&cache, &out, ExportFormat::BasicSr, true).unwrap_err();
        assert!(e.to_string().contains("notes.txt"), "{e}");
        fs::remove_file(out.join("notes.txt")).unwrap();
        // a flipped byte in a shard: a cache error, the previous export stays whole
        write_shard(&cache, "b.png", 1, 2);
        let p = shard_path(&cache, "b.png");
        let mut bytes = fs::read(&p).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x01;
        fs::write(&p, bytes).unwrap();
        let e = export_cache(&cache, &out, ExportFormat::BasicSr, true).unwrap_err();
        assert!(
            matches!(&e, IdcError::Cache { path, .. } if *path == p),
            "{e}"
        );
        assert_eq!(PairedFolderDataset::basicsr(&out, 2).unwrap().len(), 2);
        let leftovers: Vec<_> = fs::read_dir(d.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(leftovers.len(), 2, "temp folders left: {leftovers:?}");
        // mixed scales and a file as target
        write_shard(&cache, "b.png", 1, 3);
        let e =
            export_cache(&cache, &d.path().join("o2"), ExportFormat::Folder, false).unwrap_err();
        assert!(e.to_string().contains("scale 3 differs"), "{e}");
        let e = export_cache(&cache, &p, ExportFormat::Folder, true).unwrap_err();
        assert!(e.to_string().contains("not a folder"), "{e}");
        assert!("zip".parse::<ExportFormat>().is_err());
        assert_eq!(
            "basicsr".parse::<ExportFormat>().unwrap(),
            ExportFormat::BasicSr
        );
    }
}
