//! Random selection: a seeded uniform sample without replacement.

use crate::error::{IdcError, Result};
use rand::SeedableRng;
use rand::rngs::StdRng;

/// `k` distinct indices drawn uniformly from `0..n_pool` with a `StdRng` seeded by `seed`,
/// returned in ascending order (the order of the pool, so shards keep patch order).
///
/// Errors when `k > n_pool`.
pub fn select_random(n_pool: usize, k: usize, seed: u64) -> Result<Vec<usize>> {
    if k > n_pool {
        return Err(IdcError::InvalidInput(format!(
            "cannot select {k} of {n_pool} patches"
        )));
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let mut picked = rand::seq::index::sample(&mut rng, n_pool, k).into_vec();
    picked.sort_unstable();
    Ok(picked)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn exact_count_distinct_in_range_and_seeded() {
        for (n, k) in [(1, 1), (10, 0), (10, 10), (1000, 100), (7, 3)] {
            let a = select_random(n, k, 42).unwrap();
            assert_eq!(a.len(), k);
            assert_eq!(a.iter().collect::<HashSet<_>>().len(), k);
            assert!(a.iter().all(|&i| i < n));
            assert_eq!(a, select_random(n, k, 42).unwrap());
        }
        assert_ne!(
            select_random(1000, 100, 1).unwrap(),
            select_random(1000, 100, 2).unwrap()
        );
        assert!(select_random(3, 4, 0).is_err());
    }

    #[test]
    fn roughly_uniform() {
        // Each of 20 indices is drawn with probability 1/4 per seed; over 400 seeds the counts
        // must sit near 100 (a biased sampler would show a clear skew).
        let mut counts = [0usize; 20];
        for seed in 0..400 {
            for i in select_random(20, 5, seed).unwrap() {
                counts[i] += 1;
            }
        }
        assert!(
            counts.iter().all(|&c| (60..=140).contains(&c)),
            "{counts:?}"
        );
    }
}
