//! One progress display per phase of a sub-command: an indicatif bar with ETA when stderr is a
//! terminal, else (logs, CI, `2> file`) one plain line per ~10% with the elapsed time and ETA,
//! so a redirected run still shows where it is without a bar's control characters.

use std::io::IsTerminal;
use std::time::Instant;

/// Progress of one phase over `total` units (`unit` names them, e.g. "instances").
pub struct PhaseProgress {
    phase: String,
    unit: &'static str,
    total: u64,
    done: u64,
    /// Next tenth (1..=10) that prints a line (plain mode).
    next_tenth: u64,
    start: Instant,
    bar: Option<indicatif::ProgressBar>,
}

impl PhaseProgress {
    /// Starts the phase (the bar, or nothing printed until the first 10% in plain mode).
    pub fn new(phase: impl Into<String>, unit: &'static str, total: u64) -> Self {
        let phase = phase.into();
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(total);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{prefix} [{bar:30}] {pos}/{len} {msg}, {elapsed} elapsed, ETA {eta}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar.set_prefix(phase.clone());
            bar.set_message(unit);
            bar
        });
        Self {
            phase,
            unit,
            total,
            done: 0,
            next_tenth: 1,
            start: Instant::now(),
            bar,
        }
    }

    /// Prints `msg` on its own line without breaking the bar.
    pub fn println(&self, msg: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| eprintln!("{msg}")),
            None => eprintln!("{msg}"),
        }
    }

    /// Counts `n` more units done.
    pub fn inc(&mut self, n: u64) {
        self.done = (self.done + n).min(self.total);
        if let Some(bar) = &self.bar {
            bar.inc(n);
            return;
        }
        let tenth = (self.done * 10).checked_div(self.total).unwrap_or(10);
        if tenth >= self.next_tenth {
            self.next_tenth = tenth + 1;
            eprintln!("{}", self.line());
        }
    }

    /// The plain-mode line: `phase: 3/10 instances (30%), 12.0 s elapsed, ETA 28 s`.
    fn line(&self) -> String {
        let elapsed = self.start.elapsed().as_secs_f64();
        let eta = eta_seconds(elapsed, self.done, self.total);
        format!(
            "{}: {}/{} {} ({}%), {:.1} s elapsed, ETA {:.0} s",
            self.phase,
            self.done,
            self.total,
            self.unit,
            (self.done * 100).checked_div(self.total).unwrap_or(100),
            elapsed,
            eta
        )
    }

    /// Ends the phase (clears the bar).
    pub fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Remaining seconds at the mean rate so far (0 when nothing is left or nothing is done yet).
fn eta_seconds(elapsed: f64, done: u64, total: u64) -> f64 {
    if done == 0 || done >= total {
        return 0.0;
    }
    elapsed / done as f64 * (total - done) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eta_is_the_mean_rate_times_what_is_left() {
        assert_eq!(eta_seconds(10.0, 2, 10), 40.0);
        assert_eq!(eta_seconds(10.0, 0, 10), 0.0);
        assert_eq!(eta_seconds(10.0, 10, 10), 0.0);
    }

    #[test]
    fn plain_mode_prints_once_per_tenth() {
        let mut p = PhaseProgress::new("condense", "instances", 20);
        p.bar = None;
        let mut lines = 0;
        for _ in 0..20 {
            let before = p.next_tenth;
            p.inc(1);
            lines += usize::from(p.next_tenth != before);
        }
        assert_eq!(lines, 10);
        assert!(p.line().contains("20/20 instances (100%)"));
    }
}
