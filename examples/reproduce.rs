//! Reproduces the paper's Tables 1-3 (analogues) on real images with resumable stages.
//!
//! ```text
//! cargo run --release --example reproduce -- --preset smoke   # minutes, proves the pipeline
//! cargo run --release --example reproduce -- --preset cpu     # hours on 2 cores, resumable
//! cargo run --release --features cuda --example reproduce -- --preset gpu
//! ```
//! Same as `idc reproduce --preset <name>`; see `burn_idc::repro` for what each stage does.

use clap::Parser;

#[derive(Parser)]
#[command(about = "Reproduce the IDC paper's tables on real images")]
struct Cli {
    #[command(flatten)]
    args: burn_idc::cli::reproduce::Args,
}

fn main() -> anyhow::Result<()> {
    burn_idc::tune_allocator();
    burn_idc::cli::reproduce::run(Cli::parse().args)
}
