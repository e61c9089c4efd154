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
    /// Denoising at this noise level (`[0, 255]` units; `scale` is then 1); `None` is
    /// super-resolution. Left out of the JSON when `None`, so SR fingerprints are unchanged
    /// while a denoising config never shares a cache key with an SR one. Use [`Self::task`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise_sigma: Option<f32>,
}

impl Default for PatchConfig {
    fn default() -> Self {
        Self {
            scale: 2,
            hr_patch: 96,
            step: 48,
            thresh_size: 0,
            noise_sigma: None,
        }
    }
}

impl PatchConfig {
    /// Checks every field; called by everything that consumes a `PatchConfig`.
    pub fn validate(&self) -> Result<()> {
        match self.noise_sigma {
            None if !(2..=4).contains(&self.scale) => {
                return Err(IdcError::config("scale", "must be 2, 3 or 4"));
            }
            Some(_) if self.scale != 1 => {
                return Err(IdcError::config("scale", "must be 1 for denoising"));
            }
            _ => self.task().validate()?,
        }
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

    /// The task these patches are for: denoising when `noise_sigma` is set, else SR at `scale`.
    pub fn task(&self) -> Task {
        match self.noise_sigma {
            Some(sigma) => Task::Denoise { sigma },
            None => Task::SuperResolution { scale: self.scale },
        }
    }

    /// This grid for `task` (sets `scale` and `noise_sigma`; `hr_patch` must suit the scale).
    pub fn with_task(mut self, task: Task) -> Self {
        self.scale = task.scale();
        self.noise_sigma = task.sigma();
        self
    }

    /// LR patch side (`hr_patch / scale`).
    pub fn lr_patch(&self) -> usize {
        self.hr_patch / self.scale
    }
}
