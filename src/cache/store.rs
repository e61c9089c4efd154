//! [`ShardCache`], the one owner of a cache directory, and whole-cache checks
//! ([`verify_cache`], [`inspect_cache`]).

use super::shard;
use super::{EntryNotes, InstanceLock, Manifest, ManifestEntry, Shard, ShardHeader};
use crate::error::{IdcError, Result};
use serde::{Deserialize, Serialize};
use std::fs;
use std::path::{Path, PathBuf};

/// A cache directory and the rules for touching it (see the module docs).
#[derive(Clone, Debug)]
pub struct ShardCache {
    dir: PathBuf,
    write_manifest: bool,
}

/// What [`ShardCache::get_or_create`] may do.
#[derive(Clone, Copy)]
pub struct GetOrCreate<'a> {
    /// Whether an existing valid shard may be served; asked before and again after taking the
    /// lock (a rebuild that another thread finished meanwhile is then reused).
    pub reuse: &'a dyn Fn() -> bool,
    /// `false`: only load; a missing, stale or corrupt shard is the error.
    pub create: bool,
    /// `false`: return `Ok(None)` instead of waiting when another holder has the lock.
    pub wait: bool,
}

/// One instance asked of [`ShardCache::get_or_create_many`].
#[derive(Clone, Copy)]
pub struct Wanted<'a> {
    /// The instance's name (its shard is `<dir>/<key>.shard`).
    pub instance: &'a str,
    /// The fingerprint its shard must carry.
    pub fingerprint: &'a str,
    /// What may be done for it.
    pub opts: GetOrCreate<'a>,
    /// Rejects a shard that decodes but does not fit the caller (e.g. wrong pair count).
    pub check: &'a dyn Fn(&Shard, &Path) -> Result<()>,
}

/// What `ShardCache::claim` found for one instance.
enum Claim {
    /// A valid shard, loaded and checked.
    Valid(Shard),
    /// Another thread or process holds the instance's lock (only without `wait`).
    Busy,
    /// The instance's lock, held for the caller, who creates and stores the shard.
    Mine(InstanceLock),
}

/// A shard served by [`ShardCache::get_or_create`].
#[derive(Clone, Debug, PartialEq)]
pub struct Fetched {
    /// The shard exactly as a later load returns it (8-bit values, even when just created).
    pub shard: Shard,
    /// `true` when this call created and wrote it.
    pub created: bool,
}

impl ShardCache {
    /// The cache at `dir`, for reading (nothing is created or cleaned).
    pub fn at(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            write_manifest: true,
        }
    }

    /// The cache at `dir` for writing: creates the directory and removes temp files that dead
    /// processes left behind.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self> {
        let cache = Self::at(dir);
        fs::create_dir_all(&cache.dir).map_err(|e| IdcError::io(&cache.dir, e))?;
        shard::remove_stale_temps(&cache.dir);
        Ok(cache)
    }

    /// Whether shard writes keep `manifest.json` up to date (default true).
    pub fn with_manifest(mut self, write: bool) -> Self {
        self.write_manifest = write;
        self
    }

    /// The cache directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `<dir>/<instance_key>.shard`.
    pub fn shard_path(&self, instance: &str) -> PathBuf {
        shard::shard_path(&self.dir, instance)
    }

    /// The fingerprint in the header of `instance`'s shard, without reading or checking the
    /// patches (cheap: for progress and skip decisions only; serving always validates fully).
    pub fn peek_fingerprint(&self, instance: &str) -> Option<String> {
        shard::read_header(&self.shard_path(instance))
            .ok()
            .map(|h| h.fingerprint)
    }

    /// Reads and fully validates `instance`'s shard against `fingerprint`.
    pub fn load(&self, instance: &str, fingerprint: &str) -> Result<Shard> {
        shard::read_shard(&self.shard_path(instance), Some(fingerprint))
    }

    /// Serves `instance`'s shard under `fingerprint`, creating it at most once across threads and
    /// processes: [`Self::get_or_create_many`] of one instance. `Ok(None)` only without
    /// `opts.wait`.
    pub fn get_or_create(
        &self,
        instance: &str,
        fingerprint: &str,
        opts: &GetOrCreate,
        check: &dyn Fn(&Shard, &Path) -> Result<()>,
        create: impl FnOnce() -> Result<(Shard, EntryNotes)>,
    ) -> Result<Option<Fetched>> {
        let wanted = Wanted {
            instance,
            fingerprint,
            opts: *opts,
            check,
        };
        self.get_or_create_many(&[wanted], |_| vec![create()])
            .pop()
            .unwrap_or_else(|| Err(IdcError::Internal("no result".into())))
    }

    /// The one condense-or-load entry point. Each of `wanted` is checked, its
    /// `.locks/<instance>.lock` taken and its shard checked again; `create` gets the positions of
    /// those still missing and makes their shards (with their [`EntryNotes`]) together, every
    /// lock held; each is written atomically, recorded in the manifest and its lock dropped. So
    /// an instance is created at most once across threads and processes. One result per
    /// instance, `Ok(None)` when its lock is held elsewhere (only without `opts.wait`).
    pub fn get_or_create_many(
        &self,
        wanted: &[Wanted],
        create: impl FnOnce(&[usize]) -> Vec<Result<(Shard, EntryNotes)>>,
    ) -> Vec<Result<Option<Fetched>>> {
        let mut mine = Vec::new();
        let mut out: Vec<Result<Option<Fetched>>> = (wanted.iter().enumerate())
            .map(|(k, w)| match self.claim(w)? {
                Claim::Valid(shard) => Ok(Some(Fetched {
                    shard,
                    created: false,
                })),
                Claim::Busy => Ok(None),
                Claim::Mine(lock) => {
                    mine.push((k, lock));
                    Ok(None)
                }
            })
            .collect();
        if mine.is_empty() {
            return out;
        }
        let ks: Vec<usize> = mine.iter().map(|(k, _)| *k).collect();
        let mut made = create(&ks).into_iter();
        for (k, lock) in mine {
            let one = made
                .next()
                .unwrap_or_else(|| Err(IdcError::Internal("create returned too few".into())));
            out[k] = one.and_then(|(s, notes)| self.store(&wanted[k], s, notes).map(Some));
            drop(lock);
        }
        out
    }

    /// Check, lock, check again: a valid shard, another holder's lock (`Busy`, only without
    /// `opts.wait`), or the instance's lock taken so the caller creates the shard.
    fn claim(&self, w: &Wanted) -> Result<Claim> {
        let load = || {
            let s = self.load(w.instance, w.fingerprint)?;
            (w.check)(&s, &self.shard_path(w.instance))?;
            Ok::<_, IdcError>(s)
        };
        if (w.opts.reuse)() {
            match load() {
                Ok(s) => return Ok(Claim::Valid(s)),
                Err(e) if !w.opts.create => return Err(e),
                Err(_) => {}
            }
        }
        let lock_path = shard::lock_path(&self.dir, w.instance);
        let lock = if w.opts.wait {
            InstanceLock::acquire_path(&lock_path)?
        } else {
            match InstanceLock::try_acquire_path(&lock_path)? {
                Some(l) => l,
                None => return Ok(Claim::Busy),
            }
        };
        // Someone (thread or process) may have written it while we waited for the lock.
        if (w.opts.reuse)()
            && let Ok(s) = load()
        {
            return Ok(Claim::Valid(s));
        }
        Ok(Claim::Mine(lock))
    }

    /// Writes a shard just created for `w` (its lock held) with its manifest `notes`, and serves
    /// it exactly as a later load returns it (8-bit values).
    fn store(&self, w: &Wanted, made: Shard, notes: EntryNotes) -> Result<Fetched> {
        if made.fingerprint != w.fingerprint {
            return Err(IdcError::Internal(format!(
                "shard for {} made under another fingerprint",
                w.instance
            )));
        }
        let bytes = self.put_with_notes(w.instance, &made, notes)?;
        let path = self.shard_path(w.instance);
        let shard = shard::decode_shard(&bytes, &path, Some(w.fingerprint))?;
        Ok(Fetched {
            shard,
            created: true,
        })
    }

    /// Writes `instance`'s shard atomically (no lock: for single writers such as a selection
    /// run) and, unless turned off, records it in the manifest (a failed manifest update is only
    /// a warning: the shards are the source of truth). Returns the file's bytes.
    pub fn put(&self, instance: &str, shard: &Shard) -> Result<Vec<u8>> {
        self.put_with_notes(instance, shard, EntryNotes::default())
    }

    /// [`Self::put`], recording `notes` (what the shard stands in for, its realism) in the
    /// manifest.
    pub fn put_with_notes(
        &self,
        instance: &str,
        shard: &Shard,
        notes: EntryNotes,
    ) -> Result<Vec<u8>> {
        let bytes = self.write(instance, shard)?;
        let mut entry = self.entry(instance, shard, &bytes);
        entry.source = notes.source;
        entry.realism = notes.realism;
        if self.write_manifest
            && let Err(e) = self.update_manifest(&[entry], &[])
        {
            eprintln!("warning: manifest not updated: {e}");
        }
        Ok(bytes)
    }

    /// Writes `instance`'s shard atomically without touching the manifest; returns its
    /// manifest entry (for callers that update the manifest once for many shards).
    pub fn put_unlisted(&self, instance: &str, shard: &Shard) -> Result<ManifestEntry> {
        let bytes = self.write(instance, shard)?;
        Ok(self.entry(instance, shard, &bytes))
    }

    fn write(&self, instance: &str, shard: &Shard) -> Result<Vec<u8>> {
        let bytes = shard::encode_shard(shard)?;
        let path = self.shard_path(instance);
        // A rename over a directory fails with a bare EISDIR; say what to do instead.
        if fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()) {
            return Err(IdcError::InvalidInput(format!(
                "shard path {} of instance {instance} is a directory; remove it",
                path.display()
            )));
        }
        shard::write_bytes_atomic(&path, &bytes)?;
        Ok(bytes)
    }

    fn entry(&self, instance: &str, shard: &Shard, bytes: &[u8]) -> ManifestEntry {
        ManifestEntry {
            instance: instance.to_string(),
            file: self
                .shard_path(instance)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            fingerprint: shard.fingerprint.clone(),
            patches: shard.len(),
            bytes: bytes.len() as u64,
            source: None,
            realism: None,
        }
    }

    /// Deletes `instance`'s shard if present (the manifest is left to [`Self::update_manifest`]).
    pub fn remove(&self, instance: &str) -> Result<()> {
        let path = self.shard_path(instance);
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(IdcError::io(&path, e)),
        }
    }

    /// Adds or replaces `entries` and drops `removed` in `manifest.json`, under its lock.
    pub fn update_manifest(&self, entries: &[ManifestEntry], removed: &[String]) -> Result<()> {
        Manifest::update(&self.dir, entries, removed)
    }

    /// The manifest (empty when missing; an error when malformed).
    pub fn manifest(&self) -> Result<Manifest> {
        Manifest::read(&self.dir)
    }

    /// Checks every shard: headers against file sizes, or with `full` whole files and checksums.
    pub fn inspect(&self, full: bool) -> Result<CacheReport> {
        inspect_cache(&self.dir, full)
    }
}

/// Result of [`verify_cache`] (the JSON of `idc inspect`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CacheReport {
    /// Number of `.shard` files.
    pub instances: usize,
    /// Shards that pass every check.
    pub valid: usize,
    /// Shards that fail a check, with the reason.
    pub invalid: Vec<InvalidShard>,
    /// LR/HR pairs in the valid shards.
    pub patches: usize,
    /// Total size of all shard files.
    pub bytes: u64,
    /// What the valid shards' pairs take as raw 8-bit planes (format 1's size; LR only for
    /// LR-only shards), so `bytes / raw_pixel_bytes` is the codec's ratio.
    #[serde(default)]
    pub raw_pixel_bytes: u64,
    /// Valid shards that store LR patches only.
    #[serde(default)]
    pub lr_only: usize,
    /// Source image bytes of the valid shards the manifest describes ([`SourceBytes`](super::SourceBytes)).
    #[serde(default)]
    pub source_bytes: u64,
    /// Their instances' whole patch grids as raw 8-bit LR + HR planes.
    #[serde(default)]
    pub whole_patch_bytes: u64,
    /// Valid shards whose manifest entry gives [`SourceBytes`](super::SourceBytes) (the two sums above cover these).
    #[serde(default)]
    pub sourced: usize,
}

/// A shard file that failed a check (an `"invalid"` entry of `idc inspect --json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvalidShard {
    /// File name inside the cache directory.
    pub file: String,
    /// What is wrong, in words.
    pub reason: String,
}

/// Fully reads and checks every `.shard` file in `dir` (magic, version, dimensions, checksum)
/// and, where `manifest.json` lists the file, that the shard's fingerprint is the one listed for
/// it and that the listed instance maps to this file name (so swapped or copied shards are
/// caught). Temp files of interrupted writes are not shards and are ignored.
pub fn verify_cache(dir: &Path) -> Result<CacheReport> {
    inspect_cache(dir, true)
}

/// Like [`verify_cache`]; with `full = false` only each shard's header is read and checked
/// against the file size (fast for large caches; flipped patch bytes go unnoticed).
pub fn inspect_cache(dir: &Path, full: bool) -> Result<CacheReport> {
    let files = shard::list_shards(dir)?;
    // A missing or unreadable manifest only turns the cross-checks off.
    let manifest = Manifest::read(dir).unwrap_or_default();
    let mut report = CacheReport::default();
    for path in files {
        report.instances += 1;
        report.bytes += fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let checked = shard::read_header(&path).and_then(|h| {
            if full {
                shard::read_shard(&path, None)?;
            }
            Ok(h)
        });
        let checked = checked.map_err(|e| match e {
            IdcError::Cache { reason, .. } => reason,
            other => other.to_string(),
        });
        let entry = manifest_entry(&manifest, &name);
        match checked.and_then(|h| {
            check_against_manifest(&manifest, entry, &name, &h.fingerprint).map(|_| h)
        }) {
            Ok(h) => report.add_valid(&h, entry),
            Err(reason) => report.invalid.push(InvalidShard { file: name, reason }),
        }
    }
    Ok(report)
}

impl CacheReport {
    /// Counts a valid shard with header `h` and manifest entry `entry`.
    fn add_valid(&mut self, h: &ShardHeader, entry: Option<&ManifestEntry>) {
        self.valid += 1;
        self.patches += h.count;
        self.raw_pixel_bytes += h.raw_pixel_bytes;
        self.lr_only += usize::from(!h.hr_stored);
        if let Some(src) = entry.and_then(|e| e.source) {
            self.sourced += 1;
            self.source_bytes += src.image;
            self.whole_patch_bytes += src.whole_patches;
        }
    }
}

/// The manifest's entry for shard file `file`, if it lists one.
fn manifest_entry<'a>(manifest: &'a Manifest, file: &str) -> Option<&'a ManifestEntry> {
    manifest.instances.values().find(|e| e.file == file)
}

/// Whether shard file `file` holding fingerprint `fp` is where its manifest `entry` says it should
/// be (`manifest` names the owner of a swapped or copied shard).
fn check_against_manifest(
    manifest: &Manifest,
    entry: Option<&ManifestEntry>,
    file: &str,
    fp: &str,
) -> std::result::Result<(), String> {
    let Some(entry) = entry else {
        return Ok(());
    };
    let expected_file = format!(
        "{}.{}",
        shard::instance_key(&entry.instance),
        shard::SHARD_EXT
    );
    if expected_file != file {
        return Err(format!(
            "manifest lists instance {:?} under {file}, whose shard file is {expected_file}",
            entry.instance
        ));
    }
    if entry.fingerprint != fp {
        let owner = manifest
            .instances
            .values()
            .find(|e| e.fingerprint == fp)
            .map(|e| {
                format!(
                    " (it is the shard of instance {:?}: swapped or copied)",
                    e.instance
                )
            })
            .unwrap_or_default();
        return Err(format!(
            "fingerprint {fp} differs from the manifest's {} for instance {:?}{owner}",
            entry.fingerprint, entry.instance
        ));
    }
    Ok(())
}
