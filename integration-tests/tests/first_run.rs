//! The first hour of a new user (issue #18) on real images: `idc condense` with the built-in
//! model and photographs, the contact sheet, `idc train --cache` on the result, `idc train
//! --condense-ratio` condensing while training, and the built-in model's documented Set5 score.
//! Condensation runs a few steps only (`CONFIG`): these tests check the plumbing, not quality.

use burn_idc::cli::sheet::sheet_size;
use burn_idc::image::decode_image;
use integration_tests::{idc_bin, require_data, workspace_root};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A few-step condense config (the schedule shrunk to fit).
const CONFIG: &str = r#"{"iters": 4, "warmup": 1, "assign": 1, "assign_every": 2}"#;
/// Set5 PSNR (Y, dB) of the built-in x2 model as documented in models/README.md.
const BUILTIN_X2_SET5_PSNR_Y: f64 = 34.780;

/// Copies three small real training images (>= 100 px a side) into `dir`.
fn real_images(data: &Path, dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for name in ["t24.bmp", "t9.bmp", "t12.bmp"] {
        std::fs::copy(data.join("train/T91").join(name), dir.join(name)).unwrap();
    }
}

fn config(root: &Path) -> PathBuf {
    let p = root.join("condense.json");
    std::fs::write(&p, CONFIG).unwrap();
    p
}

/// Runs `idc args` (no `IDC_DATA`, work dir under `root`), asserts success, returns stdout and
/// stderr.
fn idc(root: &Path, args: &[&str]) -> (String, String) {
    let out = Command::new(idc_bin())
        .args(args)
        .current_dir(root)
        .env_remove("IDC_DATA")
        .env("IDC_WORK_DIR", root.join("work"))
        .output()
        .unwrap();
    let (so, se) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(out.status.success(), "idc {args:?} failed:\n{so}\n{se}");
    (so, se)
}

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s.trim()).unwrap_or_else(|e| panic!("not one JSON object ({e}): {s}"))
}

fn shards(cache: &Path) -> usize {
    std::fs::read_dir(cache)
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "shard"))
        .count()
}

/// Acceptance: condense (built-in model) -> summary with bytes and the next command -> the
/// contact sheet decodes at its size -> `idc train --cache` trains on the shards; the cache root
/// holds no lock file, no model and no generated input.
#[test]
fn condense_then_train_on_the_cache_and_draw_the_sheet() {
    let data = require_data!();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    real_images(&data, &root.join("hr"));
    let cfg = config(root);
    let (_, err) = idc(
        root,
        &[
            "condense",
            "--hr-dir",
            "hr",
            "--cache",
            "c",
            "--config",
            cfg.to_str().unwrap(),
        ],
    );
    assert!(err.contains("built-in pretrained"), "{err}");
    assert!(err.contains("next: idc train --cache c"), "{err}");
    assert!(err.contains("of source images"), "{err}");
    let cache = root.join("c");
    assert_eq!(shards(&cache), 3);
    let root_names: Vec<String> = std::fs::read_dir(&cache)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        root_names.iter().all(|n| !n.ends_with(".lock")),
        "{root_names:?}"
    );
    assert!(cache.join(".locks").is_dir());
    let (w, h) = sheet_size(3);
    let sheet = decode_image(&cache.join("contact-sheet.png")).unwrap();
    assert_eq!((sheet.width, sheet.height), (w, h));

    let (out, _) = idc(root, &["inspect", "--cache", "c", "--sheet", "s.png"]);
    assert!(
        out.contains("3 valid") && out.contains("train on it"),
        "{out}"
    );
    let drawn = decode_image(&root.join("s.png")).unwrap();
    assert_eq!((drawn.width, drawn.height, drawn.channels), (w, h, 3));
    assert!(
        drawn.data.iter().any(|&v| v < 0.5),
        "the sheet is not blank"
    );

    let (out, _) = idc(
        root,
        &["train", "--cache", "c", "--iters", "3", "--batch", "2"],
    );
    let v = json(&out);
    assert_eq!(v["iterations"], 3, "{v}");
    assert_eq!(v["config"]["scale"], 2, "{v}");
    assert!(root.join("c-run").join("config.json").is_file());
}

/// Acceptance: `idc train --train-dir D --condense-ratio R --cache C` trains while condensing D
/// into C (shards appear, valid), with the built-in model.
#[test]
fn train_condenses_lazily_with_condense_ratio() {
    let data = require_data!();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    real_images(&data, &root.join("hr"));
    let cfg = config(root);
    let (out, _) = idc(
        root,
        &[
            "train",
            "--train-dir",
            "hr",
            "--condense-ratio",
            "0.1",
            "--cache",
            "c",
            "--scale",
            "2",
            "--iters",
            "3",
            "--batch",
            "2",
            "--out",
            "run",
            "--condense-config",
            cfg.to_str().unwrap(),
        ],
    );
    assert_eq!(json(&out)["iterations"], 3);
    let condensed = shards(&root.join("c"));
    assert!(condensed >= 1, "no shard condensed while training");
    let (out, _) = idc(root, &["inspect", "--cache", "c", "--json"]);
    let v = json(&out);
    assert_eq!(v["valid"].as_u64().unwrap() as usize, condensed, "{v}");
}

/// Acceptance: with no --hr-dir and no IDC_DATA, `idc condense` condenses the built-in
/// photographs (written to the work dir, not the cache).
#[test]
fn default_input_is_the_built_in_photographs() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let cfg = config(root);
    let (out, _) = idc(
        root,
        &["condense", "--config", cfg.to_str().unwrap(), "--json"],
    );
    let v = json(&out);
    assert_eq!(v["condensed"], 4, "{v}");
    assert!(
        v["hr_dir"]
            .as_str()
            .unwrap()
            .starts_with(root.join("work").to_str().unwrap())
    );
    assert_eq!(shards(&root.join("idc-cache")), 4);
    assert!(!root.join("idc-cache").join("photos").exists());
}

/// Acceptance: the shipped x2 weights reproduce their documented Set5 score through `idc eval`.
#[test]
fn builtin_x2_reproduces_its_documented_set5_score() {
    let set5 = require_data!("test/Set5");
    let model = workspace_root().join("models").join("edsr-16x2-x2");
    let v = integration_tests::run_idc_json([
        "eval".as_ref(),
        "--model".as_ref(),
        model.as_os_str(),
        "--test-dir".as_ref(),
        set5.as_os_str(),
        "--scale".as_ref(),
        "2".as_ref(),
        "--json".as_ref(),
    ]);
    let psnr = v["psnr_y"].as_f64().unwrap();
    assert!(
        (psnr - BUILTIN_X2_SET5_PSNR_Y).abs() <= 0.01,
        "Set5 PSNR-Y {psnr} vs documented {BUILTIN_X2_SET5_PSNR_Y}"
    );
}
