//! `idc export`: write a shard cache (`idc condense`, `idc select`) as paired PNG folders for
//! other tools ([`crate::dataset::export::export_cache`]; layouts in `docs/export.md`).
//! `--json` prints `{"format","pairs","instances","scale","bytes","out","hr_dir","lr_dir",
//! "meta_info","seconds"}`.

use crate::dataset::export::{ExportFormat, export_cache_with};
use anyhow::Context;
use std::path::PathBuf;
use std::time::Instant;

/// Arguments of `idc export`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Shard cache written by `idc condense` or `idc select`.
    #[arg(long)]
    pub cache: PathBuf,
    /// Export folder (created; must be empty unless --force).
    #[arg(long)]
    pub out: PathBuf,
    /// basicsr (HR/, LR_bicubic/X{s}/, meta_info.txt) or folder (hr/, lr/).
    #[arg(long, default_value = "basicsr")]
    pub format: String,
    /// Replace a previous export in --out (refused if it holds anything else).
    #[arg(long)]
    pub force: bool,
    #[arg(long)]
    pub json: bool,
}

/// Runs the sub-command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let start = Instant::now();
    let format: ExportFormat = args.format.parse()?;
    eprintln!(
        "exporting {} as {} into {} ...",
        args.cache.display(),
        format.name(),
        args.out.display()
    );
    let regen = super::teacher_ref::cache_regenerator(&args.cache)?;
    let report = export_cache_with(&args.cache, &args.out, format, args.force, regen.as_deref())
        .with_context(|| format!("exporting {}", args.cache.display()))?;
    let seconds = start.elapsed().as_secs_f64();
    if args.json {
        let mut v = serde_json::to_value(&report)?;
        if let Some(o) = v.as_object_mut() {
            o.insert("seconds".into(), seconds.into());
        }
        return super::print_json(&v);
    }
    println!(
        "exported   {} pairs from {} shards (x{})",
        report.pairs, report.instances, report.scale
    );
    println!("HR         {}", report.hr_dir.display());
    println!("LR         {}", report.lr_dir.display());
    if let Some(m) = &report.meta_info {
        println!("meta info  {}", m.display());
    }
    println!(
        "bytes      {} ({:.1} MB, {seconds:.1} s)",
        report.bytes,
        report.bytes as f64 / 1e6
    );
    println!("BasicSR options and reading it from Burn (PairedFolderDataset): docs/export.md");
    Ok(())
}
