//! Validation history of a training run: [`ValidRecord`] (one validation), the in-memory
//! [`ValidHistory`] the validation metrics fill, and the [`HistoryFile`] rewritten during
//! training so a killed run keeps its curve. Its own module so that the metrics
//! ([`super::metric`]) and the driver ([`super::fit`]) both use it without importing each other.

use crate::train::eval::ImageScores;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// One validation of a training run (a metric that could not be computed is NaN; JSON writes
/// it as `null`, which reads back as NaN).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ValidRecord {
    /// Global iteration the validation ran at.
    pub iteration: usize,
    /// Mean PSNR on RGB, in dB.
    #[serde(deserialize_with = "f64_or_nan")]
    pub psnr_rgb: f64,
    /// Mean SSIM on RGB.
    #[serde(deserialize_with = "f64_or_nan")]
    pub ssim_rgb: f64,
    /// Mean PSNR on the Y channel, in dB.
    #[serde(deserialize_with = "f64_or_nan")]
    pub psnr_y: f64,
    /// Mean SSIM on the Y channel.
    #[serde(deserialize_with = "f64_or_nan")]
    pub ssim_y: f64,
}

fn f64_or_nan<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// Which of the four validation numbers a [`SrValidMetric`](super::metric::SrValidMetric) reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ValidKind {
    /// Mean PSNR on RGB.
    PsnrRgb,
    /// Mean SSIM on RGB.
    SsimRgb,
    /// Mean PSNR on the Y channel.
    PsnrY,
    /// Mean SSIM on the Y channel.
    SsimY,
}

impl ValidKind {
    /// The four kinds, in display order.
    pub const ALL: [ValidKind; 4] = [
        ValidKind::PsnrRgb,
        ValidKind::SsimRgb,
        ValidKind::PsnrY,
        ValidKind::SsimY,
    ];
    pub(crate) fn name(self) -> &'static str {
        match self {
            ValidKind::PsnrRgb => "PSNR (RGB)",
            ValidKind::SsimRgb => "SSIM (RGB)",
            ValidKind::PsnrY => "PSNR (Y)",
            ValidKind::SsimY => "SSIM (Y)",
        }
    }
    pub(crate) fn pick(self, s: &ImageScores) -> f64 {
        match self {
            ValidKind::PsnrRgb => s.psnr_rgb,
            ValidKind::SsimRgb => s.ssim_rgb,
            ValidKind::PsnrY => s.psnr_y,
            ValidKind::SsimY => s.ssim_y,
        }
    }
}

/// Per-validation means, keyed by the global iteration the validation ran at.
pub type ValidHistory = Arc<Mutex<BTreeMap<usize, BTreeMap<ValidKind, f64>>>>;

/// The history as records sorted by iteration (a missing metric reads NaN).
pub fn history_records(history: &BTreeMap<usize, BTreeMap<ValidKind, f64>>) -> Vec<ValidRecord> {
    history
        .iter()
        .map(|(&iteration, m)| {
            let get = |k| m.get(&k).copied().unwrap_or(f64::NAN);
            ValidRecord {
                iteration,
                psnr_rgb: get(ValidKind::PsnrRgb),
                ssim_rgb: get(ValidKind::SsimRgb),
                psnr_y: get(ValidKind::PsnrY),
                ssim_y: get(ValidKind::SsimY),
            }
        })
        .collect()
}

/// The validation history kept on disk *while* a run trains (the summary is written only at
/// the end): a run killed and resumed from a checkpoint still reports the validations made
/// before the kill. `earlier` holds those of the invocations this one resumed.
#[derive(Clone, Debug)]
pub struct HistoryFile {
    /// File the history is rewritten to.
    pub path: PathBuf,
    /// Records of the invocations this run resumed from.
    pub earlier: Vec<ValidRecord>,
}

impl HistoryFile {
    /// `earlier` followed by `current` (a validation in both keeps `current`'s values).
    pub fn merged(&self, current: Vec<ValidRecord>) -> Vec<ValidRecord> {
        let mut all: Vec<ValidRecord> = self
            .earlier
            .iter()
            .filter(|r| current.iter().all(|c| c.iteration != r.iteration))
            .cloned()
            .collect();
        all.extend(current);
        all.sort_by_key(|r| r.iteration);
        all
    }

    pub(crate) fn write(&self, current: Vec<ValidRecord>) {
        let res = serde_json::to_vec_pretty(&self.merged(current))
            .map_err(|e| e.to_string())
            .and_then(|b| crate::fsutil::write_atomic(&self.path, &b).map_err(|e| e.to_string()));
        // Losing the file costs only curve points after a kill; it must not stop training.
        if let Err(e) = res {
            eprintln!("[train] cannot write {}: {e}", self.path.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_history_round_trips_nan_and_merges() {
        let rec = |iteration, psnr_rgb| ValidRecord {
            iteration,
            psnr_rgb,
            ssim_rgb: 0.5,
            psnr_y: 30.0,
            ssim_y: 0.6,
        };
        let json = serde_json::to_vec(&vec![rec(1, f64::NAN)]).unwrap();
        let back: Vec<ValidRecord> = serde_json::from_slice(&json).unwrap();
        assert!(back[0].psnr_rgb.is_nan() && back[0].ssim_y == 0.6);
        let file = HistoryFile {
            path: PathBuf::new(),
            earlier: vec![rec(100, 28.0), rec(200, 30.0)],
        };
        let merged = file.merged(vec![rec(300, 31.0), rec(200, 30.5)]);
        let got: Vec<(usize, f64)> = merged.iter().map(|r| (r.iteration, r.psnr_rgb)).collect();
        assert_eq!(got, [(100, 28.0), (200, 30.5), (300, 31.0)]);
    }
}
