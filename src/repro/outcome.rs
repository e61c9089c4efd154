//! What a run produces (`run.json`) and the names its tables use.

use crate::train::{EvalReport, ValidRecord};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::preset::Preset;

/// The validation set of the convergence curves.
pub const VALID_SET: &str = "Set5";

/// Table name of the control row: Random's sets relabelled by the teacher.
pub const RANDOM_TEACHER: &str = "Random+T";

/// One trained student and its evaluation.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StudentResult {
    /// Method name (row label, e.g. `IDC`, `Random`).
    pub method: String,
    /// Student seed.
    pub seed: u64,
    /// Training iterations of the student.
    pub items: usize,
    /// Wall seconds the student's training took.
    pub train_seconds: f64,
    /// Loss of the last training iteration.
    pub final_loss: Option<f64>,
    /// Validation history of the training run.
    pub validation: Vec<ValidRecord>,
    /// Per test set: (name, report without per-image rows).
    pub eval: Vec<(String, Scores)>,
    /// The architecture of a further student family of the main table (`more_students`);
    /// absent for the preset's own student (and left out of the JSON then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<String>,
}

/// Mean scores of one evaluation.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct Scores {
    /// Mean PSNR on RGB, in dB.
    pub psnr_rgb: f64,
    /// Mean SSIM on RGB.
    pub ssim_rgb: f64,
    /// Mean PSNR on the Y channel, in dB.
    pub psnr_y: f64,
    /// Mean SSIM on the Y channel.
    pub ssim_y: f64,
}

impl From<&EvalReport> for Scores {
    fn from(r: &EvalReport) -> Self {
        Scores {
            psnr_rgb: r.psnr_rgb,
            ssim_rgb: r.ssim_rgb,
            psnr_y: r.psnr_y,
            ssim_y: r.ssim_y,
        }
    }
}

/// Whole-run outcome, written to `run.json` next to the tables.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunOutcome {
    /// The preset the run used.
    pub preset: Preset,
    /// Patches in the whole pool (the "Whole" row's training set).
    pub pool_patches: usize,
    /// Pairs in each reduced (condensed or selected) set (0 if not built yet).
    pub set_patches: usize,
    /// The task's do-nothing baseline on each test set (reference row): bicubic up-sampling
    /// for SR, the noisy input for denoising: (name, scores).
    pub bicubic: Vec<(String, Scores)>,
    /// The teacher on the test sets (reference row; empty in runs from before it was kept).
    #[serde(default)]
    pub teacher: Vec<(String, Scores)>,
    /// Students of the main table.
    pub students: Vec<StudentResult>,
    /// Students of the ablation table.
    pub ablation: Vec<StudentResult>,
    /// The budget sweep's cells (left out of the JSON when there are none, so runs written
    /// before it are byte-identical).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sweep: Vec<super::sweep::SweepResult>,
    /// Students of the ratio table (left out of the JSON when there are none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ratio_table: Vec<StudentResult>,
    /// Pairs in each finished ratio-table set, by stage name (left out when empty).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ratio_sets: BTreeMap<String, usize>,
    /// (stage name, seconds it took when it ran) for every finished stage, in pipeline order,
    /// whichever invocation ran it (None: finished before stage times were recorded).
    pub stage_seconds: Vec<(String, Option<f64>)>,
    /// Wall seconds of the invocation that wrote this outcome.
    pub wall_seconds: f64,
    /// Name of the burn backend the run used.
    pub backend: String,
    /// Stages not finished yet (only a report-only run leaves any): the tables are partial.
    #[serde(default)]
    pub missing: Vec<String>,
}
