//! How far condensation moved the synthetic LR patches away from real ones: for every synthetic
//! patch of a condensed (or selected) set, the mean absolute pixel difference (in 8-bit levels)
//! to the nearest real LR patch of the same image. Patches start as real patches (real
//! initialisation), so a distance near 0 means the optimisation left a patch where it began.
//!
//! Used to test a hypothesis of `docs/results/cpu/READING.md` (does the pair loss hold
//! real-initialised patches in place?) without training a student:
//!
//! ```text
//! cargo run --release --example ablation_drift -- <work dir> <images dir> <hr_patch> <step> <scale>
//! ```
//! It reads every `set-abl-*` stage of the reproduction's work dir whose shards cover exactly
//! the images of `<images dir>` (the ablation's subset, e.g. `<work>/data/ablation-29`), so sets
//! of another ablation design in the same work dir are left out.

use anyhow::{Context, Result, bail};
use burn_idc::PatchConfig;
use burn_idc::SrPatchDataset;
use burn_idc::cache::{read_shard, shard_path};
use std::path::PathBuf;

/// Mean absolute difference of two equally sized images, in 8-bit levels.
fn mad(a: &[f32], b: &[f32]) -> f64 {
    let sum: f64 = a.iter().zip(b).map(|(x, y)| (x - y).abs() as f64).sum();
    255.0 * sum / a.len().max(1) as f64
}

fn main() -> Result<()> {
    burn_idc::tune_allocator();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() != 5 {
        bail!("usage: ablation_drift <work dir> <images dir> <hr_patch> <step> <scale>");
    }
    let work = PathBuf::from(&args[0]);
    let images = PathBuf::from(&args[1]);
    let parse = |i: usize, what: &str| -> Result<usize> {
        args[i]
            .parse()
            .with_context(|| format!("{what} must be an integer"))
    };
    let patch = PatchConfig {
        scale: parse(4, "scale")?,
        hr_patch: parse(2, "hr_patch")?,
        step: parse(3, "step")?,
        thresh_size: 0,
        task: None,
    }
    .check()?;
    let pool = SrPatchDataset::builder(&images, patch)
        .with_skip_small_images(true)
        .build()?;
    // Stage folders `set-abl-<variant>-<16 hex key>` holding one shard per image of the pool.
    let mut sets = Vec::new();
    for entry in std::fs::read_dir(&work).with_context(|| format!("{}", work.display()))? {
        let dir = entry?.path();
        let Some(name) = dir.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some(label) = name
            .strip_prefix("set-abl-")
            .and_then(|n| n.rsplit_once('-'))
            .map(|(v, _)| v.to_string())
        else {
            continue;
        };
        let cache = dir.join("shards");
        let shards = std::fs::read_dir(&cache)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .filter(|e| e.path().extension().is_some_and(|x| x == "shard"))
                    .count()
            })
            .unwrap_or(0);
        let covers = pool
            .instances()
            .iter()
            .all(|i| shard_path(&cache, &i.name).is_file());
        if covers && shards == pool.instances().len() {
            sets.push((label, cache));
        }
    }
    if sets.is_empty() {
        bail!(
            "no set-abl-* stage in {} covers the images of {}",
            work.display(),
            images.display()
        );
    }
    sets.sort();
    // Each image's real LR patches, decoded once for all sets.
    let real: Vec<Vec<Vec<f32>>> = (0..pool.instances().len())
        .map(|j| {
            Ok(pool
                .instance_pairs(j)?
                .into_iter()
                .map(|p| p.lr.data)
                .collect())
        })
        .collect::<Result<_>>()?;
    println!(
        "| set | synthetic patches | mean distance to nearest real (levels) | median | share < 1 level |"
    );
    println!("|---|---|---|---|---|");
    for (label, cache) in &sets {
        let mut dists = Vec::new();
        for (info, real) in pool.instances().iter().zip(&real) {
            let shard = read_shard(&shard_path(cache, &info.name), None)
                .with_context(|| format!("{label}: shard of {}", info.name))?;
            for syn in &shard.lr {
                let nearest = real
                    .iter()
                    .map(|r| mad(&syn.data, r))
                    .fold(f64::INFINITY, f64::min);
                dists.push(nearest);
            }
        }
        if dists.is_empty() {
            bail!("{label}: no synthetic patches");
        }
        dists.sort_by(f64::total_cmp);
        let mean = dists.iter().sum::<f64>() / dists.len() as f64;
        let unmoved = dists.iter().filter(|d| **d < 1.0).count() as f64 / dists.len() as f64;
        println!(
            "| {label} | {} | {mean:.2} | {:.2} | {:.0}% |",
            dists.len(),
            dists[dists.len() / 2],
            100.0 * unmoved
        );
    }
    Ok(())
}
