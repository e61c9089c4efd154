//! Selection end to end: pool -> (features, texture scores) -> indices -> shard cache.
//!
//! The pool is read instance by instance, twice at most: once to compute what the method needs
//! (pooled features, texture scores; skipped for random), in batches of `feature_batch` pairs,
//! and once to cut the chosen pairs of each instance into its shard. Only one batch of pairs (or
//! one instance's *selected* pairs) is in memory at a time, so the pool can be far larger than
//! RAM allows for its pixels (the feature matrix is `N x c` floats).
//!
//! The output is the shard cache of `IdcDataset` (written through [`ShardCache`]): one shard per
//! instance that has selected pairs, plus `manifest.json`, so `idc inspect`, `SelectionDataset`
//! and training code treat a selected set like a condensed one.

use super::dcsr::texture_score;
use super::features::{FeatureMatrix, pooled_pair_features};
use super::{
    PoolInputs, SelectConfig, SelectMethod, ValidSelectConfig, pool_budget, select_indices,
};
use crate::cache::{Shard, ShardCache};
use crate::config::{PatchConfig, ValidPatchConfig, fingerprint, hex_sha256};
use crate::error::{IdcError, Result};
use crate::image::SrPair;
use crate::models::FeatureExtractor;
use burn::tensor::backend::Backend;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// A pool of real LR/HR pairs grouped into instances (images). Implemented for the whole-set
/// dataset (in `dataset::selection`, above this layer); tests implement it in memory.
pub trait PatchPool {
    /// Number of instances.
    fn instance_count(&self) -> usize;
    /// Stable instance name (image path relative to the HR folder); names the shard file.
    fn instance_name(&self, j: usize) -> String;
    /// Number of pairs of instance `j`, known without cutting them.
    fn instance_len(&self, j: usize) -> usize;
    /// The pairs of instance `j`, in grid order (`instance_len(j)` of them).
    fn instance_pairs(&self, j: usize) -> Result<Vec<SrPair>>;
    /// Pairs `ks` (grid indices, ascending) of instance `j`; by default cut from all pairs.
    fn instance_pairs_at(&self, j: usize, ks: &[usize]) -> Result<Vec<SrPair>> {
        let all = self.instance_pairs(j)?;
        check_len(self, j, &all)?;
        ks.iter()
            .map(|&k| {
                all.get(k).cloned().ok_or_else(|| {
                    IdcError::InvalidInput(format!("patch {k} out of range for instance {j}"))
                })
            })
            .collect()
    }
    /// Hash of instance `j`'s source (e.g. SHA-256 of the image file), part of the fingerprint so
    /// a changed image never leaves a stale selection.
    fn instance_source_hash(&self, j: usize) -> Result<String>;
}

/// Summary of a selection run (the CLI's `--json`, without timing).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SelectionReport {
    /// Selection method used.
    pub method: SelectMethod,
    /// Pairs in the pool.
    pub pool: usize,
    /// Pairs selected (= `pool_budget`).
    pub selected: usize,
    /// Instances with at least one selected pair (= shards written).
    pub instances: usize,
    /// Instances in the pool.
    pub pool_instances: usize,
    /// Whether the budget was applied per instance.
    pub per_instance: bool,
    /// Fingerprint of the whole selection (each shard's fingerprint derives from it).
    pub fingerprint: String,
}

/// Everything that determines which pairs are chosen; hashed into the shard fingerprints.
#[derive(Serialize)]
struct SelectionKey<'a> {
    kind: &'static str,
    config: &'a SelectConfig,
    patch: &'a PatchConfig,
    extractor: Option<String>,
    /// (name, pairs, source hash) of every instance: whole-pool selection depends on all of them.
    pool: Vec<(String, usize, String)>,
}

/// Shard fingerprint of instance `name` under selection fingerprint `selection`.
pub fn instance_fingerprint(selection: &str, name: &str) -> String {
    hex_sha256(format!("select:{selection}:{name}").as_bytes())
}

/// Pooled features (if the method needs them) and texture scores (DCSR) of every pair in pool
/// order, one instance at a time.
fn pool_inputs<B: Backend, E: FeatureExtractor<B> + ?Sized>(
    pool: &dyn PatchPool,
    config: &SelectConfig,
    extractor: Option<&E>,
    device: &B::Device,
    progress: &mut dyn FnMut(Stage, usize, usize),
) -> Result<(Option<FeatureMatrix>, Option<Vec<f32>>)> {
    if !config.method.needs_features() {
        return Ok((None, None));
    }
    let ex = extractor.ok_or_else(|| {
        IdcError::config(
            "extractor",
            format!("method {} needs a feature extractor", config.method),
        )
    })?;
    let mut feats = FeatureMatrix::empty(ex.feature_channels().max(1))?;
    let mut scores = config.method.needs_texture().then(Vec::new);
    for j in 0..pool.instance_count() {
        let ks: Vec<usize> = (0..pool.instance_len(j)).collect();
        // one feature batch of pairs at a time: a 2K image has > 1000 patches
        for chunk in ks.chunks(config.feature_batch) {
            let pairs = pool.instance_pairs_at(j, chunk)?;
            if pairs.len() != chunk.len() {
                return Err(IdcError::InvalidInput(format!(
                    "instance {} gave {} of {} requested pairs",
                    pool.instance_name(j),
                    pairs.len(),
                    chunk.len()
                )));
            }
            let f = pooled_pair_features::<B, E>(ex, &pairs, config.feature_batch, device)?;
            feats.push_rows(f.as_slice())?;
            if let Some(s) = scores.as_mut() {
                s.extend(pairs.iter().map(|p| texture_score(&p.hr)));
            }
        }
        progress(Stage::Features, j + 1, pool.instance_count());
    }
    Ok((Some(feats), scores))
}

fn check_len<P: PatchPool + ?Sized>(pool: &P, j: usize, pairs: &[SrPair]) -> Result<()> {
    if pairs.len() != pool.instance_len(j) {
        return Err(IdcError::mismatch(
            format!("pairs of instance {}", pool.instance_name(j)),
            pool.instance_len(j),
            pairs.len(),
        ));
    }
    Ok(())
}

/// Pipeline stage reported to the progress callback of [`select_to_cache_with_progress`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Features / texture scores: instances done of total.
    Features,
    /// The selection itself (reported once when it starts, `0/1`, and when it ends, `1/1`).
    Select,
    /// Shards: instances written (or cleared) of total.
    Write,
}

/// Selects with `config` from `pool` and writes the chosen pairs into `cache_dir`.
///
/// Errors before any work if the method needs an extractor and none is given. Shards of pool instances left without a selected pair are removed from the cache (and
/// the manifest), so a re-run with another method or ratio never mixes in stale pairs; files of
/// instances not in this pool are left alone.
///
/// Give it an inference backend (e.g. `DefaultBackend`), not an autodiff one: Burn's autodiff
/// keeps every forward graph until a backward pass, and selection runs only forwards.
pub fn select_to_cache<B: Backend, E: FeatureExtractor<B> + ?Sized>(
    pool: &dyn PatchPool,
    cache_dir: &Path,
    patch: &ValidPatchConfig,
    config: &ValidSelectConfig,
    extractor: Option<&E>,
    device: &B::Device,
) -> Result<SelectionReport> {
    select_to_cache_with_progress::<B, E>(
        pool,
        cache_dir,
        patch,
        config,
        extractor,
        device,
        &mut |_, _, _| {},
    )
}

/// [`select_to_cache`] calling `progress(stage, done, total)` as it goes (for a progress bar).
pub fn select_to_cache_with_progress<B: Backend, E: FeatureExtractor<B> + ?Sized>(
    pool: &dyn PatchPool,
    cache_dir: &Path,
    patch: &ValidPatchConfig,
    config: &ValidSelectConfig,
    extractor: Option<&E>,
    device: &B::Device,
    progress: &mut dyn FnMut(Stage, usize, usize),
) -> Result<SelectionReport> {
    if config.method.needs_features() && extractor.is_none() {
        return Err(IdcError::config(
            "extractor",
            format!("method {} needs a feature extractor", config.method),
        ));
    }
    let n_inst = pool.instance_count();
    let sizes: Vec<usize> = (0..n_inst).map(|j| pool.instance_len(j)).collect();
    let mut key_pool = Vec::with_capacity(n_inst);
    for (j, &n) in sizes.iter().enumerate() {
        key_pool.push((pool.instance_name(j), n, pool.instance_source_hash(j)?));
    }
    let selection_fp = fingerprint(&SelectionKey {
        kind: "select",
        config,
        patch,
        extractor: extractor
            .filter(|_| config.method.needs_features())
            .map(|e| e.fingerprint()),
        pool: key_pool,
    });

    let (features, texture) = pool_inputs::<B, E>(pool, config, extractor, device, progress)?;
    let inputs = PoolInputs {
        features: features.as_ref(),
        texture: texture.as_deref(),
    };
    progress(Stage::Select, 0, 1);
    let picked = select_indices(config, &sizes, &inputs)?;
    progress(Stage::Select, 1, 1);
    drop(features);
    drop(texture);

    let cache = ShardCache::open(cache_dir)?;
    let mut entries = Vec::new();
    let mut stale = Vec::new();
    let mut cursor = 0; // position in `picked` (ascending global indices)
    let mut start = 0; // global index of instance j's first pair
    for (j, &n) in sizes.iter().enumerate() {
        let end = start + n;
        let mut local = Vec::new();
        while cursor < picked.len() && picked[cursor] < end {
            local.push(picked[cursor] - start);
            cursor += 1;
        }
        let name = pool.instance_name(j);
        if local.is_empty() {
            cache.remove(&name)?;
            stale.push(name);
        } else {
            let shard = selected_shard(pool, j, &local, &selection_fp, patch.scale)?;
            entries.push(cache.put_unlisted(&name, &shard)?);
        }
        start = end;
        progress(Stage::Write, j + 1, n_inst);
    }
    cache.update_manifest(&entries, &stale)?;
    Ok(SelectionReport {
        method: config.method,
        pool: sizes.iter().sum(),
        selected: picked.len(),
        instances: entries.len(),
        pool_instances: n_inst,
        per_instance: config.per_instance,
        fingerprint: selection_fp,
    })
}

/// The shard of instance `j` holding its pairs `local` (grid indices, ascending).
fn selected_shard(
    pool: &dyn PatchPool,
    j: usize,
    local: &[usize],
    selection_fp: &str,
    scale: usize,
) -> Result<Shard> {
    let name = pool.instance_name(j);
    let pairs = pool.instance_pairs_at(j, local)?;
    if pairs.len() != local.len() {
        return Err(IdcError::InvalidInput(format!(
            "instance {name} gave {} of {} requested pairs",
            pairs.len(),
            local.len()
        )));
    }
    let (lr, hr) = pairs.into_iter().map(|p| (p.lr, p.hr)).unzip();
    Ok(Shard {
        fingerprint: instance_fingerprint(selection_fp, &name),
        scale,
        lr,
        hr,
    })
}

/// The pool budget `select_to_cache` will select for this pool and ratio.
pub fn expected_selected(pool: &dyn PatchPool, ratio: f64) -> usize {
    let sizes: Vec<usize> = (0..pool.instance_count())
        .map(|j| pool.instance_len(j))
        .collect();
    pool_budget(&sizes, ratio)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::cache::shard::{read_shard, shard_path};
    use crate::cache::{Manifest, verify_cache};
    use crate::image::Image;
    use burn::tensor::Tensor;
    use std::collections::HashSet;
    use std::fs;

    /// In-memory pool: instance `j` has `sizes[j]` pairs of 3x4x4 LR / 3x8x8 HR patches whose
    /// values encode (instance, index), so a pair can be traced back after selection.
    pub(crate) struct MemPool {
        pub sizes: Vec<usize>,
    }

    pub(crate) fn pair(j: usize, i: usize) -> SrPair {
        let v =
            |c: usize, k: usize| ((j * 37 + i * 11 + c * 5 + k * (i % 5 + 1)) % 256) as f32 / 255.0;
        let lr = (0..48).map(|k| v(k / 16, k)).collect();
        let hr = (0..192).map(|k| v(k / 64, k)).collect();
        SrPair {
            lr: Image::new(3, 4, 4, lr).unwrap(),
            hr: Image::new(3, 8, 8, hr).unwrap(),
        }
    }

    impl PatchPool for MemPool {
        fn instance_count(&self) -> usize {
            self.sizes.len()
        }
        fn instance_name(&self, j: usize) -> String {
            format!("img{j:03}.png")
        }
        fn instance_len(&self, j: usize) -> usize {
            self.sizes[j]
        }
        fn instance_pairs(&self, j: usize) -> Result<Vec<SrPair>> {
            Ok((0..self.sizes[j]).map(|i| pair(j, i)).collect())
        }
        fn instance_source_hash(&self, j: usize) -> Result<String> {
            Ok(format!("h{j}"))
        }
    }

    /// Feature map = the LR batch itself (3 channels).
    pub(crate) struct Identity;
    impl<B: Backend> FeatureExtractor<B> for Identity {
        fn features(&self, lr: Tensor<B, 4>) -> Tensor<B, 4> {
            lr
        }
        fn feature_channels(&self) -> usize {
            3
        }
        fn fingerprint(&self) -> String {
            "identity".into()
        }
    }

    type B = burn::backend::Flex;

    fn run(
        pool: &MemPool,
        dir: &Path,
        cfg: &SelectConfig,
        ex: Option<&Identity>,
    ) -> Result<SelectionReport> {
        let patch = PatchConfig {
            scale: 2,
            hr_patch: 8,
            step: 8,
            thresh_size: 0,
            task: None,
        }
        .check()?;
        let cfg = cfg.clone().check()?;
        select_to_cache::<B, Identity>(pool, dir, &patch, &cfg, ex, &Default::default())
    }

    #[test]
    fn writes_selected_pairs_as_shards_for_every_method() {
        let pool = MemPool {
            sizes: vec![40, 3, 25, 12],
        };
        let want = expected_selected(&pool, 0.1);
        assert_eq!(want, 4 + 1 + 3 + 2);
        for method in SelectMethod::ALL {
            let dir = tempfile::tempdir().unwrap();
            let cfg = SelectConfig {
                method,
                seed: 3,
                feature_batch: 7,
                ..Default::default()
            };
            let rep = run(&pool, dir.path(), &cfg, Some(&Identity)).unwrap();
            assert_eq!((rep.pool, rep.selected), (80, want), "{method}");
            let v = verify_cache(dir.path()).unwrap();
            assert!(v.invalid.is_empty());
            assert_eq!(v.patches, want);
            assert_eq!(v.valid, rep.instances);
            // every stored pair is a real pool pair of its instance, no duplicates
            let m = Manifest::read(dir.path()).unwrap();
            let mut seen = HashSet::new();
            let mut total = 0;
            for j in 0..pool.sizes.len() {
                let name = pool.instance_name(j);
                let Some(e) = m.instances.get(&name) else {
                    continue;
                };
                let s = read_shard(&shard_path(dir.path(), &name), Some(&e.fingerprint)).unwrap();
                assert_eq!(s.len(), e.patches);
                total += s.len();
                for (lr, hr) in s.lr.iter().zip(&s.hr) {
                    let i = (0..pool.sizes[j])
                        .find(|&i| pair(j, i).lr.quantized() == *lr)
                        .expect("stored LR patch is not from this instance");
                    assert_eq!(pair(j, i).hr.quantized(), *hr);
                    assert!(seen.insert((j, i)), "duplicate pair");
                }
            }
            assert_eq!(total, want);
        }
    }

    #[test]
    fn rerun_replaces_stale_shards_and_needs_extractor() {
        let pool = MemPool {
            sizes: vec![30, 30, 30],
        };
        let dir = tempfile::tempdir().unwrap();
        let all = SelectConfig {
            ratio: 1.0,
            ..Default::default()
        };
        run(&pool, dir.path(), &all, None).unwrap();
        assert_eq!(verify_cache(dir.path()).unwrap().patches, 90);
        let few = SelectConfig {
            ratio: 0.02, // pool budget 3: whole-pool random may skip an instance
            seed: 1,
            ..Default::default()
        };
        let rep = run(&pool, dir.path(), &few, None).unwrap();
        let v = verify_cache(dir.path()).unwrap();
        assert_eq!(v.patches, 3);
        assert_eq!(v.valid, rep.instances);
        assert_eq!(
            Manifest::read(dir.path()).unwrap().instances.len(),
            rep.instances
        );
        let herd = SelectConfig {
            method: SelectMethod::Herding,
            ..Default::default()
        };
        assert!(matches!(
            run(&pool, dir.path(), &herd, None),
            Err(IdcError::InvalidConfig { .. })
        ));
    }

    #[test]
    fn same_seed_same_shards_other_seed_other_fingerprint() {
        let pool = MemPool {
            sizes: vec![50, 50],
        };
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let cfg = SelectConfig {
            method: SelectMethod::KCenter,
            seed: 5,
            ..Default::default()
        };
        let ra = run(&pool, a.path(), &cfg, Some(&Identity)).unwrap();
        let rb = run(&pool, b.path(), &cfg, Some(&Identity)).unwrap();
        assert_eq!(ra, rb);
        for j in 0..2 {
            let name = pool.instance_name(j);
            let fa = fs::read(shard_path(a.path(), &name)).ok();
            let fb = fs::read(shard_path(b.path(), &name)).ok();
            assert_eq!(fa, fb);
        }
        let other = SelectConfig { seed: 6, ..cfg };
        let rc = run(&pool, b.path(), &other, Some(&Identity)).unwrap();
        assert_ne!(rc.fingerprint, ra.fingerprint);
    }
}
