//! `idc export` and the paired-folder dataset (issue #28, items 2 and 3), on a real cache made
//! by the cheapest real path: `idc select --method random` over two BSD200 images.
//!
//! - the exported BasicSR set, read back with `PairedFolderDataset::basicsr`, gives the cache's
//!   pairs bit for bit, in `SelectionDataset` order; `meta_info.txt` names every HR file; the
//!   `--json` summary counts the pairs and the bytes on disk; a second export is byte-identical;
//! - a non-empty `--out` is refused without `--force` (no panic, `out` untouched), replaced with
//!   it; a damaged cache is refused naming the shard, and nothing is written;
//! - the Burn wrappers (`ShuffledDataset`, `PartialDataset`, `ComposedDataset`, `MapperDataset`)
//!   take both `SelectionDataset` and `PairedFolderDataset`, and the composition feeds Burn's
//!   `DataLoader` through `SrBatcher`.

use burn::data::dataloader::DataLoaderBuilder;
use burn::data::dataset::Dataset;
use burn::data::dataset::transform::{
    ComposedDataset, Mapper, MapperDataset, PartialDataset, ShuffledDataset,
};
use burn_idc::dataset::Transform;
use burn_idc::{DefaultBackend, PairedFolderDataset, SelectionDataset, SrBatch, SrBatcher, SrPair};
use integration_tests::{require_data, run_idc, run_idc_json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Copies the first `n` BSD200 images into `dir`.
fn copy_images(data: &Path, dir: &Path, n: usize) {
    let src = data.join("train").join("BSD200");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&src)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "png"))
        .collect();
    files.sort();
    std::fs::create_dir_all(dir).unwrap();
    for f in &files[..n] {
        std::fs::copy(f, dir.join(f.file_name().unwrap())).unwrap();
    }
}

/// `idc select --method random` (x2, 48x48 HR patches, 10%) of two real images into `root/cache`.
fn random_cache(root: &Path) -> PathBuf {
    let data = integration_tests::data_dir().unwrap();
    let hr = root.join("hr-images");
    copy_images(&data, &hr, 2);
    let cache = root.join("cache");
    let (hr_s, cache_s) = (hr.to_str().unwrap(), cache.to_str().unwrap());
    let v = run_idc_json([
        "select",
        "--method",
        "random",
        "--hr-dir",
        hr_s,
        "--cache",
        cache_s,
        "--scale",
        "2",
        "--ratio",
        "0.1",
        "--hr-patch",
        "48",
        "--step",
        "48",
        "--seed",
        "3",
        "--json",
    ]);
    assert!(v["selected"].as_u64().unwrap() > 2, "{v}");
    cache
}

fn export_json(cache: &Path, out: &Path, extra: &[&str]) -> serde_json::Value {
    let mut args = vec![
        "export",
        "--cache",
        cache.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--json",
    ];
    args.extend(extra);
    run_idc_json(args)
}

/// Every file under `dir` (relative path -> bytes).
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.insert(
                    p.strip_prefix(root).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn all_pairs(ds: &dyn Dataset<SrPair>) -> Vec<SrPair> {
    (0..ds.len()).map(|i| ds.get(i).expect("item")).collect()
}

#[test]
fn exported_basicsr_set_reads_back_bit_for_bit() {
    let _ = require_data!("train/BSD200");
    let work = tempfile::tempdir().unwrap();
    let cache = random_cache(work.path());
    let out = work.path().join("export");
    let v = export_json(&cache, &out, &[]);

    let sel = SelectionDataset::open(&cache).unwrap();
    let ds = PairedFolderDataset::basicsr(&out, 2).unwrap();
    assert_eq!(v["format"], "basicsr");
    assert_eq!(v["pairs"].as_u64(), Some(sel.len() as u64));
    assert_eq!(v["instances"].as_u64(), Some(sel.shard_count() as u64));
    assert_eq!(v["scale"], 2);
    let on_disk = files(&out);
    let bytes: usize = on_disk.values().map(Vec::len).sum();
    assert_eq!(v["bytes"].as_u64(), Some(bytes as u64));
    assert_eq!(on_disk.len(), 2 * sel.len() + 1);

    // the same pairs, in the same order, bit for bit (shards are 8-bit, PNG is lossless)
    assert_eq!(ds.len(), sel.len());
    let (exported, cached) = (all_pairs(&ds), all_pairs(&sel));
    for (i, (e, c)) in exported.iter().zip(&cached).enumerate() {
        assert_eq!(e.hr.to_u8(), c.hr.to_u8(), "HR {i}");
        assert_eq!(e.lr.to_u8(), c.lr.to_u8(), "LR {i}");
        assert_eq!(e, c, "pair {i}");
        assert_eq!((e.lr.height, e.hr.height), (24, 48));
    }
    // names: <shard stem>_<index>, the same file in HR/ and LR_bicubic/X2/
    let first = sel.shard_files()[0]
        .file_stem()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert_eq!(ds.stem(0), Some(format!("{first}_0000").as_str()));

    // meta_info.txt: one "<HR name> (h,w,c)" line per pair, the HR names relative to HR/
    let meta = std::fs::read_to_string(out.join("meta_info.txt")).unwrap();
    let names: Vec<&str> = meta.lines().map(|l| l.split(' ').next().unwrap()).collect();
    assert_eq!(names.len(), sel.len());
    for (i, line) in meta.lines().enumerate() {
        assert!(line.ends_with(" (48,48,3)"), "{line}");
        assert_eq!(Some(names[i].trim_end_matches(".png")), ds.stem(i));
        assert!(out.join("HR").join(names[i]).is_file());
        assert!(out.join("LR_bicubic/X2").join(names[i]).is_file());
    }

    // deterministic: a second export is byte-identical
    let again = work.path().join("again");
    export_json(&cache, &again, &[]);
    assert!(files(&again) == on_disk, "second export differs");

    // the plain layout holds the same PNGs
    let plain = work.path().join("plain");
    let v = export_json(&cache, &plain, &["--format", "folder"]);
    assert_eq!(v["pairs"].as_u64(), Some(sel.len() as u64));
    let plain_ds = PairedFolderDataset::folder(&plain, 2).unwrap();
    assert!(all_pairs(&plain_ds) == cached);
}

#[test]
fn export_refuses_non_empty_targets_and_damaged_caches() {
    let _ = require_data!("train/BSD200");
    let work = tempfile::tempdir().unwrap();
    let cache = random_cache(work.path());
    let out = work.path().join("export");
    export_json(&cache, &out, &["--format", "folder"]);
    let before = files(&out);

    let args = |out: &Path, extra: &[&str]| {
        let mut a = vec!["export", "--cache", cache.to_str().unwrap(), "--out"];
        a.push(out.to_str().unwrap());
        a.extend(extra);
        a.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let failed = |o: std::process::Output| {
        assert!(!o.status.success());
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(!err.contains("panicked"), "{err}");
        assert!(
            o.stdout.is_empty(),
            "stdout: {}",
            String::from_utf8_lossy(&o.stdout)
        );
        err
    };
    let err = failed(run_idc(args(&out, &["--json"])));
    assert!(
        err.contains("not empty") && err.contains("--force"),
        "{err}"
    );
    assert!(files(&out) == before, "refused export changed the target");
    let err = failed(run_idc(args(&out, &["--format", "zip"])));
    assert!(err.contains("basicsr | folder"), "{err}");

    // --force replaces the previous export (plain layout -> BasicSR layout)
    let v = export_json(&cache, &out, &["--force"]);
    assert_eq!(v["format"], "basicsr");
    assert!(out.join("HR").is_dir() && !out.join("hr").exists());

    // a flipped byte in one shard: refused, naming the shard; nothing written
    let shard = SelectionDataset::open(&cache).unwrap().shard_files()[0].clone();
    let mut bytes = std::fs::read(&shard).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    std::fs::write(&shard, bytes).unwrap();
    let fresh = work.path().join("fresh");
    let err = failed(run_idc(args(&fresh, &["--json"])));
    let name = shard.file_name().unwrap().to_string_lossy();
    assert!(
        err.contains("cache error") && err.contains(name.as_ref()),
        "{err}"
    );
    assert!(!fresh.exists());
    let left: Vec<_> = std::fs::read_dir(work.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(
        left.iter().all(|n| !n.to_string_lossy().starts_with('.')),
        "temp left: {left:?}"
    );
}

/// Horizontal flip of both patches, as a Burn `Mapper`.
struct HFlip;

impl Mapper<SrPair, SrPair> for HFlip {
    fn map(&self, p: &SrPair) -> SrPair {
        let t = Transform::new(true, false, false);
        SrPair {
            lr: t.apply(&p.lr),
            hr: t.apply(&p.hr),
        }
    }
}

#[test]
fn burn_wrappers_compose_selection_and_paired_folder_datasets() {
    let _ = require_data!("train/BSD200");
    let work = tempfile::tempdir().unwrap();
    let cache = random_cache(work.path());
    let out = work.path().join("export");
    export_json(&cache, &out, &[]);

    let selected = SelectionDataset::open(&cache).unwrap();
    let exported = PairedFolderDataset::basicsr(&out, 2).unwrap();
    let n = selected.len();
    // ComposedDataset takes one type: share both as Arc<dyn Dataset<SrPair>> (Burn implements
    // Dataset for it).
    let parts: Vec<Arc<dyn Dataset<SrPair>>> = vec![Arc::new(selected), Arc::new(exported)];
    let both = ComposedDataset::new(parts);
    assert_eq!(both.len(), 2 * n);
    for i in 0..n {
        assert!(
            both.get(i) == both.get(n + i),
            "item {i}: cache and export differ"
        );
    }
    assert!(both.get(2 * n).is_none());

    // ShuffledDataset takes the dataset and a seed (any `Into<RngSource>`)
    let order = |ds: &dyn Dataset<SrPair>| -> Vec<Vec<u8>> {
        (0..ds.len())
            .map(|i| ds.get(i).unwrap().hr.to_u8())
            .collect()
    };
    let plain = order(&both);
    let shuffled = ShuffledDataset::new(both, 7u64);
    let mixed = order(&shuffled);
    assert_ne!(mixed, plain, "not shuffled");
    let (mut a, mut b) = (mixed.clone(), plain.clone());
    a.sort();
    b.sort();
    assert_eq!(a, b, "shuffling changed the items");

    // PartialDataset::split wraps the dataset in an Arc and cuts contiguous ranges
    let halves = PartialDataset::split(shuffled, 2);
    assert_eq!(halves[0].len() + halves[1].len(), 2 * n);
    assert!(halves[1].get(0).unwrap().hr.to_u8() == mixed[halves[0].len()]);

    // MapperDataset applies a Mapper lazily per item
    let first = halves.into_iter().next().unwrap();
    let expected = HFlip.map(&first.get(0).unwrap());
    let flipped = MapperDataset::new(first, HFlip);
    let item = flipped.get(0).unwrap();
    assert!(item == expected);
    assert_ne!(item.hr.to_u8(), mixed[0], "the mapper did nothing");

    // ... and the whole stack feeds Burn's DataLoader through SrBatcher
    let loader =
        DataLoaderBuilder::<DefaultBackend, SrPair, SrBatch<DefaultBackend>>::new(SrBatcher::new())
            .batch_size(2)
            .build(flipped);
    let batch = loader.iter().next().unwrap();
    assert_eq!(batch.lr.dims(), [2, 3, 24, 24]);
    assert_eq!(batch.hr.dims(), [2, 3, 48, 48]);
}
