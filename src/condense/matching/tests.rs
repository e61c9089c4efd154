//! The matching terms' tests (instance, group and pair levels on toy instances).

use super::*;
use crate::condense::condenser::tests::{TinyNet, toy_instance};
use crate::condense::config::CondenseConfig;
use crate::condense::real::RealContext;
use crate::condense::rlff::{FilterBank, host_vec};
use crate::image::images_to_batch;
use crate::models::FeatureExtractor;
use burn::backend::{Autodiff, Flex};

type AB = Autodiff<Flex>;

/// `[n][c][h][w]` feature maps in f64.
type Maps = Vec<Vec<Vec<Vec<f64>>>>;

fn maps(v: &[f32], [n, c, h, w]: [usize; 4]) -> Maps {
    (0..n)
        .map(|i| {
            (0..c)
                .map(|ch| {
                    (0..h)
                        .map(|y| {
                            (0..w)
                                .map(|x| v[((i * c + ch) * h + y) * w + x] as f64)
                                .collect()
                        })
                        .collect()
                })
                .collect()
        })
        .collect()
}

/// Batch norm with the f64 mean and biased variance of `real`, applied to `x`.
fn bn_f64(real: &Maps, x: &Maps, eps: f64) -> Maps {
    let c = real[0].len();
    let mut out = x.clone();
    for ch in 0..c {
        let vals: Vec<f64> = real
            .iter()
            .flat_map(|m| m[ch].iter().flatten().copied())
            .collect();
        let mean = vals.iter().sum::<f64>() / vals.len() as f64;
        let var = vals.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / vals.len() as f64;
        for m in out.iter_mut() {
            for row in m[ch].iter_mut() {
                for v in row.iter_mut() {
                    *v = (*v - mean) / (var + eps).sqrt();
                }
            }
        }
    }
    out
}

/// "Same" zero-padded convolution with `filters` (`[C_out, c, k, k]`), or identity.
fn rlff_f64(x: &Maps, filters: Option<(&[f32], usize)>) -> Maps {
    let Some((f, k)) = filters else {
        return x.clone();
    };
    let (c, h, w) = (x[0].len(), x[0][0].len(), x[0][0][0].len());
    let c_out = f.len() / (c * k * k);
    let pad = (k / 2) as isize;
    x.iter()
        .map(|m| {
            (0..c_out)
                .map(|o| {
                    (0..h)
                        .map(|y| {
                            (0..w)
                                .map(|xx| {
                                    let mut acc = 0.0;
                                    for ci in 0..c {
                                        for ky in 0..k {
                                            for kx in 0..k {
                                                let yy = y as isize + ky as isize - pad;
                                                let xs = xx as isize + kx as isize - pad;
                                                if yy >= 0
                                                    && xs >= 0
                                                    && (yy as usize) < h
                                                    && (xs as usize) < w
                                                {
                                                    acc += f[((o * c + ci) * k + ky) * k + kx]
                                                        as f64
                                                        * m[ci][yy as usize][xs as usize];
                                                }
                                            }
                                        }
                                    }
                                    acc
                                })
                                .collect()
                        })
                        .collect()
                })
                .collect()
        })
        .collect()
}

/// Local patches in (image, row, column) order: `s` samples of `d` values each, unfolded
/// (`p^2` samples of `C`) or flattened channel-major (1 sample of `C p^2`), optionally
/// L2-normalised per sample.
fn local_f64(x: &Maps, p: usize, unfold: bool, l2: bool) -> Vec<Vec<Vec<f64>>> {
    let (c, h, w) = (x[0].len(), x[0][0].len(), x[0][0][0].len());
    let mut out = Vec::new();
    for m in x {
        for gy in 0..h / p {
            for gx in 0..w / p {
                let mut samples: Vec<Vec<f64>> = if unfold {
                    (0..p * p)
                        .map(|q| {
                            (0..c)
                                .map(|ch| m[ch][gy * p + q / p][gx * p + q % p])
                                .collect()
                        })
                        .collect()
                } else {
                    vec![
                        (0..c * p * p)
                            .map(|e| {
                                let (ch, q) = (e / (p * p), e % (p * p));
                                m[ch][gy * p + q / p][gx * p + q % p]
                            })
                            .collect(),
                    ]
                };
                if l2 {
                    for s in samples.iter_mut() {
                        let norm = (s.iter().map(|v| v * v).sum::<f64>() + 1e-12).sqrt();
                        s.iter_mut().for_each(|v| *v /= norm);
                    }
                }
                out.push(samples);
            }
        }
    }
    out
}

/// NCFD (paper eq. 2-3) between two sample sets at frequencies `f` (`[d, T]`), in f64.
fn ncfd_f64(xr: &[&Vec<f64>], xs: &[&Vec<f64>], f: &[f32], t: usize, alpha: f64) -> f64 {
    let cf = |x: &[&Vec<f64>], k: usize| -> (f64, f64) {
        let (mut re, mut im) = (0.0, 0.0);
        for s in x {
            let proj: f64 = s
                .iter()
                .enumerate()
                .map(|(j, v)| v * f[j * t + k] as f64)
                .sum();
            re += proj.cos();
            im += proj.sin();
        }
        (re / x.len() as f64, im / x.len() as f64)
    };
    let mut total = 0.0;
    for k in 0..t {
        let (rr, ir) = cf(xr, k);
        let (rs, is) = cf(xs, k);
        let (nr, ns) = ((rr * rr + ir * ir).sqrt(), (rs * rs + is * is).sqrt());
        let amp = (nr - ns).powi(2);
        let phase = (2.0 * (nr * ns - rr * rs - ir * is)).max(1e-12);
        total += (alpha * amp + (1.0 - alpha) * phase).sqrt();
    }
    total / t as f64
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-12)
}

/// The instance, group (eq. 7) and pair (eq. 8) losses of one step against a plain-f64
/// re-computation from the paper's formulas, with RLFF and unfolding on and off. The
/// groups, quotas and pairs are the crate's; the pairs are checked to be the nearest real
/// local patch of the same group in the flattened BN space.
#[test]
fn group_and_pair_losses_match_f64_formulas() {
    let dev = Default::default();
    let c = 4;
    let net = TinyNet::<AB>::new(c, 1, &dev);
    let inst = toy_instance(4, 8, 2);
    let syn = toy_instance(2, 8, 9).lr;
    for (rlff_on, unfold) in [(true, true), (true, false), (false, true), (false, false)] {
        let mut cfg = CondenseConfig::default();
        cfg.rlff.enabled = rlff_on;
        cfg.rlff.unfold = unfold;
        cfg.rlff.c_out = 8;
        cfg.ncfd.num_freqs = 16;
        cfg.freq_bank = 1;
        cfg.groups = 3;
        cfg.real_chunk = 3;
        cfg.cf_chunk = 7;
        let bank = rlff_on.then(|| FilterBank::new(c, cfg.rlff.kernel));
        let ctx = RealContext::<AB> {
            config: &cfg,
            filter_bank: bank.as_ref(),
            device: &dev,
        };
        let real = RealSide::prepare(ctx, &net, &inst.lr, syn.len(), 3).unwrap();
        let (dd, slot) = real.bank_entry(0);
        let syn_raw = net.features(images_to_batch::<AB>(&syn, &dev).unwrap());
        let bn = real.stats.apply(syn_raw.clone());
        let plan = StepPlan {
            ramp: 1.0,
            multi_level: true,
            refresh: true,
        };
        let mut ml = MultiLevel::new(1);
        let (_, rec) = ml.step_loss(&real, dd, slot, &plan, bn.clone(), 0).unwrap();
        let labels = synthetic_labels(&real, &bn.clone().inner()).unwrap();
        let pairs = nearest_pairs(&real, &bn.clone().inner(), &labels).unwrap();

        // f64 side: features -> BN with the real statistics -> RLFF -> local patches.
        let real_raw = net.features(images_to_batch::<AB>(&inst.lr, &dev).unwrap());
        let real_maps = maps(&host_vec(real_raw.clone()).unwrap(), real_raw.dims());
        let syn_maps = maps(&host_vec(syn_raw.clone()).unwrap(), syn_raw.dims());
        let eps = cfg.rlff.bn_eps;
        let (real_bn, syn_bn) = (
            bn_f64(&real_maps, &real_maps, eps),
            bn_f64(&real_maps, &syn_maps, eps),
        );
        let filters = dd.filters_inner.clone().map(|f| host_vec(f).unwrap());
        let filters = filters.as_deref().map(|f| (f, cfg.rlff.kernel));
        let freqs = host_vec(dd.freqs.clone().inner()).unwrap();
        let (p, l2, t, alpha) = (
            cfg.rlff.patch,
            cfg.ncfd.l2_normalize,
            cfg.ncfd.num_freqs,
            cfg.ncfd.alpha,
        );
        let real_local = local_f64(&rlff_f64(&real_bn, filters), p, unfold, l2);
        let syn_local = local_f64(&rlff_f64(&syn_bn, filters), p, unfold, l2);
        let real_labels = &real.groups.labels;
        let what = format!("rlff {rlff_on}, unfold {unfold}");

        let all_real: Vec<&Vec<f64>> = real_local.iter().flatten().collect();
        let all_syn: Vec<&Vec<f64>> = syn_local.iter().flatten().collect();
        let ins = ncfd_f64(&all_real, &all_syn, &freqs, t, alpha);
        assert!(
            rel(rec.instance.unwrap(), ins) < 1e-5,
            "{what}: L_ins {:?} vs {ins}",
            rec.instance
        );

        // Eq. 7: sum over groups with synthetic members of the group NCFD.
        let mut group = 0.0;
        let mut pair = 0.0;
        for m in 0..real.groups.k {
            let syn_idx: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == m).collect();
            if syn_idx.is_empty() {
                continue;
            }
            let gr: Vec<&Vec<f64>> = (0..real_local.len())
                .filter(|&i| real_labels[i] == m)
                .flat_map(|i| real_local[i].iter())
                .collect();
            let gs: Vec<&Vec<f64>> = syn_idx.iter().flat_map(|&i| syn_local[i].iter()).collect();
            group += ncfd_f64(&gr, &gs, &freqs, t, alpha);
            // Eq. 8 with the mean over the pair's elements: (1 / N_m) sum_i mean |f_r - f_s|.
            for &i in &syn_idx {
                let (a, b) = (&syn_local[i], &real_local[pairs[i]]);
                let n_el = a.len() * a[0].len();
                let l1: f64 = a
                    .iter()
                    .flatten()
                    .zip(b.iter().flatten())
                    .map(|(x, y)| (x - y).abs())
                    .sum();
                pair += l1 / n_el as f64 / syn_idx.len() as f64;
            }
        }
        assert!(
            rel(rec.group.unwrap(), group) < 1e-5,
            "{what}: L_group {:?} vs {group}",
            rec.group
        );
        assert!(
            rel(rec.pair.unwrap(), pair) < 1e-5,
            "{what}: L_pair {:?} vs {pair}",
            rec.pair
        );

        // Pairs: same group, nearest in the flattened BN space (up to f32 rounding).
        let real_flat = local_f64(&real_bn, p, false, false);
        let syn_flat = local_f64(&syn_bn, p, false, false);
        let d2 =
            |a: &Vec<f64>, b: &Vec<f64>| a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum::<f64>();
        for (i, &r) in pairs.iter().enumerate() {
            assert_eq!(real_labels[r], labels[i], "{what}: pair {i} crosses groups");
            let best = (0..real_flat.len())
                .filter(|&q| real_labels[q] == labels[i])
                .map(|q| d2(&syn_flat[i][0], &real_flat[q][0]))
                .fold(f64::INFINITY, f64::min);
            let got = d2(&syn_flat[i][0], &real_flat[r][0]);
            assert!(
                got <= best * (1.0 + 1e-4) + 1e-6,
                "{what}: pair {i}: {got} vs nearest {best}"
            );
        }
    }
}

/// The gather-based `L_group` that the masked [`group_term`] replaced: only the active
/// groups' rows (a `[M_act, T]` shape that changes with the assignment).
fn group_term_gathered(
    real: &RealSide<'_, AB>,
    dd: &DeviceDraw<AB>,
    labels: &[usize],
    (cos, sin): (Tensor<AB, 2>, Tensor<AB, 2>),
) -> Tensor<AB, 1> {
    let dev = real.device();
    let counts = group_counts(labels, real.groups.k);
    let active: Vec<usize> = (0..counts.len()).filter(|&g| counts[g] > 0).collect();
    let (nl, s, ma) = (labels.len(), real.geo.s, active.len());
    let (sw, _) = group_weights(labels, &counts, &active, s);
    let sw = Tensor::<AB, 2>::from_data(TensorData::new(sw, [ma, nl * s]), dev);
    let (re_r, im_r) = real.group_cf(dd, &active);
    ncfd::ncfd_from_cf(
        (Tensor::from_inner(re_r), Tensor::from_inner(im_r)),
        (sw.clone().matmul(cos), sw.matmul(sin)),
        real.config().ncfd.alpha,
    )
    .sum()
}

/// The gather-based `L_pair`: patch weights of the active groups only, `[M_act, Ns']`.
fn pair_term_gathered(
    real: &RealSide<'_, AB>,
    labels: &[usize],
    local: Tensor<AB, 3>,
    real_local: Tensor<AB, 2>,
) -> Tensor<AB, 1> {
    let counts = group_counts(labels, real.groups.k);
    let active: Vec<usize> = (0..counts.len()).filter(|&g| counts[g] > 0).collect();
    let (nl, ma) = (labels.len(), active.len());
    let (_, pw) = group_weights(labels, &counts, &active, real.geo.s);
    let pw = Tensor::<AB, 2>::from_data(TensorData::new(pw, [ma, nl]), real.device());
    let [nl, s, d] = local.dims();
    let diff = (local.reshape([nl, s * d]) - real_local).abs().mean_dim(1);
    pw.matmul(diff).sum()
}

/// LR patches (12x12) cut from a T91 image with the crate's patch code; None without data.
fn t91_patches(n: usize) -> Option<Vec<crate::image::Image>> {
    let root = std::env::var_os("IDC_DATA")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| "/work/shared/data".into());
    let hr = crate::image::io::decode_image(&root.join("train/T91/tt2.bmp")).ok()?;
    let cfg = crate::config::PatchConfig {
        scale: 2,
        hr_patch: 24,
        step: 24,
        thresh_size: 0,
        task: None,
    }
    .check()
    .ok()?;
    let pairs = crate::image::patch::instance_pairs(&hr, &cfg).ok()?;
    Some(pairs.into_iter().take(n).map(|p| p.lr).collect())
}

/// The masked fixed-shape group and pair losses equal the gather-based ones (1e-5 relative)
/// on real T91 patches and a seeded EDSR 8x1, over several bank entries, with some groups
/// left without synthetic members (so the mask is exercised), unfolding on and off.
#[test]
fn masked_group_and_pair_losses_match_gathered_on_real_patches() {
    let Some(lr) = t91_patches(20) else {
        eprintln!("skipped: no T91 data under $IDC_DATA");
        return;
    };
    let dev = Default::default();
    let net = crate::models::edsr::EdsrConfig::from_arch("edsr:8x1", 2)
        .unwrap()
        .init_seeded::<AB>(&dev, 7);
    let syn = lr[..1].to_vec();
    for unfold in [true, false] {
        let mut cfg = CondenseConfig::default();
        cfg.rlff.unfold = unfold;
        cfg.rlff.c_out = 16;
        cfg.ncfd.num_freqs = 64;
        cfg.freq_bank = 3;
        cfg.groups = 12;
        let bank = FilterBank::new(8, cfg.rlff.kernel);
        let ctx = RealContext::<AB> {
            config: &cfg,
            filter_bank: Some(&bank),
            device: &dev,
        };
        let real = RealSide::prepare(ctx, &net, &lr, syn.len(), 5).unwrap();
        let bn = real
            .stats
            .apply(net.features(images_to_batch::<AB>(&syn, &dev).unwrap()));
        let labels = synthetic_labels(&real, &bn.clone().inner()).unwrap();
        let active = group_counts(&labels, real.groups.k)
            .iter()
            .filter(|&&n| n > 0)
            .count();
        assert!(active < real.groups.k, "every group active: mask untested");
        let mut ml = MultiLevel::new(cfg.freq_bank);
        for j in 0..cfg.freq_bank {
            let plan = StepPlan {
                ramp: 1.0,
                multi_level: true,
                refresh: j == 0,
            };
            let (dd, slot) = real.bank_entry(j);
            let (_, rec) = ml.step_loss(&real, dd, slot, &plan, bn.clone(), j).unwrap();
            let a = ml.assignment.as_ref().unwrap();
            let local = real
                .geo
                .local(bn.clone(), dd.filters.as_ref(), real.geo.pad);
            let [nl, s, d] = local.dims();
            let proj = local.clone().reshape([nl * s, d]).matmul(dd.freqs.clone());
            let cos_sin = (proj.clone().cos(), proj.sin());
            let group = group_term_gathered(&real, dd, &labels, cos_sin)
                .into_scalar()
                .to_f64_lossy();
            let real_local = paired_real(&real, dd, a, None, &mut []);
            let pair = pair_term_gathered(&real, &labels, local, real_local)
                .into_scalar()
                .to_f64_lossy();
            let what = format!("unfold {unfold}, entry {j}");
            assert!(
                rel(rec.group.unwrap(), group) < 1e-5,
                "{what}: masked L_group {:?} vs gathered {group}",
                rec.group
            );
            assert!(
                rel(rec.pair.unwrap(), pair) < 1e-5,
                "{what}: masked L_pair {:?} vs gathered {pair}",
                rec.pair
            );
        }
    }
}
