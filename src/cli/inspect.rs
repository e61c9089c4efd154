//! `idc inspect`: summarise and verify a shard cache.
//!
//! Without `--verify` only shard headers are read (and checked against the file sizes); with it
//! every shard is read in full and its checksum verified. Both compare each shard's
//! fingerprint with its `manifest.json` entry (swapped or copied shards are invalid). `--json` prints
//! `{"instances","valid","invalid":[{"file","reason"}..],"patches","bytes","raw_pixel_bytes",
//! "lr_only","source_bytes","whole_patch_bytes","sourced","verified","manifest_instances"}`
//! (`source_bytes` and `whole_patch_bytes` sum the `sourced` shards whose manifest entry records
//! them: caches written by `IdcDataset` / `idc condense`), plus `"realism"`: null, or
//! `{"instances","mean":{..},"per_instance":[{"instance",..}]}` over the manifest entries that
//! record the realism measures ([`crate::condense::realism`]).
//! Without `--json` it prints a human-readable summary (shards, pairs, sizes, the next command).
//! `--sheet out.png` also draws the cache's contact sheet ([`super::sheet`]; source images from
//! `--hr-dir`, else from the paths recorded in the cache's `sources.json`).
//! The exit status is 1 when a shard is invalid, so scripts can gate on it.

use crate::cache::{Manifest, ShardCache};
use crate::condense::realism::RealismSummary;
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
    /// Also draw the contact sheet (PNG) into this file.
    #[arg(long)]
    pub sheet: Option<PathBuf>,
    /// Where the cache's source images are (for the sheet's thumbnails and real patches).
    #[arg(long)]
    pub hr_dir: Option<PathBuf>,
}

/// The storage figures: the shards against their raw pixels, their source images and the whole
/// set's patches (the last two where the manifest records them).
fn storage_lines(r: &crate::cache::CacheReport) -> Vec<String> {
    let share = |of: u64, what: &str| {
        let pct = 100.0 * r.bytes as f64 / of as f64;
        format!(
            "           {pct:.1}% of {what} ({})",
            super::condense::human_bytes(of)
        )
    };
    let mut lines = Vec::new();
    if r.raw_pixel_bytes > 0 {
        lines.push(share(r.raw_pixel_bytes, "the pairs as raw 8-bit planes"));
    }
    if r.sourced > 0 {
        let of = if r.sourced < r.valid {
            format!(" ({} of {} shards record them)", r.sourced, r.valid)
        } else {
            String::new()
        };
        lines.push(share(r.source_bytes, &format!("the source images{of}")));
        lines.push(share(r.whole_patch_bytes, "the whole set's 8-bit patches"));
    }
    if r.lr_only > 0 {
        lines.push(format!(
            "lr-only    {} shards store LR only (HR remade by the teacher in teacher.json)",
            r.lr_only
        ));
    }
    lines
}

/// Two lines: the synthetic patches' mean realism, and real subsets' of the same size.
fn realism_lines(s: &RealismSummary) -> [String; 2] {
    let (m, r) = (&s.mean, &s.mean.real_spread);
    let ncfd = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.4}"));
    [
        format!(
            "realism    {} instances: out-of-gamut {:.2}%, clipped {:.2}%, saturation {:+.4}, \
             hf ratio {:.3}, histogram {:.3}, NCFD (fresh) {}",
            s.instances,
            100.0 * m.out_of_gamut,
            100.0 * m.clipped,
            m.saturation_excess,
            m.hf_ratio,
            m.histogram_distance,
            ncfd(m.ncfd_fresh)
        ),
        format!(
            "           real subsets: clipped {:.2}%, saturation {:+.4}±{:.4}, hf ratio \
             {:.3}±{:.3}, histogram {:.3}±{:.3}, NCFD {}",
            100.0 * r.clipped.mean,
            r.saturation_excess.mean,
            r.saturation_excess.std,
            r.hf_ratio.mean,
            r.hf_ratio.std,
            r.histogram_distance.mean,
            r.histogram_distance.std,
            ncfd(r.ncfd)
        ),
    ]
}

/// Runs the sub-command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let cache = ShardCache::at(&args.cache);
    let report = cache.inspect(args.verify)?;
    let manifest = cache.manifest().ok();
    let realism = manifest.as_ref().and_then(Manifest::realism_summary);
    if args.json {
        let mut v = serde_json::to_value(&report)?;
        if let Some(o) = v.as_object_mut() {
            o.insert("verified".into(), args.verify.into());
            o.insert(
                "manifest_instances".into(),
                manifest.as_ref().map(|m| m.instances.len()).into(),
            );
            o.insert("realism".into(), serde_json::to_value(&realism)?);
        }
        super::print_json(&v)?;
    } else {
        println!("cache      {}", args.cache.display());
        println!(
            "shards     {} ({} valid{})",
            report.instances,
            report.valid,
            if args.verify {
                ", checksums verified"
            } else {
                ", headers only"
            }
        );
        println!("patches    {} LR/HR pairs", report.patches);
        println!(
            "bytes      {} ({})",
            report.bytes,
            super::condense::human_bytes(report.bytes)
        );
        for line in storage_lines(&report) {
            println!("{line}");
        }
        if let Some(m) = &manifest {
            println!("manifest   {} instances", m.instances.len());
        }
        for line in realism.iter().flat_map(realism_lines) {
            println!("{line}");
        }
        for f in &report.invalid {
            println!("INVALID    {}: {}", f.file, f.reason);
        }
        if report.valid > 0 && report.invalid.is_empty() {
            println!(
                "train on it: idc train --cache {} --iters 100 --batch 8",
                args.cache.display()
            );
        }
    }
    if let Some(out) = &args.sheet {
        let (w, h) = super::sheet::write_sheet(&args.cache, args.hr_dir.as_deref(), out)?;
        eprintln!("idc inspect: contact sheet {} ({w}x{h})", out.display());
    }
    if !report.invalid.is_empty() {
        anyhow::bail!(
            "{} invalid shard(s) in {}",
            report.invalid.len(),
            args.cache.display()
        );
    }
    Ok(())
}
