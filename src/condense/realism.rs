//! Realism of condensed patches (issue #25): how far an instance's synthetic LR patches drift
//! from its own real LR patches, in measures a person can read, next to the spread the real
//! patches show against themselves.
//!
//! Distribution matching only constrains the features the extractor sees; the pixels are free
//! to wander wherever those features stay matched (over-saturated colours, speckle, values
//! pushed against the gamut edges). Each measure below names one such failure:
//!
//! - **`out_of_gamut`**: fraction of synthetic values outside `[0, 1]` *before* the clamp of
//!   the last Adam step (the optimiser clamps after every step, so the stored patches never
//!   are): how hard the loss pushes pixels out of the displayable range. Real patches are 8-bit
//!   values, 0 by construction.
//! - **`clipped`**: fraction of synthetic values at exactly 0 or 1 after the clamp (where
//!   out-of-gamut pushes end up); real photographs clip too, hence the real spread.
//! - **`saturation_excess`**: mean HSV saturation `(max - min) / max` over pixels, synthetic
//!   minus real: distribution matching is known to over-saturate (colour is cheap for the
//!   features), and a positive excess is what a viewer sees as "too colourful".
//! - **`hf_ratio`**: mean squared 4-neighbour Laplacian per value, synthetic over real
//!   (1 = same high-frequency energy): RLFF rewards high frequencies, and speckle or ringing
//!   shows as a ratio well above 1; a blurred result goes below 1.
//! - **`histogram_distance`**: total-variation distance (0..1) between the joint RGB
//!   histograms (8 bins per channel) of synthetic and real values: colours that do not occur in
//!   the image, invisible to the per-pixel means above.
//! - **`ncfd_fresh`**: the instance NCFD ([`super::eval::instance_ncfd`]) between the real and
//!   synthetic patches under *fresh* (channel subset, frequency) draws from a stream the
//!   optimisation never used, so it measures distribution fit rather than fit to the draws the
//!   patches were optimised against.
//!
//! **Real spread** ([`RealSpread`]): each pixel measure of random subsets of the real patches,
//! of the synthetic set's size, against all real patches (and the NCFD of the first subset): what
//! the random-selection baseline of the same size scores, so a synthetic value is judged against
//! sampling noise, not against 0 (a small real sample never has histogram distance 0).

use super::common::stream;
use super::config::ValidCondenseConfig;
use super::eval::ncfd_sets;
use crate::error::Result;
use crate::image::Image;
use crate::models::FeatureExtractor;
use burn::tensor::backend::AutodiffBackend;
use serde::{Deserialize, Serialize};

/// Real subsets drawn for the real spread.
pub const SPREAD_SUBSETS: usize = 8;
/// Histogram bins per channel (8^3 joint RGB bins).
const HIST_BINS: usize = 8;
/// Added to both high-frequency energies, so a flat real patch gives a finite ratio.
const HF_EPS: f64 = 1e-8;
/// Stream of the instance seed for realism's draws (the optimisation uses streams 1-4).
const REALISM_STREAM: u64 = 5;

/// Mean and (population) standard deviation of a measure over real subsets or instances.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    /// Mean.
    pub mean: f64,
    /// Standard deviation (population).
    pub std: f64,
}

impl Spread {
    /// The spread of `values` (0, 0 when empty).
    pub fn of(values: &[f64]) -> Spread {
        if values.is_empty() {
            return Spread::default();
        }
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        Spread {
            mean,
            std: var.sqrt(),
        }
    }
}

/// The measures of random real subsets (the synthetic set's size) against all real patches.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RealSpread {
    /// Subsets drawn.
    pub subsets: usize,
    /// Patches per subset (the synthetic count, at most the real count).
    pub size: usize,
    /// Fraction of subset values at 0 or 1.
    pub clipped: Spread,
    /// Subset minus all-real mean saturation.
    pub saturation_excess: Spread,
    /// Subset over all-real high-frequency energy.
    pub hf_ratio: Spread,
    /// Subset vs all-real histogram distance.
    pub histogram_distance: Spread,
    /// NCFD of the first subset against all real patches, with the same fresh draws.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ncfd: Option<f64>,
}

/// One instance's realism: synthetic against real patches (see the module docs).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Realism {
    /// Fraction of synthetic values outside `[0, 1]` before the last clamp.
    pub out_of_gamut: f64,
    /// Fraction of synthetic values at exactly 0 or 1.
    pub clipped: f64,
    /// Mean HSV saturation, synthetic minus real.
    pub saturation_excess: f64,
    /// Laplacian energy, synthetic over real.
    pub hf_ratio: f64,
    /// Total-variation distance of the joint RGB histograms, synthetic vs real.
    pub histogram_distance: f64,
    /// Instance NCFD under fresh draws (None where no extractor measured it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ncfd_fresh: Option<f64>,
    /// The same measures between real subsets and all real patches.
    pub real_spread: RealSpread,
}

/// Fraction of values outside `[0, 1]` (0 for no values).
pub fn out_of_gamut(images: &[Image]) -> f64 {
    fraction(images, |v| !(0.0..=1.0).contains(&v))
}

/// Fraction of values at or beyond the gamut edges (`<= 0` or `>= 1`).
pub fn clipped(images: &[Image]) -> f64 {
    fraction(images, |v| v <= 0.0 || v >= 1.0)
}

fn fraction(images: &[Image], hit: impl Fn(f32) -> bool) -> f64 {
    let total: usize = images.iter().map(|im| im.data.len()).sum();
    let hits: usize = images
        .iter()
        .map(|im| im.data.iter().filter(|&&v| hit(v)).count())
        .sum();
    if total == 0 {
        0.0
    } else {
        hits as f64 / total as f64
    }
}

/// Mean HSV saturation `(max - min) / max` of the RGB pixels, values clamped to `[0, 1]`
/// (black pixels and images with fewer than 3 channels have saturation 0).
pub fn mean_saturation(images: &[Image]) -> f64 {
    let (mut sum, mut count) = (0.0f64, 0usize);
    for im in images {
        let plane = im.height * im.width;
        count += plane;
        if im.channels < 3 {
            continue;
        }
        let (r, g, b) = (im.plane(0), im.plane(1), im.plane(2));
        for i in 0..plane {
            let px = [r[i], g[i], b[i]].map(|v| v.clamp(0.0, 1.0));
            let max = px[0].max(px[1]).max(px[2]);
            let min = px[0].min(px[1]).min(px[2]);
            if max > 1e-6 {
                sum += f64::from((max - min) / max);
            }
        }
    }
    if count == 0 { 0.0 } else { sum / count as f64 }
}

/// Mean squared 4-neighbour Laplacian over the interior values of every channel (0 for images
/// smaller than 3x3).
pub fn hf_energy(images: &[Image]) -> f64 {
    let (mut sum, mut count) = (0.0f64, 0usize);
    for im in images {
        let (h, w) = (im.height, im.width);
        if h < 3 || w < 3 {
            continue;
        }
        for c in 0..im.channels {
            let p = im.plane(c);
            for y in 1..h - 1 {
                for x in 1..w - 1 {
                    let i = y * w + x;
                    let lap = 4.0 * p[i] - p[i - 1] - p[i + 1] - p[i - w] - p[i + w];
                    sum += f64::from(lap) * f64::from(lap);
                }
            }
            count += (h - 2) * (w - 2);
        }
    }
    if count == 0 { 0.0 } else { sum / count as f64 }
}

/// Normalised joint histogram of the first (up to) 3 channels, `HIST_BINS` bins each, values
/// clamped to `[0, 1]`.
pub fn colour_histogram(images: &[Image]) -> Vec<f64> {
    let dims = images.first().map_or(0, |im| im.channels.min(3)) as u32;
    let mut hist = vec![0.0f64; HIST_BINS.pow(dims)];
    let mut total = 0usize;
    for im in images.iter().filter(|im| im.channels.min(3) as u32 == dims) {
        let plane = im.height * im.width;
        for i in 0..plane {
            let mut idx = 0;
            for c in 0..dims as usize {
                let v = im.data[c * plane + i].clamp(0.0, 1.0);
                let bin = ((v * HIST_BINS as f32) as usize).min(HIST_BINS - 1);
                idx = idx * HIST_BINS + bin;
            }
            hist[idx] += 1.0;
        }
        total += plane;
    }
    if total > 0 {
        hist.iter_mut().for_each(|h| *h /= total as f64);
    }
    hist
}

/// Total-variation distance `sum |p - q| / 2` between two histograms (0 = equal, 1 = disjoint).
pub fn histogram_distance(p: &[f64], q: &[f64]) -> f64 {
    let n = p.len().max(q.len());
    let at = |h: &[f64], i: usize| h.get(i).copied().unwrap_or(0.0);
    0.5 * (0..n).map(|i| (at(p, i) - at(q, i)).abs()).sum::<f64>()
}

/// The per-set statistics the pixel measures compare.
struct PixelStats {
    clipped: f64,
    saturation: f64,
    hf: f64,
    histogram: Vec<f64>,
}

impl PixelStats {
    fn of(images: &[Image]) -> Self {
        Self {
            clipped: clipped(images),
            saturation: mean_saturation(images),
            hf: hf_energy(images),
            histogram: colour_histogram(images),
        }
    }

    /// `(saturation excess, hf ratio, histogram distance)` of `self` against `real`.
    fn against(&self, real: &PixelStats) -> (f64, f64, f64) {
        (
            self.saturation - real.saturation,
            (self.hf + HF_EPS) / (real.hf + HF_EPS),
            histogram_distance(&self.histogram, &real.histogram),
        )
    }
}

/// `SPREAD_SUBSETS` random subsets of `size` real patch indices (out of `n_real`), from the
/// realism stream of `seed`.
fn real_subsets(n_real: usize, size: usize, seed: u64) -> Vec<Vec<usize>> {
    let mut rng = stream(seed, REALISM_STREAM);
    let size = size.clamp(1, n_real.max(1));
    (0..SPREAD_SUBSETS)
        .map(|_| rand::seq::index::sample(&mut rng, n_real, size.min(n_real)).into_vec())
        .collect()
}

impl Realism {
    /// The pixel measures of `synthetic` against `real` (no NCFD), with the real spread from
    /// subsets drawn from `seed`'s realism stream. `unclipped` holds the optimiser's values
    /// before its last clamp (None: `synthetic` itself).
    pub fn pixels(
        synthetic: &[Image],
        unclipped: Option<&[Image]>,
        real: &[Image],
        seed: u64,
    ) -> Realism {
        let subsets = real_subsets(real.len(), synthetic.len(), seed);
        Self::pixels_over(synthetic, unclipped, real, &subsets)
    }

    /// [`Self::pixels`] with the real subsets given (drawn once by the caller).
    fn pixels_over(
        synthetic: &[Image],
        unclipped: Option<&[Image]>,
        real: &[Image],
        subsets: &[Vec<usize>],
    ) -> Realism {
        let all = PixelStats::of(real);
        let syn = PixelStats::of(synthetic);
        let (saturation_excess, hf_ratio, histogram_distance) = syn.against(&all);
        let mut columns: [Vec<f64>; 4] = Default::default();
        for idx in subsets {
            let pick: Vec<Image> = idx.iter().map(|&i| real[i].clone()).collect();
            let s = PixelStats::of(&pick);
            let (sat, hf, hist) = s.against(&all);
            for (col, v) in columns.iter_mut().zip([s.clipped, sat, hf, hist]) {
                col.push(v);
            }
        }
        Realism {
            out_of_gamut: out_of_gamut(unclipped.unwrap_or(synthetic)),
            clipped: syn.clipped,
            saturation_excess,
            hf_ratio,
            histogram_distance,
            ncfd_fresh: None,
            real_spread: RealSpread {
                subsets: subsets.len(),
                size: subsets.first().map_or(0, Vec::len),
                clipped: Spread::of(&columns[0]),
                saturation_excess: Spread::of(&columns[1]),
                hf_ratio: Spread::of(&columns[2]),
                histogram_distance: Spread::of(&columns[3]),
                ncfd: None,
            },
        }
    }

    /// [`Self::pixels`] plus the fresh-draw NCFD of the synthetic patches and of the first real
    /// subset against `real` under the condenser's `extractor` (one forward over each of the
    /// three sets; characteristic functions on the inner backend, like the real side's bank).
    pub fn measure<B: AutodiffBackend, E: FeatureExtractor<B>>(
        extractor: &E,
        config: &ValidCondenseConfig,
        synthetic: &[Image],
        unclipped: Option<&[Image]>,
        real: &[Image],
        seed: u64,
        device: &B::Device,
    ) -> Result<Realism> {
        let subsets = real_subsets(real.len(), synthetic.len(), seed);
        let mut r = Self::pixels_over(synthetic, unclipped, real, &subsets);
        let first: Vec<Image> = subsets
            .first()
            .map(|idx| idx.iter().map(|&i| real[i].clone()).collect())
            .unwrap_or_default();
        let v = ncfd_sets::<B, B::InnerBackend, E>(
            extractor,
            config,
            real,
            &[synthetic, &first],
            fresh_ncfd_seed(seed),
            device,
            |t| t.inner(),
        )?;
        r.ncfd_fresh = v.first().copied();
        r.real_spread.ncfd = v.get(1).copied();
        Ok(r)
    }
}

/// The seed of the fresh NCFD draws of the instance condensed with `seed`: its realism stream,
/// so never the (subset, frequency) draws the optimisation used (streams 3 and 4 of `seed`).
pub fn fresh_ncfd_seed(seed: u64) -> u64 {
    crate::seed::mix_seed(seed, REALISM_STREAM, 1)
}

/// [`Realism`] over several instances (`idc inspect --json`'s `"realism"`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RealismSummary {
    /// Instances that record a realism.
    pub instances: usize,
    /// Each measure's mean over those instances (`ncfd_fresh` over those that have it; the real
    /// spread's means and standard deviations averaged too).
    pub mean: Realism,
    /// Every instance's measures, by name.
    pub per_instance: Vec<InstanceRealism>,
}

/// One instance's [`Realism`] with its name (fields flattened).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InstanceRealism {
    /// Instance name.
    pub instance: String,
    /// Its measures.
    #[serde(flatten)]
    pub realism: Realism,
}

/// The columns of a realism table row (out of gamut, saturation excess, hf ratio, histogram
/// distance, fresh NCFD), `" | "`-separated: one format for every table that shows them.
pub fn markdown_cells(r: &Realism) -> String {
    format!(
        "{:.2}% | {:+.3} | {:.2} | {:.3} | {}",
        100.0 * r.out_of_gamut,
        r.saturation_excess,
        r.hf_ratio,
        r.histogram_distance,
        r.ncfd_fresh.map_or("-".into(), |v| format!("{v:.4}")),
    )
}

/// [`markdown_cells`] of the real subsets (mean ± std; out of gamut is 0 for 8-bit patches).
pub fn spread_markdown_cells(s: &RealSpread) -> String {
    format!(
        "0 | {:+.3} ± {:.3} | {:.2} ± {:.2} | {:.3} ± {:.3} | {}",
        s.saturation_excess.mean,
        s.saturation_excess.std,
        s.hf_ratio.mean,
        s.hf_ratio.std,
        s.histogram_distance.mean,
        s.histogram_distance.std,
        s.ncfd.map_or("-".into(), |v| format!("{v:.4}")),
    )
}

impl RealismSummary {
    /// The summary of `items` (None when empty).
    pub fn of(items: Vec<InstanceRealism>) -> Option<RealismSummary> {
        if items.is_empty() {
            return None;
        }
        let all: Vec<&Realism> = items.iter().map(|i| &i.realism).collect();
        Some(RealismSummary {
            instances: items.len(),
            mean: mean_realism(&all),
            per_instance: items,
        })
    }
}

/// Field-wise mean of `rs` (non-empty).
fn mean_realism(rs: &[&Realism]) -> Realism {
    let n = rs.len().max(1) as f64;
    let avg = |f: &dyn Fn(&Realism) -> f64| rs.iter().map(|r| f(r)).sum::<f64>() / n;
    let opt = |f: &dyn Fn(&Realism) -> Option<f64>| {
        let v: Vec<f64> = rs.iter().filter_map(|r| f(r)).collect();
        (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
    };
    let spread = |f: &dyn Fn(&RealSpread) -> Spread| Spread {
        mean: avg(&|r| f(&r.real_spread).mean),
        std: avg(&|r| f(&r.real_spread).std),
    };
    Realism {
        out_of_gamut: avg(&|r| r.out_of_gamut),
        clipped: avg(&|r| r.clipped),
        saturation_excess: avg(&|r| r.saturation_excess),
        hf_ratio: avg(&|r| r.hf_ratio),
        histogram_distance: avg(&|r| r.histogram_distance),
        ncfd_fresh: opt(&|r| r.ncfd_fresh),
        real_spread: RealSpread {
            subsets: rs.first().map_or(0, |r| r.real_spread.subsets),
            size: avg(&|r| r.real_spread.size as f64).round() as usize,
            clipped: spread(&|s| s.clipped),
            saturation_excess: spread(&|s| s.saturation_excess),
            hf_ratio: spread(&|s| s.hf_ratio),
            histogram_distance: spread(&|s| s.histogram_distance),
            ncfd: opt(&|r| r.real_spread.ncfd),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A smooth, moderately coloured patch (low-frequency sinusoids, like a photograph's LR
    /// patch); `k` shifts the phase so patches differ.
    fn smooth(k: usize, side: usize) -> Image {
        let mut data = Vec::with_capacity(3 * side * side);
        for c in 0..3 {
            for y in 0..side {
                for x in 0..side {
                    let t = 0.25 * x as f32 + 0.15 * y as f32 + 0.7 * k as f32 + c as f32;
                    data.push(0.45 + 0.1 * c as f32 + 0.15 * t.sin());
                }
            }
        }
        Image::new(3, side, side, data).unwrap()
    }

    /// Cyan / magenta speckle overshooting the gamut (what a runaway optimiser makes).
    fn speckle(side: usize) -> Image {
        let mut data = vec![0.0; 3 * side * side];
        for y in 0..side {
            for x in 0..side {
                let i = y * side + x;
                let (r, g) = if (x + y) % 2 == 0 {
                    (-0.2, 1.2)
                } else {
                    (1.2, -0.2)
                };
                data[i] = r;
                data[side * side + i] = g;
                data[2 * side * side + i] = 1.2;
            }
        }
        Image::new(3, side, side, data).unwrap()
    }

    #[test]
    fn real_patches_against_themselves_score_no_excess() {
        let real: Vec<Image> = (0..8).map(|k| smooth(k, 16)).collect();
        let r = Realism::pixels(&real, None, &real, 3);
        assert_eq!(r.out_of_gamut, 0.0);
        assert_eq!(r.clipped, 0.0);
        assert!(r.saturation_excess.abs() < 1e-12, "{r:?}");
        assert!((r.hf_ratio - 1.0).abs() < 1e-12, "{r:?}");
        assert!(r.histogram_distance < 1e-12, "{r:?}");
        // Subsets of all 8 are all 8: no spread either.
        assert_eq!(r.real_spread.size, 8);
        assert!(r.real_spread.histogram_distance.mean < 1e-12);
        // Two real patches against the eight: within a few spreads of the real subsets' values.
        let two = &real[2..4];
        let r = Realism::pixels(two, None, &real, 3);
        let s = &r.real_spread;
        assert_eq!((s.subsets, s.size), (SPREAD_SUBSETS, 2));
        assert!(s.saturation_excess.std > 0.0 && s.hf_ratio.std > 0.0);
        let within = |v: f64, sp: Spread| (v - sp.mean).abs() <= 4.0 * sp.std;
        assert!(within(r.saturation_excess, s.saturation_excess), "{r:?}");
        assert!((r.hf_ratio - 1.0).abs() < 0.5, "{r:?}");
        assert!(within(r.histogram_distance, s.histogram_distance), "{r:?}");
    }

    #[test]
    fn saturated_out_of_gamut_speckle_scores_high() {
        let real: Vec<Image> = (0..8).map(|k| smooth(k, 16)).collect();
        let bad = vec![speckle(16), speckle(16)];
        let clamped: Vec<Image> = bad
            .iter()
            .map(|im| {
                let d = im.data.iter().map(|v| v.clamp(0.0, 1.0)).collect();
                Image::new(3, 16, 16, d).unwrap()
            })
            .collect();
        let r = Realism::pixels(&clamped, Some(&bad), &real, 3);
        assert_eq!(r.out_of_gamut, 1.0, "every value overshoots");
        assert_eq!(r.clipped, 1.0);
        assert!(r.saturation_excess > 0.5, "{r:?}");
        assert!(r.hf_ratio > 100.0, "{r:?}");
        assert!(r.histogram_distance > 0.99, "{r:?}");
        // Measured on the clamped patches alone, nothing is out of gamut any more.
        assert_eq!(Realism::pixels(&clamped, None, &real, 3).out_of_gamut, 0.0);
        let s = &r.real_spread;
        assert!(r.saturation_excess > s.saturation_excess.mean + 10.0 * s.saturation_excess.std);
        assert!(r.histogram_distance > s.histogram_distance.mean + 0.5);
    }

    #[test]
    fn measures_on_known_values() {
        let grey = Image::new(3, 3, 3, vec![0.5; 27]).unwrap();
        assert_eq!(mean_saturation(std::slice::from_ref(&grey)), 0.0);
        assert_eq!(hf_energy(std::slice::from_ref(&grey)), 0.0);
        // One red pixel (1, 0, 0) in the centre: saturation 1/9, Laplacian 4 on channel 0 only.
        let mut d = vec![0.0; 27];
        d[4] = 1.0;
        let dot = Image::new(3, 3, 3, d).unwrap();
        assert!((mean_saturation(std::slice::from_ref(&dot)) - 1.0 / 9.0).abs() < 1e-12);
        assert!((hf_energy(std::slice::from_ref(&dot)) - 16.0 / 3.0).abs() < 1e-12);
        let (hg, hd) = (colour_histogram(&[grey]), colour_histogram(&[dot]));
        assert_eq!(hg.len(), 512);
        assert!((hg.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!((histogram_distance(&hg, &hd) - 1.0).abs() < 1e-12);
        assert_eq!(histogram_distance(&hd, &hd), 0.0);
        let s = Spread::of(&[1.0, 3.0]);
        assert_eq!((s.mean, s.std), (2.0, 1.0));
        assert_eq!(Spread::of(&[]), Spread::default());
        assert_ne!(fresh_ncfd_seed(7), fresh_ncfd_seed(8));
        assert_ne!(fresh_ncfd_seed(7), crate::seed::mix_seed(7, 4, 0));
    }

    #[test]
    fn fresh_ncfd_is_zero_for_the_real_set_and_summaries_average() {
        use crate::condense::condenser::tests::TinyNet;
        type B = burn::backend::Autodiff<burn::backend::Flex>;
        let dev = Default::default();
        let net = TinyNet::<B>::new(4, 1, &dev);
        let mut cfg = crate::condense::CondenseConfig::default();
        cfg.rlff.c_out = 16;
        cfg.ncfd.num_freqs = 32;
        cfg.eval_draws = 2;
        let cfg = cfg.check().unwrap();
        let real: Vec<Image> = (0..6).map(|k| smooth(k, 12)).collect();
        let same = Realism::measure(&net, &cfg, &real, None, &real, 1, &dev).unwrap();
        assert!(same.ncfd_fresh.unwrap().abs() < 1e-5, "{same:?}");
        assert!(
            same.real_spread.ncfd.unwrap().abs() < 1e-5,
            "subsets of all are all"
        );
        let bad = vec![speckle(12)];
        let r = Realism::measure(&net, &cfg, &bad, None, &real, 1, &dev).unwrap();
        let (syn, sub) = (r.ncfd_fresh.unwrap(), r.real_spread.ncfd.unwrap());
        assert!(syn > sub + 1e-3, "speckle {syn} vs a real patch {sub}");
        let again = Realism::measure(&net, &cfg, &bad, None, &real, 1, &dev).unwrap();
        assert_eq!(again, r, "deterministic for a seed");

        let item = |name: &str, r: &Realism| InstanceRealism {
            instance: name.into(),
            realism: r.clone(),
        };
        let s = RealismSummary::of(vec![item("a", &same), item("b", &r)]).unwrap();
        assert_eq!(s.instances, 2);
        assert!((s.mean.hf_ratio - (same.hf_ratio + r.hf_ratio) / 2.0).abs() < 1e-9);
        assert!(RealismSummary::of(Vec::new()).is_none());
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["per_instance"][1]["instance"], "b");
        assert!(json["per_instance"][1]["hf_ratio"].as_f64().unwrap() > 100.0);
        let back: RealismSummary = serde_json::from_value(json).unwrap();
        assert_eq!(back, s);
    }
}
