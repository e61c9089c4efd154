//! burn-train glue: the train/validation steps of EDSR and the validation PSNR/SSIM metrics.
//!
//! Validation runs on whole images exactly like offline evaluation ([`crate::train::eval`]): the
//! step quantises SR to 8 bits, and the metrics call the same [`crate::train::eval::score`] as
//! `idc eval`, so the numbers shown while training are the numbers `idc eval` reports.

use crate::dataset::batch::SrBatch;
use crate::image::Image;
use crate::models::edsr::Edsr;
use crate::models::net::SrNet;
use crate::train::eval::score;
use crate::train::history::{HistoryFile, ValidHistory, ValidKind, history_records};
use burn::data::dataloader::{DataLoader, DataLoaderIterator, Progress};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Tensor, TensorData};
use burn::train::metric::state::{FormatOptions, NumericMetricState};
use burn::train::metric::{
    Adaptor, LossInput, Metric, MetricAttributes, MetricMetadata, MetricName, Numeric,
    NumericAttributes, NumericEntry, SerializedEntry,
};
use burn::train::{InferenceStep, ItemLazy, TrainOutput, TrainStep};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Output of one training step: the L1 loss.
pub struct SrTrainOutput<B: Backend> {
    /// Mean L1 loss of the batch (scalar tensor).
    pub loss: Tensor<B, 1>,
}

/// The loss, synced to the host.
pub struct SrLoss {
    /// Mean L1 loss of the batch (NaN if it could not be read back).
    pub loss: f64,
}

impl<B: Backend> ItemLazy for SrTrainOutput<B> {
    type ItemSync = SrLoss;
    fn sync(self) -> SrLoss {
        let loss = self
            .loss
            .into_data()
            .convert::<f64>()
            .to_vec::<f64>()
            .ok()
            .and_then(|v| v.first().copied())
            .unwrap_or(f64::NAN);
        SrLoss { loss }
    }
}

impl Adaptor<LossInput<burn::backend::Flex>> for SrLoss {
    fn adapt(&self) -> LossInput<burn::backend::Flex> {
        LossInput::new(Tensor::from_data(
            TensorData::new(vec![self.loss as f32], [1]),
            &Default::default(),
        ))
    }
}

/// burn-train's steps for a network family, written once: training is BasicSR's `L1Loss` (mean
/// reduction) on the family's `forward`, validation quantises `forward` like `idc eval`.
macro_rules! impl_steps {
    ($($family:ident),+) => {$(
        impl<B: AutodiffBackend> TrainStep for $family<B> {
            type Input = SrBatch<B>;
            type Output = SrTrainOutput<B>;

            /// L1 loss (BasicSR `L1Loss`, mean reduction) and its gradients.
            fn step(&self, batch: SrBatch<B>) -> TrainOutput<SrTrainOutput<B>> {
                let _autodiff = crate::device::autodiff_section();
                let sr = self.forward(batch.lr);
                let loss = (sr - batch.hr).abs().mean();
                let grads = loss.backward();
                TrainOutput::new(self, grads, SrTrainOutput { loss })
            }
        }

        impl<B: Backend> InferenceStep for $family<B> {
            type Input = ValidItem<B>;
            type Output = ValidOutput;

            fn step(&self, item: ValidItem<B>) -> ValidOutput {
                valid_output(self.forward(item.lr), item.gt, item.iteration)
            }
        }
    )+};
}

impl_steps!(Edsr, SrNet);

/// One validation image: LR tensor `[1, 3, h, w]` and its 8-bit ground truth.
pub struct ValidItem<B: Backend> {
    /// LR image `[1, 3, h, w]`, values in `[0, 1]`.
    pub lr: Tensor<B, 4>,
    /// 8-bit ground truth.
    pub gt: Image,
    /// Global iteration this validation belongs to.
    pub iteration: usize,
}

/// SR (quantised to 8 bits, as `tensor2img`) and GT of one validation image.
pub struct ValidOutput {
    /// Network output, quantised to 8 bits.
    pub sr: Image,
    /// 8-bit ground truth.
    pub gt: Image,
    /// Global iteration this validation belongs to.
    pub iteration: usize,
}

impl ItemLazy for ValidOutput {
    type ItemSync = ValidOutput;
    fn sync(self) -> ValidOutput {
        self
    }
}

/// Quantised SR of one validation image beside its ground truth.
fn valid_output<B: Backend>(sr: Tensor<B, 4>, gt: Image, iteration: usize) -> ValidOutput {
    let sr = sr.clamp(0.0, 1.0);
    let [_, c, h, w] = sr.dims();
    let sr = Image::from_tensor(sr.reshape([c, h, w]))
        .map(|im| im.quantized())
        .unwrap_or_else(|_| Image::zeros(c, h, w));
    ValidOutput { sr, gt, iteration }
}

/// Validation PSNR or SSIM (RGB or Y, `crop_border = scale`), averaged over images; also
/// records each validation's mean in a shared history for the training summary (and, with
/// [`SrValidMetric::with_history_file`], on disk as it goes).
#[derive(Clone)]
pub struct SrValidMetric {
    kind: ValidKind,
    crop_border: usize,
    name: MetricName,
    state: NumericMetricState,
    history: ValidHistory,
    file: Option<Arc<HistoryFile>>,
}

impl SrValidMetric {
    /// Metric of `kind`; each validation's mean goes into `history`.
    pub fn new(kind: ValidKind, crop_border: usize, history: ValidHistory) -> Self {
        Self {
            kind,
            crop_border,
            name: Arc::new(kind.name().to_string()),
            state: NumericMetricState::default(),
            history,
            file: None,
        }
    }

    /// Also rewrites `file` (atomically) when a validation pass reaches its last image, so a
    /// kill loses no finished validation (one write per metric and validation, not per image).
    pub fn with_history_file(mut self, file: Arc<HistoryFile>) -> Self {
        self.file = Some(file);
        self
    }
}

impl Adaptor<ValidOutput> for ValidOutput {
    fn adapt(&self) -> ValidOutput {
        ValidOutput {
            sr: self.sr.clone(),
            gt: self.gt.clone(),
            iteration: self.iteration,
        }
    }
}

impl Metric for SrValidMetric {
    type Input = ValidOutput;

    fn name(&self) -> MetricName {
        self.name.clone()
    }

    fn update(&mut self, item: &ValidOutput, meta: &MetricMetadata) -> SerializedEntry {
        let value = score(&item.sr, &item.gt, self.crop_border)
            .map(|s| self.kind.pick(&s))
            .unwrap_or(f64::NAN);
        let precision = if matches!(self.kind, ValidKind::PsnrRgb | ValidKind::PsnrY) {
            3
        } else {
            4
        };
        let entry = self.state.update(
            value,
            1,
            FormatOptions::new(self.name.clone()).precision(precision),
        );
        let mean = self.state.running_value().current();
        let last_image = meta.progress.items_processed >= meta.progress.items_total;
        let finished = self.history.lock().ok().and_then(|mut h| {
            h.entry(item.iteration).or_default().insert(self.kind, mean);
            (last_image && self.file.is_some()).then(|| history_records(&h))
        });
        if let (Some(file), Some(records)) = (&self.file, finished) {
            file.write(records);
        }
        entry
    }

    fn clear(&mut self) {
        self.state.reset();
    }

    fn attributes(&self) -> MetricAttributes {
        NumericAttributes {
            unit: None,
            higher_is_better: true,
        }
        .into()
    }
}

impl Numeric for SrValidMetric {
    fn value(&self) -> NumericEntry {
        self.state.current_value()
    }
    fn running_value(&self) -> NumericEntry {
        self.state.running_value()
    }
}

/// Validation loader: all prepared images, but only when a validation is due (every
/// `valid_every` iterations and at the last one); otherwise an empty epoch.
#[derive(Clone)]
pub struct ValidLoader<B: Backend> {
    items: Arc<Vec<(Image, Image)>>,
    iteration: Arc<AtomicUsize>,
    valid_every: usize,
    total: usize,
    /// Counts validation passes in `iteration` itself (no sampler counter to follow).
    count_passes: bool,
    device: B::Device,
}

impl<B: Backend> ValidLoader<B> {
    /// `items` are `(lr, gt)` pairs; `iteration` is the sampler's global counter.
    pub fn new(
        items: Arc<Vec<(Image, Image)>>,
        iteration: Arc<AtomicUsize>,
        valid_every: usize,
        total: usize,
        device: B::Device,
    ) -> Self {
        Self {
            items,
            iteration,
            valid_every,
            total,
            count_passes: false,
            device,
        }
    }

    /// For a user's own burn-train loop: validates at every epoch; validations are recorded
    /// under their pass number (1, 2, ...) instead of an iteration.
    pub fn every_epoch(items: Vec<(Image, Image)>, device: B::Device) -> Self {
        let mut loader = Self::new(
            Arc::new(items),
            Arc::new(AtomicUsize::new(0)),
            1,
            usize::MAX,
            device,
        );
        loader.count_passes = true;
        loader
    }
}

struct ValidIter<'a, B: Backend> {
    loader: &'a ValidLoader<B>,
    pos: usize,
    len: usize,
    iteration: usize,
}

impl<B: Backend> Iterator for ValidIter<'_, B> {
    type Item = ValidItem<B>;
    fn next(&mut self) -> Option<ValidItem<B>> {
        if self.pos >= self.len {
            return None;
        }
        let (lr, gt) = &self.loader.items[self.pos];
        self.pos += 1;
        let lr =
            lr.to_tensor::<B>(&self.loader.device)
                .reshape([1, lr.channels, lr.height, lr.width]);
        Some(ValidItem {
            lr,
            gt: gt.clone(),
            iteration: self.iteration,
        })
    }
}

impl<B: Backend> DataLoaderIterator<ValidItem<B>> for ValidIter<'_, B> {
    fn progress(&self) -> Progress {
        Progress::new(self.pos, self.len)
    }
}

impl<B: Backend> DataLoader<B, ValidItem<B>> for ValidLoader<B> {
    fn iter<'a>(&'a self) -> Box<dyn DataLoaderIterator<ValidItem<B>> + 'a> {
        let done = if self.count_passes {
            self.iteration.fetch_add(1, Ordering::SeqCst) + 1
        } else {
            self.iteration.load(Ordering::SeqCst)
        };
        let due = done > 0 && (done.is_multiple_of(self.valid_every) || done >= self.total);
        Box::new(ValidIter {
            loader: self,
            pos: 0,
            len: if due { self.items.len() } else { 0 },
            iteration: done,
        })
    }
    fn num_items(&self) -> usize {
        self.items.len()
    }
    fn to_device(&self, device: &B::Device) -> Arc<dyn DataLoader<B, ValidItem<B>>> {
        Arc::new(Self {
            device: device.clone(),
            ..self.clone()
        })
    }
    fn slice(&self, start: usize, end: usize) -> Arc<dyn DataLoader<B, ValidItem<B>>> {
        let end = end.min(self.items.len());
        let start = start.min(end);
        Arc::new(Self {
            items: Arc::new(self.items[start..end].to_vec()),
            ..self.clone()
        })
    }
}
