//! One type for "a network this crate can build": [`NetConfig`] (EDSR or SwinIR, parsed from an
//! `--arch` preset or from BasicSR's `network_g` options) and [`SrNet`] (the built module), so
//! training, evaluation, condensation and selection take either family.

use crate::error::{IdcError, Result};
use crate::models::edsr::{DIV2K_RGB_MEAN, Edsr, EdsrConfig};
use crate::models::swinir::{SwinIr, SwinIrConfig};
use crate::models::{FeatureExtractor, Teacher};
use burn::module::Module;
use burn::tensor::{Tensor, backend::Backend};
use serde_json::{Map, Value};

/// A network in both roles, as one trait object.
trait Family<B: Backend>: FeatureExtractor<B> + Teacher<B> {}
impl<B: Backend, T: FeatureExtractor<B> + Teacher<B>> Family<B> for T {}

/// Largest `network_g` JSON file read.
const MAX_NET_JSON_BYTES: u64 = 1 << 20;

/// Hyper-parameters of one network of either family.
#[derive(Clone, Debug, PartialEq)]
pub enum NetConfig {
    /// BasicSR `EDSR`.
    Edsr(EdsrConfig),
    /// BasicSR `SwinIR`.
    SwinIr(SwinIrConfig),
}

impl From<EdsrConfig> for NetConfig {
    fn from(c: EdsrConfig) -> Self {
        Self::Edsr(c)
    }
}

impl From<SwinIrConfig> for NetConfig {
    fn from(c: SwinIrConfig) -> Self {
        Self::SwinIr(c)
    }
}

impl NetConfig {
    /// Parses an `--arch` name for `scale`: the EDSR names of [`EdsrConfig::from_arch`] or the
    /// SwinIR presets of [`SwinIrConfig::from_arch`] (`swinir-tiny`, `swinir-light`,
    /// `swinir-classical`).
    pub fn from_arch(arch: &str, scale: usize) -> Result<Self> {
        if arch.trim().starts_with("swinir") {
            Ok(Self::SwinIr(SwinIrConfig::from_arch(arch, scale)?))
        } else {
            EdsrConfig::from_arch(arch, scale)
                .map(Self::Edsr)
                .map_err(|_| {
                    IdcError::config(
                        "arch",
                        format!(
                            "unknown architecture {arch:?}; expected edsr-tiny, edsr-small, \
                         edsr-baseline, edsr:<features>x<blocks>, swinir-tiny, swinir-light or \
                         swinir-classical (or --arch-config net.json)"
                        ),
                    )
                })
        }
    }

    /// Parses BasicSR's `network_g` options (`{"type": "SwinIR", ...}` or
    /// `{"type": "EDSR", ...}`); fields left out take BasicSR's defaults. SwinIR options that
    /// do not change the network here are accepted with the values BasicSR's option files use:
    /// `patch_size` 1, `qk_scale` null, `drop_rate` / `attn_drop_rate` 0, `use_checkpoint`;
    /// `drop_path_rate` is accepted and not modelled (stochastic depth is a training-time
    /// regulariser; inference is unchanged). Any other field is an error.
    pub fn from_network_g(value: &Value) -> Result<Self> {
        let Some(obj) = value.as_object() else {
            return Err(IdcError::config("network_g", "must be a JSON object"));
        };
        let mut obj = obj.clone();
        let ty = obj
            .remove("type")
            .and_then(|t| t.as_str().map(str::to_string))
            .ok_or_else(|| {
                IdcError::config("network_g.type", "missing (\"EDSR\" or \"SwinIR\")")
            })?;
        match ty.as_str() {
            "EDSR" => parse_edsr(obj).map(Self::Edsr),
            "SwinIR" => parse_swinir(obj).map(Self::SwinIr),
            other => Err(IdcError::config(
                "network_g.type",
                format!("{other:?} not supported: EDSR or SwinIR"),
            )),
        }
    }

    /// Reads a `network_g` JSON file (`--arch-config`).
    pub fn from_json_file(path: &std::path::Path) -> Result<Self> {
        let bytes = crate::fsutil::read_bounded(path, MAX_NET_JSON_BYTES)?;
        let value: Value = serde_json::from_slice(&bytes).map_err(|e| {
            IdcError::config("arch-config", format!("{}: not JSON: {e}", path.display()))
        })?;
        Self::from_network_g(&value).map_err(|e| match e {
            IdcError::InvalidConfig { field, reason } => {
                IdcError::config(format!("{} ({field})", path.display()), reason)
            }
            e => e,
        })
    }

    /// The `network_g` JSON of this config (`type` plus BasicSR's argument names).
    pub fn to_network_g(&self) -> Value {
        let (ty, body) = match self {
            Self::Edsr(c) => ("EDSR", serde_json::to_value(c)),
            Self::SwinIr(c) => ("SwinIR", serde_json::to_value(c)),
        };
        let mut obj = match body {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        };
        obj.insert("type".into(), Value::String(ty.into()));
        Value::Object(obj)
    }

    /// Checks every field.
    pub fn validate(&self) -> Result<()> {
        match self {
            Self::Edsr(c) => c.validate(),
            Self::SwinIr(c) => c.validate(),
        }
    }

    /// Up-sampling factor.
    pub fn upscale(&self) -> usize {
        match self {
            Self::Edsr(c) => c.upscale,
            Self::SwinIr(c) => c.upscale,
        }
    }

    /// Channels of [`FeatureExtractor::features`].
    pub fn feature_channels(&self) -> usize {
        match self {
            Self::Edsr(c) => c.num_feat,
            Self::SwinIr(c) => c.embed_dim,
        }
    }

    /// Short human description (`EDSR 64x16 x2`, `SwinIR embed 60 depths [6, 6, 6, 6] x4`).
    pub fn describe(&self) -> String {
        match self {
            Self::Edsr(c) => format!("EDSR {}x{} x{}", c.num_feat, c.num_block, c.upscale),
            Self::SwinIr(c) => format!(
                "SwinIR embed {} depths {:?} window {} x{}",
                c.embed_dim, c.depths, c.window_size, c.upscale
            ),
        }
    }

    /// Network with weights drawn from a generator seeded with `seed` (same on every backend).
    /// Panics only on an invalid config (every parser validates).
    pub fn init_seeded<B: Backend>(&self, device: &B::Device, seed: u64) -> SrNet<B> {
        match self {
            Self::Edsr(c) => SrNet::Edsr(c.init_seeded(device, seed)),
            Self::SwinIr(c) => SrNet::SwinIr(c.init_seeded(device, seed)),
        }
    }
}

/// Fills BasicSR's `EDSR.__init__` defaults for missing fields.
fn parse_edsr(mut obj: Map<String, Value>) -> Result<EdsrConfig> {
    let defaults = [
        ("num_in_ch", Value::from(3)),
        ("num_out_ch", Value::from(3)),
        ("num_feat", Value::from(64)),
        ("num_block", Value::from(16)),
        ("upscale", Value::from(4)),
        ("res_scale", Value::from(1.0)),
        ("img_range", Value::from(255.0)),
        ("rgb_mean", Value::from(DIV2K_RGB_MEAN.to_vec())),
    ];
    for (k, v) in defaults {
        obj.entry(k).or_insert(v);
    }
    let config: EdsrConfig = serde_json::from_value(Value::Object(obj))
        .map_err(|e| IdcError::config("network_g", format!("EDSR options: {e}")))?;
    config.validate()?;
    Ok(config)
}

/// Removes the SwinIR options that do not change the network (checking their values).
fn parse_swinir(mut obj: Map<String, Value>) -> Result<SwinIrConfig> {
    let check =
        |k: &str, ok: &dyn Fn(&Value) -> bool, want: &str, obj: &mut Map<String, Value>| match obj
            .remove(k)
        {
            Some(v) if !ok(&v) => Err(IdcError::config(
                format!("network_g.{k}"),
                format!("{v} not supported: {want}"),
            )),
            _ => Ok(()),
        };
    check(
        "patch_size",
        &|v| v.as_u64() == Some(1),
        "must be 1",
        &mut obj,
    )?;
    check("qk_scale", &Value::is_null, "must be null", &mut obj)?;
    let zero = |v: &Value| v.as_f64() == Some(0.0);
    check("drop_rate", &zero, "must be 0", &mut obj)?;
    check("attn_drop_rate", &zero, "must be 0", &mut obj)?;
    let rate = |v: &Value| v.as_f64().is_some_and(|r| (0.0..1.0).contains(&r));
    check("drop_path_rate", &rate, "must be in [0, 1)", &mut obj)?;
    check(
        "use_checkpoint",
        &Value::is_boolean,
        "must be a boolean",
        &mut obj,
    )?;
    if let Some(Value::Array(sz)) = obj.get("img_size")
        && sz.len() == 2
        && sz[0] == sz[1]
    {
        let side = sz[0].clone();
        obj.insert("img_size".into(), side);
    }
    let config: SwinIrConfig = serde_json::from_value(Value::Object(obj))
        .map_err(|e| IdcError::config("network_g", format!("SwinIR options: {e}")))?;
    config.validate()?;
    Ok(config)
}

/// A built network of either family: one module type for training, evaluation and the IDC
/// roles. Model directories keep each family's own record (see `models::store`).
#[derive(Module, Debug)]
pub enum SrNet<B: Backend> {
    /// EDSR.
    Edsr(Edsr<B>),
    /// SwinIR.
    SwinIr(SwinIr<B>),
}

impl<B: Backend> From<Edsr<B>> for SrNet<B> {
    fn from(m: Edsr<B>) -> Self {
        Self::Edsr(m)
    }
}

impl<B: Backend> From<SwinIr<B>> for SrNet<B> {
    fn from(m: SwinIr<B>) -> Self {
        Self::SwinIr(m)
    }
}

impl<B: Backend> SrNet<B> {
    /// The hyper-parameters this network was built with.
    pub fn net_config(&self) -> NetConfig {
        match self {
            Self::Edsr(m) => NetConfig::Edsr(m.config().clone()),
            Self::SwinIr(m) => NetConfig::SwinIr(m.config().clone()),
        }
    }

    /// The wrapped network in both roles (one trait object: every family implements both, so
    /// `SrNet` delegates without a `match` per method).
    fn family(&self) -> &dyn Family<B> {
        match self {
            Self::Edsr(m) => m,
            Self::SwinIr(m) => m,
        }
    }

    /// Super-resolves `[N, 3, h, w]` (values in `[0, 1]`) to `[N, 3, s h, s w]`, not clamped.
    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        self.family().upscale(x)
    }

    /// The family's feature tensor ([`Edsr::features`], [`SwinIr::features`]).
    pub fn features(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        FeatureExtractor::features(self.family(), x)
    }

    /// Receptive radius in LR pixels when tiled inference can be exact (EDSR); `None` for
    /// SwinIR, whose shifted windows chain across the whole image and whose window grid and
    /// padding depend on the input size: it always runs on whole images.
    pub fn receptive_radius(&self) -> Option<usize> {
        match self {
            Self::Edsr(m) => Some(m.receptive_radius()),
            Self::SwinIr(_) => None,
        }
    }

    /// Recomputes the cached fingerprint from the current weights (after training).
    pub fn refresh_fingerprint(self) -> Self {
        match self {
            Self::Edsr(m) => Self::Edsr(m.refresh_fingerprint()),
            Self::SwinIr(m) => Self::SwinIr(m.refresh_fingerprint()),
        }
    }
}

impl_roles!(SrNet, |m| channels: m.family().feature_channels(), scale: m.family().scale(),
    fingerprint: Teacher::fingerprint(m.family()));

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;
    use serde_json::json;

    type B = Flex;

    #[test]
    fn edsr_network_g_equals_the_arch_preset() {
        let g = json!({"type": "EDSR", "num_in_ch": 3, "num_out_ch": 3, "num_feat": 64,
            "num_block": 16, "upscale": 2, "res_scale": 1, "img_range": 255.0,
            "rgb_mean": [0.4488, 0.4371, 0.4040]});
        let a = NetConfig::from_network_g(&g).unwrap();
        assert_eq!(a, NetConfig::from_arch("edsr-baseline", 2).unwrap());
        // Defaults fill the rest, as BasicSR's constructor does.
        let short = json!({"type": "EDSR", "num_feat": 16, "num_block": 2, "upscale": 3});
        let b = NetConfig::from_network_g(&short).unwrap();
        assert_eq!(b, NetConfig::from_arch("edsr:16x2", 3).unwrap());
        // Same seed -> same weights -> same fingerprint as the preset's network.
        let dev = Default::default();
        let x = NetConfig::from_arch("edsr:16x2", 3)
            .unwrap()
            .init_seeded::<B>(&dev, 4);
        assert_eq!(
            Teacher::fingerprint(&b.init_seeded::<B>(&dev, 4)),
            Teacher::fingerprint(&x)
        );
        // Round trip through to_network_g.
        assert_eq!(NetConfig::from_network_g(&a.to_network_g()).unwrap(), a);
    }

    #[test]
    fn swinir_network_g_parses_basicsr_option_files() {
        // BasicSR options/train/SwinIR/train_SwinIR_SRx2_scratch_P48W8_DIV2K_500k_B4G8.yml
        let g = json!({"type": "SwinIR", "upscale": 2, "in_chans": 3, "img_size": 48,
            "window_size": 8, "img_range": 1.0, "depths": [6, 6, 6, 6, 6, 6], "embed_dim": 180,
            "num_heads": [6, 6, 6, 6, 6, 6], "mlp_ratio": 2, "upsampler": "pixelshuffle",
            "resi_connection": "1conv"});
        let c = NetConfig::from_network_g(&g).unwrap();
        assert_eq!(c, NetConfig::from_arch("swinir-classical", 2).unwrap());
        assert_eq!(NetConfig::from_network_g(&c.to_network_g()).unwrap(), c);
        let light = json!({"type": "SwinIR", "upscale": 4, "img_size": 64, "window_size": 8,
            "depths": [6, 6, 6, 6], "embed_dim": 60, "num_heads": [6, 6, 6, 6], "mlp_ratio": 2,
            "upsampler": "pixelshuffledirect", "drop_path_rate": 0.1, "patch_size": 1});
        assert_eq!(
            NetConfig::from_network_g(&light).unwrap(),
            NetConfig::from_arch("swinir-light", 4).unwrap()
        );
        for bad in [
            json!({"type": "RCAN"}),
            json!({"upscale": 2}),
            json!({"type": "SwinIR", "upscale": 2, "upsampler": "pixelshuffle", "bogus": 1}),
            json!({"type": "SwinIR", "upscale": 2, "upsampler": "bilinear"}),
            json!({"type": "SwinIR", "upscale": 2, "upsampler": "pixelshuffle", "patch_size": 2}),
            json!({"type": "EDSR", "num_feat": 0}),
            json!([1, 2]),
        ] {
            assert!(NetConfig::from_network_g(&bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn arch_names_cover_both_families() {
        for (arch, swin) in [
            ("edsr-tiny", false),
            ("swinir-tiny", true),
            ("swinir-light", true),
        ] {
            let c = NetConfig::from_arch(arch, 4).unwrap();
            assert_eq!(matches!(c, NetConfig::SwinIr(_)), swin);
            assert_eq!(c.upscale(), 4);
        }
        let msg = NetConfig::from_arch("rcan", 2).unwrap_err().to_string();
        assert!(msg.contains("swinir-light"), "{msg}");
    }
}
