//! Importing BasicSR EDSR and SwinIR weights (`.pth`) through burn-store's PyTorch reader.
//!
//! BasicSR saves `{"params": state_dict}` (sometimes also `params_ema`; older or third-party files
//! hold the state dict at the top level, possibly with a DataParallel `module.` prefix). The state
//! dict is picked like BasicSR's `load_network` does (`params`, else `params_ema`, else the top
//! level), BasicSR key names are mapped to this crate's by one [`KeyRules`] per architecture
//! (`upsample.0/2` -> `upsample.0/1`, LayerNorm `weight` -> `gamma`, ...), and the
//! whole key set and every shape is checked before any tensor is applied, so a wrong file or wrong
//! `--arch` fails with one [`IdcError::Model`] naming every missing key, unexpected key and shape
//! mismatch.
//!
//! The reader needs burn-store's `pytorch` feature, enabled through this crate's `pytorch` feature
//! (on by default); without it [`load_basicsr_pth`] returns an error that says so.

use crate::error::{IdcError, Result};
use crate::models::edsr::{Edsr, EdsrConfig};
use crate::models::net::{NetConfig, SrNet};
use crate::models::swinir::{ResiConnection, SwinIr, SwinIrConfig};
use burn::tensor::backend::Backend;
use std::path::Path;

/// Whether this build can read `.pth` files (burn-store's `pytorch` feature).
pub const PTH_SUPPORTED: bool = cfg!(feature = "pytorch");

/// How one container's BasicSR indices relate to this crate's.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Indices {
    /// Convs interleaved with parameter-free layers (PixelShuffle, LeakyReLU): BasicSR `name.2k`
    /// is `name.k` here; odd indices have no counterpart.
    Even,
    /// As [`Indices::Even`], but a `1conv` (`resi_connection`) file holds one bare conv, which
    /// is `name.0` here.
    EvenOrBare,
    /// A Sequential of one conv at index 0 in BasicSR, a bare conv here.
    Unwrapped,
}

/// A container whose BasicSR indices differ from this crate's.
#[derive(Clone, Copy, Debug)]
struct Container {
    /// Its name (one path segment).
    name: &'static str,
    /// Only below this top-level module (`layers.{i}.conv`), else anywhere.
    under: Option<&'static str>,
    indices: Indices,
}

/// How one architecture's BasicSR parameter names differ from this crate's. The renames are data
/// (one value per architecture); the mapping both ways ([`KeyRules::to_burn`],
/// [`KeyRules::to_basicsr`]) is written once, so the EDSR and SwinIR importers cannot drift.
#[derive(Clone, Copy, Debug)]
pub struct KeyRules {
    containers: &'static [Container],
    /// LayerNorms: BasicSR `weight`/`bias` are `gamma`/`beta` here.
    layer_norms: &'static [&'static str],
    /// Name endings of BasicSR buffers that are recomputed here, not loaded.
    recomputed: &'static [&'static str],
    /// The file's `resi_connection` is `1conv` (needed only to name keys back in BasicSR terms).
    one_conv: bool,
}

/// EDSR: BasicSR's `Upsample` is an `nn.Sequential` of `[conv, PixelShuffle]*`, so its convs sit
/// at even indices; here `upsample` holds only the convs.
pub const EDSR_KEYS: KeyRules = KeyRules {
    containers: &[Container {
        name: "upsample",
        under: None,
        indices: Indices::Even,
    }],
    layer_norms: &[],
    recomputed: &[],
    one_conv: false,
};

/// SwinIR (`one_conv`: the config's `resi_connection` is `1conv`): LayerNorm `weight`/`bias` ->
/// `gamma`/`beta`; `upsample`, `conv_after_body` and each RSTB's `conv` drop BasicSR's
/// LeakyReLU slots (the last two are one bare conv in `1conv` files); `conv_before_upsample`
/// unwraps its Sequential; `relative_position_index` / `attn_mask` buffers are recomputed.
pub const fn swinir_keys(one_conv: bool) -> KeyRules {
    KeyRules {
        containers: SWINIR_CONTAINERS,
        layer_norms: &["norm", "norm1", "norm2"],
        recomputed: &["relative_position_index", "attn_mask"],
        one_conv,
    }
}

/// SwinIR's renumbered containers (see [`swinir_keys`]).
const SWINIR_CONTAINERS: &[Container] = {
    const fn seq(name: &'static str, under: Option<&'static str>, indices: Indices) -> Container {
        Container {
            name,
            under,
            indices,
        }
    }
    &[
        seq("upsample", None, Indices::Even),
        seq("conv_after_body", None, Indices::EvenOrBare),
        seq("conv", Some("layers"), Indices::EvenOrBare),
        seq("conv_before_upsample", None, Indices::Unwrapped),
    ]
};

impl KeyRules {
    /// The container segment `parts[i]` names, if any (`first`: the key's first segment).
    fn container(&self, first: &str, i: usize, name: &str) -> Option<Indices> {
        self.containers
            .iter()
            .find(|c| c.name == name && c.under.is_none_or(|u| i >= 1 && first == u))
            .map(|c| c.indices)
    }

    /// Renames a LayerNorm's last segment (`from` -> `to`, pairwise) in place.
    fn rename_norm(&self, parts: &mut [String], from: [&str; 2], to: [&str; 2]) {
        let n = parts.len();
        if n >= 2
            && self.layer_norms.contains(&parts[n - 2].as_str())
            && let Some(k) = from.iter().position(|f| *f == parts[n - 1])
        {
            parts[n - 1] = to[k].to_string();
        }
    }

    /// Maps a BasicSR parameter name to this crate's, or `None` when it has no counterpart (an
    /// odd index, a LeakyReLU slot). Prefixes (`params.`, `module.`) are stripped before.
    pub fn to_burn(&self, key: &str) -> Option<String> {
        let mut parts: Vec<String> = key.split('.').map(str::to_string).collect();
        self.rename_norm(&mut parts, ["weight", "bias"], ["gamma", "beta"]);
        let mut out: Vec<String> = Vec::with_capacity(parts.len() + 1);
        let mut i = 0;
        while i < parts.len() {
            out.push(parts[i].clone());
            let idx = parts.get(i + 1).and_then(|s| s.parse::<usize>().ok());
            match (self.container(&parts[0], i, &parts[i]), idx) {
                (Some(Indices::Unwrapped), Some(0)) => i += 1, // drop the Sequential index
                (Some(Indices::Unwrapped), Some(_)) => return None,
                (Some(_), Some(idx)) if !idx.is_multiple_of(2) => return None,
                (Some(_), Some(idx)) => {
                    out.push((idx / 2).to_string());
                    i += 1;
                }
                (Some(Indices::EvenOrBare), None) => out.push("0".into()), // 1conv: a bare conv
                _ => {}
            }
            i += 1;
        }
        Some(out.join("."))
    }

    /// Inverse of [`KeyRules::to_burn`] (error messages name keys as the `.pth` does).
    pub fn to_basicsr(&self, key: &str) -> String {
        let parts: Vec<&str> = key.split('.').collect();
        let mut out: Vec<String> = Vec::with_capacity(parts.len() + 1);
        let mut i = 0;
        while i < parts.len() {
            out.push(parts[i].to_string());
            let idx = parts.get(i + 1).and_then(|s| s.parse::<usize>().ok());
            match (self.container(parts[0], i, parts[i]), idx) {
                (Some(Indices::Unwrapped), _) => out.push("0".into()),
                (Some(indices), Some(idx)) => {
                    if !(indices == Indices::EvenOrBare && self.one_conv) {
                        out.push((idx * 2).to_string());
                    }
                    i += 1;
                }
                _ => {}
            }
            i += 1;
        }
        self.rename_norm(&mut out, ["gamma", "beta"], ["weight", "bias"]);
        out.join(".")
    }

    /// Whether a BasicSR entry is a buffer recomputed here (skipped, not loaded).
    pub fn is_recomputed(&self, key: &str) -> bool {
        self.recomputed.iter().any(|r| key.ends_with(r))
    }
}

/// Maps a BasicSR EDSR parameter name to this crate's, or `None` when it has no counterpart
/// ([`EDSR_KEYS`]).
pub fn basicsr_to_burn_key(key: &str) -> Option<String> {
    EDSR_KEYS.to_burn(key)
}

/// Inverse of [`basicsr_to_burn_key`] (for error messages in BasicSR's names).
pub fn burn_to_basicsr_key(key: &str) -> String {
    EDSR_KEYS.to_basicsr(key)
}

/// SwinIR's names ([`swinir_keys`]) under the functions `models::swinir` used to hold.
pub mod swinir_names {
    /// Maps a BasicSR SwinIR parameter name to this crate's, or `None` when it has no
    /// counterpart (an odd `upsample` index, a LeakyReLU slot). Buffers are filtered out before
    /// (see [`is_recomputed_buffer`]).
    pub fn basicsr_to_burn_key(key: &str) -> Option<String> {
        super::swinir_keys(false).to_burn(key)
    }

    /// Inverse of [`basicsr_to_burn_key`] for error messages (`one_conv`: the config's
    /// `resi_connection` is `1conv`).
    pub fn burn_to_basicsr_key(key: &str, one_conv: bool) -> String {
        super::swinir_keys(one_conv).to_basicsr(key)
    }

    /// BasicSR buffers that are not weights and are recomputed here.
    pub fn is_recomputed_buffer(key: &str) -> bool {
        super::swinir_keys(false).is_recomputed(key)
    }
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
    let model = load_pth_into(path, config.init::<B>(device), &EDSR_KEYS, &what)?;
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
    let keys = swinir_keys(config.resi_connection == ResiConnection::OneConv);
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

/// The state dict of a `.pth`, keyed by this crate's names.
#[cfg(feature = "pytorch")]
struct StateDict {
    /// `params.`, `params_ema.` or `""` (the top level).
    prefix: &'static str,
    /// Burn path -> (the file's key, tensor).
    tensors: std::collections::BTreeMap<String, (String, burn::store::TensorSnapshot)>,
    /// File keys with no counterpart.
    unexpected: Vec<String>,
}

/// Reads `path` and picks the state dict as BasicSR's `load_network` does (`params`, else
/// `params_ema`, else the top level, without a DataParallel `module.` prefix), mapping names
/// with `keys` and skipping recomputed buffers.
#[cfg(feature = "pytorch")]
fn read_state_dict(path: &Path, keys: &KeyRules) -> Result<StateDict> {
    if !path.is_file() {
        return Err(IdcError::io(
            path,
            std::io::Error::new(std::io::ErrorKind::NotFound, "no such .pth file"),
        ));
    }
    let reader = burn::store::pytorch::PytorchReader::new(path).map_err(|e| {
        IdcError::Model(format!("{}: cannot read PyTorch file: {e}", path.display()))
    })?;
    let all = reader.into_tensors();
    let prefix = ["params.", "params_ema."]
        .into_iter()
        .find(|p| all.keys().any(|k| k.starts_with(p)))
        .unwrap_or("");
    let mut dict = StateDict {
        prefix,
        tensors: Default::default(),
        unexpected: Vec::new(),
    };
    for (key, snap) in all {
        let Some(local) = key.strip_prefix(prefix) else {
            continue; // another top-level entry (params_ema, optimizer state, iteration...)
        };
        let local = local.strip_prefix("module.").unwrap_or(local);
        if keys.is_recomputed(local) {
            continue;
        }
        match keys.to_burn(local) {
            Some(k) => {
                dict.tensors.insert(k, (key.clone(), snap));
            }
            None => dict.unexpected.push(key.clone()),
        }
    }
    Ok(dict)
}

/// Checks the whole key set and every shape of `dict` against `model`; one error names every
/// missing key (in BasicSR's names), unexpected key and shape mismatch.
#[cfg(feature = "pytorch")]
fn check_state_dict<B: Backend, M: burn::store::ModuleSnapshot<B>>(
    dict: &StateDict,
    model: &M,
    keys: &KeyRules,
    (path, what): (&Path, &str),
) -> Result<()> {
    // Expected shapes in PyTorch layout (Linear weights are [out, in] there).
    let expected: std::collections::BTreeMap<String, Vec<usize>> = model
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
        match dict.tensors.get(k) {
            None => missing.push(keys.to_basicsr(k)),
            Some((orig, snap)) => {
                let found = snap.shape.to_vec();
                if &found != shape {
                    mismatched.push(format!("{orig}: file {found:?}, model {shape:?}"));
                }
            }
        }
    }
    let mut unexpected = dict.unexpected.clone();
    for (k, (orig, _)) in &dict.tensors {
        if !expected.contains_key(k) {
            unexpected.push(orig.clone());
        }
    }
    if missing.is_empty() && unexpected.is_empty() && mismatched.is_empty() {
        return Ok(());
    }
    unexpected.sort();
    let mut msg = format!(
        "{} does not hold {what} (state dict {}):",
        path.display(),
        if dict.prefix.is_empty() {
            "at the top level".to_string()
        } else {
            format!("under {:?}", dict.prefix.trim_end_matches('.'))
        }
    );
    for (list, name, sep) in [
        (&missing, "missing keys", ", "),
        (&unexpected, "unexpected keys", ", "),
        (&mismatched, "shape mismatches", "; "),
    ] {
        if !list.is_empty() {
            msg.push_str(&format!(" {name} [{}];", list.join(sep)));
        }
    }
    Err(IdcError::Model(msg))
}

/// Reads `path`, checks every key and shape against `model` ([`check_state_dict`]) and applies
/// the tensors (Linear weights transposed, half precision widened to f32).
#[cfg(feature = "pytorch")]
fn load_pth_into<B: Backend, M: burn::store::ModuleSnapshot<B>>(
    path: &Path,
    mut model: M,
    keys: &KeyRules,
    what: &str,
) -> Result<M> {
    use burn::store::{ModuleAdapter, PyTorchToBurnAdapter};
    let dict = read_state_dict(path, keys)?;
    check_state_dict(&dict, &model, keys, (path, what))?;
    let snapshots: Vec<_> = dict
        .tensors
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
fn load_pth_into<B: Backend, M>(path: &Path, model: M, keys: &KeyRules, what: &str) -> Result<M> {
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
