//! The `idc` command line, one module per sub-command, kept in the library so examples (e.g.
//! `reproduce`) reuse the same code. Each module has `Args` (clap) and `run(args)`.
//! `--json` sub-commands print exactly one JSON object on stdout; messages go to stderr.

pub mod condense;
pub mod condense_one;
pub mod eval;
pub mod export;
pub mod inspect;
pub mod metrics;
pub mod patches;
pub mod progress;
pub mod reproduce;
pub mod resize;
pub mod select;
pub mod sheet;
pub mod teacher_ref;
pub mod train;
pub mod upscale;

/// Which network a sub-command runs: a model directory, or BasicSR `.pth` weights with an
/// architecture (shared by `idc eval` and `idc upscale`).
#[derive(Debug, Clone, clap::Args)]
pub struct ModelArgs {
    /// Model directory written by `idc train`.
    #[arg(long)]
    pub model: Option<std::path::PathBuf>,
    /// BasicSR `.pth` weights (needs --arch).
    #[arg(long)]
    pub weights: Option<std::path::PathBuf>,
    /// Preset name (edsr-tiny/-small/-baseline, swinir-tiny/-light/-classical) or
    /// edsr:FEATURESxBLOCKS (`idc eval` also takes bicubic, and noisy with --task denoise).
    #[arg(long)]
    pub arch: Option<String>,
    /// BasicSR `network_g` options as JSON (`{"type": "SwinIR", ...}`), instead of --arch.
    #[arg(long)]
    pub arch_config: Option<std::path::PathBuf>,
}

impl ModelArgs {
    /// The network these flags name: `--model DIR`, or `--weights X.pth` with `--arch A`
    /// (needs `scale`) or `--arch-config net.json`; checked against `scale` when given.
    pub fn load<B: burn::tensor::backend::Backend>(
        &self,
        scale: Option<usize>,
        device: &B::Device,
    ) -> anyhow::Result<crate::models::SrNet<B>> {
        use crate::models::NetConfig;
        let (model, config) = match (&self.model, &self.weights, &self.arch, &self.arch_config) {
            (Some(dir), None, None, None) => crate::models::load_model_dir::<B>(dir, device)?,
            (None, Some(pth), arch, json) if arch.is_some() != json.is_some() => {
                let config = match (arch, json) {
                    (Some(arch), _) => {
                        let Some(scale) = scale else {
                            anyhow::bail!(
                                "--weights --arch needs --scale (the .pth does not say it)"
                            );
                        };
                        NetConfig::from_arch(arch, scale)?
                    }
                    (_, Some(json)) => NetConfig::from_json_file(json)?,
                    _ => unreachable!("exactly one of arch / json"),
                };
                let m = crate::models::weights::load_net_pth::<B>(pth, &config, device)?;
                (m, config)
            }
            _ => anyhow::bail!(
                "give exactly one of --model DIR, --weights X.pth --arch A, or --weights X.pth \
                 --arch-config net.json"
            ),
        };
        if let Some(s) = scale
            && s != config.upscale()
        {
            anyhow::bail!(
                "the network ({}) is x{}, --scale is {s}",
                config.describe(),
                config.upscale()
            );
        }
        Ok(model)
    }
}

/// The restoration task of a sub-command: `--task sr` (default; `--scale`) or
/// `--task denoise --sigma S` (scale 1).
#[derive(Debug, Clone, clap::Args)]
pub struct TaskArgs {
    /// sr (super-resolution, needs --scale) or denoise (colour AWGN, needs --sigma).
    #[arg(long, default_value = "sr")]
    pub task: String,
    /// Noise standard deviation for --task denoise, in [0, 255] pixel units (the paper: 50).
    #[arg(long)]
    pub sigma: Option<f32>,
}

impl TaskArgs {
    /// The validated task, with the sub-command's `--scale` (required for SR).
    pub fn resolve(&self, scale: Option<usize>) -> anyhow::Result<crate::task::Task> {
        Ok(crate::task::Task::parse(&self.task, scale, self.sigma)?)
    }
}

/// Prints `value` as one JSON object on stdout.
pub fn print_json(value: &serde_json::Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string(value)?);
    Ok(())
}
