//! Issue #28, compact shards: format 2 (packed planes) and LR-only storage.
//!
//! - Library, fake condenser: an LR-only cache serves the same items as a full one (the fake's
//!   teacher is deterministic), under another key, in fewer bytes; a warm LR-only cache serves
//!   them again without condensing; `SelectionDataset` refuses LR-only shards without a teacher
//!   and serves them with one; `inspect` counts LR-only shards and the source figures.
//! - Old caches: format-1 shards written by hand load and verify, under the same keys.
//! - CLI, tiny EDSR: `idc condense --store lr-only` writes `teacher.json`; `idc train --cache`
//!   trains on it (HR remade by the recorded teacher); `idc inspect --json` states the figures.

use burn_idc::SelectionDataset;
use burn_idc::cache::{self, ShardStore};
use burn_idc::cache::{encode_shard_as, read_shard};
use burn_idc::dataset::testing::{FakeCondenser, ReplicateHr};
use burn_idc::image::save_png;
use burn_idc::image::synthetic_image;
use burn_idc::{IdcDataset, PatchConfig, SrPair};
use integration_tests::{condense_args, run_idc, run_idc_json};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// The crate's smooth synthetic test images (they compress like photographs, not like noise).
fn write_images(dir: &Path, count: usize) {
    for k in 0..count {
        let img = synthetic_image(k, 48).crop(0, 0, 40, 48 - 8 * k).unwrap();
        save_png(&dir.join(format!("im{k}.png")), &img).unwrap();
    }
}

fn dataset(hr: &Path, cache: &Path, fake: Arc<FakeCondenser>, store: ShardStore) -> IdcDataset {
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
        .with_store(store)
        .build()
        .unwrap()
}

fn items(ds: &IdcDataset) -> Vec<SrPair> {
    (0..ds.len()).map(|i| ds.try_get(i).unwrap()).collect()
}

fn shard_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "shard"))
        .map(|e| e.metadata().unwrap().len())
        .sum()
}

#[test]
fn lr_only_cache_serves_the_same_items_in_fewer_bytes() {
    let hr = tempfile::tempdir().unwrap();
    write_images(hr.path(), 3);
    let (full_dir, lr_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let full_ds = dataset(
        hr.path(),
        full_dir.path(),
        Arc::new(FakeCondenser::new(2, "s")),
        ShardStore::Full,
    );
    let full = items(&full_ds);
    let fake = Arc::new(FakeCondenser::new(2, "s"));
    let lr_ds = dataset(hr.path(), lr_dir.path(), fake.clone(), ShardStore::LrOnly);
    let cold = items(&lr_ds);
    assert_eq!(cold, full, "LR-only items differ from full ones");
    assert_eq!(fake.calls.load(Ordering::SeqCst), 3);
    // The store mode is part of the key.
    for j in 0..3 {
        assert_ne!(
            lr_ds.instance_fingerprint(j),
            full_ds.instance_fingerprint(j)
        );
    }
    drop(lr_ds);
    let fake2 = Arc::new(FakeCondenser::new(2, "s"));
    let warm_ds = dataset(hr.path(), lr_dir.path(), fake2.clone(), ShardStore::LrOnly);
    assert_eq!(items(&warm_ds), full);
    assert_eq!(
        fake2.calls.load(Ordering::SeqCst),
        0,
        "warm LR-only cache condensed"
    );

    let (full_bytes, lr_bytes) = (shard_bytes(full_dir.path()), shard_bytes(lr_dir.path()));
    assert!(
        lr_bytes * 2 < full_bytes,
        "LR-only {lr_bytes} vs full {full_bytes}"
    );
    let r = cache::verify_cache(lr_dir.path()).unwrap();
    assert_eq!((r.valid, r.lr_only, r.sourced), (3, 3, 3));
    assert!(r.source_bytes > 0 && r.whole_patch_bytes > r.raw_pixel_bytes);
    let r = cache::verify_cache(full_dir.path()).unwrap();
    assert_eq!((r.valid, r.lr_only), (3, 0));
    // Packed planes beat raw ones on image-like content.
    assert!(
        r.bytes < r.raw_pixel_bytes,
        "{} vs raw {}",
        r.bytes,
        r.raw_pixel_bytes
    );

    // A reader without the teacher refuses LR-only shards; with it, serves the same pairs.
    let err = SelectionDataset::open(lr_dir.path()).err().unwrap();
    assert!(err.to_string().contains("LR patches only"), "{err}");
    let sel =
        SelectionDataset::open_with_regenerator(lr_dir.path(), Arc::new(ReplicateHr(2))).unwrap();
    let sel_full = SelectionDataset::open(full_dir.path()).unwrap();
    for i in 0..full.len() {
        assert_eq!(
            sel.try_get(i).unwrap(),
            sel_full.try_get(i).unwrap(),
            "item {i}"
        );
    }
    assert!(sel.try_get(full.len()).is_err());
}

#[test]
fn format_1_caches_still_load_and_verify_under_the_same_keys() {
    let hr = tempfile::tempdir().unwrap();
    write_images(hr.path(), 2);
    let dir = tempfile::tempdir().unwrap();
    let ds = dataset(
        hr.path(),
        dir.path(),
        Arc::new(FakeCondenser::new(2, "o")),
        ShardStore::Full,
    );
    let before = items(&ds);
    // Rewrite every shard in the old layout, as a cache from before format 2 holds it.
    for j in 0..ds.num_instances() {
        let path = ds.shard_path(j).unwrap();
        let shard = read_shard(&path, None).unwrap();
        let old = encode_shard_as(&shard, 1).unwrap();
        assert_eq!(u32::from_le_bytes(old[8..12].try_into().unwrap()), 1);
        std::fs::write(&path, old).unwrap();
    }
    drop(ds);
    let fake = Arc::new(FakeCondenser::new(2, "o"));
    let again = dataset(hr.path(), dir.path(), fake.clone(), ShardStore::Full);
    assert_eq!(items(&again), before);
    assert_eq!(
        fake.calls.load(Ordering::SeqCst),
        0,
        "format-1 shards were re-condensed"
    );
    let r = cache::verify_cache(dir.path()).unwrap();
    assert_eq!((r.valid, r.lr_only), (2, 0));
    assert!(r.invalid.is_empty() && r.bytes > r.raw_pixel_bytes, "{r:?}");
}

#[test]
fn cli_lr_only_cache_records_its_teacher_and_trains() {
    let root = tempfile::tempdir().unwrap();
    let hr = root.path().join("hr");
    std::fs::create_dir(&hr).unwrap();
    write_images(&hr, 2);
    let cache = root.path().join("cache");
    let mut args = condense_args(root.path(), &hr, 4, Some("0.3"));
    args.extend(["--cache".into(), cache.display().to_string()]);
    args.extend(["--store".into(), "lr-only".into()]);
    let v = run_idc_json(&args);
    assert_eq!(v["store"], "lr-only");
    assert!(v["whole_patch_bytes"].as_u64().unwrap() > v["shard_bytes"].as_u64().unwrap());
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(cache.join("teacher.json")).unwrap()).unwrap();
    assert_eq!(record["source"]["kind"], "model-dir");
    let inspect = run_idc_json([
        "inspect",
        "--cache",
        cache.to_str().unwrap(),
        "--verify",
        "--json",
    ]);
    assert_eq!(inspect["lr_only"], inspect["valid"]);
    assert!(inspect["source_bytes"].as_u64().unwrap() > 0);
    let out = root.path().join("run");
    let train = run_idc([
        "train",
        "--cache",
        cache.to_str().unwrap(),
        "--iters",
        "2",
        "--batch",
        "2",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        train.status.success(),
        "idc train on an LR-only cache failed: {}",
        String::from_utf8_lossy(&train.stderr)
    );
    // Export remakes HR with the recorded teacher: every pair, HR twice the LR size.
    let export = root.path().join("export");
    let e = run_idc_json([
        "export",
        "--cache",
        cache.to_str().unwrap(),
        "--out",
        export.to_str().unwrap(),
        "--format",
        "folder",
        "--json",
    ]);
    assert_eq!(e["pairs"], inspect["patches"], "{e}");
    let first = |dir: &str| {
        let mut names: Vec<_> = std::fs::read_dir(export.join(dir))
            .unwrap()
            .flatten()
            .collect();
        names.sort_by_key(|d| d.file_name());
        let im = burn_idc::image::decode_image(&names[0].path()).unwrap();
        (im.width, im.height)
    };
    let ((hw, hh), (lw, lh)) = (first("hr"), first("lr"));
    assert_eq!((hw, hh), (2 * lw, 2 * lh));
    // Without the record, the cache is refused with a reason, not mis-read.
    std::fs::remove_file(cache.join("teacher.json")).unwrap();
    let refused = run_idc(["train", "--cache", cache.to_str().unwrap(), "--iters", "1"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("teacher.json"));
    let out2 = root.path().join("export2");
    let refused = run_idc([
        "export",
        "--cache",
        cache.to_str().unwrap(),
        "--out",
        out2.to_str().unwrap(),
    ]);
    assert!(!refused.status.success() && !out2.exists());
}
