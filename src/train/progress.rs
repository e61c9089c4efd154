//! A burn-train renderer for iteration-based training: one indicatif bar over iterations (ETA,
//! loss, learning rate) on stderr, plus one plain line per validation so logs (CI, files) show
//! progress even where the bar is hidden. It also records the loss curve for the summary.

use burn::train::LearnerSummary;
use burn::train::metric::{MetricDefinition, MetricId};
use burn::train::renderer::{
    EvaluationName, EvaluationProgress, MetricState, MetricsRenderer, MetricsRendererEvaluation,
    MetricsRendererTraining, ProgressType, TrainingProgress,
};
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// `(iteration, loss)` for every training step seen by the renderer.
pub type LossCurve = Arc<Mutex<Vec<(usize, f64)>>>;

/// Iteration progress bar + validation lines.
pub struct IterationRenderer {
    bar: ProgressBar,
    names: HashMap<MetricId, String>,
    /// Iterations rendered so far, counted here (metrics arrive asynchronously, so the sampler's
    /// counter may already be ahead).
    iteration: usize,
    losses: LossCurve,
    last_loss: f64,
    /// Latest display string of every other train metric (e.g. condensation progress).
    extra: Vec<(String, String)>,
    /// `(metric, sum over images, images)` of the running validation.
    valid: Vec<(String, f64, usize)>,
    valid_seen: usize,
    valid_total: usize,
}

impl IterationRenderer {
    /// Bar over `total` iterations, the first rendered one being `start + 1`.
    pub fn new(start: usize, total: usize, losses: LossCurve) -> Self {
        let bar = ProgressBar::new(total as u64);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} train [{elapsed_precise}<{eta_precise}] {wide_bar} {pos}/{len} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_position(start as u64);
        Self {
            bar,
            names: HashMap::new(),
            iteration: start,
            losses,
            last_loss: f64::NAN,
            extra: Vec::new(),
            valid: Vec::new(),
            valid_seen: 0,
            valid_total: 0,
        }
    }

    fn flush_validation(&mut self) {
        if self.valid.is_empty() {
            return;
        }
        let it = self.iteration;
        let parts: Vec<String> = self
            .valid
            .iter()
            .map(|(n, sum, k)| format!("{n} {:.4}", sum / (*k).max(1) as f64))
            .collect();
        self.bar.println(format!(
            "[iter {it}] validation on {} images: {}",
            self.valid_total,
            parts.join(", ")
        ));
        if self.bar.is_hidden() {
            eprintln!(
                "[iter {it}] validation on {} images: {}",
                self.valid_total,
                parts.join(", ")
            );
        }
        self.valid.clear();
    }
}

impl MetricsRendererTraining for IterationRenderer {
    fn update_train(&mut self, state: MetricState) {
        if let MetricState::Numeric(entry, value) = state {
            let name = self.names.get(&entry.metric_id).cloned();
            match name.as_deref() {
                Some("Loss") => self.last_loss = value.current(),
                Some(other) => {
                    let shown = entry.serialized_entry.formatted.clone();
                    match self.extra.iter_mut().find(|(n, _)| n == other) {
                        Some(slot) => slot.1 = shown,
                        None => self.extra.push((other.to_string(), shown)),
                    }
                }
                None => {}
            }
        }
    }

    fn update_valid(&mut self, state: MetricState) {
        if let MetricState::Numeric(entry, value) = state {
            let name = self
                .names
                .get(&entry.metric_id)
                .cloned()
                .unwrap_or_else(|| "metric".into());
            // Entries are per image; show the mean over the validation set.
            let v = value.current();
            match self.valid.iter_mut().find(|(n, _, _)| *n == name) {
                Some(slot) => {
                    slot.1 += v;
                    slot.2 += 1;
                }
                None => self.valid.push((name, v, 1)),
            }
        }
    }

    fn render_train(&mut self, item: TrainingProgress, _indicators: Vec<ProgressType>) {
        let _ = item;
        self.iteration += 1;
        let it = self.iteration;
        if let Ok(mut l) = self.losses.lock() {
            l.push((it, self.last_loss));
        }
        self.bar.set_position(it as u64);
        let extra: String = self.extra.iter().map(|(_, v)| format!(" | {v}")).collect();
        self.bar
            .set_message(format!("loss {:.5}{extra}", self.last_loss));
        if self.bar.is_hidden() && (it.is_multiple_of(25) || Some(it as u64) == self.bar.length()) {
            eprintln!(
                "[iter {it}/{}] loss {:.5}{extra}",
                self.bar.length().unwrap_or(0),
                self.last_loss
            );
        }
    }

    fn render_valid(&mut self, item: TrainingProgress, _indicators: Vec<ProgressType>) {
        if let Some(p) = item.progress {
            self.valid_seen = p.items_processed;
            self.valid_total = p.items_total;
            if p.items_total > 0 && p.items_processed >= p.items_total {
                self.flush_validation();
            }
        }
    }

    fn on_train_end(
        &mut self,
        _summary: Option<LearnerSummary>,
    ) -> Result<(), Box<dyn core::error::Error>> {
        self.flush_validation();
        self.bar.finish_and_clear();
        Ok(())
    }
}

impl MetricsRendererEvaluation for IterationRenderer {
    fn update_test(&mut self, _name: EvaluationName, _state: MetricState) {}
    fn render_test(&mut self, _item: EvaluationProgress, _indicators: Vec<ProgressType>) {}
}

impl MetricsRenderer for IterationRenderer {
    fn manual_close(&mut self) {
        self.bar.finish_and_clear();
    }
    fn register_metric(&mut self, definition: MetricDefinition) {
        self.names.insert(definition.metric_id, definition.name);
    }
}
