//! Regression tests of issue #16 (hostile inputs to the cache, `idc inspect` and `idc condense`):
//! special files at shard paths, swapped and copied shards, exit status and counts of
//! `idc condense`, strict configs. Each test names the defect it guards in its doc comment.

use burn_idc::Image;
use burn_idc::image::save_png;
use burn_idc::{
    ShardCache,
    cache::{self, Shard},
};
use integration_tests::{idc_bin, run_idc};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn patch(c: usize, h: usize, w: usize, seed: u32) -> Image {
    let data = (0..c * h * w)
        .map(|i| ((i as u32 * 31 + seed * 7) % 256) as f32 / 255.0)
        .collect();
    Image::new(c, h, w, data).unwrap()
}

fn shard(fp: &str, n: usize) -> Shard {
    Shard {
        fingerprint: fp.into(),
        scale: 2,
        lr: (0..n).map(|i| patch(3, 4, 4, i as u32)).collect(),
        hr: (0..n).map(|i| patch(3, 8, 8, 50 + i as u32)).collect(),
    }
}

/// A cache with shards (and manifest entries) for `names`, each under its own fingerprint.
fn cache_with(dir: &Path, names: &[&str]) -> ShardCache {
    let c = ShardCache::open(dir).unwrap();
    for (i, n) in names.iter().enumerate() {
        c.put(n, &shard(&format!("fp-{n}"), i + 1)).unwrap();
    }
    c
}

fn mkfifo(p: &Path) {
    let ok = Command::new("mkfifo").arg(p).status();
    assert!(matches!(ok, Ok(s) if s.success()), "mkfifo {}", p.display());
}

/// Runs `idc args` under `/usr/bin/time -f %M` (when present), killing it after `limit`.
/// Returns the output and the peak RSS in KiB (None without `/usr/bin/time`).
fn run_timed(args: &[&str], limit: Duration) -> (Output, Option<u64>) {
    let time = Path::new("/usr/bin/time");
    let rss_file = tempfile::NamedTempFile::new().unwrap();
    let mut cmd = if time.is_file() {
        let mut c = Command::new(time);
        c.arg("-f")
            .arg("%M")
            .arg("-o")
            .arg(rss_file.path())
            .arg(idc_bin());
        c
    } else {
        Command::new(idc_bin())
    };
    // A backtrace on the error path would load the debug info (~300 MB): not the reader's.
    let mut child = cmd
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if t0.elapsed() > limit {
            let _ = child.kill();
            panic!("idc {args:?} still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let rss = std::fs::read_to_string(rss_file.path())
        .ok()
        .and_then(|s| s.lines().last().and_then(|l| l.trim().parse().ok()));
    (out, rss)
}

/// Defect 1: a `/dev/zero` symlink, a FIFO and a 2 GiB sparse file at shard paths made
/// `inspect --verify` grow without bound or block. Now: three invalid entries within 5 s, peak
/// RSS < 100 MB.
#[test]
fn inspect_verify_refuses_special_and_huge_files_quickly() {
    let d = tempfile::tempdir().unwrap();
    cache_with(d.path(), &["good.png"]);
    std::os::unix::fs::symlink("/dev/zero", d.path().join("zero.shard")).unwrap();
    mkfifo(&d.path().join("fifo.shard"));
    let sparse = std::fs::File::create(d.path().join("sparse.shard")).unwrap();
    sparse.set_len(2 << 30).unwrap();
    drop(sparse);
    let dir = d.path().to_str().unwrap();
    for verify in [true, false] {
        let mut args = vec!["inspect", "--cache", dir, "--json"];
        if verify {
            args.push("--verify");
        }
        let (out, rss) = run_timed(&args, Duration::from_secs(5));
        assert!(!out.status.success(), "invalid shards must fail inspect");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["instances"], 4, "{v}");
        assert_eq!(v["valid"], 1, "{v}");
        let invalid = v["invalid"].as_array().unwrap();
        let files: Vec<&str> = invalid
            .iter()
            .map(|i| i["file"].as_str().unwrap())
            .collect();
        assert_eq!(files, ["fifo.shard", "sparse.shard", "zero.shard"], "{v}");
        for i in invalid {
            assert!(!i["reason"].as_str().unwrap().is_empty(), "{i}");
        }
        assert!(
            invalid[0]["reason"].as_str().unwrap().contains("FIFO"),
            "{v}"
        );
        assert!(
            invalid[2]["reason"].as_str().unwrap().contains("device"),
            "{v}"
        );
        if let Some(kib) = rss {
            eprintln!("inspect (verify={verify}) peak RSS: {kib} KiB");
            assert!(kib < 100 * 1024, "peak RSS {kib} KiB");
        }
    }
}

/// Defect 1 (library): the readers give typed errors for special files, never block.
#[test]
fn shard_readers_refuse_special_files() {
    let d = tempfile::tempdir().unwrap();
    let fifo = d.path().join("f.shard");
    mkfifo(&fifo);
    let zero = d.path().join("z.shard");
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    let sub = d.path().join("dir.shard");
    std::fs::create_dir(&sub).unwrap();
    for p in [&fifo, &zero, &sub] {
        assert!(matches!(
            cache::read_shard(p, None),
            Err(burn_idc::IdcError::Cache { .. })
        ));
        assert!(cache::read_header(p).is_err());
    }
    // manifest.json and sources.json as FIFOs: an error / an empty cache, not a hang.
    mkfifo(&d.path().join(cache::MANIFEST_NAME));
    assert!(cache::Manifest::read(d.path()).is_err());
    mkfifo(&d.path().join(burn_idc::source::HashCache::FILE));
    let _ = burn_idc::source::HashCache::open(d.path());
}

/// Defect 2: swapped and copied shards went unnoticed by `inspect --verify`.
#[test]
fn verify_detects_swapped_and_copied_shards() {
    let d = tempfile::tempdir().unwrap();
    let names = ["a.png", "b.png", "c.png", "d.png"];
    let c = cache_with(d.path(), &names);
    let p = |n: &str| c.shard_path(n);
    assert!(cache::verify_cache(d.path()).unwrap().invalid.is_empty());
    // Swap a and b; copy c over d.
    let tmp = d.path().join("swap.tmp");
    std::fs::rename(p("a.png"), &tmp).unwrap();
    std::fs::rename(p("b.png"), p("a.png")).unwrap();
    std::fs::rename(&tmp, p("b.png")).unwrap();
    std::fs::copy(p("c.png"), p("d.png")).unwrap();
    for full in [true, false] {
        let r = cache::inspect_cache(d.path(), full).unwrap();
        let mut bad: Vec<String> = r.invalid.iter().map(|i| i.file.clone()).collect();
        bad.sort();
        let mut want: Vec<String> = ["a.png", "b.png", "d.png"]
            .iter()
            .map(|n| p(n).file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        want.sort();
        assert_eq!(bad, want, "full={full}: {:?}", r.invalid);
        for i in &r.invalid {
            assert!(i.reason.contains("swapped or copied"), "{i:?}");
        }
        assert_eq!(r.valid, 1);
    }
    let out = run_idc([
        "inspect",
        "--cache",
        d.path().to_str().unwrap(),
        "--verify",
        "--json",
    ]);
    assert!(!out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["invalid"].as_array().unwrap().len(), 3, "{v}");
    assert!(v["invalid"][0]["reason"].is_string(), "{v}");
}

// ---------------------------------------------------------------------------------------------
// `idc condense` process tests

/// HR images, a tiny random-init extractor and a few-step config; returns (hr dir, the
/// `idc condense` arguments without --cache).
fn fixture(root: &Path, images: usize) -> (PathBuf, Vec<String>) {
    let hr = root.join("hr");
    std::fs::create_dir_all(&hr).unwrap();
    for k in 0..images {
        let im = patch(3, 32, 32, k as u32 * 13 + 1);
        save_png(&hr.join(format!("img{k:02}.png")), &im).unwrap();
    }
    let args = integration_tests::condense_args(root, &hr, 4, None);
    (hr, args)
}

fn condense(args: &[String], cache: &Path, extra: &[&str]) -> (Output, serde_json::Value) {
    let mut a = args.to_vec();
    a.push("--cache".into());
    a.push(cache.to_str().unwrap().into());
    a.extend(extra.iter().map(|s| s.to_string()));
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let (out, _) = run_timed(&a, Duration::from_secs(120));
    let v = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (out, v)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Defects 1 and 5: a FIFO at a shard path must not block `condense` (the shard is rebuilt); a
/// directory at a shard or lock path fails that instance with a clear message and a non-zero
/// exit; `patches` counts only written shards; `--keep-going` condenses the others first.
#[test]
fn condense_exit_status_counts_and_special_paths() {
    let root = tempfile::tempdir().unwrap();
    let (_, args) = fixture(root.path(), 3);
    let cache = root.path().join("cache");
    let (out, full) = condense(&args, &cache, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let patches_each = full["patches"].as_u64().unwrap() / 3;
    let c = ShardCache::at(&cache);

    // FIFO at a shard path: replaced by a fresh shard, no hang.
    let p0 = c.shard_path("img00.png");
    std::fs::remove_file(&p0).unwrap();
    mkfifo(&p0);
    let (out, v) = condense(&args, &cache, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        (v["condensed"].as_u64(), v["loaded"].as_u64()),
        (Some(1), Some(2))
    );

    // Directory at a shard path, and at another instance's lock path.
    std::fs::remove_file(&p0).unwrap();
    std::fs::create_dir(&p0).unwrap();
    let p1 = c.shard_path("img01.png");
    std::fs::remove_file(&p1).unwrap();
    let lock1 = cache
        .join(".locks")
        .join(p1.with_extension("lock").file_name().unwrap());
    assert!(
        lock1.is_file(),
        "locks live in .locks/: {}",
        lock1.display()
    );
    let _ = std::fs::remove_file(&lock1);
    std::fs::create_dir(&lock1).unwrap();
    // One instance at a time: a batch stops after the batch the failure was in.
    let (out, v) = condense(&args, &cache, &["--batch-instances", "1"]);
    assert!(!out.status.success(), "a failed instance must fail the run");
    assert_eq!(v["failed"], 1, "stops at the first failure: {v}");
    assert!(stderr(&out).contains("img00.png"), "{}", stderr(&out));
    assert!(stderr(&out).contains("--keep-going"), "{}", stderr(&out));
    let (out, v) = condense(&args, &cache, &["--keep-going"]);
    assert!(!out.status.success());
    assert_eq!(v["failed"], 2, "{v}");
    assert_eq!(v["loaded"], 1, "{v}");
    assert_eq!(
        v["patches"].as_u64().unwrap(),
        patches_each,
        "only written shards count: {v}"
    );
    let reasons: Vec<String> = v["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| format!("{} {}", f["instance"], f["reason"]))
        .collect();
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("img00.png") && r.contains("is a directory")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("img01.png") && r.contains("not a regular file")),
        "{reasons:?}"
    );
}

/// Defect 5: every instance failing (a broken image) still exited 0.
#[test]
fn condense_fails_on_bad_images_and_reports_unsupported_formats() {
    let root = tempfile::tempdir().unwrap();
    let (hr, args) = fixture(root.path(), 2);
    std::fs::write(hr.join("broken.png"), b"not a png").unwrap();
    std::fs::write(hr.join("anim.gif"), b"GIF89a").unwrap();
    std::fs::write(hr.join("photo.webp"), b"RIFF").unwrap();
    let cache = root.path().join("cache");
    let (out, v) = condense(&args, &cache, &[]);
    assert!(!out.status.success(), "{v}");
    assert_eq!(v["failed"], 1, "{v}");
    assert_eq!(v["condensed"], 0, "stopped before condensing: {v}");
    let err = stderr(&out);
    assert!(err.contains("broken.png"), "{err}");
    let line = err
        .lines()
        .find(|l| l.contains("unsupported image format"))
        .unwrap_or_else(|| panic!("no line on unsupported files: {err}"));
    assert!(
        line.contains("anim.gif") && line.contains("photo.webp"),
        "{line}"
    );
    let (out, v) = condense(&args, &cache, &["--keep-going"]);
    assert!(!out.status.success());
    assert_eq!(
        (v["condensed"].as_u64(), v["failed"].as_u64()),
        (Some(2), Some(1)),
        "{v}"
    );
}

/// Defect 6: a missing `--hr-dir` created an empty cache folder.
#[test]
fn missing_hr_dir_creates_nothing() {
    let root = tempfile::tempdir().unwrap();
    let cache = root.path().join("cache");
    let out = run_idc([
        "condense",
        "--hr-dir",
        root.path().join("nope").to_str().unwrap(),
        "--cache",
        cache.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("not a directory"), "{}", stderr(&out));
    assert!(
        !cache.exists(),
        "no cache folder for a run that cannot start"
    );
}

/// Defect 3: unknown fields (also nested) were ignored, `--ratio`'s default overwrote the
/// config's `ratio`, and `warmup > iters` was accepted.
#[test]
fn condense_configs_are_strict() {
    let root = tempfile::tempdir().unwrap();
    let (_, args) = fixture(root.path(), 1);
    let cfg_at = args.iter().position(|a| a == "--config").unwrap() + 1;
    let cache = root.path().join("cache");
    let cases: [(&str, &[&str], &str); 5] = [
        (r#"{"itres": 1}"#, &[], "itres"),
        (r#"{"rlff": {"kernal": 5}}"#, &[], "kernal"),
        (r#"{"ratio": 0.25}"#, &["--ratio", "0.5"], "conflicts"),
        (r#"{"iters": 10, "warmup": 20}"#, &[], "warmup"),
        (
            r#"{"iters": 10, "warmup": 5, "assign": 6}"#,
            &[],
            "exceeds iters",
        ),
    ];
    for (json, extra, needle) in cases {
        let p = root.path().join("bad.json");
        std::fs::write(&p, json).unwrap();
        let mut a = args.clone();
        a[cfg_at] = p.to_str().unwrap().into();
        let (out, _) = condense(&a, &cache, extra);
        assert!(!out.status.success(), "{json} must be refused");
        assert!(stderr(&out).contains(needle), "{json}: {}", stderr(&out));
    }
    // The same ratio given twice is fine, and the config's ratio is used without --ratio.
    let p = root.path().join("ok.json");
    let mut text: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&args[cfg_at]).unwrap()).unwrap();
    text["ratio"] = 0.5.into();
    std::fs::write(&p, text.to_string()).unwrap();
    let mut a = args.clone();
    a[cfg_at] = p.to_str().unwrap().into();
    let (out, v) = condense(&a, &cache, &["--ratio", "0.5"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (out, w) = condense(&a, &root.path().join("cache2"), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(v["patches"], w["patches"]);
}

/// Defect 3 (library): every config struct a user writes refuses unknown fields.
#[test]
fn user_config_structs_deny_unknown_fields() {
    use burn_idc::CondenseConfig;
    let mut c = serde_json::to_value(CondenseConfig::default()).unwrap();
    c["ncfd"]["sigmaa"] = 1.into();
    let e = serde_json::from_value::<CondenseConfig>(c)
        .unwrap_err()
        .to_string();
    assert!(e.contains("sigmaa"), "{e}");
    let mut p = serde_json::to_value(burn_idc::PatchConfig::default()).unwrap();
    p["stpe"] = 1.into();
    assert!(serde_json::from_value::<burn_idc::PatchConfig>(p).is_err());
    let mut m = serde_json::to_value(burn_idc::EdsrConfig::new(8, 1, 2)).unwrap();
    m["blocks"] = 1.into();
    assert!(serde_json::from_value::<burn_idc::EdsrConfig>(m).is_err());
    let mut t = serde_json::to_value(burn_idc::TrainConfig::new("edsr-tiny", 2, 5)).unwrap();
    t["batchsize"] = 1.into();
    assert!(serde_json::from_value::<burn_idc::TrainConfig>(t).is_err());
}
