//! DCSR-style selection (after Ding et al. 2023, `QingtangDing/DCSR`): prune flat patches by a
//! Sobel texture score, cluster the rest, sample every cluster in proportion to its size.
//!
//! 1. Texture score of a patch ([`texture_score`]): grey HR patch, mean of
//!    `0.5 |Sobel_x| + 0.5 |Sobel_y|` over the *valid* region (pixels whose 3x3 neighbourhood lies
//!    inside the patch, so no border rule is needed).
//! 2. Keep the patches whose score is **strictly above** the median of all scores.
//! 3. k-means (15 clusters, k-means++ init; the shared [`crate::condense::kmeans`]) on the kept
//!    patches' features. DCSR clusters DeepTen
//!    texture descriptors; DeepTen is not available here, so the features are the frozen ISR
//!    extractor's globally average-pooled feature maps (the same features herding and k-center use).
//! 4. Per-cluster quotas proportional to cluster sizes by the largest-remainder method
//!    (`floor(k s_c / M)` each, the leftover units to the largest fractional parts, ties to the
//!    lower cluster index), so the quotas sum to exactly `k`; each cluster is sampled uniformly
//!    without replacement with a seeded `StdRng`.
//!
//! **Fill rule**: if fewer than `k` patches lie strictly above the median (only when `k > N/2`,
//! e.g. `ratio > 0.5`, or a per-instance budget on a tiny image), all of them are taken and the
//! remaining slots are filled with the highest-scoring other patches (ties to the lower index).
//! [`DcsrSelection::filled`] counts them; it is 0 whenever `k <= #above`.

use super::features::FeatureMatrix;
use crate::condense::kmeans::{kmeans, quotas};
use crate::error::{IdcError, Result};
use crate::image::Image;
use rand::{SeedableRng, rngs::StdRng};

/// Number of k-means clusters (DCSR's setting).
pub const DCSR_CLUSTERS: usize = 15;
/// Lloyd iteration cap for the DCSR k-means.
const KMEANS_MAX_ITER: usize = 100;

/// Grey value of an RGB pixel: ITU-R BT.601 luma `0.299 R + 0.587 G + 0.114 B` (OpenCV's
/// `COLOR_RGB2GRAY`, which DCSR's reference code uses); a 1-channel image is its own grey.
fn grey(img: &Image) -> Vec<f32> {
    let n = img.height * img.width;
    if img.channels < 3 {
        return img.plane(0).to_vec();
    }
    let (r, g, b) = (img.plane(0), img.plane(1), img.plane(2));
    (0..n)
        .map(|i| 0.299 * r[i] + 0.587 * g[i] + 0.114 * b[i])
        .collect()
}

/// Texture score: mean over the valid region of `0.5 |G_x| + 0.5 |G_y|`, with the 3x3 Sobel
/// kernels on the grey image (values in `[0, 1]`). Images smaller than 3x3 score 0.
pub fn texture_score(img: &Image) -> f32 {
    let (h, w) = (img.height, img.width);
    if h < 3 || w < 3 {
        return 0.0;
    }
    let g = grey(img);
    let at = |y: usize, x: usize| g[y * w + x] as f64;
    let mut total = 0.0f64;
    for y in 1..h - 1 {
        for x in 1..w - 1 {
            let gx = (at(y - 1, x + 1) + 2.0 * at(y, x + 1) + at(y + 1, x + 1))
                - (at(y - 1, x - 1) + 2.0 * at(y, x - 1) + at(y + 1, x - 1));
            let gy = (at(y + 1, x - 1) + 2.0 * at(y + 1, x) + at(y + 1, x + 1))
                - (at(y - 1, x - 1) + 2.0 * at(y - 1, x) + at(y - 1, x + 1));
            total += 0.5 * gx.abs() + 0.5 * gy.abs();
        }
    }
    (total / ((h - 2) * (w - 2)) as f64) as f32
}

/// Median (mean of the two middle values for an even count); `None` when empty.
pub fn median(values: &[f32]) -> Option<f32> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f32::total_cmp);
    let m = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[m]
    } else {
        // midpoint in f64 to avoid overflow/rounding surprises
        ((v[m - 1] as f64 + v[m] as f64) / 2.0) as f32
    })
}

/// Result of [`dcsr`].
#[derive(Clone, Debug, PartialEq)]
pub struct DcsrSelection {
    /// Selected pool indices, ascending.
    pub indices: Vec<usize>,
    /// Median texture score of the pool.
    pub median: f32,
    /// Patches strictly above the median.
    pub above_median: usize,
    /// Selected patches taken by the fill rule (score not above the median).
    pub filled: usize,
}

/// DCSR-style selection of `k` of the `scores.len()` patches (see the module docs).
///
/// `features` has one row per patch (same order as `scores`). Errors when the lengths differ or
/// `k` exceeds the pool.
pub fn dcsr(
    scores: &[f32],
    features: &FeatureMatrix,
    k: usize,
    seed: u64,
) -> Result<DcsrSelection> {
    let n = scores.len();
    if features.rows() != n {
        return Err(IdcError::InvalidInput(format!(
            "{n} texture scores but {} feature rows",
            features.rows()
        )));
    }
    if k > n {
        return Err(IdcError::InvalidInput(format!(
            "cannot select {k} of {n} patches"
        )));
    }
    if scores.iter().any(|s| !s.is_finite()) {
        return Err(IdcError::InvalidInput(
            "texture score is NaN or infinite".into(),
        ));
    }
    let Some(med) = median(scores) else {
        return Ok(DcsrSelection {
            indices: Vec::new(),
            median: 0.0,
            above_median: 0,
            filled: 0,
        });
    };
    let above: Vec<usize> = (0..n).filter(|&i| scores[i] > med).collect();
    let mut picked: Vec<usize>;
    let mut filled = 0;
    if above.len() <= k {
        picked = above.clone();
        let mut rest: Vec<usize> = (0..n).filter(|&i| scores[i] <= med).collect();
        rest.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
        filled = k - above.len();
        picked.extend_from_slice(&rest[..filled]);
    } else {
        let mut rows = Vec::with_capacity(above.len() * features.dim());
        for &i in &above {
            rows.extend_from_slice(features.row(i));
        }
        let clusters = DCSR_CLUSTERS.min(above.len());
        let mut km_rng = StdRng::seed_from_u64(seed);
        let km = kmeans(
            &rows,
            features.dim(),
            clusters,
            KMEANS_MAX_ITER,
            &mut km_rng,
        );
        let mut members: Vec<Vec<usize>> = vec![Vec::new(); km.k];
        for (j, &c) in km.labels.iter().enumerate() {
            members[c].push(above[j]);
        }
        let sizes: Vec<usize> = members.iter().map(Vec::len).collect();
        let quota = quotas(&sizes, k);
        // a stream independent of the k-means draws
        let mut rng = StdRng::seed_from_u64(seed ^ 0x0dc5_0dc5_0dc5_0dc5);
        picked = Vec::with_capacity(k);
        for (m, &q) in members.iter().zip(&quota) {
            for j in rand::seq::index::sample(&mut rng, m.len(), q) {
                picked.push(m[j]);
            }
        }
    }
    picked.sort_unstable();
    Ok(DcsrSelection {
        indices: picked,
        median: med,
        above_median: above.len(),
        filled,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;
    use std::collections::HashSet;

    #[test]
    fn texture_of_flat_and_edges() {
        assert_eq!(texture_score(&Image::zeros(3, 8, 8)), 0.0);
        let flat = Image::new(3, 5, 5, vec![0.7; 75]).unwrap();
        assert!(texture_score(&flat).abs() < 1e-6);
        // vertical step 0 -> 1 between columns 1 and 2 of a 4x4 grey image: valid pixels are
        // (1..3)x(1..3); columns 1 and 2 see |Gx| = 4, Gy = 0 -> mean 0.5*4 = 2.
        let mut data = vec![0.0; 16];
        for y in 0..4 {
            for x in 2..4 {
                data[y * 4 + x] = 1.0;
            }
        }
        let step = Image::new(1, 4, 4, data.clone()).unwrap();
        assert!((texture_score(&step) - 2.0).abs() < 1e-6);
        // the same step in RGB (equal channels) scores the same: luma weights sum to 1
        let rgb = Image::new(3, 4, 4, [data.clone(), data.clone(), data].concat()).unwrap();
        assert!((texture_score(&rgb) - 2.0).abs() < 1e-5);
        assert_eq!(texture_score(&Image::zeros(3, 2, 9)), 0.0);
    }

    #[test]
    fn median_and_quotas() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        // the shared largest-remainder rule never exceeds a cluster's size when k <= pool
        for (sizes, k) in [
            (vec![7, 7, 7], 10),
            (vec![1, 100, 3], 50),
            (vec![4, 0, 4], 8),
        ] {
            let q = quotas(&sizes, k);
            assert_eq!(q.iter().sum::<usize>(), k);
            assert!(q.iter().zip(&sizes).all(|(a, b)| a <= b));
        }
    }

    fn pool(n: usize, seed: u64) -> (Vec<f32>, FeatureMatrix) {
        let mut rng = StdRng::seed_from_u64(seed);
        let scores = (0..n).map(|_| rng.random::<f32>()).collect();
        let feats = (0..n * 4).map(|_| rng.random::<f32>()).collect();
        (scores, FeatureMatrix::new(n, 4, feats).unwrap())
    }

    #[test]
    fn selects_k_above_median_seeded() {
        let (s, f) = pool(400, 2);
        let med = median(&s).unwrap();
        for k in [1, 15, 40, 200] {
            let sel = dcsr(&s, &f, k, 7).unwrap();
            assert_eq!(sel.indices.len(), k);
            assert_eq!(sel.indices.iter().collect::<HashSet<_>>().len(), k);
            assert!(sel.indices.iter().all(|&i| s[i] > med));
            assert_eq!(sel.filled, 0);
            assert_eq!(sel, dcsr(&s, &f, k, 7).unwrap());
        }
        assert_ne!(dcsr(&s, &f, 40, 1).unwrap(), dcsr(&s, &f, 40, 2).unwrap());
    }

    #[test]
    fn fill_rule_when_too_few_above_median() {
        let (s, f) = pool(10, 3);
        let sel = dcsr(&s, &f, 8, 0).unwrap();
        assert_eq!(sel.above_median, 5);
        assert_eq!(sel.filled, 3);
        assert_eq!(sel.indices.len(), 8);
        // the two left out are the two lowest scores
        let mut order: Vec<usize> = (0..10).collect();
        order.sort_by(|&a, &b| s[a].total_cmp(&s[b]));
        assert!(!sel.indices.contains(&order[0]) && !sel.indices.contains(&order[1]));
        // a single patch is never above its own median: filled
        let one = FeatureMatrix::new(1, 4, vec![0.0; 4]).unwrap();
        assert_eq!(dcsr(&[0.3], &one, 1, 0).unwrap().indices, vec![0]);
        assert!(dcsr(&s, &f, 11, 0).is_err());
        assert!(dcsr(&s[..9], &f, 1, 0).is_err());
    }
}
