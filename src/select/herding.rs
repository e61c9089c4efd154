//! Herding (Welling 2009): greedy moment matching of the selected set to the pool.
//!
//! Step `t` (1-based) adds the unselected patch `x` that minimises
//! `|| (S + x) / t - mu ||`, where `S` is the feature sum of the `t - 1` patches already chosen
//! and `mu` the pool mean. That is the patch closest to `t mu - S`, so each step is one pass of
//! `N` distance evaluations (`O(N k d)` in total, memory `O(N)` beyond the features).
//!
//! This is the **argmin** of the herding criterion. DeepCore's `herding.py` takes the argmax of
//! its (equivalent) distance, which picks the patch that moves the mean *away* from the pool
//! mean; we deliberately do not copy that.

use super::features::FeatureMatrix;
use crate::error::{IdcError, Result};

/// Indices of `k` patches in the order herding picks them (ties: the lower index wins).
///
/// Deterministic: herding has no random choice. Errors when `k > features.rows()`.
pub fn herding(features: &FeatureMatrix, k: usize) -> Result<Vec<usize>> {
    let n = features.rows();
    let d = features.dim();
    if k > n {
        return Err(IdcError::InvalidInput(format!(
            "cannot select {k} of {n} patches"
        )));
    }
    let mu = features.mean();
    let mut sum = vec![0.0f64; d];
    let mut target = vec![0.0f64; d];
    let mut taken = vec![false; n];
    let mut order = Vec::with_capacity(k);
    for t in 1..=k {
        for ((tg, &m), &s) in target.iter_mut().zip(&mu).zip(&sum) {
            *tg = t as f64 * m - s;
        }
        let mut best = usize::MAX;
        let mut best_d = f64::INFINITY;
        for (i, _) in taken.iter().enumerate().filter(|(_, t)| !**t) {
            let row = features.row(i);
            let mut dist = 0.0f64;
            for (&x, &tg) in row.iter().zip(&target) {
                let diff = x as f64 - tg;
                dist += diff * diff;
            }
            if dist < best_d {
                best_d = dist;
                best = i;
            }
        }
        taken[best] = true;
        order.push(best);
        for (s, &x) in sum.iter_mut().zip(features.row(best)) {
            *s += x as f64;
        }
    }
    Ok(order)
}

/// `|| mean(features[selected]) - mean(features) ||` (Euclidean); `0` for an empty selection
/// would be meaningless, so it is `+inf` then.
pub fn mean_gap(features: &FeatureMatrix, selected: &[usize]) -> f64 {
    if selected.is_empty() {
        return f64::INFINITY;
    }
    let mu = features.mean();
    let mut m = vec![0.0f64; features.dim()];
    for &i in selected {
        for (acc, &v) in m.iter_mut().zip(features.row(i)) {
            *acc += v as f64;
        }
    }
    m.iter()
        .zip(&mu)
        .map(|(a, b)| {
            let d = a / selected.len() as f64 - b;
            d * d
        })
        .sum::<f64>()
        .sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::select::random::select_random;
    use rand::{Rng, SeedableRng, rngs::StdRng};
    use std::collections::HashSet;

    fn blob(n: usize, d: usize, seed: u64) -> FeatureMatrix {
        let mut rng = StdRng::seed_from_u64(seed);
        let data = (0..n * d)
            .map(|i| rng.random::<f32>() * if i % d == 0 { 5.0 } else { 1.0 })
            .collect();
        FeatureMatrix::new(n, d, data).unwrap()
    }

    #[test]
    fn first_pick_is_closest_to_mean_and_no_duplicates() {
        let f = FeatureMatrix::from_rows(&[vec![0.0], vec![10.0], vec![4.0], vec![6.0]]).unwrap();
        // mean 5: 4 and 6 tie at distance 1 -> lower index (2); then target 2*5-4 = 6 -> index 3.
        assert_eq!(herding(&f, 2).unwrap(), vec![2, 3]);
        let all = herding(&f, 4).unwrap();
        assert_eq!(all.iter().collect::<HashSet<_>>().len(), 4);
        assert!(herding(&f, 5).is_err());
        assert!(herding(&f, 0).unwrap().is_empty());
    }

    #[test]
    fn argmin_not_argmax() {
        // Pool mean 25.75: argmin picks 2.0 (index 3); the argmax variant would pick the outlier.
        let f = FeatureMatrix::from_rows(&[vec![100.0], vec![1.0], vec![0.0], vec![2.0]]).unwrap();
        assert_eq!(herding(&f, 1).unwrap(), vec![3]);
        // then target 2 * 25.75 - 2 = 49.5: the outlier (distance 50.5) loses to 1.0 (48.5)
        assert_eq!(herding(&f, 2).unwrap(), vec![3, 1]);
    }

    #[test]
    fn beats_random_on_mean_gap() {
        let f = blob(500, 8, 3);
        for k in [5, 20, 50] {
            let h = mean_gap(&f, &herding(&f, k).unwrap());
            for seed in 0..5 {
                let r = mean_gap(&f, &select_random(500, k, seed).unwrap());
                assert!(h < r, "k={k} herding {h} random {r}");
            }
        }
    }
}
