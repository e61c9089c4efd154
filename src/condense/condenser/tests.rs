//! The condenser's tests (Algorithm 1 end to end on tiny extractors).

use super::*;
use crate::condense::config::{CondenseConfig, InitMode, PixelParam};
use burn::backend::{Autodiff, Flex};
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{TensorData, backend::Backend};
use rand::Rng;
use rand::SeedableRng;
use rand::rngs::StdRng;

type AB = Autodiff<Flex>;

/// Fixed random 3x3 conv (3 -> `c` channels) + tanh: a tiny differentiable extractor, and a
/// nearest-neighbour x2 teacher.
pub(crate) struct TinyNet<B: Backend> {
    w: Tensor<B, 4>,
    c: usize,
}

impl<B: Backend> TinyNet<B> {
    pub fn new(c: usize, seed: u64, device: &B::Device) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let w: Vec<f32> = (0..c * 27).map(|_| rng.random_range(-0.5..0.5)).collect();
        Self {
            w: Tensor::from_data(TensorData::new(w, [c, 3, 3, 3]), device),
            c,
        }
    }
}

impl<B: Backend> FeatureExtractor<B> for TinyNet<B> {
    fn features(&self, lr: Tensor<B, 4>) -> Tensor<B, 4> {
        conv2d(
            lr,
            self.w.clone(),
            None,
            ConvOptions::new([1, 1], [1, 1], [1, 1], 1),
        )
        .tanh()
    }
    fn feature_channels(&self) -> usize {
        self.c
    }
    fn fingerprint(&self) -> String {
        "tiny".into()
    }
}

impl<B: Backend> Teacher<B> for TinyNet<B> {
    fn upscale(&self, lr: Tensor<B, 4>) -> Tensor<B, 4> {
        let [n, c, h, w] = lr.dims();
        lr.reshape([n, c, h, 1, w, 1])
            .repeat_dim(3, 2)
            .repeat_dim(5, 2)
            .reshape([n, c, 2 * h, 2 * w])
    }
    fn scale(&self) -> usize {
        2
    }
    fn fingerprint(&self) -> String {
        "nearest".into()
    }
}

/// Smooth random patches (sums of a few sinusoids) so features have structure.
pub(crate) fn toy_instance(n: usize, side: usize, seed: u64) -> Instance {
    let mut rng = StdRng::seed_from_u64(seed);
    let lr = (0..n)
        .map(|_| {
            let (a, b, ph): (f32, f32, f32) = (
                rng.random_range(0.1..0.8),
                rng.random_range(0.1..0.8),
                rng.random_range(0.0..6.0),
            );
            let mut data = Vec::with_capacity(3 * side * side);
            for c in 0..3 {
                for y in 0..side {
                    for x in 0..side {
                        let v = 0.5 + 0.3 * ((a * x as f32 + b * y as f32 + ph + c as f32).sin());
                        data.push(v.clamp(0.0, 1.0));
                    }
                }
            }
            Image::new(3, side, side, data).unwrap()
        })
        .collect();
    Instance {
        name: "toy".into(),
        lr,
    }
}

fn small_config() -> CondenseConfig {
    let mut c = CondenseConfig::default();
    c.ratio = 0.25;
    c.iters = 12;
    c.warmup = 3;
    c.assign = 4;
    c.assign_every = 2;
    c.rlff.c_out = 16;
    c.ncfd.num_freqs = 64;
    c.freq_bank = 4;
    c.groups = 3;
    c.real_chunk = 3;
    c.cf_chunk = 100;
    c
}

#[test]
fn same_seed_is_bit_identical_and_report_is_complete() {
    let dev = Default::default();
    let net = TinyNet::<AB>::new(6, 1, &dev);
    let inst = toy_instance(8, 12, 2);
    let cfg = small_config();
    let cond = Condenser::new(cfg.clone().check().unwrap(), &net, &net, dev).unwrap();
    let a = cond.condense(&inst, 5).unwrap();
    let b = cond.condense(&inst, 5).unwrap();
    assert_eq!(a.lr.len(), 2);
    assert_eq!(a.hr.len(), 2);
    assert_eq!(a.hr[0].height, 24);
    for (x, y) in a.lr.iter().zip(&b.lr) {
        assert_eq!(x.data, y.data, "same seed must give bit-identical patches");
    }
    assert_eq!(a.report.steps, b.report.steps);
    // Realism: measured, deterministic, in range; fresh-draw NCFD present.
    let r = a.report.realism.as_ref().expect("realism measured");
    assert_eq!(a.report.realism, b.report.realism);
    assert!((0.0..=1.0).contains(&r.out_of_gamut) && (0.0..=1.0).contains(&r.clipped));
    assert!((0.0..=1.0).contains(&r.histogram_distance) && r.hf_ratio > 0.0);
    assert!(r.ncfd_fresh.is_some_and(|v| v.is_finite() && v >= 0.0));
    assert!(r.real_spread.ncfd.is_some() && r.real_spread.size == 2);
    assert!(a.report.timings.realism_s > 0.0);
    let c = cond.condense(&inst, 6).unwrap();
    assert_ne!(a.lr[0].data, c.lr[0].data, "another seed should differ");
    // Report: terms inactive during warm-up, active afterwards.
    let s = &a.report.steps;
    assert_eq!(s.len(), cfg.iters);
    assert!(
        s[..3]
            .iter()
            .all(|r| r.instance.is_some() && r.group.is_none() && r.pair.is_none())
    );
    assert!(s[3..].iter().all(|r| r.group.is_some() && r.pair.is_some()));
    assert_eq!(a.report.quotas.iter().sum::<usize>(), 2 * 3 * 3);
    assert!(
        a.lr.iter()
            .all(|im| im.data.iter().all(|v| (0.0..=1.0).contains(v)))
    );
}

/// Sigmoid pixels never leave the gamut even at a learning rate that drives clamped pixels
/// out of it; chroma damping moves colour less than luma; the cosine schedule still moves
/// the patches. The reference switches (clamp, constant, chroma 1) are the old method.
#[test]
fn naturalness_knobs_keep_pixels_in_gamut_and_damp_colour() {
    use crate::condense::config::LrSchedule;
    let dev = Default::default();
    let net = TinyNet::<AB>::new(6, 1, &dev);
    let inst = toy_instance(8, 12, 2);
    let run = |f: &dyn Fn(&mut CondenseConfig)| {
        let mut cfg = small_config();
        cfg.lr = 0.2;
        // The reference switches; each case below changes one.
        (cfg.param, cfg.chroma_lr) = (PixelParam::Clamp, 1.0);
        f(&mut cfg);
        let out = Condenser::new(cfg.check().unwrap(), &net, &net, dev)
            .unwrap()
            .condense(&inst, 5)
            .unwrap();
        let r = out.report.realism.clone().expect("realism measured");
        (out, r)
    };
    let (_, clamp) = run(&|_| {});
    assert!(clamp.out_of_gamut > 0.0, "lr 0.2 overshoots [0, 1]");
    let (sig, sig_r) = run(&|c| c.param = PixelParam::Sigmoid);
    assert_eq!(sig_r.out_of_gamut, 0.0);
    assert!(
        sig.lr
            .iter()
            .all(|im| im.data.iter().all(|v| (0.0..=1.0).contains(v)))
    );
    // Chroma frozen (clamped pixels, a step that stays in gamut): every synthetic patch
    // keeps the chroma (RGB minus its mean) of the real patch it started from, while its
    // luma moves.
    let chroma = |im: &Image| -> Vec<f32> {
        let n = im.height * im.width;
        (0..3 * n)
            .map(|i| {
                im.data[i] - (im.data[i % n] + im.data[n + i % n] + im.data[2 * n + i % n]) / 3.0
            })
            .collect()
    };
    let (frozen, _) = run(&|c| {
        c.lr = 0.01;
        c.chroma_lr = 0.0;
    });
    for im in &frozen.lr {
        let start = inst
            .lr
            .iter()
            .min_by(|a, b| {
                let d = |r: &Image| {
                    chroma(r)
                        .iter()
                        .zip(chroma(im))
                        .map(|(x, y)| (x - y).abs())
                        .fold(0.0f32, f32::max)
                };
                d(a).total_cmp(&d(b))
            })
            .unwrap();
        let gap = chroma(start)
            .iter()
            .zip(chroma(im))
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max);
        assert!(gap < 1e-5, "chroma moved by {gap}");
        assert_ne!(start.data, im.data, "luma should move");
    }
    let (cos, _) = run(&|c| c.lr_schedule = LrSchedule::Cosine);
    assert!(cos.report.steps.iter().all(|r| r.total.is_finite()));
}

#[test]
fn fresh_draws_and_ablation_switches_run() {
    let dev = Default::default();
    let net = TinyNet::<AB>::new(4, 3, &dev);
    let inst = toy_instance(6, 8, 4);
    for mutate in [
        (|c: &mut CondenseConfig| c.freq_bank = 0) as fn(&mut CondenseConfig),
        |c| c.rlff.enabled = false,
        |c| c.rlff.unfold = false,
        |c| {
            c.w_pair = 0.0;
            c.init = InitMode::Noise;
        },
        |c| {
            c.w_ins = 0.0;
            c.assign = 0;
            c.init = InitMode::RealNoise;
        },
    ] {
        let mut cfg = small_config();
        cfg.iters = 6;
        mutate(&mut cfg);
        let cond = Condenser::new(cfg.clone().check().unwrap(), &net, &net, dev).unwrap();
        let out = cond.condense(&inst, 1).unwrap();
        assert_eq!(out.lr.len(), 2);
        for r in &out.report.steps {
            assert!(r.total.is_finite());
            assert_eq!(r.instance.is_some(), cfg.w_ins > 0.0);
            assert_eq!(r.pair.is_some(), cfg.w_pair > 0.0 && r.step >= cfg.warmup);
        }
    }
}

#[test]
fn rejects_invalid_inputs() {
    let dev = Default::default();
    let net = TinyNet::<AB>::new(2, 3, &dev);
    let mut cfg = small_config();
    cfg.rlff.c_out = 100; // > 2 * 2 * 9 = 36 filters
    assert!(Condenser::new(cfg.check().unwrap(), &net, &net, dev).is_err());
    let cond = Condenser::new(small_config().check().unwrap(), &net, &net, dev).unwrap();
    let empty = Instance {
        name: "e".into(),
        lr: vec![],
    };
    assert!(cond.condense(&empty, 0).is_err());
    let tiny = toy_instance(3, 2, 0); // 2x2 maps < one 4x4 local patch
    assert!(cond.condense(&tiny, 0).is_err());
}

#[test]
fn instance_ncfd_zero_for_same_set_and_lower_for_condensed() {
    let dev = Default::default();
    let net = TinyNet::<AB>::new(6, 1, &dev);
    let inst = toy_instance(8, 12, 2);
    let cfg = small_config().check().unwrap();
    let same = crate::condense::instance_ncfd(&net, &cfg, &inst.lr, &inst.lr, 3, &dev).unwrap();
    assert!(same.abs() < 1e-5, "{same}");
    let other = toy_instance(8, 12, 99);
    let d = crate::condense::instance_ncfd(&net, &cfg, &inst.lr, &other.lr, 3, &dev).unwrap();
    assert!(d > same + 1e-3, "{d}");
}

/// Largest absolute pixel difference between two runs' synthetic LR patches.
fn max_abs_diff(a: &CondensedInstance, b: &CondensedInstance) -> f32 {
    assert_eq!(a.lr.len(), b.lr.len());
    a.lr.iter()
        .zip(&b.lr)
        .flat_map(|(x, y)| x.data.iter().zip(&y.data).map(|(p, q)| (p - q).abs()))
        .fold(0.0, f32::max)
}

/// Three instances of different sizes (so different patch counts, groups and quotas).
fn three_instances() -> Vec<(Instance, u64)> {
    [(10, 21), (16, 22), (6, 23)]
        .into_iter()
        .enumerate()
        .map(|(k, (n, seed))| {
            let mut inst = toy_instance(n, 12, seed);
            inst.name = format!("toy{k}");
            (inst, 100 + k as u64)
        })
        .collect()
}

#[test]
fn batch_of_three_matches_separate_runs_and_is_deterministic() {
    use burn::module::Module;
    let dev = Default::default();
    let net = crate::models::edsr::EdsrConfig::from_arch("edsr:8x1", 2)
        .unwrap()
        .init_seeded::<AB>(&dev, 3)
        .no_grad();
    let mut cfg = small_config();
    cfg.iters = 20;
    let cond = Condenser::new(cfg.clone().check().unwrap(), &net, &net, dev).unwrap();
    let jobs = three_instances();
    let refs: Vec<(&Instance, u64)> = jobs.iter().map(|(i, s)| (i, *s)).collect();
    let batched: Vec<CondensedInstance> = cond
        .condense_batch(&refs)
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    let sizes: Vec<usize> = batched.iter().map(|b| b.lr.len()).collect();
    assert_eq!(sizes, vec![3, 4, 2]);
    for ((inst, seed), b) in jobs.iter().zip(&batched) {
        let alone = cond.condense(inst, *seed).unwrap();
        let d = max_abs_diff(&alone, b);
        assert!(d <= 1e-4, "{}: batched vs alone differ by {d}", inst.name);
        assert_eq!(alone.report.quotas, b.report.quotas);
        assert_eq!(alone.report.steps.len(), cfg.iters);
        assert_eq!(b.report.steps.len(), cfg.iters);
        assert_eq!(b.report.name, inst.name);
        let dh = alone
            .hr
            .iter()
            .zip(&b.hr)
            .flat_map(|(x, y)| x.data.iter().zip(&y.data).map(|(p, q)| (p - q).abs()));
        assert!(dh.fold(0.0, f32::max) <= 1e-3);
    }
    let again = cond.condense_batch(&refs);
    for (a, b) in again.into_iter().zip(&batched) {
        let a = a.unwrap();
        for (x, y) in a.lr.iter().zip(&b.lr) {
            assert_eq!(x.data, y.data, "two batched runs must be bit-identical");
        }
        assert_eq!(a.report.steps, b.report.steps);
    }
}

#[test]
fn failed_instance_in_a_batch_leaves_the_others() {
    let dev = Default::default();
    let net = TinyNet::<AB>::new(6, 1, &dev);
    let mut cfg = small_config();
    cfg.iters = 4;
    let cond = Condenser::new(cfg.check().unwrap(), &net, &net, dev).unwrap();
    let good = toy_instance(8, 12, 2);
    let empty = Instance {
        name: "e".into(),
        lr: vec![],
    };
    let other_size = toy_instance(8, 10, 3);
    let out = cond.condense_batch(&[(&empty, 0), (&good, 5), (&other_size, 1)]);
    assert!(out[0].is_err());
    assert!(
        out[2].is_err(),
        "a different patch size cannot join the batch"
    );
    let alone = cond.condense(&good, 5).unwrap();
    let batched = out.into_iter().nth(1).unwrap().unwrap();
    assert_eq!(max_abs_diff(&alone, &batched), 0.0);
    assert!(cond.condense_batch(&[]).is_empty());
}
