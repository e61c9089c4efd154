//! Crash-safe file writes shared by every module that writes files others read (shards,
//! manifests, model directories, PNGs, stage markers, reports): one implementation, so every
//! writer gets the same guarantees and [`remove_stale_temps`] recognises every temp file.

use crate::error::{IdcError, Result};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Counter that keeps temp names unique between threads of one process (the pid separates
/// processes).
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Crash-safe replacement of `path`: write a temp file in the same directory (same file system,
/// so the rename is atomic), fsync it, rename it over `path`, fsync the directory so the rename
/// itself is durable. A crash leaves either the old content or the new one, plus at worst a
/// stray `.tmp-*` file that [`remove_stale_temps`] cleans up.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| IdcError::InvalidInput(format!("no file name in {}", path.display())))?;
    let tmp = dir.join(format!(
        ".tmp-{}-{}-{}",
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed),
        name.to_string_lossy()
    ));
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(|e| IdcError::io(&tmp, e))?;
        f.write_all(bytes).map_err(|e| IdcError::io(&tmp, e))?;
        f.sync_all().map_err(|e| IdcError::io(&tmp, e))?;
        drop(f);
        fs::rename(&tmp, path).map_err(|e| IdcError::io(path, e))?;
        sync_dir(&dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// fsyncs a directory so a rename into it survives a power loss (no-op where unsupported).
fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        let f = File::open(dir).map_err(|e| IdcError::io(dir, e))?;
        f.sync_all().map_err(|e| IdcError::io(dir, e))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Removes temp files (`.tmp-<pid>-...`) left by killed writers whose process no longer exists.
/// Temp files of live processes are kept (they may be mid-write). Returns how many were removed.
pub fn remove_stale_temps(dir: &Path) -> usize {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(rest) = name.strip_prefix(".tmp-") else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid == std::process::id() || process_alive(pid) {
            continue;
        }
        if fs::remove_file(e.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// Whether a process with this pid exists (Linux: `/proc/<pid>`); elsewhere assume it does, so
/// nothing that might be in use is deleted.
fn process_alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        Path::new("/proc").join(pid.to_string()).exists()
    } else {
        true
    }
}
