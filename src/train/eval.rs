//! Whole-image evaluation with BasicSR's protocol, tiled inference, and the bicubic baseline.
//!
//! Protocol (BasicSR `test.py` on paired PNG folders): GT = `mod_crop(HR, scale)`; LR =
//! `imresize(GT, 1/scale)` rounded to 8 bits (what BasicSR's LR PNG files hold); SR =
//! `model(LR)` clamped to `[0, 1]`, times 255 and rounded (`tensor2img`); PSNR/SSIM on RGB and on
//! Y with `crop_border = scale` ([`crate::metrics`]). Means are plain averages over images.
//!
//! Tiled inference ([`upscale_tiled`]) splits the LR image into `tile x tile` cores, runs each
//! with `overlap` LR pixels of real context on every side (fewer at the image border, where the
//! untiled network sees zero padding too) and keeps only the core's output. For a network whose
//! receptive radius is at most `overlap` (EDSR: [`SrNet::receptive_radius`]) every output pixel
//! sees exactly the inputs it sees untiled, so tiled == untiled up to floating-point summation
//! order inside the convolutions (observed max |diff| ~1e-6 on `[0,1]` outputs, and the
//! 8-bit outputs are identical in the tests).

use crate::error::{IdcError, Result};
use crate::image::io::{decode_image, list_images};
use crate::image::patch::noisy_input;
use crate::image::resize::{imresize, try_mod_crop};
use crate::image::{Image, images_to_batch};
use crate::metrics::psnr_ssim;
use crate::models::Teacher;
use crate::models::net::SrNet;
use crate::seed::named_seed;
use crate::task::{EVAL_NOISE_SEED, Task};
use burn::tensor::{Tensor, backend::Backend};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// PSNR/SSIM of one image, RGB and Y.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImageScores {
    /// PSNR on RGB, in dB.
    pub psnr_rgb: f64,
    /// SSIM on RGB.
    pub ssim_rgb: f64,
    /// PSNR on the Y channel, in dB.
    pub psnr_y: f64,
    /// SSIM on the Y channel.
    pub ssim_y: f64,
}

/// Per-image entry of an [`EvalReport`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImageReport {
    /// Image file name.
    pub file: String,
    /// PSNR on RGB, in dB.
    pub psnr_rgb: f64,
    /// SSIM on RGB.
    pub ssim_rgb: f64,
    /// PSNR on the Y channel, in dB.
    pub psnr_y: f64,
    /// SSIM on the Y channel.
    pub ssim_y: f64,
}

/// Result of evaluating one model (or bicubic) on one test folder (`idc eval --json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    /// Mean PSNR on RGB over the images, in dB.
    pub psnr_rgb: f64,
    /// Mean SSIM on RGB over the images.
    pub ssim_rgb: f64,
    /// Mean PSNR on the Y channel over the images, in dB.
    pub psnr_y: f64,
    /// Mean SSIM on the Y channel over the images.
    pub ssim_y: f64,
    /// Per-image scores, in the order the images were evaluated.
    pub images: Vec<ImageReport>,
}

/// Inference options for evaluation and `idc upscale`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct InferOptions {
    /// Tile side in LR pixels (`None`: whole image at once).
    pub tile: Option<usize>,
    /// Context on each tile side in LR pixels; must cover the network's receptive radius for
    /// tiled == untiled.
    pub overlap: usize,
}

/// One evaluation image: file name, 8-bit GT (mod-cropped) and 8-bit LR.
#[derive(Clone, Debug)]
pub struct EvalPair {
    /// Image file name.
    pub file: String,
    /// Ground truth, mod-cropped to the scale and quantised to 8 bits.
    pub gt: Image,
    /// Network input: bicubic down-scaled `gt` quantised to 8 bits (SR), or `gt` plus the
    /// image's fixed seeded noise, unclipped (denoising).
    pub lr: Image,
    /// Border excluded from the scores ([`Task::crop_border`]).
    pub crop_border: usize,
}

/// BasicSR scores of an SR image against its GT (both quantised to 8 bits by the metrics).
pub fn score(sr: &Image, gt: &Image, crop_border: usize) -> Result<ImageScores> {
    let (psnr_rgb, ssim_rgb) = psnr_ssim(sr, gt, crop_border, false)?;
    let (psnr_y, ssim_y) = psnr_ssim(sr, gt, crop_border, true)?;
    Ok(ImageScores {
        psnr_rgb,
        ssim_rgb,
        psnr_y,
        ssim_y,
    })
}

/// GT and LR of one HR image under the BasicSR protocol.
pub fn make_pair(file: String, hr: &Image, scale: usize) -> Result<EvalPair> {
    let gt = try_mod_crop(hr, scale)?.quantized();
    let lr = imresize(&gt, 1.0 / scale as f64)?.quantized();
    Ok(EvalPair {
        file,
        gt,
        lr,
        crop_border: scale,
    })
}

/// GT and network input of one image under `task`'s protocol: [`make_pair`] for SR; for
/// denoising GT = the 8-bit image, input = GT plus one fixed noise draw seeded by
/// [`EVAL_NOISE_SEED`] and the file name (unclipped), no crop (SwinIR/KAIR).
pub fn make_task_pair(file: String, hr: &Image, task: &Task) -> Result<EvalPair> {
    task.validate()?;
    if task.sigma().is_none() {
        return make_pair(file, hr, task.scale());
    }
    let gt = hr.quantized();
    let seed = named_seed(EVAL_NOISE_SEED, &file);
    let lr = noisy_input(&gt, task, seed).unwrap_or_else(|| gt.clone());
    Ok(EvalPair {
        file,
        gt,
        lr,
        crop_border: task.crop_border(),
    })
}

/// Every image of `test_dir` (sorted by name) prepared with [`make_task_pair`].
pub fn prepare_task_pairs(test_dir: &Path, task: &Task) -> Result<Vec<EvalPair>> {
    if let Task::SuperResolution { scale } = *task {
        return prepare_pairs(test_dir, scale);
    }
    task.validate()?;
    list_test_images(test_dir)?
        .iter()
        .map(|p| make_task_pair(file_name(p), &decode_image(p)?, task))
        .collect()
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn list_test_images(test_dir: &Path) -> Result<Vec<std::path::PathBuf>> {
    let files = list_images(test_dir)?;
    if files.is_empty() {
        return Err(IdcError::InvalidInput(format!(
            "no images in {}",
            test_dir.display()
        )));
    }
    Ok(files)
}

/// The do-nothing denoising baseline (the analogue of bicubic): scores of the noisy input
/// itself, clipped and rounded to 8 bits, against the GT, for every image of `test_dir`.
pub fn evaluate_noisy(test_dir: &Path, task: &Task) -> Result<EvalReport> {
    if task.sigma().is_none() {
        return Err(IdcError::config(
            "task",
            "the noisy baseline is for denoising",
        ));
    }
    let images = prepare_task_pairs(test_dir, task)?
        .iter()
        .map(|p| {
            Ok(entry(
                &p.file,
                score(&p.lr.quantized(), &p.gt, p.crop_border)?,
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(report(images))
}

/// Evaluates `model` on every image of `test_dir` under `task`'s protocol (the model's scale
/// must be the task's).
pub fn evaluate_task<B: Backend, M: Teacher<B> + ?Sized>(
    model: &M,
    test_dir: &Path,
    task: &Task,
    opts: &InferOptions,
    device: &B::Device,
) -> Result<EvalReport> {
    if model.scale() != task.scale() {
        return Err(IdcError::InvalidInput(format!(
            "model output is x{}, task {} needs x{}",
            model.scale(),
            task.label(),
            task.scale()
        )));
    }
    evaluate_pairs(model, &prepare_task_pairs(test_dir, task)?, opts, device)
}

/// Every image of `test_dir` (sorted by name) prepared with [`make_pair`].
pub fn prepare_pairs(test_dir: &Path, scale: usize) -> Result<Vec<EvalPair>> {
    if !(2..=4).contains(&scale) {
        return Err(IdcError::config("scale", "must be 2, 3 or 4"));
    }
    let files = list_images(test_dir)?;
    if files.is_empty() {
        return Err(IdcError::InvalidInput(format!(
            "no images in {}",
            test_dir.display()
        )));
    }
    files
        .iter()
        .map(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            make_pair(name, &decode_image(p)?, scale)
        })
        .collect()
}

/// Model output for one LR image, clamped to `[0, 1]`, optionally tiled.
pub fn upscale_image<B: Backend, M: Teacher<B> + ?Sized>(
    model: &M,
    lr: &Image,
    opts: &InferOptions,
    device: &B::Device,
) -> Result<Image> {
    match opts.tile {
        Some(t) if t < lr.height.max(lr.width) => upscale_tiled(model, lr, t, opts.overlap, device),
        _ => run_whole(model, lr, device),
    }
}

fn run_whole<B: Backend, M: Teacher<B> + ?Sized>(
    model: &M,
    lr: &Image,
    device: &B::Device,
) -> Result<Image> {
    let x: Tensor<B, 4> = images_to_batch::<B>(std::slice::from_ref(lr), device)?;
    let y = model.upscale(x).clamp(0.0, 1.0);
    let [_, c, h, w] = y.dims();
    let s = model.scale();
    if (h, w) != (lr.height * s, lr.width * s) {
        return Err(IdcError::Model(format!(
            "model returned {h}x{w} for a {}x{} input at scale {s}",
            lr.height, lr.width
        )));
    }
    Image::from_tensor(y.reshape([c, h, w]))
}

/// Tiled inference (see the module docs for what is guaranteed).
pub fn upscale_tiled<B: Backend, M: Teacher<B> + ?Sized>(
    model: &M,
    lr: &Image,
    tile: usize,
    overlap: usize,
    device: &B::Device,
) -> Result<Image> {
    if tile == 0 {
        return Err(IdcError::config("tile", "must be positive"));
    }
    let s = model.scale();
    let (h, w) = (lr.height, lr.width);
    let mut out = Image::zeros(lr.channels, h * s, w * s);
    let mut top = 0;
    while top < h {
        let th = tile.min(h - top);
        let mut left = 0;
        while left < w {
            let tw = tile.min(w - left);
            // Input window: the core plus up to `overlap` pixels of context per side.
            let y0 = top.saturating_sub(overlap);
            let x0 = left.saturating_sub(overlap);
            let y1 = (top + th + overlap).min(h);
            let x1 = (left + tw + overlap).min(w);
            let patch = lr.crop(y0, x0, y1 - y0, x1 - x0)?;
            let sr = run_whole(model, &patch, device)?;
            // Copy the core's output.
            let (oy, ox) = ((top - y0) * s, (left - x0) * s);
            for c in 0..out.channels {
                for r in 0..th * s {
                    let src = (c * sr.height + oy + r) * sr.width + ox;
                    let dst = (c * out.height + top * s + r) * out.width + left * s;
                    out.data[dst..dst + tw * s].copy_from_slice(&sr.data[src..src + tw * s]);
                }
            }
            left += tw;
        }
        top += th;
    }
    Ok(out)
}

fn report(images: Vec<ImageReport>) -> EvalReport {
    let n = images.len().max(1) as f64;
    let mean = |f: fn(&ImageReport) -> f64| images.iter().map(f).sum::<f64>() / n;
    EvalReport {
        psnr_rgb: mean(|r| r.psnr_rgb),
        ssim_rgb: mean(|r| r.ssim_rgb),
        psnr_y: mean(|r| r.psnr_y),
        ssim_y: mean(|r| r.ssim_y),
        images,
    }
}

fn entry(file: &str, s: ImageScores) -> ImageReport {
    ImageReport {
        file: file.to_string(),
        psnr_rgb: s.psnr_rgb,
        ssim_rgb: s.ssim_rgb,
        psnr_y: s.psnr_y,
        ssim_y: s.ssim_y,
    }
}

/// Evaluates `model` on prepared pairs.
pub fn evaluate_pairs<B: Backend, M: Teacher<B> + ?Sized>(
    model: &M,
    pairs: &[EvalPair],
    opts: &InferOptions,
    device: &B::Device,
) -> Result<EvalReport> {
    let images = pairs
        .iter()
        .map(|p| {
            let sr = upscale_image(model, &p.lr, opts, device)?.quantized();
            Ok(entry(&p.file, score(&sr, &p.gt, p.crop_border)?))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(report(images))
}

/// Evaluates `model` on every image of `test_dir` (whole images, no tiling).
pub fn evaluate_model<B: Backend, M: Teacher<B> + ?Sized>(
    model: &M,
    test_dir: &Path,
    scale: usize,
    device: &B::Device,
) -> Result<EvalReport> {
    evaluate_model_with(model, test_dir, scale, &InferOptions::default(), device)
}

/// [`evaluate_model`] with inference options (tiling).
pub fn evaluate_model_with<B: Backend, M: Teacher<B> + ?Sized>(
    model: &M,
    test_dir: &Path,
    scale: usize,
    opts: &InferOptions,
    device: &B::Device,
) -> Result<EvalReport> {
    if model.scale() != scale {
        return Err(IdcError::InvalidInput(format!(
            "model up-samples x{}, evaluation asked for x{scale}",
            model.scale()
        )));
    }
    evaluate_pairs(model, &prepare_pairs(test_dir, scale)?, opts, device)
}

/// Bicubic baseline: SR = `imresize(LR, scale)` (MATLAB bicubic), same protocol.
pub fn evaluate_bicubic(test_dir: &Path, scale: usize) -> Result<EvalReport> {
    let pairs = prepare_pairs(test_dir, scale)?;
    let images = pairs
        .iter()
        .map(|p| {
            let sr = imresize(&p.lr, scale as f64)?;
            let sr = fit_to(&sr, p.gt.height, p.gt.width)?.quantized();
            Ok(entry(&p.file, score(&sr, &p.gt, scale)?))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(report(images))
}

/// `img` cropped to `h x w` (bicubic output is `ceil(in * scale)`, which equals the GT size for
/// mod-cropped GT; this only guards against off-by-one sizes).
fn fit_to(img: &Image, h: usize, w: usize) -> Result<Image> {
    if (img.height, img.width) == (h, w) {
        Ok(img.clone())
    } else {
        img.crop(0, 0, h.min(img.height), w.min(img.width))
    }
}

/// Default tiling: none when the image is at most `max_side` LR pixels per side or the network
/// has no finite receptive radius (SwinIR: whole images, as BasicSR tests it), else `tile` with
/// an overlap equal to the receptive radius (exact, see module docs).
pub fn infer_options_for<B: Backend>(
    model: &SrNet<B>,
    lr: &Image,
    max_side: usize,
) -> InferOptions {
    match model.receptive_radius() {
        Some(overlap) if lr.height.max(lr.width) > max_side => InferOptions {
            tile: Some(max_side / 2),
            overlap,
        },
        _ => InferOptions::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::edsr::EdsrConfig;
    use burn::backend::Flex;

    fn noise(h: usize, w: usize, seed: u64) -> Image {
        let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
        let data = (0..3 * h * w)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((x >> 40) % 256) as f32 / 255.0
            })
            .collect();
        Image::new(3, h, w, data).unwrap()
    }

    #[test]
    fn tiled_equals_untiled_with_receptive_overlap() {
        let device = Default::default();
        for scale in [2, 3] {
            let model = EdsrConfig::new(8, 2, scale).init_seeded::<Flex>(&device, 11);
            let lr = noise(23, 30, scale as u64);
            let whole = upscale_image(&model, &lr, &InferOptions::default(), &device).unwrap();
            let opts = InferOptions {
                tile: Some(8),
                overlap: model.receptive_radius(),
            };
            let tiled = upscale_image(&model, &lr, &opts, &device).unwrap();
            assert_eq!((tiled.height, tiled.width), (23 * scale, 30 * scale));
            let max = whole
                .data
                .iter()
                .zip(&tiled.data)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            assert!(max < 1e-5, "x{scale}: max |tiled - untiled| = {max}");
            assert_eq!(whole.to_u8(), tiled.to_u8());
            // Too little overlap really changes the output (the guarantee is not vacuous).
            let short = InferOptions {
                tile: Some(8),
                overlap: 1,
            };
            let bad = upscale_image(&model, &lr, &short, &device).unwrap();
            let max_bad = whole
                .data
                .iter()
                .zip(&bad.data)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            assert!(max_bad > 1e-4, "x{scale}: overlap 1 unexpectedly exact");
        }
    }

    #[test]
    fn pair_protocol_sizes() {
        let hr = noise(31, 26, 1);
        let p = make_pair("a.png".into(), &hr, 3).unwrap();
        assert_eq!((p.gt.height, p.gt.width), (30, 24));
        assert_eq!((p.lr.height, p.lr.width), (10, 8));
        // 8-bit values.
        assert!(
            p.lr.data
                .iter()
                .all(|v| ((v * 255.0).round() - v * 255.0).abs() < 1e-4)
        );
    }
}
