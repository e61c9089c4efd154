//! The `denoise-smoke` preset (Table 5's pipeline: the ratio table of the one reproduction
//! pipeline, identity teacher, noisy-input reference) end to end through the `idc` binary on real
//! images: every row is scored on every test set, a second invocation runs nothing, and
//! `--report-only` rewrites the same table. (Nothing about quality: 4-step students.)

use integration_tests::{idc_bin, require_data};
use std::path::Path;
use std::process::Command;

fn reproduce(data: &Path, work: &Path, out: &Path, extra: &[&str]) -> String {
    let o = Command::new(idc_bin())
        .args(["reproduce", "--preset", "denoise-smoke", "--work"])
        .arg(work)
        .arg("--out")
        .arg(out)
        .args(extra)
        .env("IDC_DATA", data)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "reproduce failed: {stderr}");
    stderr
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn denoise_smoke_runs_end_to_end_and_reports_the_same_table() {
    let data = require_data!();
    let tmp = tempfile::tempdir().unwrap();
    let (work, out) = (tmp.path().join("work"), tmp.path().join("out"));
    let first = reproduce(&data, &work, &out, &[]);
    assert!(first.contains("[stage] extractor: running"), "{first}");
    assert!(
        !first.contains("[stage] teacher"),
        "denoising has no teacher stage: {first}"
    );
    let table = read_json(&out.join("table5.json"));
    assert_eq!(table["sigma"], 50.0);
    assert_eq!(table["partial"], false, "{table}");
    let rows = table["rows"].as_array().unwrap();
    let methods: Vec<&str> = rows.iter().map(|r| r["method"].as_str().unwrap()).collect();
    assert_eq!(
        methods,
        [
            "Whole",
            "Random 10%",
            "Random 1%",
            "IDC 1%",
            "IDC 10%",
            "Noisy input"
        ]
    );
    for row in rows {
        let seeds = if row["method"] == "Noisy input" { 1 } else { 2 };
        assert_eq!(row["seeds"], seeds, "{row}");
        for set in ["CBSD68", "Kodak24", "McMaster"] {
            let cell = &row["sets"][set];
            assert!(cell["psnr"].as_f64().unwrap() > 5.0, "{row}");
            assert!(cell["ssim"].as_f64().unwrap() <= 1.0, "{row}");
        }
    }
    // Sigma 50 noise on 8-bit images: the noisy input sits near 14-15 dB.
    let noisy = rows[5]["sets"]["CBSD68"]["psnr"].as_f64().unwrap();
    assert!((12.0..17.0).contains(&noisy), "{noisy}");
    for f in ["table5.md", "run.json", "preset.json", "README.md"] {
        assert!(out.join(f).is_file(), "missing {f}");
    }
    let md = std::fs::read_to_string(out.join("table5.md")).unwrap();
    assert!(md.contains("IDC 1% vs Random 1% on CBSD68"), "{md}");

    let second = reproduce(&data, &work, &out, &[]);
    assert!(
        !second.contains(": running"),
        "a finished stage ran again:\n{second}"
    );
    reproduce(&data, &work, &out, &["--report-only"]);
    assert_eq!(read_json(&out.join("table5.json"))["rows"], table["rows"]);
}

#[test]
fn task_flags_pick_the_denoising_preset_and_name_another_sigma() {
    let print = |args: &[&str]| {
        let o = Command::new(idc_bin())
            .args(["reproduce", "--print-preset"])
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()
    };
    let p = print(&["--task", "denoise", "--sigma", "50", "--preset", "cpu"]);
    assert_eq!(p["name"], "denoise-cpu");
    assert_eq!(p["task"]["denoise"]["sigma"], 50.0);
    assert_eq!(p["ratio_table"]["name"], "table5");
    let p = print(&["--task", "denoise", "--sigma", "25"]);
    assert_eq!(p["name"], "denoise-smoke-s25");
    assert_eq!(p["task"]["denoise"]["sigma"], 25.0);
    // An SR preset has no task field and the SR test sets are implied.
    let p = print(&["--preset", "cpu"]);
    assert!(
        p.get("task").is_none() && p.get("test_sets").is_none(),
        "{p}"
    );
}
