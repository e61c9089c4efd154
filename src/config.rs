//! Validated, serialisable configuration shared across the crate, and stable fingerprints.
//!
//! Every config here is a serde struct with a `validate()` holding its rules; `check()` runs it
//! once and returns a `Valid*` proof (the `valid_config!` macro), the only form the consumers accept, so
//! invalid values cannot reach an algorithm and nothing downstream validates again.
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

/// Declares `$valid`, the proof that a `$config` passed its `validate()` (linfa's `ParamGuard`,
/// as [`crate::condense::ValidCondenseConfig`]), and `$config::check`, the one way to get it.
/// Read it through `Deref`; it serialises as the bare config (same JSON, same fingerprints) and
/// a file deserialised into it is checked as it is read. Change it by going back through
/// `into_inner` and `check`.
macro_rules! valid_config {
    ($(#[$doc:meta])* $valid:ident($config:ident)) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, serde::Serialize)]
        #[serde(transparent)]
        pub struct $valid($config);

        impl $valid {
            /// The checked config, to change and check again.
            pub fn into_inner(self) -> $config {
                self.0
            }
        }

        impl std::ops::Deref for $valid {
            type Target = $config;
            fn deref(&self) -> &$config {
                &self.0
            }
        }

        impl<'de> serde::Deserialize<'de> for $valid {
            /// A config file is checked as it is read.
            fn deserialize<D: serde::Deserializer<'de>>(
                d: D,
            ) -> std::result::Result<Self, D::Error> {
                <$config as serde::Deserialize>::deserialize(d)?
                    .check()
                    .map_err(serde::de::Error::custom)
            }
        }

        impl $config {
            /// Checks every field (`validate`) once and returns the proof the consumers take.
            pub fn check(self) -> $crate::error::Result<$valid> {
                self.validate()?;
                Ok($valid(self))
            }
        }
    };
}
pub(crate) use valid_config;

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

valid_config! {
    /// A [`PatchConfig`] that passed [`PatchConfig::check`]: what patch extraction
    /// ([`crate::image::patch::PairMaker`]) and the datasets built on it take.
    ValidPatchConfig(PatchConfig)
}

impl Default for ValidPatchConfig {
    /// [`PatchConfig::default`], which is valid (tested).
    fn default() -> Self {
        ValidPatchConfig(PatchConfig::default())
    }
}

impl PatchConfig {
    /// Checks every field: the rules [`Self::check`] applies.
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

/// Test helper: asserts that `checked` is an invalid-config error naming exactly `field`.
#[cfg(test)]
pub(crate) fn assert_rejects<T: std::fmt::Debug>(checked: Result<T>, field: &str) {
    match checked {
        Err(IdcError::InvalidConfig {
            field: named,
            reason,
        }) => {
            assert_eq!(named, field, "the error names another field ({reason})")
        }
        other => panic!("expected an invalid-config error naming {field}, got {other:?}"),
    }
}

/// Test helper: one `#[test]` per row `name: |c| change => "field";`, each taking the valid
/// `$base`, applying its one change and asserting that `check()` refuses it naming `field`.
#[cfg(test)]
macro_rules! invalid_field_tests {
    ($base:expr; $($name:ident: |$c:ident| $change:expr => $field:literal;)+) => {
        $(
            #[test]
            // The point of a row: one field changed on a valid base.
            #[allow(clippy::field_reassign_with_default)]
            fn $name() {
                let mut $c = $base;
                $change;
                $crate::config::assert_rejects($c.check(), $field);
            }
        )+
    };
}
#[cfg(test)]
pub(crate) use invalid_field_tests;

#[cfg(test)]
mod tests {
    use super::*;

    /// One test per field `PatchConfig::validate` refuses.
    mod invalid_field {
        use super::*;

        invalid_field_tests! { PatchConfig::default();
            scale_not_2_3_or_4: |c| c.scale = 5 => "scale";
            scale_not_the_tasks: |c| c.task = Some(Task::Denoise { sigma: 25.0 }) => "scale";
            task_sr_spelled_some: |c| c.task = Some(Task::SuperResolution { scale: 2 }) => "task";
            task_sigma: |c| c = c.with_task(Task::Denoise { sigma: -1.0 }) => "sigma";
            hr_patch_not_a_multiple_of_scale: |c| c.hr_patch = 95 => "hr_patch";
            hr_patch_zero: |c| c.hr_patch = 0 => "hr_patch";
            step_zero: |c| c.step = 0 => "step";
            thresh_size_above_hr_patch: |c| c.thresh_size = 97 => "thresh_size";
        }
    }

    #[test]
    fn valid_patch_config_is_transparent_and_checked_on_read() {
        let v = PatchConfig::default().check().unwrap();
        assert_eq!(v, ValidPatchConfig::default());
        let json = serde_json::to_string(&v).unwrap();
        assert_eq!(json, serde_json::to_string(&*v).unwrap());
        assert_eq!(serde_json::from_str::<ValidPatchConfig>(&json).unwrap(), v);
        let bad = json.replace(r#""step":48"#, r#""step":0"#);
        assert!(serde_json::from_str::<PatchConfig>(&bad).is_ok());
        let err = serde_json::from_str::<ValidPatchConfig>(&bad).unwrap_err();
        assert!(err.to_string().contains("step"), "{err}");
    }

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
