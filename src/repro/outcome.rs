//! What a run produces (`run.json`) and the names its tables use.

use crate::select::SelectMethod;
use crate::train::{EvalReport, ValidRecord};
use serde::{Deserialize, Serialize};

use super::preset::Preset;

/// The evaluation sets, in table order.
pub const TEST_SETS: [&str; 3] = ["Set5", "Set14", "BSD100"];
/// The validation set of the convergence curves.
pub const VALID_SET: &str = "Set5";

/// Table name of the control row: Random's sets relabelled by the teacher.
pub const RANDOM_TEACHER: &str = "Random+T";

/// Table names of the selection methods.
pub fn method_name(m: SelectMethod) -> &'static str {
    match m {
        SelectMethod::Random => "Random",
        SelectMethod::Herding => "Herding",
        SelectMethod::KCenter => "K-center",
        SelectMethod::Dcsr => "DCSR",
    }
}

/// One trained student and its evaluation.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StudentResult {
    pub method: String,
    pub seed: u64,
    pub items: usize,
    pub train_seconds: f64,
    pub final_loss: Option<f64>,
    pub validation: Vec<ValidRecord>,
    /// Per test set: (name, report without per-image rows).
    pub eval: Vec<(String, Scores)>,
}

/// Mean scores of one evaluation.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct Scores {
    pub psnr_rgb: f64,
    pub ssim_rgb: f64,
    pub psnr_y: f64,
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
    pub preset: Preset,
    pub pool_patches: usize,
    pub set_patches: usize,
    pub bicubic: Vec<(String, Scores)>,
    /// The teacher on the test sets (reference row; empty in runs from before it was kept).
    #[serde(default)]
    pub teacher: Vec<(String, Scores)>,
    pub students: Vec<StudentResult>,
    pub ablation: Vec<StudentResult>,
    /// (stage name, seconds it took when it ran) for every finished stage, in pipeline order,
    /// whichever invocation ran it (None: finished before stage times were recorded).
    pub stage_seconds: Vec<(String, Option<f64>)>,
    /// Wall seconds of the invocation that wrote this outcome.
    pub wall_seconds: f64,
    pub backend: String,
    /// Stages not finished yet (only a report-only run leaves any): the tables are partial.
    #[serde(default)]
    pub missing: Vec<String>,
}
