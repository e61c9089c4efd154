//! Training hooks of [`IdcDataset`](super::idc::IdcDataset): condense-ahead and progress.
//!
//! - `AheadWorker`: one background thread that condenses instances before the loader asks for
//!   them. It takes hints from a *bounded* queue (`get` of instance `j` hints `j + 1`, dropped
//!   when the queue is full so the loader never blocks on it) and otherwise sweeps the instances
//!   without a valid shard in index order. It goes through the same per-instance locks as the
//!   loader, so an instance is never condensed twice: a loader that reaches an instance the worker
//!   is condensing waits on its lock and then loads the shard.
//! - [`ProgressState`] / [`ProgressSnapshot`]: instances with a valid shard, total, ETA (mean
//!   condensation time of this run times the instances left); an observer callback gets a
//!   snapshot after every instance (the CLI drives an indicatif bar with it).
//! - [`CondenseProgressMetric`]: the same progress inside burn-train's training loop.
//!
//! Why a `Metric` for burn-train: Burn 0.21's `SupervisedTraining` has no per-iteration user
//! callback; its extension points are metrics, metric loggers, renderers and checkpointing
//! strategies. A metric with `Input = ()` (like burn's `CpuUse` and `LearningRateMetric`) is
//! updated every iteration without touching the model output, is shown by the default CLI/TUI
//! renderer next to the loss, and is logged with the other metrics, so progress needs no custom
//! renderer. Register it with `.metric_train_numeric(dataset.progress_metric())`.

use crate::error::Result;
use burn::train::metric::{
    Metric, MetricAttributes, MetricMetadata, MetricName, Numeric, NumericAttributes, NumericEntry,
    SerializedEntry,
};
use serde::Serialize;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Point-in-time condensation progress.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProgressSnapshot {
    /// Instances with a valid shard (loaded or condensed).
    pub done: usize,
    /// Instances in the dataset.
    pub total: usize,
    /// Instances condensed by this process so far.
    pub condensed: usize,
    /// Seconds since the dataset was built.
    pub elapsed_s: f64,
    /// Estimated seconds until every instance is done (`None` before the first condensation).
    pub eta_s: Option<f64>,
}

/// Observer called with every progress snapshot (`IdcDatasetBuilder::with_progress`).
pub(crate) type ProgressFn = Arc<dyn Fn(&ProgressSnapshot) + Send + Sync>;

impl ProgressSnapshot {
    /// `done / total` in percent.
    pub fn percent(&self) -> f64 {
        if self.total == 0 {
            100.0
        } else {
            100.0 * self.done as f64 / self.total as f64
        }
    }
}

/// Shared progress counters.
pub struct ProgressState {
    total: usize,
    done: AtomicUsize,
    condensed: AtomicUsize,
    condense_time: Mutex<Duration>,
    start: Instant,
    observer: Option<ProgressFn>,
}

impl ProgressState {
    pub(crate) fn new(total: usize, done: usize, observer: Option<ProgressFn>) -> Self {
        Self {
            total,
            done: AtomicUsize::new(done),
            condensed: AtomicUsize::new(0),
            condense_time: Mutex::new(Duration::ZERO),
            start: Instant::now(),
            observer,
        }
    }

    /// Current numbers.
    pub fn snapshot(&self) -> ProgressSnapshot {
        let done = self.done.load(Ordering::Acquire);
        let condensed = self.condensed.load(Ordering::Acquire);
        let spent = self.condense_time.lock().map(|d| *d).unwrap_or_default();
        let eta_s = (condensed > 0).then(|| {
            spent.as_secs_f64() / condensed as f64 * self.total.saturating_sub(done) as f64
        });
        ProgressSnapshot {
            done,
            total: self.total,
            condensed,
            elapsed_s: self.start.elapsed().as_secs_f64(),
            eta_s,
        }
    }

    pub(crate) fn notify(&self) {
        if let Some(f) = &self.observer {
            f(&self.snapshot());
        }
    }

    pub(crate) fn instance_done(&self) {
        self.done.fetch_add(1, Ordering::AcqRel);
        self.notify();
    }

    pub(crate) fn condensed_in(&self, d: Duration) {
        if let Ok(mut t) = self.condense_time.lock() {
            *t += d;
        }
        self.condensed.fetch_add(1, Ordering::AcqRel);
    }
}

/// Human-readable duration (`1h02m`, `3m20s`, `12s`).
pub fn format_eta(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

/// burn-train metric showing condensation progress (percent of instances with a valid shard,
/// and the ETA in its text). See the module docs for why this extension point.
#[derive(Clone)]
pub struct CondenseProgressMetric {
    name: MetricName,
    state: Arc<ProgressState>,
    last: f64,
}

impl CondenseProgressMetric {
    pub(crate) fn new(state: Arc<ProgressState>) -> Self {
        Self {
            name: Arc::new("IDC condensed".to_string()),
            state,
            last: 0.0,
        }
    }

    /// Text shown by the renderer, e.g. `IDC condensed: 120/800 (15.0 %) ETA 3m20s`.
    pub fn formatted(&self) -> String {
        let p = self.state.snapshot();
        let eta = match (p.done < p.total, p.eta_s) {
            (false, _) => String::new(),
            (true, Some(e)) => format!(" ETA {}", format_eta(e)),
            (true, None) => " ETA ?".to_string(),
        };
        format!(
            "{}: {}/{} ({:.1} %){eta}",
            self.name,
            p.done,
            p.total,
            p.percent()
        )
    }
}

impl Metric for CondenseProgressMetric {
    type Input = ();

    fn name(&self) -> MetricName {
        self.name.clone()
    }

    fn description(&self) -> Option<String> {
        Some("Instances of the IdcDataset with a valid condensed shard".into())
    }

    fn attributes(&self) -> MetricAttributes {
        NumericAttributes {
            unit: Some("%".into()),
            higher_is_better: true,
        }
        .into()
    }

    fn update(&mut self, _item: &(), _metadata: &MetricMetadata) -> SerializedEntry {
        self.last = self.state.snapshot().percent();
        SerializedEntry::new(self.formatted(), format!("{:.2}", self.last))
    }

    fn clear(&mut self) {}
}

impl Numeric for CondenseProgressMetric {
    fn value(&self) -> NumericEntry {
        NumericEntry::Value(self.last)
    }

    fn running_value(&self) -> NumericEntry {
        NumericEntry::Value(self.last)
    }
}

/// What the condense-ahead worker works on: the dataset's engine, seen through this small
/// interface so the worker does not depend on the dataset's internals.
pub(crate) trait CondenseTarget: Send + Sync + 'static {
    /// Number of instances.
    fn num_instances(&self) -> usize;
    /// Whether instance `j` already has a valid shard.
    fn is_done(&self, j: usize) -> bool;
    /// Loads or condenses each of `js` (under its lock, those to condense together) without
    /// keeping them in memory; one result each.
    fn ensure(&self, js: &[usize]) -> Vec<Result<()>>;
}

/// Background condense-ahead thread (see the module docs).
pub(crate) struct AheadWorker {
    tx: Option<SyncSender<usize>>,
    stop: Arc<AtomicBool>,
    idle: Arc<(Mutex<bool>, Condvar)>,
}

impl AheadWorker {
    pub(crate) fn start(target: Arc<dyn CondenseTarget>, queue: usize) -> Self {
        let (tx, rx) = sync_channel(queue);
        let stop = Arc::new(AtomicBool::new(false));
        let idle = Arc::new((Mutex::new(false), Condvar::new()));
        let (s, i) = (stop.clone(), idle.clone());
        let spawned = std::thread::Builder::new()
            .name("idc-condense-ahead".into())
            .spawn(move || run(target, rx, s, i));
        if let Err(e) = spawned {
            eprintln!("warning: condense-ahead worker not started: {e}");
            let (m, c) = &*idle;
            if let Ok(mut g) = m.lock() {
                *g = true;
            }
            c.notify_all();
        }
        Self {
            tx: Some(tx),
            stop,
            idle,
        }
    }

    /// Suggests instance `j + 1` (the next one a sequential loader needs); never blocks.
    pub(crate) fn hint(&self, j: usize) {
        if let Some(tx) = &self.tx {
            let _ = tx.try_send(j + 1);
        }
    }

    /// Blocks until the sweep over all instances is finished.
    pub(crate) fn wait_idle(&self) {
        let (m, c) = &*self.idle;
        let Ok(mut g) = m.lock() else { return };
        while !*g {
            match c.wait(g) {
                Ok(ng) => g = ng,
                Err(_) => return,
            }
        }
    }

    /// Asks the thread to finish after its current instance (not joined: a condensation may take
    /// minutes, and shard writes are atomic anyway).
    pub(crate) fn stop(mut self) {
        self.stop.store(true, Ordering::Release);
        self.tx.take();
    }
}

fn run(
    target: Arc<dyn CondenseTarget>,
    rx: Receiver<usize>,
    stop: Arc<AtomicBool>,
    idle: Arc<(Mutex<bool>, Condvar)>,
) {
    let n = target.num_instances();
    let batch = crate::condense::default_batch_instances();
    let mut attempted = vec![false; n];
    let mut cursor = 0usize;
    let work = |js: &[usize], attempted: &mut Vec<bool>| {
        let todo: Vec<usize> = js
            .iter()
            .copied()
            .filter(|&j| j < n && !attempted[j] && !target.is_done(j))
            .collect();
        todo.iter().for_each(|&j| attempted[j] = true);
        if todo.is_empty() {
            return;
        }
        for (j, r) in todo.iter().zip(target.ensure(&todo)) {
            if let Err(e) = r {
                eprintln!("warning: condense-ahead of instance {j}: {e}");
            }
        }
    };
    loop {
        if stop.load(Ordering::Acquire) {
            break;
        }
        match rx.try_recv() {
            Ok(j) => {
                work(&[j], &mut attempted);
                continue;
            }
            Err(TryRecvError::Disconnected) => break,
            Err(TryRecvError::Empty) => {}
        }
        while cursor < n && (attempted[cursor] || target.is_done(cursor)) {
            cursor += 1;
        }
        if cursor < n {
            // The next `batch` instances without a shard, condensed together.
            let next: Vec<usize> = (cursor..n)
                .filter(|&j| !attempted[j] && !target.is_done(j))
                .take(batch)
                .collect();
            work(&next, &mut attempted);
            continue;
        }
        // Sweep finished: report idle, then only serve hints until the dataset goes away.
        {
            let (m, c) = &*idle;
            if let Ok(mut g) = m.lock() {
                *g = true;
            }
            c.notify_all();
        }
        match rx.recv() {
            Ok(j) => work(&[j], &mut attempted),
            Err(_) => break,
        }
    }
    let (m, c) = &*idle;
    if let Ok(mut g) = m.lock() {
        *g = true;
    }
    c.notify_all();
}
