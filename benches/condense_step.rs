//! `condense_step`: cost of one condensation iteration against the extractor floor.
//!
//! Fixed workload (issue #4): extractor EDSR 64 features x 16 blocks (seeded random weights),
//! 32 real and 4 synthetic LR patches of 48x48, RLFF k = 3, C_out = 64, p = 4, T = 1024, M = 4.
//! Rows: the floor (extractor forward + backward to the input on the 4 synthetic patches), and
//! the median full iteration (instance + group + pair terms) with fresh draws every step
//! (B = 0, the paper) and with a frequency bank (B = 8). Real patches come from the first T91
//! image of `$IDC_DATA` (default `../shared/data`) when present, else smooth random patches.
//!
//! The floor and both cases are measured in `IDC_BENCH_ROUNDS` rounds (default 3), each ratio
//! against its own round's floor; the table shows the median round and the spread.
//!
//! Run: `cargo build --bench condense_step` then the binary under `target/debug/deps/`, or
//! `cargo bench --bench condense_step`. Env: `IDC_BENCH_ITERS` (timed iterations, default 6),
//! `IDC_BENCH_ROUNDS`.

use burn::module::Module;
use burn::tensor::Tensor;
use burn_idc::EdsrConfig;
use burn_idc::PatchConfig;
use burn_idc::{BACKEND_NAME, TrainBackend, default_device};
use burn_idc::{CondenseConfig, Condenser, Instance, condense::CondenseTimings};
use burn_idc::{
    Image,
    image::{decode_image, images_to_batch, instance_pairs},
};
use std::path::PathBuf;
use std::time::Instant;

fn real_patches(n: usize, side: usize) -> (Vec<Image>, String) {
    let dir = std::env::var_os("IDC_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data"));
    let patch = PatchConfig {
        scale: 2,
        hr_patch: 2 * side,
        step: side,
        thresh_size: 0,
        task: None,
    }
    .check()
    .expect("a valid grid");
    for name in ["tt2.bmp", "tt3.bmp", "tt9.bmp"] {
        let p = dir.join("train/T91").join(name);
        if let Ok(hr) = decode_image(&p) {
            if let Ok(pairs) = instance_pairs(&hr, &patch) {
                if pairs.len() >= n {
                    let lr = pairs.into_iter().take(n).map(|p| p.lr).collect();
                    return (lr, format!("T91/{name}"));
                }
            }
        }
    }
    let lr = (0..n)
        .map(|i| {
            let mut d = Vec::with_capacity(3 * side * side);
            for c in 0..3 {
                for y in 0..side {
                    for x in 0..side {
                        let v = 0.5
                            + 0.4 * ((0.1 + 0.03 * i as f32) * (x + 2 * y + 7 * c) as f32).sin();
                        d.push(v);
                    }
                }
            }
            Image::new(3, side, side, d).expect("valid size")
        })
        .collect();
    (lr, "synthetic sinusoids".into())
}

#[path = "common/mod.rs"]
mod common;
use common::{bench_iters, bench_rounds, median};

/// Median ms of `iters` floor passes: extractor forward + backward to the input on `syn`.
fn floor_ms(
    edsr: &burn_idc::Edsr<TrainBackend>,
    syn: &Tensor<TrainBackend, 4>,
    iters: usize,
) -> f64 {
    median(
        (0..iters)
            .map(|_| {
                let t = Instant::now();
                let x: Tensor<TrainBackend, 4> = syn.clone().require_grad();
                let f = edsr.features(x.clone());
                let grads = f.mean().backward();
                let g = x.grad(&grads).expect("input gradient");
                let _ = g.sum().into_scalar();
                t.elapsed().as_secs_f64() * 1e3
            })
            .collect(),
    )
}

/// The iteration workload with `bank` banked draws (0 = fresh draws every step).
fn workload(iters: usize, bank: usize) -> CondenseConfig {
    let mut cfg = CondenseConfig::default();
    cfg.ratio = 4.0 / 32.0;
    cfg.iters = iters + 1;
    cfg.warmup = 0;
    cfg.assign = 0; // full loss from step 0, assignment made once
    cfg.ncfd.num_freqs = 1024;
    cfg.rlff.c_out = 64;
    cfg.rlff.kernel = 3;
    cfg.rlff.patch = 4;
    cfg.groups = 4;
    cfg.freq_bank = bank;
    cfg
}

fn main() -> anyhow::Result<()> {
    burn_idc::tune_allocator();
    let iters = bench_iters(6);
    let rounds = bench_rounds(3);
    let device = default_device();
    let edsr = EdsrConfig::new(64, 16, 2)
        .init_seeded::<TrainBackend>(&device, 0)
        .no_grad();
    let (real, source) = real_patches(32, 48);
    let syn = images_to_batch::<TrainBackend>(&real[..4], &device)?;
    // Warm-up (kernel compilation on CubeCL): the first floor pass, timed alone.
    let t = Instant::now();
    floor_ms(&edsr, &syn, 1);
    let floor_first = t.elapsed().as_secs_f64() * 1e3;
    eprintln!(
        "[{:7.1} s] first floor pass {floor_first:.1} ms",
        common::elapsed_s()
    );

    let instance = Instance {
        name: "bench".into(),
        lr: real,
    };
    // Each round measures the floor next to both cases, so a ratio never spans a change in the
    // shared machine's load; the table gives the median round.
    let banks = [0usize, 8];
    let mut floors = Vec::new();
    let mut cases: Vec<Vec<(f64, f64, CondenseTimings)>> =
        banks.iter().map(|_| Vec::new()).collect();
    for _ in 0..rounds {
        let floor = floor_ms(&edsr, &syn, iters);
        floors.push(floor);
        for (slot, &bank) in banks.iter().enumerate() {
            let cond =
                Condenser::new(workload(iters, bank).check()?, &edsr, &edsr, device.clone())?;
            let t = cond.condense(&instance, 0)?.report.timings;
            // The median is robust to step 0, where the assignment and pairing are made.
            eprintln!(
                "[{:7.1} s] floor {floor:.2} ms, B = {bank}: {:.2} ms / step",
                common::elapsed_s(),
                t.step_ms_median
            );
            cases[slot].push((t.step_ms_median / floor, t.step_ms_median, t));
        }
    }

    println!(
        "condense_step on {BACKEND_NAME}; real patches: {source}; {iters} timed iterations, \
         {rounds} rounds"
    );
    println!();
    println!(
        "| case | median ms / iteration | x floor (median round) | x floor (min-max) | \
         real features s | setup s | warm-up excess ms |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let floor = median(floors.clone());
    let spread = |v: &[f64]| {
        let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = v.iter().copied().fold(0.0, f64::max);
        format!("{lo:.2}-{hi:.2}")
    };
    println!(
        "| floor: EDSR 64x16 fwd+bwd, 4 x 48x48 | {floor:.1} | 1.00 | | | | {:.1} |",
        floor_first - floors[0]
    );
    for (&bank, mut runs) in banks.iter().zip(cases) {
        let ratios: Vec<f64> = runs.iter().map(|r| r.0).collect();
        runs.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (ratio, ms, t) = &runs[runs.len() / 2];
        let name = if bank == 0 {
            " (fresh draws)"
        } else {
            " (bank)"
        };
        println!(
            "| iteration, B = {bank}{name} | {ms:.1} | {ratio:.2} | {} | {:.2} | {:.2} | {:.1} |",
            spread(&ratios),
            t.real_features_s,
            t.setup_s,
            t.steps_s * 1e3 - (iters + 1) as f64 * t.step_ms_median
        );
    }
    Ok(())
}
