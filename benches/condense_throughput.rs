//! `condense_throughput`: instances per hour with K instances condensed together (issue #15).
//!
//! Workload: EDSR-baseline extractor and teacher (64 features x 16 blocks, seeded random
//! weights), x2, ratio 0.1 of BSD200 images (481x321: 45 real 48x48 LR patches from an HR grid
//! of 96 with step 48, so 5 synthetic patches), the default condense config. For each K in
//! {1, 2, 4} (CPU) or {1, 4, 16, 64} (`cuda`), the first K images are condensed in one
//! [`Condenser::condense_batch`] call of `IDC_BENCH_ITERS` iterations (default 3), and the K
//! sweep is repeated `IDC_BENCH_ROUNDS` times (default 2) so that drift in a shared machine's
//! load hits every K alike. Rows: ms per instance-iteration (the median batch step over K, steps
//! only; the best round), per-instance setup (real features, k-means, bank, teacher),
//! instances per hour at 1,000 iterations, and that rate extrapolated to 800 DIV2K-sized
//! instances (~110 synthetic patches each: step cost scaled by 110 / 5 patches).
//! Images come from `$IDC_DATA/train/BSD200` (default `../shared/data`), else generated.
//!
//! Run: `cargo bench --bench condense_throughput` (release) or `cargo test --bench
//! condense_throughput` (dev profile, dependencies at opt-level 3). Env: `IDC_BENCH_ITERS`,
//! `IDC_BENCH_ROUNDS`, `IDC_BENCH_K` (comma-separated K list), `IDC_BENCH_ARCH` (the EDSR preset
//! used as extractor and teacher, default `edsr-baseline`; e.g. `edsr-tiny`).

use burn::module::Module;
use burn_idc::EdsrConfig;
use burn_idc::image::{decode_image, instance_pairs};
use burn_idc::{BACKEND_NAME, TrainBackend, default_device};
use burn_idc::{CondenseConfig, Condenser, Instance};
use burn_idc::{PatchConfig, ValidPatchConfig};
use std::path::PathBuf;
use std::time::Instant;

#[path = "common/mod.rs"]
mod common;
use common::{bench_iters, bench_rounds};

type Edsr = burn_idc::Edsr<TrainBackend>;

/// Synthetic patches of a DIV2K-sized instance at 10% (for the extrapolation).
const DIV2K_SYN_PATCHES: f64 = 110.0;
const DIV2K_INSTANCES: f64 = 800.0;
const TARGET_ITERS: f64 = 1000.0;

fn patch_config() -> ValidPatchConfig {
    PatchConfig {
        scale: 2,
        hr_patch: 96,
        step: 48,
        thresh_size: 0,
        task: None,
    }
    .check()
    .expect("a valid grid")
}

/// `k` instances: BSD200 images in name order, else generated 481x321 images.
fn instances(k: usize) -> anyhow::Result<(Vec<Instance>, String)> {
    let dir = std::env::var_os("IDC_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data"))
        .join("train/BSD200");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.sort();
    let mut out = Vec::new();
    for (i, path) in files.iter().take(k).enumerate() {
        let hr = decode_image(path)?;
        let lr = instance_pairs(&hr, &patch_config())?
            .into_iter()
            .map(|p| p.lr)
            .collect();
        out.push(Instance {
            name: format!("bsd{i}"),
            lr,
        });
    }
    if out.len() == k {
        return Ok((out, format!("{}", dir.display())));
    }
    let out = (0..k)
        .map(|i| {
            let hr = burn_idc::image::synthetic_image(i, 321);
            let lr = instance_pairs(&hr, &patch_config())
                .expect("321 px > one patch")
                .into_iter()
                .map(|p| p.lr)
                .collect();
            Instance {
                name: format!("gen{i}"),
                lr,
            }
        })
        .collect();
    Ok((out, "generated 321x321 images".into()))
}

/// `IDC_BENCH_K`, else the backend's default K list.
fn k_list() -> Vec<usize> {
    let default: &[usize] = if cfg!(feature = "cuda") {
        &[1, 4, 16, 64]
    } else {
        &[1, 2, 4]
    };
    std::env::var("IDC_BENCH_K")
        .ok()
        .map(|v| v.split(',').filter_map(|s| s.trim().parse().ok()).collect())
        .filter(|v: &Vec<usize>| !v.is_empty())
        .unwrap_or_else(|| default.to_vec())
}

struct Row {
    k: usize,
    syn_patches: f64,
    step_ms_per_instance_iter: f64,
    setup_s_per_instance: f64,
}

fn main() -> anyhow::Result<()> {
    burn_idc::tune_allocator();
    let iters = bench_iters(3);
    let device = default_device();
    let arch = std::env::var("IDC_BENCH_ARCH").unwrap_or_else(|_| "edsr-baseline".into());
    let edsr = EdsrConfig::from_arch(&arch, 2)?
        .init_seeded::<TrainBackend>(&device, 0)
        .no_grad();
    let mut cfg = CondenseConfig::default();
    cfg.ratio = 0.1;
    cfg.iters = iters;
    let cond = Condenser::new(cfg.check()?, &edsr, &edsr, device.clone())?;
    let ks = k_list();
    let (all, source) = instances(ks.iter().copied().max().unwrap_or(1))?;
    // Warm-up (first-call allocations, kernel compilation on GPU backends).
    cond.condense_batch(&[(&all[0], 0)]).pop().transpose()?;
    eprintln!("[{:7.1} s] warm-up done", common::elapsed_s());
    let rounds = bench_rounds(2);
    let mut samples: Vec<Vec<Row>> = ks.iter().map(|_| Vec::new()).collect();
    for _ in 0..rounds {
        for (slot, &k) in ks.iter().enumerate() {
            let row = measure(&cond, &all[..k])?;
            eprintln!(
                "[{:7.1} s] K = {k}: {:.2} ms / instance-iteration",
                common::elapsed_s(),
                row.step_ms_per_instance_iter
            );
            samples[slot].push(row);
        }
    }
    let rows: Vec<Row> = samples.into_iter().map(best_row).collect();
    println!(
        "condense_throughput on {BACKEND_NAME}; {arch} x2 ({} features x {} blocks), ratio 0.1; \
         images: {source}; \
         {iters} iterations per K, {rounds} rounds",
        edsr.config().num_feat,
        edsr.config().num_block
    );
    println!();
    println!(
        "| K | syn patches / instance | ms / instance-iteration | x K=1 | setup s / instance | \
         instances / hour @1k it | 800 DIV2K @1k it (h) |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    let base = rows.first().map_or(1.0, |r| r.step_ms_per_instance_iter);
    for r in &rows {
        let per_instance_s =
            r.setup_s_per_instance + TARGET_ITERS * r.step_ms_per_instance_iter / 1e3;
        let div2k_step_s = r.step_ms_per_instance_iter / 1e3 * DIV2K_SYN_PATCHES / r.syn_patches;
        let div2k_h = DIV2K_INSTANCES * TARGET_ITERS * div2k_step_s / 3600.0;
        println!(
            "| {} | {:.1} | {:.1} | {:.2} | {:.2} | {:.1} | {:.0} |",
            r.k,
            r.syn_patches,
            r.step_ms_per_instance_iter,
            r.step_ms_per_instance_iter / base,
            r.setup_s_per_instance,
            3600.0 / per_instance_s,
            div2k_h
        );
    }
    Ok(())
}

/// One batch of `instances` condensed together.
fn measure(
    cond: &Condenser<TrainBackend, &Edsr, &Edsr>,
    instances: &[Instance],
) -> anyhow::Result<Row> {
    let k = instances.len();
    let jobs: Vec<(&Instance, u64)> = instances.iter().zip(0u64..).collect();
    let t = Instant::now();
    let out: Vec<_> = cond
        .condense_batch(&jobs)
        .into_iter()
        .collect::<Result<_, _>>()?;
    let total_s = t.elapsed().as_secs_f64();
    // Every run of a batch records the batch's step time.
    let timings = out.first().map(|o| o.report.timings.clone());
    let (steps_s, step_ms) = timings.map_or((0.0, 0.0), |t| (t.steps_s, t.step_ms_median));
    let syn: usize = out.iter().map(|o| o.lr.len()).sum();
    Ok(Row {
        k,
        syn_patches: syn as f64 / k as f64,
        step_ms_per_instance_iter: step_ms / k as f64,
        setup_s_per_instance: (total_s - steps_s) / k as f64,
    })
}

/// Per K, the best round of each figure (the one least disturbed by other load).
fn best_row(rounds: Vec<Row>) -> Row {
    let pick = |f: fn(&Row) -> f64| rounds.iter().map(f).fold(f64::INFINITY, f64::min);
    Row {
        k: rounds[0].k,
        syn_patches: rounds[0].syn_patches,
        step_ms_per_instance_iter: pick(|r| r.step_ms_per_instance_iter),
        setup_s_per_instance: pick(|r| r.setup_s_per_instance),
    }
}
