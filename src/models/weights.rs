//! Importing BasicSR EDSR and SwinIR weights (`.pth`) through burn-store's PyTorch reader.
//!
//! BasicSR saves `{"params": state_dict}` (sometimes also `params_ema`; older or third-party files
//! hold the state dict at the top level, possibly with a DataParallel `module.` prefix). The state
//! dict is picked like BasicSR's `load_network` does (`params`, else `params_ema`, else the top
//! level), BasicSR key names are mapped to this crate's (`upsample.0/2` -> `upsample.0/1`), and the
//! whole key set and every shape is checked before any tensor is applied, so a wrong file or wrong
//! `--arch` fails with one [`IdcError::Model`] naming every missing key, unexpected key and shape
//! mismatch.
//!
//! The reader needs burn-store's `pytorch` feature, enabled through this crate's `pytorch` feature
//! (on by default); without it [`load_basicsr_pth`] returns an error that says so.

use crate::error::{IdcError, Result};
use crate::models::edsr::{Edsr, EdsrConfig};
use crate::models::net::{NetConfig, SrNet};
use crate::models::swinir::{self, ResiConnection, SwinIr, SwinIrConfig};
use burn::tensor::backend::Backend;
use std::path::Path;

/// Whether this build can read `.pth` files (burn-store's `pytorch` feature).
pub const PTH_SUPPORTED: bool = cfg!(feature = "pytorch");

/// Maps a BasicSR EDSR parameter name to this crate's, or `None` when it has no counterpart.
///
/// BasicSR's `Upsample` is an `nn.Sequential` of `[conv, PixelShuffle]*`, so its convs sit at even
/// indices; here `upsample` holds only the convs.
pub fn basicsr_to_burn_key(key: &str) -> Option<String> {
    if let Some(rest) = key.strip_prefix("upsample.") {
        let (idx, tail) = rest.split_once('.')?;
        let idx: usize = idx.parse().ok()?;
        if !idx.is_multiple_of(2) {
            return None;
        }
        return Some(format!("upsample.{}.{tail}", idx / 2));
    }
    Some(key.to_string())
}

/// Inverse of [`basicsr_to_burn_key`] (for error messages in BasicSR's names).
pub fn burn_to_basicsr_key(key: &str) -> String {
    if let Some(rest) = key.strip_prefix("upsample.")
        && let Some((idx, tail)) = rest.split_once('.')
        && let Ok(idx) = idx.parse::<usize>()
    {
        return format!("upsample.{}.{tail}", idx * 2);
    }
    key.to_string()
}

/// Loads an EDSR of `config` from a BasicSR `.pth` file.
pub fn load_basicsr_pth<B: Backend>(
    path: &Path,
    config: &EdsrConfig,
    device: &B::Device,
) -> Result<Edsr<B>> {
    config.validate()?;
    let what = format!(
        "an EDSR {}x{} x{}",
        config.num_feat, config.num_block, config.upscale
    );
    let keys = KeyMap {
        to_burn: &basicsr_to_burn_key,
        to_basicsr: &burn_to_basicsr_key,
        ignored: &|_| false,
    };
    let model = load_pth_into(path, config.init::<B>(device), &keys, &what)?;
    Ok(model.refresh_fingerprint())
}

/// Loads a SwinIR of `config` from a BasicSR `.pth` file (`relative_position_index` and
/// `attn_mask` buffers are skipped: they are recomputed; half-precision files are widened).
pub fn load_swinir_pth<B: Backend>(
    path: &Path,
    config: &SwinIrConfig,
    device: &B::Device,
) -> Result<SwinIr<B>> {
    config.validate()?;
    let what = format!(
        "a SwinIR embed {} depths {:?} x{}",
        config.embed_dim, config.depths, config.upscale
    );
    let one_conv = config.resi_connection == ResiConnection::OneConv;
    let to_basicsr = move |k: &str| swinir::burn_to_basicsr_key(k, one_conv);
    let keys = KeyMap {
        to_burn: &swinir::basicsr_to_burn_key,
        to_basicsr: &to_basicsr,
        ignored: &swinir::is_recomputed_buffer,
    };
    let model = load_pth_into(path, config.init_seeded::<B>(device, 0), &keys, &what)?;
    Ok(model.refresh_fingerprint())
}

/// Loads the network `config` describes from a BasicSR `.pth` file.
pub fn load_net_pth<B: Backend>(
    path: &Path,
    config: &NetConfig,
    device: &B::Device,
) -> Result<SrNet<B>> {
    Ok(match config {
        NetConfig::Edsr(c) => SrNet::Edsr(load_basicsr_pth(path, c, device)?),
        NetConfig::SwinIr(c) => SrNet::SwinIr(load_swinir_pth(path, c, device)?),
    })
}

/// How one architecture's BasicSR names relate to this crate's.
struct KeyMap<'a> {
    /// BasicSR name -> Burn path (`None`: no counterpart, reported as unexpected).
    to_burn: &'a dyn Fn(&str) -> Option<String>,
    /// Burn path -> BasicSR name (for messages).
    to_basicsr: &'a dyn Fn(&str) -> String,
    /// BasicSR entries that are not weights (skipped).
    ignored: &'a dyn Fn(&str) -> bool,
}

/// Reads `path`, picks the state dict as BasicSR's `load_network` does, checks every key and
/// shape against `model` and applies the tensors (Linear weights transposed, half precision
/// widened to f32). One [`IdcError::Model`] names every missing/unexpected key and mismatch.
#[cfg(feature = "pytorch")]
fn load_pth_into<B: Backend, M: burn::store::ModuleSnapshot<B>>(
    path: &Path,
    mut model: M,
    keys: &KeyMap<'_>,
    what: &str,
) -> Result<M> {
    use burn::store::pytorch::PytorchReader;
    use burn::store::{ModuleAdapter, PyTorchToBurnAdapter};
    use std::collections::BTreeMap;

    if !path.is_file() {
        return Err(IdcError::io(
            path,
            std::io::Error::new(std::io::ErrorKind::NotFound, "no such .pth file"),
        ));
    }
    let reader = PytorchReader::new(path).map_err(|e| {
        IdcError::Model(format!("{}: cannot read PyTorch file: {e}", path.display()))
    })?;
    let all = reader.into_tensors();

    // Pick the state dict as BasicSR's load_network does.
    let prefix = ["params.", "params_ema."]
        .into_iter()
        .find(|p| all.keys().any(|k| k.starts_with(p)))
        .unwrap_or("");
    let mut file: BTreeMap<String, (String, burn::store::TensorSnapshot)> = BTreeMap::new();
    let mut unexpected = Vec::new();
    for (key, snap) in all {
        let Some(local) = key.strip_prefix(prefix) else {
            continue; // another top-level entry (params_ema, optimizer state, iteration...)
        };
        let local = local.strip_prefix("module.").unwrap_or(local);
        if (keys.ignored)(local) {
            continue;
        }
        match (keys.to_burn)(local) {
            Some(k) => {
                file.insert(k, (key.clone(), snap));
            }
            None => unexpected.push(key.clone()),
        }
    }

    // Expected shapes in PyTorch layout (Linear weights are [out, in] there).
    let expected: BTreeMap<String, Vec<usize>> = model
        .collect(None, None, false)
        .iter()
        .map(|s| {
            let mut shape = s.shape.to_vec();
            if s.module_type().as_deref() == Some("Struct:Linear") && shape.len() == 2 {
                shape.reverse();
            }
            (s.full_path(), shape)
        })
        .collect();

    let mut missing = Vec::new();
    let mut mismatched = Vec::new();
    for (k, shape) in &expected {
        match file.get(k) {
            None => missing.push((keys.to_basicsr)(k)),
            Some((orig, snap)) => {
                let found = snap.shape.to_vec();
                if &found != shape {
                    mismatched.push(format!("{orig}: file {found:?}, model {shape:?}"));
                }
            }
        }
    }
    for (k, (orig, _)) in &file {
        if !expected.contains_key(k) {
            unexpected.push(orig.clone());
        }
    }
    if !(missing.is_empty() && unexpected.is_empty() && mismatched.is_empty()) {
        unexpected.sort();
        let mut msg = format!(
            "{} does not hold {what} (state dict {}):",
            path.display(),
            if prefix.is_empty() {
                "at the top level".to_string()
            } else {
                format!("under {:?}", prefix.trim_end_matches('.'))
            }
        );
        if !missing.is_empty() {
            msg.push_str(&format!(" missing keys [{}];", missing.join(", ")));
        }
        if !unexpected.is_empty() {
            msg.push_str(&format!(" unexpected keys [{}];", unexpected.join(", ")));
        }
        if !mismatched.is_empty() {
            msg.push_str(&format!(" shape mismatches [{}];", mismatched.join("; ")));
        }
        return Err(IdcError::Model(msg));
    }

    let snapshots: Vec<_> = file
        .into_iter()
        .map(|(k, (_, snap))| {
            let data = snap.clone_data_fn();
            // Half-precision checkpoints are widened: the network computes in f32.
            let widened: std::rc::Rc<
                dyn Fn() -> std::result::Result<
                    burn::tensor::TensorData,
                    burn::store::TensorSnapshotError,
                >,
            > = std::rc::Rc::new(move || data().map(|d| d.convert::<f32>()));
            burn::store::TensorSnapshot::from_closure(
                widened,
                burn::tensor::DType::F32,
                snap.shape.clone(),
                k.split('.').map(str::to_string).collect(),
                Vec::new(),
                Default::default(),
            )
        })
        .collect();
    // Conv weights share PyTorch's [out, in, kh, kw] layout; Linear weights are transposed by
    // the adapter (it sees the target module's type).
    let adapter: Box<dyn ModuleAdapter> = Box::new(PyTorchToBurnAdapter);
    let result = model.apply(snapshots, None, Some(adapter), false);
    if !result.errors.is_empty() || !result.missing.is_empty() {
        return Err(IdcError::Model(format!(
            "{}: import failed: {result}",
            path.display()
        )));
    }
    Ok(model)
}

/// Without the `pytorch` feature: an error that says so.
#[cfg(not(feature = "pytorch"))]
fn load_pth_into<B: Backend, M>(path: &Path, model: M, keys: &KeyMap<'_>, what: &str) -> Result<M> {
    let _ = (model, keys, what);
    Err(IdcError::Model(format!(
        "{}: reading .pth files needs burn-idc's `pytorch` feature (burn-store's PyTorch reader)",
        path.display()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basicsr_names_map_to_burn_names() {
        assert_eq!(
            basicsr_to_burn_key("upsample.2.weight").as_deref(),
            Some("upsample.1.weight")
        );
        assert_eq!(
            basicsr_to_burn_key("upsample.0.bias").as_deref(),
            Some("upsample.0.bias")
        );
        assert_eq!(basicsr_to_burn_key("upsample.1.weight"), None);
        assert_eq!(burn_to_basicsr_key("upsample.1.bias"), "upsample.2.bias");
        assert_eq!(burn_to_basicsr_key("conv_last.bias"), "conv_last.bias");
        assert_eq!(
            basicsr_to_burn_key("body.3.conv2.weight").as_deref(),
            Some("body.3.conv2.weight")
        );
    }
}
