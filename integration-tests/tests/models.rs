//! EDSR, weight import, training and evaluation (issue: ISR networks).
//!
//! - PyTorch parity: BasicSR 1.4.2 EDSR 16x2 (x2, x4) with fixed random weights, made by
//!   `reference/edsr_reference.py` (`fixtures/*.pth` + outputs as JSON): outputs within 1e-4,
//!   and BasicSR-protocol Set5 PSNR within 1e-3 dB of PyTorch's (when the data are there).
//! - `.pth` errors name the offending keys.
//! - Resume: 6 iterations in one go == 3 + resume 3, bit for bit, validation history included
//!   (also when the first invocation was killed before writing its summary); resume refusals.
//! - It learns: short seeded training of edsr-tiny x2 beats bicubic on Set5.
//! - CLI: `idc eval` (bicubic, .pth) and `idc upscale`.

use burn_idc::EdsrConfig;
use burn_idc::IdcError;
use burn_idc::SrPair;
use burn_idc::models::{PTH_SUPPORTED, load_basicsr_pth};
use burn_idc::train::{HrImageDataset, PairDataset};
use burn_idc::train::{InferOptions, evaluate_bicubic, evaluate_model_with};
use burn_idc::{DefaultBackend, TrainBackend, default_device};
use burn_idc::{Image, image::images_to_batch};
use burn_idc::{Teacher, load_model_dir};
use burn_idc::{TrainConfig, TrainOptions, train_sr};
use std::path::Path;

type B = DefaultBackend;
type AB = TrainBackend;

use integration_tests::reference::{fixtures, floats, max_abs_diff, read_json, shape4};

fn parity(scale: usize) {
    if !PTH_SUPPORTED {
        eprintln!("skipping: built without the `pytorch` feature");
        return;
    }
    let device = default_device();
    let reference = read_json(&fixtures().join(format!("edsr_16x2_x{scale}.json")));
    let cfg = EdsrConfig::from_arch("edsr:16x2", scale).unwrap();
    let model = load_basicsr_pth::<B>(
        &fixtures().join(format!("edsr_16x2_x{scale}.pth")),
        &cfg,
        &device,
    )
    .unwrap();
    let [_, c, h, w] = shape4(&reference["input_shape"]);
    let input = Image::new(c, h, w, floats(&reference["input"])).unwrap();
    let x = images_to_batch::<B>(&[input], &device).unwrap();
    let y = model.forward(x.clone());
    assert_eq!(y.dims(), shape4(&reference["output_shape"]));
    let out = y.into_data().into_vec::<f32>().unwrap();
    let d = max_abs_diff(&out, &floats(&reference["output"]));
    assert!(d <= 1e-4, "x{scale}: max |burn - pytorch| = {d}");
    let f = model.features(x).into_data().into_vec::<f32>().unwrap();
    // Features live in the x255 range: compare relative to that.
    let df = max_abs_diff(&f, &floats(&reference["features"]));
    assert!(df <= 255.0 * 1e-4, "x{scale}: features max diff {df}");
    eprintln!("x{scale}: max |output diff| {d:.2e}, max |feature diff| {df:.2e}");

    // BasicSR-protocol Set5 numbers equal PyTorch's.
    let set5 = fixtures().join(format!("edsr_16x2_x{scale}_set5.json"));
    let Some(dir) = integration_tests::data_path("test/Set5") else {
        assert!(
            !integration_tests::data_required(),
            "no test/Set5 under IDC_DATA and IDC_REQUIRE_DATA=1"
        );
        eprintln!("skipping Set5 parity: no data");
        return;
    };
    if !set5.is_file() {
        eprintln!("skipping Set5 parity: {} missing", set5.display());
        return;
    }
    let reference = read_json(&set5);
    let ours = evaluate_model_with(&model, &dir, scale, &InferOptions::default(), &device).unwrap();
    for key in ["psnr_rgb", "psnr_y"] {
        let r = reference["model"][key].as_f64().unwrap();
        let o = match key {
            "psnr_rgb" => ours.psnr_rgb,
            _ => ours.psnr_y,
        };
        assert!(
            (r - o).abs() <= 1e-3,
            "x{scale} {key}: burn {o} vs pytorch {r}"
        );
    }
    for key in ["ssim_rgb", "ssim_y"] {
        let r = reference["model"][key].as_f64().unwrap();
        let o = if key == "ssim_rgb" {
            ours.ssim_rgb
        } else {
            ours.ssim_y
        };
        assert!(
            (r - o).abs() <= 1e-5,
            "x{scale} {key}: burn {o} vs pytorch {r}"
        );
    }
    let bic = evaluate_bicubic(&dir, scale).unwrap();
    let r = reference["bicubic"]["psnr_rgb"].as_f64().unwrap();
    assert!(
        (r - bic.psnr_rgb).abs() <= 1e-3,
        "bicubic x{scale}: {} vs {r}",
        bic.psnr_rgb
    );
}

#[test]
fn pytorch_parity_x2() {
    parity(2);
}

#[test]
fn pytorch_parity_x4() {
    parity(4);
}

#[test]
fn pth_errors_name_the_keys() {
    if !PTH_SUPPORTED {
        eprintln!("skipping: built without the `pytorch` feature");
        return;
    }
    let device = default_device();
    let pth = fixtures().join("edsr_16x2_x2.pth");
    // x2 file read as x4: the second up-sampling conv is missing.
    let cfg = EdsrConfig::from_arch("edsr:16x2", 4).unwrap();
    match load_basicsr_pth::<B>(&pth, &cfg, &device) {
        Err(IdcError::Model(msg)) => assert!(msg.contains("upsample.2.weight"), "{msg}"),
        other => panic!("expected a model error, got {:?}", other.map(|_| ())),
    }
    // Three blocks expected, two in the file; and 8 features instead of 16 -> shape mismatch.
    let cfg = EdsrConfig::from_arch("edsr:16x3", 2).unwrap();
    match load_basicsr_pth::<B>(&pth, &cfg, &device) {
        Err(IdcError::Model(msg)) => assert!(msg.contains("body.2.conv1.weight"), "{msg}"),
        other => panic!("expected a model error, got {:?}", other.map(|_| ())),
    }
    let cfg = EdsrConfig::from_arch("edsr:8x2", 2).unwrap();
    match load_basicsr_pth::<B>(&pth, &cfg, &device) {
        Err(IdcError::Model(msg)) => {
            assert!(
                msg.contains("shape") && msg.contains("conv_first.weight"),
                "{msg}"
            )
        }
        other => panic!("expected a model error, got {:?}", other.map(|_| ())),
    }
    // Not a .pth at all.
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.pth");
    std::fs::write(&junk, b"not a pickle").unwrap();
    assert!(load_basicsr_pth::<B>(&junk, &cfg, &device).is_err());
}

/// Tiny synthetic training set: smooth random-ish images, LR = 2x2 box average of HR.
fn toy_set() -> PairDataset {
    let items = (0..6)
        .map(|i| {
            let (h, w) = (16, 16);
            let mut hr = Image::zeros(3, h, w);
            for c in 0..3 {
                for y in 0..h {
                    for x in 0..w {
                        let v = ((x as f32 * 0.3 + i as f32).sin()
                            * (y as f32 * 0.2 + c as f32).cos()
                            + 1.0)
                            / 2.0;
                        hr.data[(c * h + y) * w + x] = v;
                    }
                }
            }
            let mut lr = Image::zeros(3, h / 2, w / 2);
            for c in 0..3 {
                for y in 0..h / 2 {
                    for x in 0..w / 2 {
                        let s: f32 = [(0, 0), (0, 1), (1, 0), (1, 1)]
                            .iter()
                            .map(|(dy, dx)| hr.at(c, 2 * y + dy, 2 * x + dx))
                            .sum();
                        lr.data[(c * (h / 2) + y) * (w / 2) + x] = s / 4.0;
                    }
                }
            }
            SrPair { lr, hr }
        })
        .collect();
    PairDataset::new(items)
}

fn tiny_config(iters: usize) -> TrainConfig {
    let mut c = TrainConfig::new("edsr:8x1", 2, iters);
    c.batch = 2;
    c.lr_patch = 6;
    c.milestones = vec![4];
    c.checkpoint_every = 3;
    c.valid_every = 3;
    c.seed = 9;
    c
}

#[test]
fn resume_gives_the_same_weights() {
    let device = default_device();
    let root = tempfile::tempdir().unwrap();
    let (one, two) = (root.path().join("one"), root.path().join("two"));
    // Two generated 24x24 validation images (a unit fixture, not data).
    let valid = root.path().join("valid");
    std::fs::create_dir_all(&valid).unwrap();
    for k in 0..2usize {
        let data = (0..3 * 24 * 24)
            .map(|i| ((i * 29 + k * 71) % 256) as f32 / 255.0)
            .collect();
        let img = Image::new(3, 24, 24, data).unwrap();
        burn_idc::image::save_png(&valid.join(format!("v{k}.png")), &img).unwrap();
    }
    let valid = Some(valid.as_path());

    let opts = |iters, valid, dir: &Path, resume| {
        TrainOptions::new(tiny_config(iters).check().unwrap(), dir)
            .with_valid_dir(valid)
            .with_resume(resume)
    };
    let full = train_sr::<AB, _>(toy_set(), &opts(6, valid, &one, false), &device).unwrap();
    assert_eq!(full.iterations, 6);

    // Resume with nothing to resume from is an error, not a fresh start.
    let err = train_sr::<AB, _>(toy_set(), &opts(3, None, &two, true), &device);
    assert!(err.is_err());
    let half = train_sr::<AB, _>(toy_set(), &opts(3, valid, &two, false), &device).unwrap();
    assert_eq!(half.iterations, 3);
    // As if killed after its last checkpoint, before the summary was written: the validation
    // made before the kill must still be reported after the resume.
    std::fs::remove_file(two.join(burn_idc::train::SUMMARY_FILE)).unwrap();
    // Restarting into a used directory without --resume is refused.
    let again = train_sr::<AB, _>(toy_set(), &opts(6, None, &two, false), &device);
    assert!(matches!(again, Err(IdcError::InvalidInput(_))));
    // A different config cannot resume.
    let mut other = tiny_config(6);
    other.seed = 10;
    let other = TrainOptions::new(other.check().unwrap(), &two).with_resume(true);
    assert!(train_sr::<AB, _>(toy_set(), &other, &device).is_err());

    let resumed = train_sr::<AB, _>(toy_set(), &opts(6, valid, &two, true), &device).unwrap();
    assert_eq!(resumed.start_iteration, 3);
    assert_eq!(resumed.iterations, 6);
    let its =
        |s: &burn_idc::TrainSummary| s.validation.iter().map(|r| r.iteration).collect::<Vec<_>>();
    assert_eq!(its(&full), [3, 6]);
    assert!(full.validation.iter().all(|r| r.psnr_rgb.is_finite()));
    assert_eq!(
        resumed.validation, full.validation,
        "validation history after resume"
    );

    let (a, _) = load_model_dir::<B>(&one, &device).unwrap();
    let (b, _) = load_model_dir::<B>(&two, &device).unwrap();
    assert_eq!(
        Teacher::fingerprint(&a),
        Teacher::fingerprint(&b),
        "resumed weights differ"
    );
    // And training changed the weights at all.
    let init = EdsrConfig::from_arch("edsr:8x1", 2)
        .unwrap()
        .init_seeded::<B>(&device, 9);
    assert_ne!(Teacher::fingerprint(&a), Teacher::fingerprint(&init));
    assert_eq!(full.final_loss, resumed.final_loss);
}

/// Short seeded training of edsr-tiny x2 on the training images must beat bicubic on Set5.
///
/// 300 iterations, batch 8, LR patch 32, lr 5e-4 (2.5x BasicSR's 2e-4, to learn fast; 1e-3 was
/// measured to fall below bicubic at 200 iterations) halved at 250. Measured: 32.19 dB vs bicubic
/// 31.80 dB (RGB; Y 34.41 vs 33.68). Asserted margin: RGB PSNR >= bicubic + 0.25 dB.
/// About 2.5 minutes on 2 CPU cores.
#[test]
fn short_training_beats_bicubic_on_set5() {
    let train = integration_tests::require_data!("train/T91");
    let set5 = integration_tests::require_data!("test/Set5");
    let device = default_device();
    let out = tempfile::tempdir().unwrap();
    let iters = 300;
    let mut cfg = TrainConfig::new("edsr-tiny", 2, iters);
    cfg.batch = 8;
    cfg.lr_patch = 32;
    cfg.lr = 5e-4;
    cfg.milestones = vec![250];
    cfg.seed = 1;
    cfg.valid_every = iters;
    cfg.checkpoint_every = iters;
    let data = HrImageDataset::new(&train, 2, cfg.lr_patch).unwrap();
    let options = TrainOptions::new(cfg.check().unwrap(), out.path()).with_valid_dir(Some(&set5));
    let summary = train_sr::<AB, _>(data, &options, &device).unwrap();
    let bicubic = evaluate_bicubic(&set5, 2).unwrap();
    let (model, _) = load_model_dir::<B>(out.path(), &device).unwrap();
    let ours = evaluate_model_with(&model, &set5, 2, &InferOptions::default(), &device).unwrap();
    eprintln!(
        "edsr-tiny x2, {iters} iters: Set5 {:.3} dB (Y {:.3}) vs bicubic {:.3} dB (Y {:.3}); {:.1} s",
        ours.psnr_rgb, ours.psnr_y, bicubic.psnr_rgb, bicubic.psnr_y, summary.wall_seconds
    );
    // The validation inside training used the same protocol: same number.
    let last = summary.validation.last().expect("validation ran");
    assert_eq!(last.iteration, iters);
    assert!((last.psnr_rgb - ours.psnr_rgb).abs() < 1e-9);
    assert!(
        ours.psnr_rgb >= bicubic.psnr_rgb + 0.25,
        "trained {:.3} dB vs bicubic {:.3} dB",
        ours.psnr_rgb,
        bicubic.psnr_rgb
    );
}

#[test]
fn cli_eval_and_upscale() {
    let set5 = integration_tests::require_data!("test/Set5");
    let bic = integration_tests::run_idc_json([
        "eval",
        "--arch",
        "bicubic",
        "--test-dir",
        set5.to_str().unwrap(),
        "--scale",
        "2",
        "--json",
    ]);
    for k in ["psnr_rgb", "ssim_rgb", "psnr_y", "ssim_y"] {
        assert!(bic[k].as_f64().is_some(), "missing {k}: {bic}");
    }
    assert_eq!(bic["images"].as_array().unwrap().len(), 5);
    assert!(bic["images"][0]["file"].as_str().is_some());
    let y = bic["psnr_y"].as_f64().unwrap();
    // Bicubic x2 on Set5 is 33.66 dB (Y) in the literature.
    assert!((y - 33.66).abs() < 0.1, "bicubic Set5 x2 PSNR-Y {y}");

    if PTH_SUPPORTED {
        let pth = fixtures().join("edsr_16x2_x2.pth");
        let v = integration_tests::run_idc_json([
            "eval",
            "--weights",
            pth.to_str().unwrap(),
            "--arch",
            "edsr:16x2",
            "--test-dir",
            set5.to_str().unwrap(),
            "--scale",
            "2",
            "--json",
        ]);
        let r = read_json(&fixtures().join("edsr_16x2_x2_set5.json"));
        let d = (v["psnr_rgb"].as_f64().unwrap() - r["model"]["psnr_rgb"].as_f64().unwrap()).abs();
        assert!(d <= 1e-3, "idc eval vs pytorch: {d} dB");

        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("sr.png");
        let first = std::fs::read_dir(&set5)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let o = integration_tests::run_idc([
            "upscale",
            "--weights",
            pth.to_str().unwrap(),
            "--arch",
            "edsr:16x2",
            "--scale",
            "2",
            "--input",
            first.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let src = burn_idc::image::decode_image(&first).unwrap();
        let sr = burn_idc::image::decode_image(&out).unwrap();
        assert_eq!((sr.height, sr.width), (src.height * 2, src.width * 2));
    }
    // Both --model and --weights: refused.
    let o = integration_tests::run_idc([
        "eval",
        "--arch",
        "bicubic",
        "--model",
        "x",
        "--test-dir",
        set5.to_str().unwrap(),
        "--scale",
        "2",
    ]);
    assert!(!o.status.success());
}

#[test]
fn cli_train_writes_a_model_dir_and_refuses_silent_restarts() {
    let root = tempfile::tempdir().unwrap();
    let train = root.path().join("train");
    std::fs::create_dir(&train).unwrap();
    for (i, sz) in [(0usize, 40usize), (1, 36)] {
        let mut img = Image::zeros(3, sz, sz + 4);
        for (k, v) in img.data.iter_mut().enumerate() {
            *v = (((k * 37 + i * 11) % 97) as f32) / 96.0;
        }
        burn_idc::image::save_png(&train.join(format!("im{i}.png")), &img).unwrap();
    }
    let out = root.path().join("model");
    let args = |extra: &[&str]| {
        let mut v: Vec<String> = [
            "train",
            "--train-dir",
            train.to_str().unwrap(),
            "--scale",
            "2",
            "--model",
            "edsr:8x1",
            "--iters",
            "2",
            "--batch",
            "2",
            "--lr-patch",
            "8",
            "--out",
            out.to_str().unwrap(),
            "--valid-dir",
            train.to_str().unwrap(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    // --resume with nothing to resume: error, nothing trained.
    let o = integration_tests::run_idc(args(&["--resume"]));
    assert!(!o.status.success());
    let summary = integration_tests::run_idc_json(args(&[]));
    assert_eq!(summary["iterations"].as_u64(), Some(2));
    // 2 iterations: validation (and a checkpoint) every ceil(2 / 10) = 1 iteration.
    let valid = summary["validation"].as_array().unwrap();
    assert_eq!(valid.len(), 2);
    assert_eq!(valid[1]["iteration"].as_u64(), Some(2));
    let (model, cfg) = load_model_dir::<B>(&out, &default_device()).unwrap();
    assert_eq!(cfg, EdsrConfig::new(8, 1, 2).into());
    assert_eq!(
        summary["fingerprint"].as_str().unwrap(),
        Teacher::fingerprint(&model)
    );
    // Same --out again without --resume: refused (no silent restart from iteration 0).
    let o = integration_tests::run_idc(args(&[]));
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--resume"));
    // The model directory evaluates through the CLI.
    let v = integration_tests::run_idc_json([
        "eval",
        "--model",
        out.to_str().unwrap(),
        "--test-dir",
        train.to_str().unwrap(),
        "--scale",
        "2",
        "--json",
    ]);
    assert!(v["psnr_rgb"].as_f64().unwrap().is_finite());
}
