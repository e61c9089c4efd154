//! Timing helpers shared by the plain-`main` benches (`#[path]`-included; not a bench target).

#![allow(dead_code)]

use std::time::Instant;

/// Timed iterations from `IDC_BENCH_ITERS` (at least 1), else `default`.
pub fn bench_iters(default: usize) -> usize {
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

/// Median wall milliseconds of `f` over `iters` runs after one warm-up run.
pub fn median_ms(iters: usize, mut f: impl FnMut()) -> f64 {
    f();
    median(
        (0..iters)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64() * 1e3
            })
            .collect(),
    )
}
