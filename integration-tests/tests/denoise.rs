//! Colour denoising (issue #19): the noisy-input baseline against a NumPy reference, and a
//! briefly trained denoiser beating it on real CBSD68 images. Data-backed tests skip when
//! `$IDC_DATA` is absent (unless `IDC_REQUIRE_DATA=1`).
//!
//! Run alone: `IDC_DATA=/work/shared/data cargo test -p integration-tests --test denoise`.

use burn_idc::task::Task;
use burn_idc::train::data::HrImageDataset;
use burn_idc::train::eval::{InferOptions, evaluate_noisy, evaluate_task};
use burn_idc::{TrainBackend, TrainConfig, TrainOptions, default_device, train_sr};
use std::path::{Path, PathBuf};

const SIGMA: f32 = 50.0;

fn reference() -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("reference/denoise_reference.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn data_or_skip(rel: &str) -> Option<PathBuf> {
    let dir = integration_tests::data_path(rel);
    if dir.is_none() {
        assert!(
            !integration_tests::data_required(),
            "no {rel} under IDC_DATA and IDC_REQUIRE_DATA=1"
        );
        eprintln!("skipping: no {rel}");
    }
    dir
}

/// `idc eval --task denoise --sigma 50 --arch noisy --json` equals NumPy's statistic (other noise
/// draws, same protocol) within 0.05 dB on every denoising set.
#[test]
fn noisy_baseline_matches_numpy() {
    let reference = reference();
    assert_eq!(reference["sigma"].as_f64(), Some(f64::from(SIGMA)));
    for set in ["CBSD68", "Kodak24", "McMaster"] {
        let Some(dir) = data_or_skip(&format!("denoise/{set}")) else {
            return;
        };
        let report = integration_tests::run_idc_json([
            "eval",
            "--task",
            "denoise",
            "--sigma",
            "50",
            "--arch",
            "noisy",
            "--json",
            "--test-dir",
            dir.to_str().unwrap(),
        ]);
        let ours = report["psnr_rgb"].as_f64().unwrap();
        let want = reference["sets"][set]["psnr_rgb"].as_f64().unwrap();
        let n = reference["sets"][set]["images"].as_u64().unwrap() as usize;
        assert_eq!(report["images"].as_array().unwrap().len(), n, "{set}");
        eprintln!("{set}: noisy PSNR ours {ours:.4} dB, NumPy {want:.4} dB");
        assert!((ours - want).abs() < 0.05, "{set}: {ours} vs NumPy {want}");
    }
}

/// The CLI refuses mismatched task flags with a clear message (no panic).
#[test]
fn task_flags_are_checked() {
    for args in [
        &[
            "eval",
            "--task",
            "denoise",
            "--arch",
            "noisy",
            "--test-dir",
            ".",
        ][..],
        &[
            "eval",
            "--task",
            "denoise",
            "--sigma",
            "50",
            "--scale",
            "2",
            "--arch",
            "noisy",
            "--test-dir",
            ".",
        ],
        &[
            "eval",
            "--task",
            "sr",
            "--scale",
            "2",
            "--arch",
            "noisy",
            "--test-dir",
            ".",
        ],
        &[
            "eval",
            "--task",
            "jpeg",
            "--arch",
            "noisy",
            "--test-dir",
            ".",
        ],
    ] {
        let out = integration_tests::run_idc(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

/// Copies the first `n` images of `src` (sorted) into `dst` (a temp folder; never the repo).
fn first_images(src: &Path, dst: &Path, n: usize) {
    std::fs::create_dir_all(dst).unwrap();
    let mut files: Vec<PathBuf> = std::fs::read_dir(src)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for f in files.into_iter().take(n) {
        std::fs::copy(&f, dst.join(f.file_name().unwrap())).unwrap();
    }
}

/// A small EDSR trained for 200 steps on 12 BSD200 images (noise redrawn per sample)
/// beats the noisy input on 6 CBSD68 images by a wide margin (measured at 300 steps: 15.10 dB ->
/// 23.64 dB; asserted: +5 dB and +0.2 SSIM).
#[test]
fn brief_training_beats_the_noisy_input() {
    let (Some(train), Some(test)) = (data_or_skip("train/BSD200"), data_or_skip("denoise/CBSD68"))
    else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let (train_dir, test_dir) = (root.path().join("train"), root.path().join("test"));
    first_images(&train, &train_dir, 12);
    first_images(&test, &test_dir, 6);
    let task = Task::Denoise { sigma: SIGMA };
    let mut config = TrainConfig::for_task("edsr:16x2", task, 200);
    config.batch = 8;
    config.lr_patch = 32;
    config.lr = 1e-3;
    config.milestones = vec![150];
    config.seed = 3;
    let data = HrImageDataset::for_task(&train_dir, &task, config.lr_patch).unwrap();
    let device = default_device();
    let options = TrainOptions::new(config, root.path().join("model"));
    train_sr::<TrainBackend, _>(data, &options, &device).unwrap();
    let (model, cfg) =
        burn_idc::load_model_dir::<burn_idc::DefaultBackend>(&root.path().join("model"), &device)
            .unwrap();
    assert_eq!(cfg.upscale, 1, "a denoiser keeps the size");
    let noisy = evaluate_noisy(&test_dir, &task).unwrap();
    let ours = evaluate_task(&model, &test_dir, &task, &InferOptions::default(), &device).unwrap();
    eprintln!(
        "CBSD68 (6 images, sigma 50): noisy {:.2} dB / SSIM {:.3}, trained {:.2} dB / SSIM {:.3}",
        noisy.psnr_rgb, noisy.ssim_rgb, ours.psnr_rgb, ours.ssim_rgb
    );
    assert!(
        ours.psnr_rgb > noisy.psnr_rgb + 5.0,
        "trained {} dB vs noisy {} dB",
        ours.psnr_rgb,
        noisy.psnr_rgb
    );
    assert!(ours.ssim_rgb > noisy.ssim_rgb + 0.2);
}
