//! Resumable stages: each stage's output lives in `<work>/<name>-<fingerprint[..16]>/` and is
//! valid only once its `DONE.json` marker exists (written atomically last), so an interrupted run
//! redoes only unfinished stages, and a changed config (new fingerprint) never reuses old output.
//! A running stage is claimed with an OS file lock ([`Stage::claim`]), so several processes can
//! share one work folder: each runs the stages no other process holds.

use crate::config::fingerprint;
use crate::error::{IdcError, Result};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// A stage's identity: a readable name plus the fingerprint of everything that determines it.
pub struct Stage {
    /// Readable stage name.
    pub name: String,
    /// Stage directory, `<work>/<name>-<fingerprint prefix>`: holds its outputs and `DONE.json`.
    pub dir: PathBuf,
}

impl Stage {
    /// Stage `name` keyed by `key` (any serialisable description of its inputs) under `work`.
    pub fn new<K: Serialize>(work: &Path, name: &str, key: &K) -> Self {
        let fp = fingerprint(key);
        Stage {
            name: name.to_string(),
            dir: work.join(format!("{name}-{}", &fp[..16])),
        }
    }

    fn marker(&self) -> PathBuf {
        self.dir.join("DONE.json")
    }

    fn seconds_file(&self) -> PathBuf {
        self.dir.join("SECONDS")
    }

    /// Whether the stage has finished (its marker holds a result).
    pub fn is_done(&self) -> bool {
        self.marker().is_file()
    }

    /// Claims the unfinished stage for this process until the [`Claim`] drops: `None` when
    /// another process holds it. An OS lock (not a pid file), so a killed process never leaves a
    /// stage claimed.
    pub fn claim(&self) -> Result<Option<Claim>> {
        let (path, file) = self.claim_file()?;
        match file.try_lock() {
            Ok(()) => Ok(Some(Claim { path, _file: file })),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => Err(IdcError::io(&path, e)),
        }
    }

    /// [`Stage::claim`] that waits while another process holds the stage; check
    /// [`Stage::is_done`] after it, since the holder has usually finished it by then.
    pub fn claim_waiting(&self) -> Result<Claim> {
        let (path, file) = self.claim_file()?;
        file.lock().map_err(|e| IdcError::io(&path, e))?;
        Ok(Claim { path, _file: file })
    }

    fn claim_file(&self) -> Result<(PathBuf, std::fs::File)> {
        std::fs::create_dir_all(&self.dir).map_err(|e| IdcError::io(&self.dir, e))?;
        let path = self.dir.join("CLAIM");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| IdcError::io(&path, e))?;
        Ok((path, file))
    }

    /// Wall seconds the stage took when it ran (kept next to its marker, so a run spanning
    /// several sessions still reports every stage's measured time).
    pub fn seconds(&self) -> Option<f64> {
        std::fs::read_to_string(self.seconds_file())
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// The stored result if the stage finished before.
    pub fn load<T: DeserializeOwned>(&self) -> Option<T> {
        let bytes = std::fs::read(self.marker()).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Returns the stored result, or runs `f` (which may write files under the stage dir and may
    /// resume from partial files there) and stores its result atomically.
    pub fn run<T, F>(&self, f: F) -> Result<T>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce(&Path) -> Result<T>,
    {
        if let Some(done) = self.load::<T>() {
            eprintln!("[stage] {}: cached ({})", self.name, self.dir.display());
            return Ok(done);
        }
        std::fs::create_dir_all(&self.dir).map_err(|e| IdcError::io(&self.dir, e))?;
        eprintln!("[stage] {}: running", self.name);
        let start = Instant::now();
        let value = f(&self.dir)?;
        let json = serde_json::to_vec_pretty(&value)
            .map_err(|e| IdcError::InvalidInput(format!("stage result: {e}")))?;
        let secs = start.elapsed().as_secs_f64();
        // Time first, marker last: a stage is done only once its marker exists.
        write_atomic(&self.seconds_file(), format!("{secs:.1}\n").as_bytes())?;
        write_atomic(&self.marker(), &json)?;
        eprintln!("[stage] {}: done in {secs:.1} s", self.name);
        // The value as every later invocation reads it: JSON's f64 parsing is not always exact
        // in the last digit, and the tables must not depend on which invocation ran the stage.
        self.load::<T>().ok_or_else(|| {
            IdcError::InvalidInput(format!(
                "stage {}: its result does not read back",
                self.name
            ))
        })
    }
}

/// This process's hold on a stage ([`Stage::claim`]); dropping it removes the lock file and
/// releases the lock.
pub struct Claim {
    path: PathBuf,
    _file: std::fs::File,
}

impl Drop for Claim {
    /// The file goes while still locked: a process that opens the path afterwards locks a new
    /// file, and by then the stage is either done (its marker is read first) or free to retry.
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

pub use crate::fsutil::write_atomic;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finished_stage_is_not_rerun_and_key_change_is() {
        let dir = tempfile::tempdir().unwrap();
        let s = Stage::new(dir.path(), "train", &("edsr", 10));
        let mut runs = 0;
        let a: u32 = s
            .run(|_| {
                runs += 1;
                Ok(7)
            })
            .unwrap();
        let b: u32 = s
            .run(|_| {
                runs += 1;
                Ok(8)
            })
            .unwrap();
        assert_eq!((a, b, runs), (7, 7, 1));
        assert!(s.is_done());
        assert!(s.seconds().is_some_and(|t| t >= 0.0));
        let s2 = Stage::new(dir.path(), "train", &("edsr", 11));
        let c: u32 = s2.run(|_| Ok(9)).unwrap();
        assert_eq!(c, 9);
        assert_ne!(s.dir, s2.dir);
    }

    #[test]
    fn a_claimed_stage_cannot_be_claimed_again_until_released() {
        let dir = tempfile::tempdir().unwrap();
        let s = Stage::new(dir.path(), "x", &1);
        let first = s.claim().unwrap();
        assert!(first.is_some());
        assert!(
            s.claim().unwrap().is_none(),
            "a held claim was granted twice"
        );
        drop(first);
        assert!(!s.dir.join("CLAIM").exists());
        assert!(s.claim().unwrap().is_some());
    }

    #[test]
    fn failed_stage_leaves_no_marker() {
        let dir = tempfile::tempdir().unwrap();
        let s = Stage::new(dir.path(), "x", &1);
        let r: Result<u32> = s.run(|_| Err(IdcError::InvalidInput("boom".into())));
        assert!(r.is_err());
        assert!(s.load::<u32>().is_none());
    }
}
