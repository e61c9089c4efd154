//! Validated, serialisable configuration shared across the crate, and stable fingerprints.
//!
//! Every config here is a serde struct with a `validate()` that runs before any algorithm sees
//! it; constructors that take a config call it, so invalid values cannot reach an algorithm.
//! [`fingerprint`] hashes a config into a stable key for on-disk caches.

use crate::error::{IdcError, Result};
use crate::task::Task;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// SHA-256 (hex) of the JSON form of `value`. Field order is the struct's declaration order, so
/// the hash is stable across runs and machines; changing any field changes it.
pub fn fingerprint<T: Serialize>(value: &T) -> String {
    let json = serde_json::to_vec(value).unwrap_or_default();
    hex_sha256(&json)
}

/// SHA-256 of raw bytes as lowercase hex.
pub fn hex_sha256(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Patches kept of an instance with `n` real patches at ratio `r`: `max(1, ceil(r n))`, at most
/// `n` (0 for an empty instance). IDC condenses to this count and every selection baseline
/// selects it, so all reduced sets have the same size. `1e-9` is subtracted before the ceiling
/// so a product that is an integer in exact arithmetic (`0.07 * 100 = 7.000000000000001` in
/// binary) does not round up.
pub fn reduced_count(n: usize, ratio: f64) -> usize {
    if n == 0 {
        return 0;
    }
    ((ratio * n as f64 - 1e-9).ceil().max(1.0) as usize).min(n)
}

/// How HR images are cut into training patches (BasicSR `extract_subimages.py` semantics).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchConfig {
    /// Up-sampling factor (2, 3 or 4).
    pub scale: usize,
    /// HR patch side in pixels; must be a multiple of `scale`.
    pub hr_patch: usize,
    /// Stride between patch origins in HR pixels.
    pub step: usize,
    /// A last window is only added when the remaining border exceeds this many pixels.
    pub thresh_size: usize,
    /// The task when it is not super-resolution at `scale` (`Some(Task::Denoise { .. })`, with
    /// `scale` 1); `None` is SR. Left out of the JSON when `None`, so SR fingerprints are
    /// unchanged while every other task (and parameter) gets its own cache keys. Read it through
    /// [`Self::task`]; set it with [`Self::with_task`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<Task>,
}

impl Default for PatchConfig {
    fn default() -> Self {
        Self {
            scale: 2,
            hr_patch: 96,
            step: 48,
            thresh_size: 0,
            task: None,
        }
    }
}

impl PatchConfig {
    /// Checks every field; called by everything that consumes a `PatchConfig`.
    pub fn validate(&self) -> Result<()> {
        Task::check_stored(self.task, self.scale)?;
        if self.hr_patch == 0 || !self.hr_patch.is_multiple_of(self.scale) {
            return Err(IdcError::config(
                "hr_patch",
                format!("must be a positive multiple of scale {}", self.scale),
            ));
        }
        if self.step == 0 {
            return Err(IdcError::config("step", "must be positive"));
        }
        if self.thresh_size > self.hr_patch {
            return Err(IdcError::config("thresh_size", "must not exceed hr_patch"));
        }
        Ok(())
    }

    /// The task these patches are for: `task`, else SR at `scale`.
    pub fn task(&self) -> Task {
        self.task
            .unwrap_or(Task::SuperResolution { scale: self.scale })
    }

    /// This grid for `task` (sets `scale` and `task`; `hr_patch` must suit the scale).
    pub fn with_task(mut self, task: Task) -> Self {
        self.scale = task.scale();
        self.task = task.non_default();
        self
    }

    /// LR patch side (`hr_patch / scale`).
    pub fn lr_patch(&self) -> usize {
        self.hr_patch / self.scale
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sr_json_is_unchanged_and_each_task_has_its_own_key() {
        let sr = PatchConfig::default();
        let sr_json = r#"{"scale":2,"hr_patch":96,"step":48,"thresh_size":0}"#;
        assert_eq!(serde_json::to_string(&sr).unwrap(), sr_json);
        assert_eq!(
            PatchConfig::default().with_task(Task::SuperResolution { scale: 2 }),
            sr
        );
        let dn = PatchConfig::default().with_task(Task::Denoise { sigma: 50.0 });
        dn.validate().unwrap();
        assert_eq!((dn.scale, dn.task()), (1, Task::Denoise { sigma: 50.0 }));
        let json = serde_json::to_string(&dn).unwrap();
        assert!(
            json.ends_with(r#""task":{"denoise":{"sigma":50.0}}}"#),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<PatchConfig>(&json).unwrap(), dn);
        let dn25 = PatchConfig::default().with_task(Task::Denoise { sigma: 25.0 });
        assert_ne!(fingerprint(&dn), fingerprint(&dn25));
        assert_ne!(fingerprint(&dn), fingerprint(&sr));
        let mut bad = sr.clone();
        bad.task = Some(Task::SuperResolution { scale: 2 });
        assert!(
            bad.validate().is_err(),
            "SR has one spelling (None), so one key"
        );
        let mut bad = dn.clone();
        bad.scale = 2;
        assert!(bad.validate().is_err());
    }
}
