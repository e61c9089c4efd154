//! `idc patches`: count the HR patch grid of a folder.

use std::path::PathBuf;

/// Arguments of `idc patches`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[arg(long)]
    pub hr_dir: PathBuf,
    #[arg(long)]
    pub scale: usize,
    #[arg(long)]
    pub hr_patch: usize,
    #[arg(long)]
    pub step: usize,
    #[arg(long)]
    pub json: bool,
}

/// Runs the sub-command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let _ = &args;
    anyhow::bail!("`idc patches` is not implemented yet")
}
