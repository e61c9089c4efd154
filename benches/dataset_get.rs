//! Items/s of a warm `IdcDataset` (shards cached) vs `SrPatchDataset` decoding PNG images, with
//! the same patch shapes (HR 96x96, LR 48x48, x2) and batches of 16 pairs, one run each.
//!
//! `cargo bench --features testing --bench dataset_get [-- IMAGES SIZE]` (default 16 synthetic 480x480 PNGs).
//!
//! Rows:
//! - `SrPatchDataset` epoch: build from the PNG folder (decode) + `get` every item.
//! - `SrPatchDataset` get only: `get` every item of an already built dataset (crop + bicubic),
//!   repeated for at least 0.5 s.
//! - `SrPatchDataset` decoding per item (`with_in_memory(false)`, BasicSR's disk backend): `get`
//!   decodes the PNG, crops and down-scales; repeated for at least 0.5 s.
//! - `IdcDataset` warm epoch: build over a warm cache (probe images, read shards) + `get` every
//!   item (the condenser is a fast stand-in, never called: every shard is already valid).
//! - `IdcDataset` warm get only: `get` every item of the built dataset (shards in the LRU),
//!   repeated for at least 0.5 s.
//!
//! The IDC rows serve `ratio x` as many items per image (r = 0.1), which is the point of
//! condensation; items/s compares the per-item cost at equal shapes.

use burn::data::dataset::Dataset;
use burn_idc::IdcDataset;
use burn_idc::PatchConfig;
use burn_idc::SrPair;
use burn_idc::SrPatchDataset;
use burn_idc::dataset::testing::FakeCondenser;
use burn_idc::write_synthetic_images;
use std::sync::Arc;
use std::time::Instant;

const BATCH: usize = 16;

/// Repeats [`epoch`] until at least half a second has passed; returns (items, seconds).
fn timed_epochs(ds: &impl Dataset<SrPair>) -> (usize, f64) {
    let t = Instant::now();
    let mut n = 0;
    while t.elapsed().as_secs_f64() < 0.5 {
        n += epoch(ds);
    }
    (n, t.elapsed().as_secs_f64())
}

/// Fetches every item in batches of `BATCH` (as a DataLoader would) and returns the count.
fn epoch(ds: &impl Dataset<SrPair>) -> usize {
    let mut n = 0;
    let mut batch = Vec::with_capacity(BATCH);
    for i in 0..ds.len() {
        if let Some(p) = ds.get(i) {
            batch.push(p);
        }
        if batch.len() == BATCH {
            n += batch.len();
            std::hint::black_box(&batch);
            batch.clear();
        }
    }
    n + batch.len()
}

fn main() -> anyhow::Result<()> {
    burn_idc::tune_allocator();
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let images: usize = args.first().map(|s| s.parse()).transpose()?.unwrap_or(16);
    let size: usize = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(480);
    let root = tempfile::tempdir()?;
    let hr = root.path().join("hr");
    write_synthetic_images(&hr, images, size)?;
    let patch = PatchConfig {
        scale: 2,
        hr_patch: 96,
        step: 48,
        thresh_size: 0,
        task: None,
    }
    .check()?;
    let cache = root.path().join("cache");
    let build_idc = || {
        IdcDataset::builder(&hr, patch.clone())
            .with_ratio(0.1)
            .with_cache_dir(&cache)
            .with_condenser(Arc::new(FakeCondenser::new(2, "bench")))
            .build()
    };
    // Fill the cache once (not timed).
    build_idc()?.condense_all()?;

    let mut rows = Vec::new();
    let t = Instant::now();
    let sr = SrPatchDataset::new(&hr, patch.clone())?;
    let n = epoch(&sr);
    rows.push((
        "SrPatchDataset epoch (decode PNGs + get)",
        n,
        t.elapsed().as_secs_f64(),
    ));
    let (n, secs) = timed_epochs(&sr);
    rows.push(("SrPatchDataset get only (images in memory)", n, secs));
    let lazy = SrPatchDataset::builder(&hr, patch.clone())
        .with_in_memory(false)
        .build()?;
    let (n, secs) = timed_epochs(&lazy);
    rows.push(("SrPatchDataset get, decoding the PNG per item", n, secs));

    let t = Instant::now();
    let idc = build_idc()?;
    let n = epoch(&idc);
    rows.push((
        "IdcDataset warm epoch (build + load shards + get)",
        n,
        t.elapsed().as_secs_f64(),
    ));
    assert_eq!(idc.stats().condensed, 0, "cache must be warm");
    let (n, secs) = timed_epochs(&idc);
    rows.push(("IdcDataset warm get only (shards in memory)", n, secs));

    println!(
        "dataset_get: {images} synthetic {size}x{size} PNGs, HR {0}x{0} / LR {1}x{1} patches, x2, batch {BATCH}",
        patch.hr_patch,
        patch.lr_patch()
    );
    println!(
        "{:<52} {:>8} {:>10} {:>12}",
        "case", "items", "seconds", "items/s"
    );
    let mut rate = Vec::new();
    for (name, n, s) in &rows {
        let r = *n as f64 / s.max(1e-9);
        rate.push(r);
        println!("{name:<52} {n:>8} {s:>10.4} {r:>12.0}");
    }
    println!(
        "speed-up of warm IdcDataset get (items/s): {:.1}x vs decoding PNGs per item, {:.1}x vs \
         images in memory; epoch (incl. build) {:.1}x",
        rate[4] / rate[2],
        rate[4] / rate[1],
        rate[3] / rate[0]
    );
    Ok(())
}
