//! Model directories: the on-disk form of a trained network that every CLI command reads.
//!
//! A model directory holds `config.json` (the [`EdsrConfig`]) and `model.mpk` (the Burn record,
//! named MessagePack, full precision). Both are written atomically (temp file in the same folder,
//! fsync, rename), `model.mpk` first, so a reader never sees a config without its weights.

use crate::error::{IdcError, Result};
use crate::models::edsr::{Edsr, EdsrConfig};
use burn::module::Module;
use burn::record::{FullPrecisionSettings, NamedMpkBytesRecorder, Recorder};
use burn::tensor::backend::Backend;
use std::path::Path;

/// File name of the config inside a model directory.
pub const CONFIG_FILE: &str = "config.json";
/// File name of the weights (Burn record) inside a model directory.
pub const WEIGHTS_FILE: &str = "model.mpk";
/// Largest weights file read (SwinIR-classical, the largest model in view, is ~50 MB).
const MAX_WEIGHTS_BYTES: u64 = 2 << 30;

pub use crate::fsutil::write_atomic;

/// Serialises the weights of `model` (named MessagePack, full precision).
pub fn model_to_bytes<B: Backend>(model: &Edsr<B>) -> Result<Vec<u8>> {
    NamedMpkBytesRecorder::<FullPrecisionSettings>::default()
        .record(model.clone().into_record(), ())
        .map_err(|e| IdcError::Model(format!("cannot serialise weights: {e}")))
}

/// Rebuilds a model of `config` from bytes written by [`model_to_bytes`].
pub fn model_from_bytes<B: Backend>(
    config: &EdsrConfig,
    bytes: Vec<u8>,
    device: &B::Device,
) -> Result<Edsr<B>> {
    config.validate()?;
    let record = NamedMpkBytesRecorder::<FullPrecisionSettings>::default()
        .load(bytes, device)
        .map_err(|_| {
            // Burn's own message ("the format has changed since 0.14") misleads for the usual
            // cause, a damaged or truncated file, so it is not passed on.
            IdcError::Model(format!(
                "the weights are not a readable Burn record for config {}x{} x{} (file damaged, \
                 truncated, or not written by burn-idc)",
                config.num_feat, config.num_block, config.upscale
            ))
        })?;
    // Check the record's structure and every shape first: Burn's `load_record` panics on a
    // block-count mismatch and does not check shapes at all.
    let fresh = config.init::<B>(device);
    let expected = shapes(&fresh);
    let found = record_shapes(&record);
    if expected != found {
        return Err(IdcError::Model(format!(
            "weights do not match config {}x{} x{}: {} parameter tensors with shapes {found:?}, \
             expected {} with {expected:?}",
            config.num_feat,
            config.num_block,
            config.upscale,
            found.len(),
            expected.len()
        )));
    }
    Ok(fresh.load_record(record).refresh_fingerprint())
}

fn record_shapes<B: Backend>(r: &crate::models::edsr::EdsrRecord<B>) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    let mut add = |c: &burn::nn::conv::Conv2dRecord<B>| {
        out.push(c.weight.dims().to_vec());
        out.push(
            c.bias
                .as_ref()
                .map(|b| b.dims().to_vec())
                .unwrap_or_default(),
        );
    };
    add(&r.conv_first);
    for b in &r.body {
        add(&b.conv1);
        add(&b.conv2);
    }
    add(&r.conv_after_body);
    r.upsample.iter().for_each(&mut add);
    add(&r.conv_last);
    out
}

fn shapes<B: Backend>(m: &Edsr<B>) -> Vec<Vec<usize>> {
    record_shapes(&m.clone().into_record())
}

/// Saves `model` and `config` into `dir` (created if needed) as `config.json` + `model.mpk`.
pub fn save_model_dir<B: Backend>(model: &Edsr<B>, config: &EdsrConfig, dir: &Path) -> Result<()> {
    config.validate()?;
    if model.config() != config {
        return Err(IdcError::InvalidInput(format!(
            "model was built with {:?}, not {config:?}",
            model.config()
        )));
    }
    std::fs::create_dir_all(dir).map_err(|e| IdcError::io(dir, e))?;
    let bytes = model_to_bytes(model)?;
    write_atomic(&dir.join(WEIGHTS_FILE), &bytes)?;
    let json = serde_json::to_vec_pretty(config)
        .map_err(|e| IdcError::Model(format!("cannot serialise config: {e}")))?;
    write_atomic(&dir.join(CONFIG_FILE), &json)
}

/// Reads only the config of a model directory.
pub fn load_model_config(dir: &Path) -> Result<EdsrConfig> {
    let path = dir.join(CONFIG_FILE);
    let text = crate::fsutil::read_bounded(&path, 1 << 20)?;
    let config: EdsrConfig = serde_json::from_slice(&text)
        .map_err(|e| IdcError::Model(format!("{}: not an EDSR config: {e}", path.display())))?;
    config.validate()?;
    Ok(config)
}

/// Loads a model directory written by [`save_model_dir`].
pub fn load_model_dir<B: Backend>(dir: &Path, device: &B::Device) -> Result<(Edsr<B>, EdsrConfig)> {
    let config = load_model_config(dir)?;
    let path = dir.join(WEIGHTS_FILE);
    let bytes = crate::fsutil::read_bounded(&path, MAX_WEIGHTS_BYTES)?;
    let model = model_from_bytes(&config, bytes, device).map_err(|e| match e {
        IdcError::Model(m) => IdcError::Model(format!("{}: {m}", path.display())),
        e => e,
    })?;
    Ok((model, config))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::Teacher;
    use burn::backend::Flex;
    use burn::tensor::Tensor;

    type B = Flex;

    #[test]
    fn save_load_round_trip_is_exact() {
        let device = Default::default();
        let dir = tempfile::tempdir().unwrap();
        let cfg = EdsrConfig::new(8, 2, 3);
        let model = cfg.init_seeded::<B>(&device, 3);
        save_model_dir(&model, &cfg, dir.path()).unwrap();
        let (loaded, cfg2) = load_model_dir::<B>(dir.path(), &device).unwrap();
        assert_eq!(cfg, cfg2);
        assert_eq!(Teacher::fingerprint(&model), Teacher::fingerprint(&loaded));
        let x = Tensor::<B, 4>::random(
            [1, 3, 6, 5],
            burn::tensor::Distribution::Uniform(0.0, 1.0),
            &device,
        );
        let a = model.forward(x.clone()).into_data();
        let b = loaded.forward(x).into_data();
        assert_eq!(a, b);
        // No temp files left behind.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
    }

    #[test]
    fn mismatched_config_and_missing_dir_are_errors() {
        let device = Default::default();
        let dir = tempfile::tempdir().unwrap();
        let cfg = EdsrConfig::new(8, 2, 2);
        let model = cfg.init_seeded::<B>(&device, 3);
        save_model_dir(&model, &cfg, dir.path()).unwrap();
        // Pretend the config says 16 features: the weights no longer fit.
        let wrong = EdsrConfig::new(16, 2, 2);
        std::fs::write(
            dir.path().join(CONFIG_FILE),
            serde_json::to_vec(&wrong).unwrap(),
        )
        .unwrap();
        assert!(matches!(
            load_model_dir::<B>(dir.path(), &device),
            Err(IdcError::Model(_))
        ));
        assert!(matches!(
            load_model_dir::<B>(&dir.path().join("nope"), &device),
            Err(IdcError::Io { .. })
        ));
        // save refuses a config that is not the model's.
        assert!(save_model_dir(&model, &wrong, dir.path()).is_err());
    }

    #[test]
    fn truncated_weights_say_damaged_not_burn_format_change() {
        let device = Default::default();
        let dir = tempfile::tempdir().unwrap();
        let cfg = EdsrConfig::new(8, 2, 2);
        save_model_dir(&cfg.init_seeded::<B>(&device, 3), &cfg, dir.path()).unwrap();
        let weights = dir.path().join(WEIGHTS_FILE);
        let bytes = std::fs::read(&weights).unwrap();
        std::fs::write(&weights, &bytes[..bytes.len() / 3]).unwrap();
        let msg = load_model_dir::<B>(dir.path(), &device)
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("damaged") && msg.contains(WEIGHTS_FILE),
            "{msg}"
        );
        assert!(!msg.contains("0.14"), "{msg}");
    }
}
