//! The restoration task: super-resolution (the paper's main setting) or colour denoising (its
//! Table 5). The task decides how a clean patch becomes the network's input, the network's
//! output factor, the evaluation protocol and, through [`crate::config::PatchConfig`], every
//! cache fingerprint. Adding a task (JPEG artefacts, blur) is one new variant here.
//!
//! Denoising follows SwinIR/KAIR: the noisy input is `clean + N(0, (sigma/255)^2)` per channel
//! and pixel, added in float and **not clipped** before the network. Training draws the noise
//! afresh for every sample (seeded by run seed and sample number, so runs reproduce); evaluation
//! uses one fixed noisy version per image (seeded by [`EVAL_NOISE_SEED`] and the file name).

use crate::error::{IdcError, Result};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, Normal};
use serde::{Deserialize, Serialize};

/// Seed of the one fixed noisy version of each evaluation image (mixed with its file name).
pub const EVAL_NOISE_SEED: u64 = 0x1DC0_DE15;

/// Stream id of the training-time noise in [`crate::seed::mix_seed`] (`(run seed, 3, sample)`).
pub const TRAIN_NOISE_STREAM: u64 = 3;

/// What the network learns to undo.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Task {
    /// Bicubic `1/scale` down-sampling (BasicSR protocol); the network up-samples by `scale`.
    SuperResolution {
        /// Up-sampling factor (2, 3 or 4).
        scale: usize,
    },
    /// Additive white Gaussian noise on all three colour channels; the network keeps the size.
    Denoise {
        /// Noise standard deviation in `[0, 255]` pixel units (the paper: 50).
        sigma: f32,
    },
}

impl Default for Task {
    fn default() -> Self {
        Task::SuperResolution { scale: 2 }
    }
}

impl Task {
    /// Checks the task's parameter.
    pub fn validate(&self) -> Result<()> {
        match *self {
            Task::SuperResolution { scale } if !(2..=4).contains(&scale) => {
                Err(IdcError::config("scale", "must be 2, 3 or 4"))
            }
            Task::Denoise { sigma } if !(sigma.is_finite() && sigma > 0.0 && sigma <= 255.0) => {
                Err(IdcError::config("sigma", "must be in (0, 255]"))
            }
            _ => Ok(()),
        }
    }

    /// Checks a config's stored task against its `scale` (`PatchConfig`, `TrainConfig`): SR is
    /// spelled `None` (one spelling, so one fingerprint) at scale 2, 3 or 4; any other task fixes
    /// the scale and is validated.
    pub fn check_stored(task: Option<Task>, scale: usize) -> Result<()> {
        match task {
            None => Task::SuperResolution { scale }.validate(),
            Some(Task::SuperResolution { .. }) => Err(IdcError::config(
                "task",
                "super-resolution is `None` (use scale)",
            )),
            Some(t) if t.scale() != scale => Err(IdcError::config(
                "scale",
                format!("must be {} for {}", t.scale(), t.label()),
            )),
            Some(t) => t.validate(),
        }
    }

    /// The task named on the command line: `sr` (needs `scale`) or `denoise` (needs `sigma`;
    /// `scale`, if given, must be 1). Validated.
    pub fn parse(name: &str, scale: Option<usize>, sigma: Option<f32>) -> Result<Task> {
        let task = match (name, scale, sigma) {
            ("sr", Some(scale), None) => Task::SuperResolution { scale },
            ("sr", None, _) => return Err(IdcError::config("scale", "--task sr needs --scale")),
            ("sr", _, Some(_)) => {
                return Err(IdcError::config("sigma", "--sigma is for --task denoise"));
            }
            ("denoise", None | Some(1), Some(sigma)) => Task::Denoise { sigma },
            ("denoise", _, None) => {
                return Err(IdcError::config("sigma", "--task denoise needs --sigma"));
            }
            ("denoise", Some(_), _) => {
                return Err(IdcError::config(
                    "scale",
                    "denoising keeps the size (scale 1)",
                ));
            }
            (other, _, _) => {
                return Err(IdcError::config(
                    "task",
                    format!("unknown task {other:?}: use sr or denoise"),
                ));
            }
        };
        task.validate()?;
        Ok(task)
    }

    /// Output size / input size of the network: the SR factor, 1 for denoising. This is the
    /// seam to the model configs (EDSR's `upscale`, SwinIR's upsampler: none when it is 1).
    pub fn scale(&self) -> usize {
        match *self {
            Task::SuperResolution { scale } => scale,
            Task::Denoise { .. } => 1,
        }
    }

    /// Whether the network needs an up-sampling tail (EDSR's pixel-shuffle stages, SwinIR's
    /// `upsampler`); false for denoising (SwinIR: upsampler none).
    pub fn needs_upsampler(&self) -> bool {
        self.scale() > 1
    }

    /// `None` for super-resolution (which configs store as their `scale` alone, keeping SR
    /// fingerprints as they were before tasks existed), else the task itself.
    pub fn non_default(self) -> Option<Task> {
        match self {
            Task::SuperResolution { .. } => None,
            other => Some(other),
        }
    }

    /// Noise level in `[0, 255]` units, `None` for super-resolution.
    pub fn sigma(&self) -> Option<f32> {
        match *self {
            Task::Denoise { sigma } => Some(sigma),
            Task::SuperResolution { .. } => None,
        }
    }

    /// Border excluded from PSNR/SSIM: the scale for SR (BasicSR `crop_border`), none for
    /// denoising (SwinIR/KAIR evaluate the whole image).
    pub fn crop_border(&self) -> usize {
        match *self {
            Task::SuperResolution { scale } => scale,
            Task::Denoise { .. } => 0,
        }
    }

    /// Short stable name for file names and logs: `sr-x4`, `denoise-s50`.
    pub fn label(&self) -> String {
        match *self {
            Task::SuperResolution { scale } => format!("sr-x{scale}"),
            Task::Denoise { sigma } => format!("denoise-s{sigma}"),
        }
    }
}

/// Adds `N(0, (sigma/255)^2)` noise to every value of `data` (pixels in `[0, 1]`), drawn from
/// `seed`; the result is not clipped (the SwinIR/KAIR protocol feeds it to the network as is).
pub fn add_gaussian_noise(data: &mut [f32], sigma: f32, seed: u64) {
    let std = f64::from(sigma) / 255.0;
    let Ok(normal) = Normal::new(0.0f64, std) else {
        return; // sigma is validated finite and positive before it gets here
    };
    let mut rng = StdRng::seed_from_u64(seed);
    for v in data {
        *v = (f64::from(*v) + normal.sample(&mut rng)) as f32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_checks_the_combinations() {
        assert_eq!(
            Task::parse("sr", Some(4), None).unwrap(),
            Task::SuperResolution { scale: 4 }
        );
        assert_eq!(
            Task::parse("denoise", None, Some(50.0)).unwrap(),
            Task::Denoise { sigma: 50.0 }
        );
        assert!(Task::parse("denoise", Some(1), Some(25.0)).is_ok());
        assert!(Task::parse("denoise", Some(2), Some(25.0)).is_err());
        assert!(Task::parse("denoise", None, None).is_err());
        assert!(Task::parse("denoise", None, Some(0.0)).is_err());
        assert!(Task::parse("denoise", None, Some(f32::NAN)).is_err());
        assert!(Task::parse("sr", None, None).is_err());
        assert!(Task::parse("sr", Some(4), Some(50.0)).is_err());
        assert!(Task::parse("sr", Some(5), None).is_err());
        assert!(Task::parse("jpeg", None, None).is_err());
    }

    #[test]
    fn scale_and_crop_follow_the_task() {
        let dn = Task::Denoise { sigma: 50.0 };
        assert_eq!(
            (dn.scale(), dn.crop_border(), dn.sigma()),
            (1, 0, Some(50.0))
        );
        let sr = Task::SuperResolution { scale: 3 };
        assert_eq!((sr.scale(), sr.crop_border(), sr.sigma()), (3, 3, None));
        assert_eq!(dn.label(), "denoise-s50");
        assert!(!dn.needs_upsampler() && sr.needs_upsampler());
    }

    #[test]
    fn noise_is_seeded_unclipped_and_has_the_right_spread() {
        let n = 200_000;
        let mut a = vec![0.5f32; n];
        add_gaussian_noise(&mut a, 50.0, 7);
        let mut b = vec![0.5f32; n];
        add_gaussian_noise(&mut b, 50.0, 7);
        assert_eq!(a, b, "same seed, same draw");
        let mut c = vec![0.5f32; n];
        add_gaussian_noise(&mut c, 50.0, 8);
        assert_ne!(a, c);
        let mean = a.iter().map(|&v| f64::from(v)).sum::<f64>() / n as f64;
        let var = a
            .iter()
            .map(|&v| (f64::from(v) - mean).powi(2))
            .sum::<f64>()
            / n as f64;
        assert!((mean - 0.5).abs() < 1e-3, "mean {mean}");
        assert!(
            (var.sqrt() * 255.0 - 50.0).abs() < 0.5,
            "std {}",
            var.sqrt() * 255.0
        );
        assert!(
            a.iter().any(|&v| v < 0.0) && a.iter().any(|&v| v > 1.0),
            "not clipped"
        );
    }
}
