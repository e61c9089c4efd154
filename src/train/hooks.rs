//! IDC's burn-train hooks, registered on any `SupervisedTraining` with one call.
//!
//! A user who builds their own burn-train loop writes `.with_idc_hooks(&hooks)`
//! ([`IdcTrainingExt`]) and gets what `train_sr` registers: the condense-progress metric of an
//! `IdcDataset` (its condense-ahead worker, started by `IdcDatasetBuilder::condense_ahead`,
//! shows up there) and the validation PSNR/SSIM metrics with their history. `train_sr` uses the
//! same call, so both loops report the same numbers.
//!
//! The validation metrics read [`ValidOutput`], which EDSR's inference step produces from the
//! items of [`ValidLoader`](super::metric::ValidLoader); the training metrics need no input.

use crate::dataset::ahead::CondenseProgressMetric;
use crate::dataset::idc::IdcDataset;
use crate::train::history::{HistoryFile, ValidHistory, ValidKind, ValidRecord, history_records};
use crate::train::metric::{SrValidMetric, ValidOutput};
use burn::train::metric::Adaptor;
use burn::train::{InferenceStep, ItemLazy, LearningComponentsTypes, SupervisedTraining};
use std::path::PathBuf;
use std::sync::Arc;

/// The hooks to register (builder; see the module docs). Cloning shares the validation history.
#[derive(Clone, Default)]
pub struct IdcHooks {
    progress: Vec<CondenseProgressMetric>,
    validation: Option<ValidationHook>,
}

#[derive(Clone)]
struct ValidationHook {
    crop_border: usize,
    history: ValidHistory,
    file: Option<Arc<HistoryFile>>,
}

impl IdcHooks {
    /// No hooks.
    pub fn new() -> Self {
        Self::default()
    }

    /// Shows condensation progress (instances done, ETA) next to the loss every iteration.
    pub fn with_progress(mut self, metric: CondenseProgressMetric) -> Self {
        self.progress.push(metric);
        self
    }

    /// [`Self::with_progress`] of `dataset`'s progress metric.
    pub fn with_dataset(self, dataset: &IdcDataset) -> Self {
        self.with_progress(dataset.progress_metric())
    }

    /// Validation PSNR/SSIM (RGB and Y, BasicSR protocol with `crop_border = scale`), recorded
    /// per validation in [`Self::validation_records`].
    pub fn with_validation(mut self, scale: usize) -> Self {
        self.validation = Some(ValidationHook {
            crop_border: scale,
            history: Default::default(),
            file: None,
        });
        self
    }

    /// Also rewrites the history (after the `earlier` records of resumed runs) to `path` after
    /// each validation, so a killed run keeps it. No effect without [`Self::with_validation`].
    pub fn with_history_file(
        mut self,
        path: impl Into<PathBuf>,
        earlier: Vec<ValidRecord>,
    ) -> Self {
        if let Some(v) = &mut self.validation {
            v.file = Some(Arc::new(HistoryFile {
                path: path.into(),
                earlier,
            }));
        }
        self
    }

    /// Every validation recorded so far (with the file's earlier records), by iteration.
    pub fn validation_records(&self) -> Vec<ValidRecord> {
        let Some(v) = &self.validation else {
            return Vec::new();
        };
        let current = v
            .history
            .lock()
            .map(|h| history_records(&h))
            .unwrap_or_default();
        match &v.file {
            Some(file) => file.merged(current),
            None => current,
        }
    }
}

/// One-call registration of [`IdcHooks`] on a burn-train builder.
pub trait IdcTrainingExt: Sized {
    /// Registers the validation metrics, then the progress metrics.
    fn with_idc_hooks(self, hooks: &IdcHooks) -> Self;
}

impl<LC> IdcTrainingExt for SupervisedTraining<LC>
where
    LC: LearningComponentsTypes,
    <<LC::InferenceModel as InferenceStep>::Output as ItemLazy>::ItemSync: Adaptor<ValidOutput>,
{
    fn with_idc_hooks(mut self, hooks: &IdcHooks) -> Self {
        if let Some(v) = &hooks.validation {
            for kind in ValidKind::ALL {
                let mut metric = SrValidMetric::new(kind, v.crop_border, v.history.clone());
                if let Some(file) = &v.file {
                    metric = metric.with_history_file(file.clone());
                }
                self = self.metric_valid_numeric(metric);
            }
        }
        for metric in &hooks.progress {
            self = self.metric_train_numeric(metric.clone());
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PatchConfig;
    use crate::dataset::SrPair;
    use crate::dataset::ahead::ProgressState;
    use crate::dataset::batch::{SrBatch, SrBatcher};
    use crate::dataset::sr_patch::SrPatchDataset;
    use crate::image::fixtures::textured;
    use crate::models::edsr::EdsrConfig;
    use crate::train::metric::ValidLoader;
    use burn::backend::{Autodiff, Flex};
    use burn::data::dataloader::DataLoaderBuilder;
    use burn::data::dataset::Dataset;
    use burn::optim::AdamConfig;
    use burn::train::Learner;
    use burn::train::metric::LossMetric;

    /// A user's own loop: burn's data loader over `SrBatcher`, a plain learner, one
    /// `with_idc_hooks` call; the registered metrics must be recorded.
    #[test]
    fn hooks_registered_on_a_hand_built_training_are_recorded() {
        type B = Autodiff<Flex>;
        let device = Default::default();
        let patch = PatchConfig {
            scale: 2,
            hr_patch: 16,
            step: 8,
            thresh_size: 0,
            task: None,
        }
        .check()
        .unwrap();
        let images = (0..2)
            .map(|k| (format!("im{k}"), textured(24, 24, k)))
            .collect();
        let train_set = SrPatchDataset::from_images(images, patch).unwrap();
        let valid = (0..2)
            .map(|i| train_set.get(i).map(|p| (p.lr, p.hr)).unwrap())
            .collect();
        let train_loader = DataLoaderBuilder::<B, SrPair, SrBatch<B>>::new(SrBatcher::new())
            .batch_size(4)
            .shuffle(1)
            .build(train_set);
        let valid_loader = Arc::new(ValidLoader::<Flex>::every_epoch(valid, device));
        // An IdcDataset's metric; here over a progress state with 3 of 3 instances done.
        let progress = CondenseProgressMetric::new(Arc::new(ProgressState::new(3, 3, None)));

        let hooks = IdcHooks::new().with_progress(progress).with_validation(2);
        let dir = tempfile::tempdir().unwrap();
        let training = SupervisedTraining::new(dir.path(), train_loader, valid_loader)
            .with_application_logger(None)
            .metric_train_numeric(LossMetric::<Flex>::new())
            .with_idc_hooks(&hooks)
            .num_epochs(2);
        let model = EdsrConfig::from_arch("edsr:8x1", 2)
            .unwrap()
            .init_seeded::<B>(&device, 1);
        training.launch(Learner::new(model, AdamConfig::new().init(), 1e-3));

        let records = hooks.validation_records();
        assert_eq!(
            records.iter().map(|r| r.iteration).collect::<Vec<_>>(),
            [1, 2]
        );
        assert!(
            records
                .iter()
                .all(|r| r.psnr_rgb.is_finite() && r.ssim_y > 0.0)
        );
        let logged = |split: &str, name: &str| {
            std::fs::read_to_string(dir.path().join(split).join("epoch-2").join(name))
                .unwrap_or_default()
        };
        assert!(logged("train", "IDC_condensed.log").contains("100.00"));
        // One `value,count` line per validated image.
        let psnr: Vec<f64> = logged("valid", "PSNR_(RGB).log")
            .lines()
            .filter_map(|l| l.split(',').next()?.parse().ok())
            .collect();
        assert_eq!(psnr.len(), 2);
        assert!(psnr.iter().all(|p| p.is_finite()));
    }
}
