//! `manifest.json`: the human-readable index of a shard cache, and its one update protocol
//! (`.locks/manifest.lock`, read, merge, atomic write) shared by every writer.

use super::lock::InstanceLock;
use super::shard::{FORMAT_VERSION, write_bytes_atomic};
use crate::condense::Realism;
use crate::condense::realism::{InstanceRealism, RealismSummary};
use crate::error::{IdcError, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

/// Name of the cache manifest.
pub const MANIFEST_NAME: &str = "manifest.json";
/// Largest `manifest.json` read (about 300 bytes an instance: a million instances fit).
pub const MAX_MANIFEST_BYTES: u64 = 512 << 20;
/// Lock file that serialises manifest updates.
const MANIFEST_LOCK: &str = "manifest.lock";

/// One instance as listed in `manifest.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ManifestEntry {
    /// Instance name (image path relative to the HR folder).
    pub instance: String,
    /// Shard file name inside the cache directory.
    pub file: String,
    /// Fingerprint the shard was written under.
    pub fingerprint: String,
    /// Number of LR/HR pairs.
    pub patches: usize,
    /// Shard file size in bytes.
    pub bytes: u64,
    /// What the shard stands in for, when its writer knew (`IdcDataset` does; selection runs
    /// and older caches leave it out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<SourceBytes>,
    /// The condensed patches against the instance's real ones, when its condenser measured
    /// them (IDC does; fakes, selection runs and older caches leave it out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realism: Option<Realism>,
}

/// What a shard's writer knows beyond the shard, recorded in its manifest entry.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EntryNotes {
    /// What the shard stands in for.
    pub source: Option<SourceBytes>,
    /// Its patches' realism.
    pub realism: Option<Realism>,
}

/// The bytes a shard replaces: its source image file, and the instance's whole patch grid as
/// 8-bit LR and HR planes (what a whole-set loader holds for it). `idc inspect` sums them to
/// state the storage figure.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceBytes {
    /// Size of the source image file.
    pub image: u64,
    /// The instance's `N` real pairs as raw 8-bit LR + HR planes.
    pub whole_patches: u64,
}

/// `manifest.json`: what the cache holds, for people and tools. The shards themselves are the
/// source of truth (each carries its fingerprint and checksum); the manifest is an index that
/// is updated after each shard write, under `manifest.lock` so concurrent writers don't lose
/// each other's entries.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Shard format version of the entries.
    pub format_version: u32,
    /// Entries keyed by instance name (sorted, so the file is stable).
    pub instances: BTreeMap<String, ManifestEntry>,
}

impl Manifest {
    /// Reads `<dir>/manifest.json`; a missing file is an empty manifest, a malformed one is an
    /// [`IdcError::Cache`].
    pub fn read(dir: &Path) -> Result<Manifest> {
        let path = dir.join(MANIFEST_NAME);
        if fs::symlink_metadata(&path).is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound) {
            return Ok(Manifest {
                format_version: FORMAT_VERSION,
                instances: BTreeMap::new(),
            });
        }
        let bytes = crate::fsutil::read_bounded(&path, MAX_MANIFEST_BYTES)
            .map_err(|e| IdcError::cache(&path, format!("unreadable manifest: {e}")))?;
        serde_json::from_slice(&bytes)
            .map_err(|e| IdcError::cache(&path, format!("malformed manifest: {e}")))
    }

    /// The realism measures the entries record, summarised (None when no entry has them).
    pub fn realism_summary(&self) -> Option<RealismSummary> {
        let items = self
            .instances
            .values()
            .filter_map(|e| {
                e.realism.clone().map(|realism| InstanceRealism {
                    instance: e.instance.clone(),
                    realism,
                })
            })
            .collect();
        RealismSummary::of(items)
    }

    /// Writes `<dir>/manifest.json` atomically.
    pub fn write(&self, dir: &Path) -> Result<()> {
        let json = serde_json::to_vec_pretty(self)
            .map_err(|e| IdcError::cache(dir.join(MANIFEST_NAME), e.to_string()))?;
        write_bytes_atomic(&dir.join(MANIFEST_NAME), &json)
    }

    /// Adds or replaces entries under the manifest lock (read, merge, atomic write), so several
    /// processes updating one cache never drop each other's entries. A malformed manifest is
    /// rebuilt from the given entries rather than blocking the cache.
    pub fn upsert(dir: &Path, entries: &[ManifestEntry]) -> Result<()> {
        Self::update(dir, entries, &[])
    }

    /// Removes the instances `removed`, then adds or replaces `entries`, under the manifest lock
    /// (see [`Self::upsert`]).
    pub fn update(dir: &Path, entries: &[ManifestEntry], removed: &[String]) -> Result<()> {
        let _guard =
            InstanceLock::acquire_path(&dir.join(super::shard::LOCKS_DIR).join(MANIFEST_LOCK))?;
        let mut m = Manifest::read(dir).unwrap_or_default();
        m.format_version = FORMAT_VERSION;
        for name in removed {
            m.instances.remove(name);
        }
        for e in entries {
            m.instances.insert(e.instance.clone(), e.clone());
        }
        m.write(dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(realism: Option<Realism>) -> ManifestEntry {
        ManifestEntry {
            instance: "a.png".into(),
            file: "a.shard".into(),
            fingerprint: "f".into(),
            patches: 2,
            bytes: 10,
            source: None,
            realism,
        }
    }

    #[test]
    fn realism_is_optional_and_old_entries_are_unchanged() {
        // An entry without realism serialises exactly as before the field existed.
        let old =
            r#"{"instance":"a.png","file":"a.shard","fingerprint":"f","patches":2,"bytes":10}"#;
        assert_eq!(serde_json::to_string(&entry(None)).unwrap(), old);
        let parsed: ManifestEntry = serde_json::from_str(old).unwrap();
        assert_eq!(parsed, entry(None));
        let with = entry(Some(Realism {
            hf_ratio: 2.5,
            ncfd_fresh: Some(0.1),
            ..Realism::default()
        }));
        let json = serde_json::to_string(&with).unwrap();
        assert!(json.contains(r#""realism":{"out_of_gamut":0.0"#), "{json}");
        assert_eq!(serde_json::from_str::<ManifestEntry>(&json).unwrap(), with);
    }
}
