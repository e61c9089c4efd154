//! Built-in pretrained networks, compiled into the crate from `models/` (each a model directory:
//! `config.json` + Burn record, loadable with [`super::load_model_dir`] too). They are the
//! default extractor and teacher of `idc condense`, `idc train --condense-ratio` and
//! [`crate::dataset::idc::IdcDataset`] when no model is given, so a first run condenses at once.
//! How they were trained, and their Set5/Set14 scores, are in `models/README.md`.

use super::edsr::EdsrConfig;
use super::net::{NetConfig, SrNet};
use super::store::{CONFIG_FILE, WEIGHTS_FILE, model_from_bytes};
use crate::error::{IdcError, Result};
use burn::tensor::backend::Backend;
use std::path::Path;

/// One built-in model directory.
#[derive(Debug)]
pub struct Pretrained {
    /// Directory name under `models/`, e.g. `edsr-tiny-x2`.
    pub name: &'static str,
    /// Up-sampling factor.
    pub scale: usize,
    config: &'static [u8],
    weights: &'static [u8],
}

/// Every built-in model, one per scale: EDSR 16 features x 2 blocks (about 88 KB each).
pub const BUILTIN: &[Pretrained] = &[
    Pretrained {
        name: "edsr-16x2-x2",
        scale: 2,
        config: include_bytes!("../../models/edsr-16x2-x2/config.json"),
        weights: include_bytes!("../../models/edsr-16x2-x2/model.mpk"),
    },
    Pretrained {
        name: "edsr-16x2-x4",
        scale: 4,
        config: include_bytes!("../../models/edsr-16x2-x4/config.json"),
        weights: include_bytes!("../../models/edsr-16x2-x4/model.mpk"),
    },
];

/// The built-in model of `scale`, if there is one.
pub fn find(scale: usize) -> Option<&'static Pretrained> {
    BUILTIN.iter().find(|p| p.scale == scale)
}

/// Loads the built-in model of `scale`; an error names the scales that have one.
pub fn load_builtin<B: Backend>(
    scale: usize,
    device: &B::Device,
) -> Result<(SrNet<B>, EdsrConfig)> {
    match find(scale) {
        Some(p) => p.load(device),
        None => Err(IdcError::Model(format!(
            "no built-in pretrained model for x{scale} (built-in: {}); give a model directory",
            BUILTIN
                .iter()
                .map(|p| format!("x{}", p.scale))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;

    #[test]
    fn every_builtin_loads_at_its_scale_and_others_are_a_clear_error() {
        for p in BUILTIN {
            let (m, cfg) = p.load::<Flex>(&Default::default()).unwrap();
            assert_eq!(
                (cfg.upscale, crate::models::Teacher::scale(&m)),
                (p.scale, p.scale),
                "{}",
                p.name
            );
        }
        assert!(find(2).is_some() && find(4).is_some());
        let e = load_builtin::<Flex>(3, &Default::default()).unwrap_err();
        assert!(e.to_string().contains("x2, x4"), "{e}");
    }

    #[test]
    fn written_dir_loads_like_the_builtin() {
        let dir = tempfile::tempdir().unwrap();
        let p = find(2).unwrap();
        p.write_dir(dir.path()).unwrap();
        let (a, _) = p.load::<Flex>(&Default::default()).unwrap();
        let (b, _) = super::super::load_model_dir::<Flex>(dir.path(), &Default::default()).unwrap();
        assert_eq!(
            crate::models::FeatureExtractor::fingerprint(&a),
            crate::models::FeatureExtractor::fingerprint(&b)
        );
    }
}

impl Pretrained {
    /// The model's config.
    pub fn config(&self) -> Result<EdsrConfig> {
        let config: EdsrConfig = serde_json::from_slice(self.config)
            .map_err(|e| IdcError::Model(format!("built-in {}: bad config: {e}", self.name)))?;
        config.validate()?;
        Ok(config)
    }

    /// The network on `device`.
    pub fn load<B: Backend>(&self, device: &B::Device) -> Result<(SrNet<B>, EdsrConfig)> {
        let config = self.config()?;
        let net = NetConfig::Edsr(config.clone());
        let model = model_from_bytes::<B>(&net, self.weights.to_vec(), device)?;
        Ok((model, config))
    }

    /// Writes the model directory (`config.json` + weights) to `dir`, e.g. for `idc eval --model`.
    pub fn write_dir(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| IdcError::io(dir, e))?;
        crate::fsutil::write_atomic(&dir.join(CONFIG_FILE), self.config)?;
        crate::fsutil::write_atomic(&dir.join(WEIGHTS_FILE), self.weights)
    }
}
