//! `idc inspect`: summarise and verify a shard cache.

use std::path::PathBuf;

/// Arguments of `idc inspect`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[arg(long)]
    pub cache: PathBuf,
    #[arg(long)]
    pub verify: bool,
    #[arg(long)]
    pub json: bool,
}

/// Runs the sub-command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let _ = &args;
    anyhow::bail!("`idc inspect` is not implemented yet")
}
