//! Tests of [`super`]: `IdcDataset` over the fake condenser (cold/warm, modes, keys, ahead).

use super::*;
use crate::cache::Manifest;
use crate::config::PatchConfig;
use crate::dataset::testing::FakeCondenser;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::Ordering;

/// Writes `count` small RGB PNGs with distinct content.
pub(crate) fn write_images(dir: &Path, count: usize, size: u32) {
    for i in 0..count {
        let img = image::RgbImage::from_fn(size, size + 8 * i as u32, |x, y| {
            image::Rgb([
                (x * 7 + i as u32 * 40) as u8,
                (y * 5) as u8,
                ((x + y) * 3) as u8,
            ])
        });
        img.save(dir.join(format!("img{i}.png"))).unwrap();
    }
}

pub(crate) fn builder(hr: &Path, cache: &Path, fake: Arc<FakeCondenser>) -> IdcDatasetBuilder {
    let patch = PatchConfig {
        scale: 2,
        hr_patch: 16,
        step: 8,
        thresh_size: 0,
        task: None,
    }
    .check()
    .unwrap();
    IdcDataset::builder(hr, patch)
        .with_ratio(0.3)
        .with_cache_dir(cache)
        .with_condenser(fake)
}

#[test]
fn len_is_known_before_condensing_and_cold_equals_warm() {
    let hr = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    write_images(hr.path(), 3, 32);
    let fake = Arc::new(FakeCondenser::new(2, "a"));
    let ds = builder(hr.path(), cache.path(), fake.clone())
        .build()
        .unwrap();
    // 32x32: 3x3 = 9 patches -> ceil(2.7) = 3; 32x40: 3x4 = 12 -> 4; 32x48: 3x5 = 15 -> 5.
    assert_eq!(ds.len(), 3 + 4 + 5);
    assert_eq!(fake.calls.load(Ordering::SeqCst), 0);
    let cold: Vec<SrPair> = (0..ds.len()).map(|i| ds.try_get(i).unwrap()).collect();
    assert_eq!(fake.calls.load(Ordering::SeqCst), 3);
    assert_eq!(ds.stats().condensed, 3);
    assert_eq!(ds.progress().done, 3);
    drop(ds);

    let fake2 = Arc::new(FakeCondenser::new(2, "a"));
    let ds = builder(hr.path(), cache.path(), fake2.clone())
        .with_mode(CacheMode::LoadOnly)
        .build()
        .unwrap();
    assert_eq!(ds.progress().done, 3, "build sees the cached shards");
    let warm: Vec<SrPair> = (0..ds.len()).map(|i| ds.try_get(i).unwrap()).collect();
    assert_eq!(fake2.calls.load(Ordering::SeqCst), 0);
    assert_eq!(cold, warm);
    assert_eq!(cold[0].lr.height * 2, cold[0].hr.height);
    assert!(ds.try_get(ds.len()).is_err());
    assert!(ds.get(ds.len()).is_none());
    let m = Manifest::read(cache.path()).unwrap();
    assert_eq!(m.instances.len(), 3);
}

#[test]
fn load_only_on_empty_cache_is_a_cache_error() {
    let hr = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    write_images(hr.path(), 1, 32);
    let fake = Arc::new(FakeCondenser::new(2, "a"));
    let ds = builder(hr.path(), cache.path(), fake.clone())
        .with_mode(CacheMode::LoadOnly)
        .build()
        .unwrap();
    assert!(matches!(ds.try_get(0), Err(IdcError::Cache { .. })));
    assert_eq!(fake.calls.load(Ordering::SeqCst), 0);
    assert_eq!(ds.stats().failed, 1);
}

#[test]
fn config_change_recondenses_and_rebuild_overwrites() {
    let hr = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    write_images(hr.path(), 2, 32);
    let a = Arc::new(FakeCondenser::new(2, "a"));
    builder(hr.path(), cache.path(), a.clone())
        .build()
        .unwrap()
        .condense_all()
        .unwrap();
    assert_eq!(a.calls.load(Ordering::SeqCst), 2);
    // Same config: nothing to do.
    let a2 = Arc::new(FakeCondenser::new(2, "a"));
    builder(hr.path(), cache.path(), a2.clone())
        .build()
        .unwrap()
        .condense_all()
        .unwrap();
    assert_eq!(a2.calls.load(Ordering::SeqCst), 0);
    // Different condenser fingerprint, different seed, different ratio: all re-condense.
    let b = Arc::new(FakeCondenser::new(2, "b"));
    builder(hr.path(), cache.path(), b.clone())
        .build()
        .unwrap()
        .condense_all()
        .unwrap();
    assert_eq!(b.calls.load(Ordering::SeqCst), 2);
    let c = Arc::new(FakeCondenser::new(2, "b"));
    builder(hr.path(), cache.path(), c.clone())
        .with_seed(7)
        .build()
        .unwrap()
        .condense_all()
        .unwrap();
    assert_eq!(c.calls.load(Ordering::SeqCst), 2);
    let d = Arc::new(FakeCondenser::new(2, "b"));
    let ds = builder(hr.path(), cache.path(), d.clone())
        .with_seed(7)
        .with_ratio(0.5)
        .build()
        .unwrap();
    ds.condense_all().unwrap();
    assert_eq!(d.calls.load(Ordering::SeqCst), 2);
    // A modified image re-condenses only that instance.
    write_images(hr.path(), 1, 40);
    let e = Arc::new(FakeCondenser::new(2, "b"));
    let ds = builder(hr.path(), cache.path(), e.clone())
        .with_seed(7)
        .with_ratio(0.5)
        .build()
        .unwrap();
    ds.condense_all().unwrap();
    assert_eq!(e.calls.load(Ordering::SeqCst), 1);
    // Rebuild condenses everything once, however often items are read.
    let f = Arc::new(FakeCondenser::new(2, "b"));
    let ds = builder(hr.path(), cache.path(), f.clone())
        .with_seed(7)
        .with_ratio(0.5)
        .with_mode(CacheMode::Rebuild)
        .with_memory_shards(0)
        .build()
        .unwrap();
    for i in 0..ds.len() {
        ds.try_get(i).unwrap();
    }
    assert_eq!(f.calls.load(Ordering::SeqCst), 2);
}

#[test]
fn condense_ahead_fills_the_cache_and_reports_progress() {
    let hr = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    write_images(hr.path(), 4, 32);
    let fake = Arc::new(FakeCondenser::new(2, "a"));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    let ds = builder(hr.path(), cache.path(), fake.clone())
        .with_condense_ahead(2)
        .with_progress(move |p| s2.lock().unwrap().push(p.done))
        .build()
        .unwrap();
    ds.wait_ahead();
    assert_eq!(ds.progress().done, 4);
    assert_eq!(fake.calls.load(Ordering::SeqCst), 4);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.first(), Some(&0));
    assert_eq!(seen.last(), Some(&4));
    // Everything is served from the cache now.
    for i in 0..ds.len() {
        ds.try_get(i).unwrap();
    }
    assert_eq!(fake.calls.load(Ordering::SeqCst), 4);
}

/// The task is part of every shard key: a cache condensed for SR (or for another noise
/// level) never loads as a denoising cache, while SR keys are those of before tasks existed.
#[test]
fn task_is_part_of_the_shard_fingerprint() {
    let hr = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    write_images(hr.path(), 2, 32);
    let sr = builder(
        hr.path(),
        cache.path(),
        Arc::new(FakeCondenser::new(2, "a")),
    )
    .build()
    .unwrap();
    for i in 0..sr.len() {
        sr.try_get(i).unwrap();
    }
    let denoise = |sigma: f32, fake: &Arc<FakeCondenser>, mode| {
        let patch = PatchConfig {
            hr_patch: 16,
            step: 8,
            ..PatchConfig::default()
        }
        .with_task(crate::task::Task::Denoise { sigma })
        .check()
        .unwrap();
        IdcDataset::builder(hr.path(), patch)
            .with_ratio(0.3)
            .with_cache_dir(cache.path())
            .with_condenser(fake.clone())
            .with_mode(mode)
            .build()
            .unwrap()
    };
    let fake = Arc::new(FakeCondenser::new(1, "a"));
    let d25 = denoise(25.0, &fake, CacheMode::LoadOnly);
    assert_eq!(
        d25.progress().done,
        0,
        "an SR shard never loads for denoising"
    );
    assert!(d25.try_get(0).is_err(), "load-only has nothing to load");
    let d25 = denoise(25.0, &fake, CacheMode::LazyCondense);
    for i in 0..d25.len() {
        let p = d25.try_get(i).unwrap();
        assert_eq!(p.lr.height, p.hr.height, "denoising pairs keep the size");
    }
    let d50 = denoise(50.0, &fake, CacheMode::LoadOnly);
    assert_eq!(d50.progress().done, 0, "another noise level is another key");
    assert_ne!(d25.instance_fingerprint(0), sr.instance_fingerprint(0));
    // The SR key is unchanged: PatchConfig's JSON has no task field for SR.
    let json = serde_json::to_string(&PatchConfig::default()).unwrap();
    assert_eq!(
        json,
        r#"{"scale":2,"hr_patch":96,"step":48,"thresh_size":0}"#
    );
}
