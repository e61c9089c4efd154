//! Foundation parity and robustness tests on real images: BasicSR 1.4.2 reference numbers
//! (`integration-tests/reference/basicsr_reference.json`, made by `basicsr_reference.py`), the
//! `idc resize|metrics|patches` commands, and bad input files.
//!
//! Set `IDC_BASICSR_REF=/path/to/other.json` to check against a reference generated for other
//! images (same script, `--images ...`).

use burn_idc::IdcError;
use burn_idc::Image;
use burn_idc::image::count_patches;
use burn_idc::image::{
    decode_image, decode_rgb8, image_to_u8, list_images, quantize_image, save_png,
};
use burn_idc::image::{imresize, mod_crop};
use burn_idc::metrics::{psnr_ssim, psnr_ssim_u8};
use burn_idc::{PatchConfig, cache::hex_sha256};
use integration_tests::{require_data, run_idc, run_idc_json};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn reference() -> Value {
    let path = std::env::var_os("IDC_BASICSR_REF")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("reference/basicsr_reference.json")
        });
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).expect("reference JSON")
}

fn arr(v: &Value) -> &Vec<Value> {
    v.as_array().expect("array")
}

fn num(v: &Value) -> f64 {
    v.as_f64().expect("number")
}

/// Integer 2x2 box blur with edge replication (the reference script's `box_degrade`).
fn box_degrade(hr: &[u8], c: usize, h: usize, w: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(hr.len());
    for ch in 0..c {
        let at = |y: usize, x: usize| hr[(ch * h + y.min(h - 1)) * w + x.min(w - 1)] as u32;
        for y in 0..h {
            for x in 0..w {
                let s = at(y, x) + at(y, x + 1) + at(y + 1, x) + at(y + 1, x + 1) + 2;
                out.push((s / 4) as u8);
            }
        }
    }
    out
}

/// Agreement of our 8-bit array with a reference digest: (equal fraction over samples, max
/// abs diff over samples, |sum difference|, identical hash).
fn compare_digest(ours: &[u8], d: &Value) -> (f64, u8, u64, bool) {
    let idx = arr(&d["idx"]);
    let val = arr(&d["val"]);
    let mut equal = 0usize;
    let mut max = 0u8;
    for (i, v) in idx.iter().zip(val) {
        let a = ours[i.as_u64().unwrap() as usize];
        let b = v.as_u64().unwrap() as u8;
        equal += (a == b) as usize;
        max = max.max(a.abs_diff(b));
    }
    let sum: u64 = ours.iter().map(|&v| v as u64).sum();
    let sum_diff = sum.abs_diff(d["sum"].as_u64().unwrap());
    let same = hex_sha256(ours) == d["sha256"].as_str().unwrap();
    (equal as f64 / idx.len() as f64, max, sum_diff, same)
}

#[test]
fn resize_and_metrics_match_basicsr() {
    let data = require_data!();
    let reference = reference();
    let mut worst_psnr = 0.0f64;
    let mut worst_ssim = 0.0f64;
    let mut lr_identical = 0;
    let mut lr_total = 0;
    for entry in arr(&reference["images"]) {
        let file = entry["file"].as_str().unwrap();
        let path = data.join(file);
        assert!(path.exists(), "{file} missing from {}", data.display());
        let img = decode_image(&path).unwrap();
        assert_eq!(
            hex_sha256(&img.to_u8()),
            entry["sha256"].as_str().unwrap(),
            "{file}: decoded pixels differ from OpenCV's"
        );
        for sc in arr(&entry["scales"]) {
            let s = sc["scale"].as_u64().unwrap() as usize;
            let hr = mod_crop(&img, s);
            let hr_size: Vec<usize> = arr(&sc["hr_size"])
                .iter()
                .map(|v| v.as_u64().unwrap() as usize)
                .collect();
            assert_eq!(vec![hr.height, hr.width], hr_size);

            // LR: >= 99.9% of pixels equal after rounding, none off by more than 1.
            let lr = quantize_image(&imresize(&hr, 1.0 / s as f64).unwrap());
            let lr8 = lr.to_u8();
            let shape: Vec<usize> = arr(&sc["lr"]["shape"])
                .iter()
                .map(|v| v.as_u64().unwrap() as usize)
                .collect();
            assert_eq!(vec![lr.channels, lr.height, lr.width], shape, "{file} x{s}");
            let (eq, max, sum_diff, same) = compare_digest(&lr8, &sc["lr"]);
            eprintln!(
                "{file} x{s}: LR identical={same} sampled-equal={:.5} max-diff={max} |sum diff|={sum_diff}",
                eq
            );
            lr_total += 1;
            lr_identical += same as usize;
            assert!(max <= 1, "{file} x{s}: LR differs by {max}");
            assert!(
                eq >= 0.999,
                "{file} x{s}: only {eq} of sampled LR pixels equal"
            );
            assert!(
                sum_diff as f64 <= 0.001 * lr8.len() as f64,
                "{file} x{s}: LR sums differ by {sum_diff}"
            );

            let hr8 = hr.to_u8();
            let (c, h, w) = (hr.channels, hr.height, hr.width);
            // Metrics on the integer box degradation: bit-identical inputs, strict bounds.
            let boxed = box_degrade(&hr8, c, h, w);
            assert_eq!(hex_sha256(&boxed), sc["box_sha256"].as_str().unwrap());
            // Metrics on bicubic SR: strict when our SR is bit-identical, else reported.
            let sr8 = image_to_u8(&imresize(&lr, s as f64).unwrap());
            let sr_same = hex_sha256(&sr8) == sc["sr_sha256"].as_str().unwrap();
            for (kind, img8, strict) in [("box", &boxed, true), ("bicubic", &sr8, sr_same)] {
                let m = &sc["metrics"][kind];
                for (y, tag) in [(false, "rgb"), (true, "y")] {
                    let (p, ss) = psnr_ssim_u8(img8, &hr8, c, h, w, s, y).unwrap();
                    let dp = (p - num(&m[format!("psnr_{tag}")])).abs();
                    let ds = (ss - num(&m[format!("ssim_{tag}")])).abs();
                    if strict {
                        worst_psnr = worst_psnr.max(dp);
                        worst_ssim = worst_ssim.max(ds);
                        assert!(dp <= 1e-4, "{file} x{s} {kind} {tag}: PSNR off by {dp}");
                        assert!(ds <= 1e-5, "{file} x{s} {kind} {tag}: SSIM off by {ds}");
                    } else {
                        eprintln!(
                            "{file} x{s} {kind} {tag}: SR not identical; PSNR diff {dp:.2e} SSIM diff {ds:.2e}"
                        );
                        assert!(
                            dp <= 0.01 && ds <= 1e-4,
                            "{file} x{s} {kind} {tag}: {dp} {ds}"
                        );
                    }
                }
            }
        }
    }
    eprintln!(
        "parity: {lr_identical}/{lr_total} LR images bit-identical; max |PSNR diff| {worst_psnr:.3e} dB, max |SSIM diff| {worst_ssim:.3e}"
    );
    // Every reference image and scale was compared (a missing image is a failure, not a skip).
    let expected: usize = arr(&reference["images"])
        .iter()
        .map(|e| arr(&e["scales"]).len())
        .sum();
    assert!(expected > 0, "the reference lists no images");
    assert_eq!(
        lr_total, expected,
        "compared {lr_total} of {expected} image-scale pairs"
    );
}

#[test]
fn jpeg_decoding_is_close_to_opencv() {
    let data = require_data!();
    let reference = reference();
    for d in arr(&reference["jpegs"]) {
        let file = d["file"].as_str().unwrap();
        let path = data.join(file);
        if !path.exists() {
            continue;
        }
        let img = decode_rgb8(&path).unwrap();
        let shape: Vec<usize> = arr(&d["shape"])
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        assert_eq!(vec![3, img.height, img.width], shape);
        let (eq, max, sum_diff, same) = compare_digest(&img.data, d);
        eprintln!(
            "{file}: identical={same} sampled-equal={eq:.5} max-diff={max} |sum diff|={sum_diff}"
        );
        // zune-jpeg and libjpeg use different IDCT/upsampling rounding: close, not identical.
        assert!(
            eq >= 0.5 && max <= 8,
            "{file}: JPEG decoding far from OpenCV ({eq}, {max})"
        );
    }
}

#[test]
fn cli_resize_metrics_patches_agree_with_the_library() {
    let data = require_data!("test/Set5");
    let tmp = tempfile::tempdir().unwrap();
    let hr_path = data.join("bird.png");
    assert!(hr_path.exists(), "no bird.png in {}", data.display());
    let hr = mod_crop(&decode_image(&hr_path).unwrap(), 4);
    let hr_file = tmp.path().join("hr.png");
    save_png(&hr_file, &hr).unwrap();

    // resize down then up through the CLI; outputs equal the library's, quantised.
    let lr_file = tmp.path().join("lr.png");
    let sr_file = tmp.path().join("sr.png");
    let out = run_idc([
        "resize",
        "--input",
        hr_file.to_str().unwrap(),
        "--output",
        lr_file.to_str().unwrap(),
        "--scale",
        "0.25",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lr_lib = quantize_image(&imresize(&hr, 0.25).unwrap());
    assert_eq!(decode_image(&lr_file).unwrap(), lr_lib);
    let out = run_idc([
        "resize",
        "--input",
        lr_file.to_str().unwrap(),
        "--output",
        sr_file.to_str().unwrap(),
        "--scale",
        "4",
    ]);
    assert!(out.status.success());
    let sr_lib = quantize_image(&imresize(&lr_lib, 4.0).unwrap());
    assert_eq!(decode_image(&sr_file).unwrap(), sr_lib);

    for y in [false, true] {
        let mut args = vec![
            "metrics",
            "--sr",
            sr_file.to_str().unwrap(),
            "--hr",
            hr_file.to_str().unwrap(),
            "--crop-border",
            "4",
            "--json",
        ];
        if y {
            args.push("--y-channel");
        }
        let v = run_idc_json(args);
        let (p, s) = psnr_ssim(&sr_lib, &hr, 4, y).unwrap();
        assert!((num(&v["psnr"]) - p).abs() < 1e-9);
        assert!((num(&v["ssim"]) - s).abs() < 1e-12);
        assert!(p > 20.0 && p < 40.0 && s > 0.5 && s < 1.0);
    }
    // Identical images: PSNR "inf" (JSON has no infinity), SSIM 1.
    let v = run_idc_json([
        "metrics",
        "--sr",
        hr_file.to_str().unwrap(),
        "--hr",
        hr_file.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(v["psnr"], "inf");
    assert!((num(&v["ssim"]) - 1.0).abs() < 1e-12);

    // patches on Set5: totals equal the library's grid counts.
    let v = run_idc_json([
        "patches",
        "--hr-dir",
        data.to_str().unwrap(),
        "--scale",
        "2",
        "--hr-patch",
        "96",
        "--step",
        "48",
        "--json",
    ]);
    let files = list_images(&data).unwrap();
    assert_eq!(v["images"].as_u64().unwrap() as usize, files.len());
    let cfg = PatchConfig {
        scale: 2,
        hr_patch: 96,
        step: 48,
        thresh_size: 0,
        task: None,
    };
    let mut total = 0;
    for (f, item) in files.iter().zip(arr(&v["per_image"])) {
        let img = decode_rgb8(f).unwrap();
        let n = count_patches(img.height, img.width, &cfg);
        assert_eq!(
            item["file"].as_str().unwrap(),
            f.file_name().unwrap().to_str().unwrap()
        );
        assert_eq!(item["patches"].as_u64().unwrap() as usize, n);
        total += n;
    }
    assert_eq!(v["patches"].as_u64().unwrap() as usize, total);
    // bird.png is 288x288: origins 0,48,...,192 per axis -> 25 patches.
    let bird = arr(&v["per_image"])
        .iter()
        .find(|i| i["file"] == "bird.png")
        .unwrap();
    assert_eq!(bird["patches"], 25);
}

/// Fixtures written from code: every bad-file kind gives its documented result, never a panic.
#[test]
fn bad_images_give_documented_results() {
    use burn_idc::image::encode_png;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let textured = |c: usize, h: usize, w: usize| {
        let data: Vec<u8> = (0..c * h * w).map(|i| (i * 7 % 256) as u8).collect();
        Image::from_u8(c, h, w, &data).unwrap()
    };
    std::fs::write(dir.join("zero.png"), b"").unwrap();
    std::fs::write(dir.join("text.png"), b"hello, I am text\n").unwrap();
    let good = encode_png(&textured(3, 40, 40)).unwrap();
    std::fs::write(dir.join("trunc.png"), &good[..good.len() / 3]).unwrap();
    // Grey through the library's encoder (16-bit and RGBA fixtures need the `image` crate and are
    // covered by the unit tests in src/image/io.rs).
    save_png(&dir.join("grey.png"), &textured(1, 20, 24)).unwrap();

    assert!(matches!(
        decode_image(&dir.join("zero.png")),
        Err(IdcError::Decode { .. })
    ));
    assert!(matches!(
        decode_image(&dir.join("text.png")),
        Err(IdcError::Decode { .. })
    ));
    assert!(matches!(
        decode_image(&dir.join("trunc.png")),
        Err(IdcError::Decode { .. })
    ));
    let grey = decode_image(&dir.join("grey.png")).unwrap();
    assert_eq!(grey.channels, 3);
    assert_eq!(grey.plane(0), grey.plane(2));
    assert_eq!(grey.plane(0), textured(1, 20, 24).data.as_slice());

    // CLI: a bad file is a clean error exit, not a panic.
    for bad in ["zero.png", "text.png", "trunc.png", "missing.png"] {
        let p = dir.join(bad);
        let out = run_idc([
            "metrics",
            "--sr",
            p.to_str().unwrap(),
            "--hr",
            p.to_str().unwrap(),
            "--json",
        ]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{bad}");
        assert!(!err.contains("panicked"), "{bad}: {err}");
        assert!(out.stdout.is_empty(), "{bad}: no JSON on failure");
    }
    // patches on the folder fails on the first bad file with its name.
    let out = run_idc([
        "patches",
        "--hr-dir",
        dir.to_str().unwrap(),
        "--scale",
        "2",
        "--hr-patch",
        "8",
        "--step",
        "8",
        "--json",
    ]);
    assert!(!out.status.success());
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
}
