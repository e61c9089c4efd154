//! Model directories: the on-disk form of a trained network that every CLI command reads.
//!
//! A model directory holds `config.json` and `model.mpk` (the network's own Burn record, named
//! MessagePack, full precision). `config.json` is an [`EdsrConfig`] as written before SwinIR
//! existed (no `type`; such directories keep loading) or, for SwinIR, BasicSR's `network_g`
//! options with `"type": "SwinIR"` (usable as `--arch-config`). Both are written atomically (temp file in the same folder,
//! fsync, rename), `model.mpk` first, so a reader never sees a config without its weights.

use crate::error::{IdcError, Result};
use crate::models::edsr::{Edsr, EdsrConfig};
use crate::models::net::{NetConfig, SrNet};
use crate::models::swinir::{SwinIr, SwinIrConfig};
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

pub(crate) use crate::fsutil::write_atomic;

/// Serialises the weights of `model` (named MessagePack, full precision; each family's own
/// record, so EDSR files are what they were before [`SrNet`]).
pub fn model_to_bytes<B: Backend>(model: &SrNet<B>) -> Result<Vec<u8>> {
    match model {
        SrNet::Edsr(m) => edsr_to_bytes(m),
        SrNet::SwinIr(m) => NamedMpkBytesRecorder::<FullPrecisionSettings>::default()
            .record(m.clone().into_record(), ())
            .map_err(|e| IdcError::Model(format!("cannot serialise weights: {e}"))),
    }
}

/// Rebuilds a model of `config` from bytes written by [`model_to_bytes`].
pub fn model_from_bytes<B: Backend>(
    config: &NetConfig,
    bytes: Vec<u8>,
    device: &B::Device,
) -> Result<SrNet<B>> {
    match config {
        NetConfig::Edsr(c) => edsr_from_bytes(c, bytes, device).map(SrNet::Edsr),
        NetConfig::SwinIr(c) => swinir_from_bytes(c, bytes, device).map(SrNet::SwinIr),
    }
}

fn swinir_from_bytes<B: Backend>(
    config: &SwinIrConfig,
    bytes: Vec<u8>,
    device: &B::Device,
) -> Result<SwinIr<B>> {
    config.validate()?;
    let damaged = || {
        IdcError::Model(format!(
            "the weights are not a readable Burn record for {} (file damaged, truncated, or \
             not written by burn-idc)",
            NetConfig::SwinIr(config.clone()).describe()
        ))
    };
    let record = NamedMpkBytesRecorder::<FullPrecisionSettings>::default()
        .load(bytes, device)
        .map_err(|_| damaged())?;
    let fresh = config.init_seeded::<B>(device, 0);
    let expected = param_shapes(&fresh);
    // Burn's load_record panics on a structure mismatch and does not check shapes: catch the
    // first, compare the second.
    let loaded =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| fresh.load_record(record)))
            .map_err(|_| damaged())?;
    let found = param_shapes(&loaded);
    if found != expected {
        return Err(IdcError::Model(format!(
            "weights do not match {}: parameter shapes {found:?}, expected {expected:?}",
            NetConfig::SwinIr(config.clone()).describe()
        )));
    }
    Ok(loaded.refresh_fingerprint())
}

/// Every float parameter's shape in module order.
fn param_shapes<B: Backend, M: Module<B>>(m: &M) -> Vec<Vec<usize>> {
    struct Shapes(Vec<Vec<usize>>);
    impl<B: Backend> burn::module::ModuleVisitor<B> for Shapes {
        fn visit_float<const D: usize>(
            &mut self,
            param: &burn::module::Param<burn::tensor::Tensor<B, D>>,
        ) {
            self.0.push(param.val().dims().to_vec());
        }
    }
    let mut v = Shapes(Vec::new());
    m.visit(&mut v);
    v.0
}

fn edsr_to_bytes<B: Backend>(model: &Edsr<B>) -> Result<Vec<u8>> {
    NamedMpkBytesRecorder::<FullPrecisionSettings>::default()
        .record(model.clone().into_record(), ())
        .map_err(|e| IdcError::Model(format!("cannot serialise weights: {e}")))
}

fn edsr_from_bytes<B: Backend>(
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
/// Takes an [`SrNet`] / [`NetConfig`] or a family's own types ([`Edsr`] + [`EdsrConfig`], ...).
pub fn save_model_dir<B, M, C>(model: &M, config: &C, dir: &Path) -> Result<()>
where
    B: Backend,
    M: Clone + Into<SrNet<B>>,
    C: Clone + Into<NetConfig>,
{
    let model: SrNet<B> = model.clone().into();
    let config: NetConfig = config.clone().into();
    save_net_dir(&model, &config, dir)
}

fn save_net_dir<B: Backend>(model: &SrNet<B>, config: &NetConfig, dir: &Path) -> Result<()> {
    config.validate()?;
    if model.net_config() != *config {
        return Err(IdcError::InvalidInput(format!(
            "model was built with {:?}, not {config:?}",
            model.net_config()
        )));
    }
    std::fs::create_dir_all(dir).map_err(|e| IdcError::io(dir, e))?;
    let bytes = model_to_bytes(model)?;
    write_atomic(&dir.join(WEIGHTS_FILE), &bytes)?;
    // EDSR keeps the pre-SwinIR form (no "type"), so older readers still load it.
    let json = match config {
        NetConfig::Edsr(c) => serde_json::to_vec_pretty(c),
        NetConfig::SwinIr(_) => serde_json::to_vec_pretty(&config.to_network_g()),
    }
    .map_err(|e| IdcError::Model(format!("cannot serialise config: {e}")))?;
    write_atomic(&dir.join(CONFIG_FILE), &json)
}

/// Reads only the config of a model directory (an EDSR config without `type`, or `network_g`).
pub fn load_model_config(dir: &Path) -> Result<NetConfig> {
    let path = dir.join(CONFIG_FILE);
    let text = crate::fsutil::read_bounded(&path, 1 << 20)?;
    let value: serde_json::Value = serde_json::from_slice(&text)
        .map_err(|e| IdcError::Model(format!("{}: not a model config: {e}", path.display())))?;
    let config = if value.get("type").is_some() {
        NetConfig::from_network_g(&value)
            .map_err(|e| IdcError::Model(format!("{}: {e}", path.display())))?
    } else {
        let c: EdsrConfig = serde_json::from_value(value)
            .map_err(|e| IdcError::Model(format!("{}: not an EDSR config: {e}", path.display())))?;
        c.validate()?;
        NetConfig::Edsr(c)
    };
    Ok(config)
}

/// Loads a model directory written by [`save_model_dir`].
pub fn load_model_dir<B: Backend>(dir: &Path, device: &B::Device) -> Result<(SrNet<B>, NetConfig)> {
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
        let cfg = NetConfig::Edsr(EdsrConfig::new(8, 2, 3));
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
        let cfg = NetConfig::Edsr(EdsrConfig::new(8, 2, 2));
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
        assert!(save_model_dir(&model, &NetConfig::Edsr(wrong), dir.path()).is_err());
    }

    #[test]
    fn truncated_weights_say_damaged_not_burn_format_change() {
        let device = Default::default();
        let dir = tempfile::tempdir().unwrap();
        let cfg = NetConfig::Edsr(EdsrConfig::new(8, 2, 2));
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

    #[test]
    fn edsr_dirs_keep_the_old_format_and_swinir_round_trips() {
        let device = Default::default();
        let dir = tempfile::tempdir().unwrap();
        // An EDSR directory as written before SwinIR: config.json without "type".
        let cfg = EdsrConfig::new(8, 1, 2);
        let old = cfg.init_seeded::<B>(&device, 3);
        std::fs::write(
            dir.path().join(CONFIG_FILE),
            serde_json::to_vec(&cfg).unwrap(),
        )
        .unwrap();
        std::fs::write(dir.path().join(WEIGHTS_FILE), edsr_to_bytes(&old).unwrap()).unwrap();
        let (loaded, c) = load_model_dir::<B>(dir.path(), &device).unwrap();
        assert_eq!(c, NetConfig::Edsr(cfg));
        assert_eq!(Teacher::fingerprint(&loaded), Teacher::fingerprint(&old));

        let swin = NetConfig::from_arch("swinir-tiny", 3).unwrap();
        let model = swin.init_seeded::<B>(&device, 5);
        let d2 = dir.path().join("swin");
        save_model_dir(&model, &swin, &d2).unwrap();
        let text = std::fs::read_to_string(d2.join(CONFIG_FILE)).unwrap();
        assert!(text.contains("\"SwinIR\""), "{text}");
        let (back, c2) = load_model_dir::<B>(&d2, &device).unwrap();
        assert_eq!(c2, swin);
        assert_eq!(Teacher::fingerprint(&back), Teacher::fingerprint(&model));
        let x = Tensor::<B, 4>::random(
            [1, 3, 9, 10],
            burn::tensor::Distribution::Uniform(0.0, 1.0),
            &device,
        );
        assert_eq!(
            model.forward(x.clone()).into_data(),
            back.forward(x).into_data()
        );
        // Weights of another SwinIR shape: an error, not a panic.
        let other = NetConfig::from_arch("swinir-tiny", 2).unwrap();
        std::fs::write(
            d2.join(CONFIG_FILE),
            serde_json::to_vec(&other.to_network_g()).unwrap(),
        )
        .unwrap();
        assert!(matches!(
            load_model_dir::<B>(&d2, &device),
            Err(IdcError::Model(_))
        ));
    }
}
