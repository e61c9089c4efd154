//! Importing BasicSR EDSR weights (`.pth`) through burn-store's PyTorch reader.
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
#[cfg(feature = "pytorch")]
pub fn load_basicsr_pth<B: Backend>(
    path: &Path,
    config: &EdsrConfig,
    device: &B::Device,
) -> Result<Edsr<B>> {
    use burn::store::ModuleSnapshot;
    use burn::store::pytorch::PytorchReader;
    use std::collections::BTreeMap;

    config.validate()?;
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
        match basicsr_to_burn_key(local) {
            Some(k) => {
                file.insert(k, (key.clone(), snap));
            }
            None => unexpected.push(key.clone()),
        }
    }

    let mut model = config.init::<B>(device);
    let expected: BTreeMap<String, Vec<usize>> = model
        .collect(None, None, false)
        .iter()
        .map(|s| (s.full_path(), s.shape.to_vec()))
        .collect();

    let mut missing = Vec::new();
    let mut mismatched = Vec::new();
    for (k, shape) in &expected {
        match file.get(k) {
            None => missing.push(burn_to_basicsr_key(k)),
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
            "{} does not hold an EDSR {}x{} x{} (state dict {}):",
            path.display(),
            config.num_feat,
            config.num_block,
            config.upscale,
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
        .map(|(k, (_, mut snap))| {
            snap.path_stack = Some(k.split('.').map(str::to_string).collect());
            snap.container_stack = None;
            snap.tensor_id = None;
            snap
        })
        .collect();
    // Conv weights have the same [out, in, kh, kw] layout in PyTorch and Burn: no adapter.
    let result = model.apply(snapshots, None, None, false);
    if !result.errors.is_empty() || !result.missing.is_empty() {
        return Err(IdcError::Model(format!(
            "{}: import failed: {result}",
            path.display()
        )));
    }
    Ok(model.refresh_fingerprint())
}

/// Loads an EDSR of `config` from a BasicSR `.pth` file (unavailable in this build).
#[cfg(not(feature = "pytorch"))]
pub fn load_basicsr_pth<B: Backend>(
    path: &Path,
    config: &EdsrConfig,
    device: &B::Device,
) -> Result<Edsr<B>> {
    let _ = (config, device);
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
