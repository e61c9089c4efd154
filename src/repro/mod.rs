//! Reproduction of the paper's Tables 1-3 on real images, as resumable stages.
//!
//! - `preset`: the sizes and budgets (`smoke`, `cpu`, `gpu`, `paper`).
//! - `plan`: the list of stages a preset runs, in order (its length is the progress total).
//! - `execute`: how each stage runs, keyed by its fingerprint; `tasks`: the training, evaluation
//!   and image subsets inside them; `progress`: the `[repro i/N]` line and report-only loading.
//! - `stage`: on-disk stage cache keyed by fingerprints (an interrupted run continues).
//! - `outcome`: what a run produces (`run.json`); `ablation`: the Table-3 variants; `sweep`: the
//!   budget sweep's cells (issue #25).
//! - `report`: tables (`table1.md/json`, Table 2 and 3 analogues) and the convergence plot.
//!
//! Pipeline ([`run`]): extractor and teacher trained on the whole training set -> 10% sets (IDC,
//! Random, Herding, K-center, DCSR; same patch count) -> one student per set and seed, plus the
//! whole set, same architecture and schedule -> evaluation on Set5/Set14/BSD100 (BasicSR
//! protocol) plus bicubic -> tables and plot. The validation curve of every student is measured
//! on Set5 (reported, never used to choose anything).

mod ablation;
mod execute;
mod outcome;
mod plan;
pub mod plot;
mod preset;
mod progress;
pub mod report;
pub mod stage;
mod sweep;
mod sweep_sheet;
mod tasks;

#[cfg(test)]
mod golden_test;

pub use ablation::{
    ABLATION_FULL, ABLATION_FULL_RESEEDED, ABLATION_RANDOM_TEACHER, AblationVariant,
    ablation_variants,
};
pub use execute::RunPaths;
pub use outcome::{RANDOM_TEACHER, RunOutcome, Scores, StudentResult, VALID_SET};
pub use preset::{
    AblationSpec, HOLDOUT_SET, Preset, RatioRow, RatioTable, SetSeedSpread, SweepSpec,
    SweepVariant, TEST_SETS, TrainSpec, ValidPreset,
};
pub use sweep::{STRONG_EXTRACTOR, SweepCell, SweepResult};
pub use tasks::DynSet;

use crate::error::Result;
use execute::{Ctx, State};
use plan::Step;
use progress::Progress;
use std::time::Instant;

/// Whether [`run_with`] runs the missing stages or only reports the finished ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunMode {
    /// Run (or resume) every stage, then write the results.
    Run,
    /// Run nothing; write the results of the finished stages and list the missing ones (a
    /// progress report for a run that spans several sessions).
    ReportOnly,
}

/// Runs (or resumes) the whole reproduction and writes the results into `paths.out`.
pub fn run(preset: &ValidPreset, paths: &RunPaths) -> Result<RunOutcome> {
    run_with(preset, paths, RunMode::Run)
}

/// [`run`], or with [`RunMode::ReportOnly`] the partial results of the stages finished so far.
pub fn run_with(preset: &ValidPreset, paths: &RunPaths, mode: RunMode) -> Result<RunOutcome> {
    let start = Instant::now();
    let ctx = Ctx::prepare(preset, paths)?;
    let steps = plan::plan(preset);
    let mut progress = Progress::new(start, steps.len(), mode == RunMode::ReportOnly);
    let mut state = State::default();
    for step in &steps {
        ctx.run_step(step, &mut state, &mut progress)?;
    }
    let sheet_rows = state.sweep_sheet_rows(preset);
    let missing = progress.unfinished(steps.iter().map(Step::name));
    let outcome = RunOutcome {
        preset: Preset::clone(preset),
        pool_patches: ctx.pool_patches(),
        set_patches: state.set_patches.unwrap_or(0),
        bicubic: state.bicubic,
        teacher: state.teacher,
        students: state.students,
        ablation: state.ablation,
        sweep: state.sweep,
        ratio_table: state.ratio,
        ratio_sets: state.ratio_sets,
        stage_seconds: progress.times,
        wall_seconds: start.elapsed().as_secs_f64(),
        backend: crate::device::BACKEND_NAME.to_string(),
        missing,
    };
    report::write_all(&outcome, &paths.out)?;
    sweep_sheet::write_sweep_sheet(&sheet_rows, &paths.out.join("sweep-sheet.png"))?;
    Ok(outcome)
}
