//! HR targets of LR-only shards ([`ShardStore::LrOnly`]): regenerated on load by the teacher
//! whose fingerprint is part of the shard's key.
//!
//! Why it is safe to drop HR: IDC's HR targets are the teacher's up-sampling of the LR patches
//! (Sec. 3's second stage), so they carry no information the LR patches and the teacher do not.
//! Regenerating them costs one teacher forward per shard load, which the in-memory shard LRUs
//! amortise, and saves four fifths (x2) to sixteen seventeenths (x4) of the pixels.
//!
//! The targets are `quantize(clamp(teacher(LR_8bit)))` over the shard's patches as one batch (a
//! fixed batch, so a CPU reload gives the same bytes). They can differ by a level from the
//! targets a full shard stores (those come from the float LR before rounding), which is why the
//! store mode is part of the key: one key never names two different sets of targets.

use crate::error::{IdcError, Result};
use crate::image::{Image, batch_to_images, images_to_batch};
use crate::models::Teacher;
use burn::tensor::backend::Backend;
use serde::{Deserialize, Serialize};
use std::marker::PhantomData;
use std::sync::Arc;

/// What a shard file holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ShardStore {
    /// LR and HR patches (the default; any reader serves it).
    #[default]
    Full,
    /// LR patches only; HR is regenerated on load by the recorded teacher ([`HrRegenerator`]).
    LrOnly,
}

impl ShardStore {
    /// The command-line spelling (`full`, `lr-only`).
    pub fn name(self) -> &'static str {
        match self {
            ShardStore::Full => "full",
            ShardStore::LrOnly => "lr-only",
        }
    }

    /// Parses [`Self::name`]'s spelling.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "full" => Ok(ShardStore::Full),
            "lr-only" => Ok(ShardStore::LrOnly),
            other => Err(IdcError::config(
                "store",
                format!("{other:?}: expected full or lr-only"),
            )),
        }
    }
}

/// Regenerates the HR patches of an LR-only shard.
pub trait HrRegenerator: Send + Sync {
    /// Fingerprint of the model that makes the targets (a teacher's [`Teacher::fingerprint`]).
    fn fingerprint(&self) -> String;
    /// Up-sampling factor of the targets.
    fn scale(&self) -> usize;
    /// One 8-bit HR patch per LR patch, `scale` times larger.
    fn regenerate(&self, lr: &[Image]) -> Result<Vec<Image>>;
}

/// [`HrRegenerator`] over a [`Teacher`] on a device.
pub struct TeacherHr<B: Backend, T> {
    teacher: Arc<T>,
    device: B::Device,
    _backend: PhantomData<fn() -> B>,
}

impl<B: Backend, T: Teacher<B>> TeacherHr<B, T> {
    /// Regenerates with `teacher` on `device`.
    pub fn new(teacher: Arc<T>, device: B::Device) -> Self {
        Self {
            teacher,
            device,
            _backend: PhantomData,
        }
    }
}

impl<B: Backend, T: Teacher<B>> HrRegenerator for TeacherHr<B, T> {
    fn fingerprint(&self) -> String {
        self.teacher.fingerprint()
    }

    fn scale(&self) -> usize {
        self.teacher.scale()
    }

    fn regenerate(&self, lr: &[Image]) -> Result<Vec<Image>> {
        if lr.is_empty() {
            return Ok(Vec::new());
        }
        let batch = images_to_batch::<B>(lr, &self.device)?;
        let hr = batch_to_images::<B>(self.teacher.upscale(batch).clamp(0.0, 1.0))?;
        Ok(hr.iter().map(Image::quantized).collect())
    }
}

/// Fills in the HR patches of an LR-only `shard` with `regen` (a full shard is returned as is).
pub fn complete_shard(
    mut shard: super::Shard,
    regen: Option<&dyn HrRegenerator>,
) -> Result<super::Shard> {
    if shard.has_hr() {
        return Ok(shard);
    }
    let Some(regen) = regen else {
        return Err(IdcError::InvalidInput(
            "the shard stores LR patches only (--store lr-only) and no teacher was given to \
             regenerate HR"
                .into(),
        ));
    };
    if regen.scale() != shard.scale {
        return Err(IdcError::InvalidInput(format!(
            "the teacher is x{}, the shard x{}",
            regen.scale(),
            shard.scale
        )));
    }
    shard.hr = regen.regenerate(&shard.lr)?;
    if !shard.has_hr() {
        return Err(IdcError::Model(format!(
            "the teacher made {} HR patches for {} LR patches",
            shard.hr.len(),
            shard.lr.len()
        )));
    }
    Ok(shard)
}
