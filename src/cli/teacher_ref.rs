//! `<cache>/teacher.json`: the teacher an LR-only cache (`idc condense --store lr-only`) needs to
//! remake its HR targets, so `idc train --cache` and `idc export` serve it without being told.
//!
//! The record names where the model comes from (the built-in model, a model directory, a
//! BasicSR `.pth` with its architecture JSON) and its fingerprint; loading checks the fingerprint,
//! so a teacher that changed since condensation is an error rather than other targets. The
//! record is a reference, not a copy: a cache that travels needs its teacher beside it (a
//! built-in teacher always is).

pub use super::models::TeacherSource;
use crate::cache::{HrRegenerator, ShardCache, TeacherHr};
use crate::device::{TrainBackend, default_device};
use crate::models::identity::IdentityTeacher;
use crate::models::{SrNet, Teacher};
use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::Arc;

/// File name of the record inside a cache.
pub const TEACHER_FILE: &str = "teacher.json";

/// The content of `teacher.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TeacherRecord {
    /// [`Teacher::fingerprint`] of the model the shards were keyed with.
    pub fingerprint: String,
    /// Its up-sampling factor.
    pub scale: usize,
    /// Where to load it from.
    pub source: TeacherSource,
}

impl TeacherRecord {
    /// Writes the record into `cache` atomically.
    pub fn write(&self, cache: &Path) -> anyhow::Result<()> {
        let json = serde_json::to_vec_pretty(self)?;
        crate::fsutil::write_atomic(&cache.join(TEACHER_FILE), &json)?;
        Ok(())
    }

    /// The record of `cache`, `None` when it has none.
    pub fn read(cache: &Path) -> anyhow::Result<Option<Self>> {
        let path = cache.join(TEACHER_FILE);
        if !path.exists() {
            return Ok(None);
        }
        let bytes = crate::fsutil::read_bounded(&path, 1 << 20)?;
        let record = serde_json::from_slice(&bytes)
            .with_context(|| format!("malformed {}", path.display()))?;
        Ok(Some(record))
    }

    /// Loads the teacher and checks it is the one the shards were keyed with.
    pub fn load(&self) -> anyhow::Result<Arc<dyn HrRegenerator>> {
        let device = default_device();
        let regen: Arc<dyn HrRegenerator> = match &self.source {
            TeacherSource::Identity => Arc::new(TeacherHr::<TrainBackend, _>::new(
                Arc::new(IdentityTeacher),
                device,
            )),
            source => {
                let model = source.load()?;
                Arc::new(TeacherHr::<TrainBackend, _>::new(Arc::new(model), device))
            }
        };
        if regen.fingerprint() != self.fingerprint {
            bail!(
                "the teacher at {:?} is not the one this cache was condensed with (fingerprint \
                 {}, recorded {})",
                self.source,
                regen.fingerprint(),
                self.fingerprint
            );
        }
        Ok(regen)
    }
}

/// The regenerator a cache needs: `None` when every shard stores HR, else its recorded teacher
/// (an error when the cache has LR-only shards but no record).
pub fn cache_regenerator(cache: &Path) -> anyhow::Result<Option<Arc<dyn HrRegenerator>>> {
    let report = ShardCache::at(cache).inspect(false)?;
    if report.lr_only == 0 {
        return Ok(None);
    }
    match TeacherRecord::read(cache)? {
        Some(record) => Ok(Some(record.load()?)),
        None => bail!(
            "{} holds {} LR-only shard(s) but no {TEACHER_FILE} naming their teacher",
            cache.display(),
            report.lr_only
        ),
    }
}

/// Writes `<cache>/teacher.json` for `idc condense --store lr-only`.
pub fn record_teacher(
    cache: &Path,
    teacher: Option<&SrNet<TrainBackend>>,
    source: TeacherSource,
) -> anyhow::Result<()> {
    let (fingerprint, scale) = match teacher {
        Some(t) => (Teacher::fingerprint(t), Teacher::scale(t)),
        None => (
            Teacher::<TrainBackend>::fingerprint(&IdentityTeacher),
            Teacher::<TrainBackend>::scale(&IdentityTeacher),
        ),
    };
    let record = TeacherRecord {
        fingerprint,
        scale,
        source: source.absolute(),
    };
    record.write(cache)
}
