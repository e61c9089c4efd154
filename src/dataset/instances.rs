//! The instance table of an [`IdcDataset`](super::idc::IdcDataset): every usable image of the
//! folder, probed through the `source` catalogue without decoding pixels and keyed, so `len()`
//! and every shard's fingerprint are known before anything is condensed.

use super::settings::{CacheMode, Settings};
use crate::cache::{self, HrRegenerator, ShardCache, SourceBytes};
use crate::condense::Instance;
use crate::config::{PatchConfig, ValidPatchConfig, fingerprint};
use crate::error::{IdcError, Result};
use crate::source::{self, HashCache, SkippedImage, SourceImage};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// One instance of the dataset.
#[derive(Clone, Debug)]
pub(crate) struct InstanceInfo {
    pub(crate) src: SourceImage,
    /// Synthetic pairs `n_j`.
    pub(crate) n: usize,
    /// First dataset index of this instance.
    pub(crate) offset: usize,
    pub(crate) fingerprint: String,
    pub(crate) seed: u64,
}

impl InstanceInfo {
    /// Decodes the instance's image and cuts its real LR patches.
    pub(crate) fn load(&self, patch: &ValidPatchConfig) -> Result<Instance> {
        let (lr_real, _hr_real) = source::load_pairs(&self.src, patch)?;
        Ok(Instance {
            name: self.src.name.clone(),
            lr: lr_real,
        })
    }

    /// What the instance's shard stands in for: its image file and its whole patch grid as
    /// 8-bit RGB LR + HR planes (every decoded image is RGB).
    pub(crate) fn source_bytes(&self, patch: &PatchConfig) -> SourceBytes {
        let hr = patch.hr_patch;
        let lr = hr / patch.scale.max(1);
        SourceBytes {
            image: std::fs::metadata(&self.src.path).map_or(0, |m| m.len()),
            whole_patches: (self.src.n_real * 3 * (hr * hr + lr * lr)) as u64,
        }
    }
}

/// The instances in dataset order and which of them have a valid shard.
pub(crate) struct InstanceTable {
    instances: Vec<InstanceInfo>,
    /// Number of items (`sum_j n_j`).
    total: usize,
    done: Vec<AtomicBool>,
}

/// One probed image: usable (with whether a valid-looking shard exists) or below one patch.
enum Probed {
    Usable(InstanceInfo, bool),
    Small(SourceImage),
}

impl InstanceTable {
    /// Probes every image of `s.hr_dir` and keys its shard with `key`. Content hashes of
    /// unchanged images come from the cache dir, so a warm build reads image headers rather
    /// than every image in full.
    pub(crate) fn build(
        s: &Settings,
        key: &KeyParts,
        cache: &ShardCache,
    ) -> Result<(Self, Vec<SkippedImage>)> {
        let hashes = HashCache::open(cache.dir());
        let mut table = Self {
            instances: Vec::new(),
            total: 0,
            done: Vec::new(),
        };
        let mut skipped = Vec::new();
        for path in source::list_candidates(&s.hr_dir)? {
            match probe(s, cache, &hashes, key, &path) {
                Ok(Probed::Usable(info, has_shard)) => table.push(info, has_shard),
                Ok(Probed::Small(src)) => skipped.push(small_image(s, path, &src)),
                Err(e) if s.skip.bad_images => {
                    eprintln!("warning: skipping {}: {e}", path.display());
                    let reason = e.to_string();
                    skipped.push(SkippedImage { path, reason });
                }
                Err(e) => return Err(e),
            }
        }
        if let Err(e) = hashes.save() {
            // Only a speed-up is lost (e.g. a read-only cache under LoadOnly).
            eprintln!("warning: source hash cache not saved: {e}");
        }
        if table.instances.is_empty() {
            return Err(IdcError::InvalidInput(format!(
                "no usable images in {} ({} skipped)",
                s.hr_dir.display(),
                skipped.len()
            )));
        }
        Ok((table, skipped))
    }

    fn push(&mut self, mut info: InstanceInfo, has_shard: bool) {
        info.offset = self.total;
        self.total += info.n;
        self.instances.push(info);
        self.done.push(AtomicBool::new(has_shard));
    }

    /// Number of items (`sum_j n_j`).
    pub(crate) fn total(&self) -> usize {
        self.total
    }

    pub(crate) fn all(&self) -> &[InstanceInfo] {
        &self.instances
    }

    /// Instance `j`, or the error of an index out of range.
    pub(crate) fn get(&self, j: usize) -> Result<&InstanceInfo> {
        self.instances
            .get(j)
            .ok_or_else(|| IdcError::InvalidInput(format!("instance {j} out of range")))
    }

    /// (instance, pair within the instance) of dataset index `i`.
    pub(crate) fn locate(&self, i: usize) -> Option<(usize, usize)> {
        if i >= self.total {
            return None;
        }
        let j = self.instances.partition_point(|x| x.offset <= i) - 1;
        Some((j, i - self.instances[j].offset))
    }

    pub(crate) fn is_done(&self, j: usize) -> bool {
        self.done.get(j).is_some_and(|d| d.load(Ordering::Acquire))
    }

    /// Instances with a valid shard.
    pub(crate) fn done_count(&self) -> usize {
        self.done
            .iter()
            .filter(|d| d.load(Ordering::Relaxed))
            .count()
    }

    /// Records that instance `j` has a valid shard; `true` the first time.
    pub(crate) fn mark_done(&self, j: usize) -> bool {
        !self.done[j].swap(true, Ordering::AcqRel)
    }
}

/// The skip record (and warning) of an image smaller than one patch.
fn small_image(s: &Settings, path: PathBuf, src: &SourceImage) -> SkippedImage {
    let side = s.patch.hr_patch;
    eprintln!(
        "warning: skipping {}: {}x{} is smaller than one {side}x{side} patch",
        path.display(),
        src.width,
        src.height,
    );
    let reason = format!("smaller than one {side}-pixel patch");
    SkippedImage { path, reason }
}

/// Probes `path` (header, cached content hash, patch count) and keys its shard. Under
/// `verify_decode` an image that will have to be condensed is decoded now, so a truncated file
/// is skipped here rather than failing mid-training.
fn probe(
    s: &Settings,
    cache: &ShardCache,
    hashes: &HashCache,
    key: &KeyParts,
    path: &Path,
) -> Result<Probed> {
    let src =
        source::probe_image_cached(&s.hr_dir, path, &s.patch, Some(hashes), s.skip.small_images)?;
    if src.n_real == 0 {
        return Ok(Probed::Small(src));
    }
    let n = s.config.synthetic_count(src.n_real);
    let seed = crate::seed::named_seed(s.seed, &src.name);
    let fp = instance_fingerprint(key, &s.patch, s.config.ratio, &src, n, seed);
    let has_shard = s.mode != CacheMode::Rebuild
        && cache.peek_fingerprint(&src.name).as_deref() == Some(fp.as_str());
    if s.verify_decode() && !has_shard && s.mode != CacheMode::LoadOnly {
        source::load_pairs(&src, &s.patch)?;
    }
    let info = InstanceInfo {
        src,
        n,
        offset: 0,
        fingerprint: fp,
        seed,
    };
    Ok(Probed::Usable(info, has_shard))
}

/// The parts of a shard key shared by every instance of a dataset.
pub(crate) struct KeyParts {
    condenser: String,
    /// `Some("lr-only:<teacher fingerprint>")` for LR-only shards, `None` for full ones (whose
    /// keys are unchanged from before LR-only storage existed).
    store: Option<String>,
}

impl KeyParts {
    /// The key parts of a condenser's fingerprint and, for LR-only shards, their regenerator.
    pub(crate) fn new(condenser: String, regen: Option<&dyn HrRegenerator>) -> Self {
        let store = regen.map(|r| format!("lr-only:{}", r.fingerprint()));
        Self { condenser, store }
    }
}

/// Shard key: everything that determines the instance's condensed patches.
fn instance_fingerprint(
    key: &KeyParts,
    patch: &PatchConfig,
    ratio: f64,
    src: &SourceImage,
    n: usize,
    seed: u64,
) -> String {
    #[derive(Serialize)]
    struct Key<'a> {
        format: u32,
        condenser: &'a str,
        patch: &'a PatchConfig,
        ratio: f64,
        image_sha256: &'a str,
        image_size: (usize, usize),
        n_real: usize,
        n: usize,
        seed: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        store: Option<&'a str>,
    }
    fingerprint(&Key {
        format: cache::shard::KEY_VERSION,
        condenser: &key.condenser,
        patch,
        ratio,
        image_sha256: &src.content_hash,
        image_size: (src.height, src.width),
        n_real: src.n_real,
        n,
        seed,
        store: key.store.as_deref(),
    })
}
