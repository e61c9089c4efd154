//! The synthetic LR patches one condensation optimises: their initialisation from the real
//! patches, the pixel parametrisation (clamped pixels or sigmoid logits) and the Adam step with
//! its chroma damping (issue #25's choices, `CondenseConfig::{init, param, chroma_lr}`).

use super::common::stream;
use super::config::{CondenseConfig, InitMode, PixelParam};
use super::real::Inner;
use crate::error::Result;
use crate::image::{Image, images_to_batch};
use burn::tensor::{Tensor, backend::AutodiffBackend};

/// The synthetic LR patches being optimised and their Adam moments (inner backend).
pub(super) struct SyntheticPatches<B: AutodiffBackend> {
    pub(super) x: Tensor<Inner<B>, 4>,
    /// The logits Adam moves under [`PixelParam::Sigmoid`] (`x = sigmoid(z)`).
    z: Option<Tensor<Inner<B>, 4>>,
    adam_m: Tensor<Inner<B>, 4>,
    adam_v: Tensor<Inner<B>, 4>,
    /// The last step's values before its clamp (kept at the final step only, for realism).
    pub(super) unclipped: Option<Tensor<Inner<B>, 4>>,
}

/// Pixels kept this far from 0 and 1 when they become logits (`logit(1e-3) = -6.9`).
const LOGIT_MARGIN: f64 = 1e-3;

impl<B: AutodiffBackend> SyntheticPatches<B> {
    /// `n_syn` of the real patches `lr` drawn without replacement from stream 1 of `seed`,
    /// then (per `cfg.init`) replaced by or mixed with uniform noise from the same stream.
    pub(super) fn init(
        cfg: &CondenseConfig,
        lr: &[Image],
        n_syn: usize,
        seed: u64,
        device: &B::Device,
    ) -> Result<Self> {
        use rand::Rng;
        let mut init_rng = stream(seed, 1);
        let mut syn_imgs: Vec<Image> = rand::seq::index::sample(&mut init_rng, lr.len(), n_syn)
            .into_vec()
            .into_iter()
            .map(|i| lr[i].clone())
            .collect();
        for im in &mut syn_imgs {
            match cfg.init {
                InitMode::Real => {}
                InitMode::Noise => {
                    for v in &mut im.data {
                        *v = init_rng.random::<f32>();
                    }
                }
                InitMode::RealNoise => {
                    let a = cfg.init_noise as f32;
                    for v in &mut im.data {
                        *v = (*v + init_rng.random_range(-a..=a)).clamp(0.0, 1.0);
                    }
                }
            }
        }
        let mut x = images_to_batch::<Inner<B>>(&syn_imgs, device)?;
        let z = match cfg.param {
            PixelParam::Clamp => None,
            PixelParam::Sigmoid => {
                let p = x.clamp(LOGIT_MARGIN, 1.0 - LOGIT_MARGIN);
                let z = (p.clone() / p.neg().add_scalar(1.0)).log();
                x = burn::tensor::activation::sigmoid(z.clone());
                Some(z)
            }
        };
        Ok(Self {
            adam_m: x.zeros_like(),
            adam_v: x.zeros_like(),
            x,
            z,
            unclipped: None,
        })
    }

    /// Number of synthetic patches.
    pub(super) fn count(&self) -> usize {
        self.x.dims()[0]
    }

    /// Adam at step `t` (1-based) with the pixels' gradient `g`, in the space of `cfg.param`:
    /// pixels clamped to `[0, 1]` (the final step also keeps its unclamped values), or logits.
    pub(super) fn adam_step(&mut self, g: Tensor<Inner<B>, 4>, t: i32, cfg: &CondenseConfig) {
        let g = match &self.z {
            // d x / d z = x (1 - x).
            Some(_) => g * self.x.clone() * self.x.clone().neg().add_scalar(1.0),
            None => g,
        };
        self.adam_m =
            self.adam_m.clone().mul_scalar(cfg.beta1) + g.clone().mul_scalar(1.0 - cfg.beta1);
        self.adam_v =
            self.adam_v.clone().mul_scalar(cfg.beta2) + g.square().mul_scalar(1.0 - cfg.beta2);
        let mhat = self.adam_m.clone().div_scalar(1.0 - cfg.beta1.powi(t));
        let vhat = self.adam_v.clone().div_scalar(1.0 - cfg.beta2.powi(t));
        let upd = damp_chroma(mhat / vhat.sqrt().add_scalar(cfg.adam_eps), cfg.chroma_lr);
        let upd = lowpass_step(upd, cfg.step_lowpass);
        let step = upd.mul_scalar(cfg.lr_at(t as usize));
        if let Some(z) = &self.z {
            let z = z.clone() - step;
            self.x = burn::tensor::activation::sigmoid(z.clone());
            self.z = Some(z);
            return;
        }
        let moved = self.x.clone() - step;
        if t as usize >= cfg.iters {
            self.unclipped = Some(moved.clone());
        }
        self.x = moved.clamp(0.0, 1.0);
    }
}

/// `upd` (`[n, c, h, w]`) blended with its separable `[1 2 1]/4` blur by `share` (0:
/// unchanged). The blur is normalised at the borders (divided by the blur of ones), so a flat
/// step stays flat up to the edge.
fn lowpass_step<BB: burn::tensor::backend::Backend>(
    upd: Tensor<BB, 4>,
    share: f64,
) -> Tensor<BB, 4> {
    use burn::tensor::TensorData;
    use burn::tensor::module::conv2d;
    use burn::tensor::ops::ConvOptions;
    if share == 0.0 {
        return upd;
    }
    let [_, c, h, w] = upd.dims();
    let taps = [0.25f32, 0.5, 0.25];
    let kernel: Vec<f32> = (0..c * 9)
        .map(|i| taps[(i % 9) / 3] * taps[i % 3])
        .collect();
    let device = upd.device();
    let weight = Tensor::<BB, 4>::from_data(TensorData::new(kernel, [c, 1, 3, 3]), &device);
    let blur = |x: Tensor<BB, 4>| {
        conv2d(
            x,
            weight.clone(),
            None,
            ConvOptions::new([1, 1], [1, 1], [1, 1], c),
        )
    };
    let norm = blur(Tensor::<BB, 4>::ones([1, c, h, w], &device));
    let blurred = blur(upd.clone()) / norm;
    upd.mul_scalar(1.0 - share) + blurred.mul_scalar(share)
}

/// `upd` (`[n, 3, h, w]`) with its chroma, each pixel's deviation from its RGB mean, scaled by
/// `chroma` (1: unchanged).
fn damp_chroma<BB: burn::tensor::backend::Backend>(
    upd: Tensor<BB, 4>,
    chroma: f64,
) -> Tensor<BB, 4> {
    if chroma == 1.0 {
        return upd;
    }
    let luma = upd.clone().mean_dim(1);
    (upd - luma.clone()).mul_scalar(chroma) + luma
}

#[cfg(test)]
mod tests {
    use super::lowpass_step;
    use burn::backend::Flex;
    use burn::tensor::{Tensor, TensorData};

    fn step(values: Vec<f32>, [c, h, w]: [usize; 3]) -> Tensor<Flex, 4> {
        Tensor::from_data(TensorData::new(values, [1, c, h, w]), &Default::default())
    }

    fn values(t: Tensor<Flex, 4>) -> Vec<f32> {
        t.into_data().to_vec().unwrap()
    }

    #[test]
    fn lowpass_step_removes_the_two_pixel_checker_and_keeps_flat_steps() {
        let (c, h, w) = (3, 6, 6);
        let checker: Vec<f32> = (0..c * h * w)
            .map(|i| {
                if ((i % w) + (i / w) % h) % 2 == 0 {
                    1.0
                } else {
                    -1.0
                }
            })
            .collect();
        let out = values(lowpass_step(step(checker.clone(), [c, h, w]), 1.0));
        for ch in 0..c {
            for y in 1..h - 1 {
                for x in 1..w - 1 {
                    let v = out[(ch * h + y) * w + x];
                    assert!(v.abs() < 1e-6, "interior ({y}, {x}) kept {v}");
                }
            }
        }
        let flat = values(lowpass_step(step(vec![0.3; c * h * w], [c, h, w]), 1.0));
        assert!(flat.iter().all(|v| (v - 0.3).abs() < 1e-6), "{flat:?}");
        let half = values(lowpass_step(step(checker.clone(), [c, h, w]), 0.5));
        assert!((half[(h + 2) * w + 2] - 0.5 * checker[(h + 2) * w + 2]).abs() < 1e-6);
        let same = values(lowpass_step(step(checker.clone(), [c, h, w]), 0.0));
        assert_eq!(same, checker);
    }
}
