//! Tests of [`super`]: the instance table, skips, hash cache, batched condense-or-load.

use super::super::idc::tests::{builder, write_images};
use super::*;
use crate::cache::verify_cache;
use crate::dataset::testing::FakeCondenser;

#[test]
fn small_images_are_skipped_only_when_asked_and_hashes_are_cached() {
    let hr = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    write_images(hr.path(), 2, 32);
    image::RgbImage::from_pixel(12, 40, image::Rgb([9, 9, 9]))
        .save(hr.path().join("tiny.png"))
        .unwrap();
    let fake = Arc::new(FakeCondenser::new(2, "a"));
    assert!(matches!(
        builder(hr.path(), cache.path(), fake.clone())
            .with_skip_small_images(false)
            .build(),
        Err(IdcError::InvalidInput(_))
    ));
    let ds = builder(hr.path(), cache.path(), fake.clone())
        .with_skip_small_images(true)
        .build()
        .unwrap();
    assert_eq!(ds.len(), 3 + 4);
    assert_eq!(ds.skipped().len(), 1);
    assert!(ds.skipped()[0].path.ends_with("tiny.png"));
    // The build recorded every probed image's hash for the next warm build.
    let text = std::fs::read_to_string(cache.path().join(crate::source::HashCache::FILE)).unwrap();
    assert_eq!(text.matches("sha256").count(), 3);
}

#[test]
fn corrupt_shard_is_recondensed_lazily() {
    let hr = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    write_images(hr.path(), 1, 32);
    let a = Arc::new(FakeCondenser::new(2, "a"));
    let ds = builder(hr.path(), cache.path(), a.clone()).build().unwrap();
    let first = ds.try_get(0).unwrap();
    let p = ds.shard_path(0).unwrap();
    drop(ds);
    let mut bytes = std::fs::read(&p).unwrap();
    let n = bytes.len();
    bytes[n - 10] ^= 0x55;
    std::fs::write(&p, &bytes).unwrap();
    let b = Arc::new(FakeCondenser::new(2, "a"));
    let ds = builder(hr.path(), cache.path(), b.clone())
        .with_mode(CacheMode::LoadOnly)
        .build()
        .unwrap();
    assert!(matches!(ds.try_get(0), Err(IdcError::Cache { .. })));
    let ds = builder(hr.path(), cache.path(), b.clone()).build().unwrap();
    assert_eq!(ds.try_get(0).unwrap(), first);
    assert_eq!(b.calls.load(Ordering::SeqCst), 1);
    assert!(verify_cache(cache.path()).unwrap().invalid.is_empty());
}

#[test]
fn threads_condense_each_instance_once() {
    let hr = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    write_images(hr.path(), 3, 32);
    let fake = Arc::new(FakeCondenser::new(2, "a"));
    let ds = Arc::new(
        builder(hr.path(), cache.path(), fake.clone())
            .with_memory_shards(1)
            .build()
            .unwrap(),
    );
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let ds = ds.clone();
            std::thread::spawn(move || {
                for i in 0..ds.len() {
                    let i = (i * 5 + t) % ds.len();
                    ds.try_get(i).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(fake.calls.load(Ordering::SeqCst), 3);
}

#[test]
fn bad_images_error_or_skip() {
    let hr = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    write_images(hr.path(), 1, 32);
    std::fs::write(hr.path().join("zzz.png"), b"").unwrap();
    let fake = Arc::new(FakeCondenser::new(2, "a"));
    let err = builder(hr.path(), cache.path(), fake.clone()).build();
    assert!(matches!(err, Err(IdcError::Decode { .. })));
    let ds = builder(hr.path(), cache.path(), fake.clone())
        .with_skip_bad_images(true)
        .build()
        .unwrap();
    assert_eq!(ds.num_instances(), 1);
    assert_eq!(ds.skipped().len(), 1);
    let empty = tempfile::tempdir().unwrap();
    assert!(matches!(
        builder(empty.path(), cache.path(), fake).build(),
        Err(IdcError::InvalidInput(_))
    ));
}

#[test]
fn batched_ensure_condenses_missing_loads_valid_and_matches_one_at_a_time() {
    let hr = tempfile::tempdir().unwrap();
    let (one, many) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    write_images(hr.path(), 4, 32);
    let fake = Arc::new(FakeCondenser::new(2, "a"));
    let ds = builder(hr.path(), one.path(), fake.clone())
        .build()
        .unwrap();
    ds.condense_all().unwrap();
    let ds = builder(hr.path(), many.path(), fake.clone())
        .build()
        .unwrap();
    let first: Vec<_> = ds.ensure_instances(&[1], false).into_iter().collect();
    assert!(matches!(first[..], [Ok(Some(Outcome::Condensed))]));
    let out = ds.ensure_instances(&[0, 1, 2, 3], true);
    let outcomes: Vec<Outcome> = out.into_iter().map(|r| r.unwrap().unwrap()).collect();
    use Outcome::{Condensed as C, Loaded as L};
    assert_eq!(outcomes, vec![C, L, C, C]);
    assert_eq!(ds.stats().condensed, 4);
    assert_eq!(ds.stats().loaded, 1);
    assert_eq!(ds.progress().done, 4);
    assert_eq!(fake.calls.load(Ordering::SeqCst), 8);
    assert!(ds.ensure_instances(&[9], true)[0].is_err());
    assert_eq!(ds.stats().failed, 1);
    assert!(verify_cache(many.path()).unwrap().invalid.is_empty());
    for j in 0..4 {
        let name = ds.shard_path(j).unwrap();
        let file = name.file_name().unwrap();
        assert_eq!(
            std::fs::read(one.path().join(file)).unwrap(),
            std::fs::read(&name).unwrap()
        );
    }
}
