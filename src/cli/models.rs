//! Which network a sub-command's flags name, for every sub-command: `--model DIR` / `--weights
//! X.pth` with `--arch` or `--arch-config` ([`ModelArgs`]: `idc eval`, `idc upscale`), and the
//! extractor / teacher of `idc condense` and `idc train --condense-ratio` ([`RoleArgs`],
//! [`load_models`]): a model directory, a `.pth` with its `network_g` JSON, the built-in
//! pretrained model of the scale, or a small default extractor trained first. One module, so
//! the sub-commands cannot drift apart on what the same flags mean.

use crate::device::{TrainBackend, default_device};
use crate::models::net::{NetConfig, SrNet};
use crate::models::{Teacher, load_model_dir};
use crate::task::Task;
use anyhow::{Context, bail};
use burn::tensor::backend::Backend;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// A network on the training backend (the extractor and teacher roles).
pub type Net = SrNet<TrainBackend>;

/// Which network a sub-command runs: a model directory, or BasicSR `.pth` weights with an
/// architecture (shared by `idc eval` and `idc upscale`).
#[derive(Debug, Clone, clap::Args)]
pub struct ModelArgs {
    /// Model directory written by `idc train`.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// BasicSR `.pth` weights (needs --arch).
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// Preset name (edsr-tiny/-small/-baseline, swinir-tiny/-light/-classical) or
    /// edsr:FEATURESxBLOCKS (`idc eval` also takes bicubic, and noisy with --task denoise).
    #[arg(long)]
    pub arch: Option<String>,
    /// BasicSR `network_g` options as JSON (`{"type": "SwinIR", ...}`), instead of --arch.
    #[arg(long)]
    pub arch_config: Option<PathBuf>,
}

impl ModelArgs {
    /// The network these flags name: `--model DIR`, or `--weights X.pth` with `--arch A`
    /// (needs `scale`) or `--arch-config net.json`; checked against `scale` when given.
    pub fn load<B: Backend>(
        &self,
        scale: Option<usize>,
        device: &B::Device,
    ) -> anyhow::Result<SrNet<B>> {
        let (model, config) = match (&self.model, &self.weights, &self.arch, &self.arch_config) {
            (Some(dir), None, None, None) => load_model_dir::<B>(dir, device)?,
            (None, Some(pth), arch, json) if arch.is_some() != json.is_some() => {
                let config = match (arch, json) {
                    (Some(arch), _) => {
                        let Some(scale) = scale else {
                            bail!("--weights --arch needs --scale (the .pth does not say it)");
                        };
                        NetConfig::from_arch(arch, scale)?
                    }
                    (_, Some(json)) => NetConfig::from_json_file(json)?,
                    _ => unreachable!("exactly one of arch / json"),
                };
                let m = crate::models::weights::load_net_pth::<B>(pth, &config, device)?;
                (m, config)
            }
            _ => bail!(
                "give exactly one of --model DIR, --weights X.pth --arch A, or --weights X.pth \
                 --arch-config net.json"
            ),
        };
        if let Some(s) = scale
            && s != config.upscale()
        {
            bail!(
                "the network ({}) is x{}, --scale is {s}",
                config.describe(),
                config.upscale()
            );
        }
        Ok(model)
    }
}

/// The extractor / teacher flags of `idc condense`: `--extractor` (a model directory, or a
/// `.pth` that `--arch-config` describes), `--teacher` (a model directory), for `task`.
pub struct RoleArgs<'a> {
    /// `--extractor`.
    pub extractor: Option<&'a Path>,
    /// `--arch-config`: the `.pth` extractor's architecture, or the default extractor's.
    pub arch_config: Option<&'a Path>,
    /// `--teacher`.
    pub teacher: Option<&'a Path>,
    /// The task (its scale is the models').
    pub task: Task,
}

/// How to train the default extractor when no `--extractor` is given and no built-in model
/// exists for the scale: on `hr_dir`, for `iters` iterations, crops from `hr_patch`.
pub struct DefaultExtractor<'a> {
    /// The HR folder it trains on (the one being condensed).
    pub hr_dir: &'a Path,
    /// Training iterations.
    pub iters: usize,
    /// HR patch side of the condense grid (the LR crop side follows from it).
    pub hr_patch: usize,
    /// Training seed.
    pub seed: u64,
}

impl RoleArgs<'_> {
    /// The extractor and the teacher (the extractor unless `--teacher`), checked against the
    /// scale. Extractor: `--extractor`, else the built-in model of the scale, else one trained
    /// first (`default`). Denoising without `--teacher` has no teacher model (`None`): it
    /// condenses clean patches, each its own target
    /// ([`crate::models::identity::IdentityTeacher`]).
    pub fn resolve(&self, default: &DefaultExtractor) -> anyhow::Result<(Net, Option<Net>)> {
        let net = self.arch_config()?;
        let scale = self.task.scale();
        let builtin = crate::models::pretrained::find(scale).is_some();
        let extractor = match (self.extractor, &net) {
            (Some(path), Some(net)) => load_pth(path, net)?,
            (Some(path), None) => load_dir(path, "extractor")?,
            (None, None) if builtin => load_builtin(scale)?,
            (None, _) => train_extractor(self.task, net.as_ref(), default)?,
        };
        let teacher = match self.teacher {
            Some(dir) => load_dir(dir, "teacher")?,
            None if self.denoising() => return Ok((extractor, None)),
            None => extractor.clone(),
        };
        check_teacher(teacher, scale).map(|t| (extractor, Some(t)))
    }

    /// Where the teacher [`RoleArgs::resolve`] picks comes from: the same choices, in the same
    /// order (recorded in `teacher.json` for LR-only caches).
    pub fn teacher_source(&self) -> TeacherSource {
        let scale = self.task.scale();
        let builtin = crate::models::pretrained::find(scale).is_some();
        let path = |p: &Path| p.to_path_buf();
        match (self.teacher, self.extractor, self.arch_config) {
            (Some(dir), _, _) => TeacherSource::ModelDir { path: path(dir) },
            (None, _, _) if self.denoising() => TeacherSource::Identity,
            (None, Some(pth), Some(json)) => TeacherSource::Pth {
                path: path(pth),
                arch_config: path(json),
            },
            (None, Some(dir), None) => TeacherSource::ModelDir { path: path(dir) },
            (None, None, None) if builtin => TeacherSource::Builtin { scale },
            (None, None, _) => TeacherSource::ModelDir {
                path: super::work_dir().join(format!("default-extractor-x{scale}")),
            },
        }
    }

    fn denoising(&self) -> bool {
        !matches!(self.task, Task::SuperResolution { .. })
    }

    /// `--arch-config`, parsed.
    fn arch_config(&self) -> anyhow::Result<Option<NetConfig>> {
        Ok(match self.arch_config {
            Some(p) => Some(NetConfig::from_json_file(p)?),
            None => None,
        })
    }
}

/// Extractor and teacher from model directories (`idc train --condense-ratio`); a missing
/// extractor is the built-in model of `scale`, a missing teacher is the extractor. Errors when
/// the teacher is not `x<scale>`.
pub fn load_models(
    extractor: Option<&Path>,
    teacher: Option<&Path>,
    scale: usize,
) -> anyhow::Result<(Net, Net)> {
    let extractor = match extractor {
        Some(dir) => load_dir(dir, "extractor")?,
        None => load_builtin(scale)?,
    };
    let teacher = match teacher {
        Some(dir) => load_dir(dir, "teacher")?,
        None => extractor.clone(),
    };
    check_teacher(teacher, scale).map(|t| (extractor, t))
}

/// A BasicSR `.pth` extractor whose architecture `--arch-config` gives.
fn load_pth(path: &Path, net: &NetConfig) -> anyhow::Result<Net> {
    if !path.is_file() {
        bail!(
            "--arch-config describes a .pth --extractor; {} is not a file (a model directory \
             carries its own config)",
            path.display()
        );
    }
    crate::models::weights::load_net_pth::<TrainBackend>(path, net, &default_device())
        .with_context(|| format!("loading extractor weights {}", path.display()))
}

/// The built-in pretrained model of `scale` ([`crate::models::pretrained`]).
fn load_builtin(scale: usize) -> anyhow::Result<Net> {
    let (m, cfg) = crate::models::pretrained::load_builtin(scale, &default_device())?;
    eprintln!(
        "idc: no --extractor: using the built-in pretrained edsr {}x{} x{} (models/README.md)",
        cfg.num_feat, cfg.num_block, cfg.upscale
    );
    Ok(m)
}

fn load_dir(dir: &Path, role: &str) -> anyhow::Result<Net> {
    Ok(load_model_dir::<TrainBackend>(dir, &default_device())
        .with_context(|| format!("loading {role} {}", dir.display()))?
        .0)
}

fn check_teacher(teacher: Net, scale: usize) -> anyhow::Result<Net> {
    let got = Teacher::scale(&teacher);
    if got != scale {
        bail!(
            "the teacher up-samples x{got} but --scale is {scale}; pass --teacher with a x{scale} model"
        );
    }
    Ok(teacher)
}

/// Trains (or reuses) a small extractor (edsr-tiny, or `net`) on the HR folder in the work dir,
/// for a scale without a built-in model; later runs reuse it when its scale and architecture
/// match.
fn train_extractor(
    task: Task,
    net: Option<&NetConfig>,
    default: &DefaultExtractor,
) -> anyhow::Result<Net> {
    let device = default_device();
    let scale = task.scale();
    let name = match task {
        Task::SuperResolution { scale } => format!("default-extractor-x{scale}"),
        _ => format!("default-extractor-{}", task.label()),
    };
    let dir = super::work_dir().join(&name);
    if let Ok((m, cfg)) = load_model_dir::<TrainBackend>(&dir, &device)
        && cfg.upscale() == scale
        && net.is_none_or(|n| *n == cfg)
    {
        eprintln!(
            "idc condense: no --extractor: reusing the small extractor trained earlier in {}",
            dir.display()
        );
        return Ok(m);
    }
    let run_dir = super::work_dir().join(format!("{name}-run"));
    eprintln!(
        "idc condense: no --extractor: first training a small extractor (edsr-tiny, x{}, {} \
         iterations) on {} into {}",
        scale,
        default.iters,
        default.hr_dir.display(),
        dir.display()
    );
    let lr_patch = (default.hr_patch / scale).clamp(8, 48);
    let mut config = crate::train::TrainConfig::for_task("edsr-tiny", task, default.iters);
    if let Some(net) = net {
        config = config.with_net(net.to_network_g());
    }
    config.batch = 8;
    config.lr_patch = lr_patch;
    config.seed = default.seed;
    let data = crate::train::data::HrImageDataset::for_task(default.hr_dir, &task, lr_patch)?;
    let resume = run_dir.join("train_config.json").exists();
    let options = crate::train::TrainOptions::new(config.check()?, &run_dir).with_resume(resume);
    crate::train::train_sr::<TrainBackend, _>(data, &options, &device)?;
    let (m, cfg) = load_model_dir::<TrainBackend>(&run_dir, &device)
        .with_context(|| format!("loading the trained extractor from {}", run_dir.display()))?;
    crate::models::save_model_dir(&m, &cfg, &dir)?;
    Ok(m)
}

/// Where a teacher model comes from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum TeacherSource {
    /// The built-in pretrained model of `scale` ([`crate::models::pretrained`]).
    Builtin {
        /// Up-sampling factor.
        scale: usize,
    },
    /// A model directory written by `idc train` (absolute path).
    ModelDir {
        /// The directory.
        path: PathBuf,
    },
    /// BasicSR `.pth` weights with a `network_g` JSON (absolute paths).
    Pth {
        /// The weights.
        path: PathBuf,
        /// The architecture.
        arch_config: PathBuf,
    },
    /// Denoising without a teacher: each clean patch is its own target.
    Identity,
}

impl TeacherSource {
    /// Loads a network source (every one but [`TeacherSource::Identity`], which has none).
    pub fn load(&self) -> anyhow::Result<Net> {
        match self {
            TeacherSource::Builtin { scale } => load_builtin(*scale),
            TeacherSource::ModelDir { path } => load_dir(path, "teacher"),
            TeacherSource::Pth { path, arch_config } => {
                load_pth(path, &NetConfig::from_json_file(arch_config)?)
            }
            TeacherSource::Identity => bail!("internal: the identity teacher has no network"),
        }
    }

    /// The same source with absolute paths (the record outlives the working directory).
    pub fn absolute(self) -> Self {
        let abs = |p: PathBuf| std::path::absolute(&p).unwrap_or(p);
        match self {
            TeacherSource::ModelDir { path } => TeacherSource::ModelDir { path: abs(path) },
            TeacherSource::Pth { path, arch_config } => TeacherSource::Pth {
                path: abs(path),
                arch_config: abs(arch_config),
            },
            other => other,
        }
    }
}
