//! `swinir`: SwinIR-light beside EDSR on the passes training and condensation are built from.
//!
//! Workload: x2, batch `IDC_BENCH_BATCH` (default 4) of 48x48 LR patches (window multiples, so
//! no padding), seeded random inputs and weights. Networks: `swinir-light` (embed 60, 4x6 Swin
//! blocks, window 8, pixelshuffledirect), `swinir-tiny` and `edsr-tiny` for comparison. Rows
//! (median wall time over `IDC_BENCH_ITERS` runs, default 3, after one warm-up):
//! - forward (inference backend);
//! - train step: forward + L1 loss + backward + Adam update (autodiff backend, as `train_sr`);
//! - input gradient: frozen model, gradient of an L2 feature loss with respect to the input
//!   batch (the pass condensation repeats for every synthetic update).
//!
//! Run: `cargo bench --bench swinir` (or `cargo build --release --bench swinir` and run the
//! binary). Prints a markdown table. `IDC_BENCH_SKIP` (comma-separated networks, e.g.
//! `swinir-light`) leaves rows out.

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::tensor::{Distribution, Tensor};
use burn_idc::{BACKEND_NAME, DefaultBackend, TrainBackend, default_device};
use burn_idc::{NetConfig, SrNet};

#[path = "common/mod.rs"]
mod common;
use common::{bench_iters, median_ms as time};

/// `(forward, train step, input gradient)` medians in ms for `arch` at x2.
fn measure(arch: &str, n: usize, p: usize, iters: usize) -> (f64, f64, f64) {
    let device = default_device();
    let cfg = NetConfig::from_arch(arch, 2).expect("preset");
    let model = cfg.init_seeded::<DefaultBackend>(&device, 0);
    let x =
        Tensor::<DefaultBackend, 4>::random([n, 3, p, p], Distribution::Uniform(0.0, 1.0), &device);
    let forward = time(iters, || {
        let _ = model.forward(x.clone()).into_data();
    });

    let mut train_model = cfg.init_seeded::<TrainBackend>(&device, 0);
    let mut optim = AdamConfig::new()
        .with_beta_1(0.9)
        .with_beta_2(0.99)
        .with_epsilon(1e-8)
        .init::<TrainBackend, SrNet<TrainBackend>>();
    let lr =
        Tensor::<TrainBackend, 4>::random([n, 3, p, p], Distribution::Uniform(0.0, 1.0), &device);
    let hr = Tensor::<TrainBackend, 4>::random(
        [n, 3, 2 * p, 2 * p],
        Distribution::Uniform(0.0, 1.0),
        &device,
    );
    let train_step = time(iters, || {
        let loss = (train_model.forward(lr.clone()) - hr.clone()).abs().mean();
        let grads = GradientsParams::from_grads(loss.backward(), &train_model);
        train_model = optim.step(2e-4, train_model.clone(), grads);
        let _ = train_model
            .forward(lr.clone().slice([0..1, 0..3, 0..8, 0..8]))
            .into_data();
    });

    let frozen = cfg.init_seeded::<TrainBackend>(&device, 1).no_grad();
    let target = frozen.features(lr.clone()).detach();
    let input_grad = time(iters, || {
        let input = lr.clone().detach().require_grad();
        let loss = (frozen.features(input.clone()) - target.clone())
            .powi_scalar(2)
            .mean();
        let grads = loss.backward();
        let _ = input.grad(&grads).expect("input gradient").into_data();
    });
    (forward, train_step, input_grad)
}

fn main() {
    burn_idc::tune_allocator();
    let iters = bench_iters(3);
    let n: usize = std::env::var("IDC_BENCH_BATCH")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4);
    let p = 48;
    println!("x2, batch {n}, LR {p}x{p}, backend {BACKEND_NAME}, median of {iters}");
    println!();
    println!("| network | forward ms | train step ms | input gradient ms |");
    println!("|---|---:|---:|---:|");
    let skip = std::env::var("IDC_BENCH_SKIP").unwrap_or_default();
    for arch in ["edsr-tiny", "swinir-tiny", "swinir-light"] {
        if skip.split(',').any(|s| s.trim() == arch) {
            continue;
        }
        let (f, t, g) = measure(arch, n, p, iters);
        println!("| {arch} | {f:.1} | {t:.1} | {g:.1} |");
    }
}
