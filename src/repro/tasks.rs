//! The work inside stages: image subsets, training (resumable) and evaluation.

use super::outcome::Scores;
use super::preset::TrainSpec;
use crate::dataset::SrPair;
use crate::dataset::sr_patch::SrPatchDataset;
use crate::device::{DefaultBackend, TrainBackend, default_device};
use crate::error::{IdcError, Result};
use crate::image::io::list_images;
use crate::models::load_model_dir;
use crate::task::Task;
use crate::train::eval::{InferOptions, evaluate_noisy, evaluate_task};
use crate::train::{
    TrainConfig, TrainOptions, TrainSummary, ValidTrainConfig, evaluate_bicubic, train_sr,
};
use burn::data::dataset::Dataset;
use std::path::{Path, PathBuf};

/// Copies the first `n` images (sorted) of `src` into `dst` (a fixed subset for small presets).
pub(crate) fn subset_dir(src: &Path, dst: &Path, n: Option<usize>) -> Result<PathBuf> {
    let Some(n) = n else {
        return Ok(src.to_path_buf());
    };
    // One folder per size (`<dst>-<n>`): presets with different subsets of the same images can
    // share a stage cache, and run at the same time, without changing each other's images.
    slice_dir(src, &suffixed(dst, &format!("-{n}")), 0, n)
}

/// Copies images `skip..skip + n` (sorted) of `src` into `<dst>-<skip>+<n>`: images held out
/// from a subset that takes the first `skip`.
pub(crate) fn holdout_dir(src: &Path, dst: &Path, skip: usize, n: usize) -> Result<PathBuf> {
    slice_dir(src, &suffixed(dst, &format!("-{skip}+{n}")), skip, n)
}

fn suffixed(dst: &Path, suffix: &str) -> PathBuf {
    let mut name = dst.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    dst.with_file_name(name)
}

/// Makes `dst` hold exactly images `skip..skip + n` of `src` (copied, flattened names).
fn slice_dir(src: &Path, dst: &Path, skip: usize, n: usize) -> Result<PathBuf> {
    let files = list_images(src)?;
    std::fs::create_dir_all(dst).map_err(|e| IdcError::io(dst, e))?;
    let mut wanted = std::collections::HashSet::new();
    for f in files.iter().skip(skip).take(n) {
        let rel = f.strip_prefix(src).unwrap_or(f);
        let name = rel.to_string_lossy().replace(['/', '\\'], "__");
        let target = dst.join(&name);
        if !target.exists() {
            std::fs::copy(f, &target).map_err(|e| IdcError::io(&target, e))?;
        }
        wanted.insert(std::ffi::OsString::from(name));
    }
    // The folder is exactly the subset: a preset that lowers `n` must not keep training on the
    // images an earlier, larger subset copied here (the folder is ours, under `--work`).
    for entry in std::fs::read_dir(dst).map_err(|e| IdcError::io(dst, e))? {
        let entry = entry.map_err(|e| IdcError::io(dst, e))?;
        if !wanted.contains(&entry.file_name()) {
            let path = entry.path();
            std::fs::remove_file(&path).map_err(|e| IdcError::io(&path, e))?;
        }
    }
    Ok(dst.to_path_buf())
}

/// What a stage keyed on a patch pool depends on: each instance's name and patch count.
pub(crate) fn instances_key(pool: &SrPatchDataset) -> Vec<(String, usize)> {
    pool.instances()
        .iter()
        .map(|i| (i.name.clone(), i.num_patches))
        .collect()
}

/// The training config of `spec` for `task` at `seed`, checked.
pub(crate) fn train_config(spec: &TrainSpec, task: Task, seed: u64) -> Result<ValidTrainConfig> {
    let mut c = TrainConfig::for_task(&spec.arch, task, spec.iters);
    c.batch = spec.batch;
    c.lr_patch = spec.lr_patch;
    c.seed = seed;
    c.valid_every = spec.valid_every;
    c.checkpoint_every = spec.valid_every;
    if let Some(lr) = spec.lr {
        c.lr = lr;
    }
    c.check()
}

/// Trains into `<dir>/model`, resuming an interrupted attempt when it left a checkpoint; a
/// checkpoint that cannot be resumed (e.g. torn by a kill) is discarded and training restarts.
pub(crate) fn train_in<D: Dataset<SrPair> + 'static>(
    config: &ValidTrainConfig,
    data: &dyn Fn() -> Result<D>,
    valid: Option<&Path>,
    dir: &Path,
) -> Result<TrainSummary> {
    let model = dir.join("model");
    let has_checkpoint = std::fs::read_dir(model.join("burn").join("checkpoint"))
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .any(|e| e.file_name().to_string_lossy().starts_with("model-"))
        })
        .unwrap_or(false);
    let device = default_device();
    if has_checkpoint {
        let options = TrainOptions::new(config.clone(), &model)
            .with_valid_dir(valid)
            .with_resume(true);
        match train_sr::<TrainBackend, D>(data()?, &options, &device) {
            Ok(s) => return Ok(s),
            Err(e) => eprintln!("[repro] resume failed ({e}); restarting this training"),
        }
    }
    if model.exists() {
        std::fs::remove_dir_all(&model).map_err(|e| IdcError::io(&model, e))?;
    }
    let options = TrainOptions::new(config.clone(), &model).with_valid_dir(valid);
    train_sr::<TrainBackend, D>(data()?, &options, &device)
}

/// The model in `model_dir` on every test set, under `task`'s protocol.
pub(crate) fn evaluate_dir(
    model_dir: &Path,
    test_dirs: &[(String, PathBuf)],
    task: &Task,
) -> Result<Vec<(String, Scores)>> {
    let device = default_device();
    let (model, _) = load_model_dir::<DefaultBackend>(model_dir, &device)?;
    let opts = InferOptions::default();
    test_dirs
        .iter()
        .map(|(name, dir)| {
            let report = evaluate_task(&model, dir, task, &opts, &device)?;
            Ok((name.clone(), Scores::from(&report)))
        })
        .collect()
}

/// The task's do-nothing baseline on every test set: bicubic up-sampling (SR) or the noisy
/// input itself (denoising).
pub(crate) fn evaluate_reference(
    test_dirs: &[(String, PathBuf)],
    task: &Task,
) -> Result<Vec<(String, Scores)>> {
    test_dirs
        .iter()
        .map(|(name, dir)| {
            let report = match *task {
                Task::SuperResolution { scale } => evaluate_bicubic(dir, scale)?,
                Task::Denoise { .. } => evaluate_noisy(dir, task)?,
            };
            Ok((name.clone(), Scores::from(&report)))
        })
        .collect()
}

/// A boxed `Dataset<SrPair>` so every set trains through the same generic call.
pub struct DynSet(Box<dyn Dataset<SrPair>>);

impl DynSet {
    /// Boxes `d`.
    pub fn new<D: Dataset<SrPair> + 'static>(d: D) -> Self {
        DynSet(Box::new(d))
    }
}

impl Dataset<SrPair> for DynSet {
    fn get(&self, index: usize) -> Option<SrPair> {
        self.0.get(index)
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subset_dir_holds_exactly_the_first_n_images() {
        let src = tempfile::tempdir().expect("temp dir");
        let work = tempfile::tempdir().expect("temp dir");
        for name in ["a.png", "b.png", "c.png"] {
            image::RgbImage::new(4, 4)
                .save(src.path().join(name))
                .expect("write png");
        }
        let base = work.path().join("subset");
        let names = |d: &Path| {
            let mut v: Vec<String> = std::fs::read_dir(d)
                .expect("read dir")
                .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        };
        let three = subset_dir(src.path(), &base, Some(3)).expect("subset of 3");
        assert_eq!(three, work.path().join("subset-3"));
        assert_eq!(names(&three), ["a.png", "b.png", "c.png"]);
        let two = subset_dir(src.path(), &base, Some(2)).expect("subset of 2");
        assert_eq!(names(&two), ["a.png", "b.png"]);
        assert_eq!(
            names(&three).len(),
            3,
            "another size's folder is left alone"
        );
        // A stray file in a subset folder (e.g. from an older layout) is dropped.
        std::fs::write(two.join("stray.png"), b"x").expect("write");
        subset_dir(src.path(), &base, Some(2)).expect("subset of 2 again");
        assert_eq!(names(&two), ["a.png", "b.png"]);
        assert_eq!(
            subset_dir(src.path(), &base, None).expect("no subset"),
            src.path()
        );
    }
}
