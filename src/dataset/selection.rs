//! [`SelectionDataset`]: a `Dataset<SrPair>` over a shard cache written by a selection baseline
//! (`idc select`, [`crate::select::pipeline::select_to_cache`]), and the [`PatchPool`] view of
//! `SrPatchDataset` that selection draws from (here because `select` sits below `dataset`).
//!
//! It reads any cache of the shard format, so it also serves a fully condensed IDC cache
//! read-only. Opening validates every shard once (checksum, dimensions) and records its pair
//! count, so `len()` is exact and a corrupt cache fails at open, not mid-epoch. Items are then
//! served from a small bounded cache of decoded shards (shards hold one image's pairs, and
//! loaders that shuffle hit many shards, so only a few are kept).

use super::sr_patch::SrPatchDataset;
use crate::cache::shard::{Shard, list_shards, read_shard};
use crate::cache::{HrRegenerator, complete_shard};
use crate::error::{IdcError, Result};
use crate::image::SrPair;
use crate::select::pipeline::PatchPool;
use burn::data::dataset::Dataset;
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Decoded shards kept in memory by default.
pub const DEFAULT_SHARDS_IN_MEMORY: usize = 8;

/// Read-only `Dataset<SrPair>` over the `.shard` files of a cache directory (file-name order).
pub struct SelectionDataset {
    files: Vec<PathBuf>,
    fingerprints: Vec<String>,
    /// `offsets[s]` = index of shard `s`'s first pair; last entry = `len()`.
    offsets: Vec<usize>,
    scale: usize,
    capacity: usize,
    cache: Mutex<VecDeque<(usize, Arc<Shard>)>>,
    /// Remakes the HR targets of LR-only shards (`idc condense --store lr-only`).
    regen: Option<Arc<dyn HrRegenerator>>,
}

impl SelectionDataset {
    /// Opens `cache_dir` (see the module docs). Errors if the folder cannot be read, holds no
    /// shard, a shard fails validation, or shards disagree on the scale.
    pub fn open(cache_dir: &Path) -> Result<Self> {
        Self::open_with_capacity(cache_dir, DEFAULT_SHARDS_IN_MEMORY)
    }

    /// [`SelectionDataset::open`] keeping at most `capacity` (>= 1) decoded shards in memory.
    pub fn open_with_capacity(cache_dir: &Path, capacity: usize) -> Result<Self> {
        Self::open_inner(cache_dir, capacity, None)
    }

    /// [`SelectionDataset::open`] for a cache that may hold LR-only shards: `regen` (the
    /// teacher the cache was condensed with) remakes their HR targets on load.
    pub fn open_with_regenerator(cache_dir: &Path, regen: Arc<dyn HrRegenerator>) -> Result<Self> {
        Self::open_inner(cache_dir, DEFAULT_SHARDS_IN_MEMORY, Some(regen))
    }

    fn open_inner(
        cache_dir: &Path,
        capacity: usize,
        regen: Option<Arc<dyn HrRegenerator>>,
    ) -> Result<Self> {
        let files = shard_files(cache_dir)?;
        let mut offsets = vec![0];
        let mut fingerprints = Vec::with_capacity(files.len());
        let mut scale = None;
        for f in &files {
            let s = read_shard(f, None)?;
            if !s.has_hr() && regen.is_none() {
                return Err(IdcError::cache(
                    f,
                    "the shard stores LR patches only (--store lr-only): open the cache with \
                     its teacher (SelectionDataset::open_with_regenerator; idc train reads it \
                     from the cache's teacher.json)",
                ));
            }
            match scale {
                None => scale = Some(s.scale),
                Some(sc) if sc != s.scale => {
                    return Err(IdcError::cache(
                        f,
                        format!("scale {} differs from the cache's scale {sc}", s.scale),
                    ));
                }
                Some(_) => {}
            }
            fingerprints.push(s.fingerprint);
            let last = offsets.last().copied().unwrap_or(0);
            offsets.push(last + s.lr.len());
        }
        Ok(Self {
            files,
            fingerprints,
            offsets,
            scale: scale.unwrap_or(0),
            capacity: capacity.max(1),
            cache: Mutex::new(VecDeque::new()),
            regen,
        })
    }

    /// Up-sampling factor of every pair.
    pub fn scale(&self) -> usize {
        self.scale
    }

    /// Shard files in item order.
    pub fn shard_files(&self) -> &[PathBuf] {
        &self.files
    }

    /// Number of shards (instances with pairs).
    pub fn shard_count(&self) -> usize {
        self.files.len()
    }

    /// Pair count of each shard, in [`SelectionDataset::shard_files`] order.
    pub fn shard_lengths(&self) -> Vec<usize> {
        self.offsets.windows(2).map(|w| w[1] - w[0]).collect()
    }

    /// Fingerprint of each shard, in [`SelectionDataset::shard_files`] order.
    pub fn fingerprints(&self) -> &[String] {
        &self.fingerprints
    }

    /// Decoded shard `s`, from the in-memory cache or disk. The file is re-validated on load and
    /// must still carry the fingerprint seen at open (a replaced cache is an error, not a mix).
    fn shard(&self, s: usize) -> Result<Arc<Shard>> {
        if let Ok(cache) = self.cache.lock()
            && let Some((_, sh)) = cache.iter().find(|(i, _)| *i == s)
        {
            return Ok(sh.clone());
        }
        let sh = read_shard(&self.files[s], Some(&self.fingerprints[s]))?;
        let sh = Arc::new(complete_shard(sh, self.regen.as_deref())?);
        let expect = self.offsets[s + 1] - self.offsets[s];
        if sh.len() != expect {
            return Err(IdcError::cache(
                &self.files[s],
                format!("shard now holds {} pairs, {expect} at open", sh.len()),
            ));
        }
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= self.capacity {
                cache.pop_front();
            }
            cache.push_back((s, sh.clone()));
        }
        Ok(sh)
    }

    /// Item `index` with a typed error (the `Dataset::get` form returns `None` on any error).
    pub fn try_get(&self, index: usize) -> Result<SrPair> {
        if index >= self.len() {
            return Err(IdcError::InvalidInput(format!(
                "index {index} out of range for {} pairs",
                self.len()
            )));
        }
        // last shard whose first index is <= index
        let s = self.offsets.partition_point(|&o| o <= index) - 1;
        let sh = self.shard(s)?;
        let k = index - self.offsets[s];
        Ok(SrPair {
            lr: sh.lr[k].clone(),
            hr: sh.hr[k].clone(),
        })
    }
}

/// The `.shard` files of `cache_dir` in file-name order (the item order of
/// [`SelectionDataset`] and the export order of [`super::export`]); no shard is an error.
pub fn shard_files(cache_dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = list_shards(cache_dir)?;
    files.retain(|p| p.is_file());
    if files.is_empty() {
        return Err(IdcError::cache(cache_dir, "no shard in the cache"));
    }
    Ok(files)
}

impl Dataset<SrPair> for SelectionDataset {
    fn get(&self, index: usize) -> Option<SrPair> {
        match self.try_get(index) {
            Ok(p) => Some(p),
            Err(e) => {
                if index < self.len() {
                    eprintln!("warning: SelectionDataset item {index}: {e}");
                }
                None
            }
        }
    }

    fn len(&self) -> usize {
        self.offsets.last().copied().unwrap_or(0)
    }
}

/// The whole-set dataset is the pool `idc select` draws from.
impl PatchPool for SrPatchDataset {
    fn instance_count(&self) -> usize {
        self.instances().len()
    }
    fn instance_name(&self, j: usize) -> String {
        self.instances()[j].name.clone()
    }
    fn instance_len(&self, j: usize) -> usize {
        self.instances()[j].num_patches
    }
    fn instance_pairs(&self, j: usize) -> Result<Vec<SrPair>> {
        SrPatchDataset::instance_pairs(self, j)
    }
    fn instance_pairs_at(&self, j: usize, ks: &[usize]) -> Result<Vec<SrPair>> {
        ks.iter().map(|&k| self.pair(j, k)).collect()
    }
    fn instance_source_hash(&self, j: usize) -> Result<String> {
        Ok(self.instances()[j].source_hash.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::shard::{shard_path, write_shard_atomic};
    use crate::image::Image;
    use std::fs;

    fn img(c: usize, h: usize, w: usize, seed: usize) -> Image {
        let data = (0..c * h * w)
            .map(|i| ((i * 7 + seed * 13) % 256) as u8)
            .collect::<Vec<_>>();
        Image::from_u8(c, h, w, &data).unwrap()
    }

    fn write(dir: &Path, name: &str, n: usize, scale: usize, seed: usize) {
        let shard = Shard {
            fingerprint: format!("fp-{name}"),
            scale,
            lr: (0..n).map(|i| img(3, 4, 4, seed + i)).collect(),
            hr: (0..n)
                .map(|i| img(3, 4 * scale, 4 * scale, seed + i))
                .collect(),
        };
        write_shard_atomic(&shard_path(dir, name), &shard).unwrap();
    }

    #[test]
    fn serves_every_pair_in_shard_order() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "a.png", 3, 2, 0);
        write(dir.path(), "b.png", 1, 2, 100);
        write(dir.path(), "c.png", 2, 2, 200);
        let ds = SelectionDataset::open_with_capacity(dir.path(), 1).unwrap();
        assert_eq!(ds.len(), 6);
        assert_eq!(ds.shard_count(), 3);
        assert_eq!(ds.scale(), 2);
        let mut lens = ds.shard_lengths();
        lens.sort();
        assert_eq!(lens, vec![1, 2, 3]);
        // every item matches the shard it comes from, also when revisiting an evicted shard
        let mut expected = Vec::new();
        for f in ds.shard_files() {
            let s = read_shard(f, None).unwrap();
            for (lr, hr) in s.lr.into_iter().zip(s.hr) {
                expected.push(SrPair { lr, hr });
            }
        }
        for i in [0, 5, 1, 4, 2, 3, 0] {
            assert_eq!(ds.get(i).unwrap(), expected[i]);
            assert_eq!(ds.get(i).unwrap().hr.height, 8);
        }
        assert!(ds.get(6).is_none());
        assert!(ds.try_get(6).is_err());
    }

    #[test]
    fn rejects_empty_mixed_and_corrupt_caches() {
        let dir = tempfile::tempdir().unwrap();
        assert!(SelectionDataset::open(dir.path()).is_err());
        write(dir.path(), "a.png", 2, 2, 0);
        write(dir.path(), "b.png", 2, 3, 0);
        assert!(SelectionDataset::open(dir.path()).is_err());
        fs::remove_file(shard_path(dir.path(), "b.png")).unwrap();
        assert!(SelectionDataset::open(dir.path()).is_ok());
        let p = shard_path(dir.path(), "a.png");
        let mut bytes = fs::read(&p).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0xff;
        fs::write(&p, bytes).unwrap();
        assert!(matches!(
            SelectionDataset::open(dir.path()),
            Err(IdcError::Cache { .. })
        ));
        assert!(SelectionDataset::open(&dir.path().join("missing")).is_err());
    }
}
