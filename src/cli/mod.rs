//! The `idc` command line, one module per sub-command, kept in the library so examples (e.g.
//! `reproduce`) reuse the same code. Each module has `Args` (clap) and `run(args)`.
//! `--json` sub-commands print exactly one JSON object on stdout; messages go to stderr.

pub mod condense;
pub mod condense_one;
pub mod eval;
pub mod inspect;
pub mod metrics;
pub mod patches;
pub mod progress;
pub mod reproduce;
pub mod resize;
pub mod select;
pub mod sheet;
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
    /// Preset name or edsr:FEATURESxBLOCKS (`idc eval` also takes bicubic).
    #[arg(long)]
    pub arch: Option<String>,
}

/// Prints `value` as one JSON object on stdout.
pub fn print_json(value: &serde_json::Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string(value)?);
    Ok(())
}
