//! Crash-safe file writes shared by every module that writes files others read (shards,
//! manifests, model directories, PNGs, stage markers, reports): one implementation, so every
//! writer gets the same guarantees and [`remove_stale_temps`] recognises every temp file. And the
//! one bounded read ([`read_bounded`]) for every file a user or another process can put in our
//! way, so a FIFO, a device or a huge file is an error instead of a hang or an allocation.

use crate::error::{IdcError, Result};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Counter that keeps temp names unique between threads of one process (the pid separates
/// processes).
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// How every temp file of [`write_atomic`] starts: `.tmp-<pid>-<counter>-<final name>`.
const TEMP_PREFIX: &str = ".tmp-";

/// Whether `name` is a temp file of [`write_atomic`] (never a finished file, whatever its
/// extension: a writer killed mid-write leaves one).
pub fn is_temp_name(name: &str) -> bool {
    name.starts_with(TEMP_PREFIX)
}

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
        "{TEMP_PREFIX}{}-{}-{}",
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
pub fn sync_dir(dir: &Path) -> Result<()> {
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
        let Some(rest) = name.strip_prefix(TEMP_PREFIX) else {
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
/// Opens the regular file `path` if it holds at most `max_bytes` bytes, returning it with its
/// length. Anything else (a FIFO, a socket, a device such as `/dev/zero` behind a symlink, a
/// directory, a larger file) is an error: the type and size are checked from the metadata before
/// opening (so a FIFO is never opened and cannot block) and again on the opened handle.
pub fn open_bounded(path: &Path, max_bytes: u64) -> Result<(File, u64)> {
    let check = |meta: &fs::Metadata| -> Result<u64> {
        if !meta.is_file() {
            return Err(IdcError::InvalidInput(format!(
                "{} is not a regular file ({})",
                path.display(),
                file_kind(meta)
            )));
        }
        if meta.len() > max_bytes {
            return Err(IdcError::InvalidInput(format!(
                "{} is {} bytes, more than the {max_bytes} allowed for this kind of file",
                path.display(),
                meta.len()
            )));
        }
        Ok(meta.len())
    };
    check(&fs::metadata(path).map_err(|e| IdcError::io(path, e))?)?;
    let file = File::open(path).map_err(|e| IdcError::io(path, e))?;
    let len = check(&file.metadata().map_err(|e| IdcError::io(path, e))?)?;
    Ok((file, len))
}

/// Reads the regular file `path` if it holds at most `max_bytes` bytes ([`open_bounded`]); the
/// read itself is bounded too, in case the file grows meanwhile.
pub fn read_bounded(path: &Path, max_bytes: u64) -> Result<Vec<u8>> {
    use std::io::Read;
    let (file, len) = open_bounded(path, max_bytes)?;
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(max_bytes + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| IdcError::io(path, e))?;
    if bytes.len() as u64 > max_bytes {
        return Err(IdcError::InvalidInput(format!(
            "{} grew beyond {max_bytes} bytes while being read",
            path.display()
        )));
    }
    Ok(bytes)
}

#[cfg(unix)]
fn file_kind(meta: &fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    match () {
        _ if t.is_dir() => "a directory",
        _ if t.is_fifo() => "a FIFO",
        _ if t.is_socket() => "a socket",
        _ if t.is_char_device() => "a character device",
        _ if t.is_block_device() => "a block device",
        _ => "not a plain file",
    }
}

#[cfg(not(unix))]
fn file_kind(meta: &fs::Metadata) -> &'static str {
    if meta.is_dir() {
        "a directory"
    } else {
        "not a plain file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_bounded_refuses_special_and_oversized_files() {
        let d = tempfile::tempdir().unwrap();
        let ok = d.path().join("ok");
        fs::write(&ok, b"12345").unwrap();
        assert_eq!(read_bounded(&ok, 5).unwrap(), b"12345");
        assert!(matches!(
            read_bounded(&ok, 4),
            Err(IdcError::InvalidInput(_))
        ));
        assert!(matches!(
            read_bounded(d.path(), 1 << 20),
            Err(IdcError::InvalidInput(_))
        ));
        #[cfg(unix)]
        {
            let zero = d.path().join("zero");
            std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
            let e = read_bounded(&zero, 1 << 20).unwrap_err().to_string();
            assert!(e.contains("character device"), "{e}");
            // A FIFO with no writer would block a plain open: it must be refused without opening.
            let fifo = d.path().join("fifo");
            let made = std::process::Command::new("mkfifo").arg(&fifo).status();
            if made.is_ok_and(|s| s.success()) {
                let e = read_bounded(&fifo, 1 << 20).unwrap_err().to_string();
                assert!(e.contains("FIFO"), "{e}");
            }
        }
        assert!(matches!(
            read_bounded(&d.path().join("missing"), 9),
            Err(IdcError::Io { .. })
        ));
    }
}
