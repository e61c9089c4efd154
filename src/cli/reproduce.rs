//! `idc reproduce`: reproduce the paper tables (resumable stages).

use std::path::PathBuf;

/// Arguments of `idc reproduce`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[arg(long, default_value = "smoke")]
    pub preset: String,
    /// Output/work directory (default docs/results/<preset>).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Runs the sub-command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let _ = &args;
    anyhow::bail!("`idc reproduce` is not implemented yet")
}
