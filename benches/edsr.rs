//! `edsr`: EDSR-tiny x2 costs that training and condensation are built from.
//!
//! Workload: edsr-tiny (32 features, 4 blocks), x2, batch 16 of 48x48 LR patches (seeded random
//! inputs and weights). Rows (median wall time over `IDC_BENCH_ITERS` runs, default 5, after one
//! warm-up):
//! - forward (inference backend);
//! - train step: forward + L1 loss + backward + Adam update (autodiff backend, as `train_sr`);
//! - input gradient: frozen model (parameters not tracked), gradient of an L2 feature loss with
//!   respect to the input batch, i.e. the pass condensation repeats for every synthetic update.
//!
//! Run: `cargo bench --bench edsr` (or `cargo build --bench edsr` and run the binary). Prints a
//! markdown table. `IDC_FLEX_FAST_CONV=0` runs Burn's conv2d and the tensor-op pixel shuffle
//! instead of `models::conv`'s and `models::shuffle`'s fast paths on `flex` (the "before" numbers).

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::tensor::{Distribution, Tensor};
use burn_idc::EdsrConfig;
use burn_idc::{BACKEND_NAME, DefaultBackend, TrainBackend, default_device};

#[path = "common/mod.rs"]
mod common;
use common::{bench_iters, median_ms as time};

fn main() {
    burn_idc::tune_allocator();
    let iters = bench_iters(5);
    let device = default_device();
    let cfg = EdsrConfig::from_arch("edsr-tiny", 2).expect("preset");
    let (n, p) = (16, 48);

    // Forward, inference backend.
    let model = cfg.init_seeded::<DefaultBackend>(&device, 0);
    let x =
        Tensor::<DefaultBackend, 4>::random([n, 3, p, p], Distribution::Uniform(0.0, 1.0), &device);
    let forward = time(iters, || {
        let y = model.forward(x.clone());
        let _ = y.into_data();
    });

    // Parts of the forward: body (features) and the x2 pixel shuffle alone.
    let features = time(iters, || {
        let _ = model.features(x.clone()).into_data();
    });
    let pre = Tensor::<DefaultBackend, 4>::random(
        [n, 4 * cfg.num_feat, p, p],
        Distribution::Uniform(0.0, 1.0),
        &device,
    );
    let shuffle = time(iters, || {
        let _ = burn_idc::models::pixel_shuffle(pre.clone(), 2).into_data();
    });

    // Train step, autodiff backend.
    let mut train_model = cfg.init_seeded::<TrainBackend>(&device, 0);
    let mut optim = AdamConfig::new()
        .with_beta_1(0.9)
        .with_beta_2(0.99)
        .with_epsilon(1e-8)
        .init::<TrainBackend, burn_idc::Edsr<TrainBackend>>();
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
        let _ = train_model.conv_last.weight.val().into_data();
    });

    // Input gradient through a frozen model.
    let frozen = cfg.init_seeded::<TrainBackend>(&device, 1).no_grad();
    let target = frozen.features(lr.clone()).detach();
    let input_grad = time(iters, || {
        let input = lr.clone().detach().require_grad();
        let loss = (frozen.features(input.clone()) - target.clone())
            .powi_scalar(2)
            .mean();
        let grads = loss.backward();
        let g = input.grad(&grads).expect("input gradient");
        let _ = g.into_data();
    });

    println!(
        "EDSR-tiny x2 (32 features, 4 blocks), batch {n}, LR {p}x{p}, backend {BACKEND_NAME}, fast conv {}, median of {iters}",
        if burn_idc::models::fast_conv_enabled() {
            "on"
        } else {
            "off"
        }
    );
    println!();
    println!("| pass | median ms |");
    println!("|---|---:|");
    println!("| forward | {forward:.1} |");
    println!("| - of which features (body + skip) | {features:.1} |");
    println!("| - pixel shuffle x2 alone | {shuffle:.1} |");
    println!("| train step (fwd + L1 + bwd + Adam) | {train_step:.1} |");
    println!("| input gradient (frozen model, features L2) | {input_grad:.1} |");
}
