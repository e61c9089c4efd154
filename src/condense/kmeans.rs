//! Grouping for the group and pair losses (paper 3.4), on the host (the point sets are small:
//! one averaged feature vector per local patch).
//!
//! - [`kmeans`]: k-means++ initialisation (seeded) and Lloyd iterations; an empty cluster is
//!   re-seeded at the point farthest from its centroid so every group keeps real members.
//! - [`quotas`]: synthetic counts proportional to the real group sizes, by largest-remainder
//!   rounding (ties to the lower group index), so they sum exactly to the synthetic count.
//! - [`assign_with_quotas`]: greedy nearest-centroid assignment: all (point, group) distances
//!   in ascending order (ties by point then group index), a pair is taken when the point is
//!   still free and the group still has quota.

use rand::Rng;

/// Squared L2 distance of two `d`-vectors.
fn dist2(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| {
            let d = (*x - *y) as f64;
            d * d
        })
        .sum()
}

/// Result of [`kmeans`].
#[derive(Clone, Debug)]
pub struct KMeans {
    /// `k x d` centroids, row-major.
    pub centroids: Vec<f32>,
    /// Group of each point.
    pub labels: Vec<usize>,
    /// Number of groups `k` (at most the number of points).
    pub k: usize,
    /// Dimension `d`.
    pub dim: usize,
}

impl KMeans {
    /// Number of points in each group.
    pub fn sizes(&self) -> Vec<usize> {
        let mut s = vec![0; self.k];
        for &l in &self.labels {
            s[l] += 1;
        }
        s
    }

    /// Centroid `m`.
    pub fn centroid(&self, m: usize) -> &[f32] {
        &self.centroids[m * self.dim..(m + 1) * self.dim]
    }
}

/// k-means of `points` (`n x d`, row-major) into `min(k, n)` groups: k-means++ seeding from
/// `rng`, then up to `iters` Lloyd iterations (stops early when labels no longer change).
pub fn kmeans(points: &[f32], d: usize, k: usize, iters: usize, rng: &mut impl Rng) -> KMeans {
    let n = points.len().checked_div(d).unwrap_or(0);
    let k = k.min(n).max(1);
    if n == 0 {
        return KMeans {
            centroids: vec![0.0; d],
            labels: Vec::new(),
            k: 1,
            dim: d,
        };
    }
    let mut centroids = plus_plus_init(points, d, k, rng);
    let mut labels = vec![usize::MAX; n];
    for _ in 0..iters.max(1) {
        if !assign_nearest(points, d, &centroids, k, &mut labels) {
            break;
        }
        let mut counts = update_centroids(points, d, &labels, k, &mut centroids);
        reseed_empty(points, d, &mut labels, &mut counts, &mut centroids);
    }
    KMeans {
        centroids,
        labels,
        k,
        dim: d,
    }
}

/// k-means++ seeding of `k` centroids (`k x d`) from the `n x d` `points` (`n >= 1`): the
/// first centre uniform, each next one drawn proportionally to the squared distance to the
/// nearest centre so far (uniform again when every point sits on a centre).
fn plus_plus_init(points: &[f32], d: usize, k: usize, rng: &mut impl Rng) -> Vec<f32> {
    let n = points.len() / d;
    let row = |i: usize| &points[i * d..(i + 1) * d];
    let mut centroids = Vec::with_capacity(k * d);
    let first = rng.random_range(0..n);
    centroids.extend_from_slice(row(first));
    let mut best: Vec<f64> = (0..n).map(|i| dist2(row(i), row(first))).collect();
    for _ in 1..k {
        let total: f64 = best.iter().sum();
        let pick = if total <= 0.0 {
            rng.random_range(0..n)
        } else {
            let mut target = rng.random::<f64>() * total;
            let mut chosen = n - 1;
            for (i, b) in best.iter().enumerate() {
                if target < *b {
                    chosen = i;
                    break;
                }
                target -= b;
            }
            chosen
        };
        centroids.extend_from_slice(row(pick));
        let c = centroids.len() / d - 1;
        for (i, b) in best.iter_mut().enumerate() {
            *b = b.min(dist2(row(i), &centroids[c * d..(c + 1) * d]));
        }
    }
    centroids
}

/// Lloyd's assignment step: each point's label becomes its nearest centroid; whether any
/// label changed (none changed: converged).
fn assign_nearest(
    points: &[f32],
    d: usize,
    centroids: &[f32],
    k: usize,
    labels: &mut [usize],
) -> bool {
    let mut changed = false;
    for (i, label) in labels.iter_mut().enumerate() {
        let l = nearest(&points[i * d..(i + 1) * d], centroids, d, k);
        if *label != l {
            *label = l;
            changed = true;
        }
    }
    changed
}

/// Lloyd's update step: each non-empty group's centroid becomes its members' mean (summed
/// in f64); empty groups keep theirs. The group sizes.
fn update_centroids(
    points: &[f32],
    d: usize,
    labels: &[usize],
    k: usize,
    centroids: &mut [f32],
) -> Vec<usize> {
    let mut sums = vec![0f64; k * d];
    let mut counts = vec![0usize; k];
    for (i, &l) in labels.iter().enumerate() {
        counts[l] += 1;
        for (s, v) in sums[l * d..(l + 1) * d]
            .iter_mut()
            .zip(&points[i * d..(i + 1) * d])
        {
            *s += *v as f64;
        }
    }
    for m in 0..k {
        if counts[m] > 0 {
            for j in 0..d {
                centroids[m * d + j] = (sums[m * d + j] / counts[m] as f64) as f32;
            }
        }
    }
    counts
}

/// Re-seeds each empty group at the point farthest from its own centroid (taken from a group
/// with more than one member, ties to the lower point index), so every group keeps a member.
fn reseed_empty(
    points: &[f32],
    d: usize,
    labels: &mut [usize],
    counts: &mut [usize],
    centroids: &mut [f32],
) {
    let n = labels.len();
    let row = |i: usize| &points[i * d..(i + 1) * d];
    for m in 0..counts.len() {
        if counts[m] == 0 {
            let far = (0..n).filter(|&i| counts[labels[i]] > 1).max_by(|&a, &b| {
                let da = dist2(row(a), &centroids[labels[a] * d..(labels[a] + 1) * d]);
                let db = dist2(row(b), &centroids[labels[b] * d..(labels[b] + 1) * d]);
                da.total_cmp(&db).then(b.cmp(&a))
            });
            if let Some(i) = far {
                counts[labels[i]] -= 1;
                counts[m] = 1;
                labels[i] = m;
                centroids[m * d..(m + 1) * d].copy_from_slice(row(i));
            }
        }
    }
}

/// Index of the nearest of `k` centroids (ties to the lower index).
pub fn nearest(x: &[f32], centroids: &[f32], d: usize, k: usize) -> usize {
    let mut best = (f64::INFINITY, 0);
    for m in 0..k {
        let dd = dist2(x, &centroids[m * d..(m + 1) * d]);
        if dd < best.0 {
            best = (dd, m);
        }
    }
    best.1
}

/// Synthetic quota per group: `total * size_m / sum(size)`, floored, then the remaining units go
/// to the largest fractional remainders (ties to the lower group index). Sums to `total`.
pub fn quotas(sizes: &[usize], total: usize) -> Vec<usize> {
    let n: usize = sizes.iter().sum();
    if n == 0 || sizes.is_empty() {
        return vec![0; sizes.len()];
    }
    let mut q: Vec<usize> = sizes.iter().map(|&s| s * total / n).collect();
    let mut rem: Vec<(usize, usize)> = sizes
        .iter()
        .enumerate()
        .map(|(m, &s)| ((s * total) % n, m))
        .collect();
    rem.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let left = total - q.iter().sum::<usize>();
    for &(_, m) in rem.iter().take(left) {
        q[m] += 1;
    }
    q
}

/// Greedy nearest-centroid assignment of `points` (`n x d`) under `quotas` (must sum to `n`):
/// returns the group of each point.
pub fn assign_with_quotas(
    points: &[f32],
    d: usize,
    centroids: &[f32],
    quotas: &[usize],
) -> Vec<usize> {
    let n = points.len().checked_div(d).unwrap_or(0);
    let k = quotas.len();
    let mut pairs: Vec<(f64, usize, usize)> = Vec::with_capacity(n * k);
    for i in 0..n {
        for m in 0..k {
            pairs.push((
                dist2(&points[i * d..(i + 1) * d], &centroids[m * d..(m + 1) * d]),
                i,
                m,
            ));
        }
    }
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let mut left = quotas.to_vec();
    let mut out = vec![usize::MAX; n];
    let mut done = 0;
    for (_, i, m) in pairs {
        if out[i] == usize::MAX && left[m] > 0 {
            out[i] = m;
            left[m] -= 1;
            done += 1;
            if done == n {
                break;
            }
        }
    }
    // Quotas that do not cover every point (not produced by `quotas`): nearest centroid.
    for (i, o) in out.iter_mut().enumerate() {
        if *o == usize::MAX {
            *o = nearest(&points[i * d..(i + 1) * d], centroids, d, k);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{SeedableRng, rngs::StdRng};

    #[test]
    fn quotas_largest_remainder_hand_worked() {
        // 5 * (7, 2, 1) / 10 = (3.5, 1.0, 0.5): floors (3, 1, 0), one unit left, remainders
        // tie at 0.5 between groups 0 and 2 -> the lower index.
        assert_eq!(quotas(&[7, 2, 1], 5), vec![4, 1, 0]);
        // 7 * (6, 3, 2) / 11 = (3.82, 1.91, 1.27): floors (3, 1, 1), two units left, to the
        // largest remainders 10/11 (group 1) and 9/11 (group 0).
        assert_eq!(quotas(&[6, 3, 2], 7), vec![4, 2, 1]);
        // Nothing to share, or nothing to share by.
        assert_eq!(quotas(&[4, 4], 0), vec![0, 0]);
        assert_eq!(quotas(&[0, 0], 3), vec![0, 0]);
    }

    #[test]
    fn quotas_sum_and_follow_proportions() {
        for (sizes, total) in [
            (vec![50usize, 30, 20], 10usize),
            (vec![1, 1, 1], 2),
            (vec![7, 0, 3], 4),
            (vec![100, 1, 1, 1], 9),
            (vec![3, 3, 3, 3], 13),
        ] {
            let q = quotas(&sizes, total);
            assert_eq!(q.iter().sum::<usize>(), total, "{sizes:?}");
            let n: usize = sizes.iter().sum();
            for (m, (&s, &qm)) in sizes.iter().zip(&q).enumerate() {
                let exact = s as f64 * total as f64 / n as f64;
                assert!(
                    (qm as f64 - exact).abs() < 1.0,
                    "group {m}: quota {qm} vs exact {exact}"
                );
                if s == 0 {
                    assert_eq!(qm, 0);
                }
            }
        }
        assert_eq!(quotas(&[50, 30, 20], 10), vec![5, 3, 2]);
        // 4 * (5, 3, 2) / 10 = (2.0, 1.2, 0.8): the remaining unit goes to the 0.8.
        assert_eq!(quotas(&[5, 3, 2], 4), vec![2, 1, 1]);
        // Equal remainders: lower index first.
        assert_eq!(quotas(&[1, 1, 1], 2), vec![1, 1, 0]);
    }

    #[test]
    fn kmeans_separates_blobs() {
        let mut rng = StdRng::seed_from_u64(0);
        let mut pts = Vec::new();
        for c in [[0f32, 0.0], [10.0, 0.0], [0.0, 10.0]] {
            for _ in 0..30 {
                pts.push(c[0] + rng.random_range(-1.0..1.0));
                pts.push(c[1] + rng.random_range(-1.0..1.0));
            }
        }
        let km = kmeans(&pts, 2, 3, 20, &mut StdRng::seed_from_u64(1));
        assert_eq!(km.sizes().iter().copied().collect::<Vec<_>>().len(), 3);
        let mut s = km.sizes();
        s.sort();
        assert_eq!(s, vec![30, 30, 30]);
        for b in 0..3 {
            let l = km.labels[b * 30];
            assert!(km.labels[b * 30..(b + 1) * 30].iter().all(|&x| x == l));
        }
        // k larger than the number of points.
        let km = kmeans(&pts[..4], 2, 5, 5, &mut StdRng::seed_from_u64(1));
        assert_eq!(km.k, 2);
    }

    #[test]
    fn assignment_respects_quotas_and_prefers_nearest() {
        let centroids = [0f32, 0.0, 10.0, 10.0];
        // Three points near centroid 0, one near centroid 1; quotas (2, 2).
        let pts = [0.1f32, 0.0, 0.2, 0.0, 3.0, 3.0, 9.0, 9.0];
        let a = assign_with_quotas(&pts, 2, &centroids, &[2, 2]);
        assert_eq!(a, vec![0, 0, 1, 1]);
        let a = assign_with_quotas(&pts, 2, &centroids, &[3, 1]);
        assert_eq!(a, vec![0, 0, 0, 1]);
    }
}
