//! Timing helpers shared by the plain-`main` benches (`#[path]`-included; not a bench target).

#![allow(dead_code)]

use std::sync::OnceLock;
use std::time::Instant;

/// Seconds since the bench first asked for its settings (≈ process start): progress lines carry
/// it, so a run cut off by a time limit still shows where the time went (on CUDA the first call
/// of each pass compiles and autotunes its kernels).
pub fn elapsed_s() -> f64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_secs_f64()
}

/// Timed iterations from `IDC_BENCH_ITERS` (at least 1), else `default`.
pub fn bench_iters(default: usize) -> usize {
    elapsed_s();
    env_count("IDC_BENCH_ITERS", default)
}

/// Repetitions of a whole measurement from `IDC_BENCH_ROUNDS` (at least 1), else `default`.
pub fn bench_rounds(default: usize) -> usize {
    env_count("IDC_BENCH_ROUNDS", default)
}

/// A count from the environment variable `name` (at least 1), else `default`.
fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
        .max(1)
}

/// Median of `v` (the upper one for an even count).
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Median wall milliseconds of `f` over `iters` runs after one warm-up run; a progress line on
/// stderr gives the warm-up run's time and the median as soon as they are known.
pub fn median_ms(iters: usize, mut f: impl FnMut()) -> f64 {
    let t = Instant::now();
    f();
    let first = t.elapsed().as_secs_f64() * 1e3;
    let med = median(
        (0..iters)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64() * 1e3
            })
            .collect(),
    );
    eprintln!(
        "[{:7.1} s] pass done: first run {first:.1} ms, median {med:.2} ms",
        elapsed_s()
    );
    med
}
