//! The condenser seen by `IdcDataset`: [`InstanceCondenser`] (object-safe, so the dataset is not
//! generic over backend and models), [`BurnCondenser`] (the IDC [`Condenser`] with owned models)
//! and, for tests and benches (`testing` feature), `testing::FakeCondenser`.

use crate::cache::{HrRegenerator, TeacherHr};
use crate::condense::{CondenseConfig, Condenser, Instance, Realism, ValidCondenseConfig};
use crate::config::fingerprint;
use crate::error::{IdcError, Result};
use crate::image::Image;
use crate::models::{FeatureExtractor, Teacher};
use burn::tensor::backend::AutodiffBackend;
use serde::Serialize;
use std::sync::Arc;

/// Object-safe condensation of one instance, so the dataset is not generic over backend,
/// extractor and teacher. [`BurnCondenser`] adapts [`crate::condense::Condenser`]; tests use cheap
/// fakes.
pub trait InstanceCondenser: Send + Sync {
    /// Stable hash of everything in the condenser that influences its output (config, weights).
    fn fingerprint(&self) -> String;
    /// `n` synthetic `(lr, hr)` patches for `instance` (`n` LR patches of the instance's LR size
    /// and `n` HR patches `scale` times larger). Must be deterministic for a `seed`.
    fn condense(
        &self,
        instance: &Instance,
        n: usize,
        seed: u64,
    ) -> Result<(Vec<Image>, Vec<Image>)>;

    /// [`Self::condense`] of each `(instance, n, seed)` job, one result per job, with the
    /// realism measures where the condenser computes them (the default: none). Condensers that
    /// can share work across instances (one extractor pass per step) override it; the patches
    /// must match per-job `condense` up to float reassociation.
    fn condense_batch(&self, jobs: &[(&Instance, usize, u64)]) -> Vec<Result<CondensedPatches>> {
        jobs.iter()
            .map(|&(instance, n, seed)| {
                let (lr, hr) = self.condense(instance, n, seed)?;
                Ok(CondensedPatches {
                    lr,
                    hr,
                    realism: None,
                })
            })
            .collect()
    }

    /// The model that remakes HR targets from stored LR patches (its teacher), for LR-only
    /// shards; `None` (the default) rules LR-only storage out.
    fn hr_regenerator(&self) -> Option<Arc<dyn HrRegenerator>> {
        None
    }
}

/// The synthetic patches of one instance and, where measured, their realism (recorded in the
/// cache's manifest for `idc inspect`).
#[derive(Clone, Debug)]
pub struct CondensedPatches {
    /// The `n` synthetic LR patches.
    pub lr: Vec<Image>,
    /// Their HR targets.
    pub hr: Vec<Image>,
    /// The synthetic patches against the instance's real ones ([`crate::condense::realism`]).
    pub realism: Option<Realism>,
}

/// [`InstanceCondenser`] over the IDC [`Condenser`] (Algorithm 1) with owned models: it keeps
/// the condenser it built (checked config, filter bank) for every call.
pub struct BurnCondenser<B: AutodiffBackend, E: FeatureExtractor<B>, T: Teacher<B>> {
    condenser: Condenser<B, Arc<E>, Arc<T>>,
    teacher: Arc<T>,
    device: B::Device,
    fingerprint: String,
}

impl<B, E, T> BurnCondenser<B, E, T>
where
    B: AutodiffBackend,
    E: FeatureExtractor<B>,
    T: Teacher<B>,
{
    /// Builds the [`Condenser`] (its extractor checks and filter bank) once.
    pub fn new(
        config: ValidCondenseConfig,
        extractor: Arc<E>,
        teacher: Arc<T>,
        device: B::Device,
    ) -> Result<Self> {
        #[derive(Serialize)]
        struct Key<'a> {
            kind: &'static str,
            config: &'a CondenseConfig,
            extractor: String,
            teacher: String,
            teacher_scale: usize,
        }
        let fingerprint = fingerprint(&Key {
            kind: "idc-condenser-v1",
            config: &config,
            extractor: extractor.fingerprint(),
            teacher: teacher.fingerprint(),
            teacher_scale: teacher.scale(),
        });
        let condenser = Condenser::new(config, extractor, teacher.clone(), device.clone())?;
        Ok(Self {
            condenser,
            teacher,
            device,
            fingerprint,
        })
    }
}

impl<B, E, T> InstanceCondenser for BurnCondenser<B, E, T>
where
    B: AutodiffBackend,
    E: FeatureExtractor<B>,
    T: Teacher<B> + 'static,
{
    fn fingerprint(&self) -> String {
        self.fingerprint.clone()
    }

    fn hr_regenerator(&self) -> Option<Arc<dyn HrRegenerator>> {
        let regen = TeacherHr::<B, T>::new(self.teacher.clone(), self.device.clone());
        Some(Arc::new(regen))
    }

    fn condense(
        &self,
        instance: &Instance,
        n: usize,
        seed: u64,
    ) -> Result<(Vec<Image>, Vec<Image>)> {
        self.condense_batch(&[(instance, n, seed)])
            .pop()
            .unwrap_or_else(|| Err(IdcError::Internal("empty batch result".into())))
            .map(|c| (c.lr, c.hr))
    }

    fn condense_batch(&self, jobs: &[(&Instance, usize, u64)]) -> Vec<Result<CondensedPatches>> {
        let condenser = &self.condenser;
        // Jobs whose patch count disagrees with the config fail alone; the rest run together.
        let mut out: Vec<Option<Result<CondensedPatches>>> = jobs
            .iter()
            .map(|&(instance, n, _)| {
                let expected = condenser.config().synthetic_count(instance.lr.len());
                (expected != n).then(|| {
                    Err(IdcError::config(
                        "ratio",
                        format!("condenser makes {expected} patches, dataset expects {n}"),
                    ))
                })
            })
            .collect();
        let runnable: Vec<usize> = (0..jobs.len()).filter(|&k| out[k].is_none()).collect();
        let batch: Vec<(&Instance, u64)> =
            runnable.iter().map(|&k| (jobs[k].0, jobs[k].2)).collect();
        for (k, r) in runnable.into_iter().zip(condenser.condense_batch(&batch)) {
            out[k] = Some(r.map(|c| CondensedPatches {
                lr: c.lr,
                hr: c.hr,
                realism: c.report.realism,
            }));
        }
        out.into_iter()
            .map(|r| r.unwrap_or_else(|| Err(IdcError::Internal("job not run".into()))))
            .collect()
    }
}
/// Test doubles: a fast deterministic [`InstanceCondenser`] (no network, no gradient); compiled
/// for this crate's tests and with the `testing` feature.
#[cfg(any(test, feature = "testing"))]
pub mod testing {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Picks `n` real LR patches (evenly spaced, offset by the seed) and makes HR targets by
    /// pixel replication; counts its calls. For tests of the caching machinery.
    pub struct FakeCondenser {
        /// Super-resolution factor of the HR targets it makes.
        pub scale: usize,
        /// Part of the fingerprint: changing it must re-condense.
        pub tag: String,
        /// Number of `condense` calls so far.
        pub calls: AtomicUsize,
    }

    impl FakeCondenser {
        /// Fake condenser for factor `scale` with fingerprint tag `tag` and no calls yet.
        pub fn new(scale: usize, tag: &str) -> Self {
            Self {
                scale,
                tag: tag.into(),
                calls: AtomicUsize::new(0),
            }
        }
    }

    impl InstanceCondenser for FakeCondenser {
        fn fingerprint(&self) -> String {
            crate::config::hex_sha256(format!("fake:{}:{}", self.scale, self.tag).as_bytes())
        }

        fn condense(
            &self,
            instance: &Instance,
            n: usize,
            seed: u64,
        ) -> Result<(Vec<Image>, Vec<Image>)> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let m = instance.lr.len();
            if m == 0 {
                return Err(IdcError::InvalidInput("empty instance".into()));
            }
            let s = self.scale;
            let mut lr = Vec::new();
            for i in 0..n {
                let p = &instance.lr[(i * m / n + seed as usize) % m];
                lr.push(p.clone());
            }
            let hr = replicate(&lr, s)?;
            Ok((lr, hr))
        }

        fn hr_regenerator(&self) -> Option<Arc<dyn HrRegenerator>> {
            Some(Arc::new(ReplicateHr(self.scale)))
        }
    }

    /// HR by pixel replication: the fake condenser's "teacher".
    pub struct ReplicateHr(pub usize);

    impl HrRegenerator for ReplicateHr {
        fn fingerprint(&self) -> String {
            format!("replicate-x{}", self.0)
        }
        fn scale(&self) -> usize {
            self.0
        }
        fn regenerate(&self, lr: &[Image]) -> Result<Vec<Image>> {
            replicate(lr, self.0)
        }
    }

    fn replicate(lr: &[Image], s: usize) -> Result<Vec<Image>> {
        lr.iter()
            .map(|p| {
                let mut data = Vec::with_capacity(p.data.len() * s * s);
                for c in 0..p.channels {
                    for y in 0..p.height * s {
                        for x in 0..p.width * s {
                            data.push(p.at(c, y / s, x / s));
                        }
                    }
                }
                Image::new(p.channels, p.height * s, p.width * s, data)
            })
            .collect()
    }
}
