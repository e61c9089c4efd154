//! Issue #25, item 1: realism measures of condensed patches.
//!
//! - On a real image (T91 `t25`, cut by the crate's patch grid): a random half of its LR patches
//!   against the other half scores ~0 saturation excess, hf ratio ~1, a small histogram distance
//!   and nothing out of gamut; a saturated, out-of-gamut speckle set against the same patches
//!   scores far outside the real subsets' spread.
//! - CLI, tiny EDSR on a real image: `idc condense` records each instance's realism in
//!   `manifest.json`, and `idc inspect --json` reports its mean and per-instance values.

use burn_idc::Image;
use burn_idc::PatchConfig;
use burn_idc::condense::{Realism, colour_histogram, histogram_distance};
use burn_idc::image::{decode_image, instance_pairs};
use integration_tests::{condense_args, run_idc, run_idc_json};

/// The LR patches of `path` on the BasicSR grid (x2, 48-pixel HR patches, step 24).
fn real_lr(path: &std::path::Path) -> Vec<Image> {
    let hr = decode_image(path).unwrap();
    let cfg = PatchConfig {
        scale: 2,
        hr_patch: 48,
        step: 24,
        thresh_size: 0,
        task: None,
    }
    .check()
    .unwrap();
    instance_pairs(&hr, &cfg)
        .unwrap()
        .into_iter()
        .map(|p| p.lr)
        .collect()
}

/// A seeded random split of `v` into two halves (sorted by a SplitMix64 hash of the index).
fn halves(v: &[Image], seed: u64) -> (Vec<Image>, Vec<Image>) {
    let hash = |i: usize| {
        let mut z = (seed ^ i as u64).wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by_key(|&i| hash(i));
    let (a, b) = idx.split_at(v.len() / 2);
    let pick = |s: &[usize]| s.iter().map(|&i| v[i].clone()).collect();
    (pick(a), pick(b))
}

/// Cyan/magenta speckle at 1.2 / -0.2: saturated, high-frequency and out of gamut.
fn speckle_like(p: &Image) -> Image {
    let plane = p.height * p.width;
    let on = |i: usize| (i / p.width + i % p.width) % 2 == 0;
    let r = (0..plane).map(|i| if on(i) { -0.2 } else { 1.2 });
    let g = (0..plane).map(|i| if on(i) { 1.2 } else { -0.2 });
    let data: Vec<f32> = r.chain(g).chain(std::iter::repeat_n(1.2, plane)).collect();
    Image::new(3, p.height, p.width, data).unwrap()
}

#[test]
fn real_halves_score_near_zero_and_speckle_scores_high() {
    let img = integration_tests::require_data!("train/T91/t25.bmp");
    let real = real_lr(&img);
    assert!(real.len() >= 20, "{} patches", real.len());
    // Halves of one photograph differ by content (t25, seeds 1-11: saturation -0.10..+0.04,
    // hf ratio 0.64..1.11, histogram 0.15..0.26): "near 0 / near 1" within those bounds.
    for seed in 1..=5 {
        let (a, b) = halves(&real, seed);
        let r = Realism::pixels(&a, None, &b, seed);
        assert_eq!(r.out_of_gamut, 0.0, "8-bit patches are in gamut");
        assert!(r.saturation_excess.abs() < 0.15, "{r:?}");
        assert!(r.hf_ratio > 0.5 && r.hf_ratio < 2.0, "{r:?}");
        assert!(r.histogram_distance < 0.35, "{r:?}");
        let d = histogram_distance(&colour_histogram(&a), &colour_histogram(&b));
        assert_eq!(d, r.histogram_distance);
    }
    let bad: Vec<Image> = real.iter().take(4).map(speckle_like).collect();
    let clamped: Vec<Image> = bad
        .iter()
        .map(|p| {
            let d = p.data.iter().map(|v| v.clamp(0.0, 1.0)).collect();
            Image::new(p.channels, p.height, p.width, d).unwrap()
        })
        .collect();
    let r = Realism::pixels(&clamped, Some(&bad), &real, 5);
    let s = &r.real_spread;
    assert_eq!(r.out_of_gamut, 1.0);
    assert!(r.saturation_excess > 0.3, "{r:?}");
    assert!(r.saturation_excess > s.saturation_excess.mean + 5.0 * s.saturation_excess.std);
    assert!(r.hf_ratio > 10.0 * s.hf_ratio.mean, "{r:?}");
    assert!(r.histogram_distance > 0.9, "{r:?}");
    assert!(s.histogram_distance.mean < 0.5, "{s:?}");
}

#[test]
fn condense_records_realism_and_inspect_reports_it() {
    let img = integration_tests::require_data!("train/T91/t20.bmp");
    let root = tempfile::tempdir().unwrap();
    let hr = root.path().join("hr");
    std::fs::create_dir(&hr).unwrap();
    std::fs::copy(&img, hr.join("t20.bmp")).unwrap();
    let cache = root.path().join("cache");
    let mut args = condense_args(root.path(), &hr, 4, None);
    args.extend(["--cache".into(), cache.display().to_string()]);
    run_idc_json(&args);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(cache.join("manifest.json")).unwrap()).unwrap();
    let entry = &manifest["instances"]["t20.bmp"];
    let recorded: Realism = serde_json::from_value(entry["realism"].clone())
        .unwrap_or_else(|e| panic!("no realism in {entry}: {e}"));
    assert!(
        recorded
            .ncfd_fresh
            .is_some_and(|v| v.is_finite() && v >= 0.0)
    );
    assert!(recorded.real_spread.ncfd.is_some());
    assert!((0.0..=1.0).contains(&recorded.out_of_gamut));
    assert!(recorded.hf_ratio > 0.0 && recorded.real_spread.subsets > 0);

    let cache_s = cache.to_str().unwrap();
    let v = run_idc_json(["inspect", "--cache", cache_s, "--json"]);
    let realism = &v["realism"];
    assert_eq!(realism["instances"], 1, "{v}");
    assert_eq!(realism["per_instance"][0]["instance"], "t20.bmp");
    let mean = &realism["mean"];
    assert_eq!(mean["hf_ratio"].as_f64(), Some(recorded.hf_ratio));
    assert_eq!(mean["ncfd_fresh"].as_f64(), recorded.ncfd_fresh);
    assert!(mean["real_spread"]["histogram_distance"]["std"].is_f64());
    // The existing fields are still there.
    assert_eq!(v["valid"], 1);
    assert_eq!(v["manifest_instances"], 1);
    let text = run_idc(["inspect", "--cache", cache_s]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("realism    1 instances") && text.contains("real subsets"));
}
