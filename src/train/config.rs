//! Training configuration (serde, validated before anything runs).

use crate::config::valid_config;
use crate::error::{IdcError, Result};
use crate::models::net::NetConfig;
use crate::task::Task;
use serde::{Deserialize, Serialize};

/// Everything that determines a training run. Two runs with equal configs (and data) produce
/// the same weights; `--resume` refuses to continue a run whose config differs in anything but
/// `iters`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Architecture: `edsr-tiny`, `edsr-small`, `edsr-baseline`, `edsr:<features>x<blocks>`,
    /// `swinir-tiny`, `swinir-light` or `swinir-classical`; ignored when `net` is set.
    pub arch: String,
    /// BasicSR `network_g` options (`--arch-config`); overrides `arch` when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub net: Option<serde_json::Value>,
    /// Up-sampling factor (2, 3 or 4).
    pub scale: usize,
    /// Total optimiser steps.
    pub iters: usize,
    /// Pairs per step.
    pub batch: usize,
    /// LR patch side fed to the network (HR side is `lr_patch * scale`); larger dataset items are
    /// randomly cropped to it.
    pub lr_patch: usize,
    /// Initial learning rate (BasicSR EDSR: 2e-4).
    pub lr: f64,
    /// Iterations at which the learning rate is multiplied by `gamma` (BasicSR `MultiStepLR`).
    pub milestones: Vec<usize>,
    /// Decay factor at each milestone (BasicSR EDSR: 0.5).
    pub gamma: f64,
    /// Adam beta1 (BasicSR: 0.9).
    pub beta1: f32,
    /// Adam beta2 (BasicSR: 0.99).
    pub beta2: f32,
    /// Adam epsilon (PyTorch: 1e-8).
    pub epsilon: f32,
    /// Random horizontal/vertical flips and transposition (BasicSR `use_hflip`/`use_rot`).
    pub augment: bool,
    /// Seed for weight initialisation, data order, crops and augmentation.
    pub seed: u64,
    /// Validate every this many iterations (and at the end). Must be a multiple of
    /// `checkpoint_every`.
    pub valid_every: usize,
    /// One burn-train "epoch" is this many iterations; a checkpoint is written after each.
    pub checkpoint_every: usize,
    /// The task when it is not SR at `scale` (denoising: `scale` 1, every training sample's
    /// input is its clean target plus fresh seeded noise). `None` (SR) is left out of the JSON,
    /// so SR configs and their fingerprints are unchanged. Read it through [`Self::task`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<Task>,
}

valid_config! {
    /// A [`TrainConfig`] that passed [`TrainConfig::check`]: what
    /// [`crate::train::TrainOptions`] (and so [`crate::train::train_sr`]) takes.
    ValidTrainConfig(TrainConfig)
}

impl TrainConfig {
    /// BasicSR-style defaults for `iters` iterations: lr 2e-4 halved at 2/3 of the run, Adam
    /// (0.9, 0.99), augmentation on, validation and checkpoints every `ceil(iters / 10)`.
    pub fn new(arch: &str, scale: usize, iters: usize) -> Self {
        let every = iters.div_ceil(10).max(1);
        Self {
            arch: arch.to_string(),
            net: None,
            scale,
            iters,
            batch: 16,
            lr_patch: 48,
            lr: 2e-4,
            milestones: vec![(iters * 2 / 3).max(1)],
            gamma: 0.5,
            beta1: 0.9,
            beta2: 0.99,
            epsilon: 1e-8,
            augment: true,
            seed: 0,
            valid_every: every,
            checkpoint_every: every,
            task: None,
        }
    }

    /// [`Self::new`] for `task` (scale 1 and the noise level for denoising).
    pub fn for_task(arch: &str, task: Task, iters: usize) -> Self {
        let mut c = Self::new(arch, task.scale(), iters);
        c.task = task.non_default();
        c
    }

    /// The task this run trains for.
    pub fn task(&self) -> Task {
        self.task
            .unwrap_or(Task::SuperResolution { scale: self.scale })
    }

    /// Checks every field (and that `arch` parses for `scale`): the rules [`Self::check`]
    /// applies.
    pub fn validate(&self) -> Result<()> {
        Task::check_stored(self.task, self.scale)?;
        self.model_config()?;
        if self.iters == 0 {
            return Err(IdcError::config("iters", "must be positive"));
        }
        if self.batch == 0 || self.batch > 4096 {
            return Err(IdcError::config("batch", "must be in 1..=4096"));
        }
        if self.lr_patch == 0 || self.lr_patch > 1024 {
            return Err(IdcError::config("lr_patch", "must be in 1..=1024"));
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(IdcError::config("lr", "must be positive"));
        }
        if !(self.gamma.is_finite() && self.gamma > 0.0) {
            return Err(IdcError::config("gamma", "must be positive"));
        }
        if self.milestones.windows(2).any(|w| w[0] >= w[1]) {
            return Err(IdcError::config(
                "milestones",
                "must be strictly increasing",
            ));
        }
        for (name, b) in [("beta1", self.beta1), ("beta2", self.beta2)] {
            if !(0.0..1.0).contains(&b) {
                return Err(IdcError::config(name, "must be in [0, 1)"));
            }
        }
        if !(self.epsilon.is_finite() && self.epsilon > 0.0) {
            return Err(IdcError::config("epsilon", "must be positive"));
        }
        if self.checkpoint_every == 0 {
            return Err(IdcError::config("checkpoint_every", "must be positive"));
        }
        if self.valid_every == 0 || !self.valid_every.is_multiple_of(self.checkpoint_every) {
            return Err(IdcError::config(
                "valid_every",
                format!(
                    "must be a positive multiple of checkpoint_every ({})",
                    self.checkpoint_every
                ),
            ));
        }
        Ok(())
    }

    /// Trains the network BasicSR's `network_g` options describe instead of `arch`.
    pub fn with_net(mut self, network_g: serde_json::Value) -> Self {
        self.net = Some(network_g);
        self
    }

    /// The network this config trains (its `upscale` must be `scale`).
    pub fn model_config(&self) -> Result<NetConfig> {
        let Some(net) = &self.net else {
            return NetConfig::from_arch(&self.arch, self.scale);
        };
        let config = NetConfig::from_network_g(net)?;
        if config.upscale() != self.scale {
            return Err(IdcError::config(
                "net",
                format!(
                    "network_g upscale {} but scale {}",
                    config.upscale(),
                    self.scale
                ),
            ));
        }
        Ok(config)
    }

    /// Whether `other` describes the same run up to its length (what `--resume` requires).
    pub fn same_run_as(&self, other: &TrainConfig) -> bool {
        let mut a = self.clone();
        a.iters = other.iters;
        &a == other
    }

    /// Learning rate used at (1-based) iteration `iter`, as BasicSR's `MultiStepLR`: decayed
    /// once for every milestone `<= iter`.
    pub fn lr_at(&self, iter: usize) -> f64 {
        let n = self.milestones.iter().filter(|&&m| m <= iter).count();
        self.lr * self.gamma.powi(n as i32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `TrainConfig::new("edsr-tiny", 2, 2000)`: valid (tested), the base of every row below.
    fn base() -> TrainConfig {
        TrainConfig::new("edsr-tiny", 2, 2000)
    }

    /// One test per field `TrainConfig::validate` refuses.
    mod invalid_field {
        use super::*;
        use crate::config::invalid_field_tests;

        invalid_field_tests! { base();
            scale_not_2_3_or_4: |c| c.scale = 5 => "scale";
            scale_not_the_tasks: |c| c.task = Some(Task::Denoise { sigma: 50.0 }) => "scale";
            task_sr_spelled_some: |c| c.task = Some(Task::SuperResolution { scale: 2 }) => "task";
            task_sigma: |c| c = TrainConfig::for_task(&c.arch, Task::Denoise { sigma: 0.0 }, c.iters)
                => "sigma";
            arch_unknown: |c| c.arch = "edsr-huge".into() => "arch";
            net_upscale_not_scale: |c| c = c.with_net(serde_json::json!(
                {"type": "EDSR", "num_feat": 16, "num_block": 2, "upscale": 3}
            )) => "net";
            iters_zero: |c| c.iters = 0 => "iters";
            batch_zero: |c| c.batch = 0 => "batch";
            batch_above_4096: |c| c.batch = 4097 => "batch";
            lr_patch_zero: |c| c.lr_patch = 0 => "lr_patch";
            lr_patch_above_1024: |c| c.lr_patch = 1025 => "lr_patch";
            lr_zero: |c| c.lr = 0.0 => "lr";
            lr_nan: |c| c.lr = f64::NAN => "lr";
            gamma_zero: |c| c.gamma = 0.0 => "gamma";
            gamma_infinite: |c| c.gamma = f64::INFINITY => "gamma";
            milestones_not_increasing: |c| c.milestones = vec![5, 5] => "milestones";
            beta1_one: |c| c.beta1 = 1.0 => "beta1";
            beta2_negative: |c| c.beta2 = -0.1 => "beta2";
            epsilon_zero: |c| c.epsilon = 0.0 => "epsilon";
            checkpoint_every_zero: |c| c.checkpoint_every = 0 => "checkpoint_every";
            valid_every_zero: |c| c.valid_every = 0 => "valid_every";
            valid_every_not_a_multiple: |c| c.valid_every = 300 => "valid_every";
        }
    }

    #[test]
    fn valid_train_config_is_transparent_and_checked_on_read() {
        let v = base().check().unwrap();
        let json = serde_json::to_string(&v).unwrap();
        assert_eq!(json, serde_json::to_string(&*v).unwrap());
        assert_eq!(serde_json::from_str::<ValidTrainConfig>(&json).unwrap(), v);
        let bad = json.replace(r#""batch":16"#, r#""batch":0"#);
        assert!(serde_json::from_str::<TrainConfig>(&bad).is_ok());
        let err = serde_json::from_str::<ValidTrainConfig>(&bad).unwrap_err();
        assert!(err.to_string().contains("batch"), "{err}");
    }

    #[test]
    fn defaults_and_same_run() {
        let c = base();
        c.validate().unwrap();
        assert_eq!(c.milestones, vec![1333]);
        assert_eq!(c.valid_every, 200);
        let mut longer = c.clone();
        longer.iters = 4000;
        assert!(c.same_run_as(&longer));
        longer.seed = 1;
        assert!(!c.same_run_as(&longer));
    }

    #[test]
    fn denoising_config_is_scale_one_and_keeps_sr_json() {
        let sr = TrainConfig::new("edsr-tiny", 2, 20);
        assert!(!serde_json::to_string(&sr).unwrap().contains("task"));
        let dn = TrainConfig::for_task("edsr-tiny", Task::Denoise { sigma: 50.0 }, 20);
        dn.validate().unwrap();
        assert_eq!((dn.scale, dn.task()), (1, Task::Denoise { sigma: 50.0 }));
        assert_eq!(dn.model_config().unwrap().upscale(), 1);
        let back: TrainConfig = serde_json::from_str(&serde_json::to_string(&dn).unwrap()).unwrap();
        assert_eq!(back, dn);
        let mut bad = dn.clone();
        bad.scale = 2;
        assert!(bad.validate().is_err());
        let mut bad = sr.clone();
        bad.scale = 1;
        assert!(
            bad.validate().is_err(),
            "scale 1 without a noise level is not a task"
        );
    }

    #[test]
    fn multistep_lr_matches_basicsr() {
        let mut c = TrainConfig::new("edsr-tiny", 2, 10);
        c.milestones = vec![3, 6];
        let lrs: Vec<f64> = (1..=7).map(|i| c.lr_at(i)).collect();
        assert_eq!(lrs, vec![2e-4, 2e-4, 1e-4, 1e-4, 1e-4, 5e-5, 5e-5]);
    }
}
