//! The `idc` command line, one module per sub-command, kept in the library so examples (e.g.
//! `reproduce`) reuse the same code. Each module has `Args` (clap) and `run(args)`.
//! `--json` sub-commands print exactly one JSON object on stdout; messages go to stderr.

pub mod condense;
pub(crate) mod condense_args;
pub mod condense_one;
pub mod eval;
pub mod export;
pub mod inspect;
pub mod metrics;
pub(crate) mod models;
pub mod patches;
pub(crate) mod progress;
pub mod reproduce;
pub mod resize;
pub mod select;
pub mod sheet;
pub(crate) mod teacher_ref;
pub mod train;
pub mod upscale;

pub use models::ModelArgs;

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

/// Where the CLI keeps what it generates besides a cache (the built-in photographs, an extractor
/// it had to train): `$IDC_WORK_DIR`, else `$XDG_CACHE_HOME/burn-idc`, else
/// `$HOME/.cache/burn-idc`, else `<temp dir>/burn-idc`. Outside the cache root so a cache holds
/// only what `idc train --cache` reads.
pub fn work_dir() -> std::path::PathBuf {
    use std::path::PathBuf;
    let var = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(d) = var("IDC_WORK_DIR") {
        return d;
    }
    var("XDG_CACHE_HOME")
        .or_else(|| var("HOME").map(|h| h.join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
        .join("burn-idc")
}
