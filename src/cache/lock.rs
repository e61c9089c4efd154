//! Per-instance lock files (`<cache>/.locks/<instance>.lock`, out of the way of the shards) so threads and processes sharing a cache directory
//! condense every instance exactly once.
//!
//! Uses `std::fs::File::lock` (an OS advisory lock: `flock` on Unix, `LockFileEx` on Windows).
//! The kernel releases it when the holder exits or is killed, so a `kill -9` never leaves a
//! stuck lock; the lock *file* stays on disk on purpose: deleting it while another process waits
//! on it would let a third process lock a fresh inode and condense concurrently.
//! `flock` locks belong to the open file description, so two threads of one process that open
//! the file separately also exclude each other.

use crate::error::{IdcError, Result};
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

/// An exclusive lock held until drop.
#[derive(Debug)]
pub struct InstanceLock {
    file: File,
    path: PathBuf,
}

impl InstanceLock {
    /// Blocks until the lock file at `path` (created if missing) is held.
    pub fn acquire_path(path: &Path) -> Result<InstanceLock> {
        let file = open_lock_file(path)?;
        file.lock().map_err(|e| IdcError::io(path, e))?;
        Ok(InstanceLock {
            file,
            path: path.to_path_buf(),
        })
    }

    /// Takes the lock if it is free; `Ok(None)` when another holder has it.
    pub fn try_acquire_path(path: &Path) -> Result<Option<InstanceLock>> {
        let file = open_lock_file(path)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(InstanceLock {
                file,
                path: path.to_path_buf(),
            })),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => Err(IdcError::io(path, e)),
        }
    }

    /// Path of the lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for InstanceLock {
    fn drop(&mut self) {
        // Closing the file releases the lock too; unlocking first makes the release immediate
        // even if the handle were duplicated.
        let _ = self.file.unlock();
    }
}

/// Opens (creating it and its folder if missing) the lock file; anything at `path` that is not a regular file (a
/// directory, a FIFO that would block the open, a device) is refused before opening.
fn open_lock_file(path: &Path) -> Result<File> {
    if let Ok(meta) = std::fs::metadata(path)
        && !meta.is_file()
    {
        return Err(IdcError::InvalidInput(format!(
            "lock path {} exists but is not a regular file; remove it",
            path.display()
        )));
    }
    if let Some(parent) = path.parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent).map_err(|e| IdcError::io(parent, e))?;
    }
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| IdcError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn second_holder_waits_until_release() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(".locks").join("x.lock");
        let a = InstanceLock::acquire_path(&p).unwrap();
        assert!(InstanceLock::try_acquire_path(&p).unwrap().is_none());
        drop(a);
        assert!(InstanceLock::try_acquire_path(&p).unwrap().is_some());
    }

    #[test]
    fn threads_are_mutually_excluded() {
        let dir = tempfile::tempdir().unwrap();
        let p = Arc::new(dir.path().join("y.lock"));
        let inside = Arc::new(AtomicUsize::new(0));
        let max = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let (p, inside, max) = (p.clone(), inside.clone(), max.clone());
                std::thread::spawn(move || {
                    for _ in 0..20 {
                        let _g = InstanceLock::acquire_path(&p).unwrap();
                        let n = inside.fetch_add(1, Ordering::SeqCst) + 1;
                        max.fetch_max(n, Ordering::SeqCst);
                        std::thread::yield_now();
                        inside.fetch_sub(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(max.load(Ordering::SeqCst), 1);
    }
}
