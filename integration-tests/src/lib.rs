//! Helpers shared by the integration tests: where the real data is, and the `idc` binary.
//!
//! - [`data_dir`]: the shared real-image folder (env `IDC_DATA`, default `../shared/data`
//!   relative to the workspace root), `None` when absent so data-backed tests can skip (or fail,
//!   with `IDC_REQUIRE_DATA=1`).
//! - [`require_data!`]: early-return from a test with a printed "skipping: no data" notice.
//! - [`idc_bin`] / [`run_idc`]: the `idc` binary of the same target dir as the running test,
//!   built once per test process so tests never run a stale binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// Workspace root (the parent of this crate's manifest directory).
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| manifest.to_path_buf())
}

/// The real-image folder: `$IDC_DATA` (relative paths are resolved against the workspace root),
/// else `<workspace root>/../shared/data`. `None` when the folder does not exist.
pub fn data_dir() -> Option<PathBuf> {
    let root = workspace_root();
    let dir = match std::env::var_os("IDC_DATA") {
        Some(v) if !v.is_empty() => {
            let p = PathBuf::from(v);
            if p.is_absolute() { p } else { root.join(p) }
        }
        _ => root.join("..").join("shared").join("data"),
    };
    if dir.is_dir() { Some(dir) } else { None }
}

/// `data_dir()` joined with `rel` if that path exists (file or folder), else `None`.
pub fn data_path(rel: impl AsRef<Path>) -> Option<PathBuf> {
    let p = data_dir()?.join(rel);
    if p.exists() { Some(p) } else { None }
}

/// Whether data-backed tests must fail instead of skipping (`IDC_REQUIRE_DATA=1`, set by
/// `.ci/run`), so a CI run without its data cannot pass by testing nothing.
pub fn data_required() -> bool {
    std::env::var_os("IDC_REQUIRE_DATA").is_some_and(|v| v == "1")
}

/// Returns the data folder, or prints "skipping: no data" and returns from the enclosing test;
/// with `IDC_REQUIRE_DATA=1` ([`data_required`]) a missing folder fails the test instead.
///
/// ```ignore
/// let data = integration_tests::require_data!();
/// let set5 = integration_tests::require_data!("test/Set5");
/// ```
#[macro_export]
macro_rules! require_data {
    () => {
        match $crate::data_dir() {
            Some(d) => d,
            None => {
                assert!(
                    !$crate::data_required(),
                    "no data (IDC_DATA or ../shared/data) and IDC_REQUIRE_DATA=1"
                );
                eprintln!("skipping: no data (set IDC_DATA or provide ../shared/data)");
                return;
            }
        }
    };
    ($rel:expr) => {
        match $crate::data_path($rel) {
            Some(d) => d,
            None => {
                assert!(
                    !$crate::data_required(),
                    "{} not found under IDC_DATA and IDC_REQUIRE_DATA=1",
                    $rel
                );
                eprintln!("skipping: no data ({} not found under IDC_DATA)", $rel);
                return;
            }
        }
    };
}

/// Target directory of the running test executable: `<target>/<profile>/deps/<test>` ->
/// `<target>/<profile>`.
fn profile_dir() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let deps = exe.parent()?;
    let dir = if deps.file_name().is_some_and(|n| n == "deps") {
        deps.parent()?
    } else {
        deps
    };
    Some(dir.to_path_buf())
}

/// Path of the `idc` binary next to the running test executable (same target dir and profile).
/// The first call in a test process runs `cargo build -p burn-idc --bin idc` (with
/// `--features $IDC_TEST_FEATURES` when set, e.g. `cuda`, and `--release` when the test itself is
/// a release build) so the binary matches the sources; later calls reuse it.
///
/// Panics (this is test code) when the build fails, with cargo's output.
pub fn idc_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let dir = profile_dir().expect("cannot locate the test executable's target directory");
        let name = format!("idc{}", std::env::consts::EXE_SUFFIX);
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.current_dir(workspace_root())
            .args(["build", "-p", "burn-idc", "--bin", "idc"]);
        if let Ok(f) = std::env::var("IDC_TEST_FEATURES") {
            if !f.trim().is_empty() {
                cmd.args(["--features", f.trim()]);
            }
        }
        if dir.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        // The test binary lives in <target>/<profile>; build into the same <target>.
        if std::env::var_os("CARGO_TARGET_DIR").is_none() {
            if let Some(target) = dir.parent() {
                cmd.env("CARGO_TARGET_DIR", target);
            }
        }
        let out = cmd.output().expect("cannot run cargo to build idc");
        assert!(
            out.status.success(),
            "building idc failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let bin = dir.join(&name);
        assert!(bin.is_file(), "idc binary not found at {}", bin.display());
        bin
    })
    .clone()
}

/// Runs `idc` with `args` and returns its output (stdout, stderr, status).
pub fn run_idc<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    Command::new(idc_bin())
        .args(args)
        .output()
        .expect("cannot spawn idc")
}

/// Runs `idc` with `args`, asserts success and parses stdout as one JSON object.
pub fn run_idc_json<I, S>(args: I) -> serde_json::Value
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let out = run_idc(args);
    assert!(
        out.status.success(),
        "idc failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.trim())
        .unwrap_or_else(|e| panic!("idc stdout is not one JSON object ({e}): {text}"))
}

/// A tiny random-init EDSR extractor and a few-step condense config written under `root`, and the
/// `idc condense` arguments for the HR folder `hr` (without `--cache`); `ratio` adds `--ratio`.
pub fn condense_args(root: &Path, hr: &Path, iters: usize, ratio: Option<&str>) -> Vec<String> {
    let model = root.join("extractor");
    let cfg = burn_idc::EdsrConfig::new(8, 1, 2);
    let device = burn_idc::default_device();
    let m = cfg.init_seeded::<burn_idc::DefaultBackend>(&device, 7);
    burn_idc::save_model_dir(&m, &cfg, &model).unwrap();
    let config = root.join("condense.json");
    let json = format!(
        r#"{{"iters": {iters}, "warmup": 2, "assign": 2, "assign_every": 1, "groups": 2,
            "kmeans_iters": 3, "freq_bank": 2, "ncfd": {{"num_freqs": 16}},
            "rlff": {{"c_out": 8, "patch": 2}}}}"#
    );
    std::fs::write(&config, json).unwrap();
    let mut args: Vec<String> = ["condense", "--hr-dir", &path_str(hr), "--extractor"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.extend([path_str(&model), "--config".into(), path_str(&config)]);
    args.extend(["--scale", "2"].map(String::from));
    if let Some(r) = ratio {
        args.extend(["--ratio".to_string(), r.to_string()]);
    }
    args.extend(["--hr-patch", "16", "--step", "16", "--json"].map(String::from));
    args
}

fn path_str(p: &Path) -> String {
    p.to_str().expect("test paths are UTF-8").to_string()
}

/// CRC-32 (IEEE), bitwise and independent of the crate's: for hand-made PNG fixtures and for
/// shards whose checksum a mutation test recomputes.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut c = 0xFFFF_FFFFu32;
    for &b in bytes {
        c ^= b as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0xEDB8_8320
            } else {
                c >> 1
            };
        }
    }
    !c
}

/// The committed PyTorch/BasicSR parity fixtures (`reference/fixtures/`) and the JSON helpers
/// the parity tests read them with.
pub mod reference {
    use serde_json::Value;
    use std::path::{Path, PathBuf};

    /// `integration-tests/reference/fixtures`.
    pub fn fixtures() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("reference")
            .join("fixtures")
    }

    /// A JSON fixture (panics with the path: fixtures are part of the repository).
    pub fn read_json(path: &Path) -> Value {
        let text =
            std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        serde_json::from_str(&text).unwrap()
    }

    /// A JSON array of numbers as `f32`.
    pub fn floats(v: &Value) -> Vec<f32> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect()
    }

    /// A JSON `[n, c, h, w]` shape.
    pub fn shape4(v: &Value) -> [usize; 4] {
        let s: Vec<usize> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as usize)
            .collect();
        [s[0], s[1], s[2], s[3]]
    }

    /// Largest elementwise `|a - b|` (the slices must have equal lengths).
    pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
        assert_eq!(a.len(), b.len());
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max)
    }
}
