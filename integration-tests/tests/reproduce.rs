//! The `smoke` reproduction preset end to end through the `idc` binary on real images: every
//! stage runs, every table cell (and the Random+T control) exists, a second invocation resumes
//! from the stage cache, and `--report-only` runs nothing and reports exactly the finished
//! stages.
//! (It asserts nothing about quality: the smoke budgets are far too small for that.)

use integration_tests::{idc_bin, require_data};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The stage folder under `work` whose name starts with `prefix` (`<stage name>-`).
fn stage_dir(work: &Path, prefix: &str) -> PathBuf {
    std::fs::read_dir(work)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix} stage in {}", work.display()))
}

#[test]
fn smoke_preset_runs_end_to_end_and_resumes() {
    let data = require_data!();
    let tmp = tempfile::tempdir().unwrap();
    let (work, out) = (tmp.path().join("work"), tmp.path().join("out"));
    let invoke = |extra: &[&str]| {
        Command::new(idc_bin())
            .args(["reproduce", "--preset", "smoke", "--work"])
            .arg(&work)
            .arg("--out")
            .arg(&out)
            .args(extra)
            .env("IDC_DATA", &data)
            .output()
            .unwrap()
    };
    let run_ok = |extra: &[&str]| {
        let o = invoke(extra);
        assert!(
            o.status.success(),
            "reproduce failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stderr).into_owned()
    };
    let run = || run_ok(&[]);

    // Nothing finished yet: a report-only run fails, naming the first missing stage.
    let empty = invoke(&["--report-only"]);
    let msg = String::from_utf8_lossy(&empty.stderr);
    assert!(
        !empty.status.success() && msg.contains("stage extractor has not finished"),
        "{msg}"
    );
    assert!(!msg.contains(": running"), "{msg}");

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
    // The distillation control sits beside Table 1, not among its methods.
    let controls = table["controls"].as_array().unwrap();
    assert_eq!(controls.len(), 1);
    assert_eq!(controls[0]["method"], "Random+T");
    assert_eq!(
        controls[0]["Set5"]["seeds"], rows[1]["Set5"]["seeds"],
        "Random+T trains on each of Random's sets"
    );
    // The teacher's own scores, the reference of the teacher-labelled sets.
    for set in ["Set5", "Set14", "BSD100"] {
        assert!(
            table["teacher"][set]["psnr"].as_f64().unwrap() > 0.0,
            "{table}"
        );
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
    // The toy budget sweep: its control rows come first, scored, with no learning rate.
    let sweep: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("sweep.json")).unwrap()).unwrap();
    let cells = sweep["cells"].as_array().unwrap();
    for (row, name) in cells.iter().zip(["random", "random+T"]) {
        assert_eq!(row["variant"], name, "{sweep}");
        assert!(row["lr"].is_null() && row["iters"] == 0, "{row}");
        assert!(row["holdout_psnr"].as_f64().unwrap() > 0.0, "{row}");
    }
    assert!(cells.len() > 2, "{sweep}");
    // The set-seed repeat is its own condensation: scored, and not the cell's set again.
    let cell = |name: &str| cells.iter().find(|c| c["cell"] == name).expect(name);
    let (first, repeat) = (cell("ins-i2-lr0.01"), cell("ins-i2-lr0.01-set1"));
    assert_eq!(repeat["set_seed"], 1, "{repeat}");
    assert!(repeat["holdout_psnr"].as_f64().unwrap() > 0.0, "{repeat}");
    assert_ne!(first["realism"], repeat["realism"], "{sweep}");
    assert_eq!(sweep["set_seed_spread"][0]["sets"], 2, "{sweep}");

    // Second invocation: every stage comes from the cache and the table is unchanged.
    let second = run();
    assert!(
        !second.contains(": running"),
        "a finished stage ran again:\n{second}"
    );
    let again: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("table1.json")).unwrap()).unwrap();
    assert_eq!(again["rows"], table["rows"]);
    let run_json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("run.json")).unwrap()).unwrap();
    let times = run_json["stage_seconds"].as_array().unwrap();
    assert!(
        times.len() > 10 && times.iter().all(|t| t[1].as_f64().is_some()),
        "{times:?}"
    );

    // Report-only over a run with one unfinished student: nothing runs, that student and its
    // evaluation (not reached) are listed as missing and its row has one seed fewer.
    let idc_s0 = stage_dir(&work, "student-IDC-s0-");
    std::fs::remove_file(idc_s0.join("DONE.json")).unwrap();
    let partial = run_ok(&["--report-only"]);
    assert!(!partial.contains(": running"), "{partial}");
    assert!(partial.contains("2 stage(s) missing"), "{partial}");
    let readme = std::fs::read_to_string(out.join("README.md")).unwrap();
    assert!(readme.contains("**Partial results**") && readme.contains("`student-IDC-s0`"));
    let t: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("table1.json")).unwrap()).unwrap();
    // (A method left with no finished seed has no cell at all.)
    let seeds = |t: &serde_json::Value| t["rows"][5]["Set5"]["seeds"].as_u64().unwrap_or(0);
    assert_eq!(t["rows"][5]["method"], "IDC");
    assert_eq!(t["partial"], true);
    assert_eq!(
        t["missing"],
        serde_json::json!(["student-IDC-s0", "eval-IDC-s0"])
    );
    assert_eq!(table["partial"], false);
    assert_eq!(seeds(&t) + 1, seeds(&table));
}

/// `smoke-x4`: `cpu-x4`'s design at toy size, end to end: Table 1 at x4 with a block of rows
/// per student family (EDSR and SwinIR-tiny), curves validated on a held-back training image,
/// the Table 4 ratio table (1% rows) with the SwinIR student, and a second invocation runs
/// nothing.
#[test]
fn smoke_x4_runs_two_student_families_and_table4_at_x4() {
    let data = require_data!();
    let tmp = tempfile::tempdir().unwrap();
    let (work, out) = (tmp.path().join("work"), tmp.path().join("out"));
    let invoke = || {
        let o = Command::new(idc_bin())
            .args(["reproduce", "--preset", "smoke-x4", "--work"])
            .arg(&work)
            .arg("--out")
            .arg(&out)
            .env("IDC_DATA", &data)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(o.status.success(), "reproduce failed: {stderr}");
        stderr
    };
    let first = invoke();
    assert!(first.contains("[stage] teacher: running"), "{first}");
    let read = |name: &str| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(out.join(name)).unwrap()).unwrap()
    };
    let t1 = read("table1.json");
    assert_eq!(
        (t1["scale"].as_u64(), t1["partial"].as_bool()),
        (Some(4), Some(false))
    );
    let families = t1["families"].as_array().expect("two families");
    let archs: Vec<&str> = families
        .iter()
        .map(|f| f["student"].as_str().unwrap())
        .collect();
    assert_eq!(archs, ["edsr:8x1", "swinir-tiny"]);
    for f in families {
        let rows = f["rows"].as_array().unwrap();
        let methods: Vec<&str> = rows.iter().map(|r| r["method"].as_str().unwrap()).collect();
        assert_eq!(
            methods,
            [
                "Whole", "Random", "Herding", "K-center", "DCSR", "IDC", "Bicubic"
            ]
        );
        for row in rows.iter().chain(f["controls"].as_array().unwrap()) {
            for set in ["Set5", "Set14", "BSD100"] {
                let psnr = row[set]["psnr"].as_f64().unwrap_or(f64::NAN);
                assert!(psnr.is_finite() && psnr > 0.0, "{}: {row}", f["student"]);
            }
        }
    }
    // The SwinIR family's rows are its own students, not the EDSR family's again.
    assert_ne!(families[0]["rows"][0], families[1]["rows"][0]);
    let run = read("run.json");
    for s in run["students"].as_array().unwrap() {
        let valid = s["validation"].as_array().unwrap();
        assert!(!valid.is_empty(), "validated on the held-back image: {s}");
    }
    assert!(out.join("convergence-swinir-tiny.png").is_file());
    let t2 = std::fs::read_to_string(out.join("table2.md")).unwrap();
    assert!(
        t2.contains("reach a train-holdout PSNR, student swinir-tiny"),
        "{t2}"
    );

    let table = read("table4.json");
    assert_eq!(table["partial"], false, "{table}");
    let student = &table["preset"]["ratio_table"]["student"];
    assert_eq!(student["arch"], "swinir-tiny", "{student}");
    // The family's own learning rate reaches its students' training (the EDSR family keeps
    // BasicSR's default).
    assert_eq!(student["lr"], 0.002, "{student}");
    let trained_lr = |prefix: &str| -> f64 {
        let model = stage_dir(&work, prefix).join("model");
        let cfg = std::fs::read(model.join("train_config.json")).unwrap();
        let cfg: serde_json::Value = serde_json::from_slice(&cfg).unwrap();
        cfg["lr"].as_f64().unwrap()
    };
    assert_eq!(trained_lr("student-swinir-tiny-Whole-s0-"), 0.002);
    assert_eq!(trained_lr("student-Whole-s0-"), 2e-4);
    let rows = table["rows"].as_array().unwrap();
    let methods: Vec<&str> = rows.iter().map(|r| r["method"].as_str().unwrap()).collect();
    assert_eq!(
        methods,
        ["IDC 1%", "Random 1%", "DCSR 1%", "Random 10%", "Bicubic"]
    );
    for row in rows {
        for set in ["Set5", "Set14", "BSD100"] {
            let psnr = row["sets"][set]["psnr"].as_f64().unwrap();
            assert!(psnr.is_finite() && psnr > 0.0, "{row}");
        }
    }
    let pool = table["pool_patches"].as_u64().unwrap();
    for (set, n) in table["set_patches"].as_object().unwrap() {
        let n = n.as_u64().unwrap();
        // Three training images (one held back): at least one patch each, far below the pool
        // at 1%.
        let most = if set.contains("-1%") {
            pool / 10
        } else {
            pool / 5
        };
        assert!((3..most).contains(&n), "{set}: {n} of {pool}");
    }
    let second = invoke();
    assert!(
        !second.contains(": running"),
        "a finished stage ran again:\n{second}"
    );
}
