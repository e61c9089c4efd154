//! The `smoke` reproduction preset end to end through the `idc` binary on real images: every
//! stage runs, every table cell exists, and a second invocation resumes from the stage cache.
//! (It asserts nothing about quality: the smoke budgets are far too small for that.)

use integration_tests::{idc_bin, require_data};
use std::process::Command;

#[test]
fn smoke_preset_runs_end_to_end_and_resumes() {
    let data = require_data!();
    let tmp = tempfile::tempdir().unwrap();
    let (work, out) = (tmp.path().join("work"), tmp.path().join("out"));
    let run = || {
        let o = Command::new(idc_bin())
            .args(["reproduce", "--preset", "smoke", "--work"])
            .arg(&work)
            .arg("--out")
            .arg(&out)
            .env("IDC_DATA", &data)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "reproduce failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stderr).into_owned()
    };
    let first = run();
    assert!(first.contains("[stage] extractor: running"), "{first}");
    let table: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("table1.json")).unwrap()).unwrap();
    assert_eq!(table["scale"], 2);
    assert_eq!(table["ratio"], 0.1);
    let rows = table["rows"].as_array().unwrap();
    let methods: Vec<&str> = rows.iter().map(|r| r["method"].as_str().unwrap()).collect();
    assert_eq!(
        methods,
        [
            "Whole", "Random", "Herding", "K-center", "DCSR", "IDC", "Bicubic"
        ]
    );
    for row in rows {
        for set in ["Set5", "Set14", "BSD100"] {
            let psnr = row[set]["psnr"].as_f64().unwrap();
            assert!(psnr.is_finite() && psnr > 0.0, "{row}");
            assert!(row[set]["ssim"].as_f64().unwrap() <= 1.0);
            assert!(row[set]["psnr_std"].as_f64().unwrap() >= 0.0);
        }
    }
    for f in [
        "table1.md",
        "table2.md",
        "table3.md",
        "convergence.png",
        "README.md",
        "run.json",
    ] {
        assert!(out.join(f).is_file(), "missing {f}");
    }
    assert_eq!(table["set_patches"].as_u64().unwrap() > 0, true);

    // Second invocation: every stage comes from the cache and the table is unchanged.
    let second = run();
    assert!(
        !second.contains(": running"),
        "a finished stage ran again:\n{second}"
    );
    let again: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("table1.json")).unwrap()).unwrap();
    assert_eq!(again["rows"], table["rows"]);
}
