//! Deterministic synthetic test images (a built-in default input when no real folder is given,
//! and fixtures for tests and benches): gradients, oriented stripes, discs and hashed noise, so
//! patches have edges and texture at several scales like natural images.

use super::Image;
use crate::error::Result;
use crate::seed::splitmix64 as hash;
use std::path::{Path, PathBuf};

/// Writes `count` images `synthetic_000.png`, ... (`size x size`) into `dir`; files that already
/// exist are kept, so a cache built on them stays valid.
pub fn write_synthetic_images(dir: &Path, count: usize, size: usize) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|e| crate::IdcError::io(dir, e))?;
    let mut out = Vec::new();
    for k in 0..count {
        let path = dir.join(format!("synthetic_{k:03}.png"));
        if !path.is_file() {
            super::io::save_png(&path, &synthetic_image(k, size))?;
        }
        out.push(path);
    }
    Ok(out)
}

/// One synthetic image: a mix of a colour gradient, oriented stripes, discs and hashed noise
/// whose parameters depend on `k` (textures and edges at several scales, like natural images).
pub fn synthetic_image(k: usize, size: usize) -> Image {
    let n = size * size;
    let mut data = vec![0f32; 3 * n];
    let kf = k as f32;
    let angle = 0.37 * kf + 0.2;
    let (ca, sa) = (angle.cos(), angle.sin());
    let freq = 0.08 + 0.05 * (k % 5) as f32;
    let discs: Vec<(f32, f32, f32)> = (0..4)
        .map(|d| {
            let h = hash((k * 16 + d) as u64);
            (
                (h % 1000) as f32 / 1000.0 * size as f32,
                ((h / 1000) % 1000) as f32 / 1000.0 * size as f32,
                size as f32 * (0.06 + ((h / 1_000_000) % 100) as f32 / 800.0),
            )
        })
        .collect();
    for y in 0..size {
        for x in 0..size {
            let (xf, yf) = (x as f32, y as f32);
            let t = (xf * ca + yf * sa) * freq;
            let stripes = 0.5 + 0.5 * t.sin();
            let inside = discs
                .iter()
                .any(|&(cx, cy, r)| (xf - cx).powi(2) + (yf - cy).powi(2) < r * r);
            let noise = (hash((k * n + y * size + x) as u64) % 256) as f32 / 255.0;
            for c in 0..3 {
                let grad = (xf / size as f32) * (c as f32 * 0.3 + 0.2) + (yf / size as f32) * 0.3;
                let mut v = 0.45 * grad + 0.35 * stripes * (0.5 + 0.25 * c as f32) + 0.1 * noise;
                if inside {
                    v = 1.0 - v * 0.8;
                }
                data[c * n + y * size + x] = v.clamp(0.0, 1.0);
            }
        }
    }
    Image {
        channels: 3,
        height: size,
        width: size,
        data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_images_are_deterministic_and_distinct() {
        let a = synthetic_image(0, 32);
        assert_eq!(a, synthetic_image(0, 32));
        assert_ne!(a, synthetic_image(1, 32));
        assert!(a.data.iter().all(|v| (0.0..=1.0).contains(v)));
    }
}
