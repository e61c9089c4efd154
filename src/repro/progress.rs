//! Progress over the stages of a run: `[repro i/N]`, elapsed time and a naive ETA; in a
//! report-only run nothing runs, and [`Progress::unfinished`] lists the stages that did not finish.

use super::stage::{Claim, Stage};
use crate::error::{IdcError, Result};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::path::Path;
use std::time::Instant;

pub(crate) struct Progress {
    start: Instant,
    done: usize,
    /// Length of the planned stage list.
    total: usize,
    /// Stages run by this invocation, with their seconds (for the ETA).
    ran: Vec<(String, f64)>,
    /// Every finished stage met so far, with its measured seconds (whenever it ran).
    pub(crate) times: Vec<(String, Option<f64>)>,
    report_only: bool,
}

impl Progress {
    pub(crate) fn new(start: Instant, total: usize, report_only: bool) -> Self {
        Progress {
            start,
            done: 0,
            total,
            ran: Vec::new(),
            times: Vec::new(),
            report_only,
        }
    }

    /// Runs (or loads) one stage; in a report-only run only loads it, failing with
    /// [`IdcError::StageMissing`] when it has not finished. A live run fails the same way on a
    /// stage another process has claimed ([`Stage::claim`]).
    pub(crate) fn stage<T, F>(&mut self, stage: &Stage, f: F) -> Result<T>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce(&Path) -> Result<T>,
    {
        self.stage_held(stage, false, f)
    }

    /// [`Progress::stage`] for a stage the rest of the run is built on (a network every set or
    /// student needs): held by another process, it is waited for rather than skipped, so a
    /// second process started beside the first does not stop at the first shared stage.
    pub(crate) fn prerequisite<T, F>(&mut self, stage: &Stage, f: F) -> Result<T>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce(&Path) -> Result<T>,
    {
        self.stage_held(stage, true, f)
    }

    fn stage_held<T, F>(&mut self, stage: &Stage, wait: bool, f: F) -> Result<T>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce(&Path) -> Result<T>,
    {
        self.done += 1;
        if self.report_only {
            return self.load(stage);
        }
        let t0 = Instant::now();
        eprintln!(
            "[repro {}/{}] {} (elapsed {:.0} s, ETA {})",
            self.done,
            self.total,
            stage.name,
            self.start.elapsed().as_secs_f64(),
            self.eta()
        );
        let _claim = match (stage.is_done(), wait) {
            (true, _) => None,
            (false, false) => Some(self.claim(stage)?),
            (false, true) => Some(self.claim_waiting(stage)?),
        };
        // `Stage::run` calls `f` only when the stage is not cached; its marker is read once there.
        let mut ran = false;
        let v = stage.run(|dir| {
            ran = true;
            f(dir)
        })?;
        if ran {
            self.ran
                .push((stage.name.clone(), t0.elapsed().as_secs_f64()));
        }
        self.times.push((stage.name.clone(), stage.seconds()));
        Ok(v)
    }

    /// Holds `stage` for this run; one another process sharing the work folder holds is
    /// skipped (reported unfinished).
    fn claim(&mut self, stage: &Stage) -> Result<Claim> {
        stage.claim()?.ok_or_else(|| {
            eprintln!(
                "[stage] {}: running in another process; skipped",
                stage.name
            );
            IdcError::StageMissing(stage.name.clone())
        })
    }

    fn claim_waiting(&mut self, stage: &Stage) -> Result<Claim> {
        if let Some(claim) = stage.claim()? {
            return Ok(claim);
        }
        eprintln!(
            "[stage] {}: running in another process; waiting for it",
            stage.name
        );
        stage.claim_waiting()
    }

    fn load<T: DeserializeOwned>(&mut self, stage: &Stage) -> Result<T> {
        match stage.load::<T>() {
            Some(v) => {
                self.times.push((stage.name.clone(), stage.seconds()));
                Ok(v)
            }
            None => Err(IdcError::StageMissing(stage.name.clone())),
        }
    }

    /// The planned stages (`planned`, in plan order) that did not finish: those met unfinished
    /// or held by another process, and those never reached because an input was missing (the
    /// student of an unfinished set, the evaluation of an unfinished student).
    pub(crate) fn unfinished(&self, planned: impl Iterator<Item = String>) -> Vec<String> {
        let finished: std::collections::BTreeSet<&str> =
            self.times.iter().map(|(name, _)| name.as_str()).collect();
        planned
            .filter(|name| !finished.contains(name.as_str()))
            .collect()
    }

    /// Mean seconds of the stages this invocation ran, times the stages left.
    fn eta(&self) -> String {
        if self.ran.is_empty() {
            return "unknown".to_string();
        }
        let run_secs: f64 = self.ran.iter().map(|(_, s)| s).sum();
        let per = run_secs / self.ran.len() as f64;
        format!(
            "~{:.0} min",
            per * (self.total + 1 - self.done) as f64 / 60.0
        )
    }
}

/// `Ok(None)` for a stage a report-only run found unfinished; other errors pass through.
pub(crate) fn if_done<T>(r: Result<T>) -> Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(IdcError::StageMissing(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stage_claimed_elsewhere_is_skipped_as_missing_and_not_run() {
        let dir = tempfile::tempdir().unwrap();
        let stage = Stage::new(dir.path(), "student", &1);
        let other = stage.claim().unwrap().expect("free stage");
        let mut progress = Progress::new(Instant::now(), 1, false);
        let mut ran = false;
        let r: Result<u32> = progress.stage(&stage, |_| {
            ran = true;
            Ok(1)
        });
        assert!(matches!(r, Err(IdcError::StageMissing(ref s)) if s == "student"));
        assert!(!ran);
        let planned = || ["student".to_string()].into_iter();
        assert_eq!(progress.unfinished(planned()), vec!["student".to_string()]);
        drop(other);
        let v: u32 = progress.stage(&stage, |_| Ok(2)).unwrap();
        assert_eq!(v, 2);
        assert!(stage.is_done() && !stage.dir.join("CLAIM").exists());
        assert!(progress.unfinished(planned()).is_empty());
    }

    #[test]
    fn a_prerequisite_claimed_elsewhere_is_waited_for_and_loaded_not_rerun() {
        let dir = tempfile::tempdir().unwrap();
        let stage = Stage::new(dir.path(), "teacher", &1);
        let other = stage.claim().unwrap().expect("free stage");
        let (tx, rx) = std::sync::mpsc::channel();
        let holder = std::thread::spawn({
            let stage = Stage::new(dir.path(), "teacher", &1);
            move || {
                rx.recv().unwrap();
                std::thread::sleep(std::time::Duration::from_millis(200));
                let v: u32 = stage.run(|_| Ok(5)).unwrap();
                drop(other);
                v
            }
        });
        let mut progress = Progress::new(Instant::now(), 1, false);
        tx.send(()).unwrap();
        let mut ran = false;
        let v: u32 = progress
            .prerequisite(&stage, |_| {
                ran = true;
                Ok(7)
            })
            .unwrap();
        assert_eq!((v, ran), (5, false), "waited for the holder's result");
        assert_eq!(holder.join().unwrap(), 5);
        assert!(
            progress
                .unfinished(["teacher".to_string()].into_iter())
                .is_empty()
        );
    }
}
