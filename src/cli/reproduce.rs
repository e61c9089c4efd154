//! `idc reproduce`: the paper's Tables 1-3 on real images, as resumable stages
//! (see [`crate::repro`]). Re-running the same command continues an interrupted run.

use crate::repro::{Preset, RunMode, RunPaths, run_with};
use std::path::{Path, PathBuf};

/// Arguments of `idc reproduce` (and `cargo run --release --example reproduce`).
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// smoke (minutes, CI), smoke-x4 (cpu-x4 at toy size), cpu (hours on 2 cores), cpu-natural
    /// (cpu with the realism defaults), cpu-x4 (Tables 1, 2 and 4 at x4; many hours), gpu (~1.5 h
    /// on an H100, estimated), paper (DIV2K), budget-sweep (issue #25: realism and held-out PSNR
    /// over condensation budgets; many hours); denoise-smoke, denoise-cpu (Table 5 analogue;
    /// also `--task denoise`).
    #[arg(long, default_value = "smoke")]
    pub preset: String,
    /// Results directory (tables, plot, README); default docs/results/PRESET.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Stage cache directory (large, resumable); default runs/PRESET. Processes started on one
    /// folder share it: each runs the stages no other holds (then `--report-only` once all end).
    #[arg(long)]
    pub work: Option<PathBuf>,
    /// HR training images; default $IDC_DATA/train (IDC_DATA defaults to ../shared/data).
    #[arg(long)]
    pub train_dir: Option<PathBuf>,
    /// Folder with Set5, Set14 and BSD100; default $IDC_DATA/test.
    #[arg(long)]
    pub test_root: Option<PathBuf>,
    /// A preset as JSON (e.g. `--print-preset` output, edited); replaces `--preset`'s values,
    /// is validated like the built-in ones, and keys the stages the same way.
    #[arg(long)]
    pub preset_file: Option<PathBuf>,
    /// Print the selected preset as JSON and exit.
    #[arg(long)]
    pub print_preset: bool,
    /// Run nothing: write the tables from the stages finished so far (marked partial, with the
    /// missing stages listed), e.g. while a long run continues in another process.
    #[arg(long)]
    pub report_only: bool,
    /// --task denoise [--sigma S]: the Table 5 analogue (preset denoise-PRESET, e.g.
    /// `--preset cpu` -> denoise-cpu; test sets under $IDC_DATA/denoise).
    #[command(flatten)]
    pub task: super::TaskArgs,
}

/// Runs the sub-command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let preset = match &args.preset_file {
        Some(file) => read_preset_file::<Preset>(file)?,
        None => Preset::by_name(&preset_name(&args))?,
    };
    let preset = with_task_flags(preset, &args)?.check()?;
    if args.print_preset {
        println!("{}", serde_json::to_string_pretty(&preset)?);
        return Ok(());
    }
    if preset.name == "paper" && args.train_dir.is_none() {
        anyhow::bail!("the paper preset needs --train-dir pointing at DIV2K's HR images");
    }
    let test_sub = match preset.task().sigma() {
        Some(_) => "denoise",
        None => "test",
    };
    let (paths, mode) = run_paths(args, &preset.name, test_sub);
    let outcome = run_with(&preset, &paths, mode)?;
    eprintln!(
        "reproduce {}: {} students, {:.0} s; {} stage(s) missing; results in {}",
        preset.name,
        outcome.students.len() + outcome.ablation.len() + outcome.ratio_table.len(),
        outcome.wall_seconds,
        outcome.missing.len(),
        paths.out.display()
    );
    Ok(())
}

/// `--preset`, or with `--task denoise` its denoising counterpart (`cpu` -> `denoise-cpu`).
fn preset_name(args: &Args) -> String {
    if args.task.task != "sr" && !args.preset.starts_with("denoise-") {
        format!("denoise-{}", args.preset)
    } else {
        args.preset.clone()
    }
}

/// `--task denoise --sigma S` on a denoising preset: another noise level is another table, with
/// its own name (so its own work and results folders).
fn with_task_flags(mut preset: Preset, args: &Args) -> anyhow::Result<Preset> {
    if args.task.task == "sr" {
        return Ok(preset);
    }
    let task = args.task.resolve(None)?;
    if preset.task().sigma().is_none() {
        anyhow::bail!(
            "--task {} needs a denoising preset, not {}",
            args.task.task,
            preset.name
        );
    }
    if task.sigma() != preset.task().sigma() {
        preset.task = Some(task);
        preset.name = format!("{}-s{}", preset.name, task.sigma().unwrap_or_default());
    }
    Ok(preset)
}

/// A preset file (`--preset-file`) as JSON.
fn read_preset_file<T: serde::de::DeserializeOwned>(file: &Path) -> anyhow::Result<T> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| anyhow::anyhow!("reading preset file {}: {e}", file.display()))?;
    serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("preset file {}: {e}", file.display()))
}

/// The folders of preset `name` (defaults under `$IDC_DATA`, its test sets in `test_sub`) and
/// whether to run or only report.
fn run_paths(args: Args, name: &str, test_sub: &str) -> (RunPaths, RunMode) {
    let data = PathBuf::from(std::env::var("IDC_DATA").unwrap_or_else(|_| "../shared/data".into()));
    let paths = RunPaths {
        train_dir: args.train_dir.unwrap_or_else(|| data.join("train")),
        test_root: args.test_root.unwrap_or_else(|| data.join(test_sub)),
        work: args
            .work
            .unwrap_or_else(|| PathBuf::from("runs").join(name)),
        out: args
            .out
            .unwrap_or_else(|| PathBuf::from("docs/results").join(name)),
    };
    let mode = if args.report_only {
        RunMode::ReportOnly
    } else {
        RunMode::Run
    };
    (paths, mode)
}
