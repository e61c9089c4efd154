//! `idc condense --batch-instances K` (issue #15): shards condensed K instances at a time verify,
//! match one-at-a-time shards within one 8-bit level, and are byte-identical across runs.
//! Small generated images and a tiny random-init EDSR keep it fast on 2 cores.

use burn_idc::cache::read_shard;
use burn_idc::image::save_png;
use burn_idc::image::synthetic_image;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// HR images of different sizes (so different patch counts), a tiny extractor and a few-step
/// config; returns the `idc condense` arguments without `--cache`.
fn fixture(root: &Path) -> Vec<String> {
    let hr = root.join("hr");
    std::fs::create_dir_all(&hr).unwrap();
    for k in 0..5 {
        let (h, w) = (32, 32 + 16 * (k % 3));
        let im = synthetic_image(k, w).crop(0, 0, h, w).unwrap();
        save_png(&hr.join(format!("img{k:02}.png")), &im).unwrap();
    }
    integration_tests::condense_args(root, &hr, 6, Some("0.25"))
}

fn condense(args: &[String], cache: &Path, batch: usize) -> serde_json::Value {
    let mut a = args.to_vec();
    a.extend([
        "--cache".into(),
        cache.to_str().unwrap().into(),
        "--batch-instances".into(),
        batch.to_string(),
    ]);
    integration_tests::run_idc_json(&a)
}

fn shards(dir: &Path) -> BTreeMap<String, PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "shard"))
        .map(|p| (p.file_name().unwrap().to_string_lossy().to_string(), p))
        .collect()
}

#[test]
fn batched_condense_verifies_and_matches_one_at_a_time() {
    let root = tempfile::tempdir().unwrap();
    let args = fixture(root.path());
    let single = root.path().join("k1");
    let batched = root.path().join("k3");
    let again = root.path().join("k3-again");
    for (cache, k) in [(&single, 1), (&batched, 3), (&again, 3)] {
        let v = condense(&args, cache, k);
        assert_eq!(v["condensed"], 5, "{v}");
        assert_eq!(v["failed"], 0, "{v}");
        assert_eq!(v["batch_instances"], k, "{v}");
    }
    // A warm batched run loads every shard.
    let warm = condense(&args, &batched, 3);
    assert_eq!(warm["loaded"], 5, "{warm}");

    let inspect = integration_tests::run_idc_json([
        "inspect",
        "--cache",
        batched.to_str().unwrap(),
        "--verify",
        "--json",
    ]);
    assert_eq!(inspect["valid"], 5, "{inspect}");

    let (a, b, c) = (shards(&single), shards(&batched), shards(&again));
    assert_eq!(a.len(), 5);
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    let (mut close, mut total) = (0usize, 0usize);
    for (name, pa) in &a {
        assert_eq!(
            std::fs::read(&b[name]).unwrap(),
            std::fs::read(&c[name]).unwrap(),
            "{name}: two batched runs differ"
        );
        let (sa, sb) = (
            read_shard(pa, None).unwrap(),
            read_shard(&b[name], None).unwrap(),
        );
        assert_eq!(sa.len(), sb.len());
        for (x, y) in sa.lr.iter().chain(&sa.hr).zip(sb.lr.iter().chain(&sb.hr)) {
            for (p, q) in x.data.iter().zip(&y.data) {
                total += 1;
                close += usize::from((p - q).abs() <= 1.0 / 255.0 + 1e-6);
            }
        }
    }
    let frac = close as f64 / total as f64;
    eprintln!("{close}/{total} pixels within one level ({frac})");
    assert!(
        frac >= 0.999,
        "only {frac} of pixels within one 8-bit level"
    );
}
