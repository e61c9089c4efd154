//! The `idc` command line, one module per sub-command, kept in the library so examples (e.g.
//! `reproduce`) reuse the same code. Each module has `Args` (clap) and `run(args)`.
//! `--json` sub-commands print exactly one JSON object on stdout; messages go to stderr.

pub mod condense;
pub mod condense_one;
pub mod eval;
pub mod inspect;
pub mod metrics;
pub mod patches;
pub mod reproduce;
pub mod resize;
pub mod select;
pub mod train;
pub mod upscale;

/// Prints `value` as one JSON object on stdout.
pub fn print_json(value: &serde_json::Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string(value)?);
    Ok(())
}
