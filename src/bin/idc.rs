//! `idc`: command line over the burn-idc library. See `idc --help`.

use burn_idc::cli;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "idc",
    version,
    about = "Instance Data Condensation for image super-resolution"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// MATLAB-style bicubic resize (BasicSR imresize), 8-bit PNG out.
    Resize(cli::resize::Args),
    /// PSNR/SSIM with BasicSR conventions.
    Metrics(cli::metrics::Args),
    /// Count the HR patch grid of a folder.
    Patches(cli::patches::Args),
    /// Train an ISR network.
    Train(cli::train::Args),
    /// Evaluate a model (or bicubic) on a test folder.
    Eval(cli::eval::Args),
    /// Super-resolve one image.
    Upscale(cli::upscale::Args),
    /// Condense one image (inspect the synthetic patches and loss curves).
    CondenseOne(cli::condense_one::Args),
    /// Condense a folder into a shard cache.
    Condense(cli::condense::Args),
    /// Summarise / verify a shard cache.
    Inspect(cli::inspect::Args),
    /// Write a shard cache as paired PNG folders (BasicSR layout or plain hr/ lr/).
    Export(cli::export::Args),
    /// Baseline selection (random, herding, kcenter, dcsr) into a shard cache.
    Select(cli::select::Args),
    /// Reproduce the paper's tables.
    Reproduce(cli::reproduce::Args),
}

fn main() -> anyhow::Result<()> {
    burn_idc::tune_allocator();
    match Cli::parse().command {
        Command::Resize(a) => cli::resize::run(a),
        Command::Metrics(a) => cli::metrics::run(a),
        Command::Patches(a) => cli::patches::run(a),
        Command::Train(a) => cli::train::run(a),
        Command::Eval(a) => cli::eval::run(a),
        Command::Upscale(a) => cli::upscale::run(a),
        Command::CondenseOne(a) => cli::condense_one::run(a),
        Command::Condense(a) => cli::condense::run(a),
        Command::Inspect(a) => cli::inspect::run(a),
        Command::Export(a) => cli::export::run(a),
        Command::Select(a) => cli::select::run(a),
        Command::Reproduce(a) => cli::reproduce::run(a),
    }
}
