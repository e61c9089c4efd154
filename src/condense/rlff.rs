//! Random Local Fourier Features (paper 3.3).
//!
//! `E` = identity of size `C' = c k^2` reshaped to `C' x c x k x k`; its DFT along the output
//! channel axis is `exp(-2 pi i u j / C')`, so the Fourier filter bank
//! `F = [Re(FFT(E)), -Im(FFT(E))]` has filter `u < C'` = `cos(2 pi u j / C')` and filter
//! `C' + u` = `sin(2 pi u j / C')` over the flattened `(channel, ky, kx)` neighbourhood index `j`.
//! Convolving the batch-normalised features with it is a per-pixel DFT of the `k x k`
//! neighbourhood. Each step keeps a random subset of `C_out` filters (the same for real and
//! synthetic), convolves with "same" zero padding, cuts the map into `p x p` local patches and
//! unfolds them into samples.

use crate::error::{IdcError, Result};
use crate::models::conv::conv2d;
use crate::models::permute_contiguous;
use burn::tensor::{Tensor, TensorData, backend::Backend, ops::ConvOptions};

/// The full `2 C' x c x k x k` Fourier filter bank, kept on the host (built once).
#[derive(Clone, Debug)]
pub struct FilterBank {
    /// Input channels `c`.
    pub channels: usize,
    /// Kernel size `k`.
    pub kernel: usize,
    /// `2 c k^2` filters of `c k^2` weights each, row-major.
    weights: Vec<f32>,
}

impl FilterBank {
    /// Builds `F` for `c` channels and kernel `k` (angles reduced modulo `C'` in integers, so
    /// the values are exact to f32 rounding even for large `C'`).
    pub fn new(channels: usize, kernel: usize) -> Self {
        let cp = channels * kernel * kernel;
        let mut weights = vec![0f32; 2 * cp * cp];
        for u in 0..cp {
            for j in 0..cp {
                let ang = 2.0 * std::f64::consts::PI * ((u * j) % cp) as f64 / cp as f64;
                weights[u * cp + j] = ang.cos() as f32;
                weights[(cp + u) * cp + j] = ang.sin() as f32;
            }
        }
        Self {
            channels,
            kernel,
            weights,
        }
    }

    /// Number of filters `2 C'`.
    pub fn len(&self) -> usize {
        2 * self.channels * self.kernel * self.kernel
    }

    /// Always false (a bank has at least 2 filters).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The filters at `indices` as a `[len, c, k, k]` conv weight on `device`.
    pub fn select<B: Backend>(&self, indices: &[usize], device: &B::Device) -> Tensor<B, 4> {
        let cp = self.channels * self.kernel * self.kernel;
        let mut data = Vec::with_capacity(indices.len() * cp);
        for &i in indices {
            data.extend_from_slice(&self.weights[i * cp..(i + 1) * cp]);
        }
        Tensor::from_data(
            TensorData::new(
                data,
                [indices.len(), self.channels, self.kernel, self.kernel],
            ),
            device,
        )
    }
}

/// Per-channel batch-norm statistics of the real instance (no learned affine).
#[derive(Clone, Debug)]
pub struct BnStats {
    /// Per-channel mean.
    pub mean: Vec<f32>,
    /// Per-channel `1 / sqrt(var + eps)`.
    pub inv_std: Vec<f32>,
}

impl BnStats {
    /// Statistics from per-channel sums, sums of squares and the count of values per channel
    /// (biased variance, as batch norm uses for normalisation).
    pub fn from_sums(sum: &[f64], sum_sq: &[f64], count: usize, eps: f64) -> Self {
        let n = count.max(1) as f64;
        let mean: Vec<f64> = sum.iter().map(|s| s / n).collect();
        let inv_std = sum_sq
            .iter()
            .zip(&mean)
            .map(|(q, m)| (1.0 / ((q / n - m * m).max(0.0) + eps).sqrt()) as f32)
            .collect();
        Self {
            mean: mean.into_iter().map(|m| m as f32).collect(),
            inv_std,
        }
    }

    /// Adds one feature chunk `[n, c, h, w]` to running sums.
    pub fn accumulate<B: Backend>(
        x: &Tensor<B, 4>,
        sum: &mut [f64],
        sum_sq: &mut [f64],
    ) -> Result<()> {
        let s = host_vec(
            x.clone()
                .sum_dim(0)
                .sum_dim(2)
                .sum_dim(3)
                .flatten::<1>(0, 3),
        )?;
        let q = host_vec(
            x.clone()
                .square()
                .sum_dim(0)
                .sum_dim(2)
                .sum_dim(3)
                .flatten::<1>(0, 3),
        )?;
        for (i, (a, b)) in s.iter().zip(&q).enumerate() {
            sum[i] += *a as f64;
            sum_sq[i] += *b as f64;
        }
        Ok(())
    }

    /// `(x - mean) * inv_std` per channel. Computed on `x` viewed as `[n c, h w]` with one
    /// scalar per row (the statistics repeated `n` times): flex runs that broadcast with SIMD,
    /// while `[1, c, 1, 1]` against `[n, c, h, w]` fell to its element-by-element strided
    /// iterator (~4% of a condensation step, and again in the backward). Same values bit for bit.
    pub fn apply<B: Backend>(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let [n, c, h, w] = x.dims();
        let device = x.device();
        let per_row = |v: &[f32]| {
            let rows: Vec<f32> = (0..n).flat_map(|_| v.iter().copied()).collect();
            Tensor::<B, 2>::from_data(TensorData::new(rows, [n * c, 1]), &device)
        };
        let (mean, inv) = (per_row(&self.mean), per_row(&self.inv_std));
        ((x.reshape([n * c, h * w]) - mean) * inv).reshape([n, c, h, w])
    }
}

/// Convolves batch-normalised features with `filters` (`[C_out, c, k, k]`) with `pad` zero
/// padding on each side; `None` (RLFF off) returns the features unchanged.
pub fn apply<B: Backend>(
    x: Tensor<B, 4>,
    filters: Option<&Tensor<B, 4>>,
    pad: usize,
) -> Tensor<B, 4> {
    match filters {
        Some(w) => conv2d(
            x,
            w.clone(),
            None,
            ConvOptions::new([1, 1], [pad, pad], [1, 1], 1),
        ),
        None => x,
    }
}

/// Local-patch grid `(gh, gw)` of an `h x w` map with patch side `p` (trailing rows/columns that
/// do not fill a patch are dropped). Errors when the map is smaller than one patch.
pub fn grid(h: usize, w: usize, p: usize) -> Result<(usize, usize)> {
    let (gh, gw) = (h / p, w / p);
    if gh == 0 || gw == 0 {
        return Err(IdcError::InvalidInput(format!(
            "feature map {h}x{w} is smaller than one {p}x{p} local patch"
        )));
    }
    Ok((gh, gw))
}

/// Cuts `[n, C, H, W]` into `p x p` local patches in `(image, row, column)` order and returns
/// `[n gh gw, s, d]`: with `unfold`, `s = p^2` samples of `d = C` channels (paper's unfolding);
/// without, one sample of `d = C p^2` values (channel-major) per local patch. The permute is
/// [`permute_contiguous`]: flex's own copy of this 6-axis view walks it element by element
/// (~15% of the default run's condensing, forward and backward, by `perf`).
pub fn local_patches<B: Backend>(x: Tensor<B, 4>, p: usize, unfold: bool) -> Tensor<B, 3> {
    let [n, c, h, w] = x.dims();
    let (gh, gw) = (h / p, w / p);
    let x = x.narrow(2, 0, gh * p).narrow(3, 0, gw * p);
    let x = x.reshape([n, c, gh, p, gw, p]);
    if unfold {
        permute_contiguous(x, [0, 2, 4, 3, 5, 1]).reshape([n * gh * gw, p * p, c])
    } else {
        permute_contiguous(x, [0, 2, 4, 1, 3, 5]).reshape([n * gh * gw, 1, c * p * p])
    }
}

/// L2-normalises the last axis (`x / sqrt(|x|^2 + 1e-12)`).
pub fn l2_normalize<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    let norm = x.clone().square().sum_dim(D - 1).add_scalar(1e-12).sqrt();
    x / norm
}

/// Host `Vec<f32>` of a tensor.
pub fn host_vec<B: Backend, const D: usize>(x: Tensor<B, D>) -> Result<Vec<f32>> {
    x.into_data()
        .convert::<f32>()
        .into_vec::<f32>()
        .map_err(|e| IdcError::InvalidInput(format!("tensor readback: {e:?}")))
}

/// Host copy of `[n, c, h, w]` features zero-padded by `pad` on each side, from which the
/// `(p + 2 pad)^2` input window of any local patch can be cut (for the pair loss's real side).
#[derive(Clone, Debug)]
pub struct PaddedHost {
    /// Images (batch size).
    pub n: usize,
    /// Channels.
    pub c: usize,
    /// Height before padding.
    pub h: usize,
    /// Width before padding.
    pub w: usize,
    /// Zero padding on each side.
    pub pad: usize,
    data: Vec<f32>,
}

impl PaddedHost {
    /// Pads `x` (`[n, c, h, w]` host data) by `pad`.
    pub fn new(x: &[f32], n: usize, c: usize, h: usize, w: usize, pad: usize) -> Self {
        let (hp, wp) = (h + 2 * pad, w + 2 * pad);
        let mut data = vec![0f32; n * c * hp * wp];
        for nc in 0..n * c {
            for y in 0..h {
                let src = (nc * h + y) * w;
                let dst = (nc * hp + y + pad) * wp + pad;
                data[dst..dst + w].copy_from_slice(&x[src..src + w]);
            }
        }
        Self {
            n,
            c,
            h,
            w,
            pad,
            data,
        }
    }

    /// Input windows `[len, c, p + 2 pad, p + 2 pad]` of the local patches `ids` (indices in
    /// `(image, row, column)` order over a `gh x gw` grid).
    pub fn windows<B: Backend>(
        &self,
        ids: &[usize],
        p: usize,
        gw: usize,
        gh: usize,
        device: &B::Device,
    ) -> Tensor<B, 4> {
        let s = p + 2 * self.pad;
        let (hp, wp) = (self.h + 2 * self.pad, self.w + 2 * self.pad);
        let mut out = Vec::with_capacity(ids.len() * self.c * s * s);
        for &id in ids {
            let img = id / (gh * gw);
            let gy = (id / gw) % gh;
            let gx = id % gw;
            for ch in 0..self.c {
                for y in 0..s {
                    let row = ((img * self.c + ch) * hp + gy * p + y) * wp + gx * p;
                    out.extend_from_slice(&self.data[row..row + s]);
                }
            }
        }
        Tensor::from_data(TensorData::new(out, [ids.len(), self.c, s, s]), device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;
    use rand::{Rng, SeedableRng, rngs::StdRng};

    type B = Flex;

    /// The per-row form of batch norm gives the per-channel broadcast's values bit for bit,
    /// and the same input gradient through autodiff.
    #[test]
    fn bn_apply_equals_the_channel_broadcast() {
        let mut rng = StdRng::seed_from_u64(5);
        let (n, c, h, w) = (3, 5, 4, 7);
        let data: Vec<f32> = (0..n * c * h * w)
            .map(|_| rng.random_range(-2.0..2.0))
            .collect();
        let stats = BnStats {
            mean: (0..c).map(|i| 0.1 * i as f32 - 0.2).collect(),
            inv_std: (0..c).map(|i| 1.0 + 0.3 * i as f32).collect(),
        };
        type Ad = burn::backend::Autodiff<B>;
        let dev = Default::default();
        let x =
            Tensor::<Ad, 4>::from_data(TensorData::new(data, [n, c, h, w]), &dev).require_grad();
        let chan = |v: &[f32]| {
            Tensor::<Ad, 1>::from_data(TensorData::new(v.to_vec(), [c]), &dev).reshape([1, c, 1, 1])
        };
        let reference = (x.clone() - chan(&stats.mean)) * chan(&stats.inv_std);
        let ours = stats.apply(x.clone());
        let host = |t: Tensor<B, 4>| t.into_data().into_vec::<f32>().unwrap();
        assert_eq!(host(ours.clone().inner()), host(reference.clone().inner()));
        let weights = Tensor::<Ad, 4>::from_data(
            TensorData::new(
                (0..n * c * h * w).map(|i| (i % 11) as f32).collect(),
                [n, c, h, w],
            ),
            &dev,
        );
        let g_ours = x.grad(&(ours * weights.clone()).sum().backward()).unwrap();
        let g_ref = x.grad(&(reference * weights).sum().backward()).unwrap();
        assert_eq!(host(g_ours), host(g_ref));
    }

    /// The RLFF conv equals a naive per-pixel DFT of the zero-padded `k x k` neighbourhood
    /// (computed in f64), for every filter.
    #[test]
    fn conv_equals_naive_neighbourhood_dft() {
        let (n, c, h, w, k) = (2, 2, 5, 4, 3);
        let mut rng = StdRng::seed_from_u64(7);
        let x: Vec<f32> = (0..n * c * h * w)
            .map(|_| rng.random_range(-1.0..1.0))
            .collect();
        let bank = FilterBank::new(c, k);
        let cp = c * k * k;
        let all: Vec<usize> = (0..bank.len()).collect();
        let dev = Default::default();
        let xt = Tensor::<B, 4>::from_data(TensorData::new(x.clone(), [n, c, h, w]), &dev);
        let out = apply(xt, Some(&bank.select::<B>(&all, &dev)), k / 2);
        assert_eq!(out.dims(), [n, 2 * cp, h, w]);
        let out = host_vec(out).unwrap();
        let pad = (k / 2) as isize;
        for i in 0..n {
            for y in 0..h {
                for xx in 0..w {
                    // Neighbourhood vector v_j, j = (ch, ky, kx) flattened.
                    let mut v = vec![0f64; cp];
                    for ch in 0..c {
                        for ky in 0..k {
                            for kx in 0..k {
                                let yy = y as isize + ky as isize - pad;
                                let xs = xx as isize + kx as isize - pad;
                                if yy >= 0 && xs >= 0 && (yy as usize) < h && (xs as usize) < w {
                                    v[(ch * k + ky) * k + kx] = x
                                        [((i * c + ch) * h + yy as usize) * w + xs as usize]
                                        as f64;
                                }
                            }
                        }
                    }
                    for u in 0..cp {
                        // DFT: V_u = sum_j v_j exp(-2 pi i u j / C').
                        let (mut re, mut im) = (0f64, 0f64);
                        for (j, vj) in v.iter().enumerate() {
                            let a = -2.0 * std::f64::consts::PI * (u * j) as f64 / cp as f64;
                            re += vj * a.cos();
                            im += vj * a.sin();
                        }
                        let got_re = out[((i * 2 * cp + u) * h + y) * w + xx] as f64;
                        let got_im = out[((i * 2 * cp + cp + u) * h + y) * w + xx] as f64;
                        assert!((got_re - re).abs() < 1e-4, "Re u={u}: {got_re} vs {re}");
                        assert!((got_im + im).abs() < 1e-4, "-Im u={u}: {got_im} vs {}", -im);
                    }
                }
            }
        }
    }

    #[test]
    fn local_patches_layout() {
        // [1, 2, 4, 4] with value = ch*100 + y*10 + x, p = 2.
        let mut v = Vec::new();
        for ch in 0..2 {
            for y in 0..4 {
                for x in 0..4 {
                    v.push((ch * 100 + y * 10 + x) as f32);
                }
            }
        }
        let dev = Default::default();
        let t = Tensor::<B, 4>::from_data(TensorData::new(v, [1, 2, 4, 4]), &dev);
        let u = local_patches(t.clone(), 2, true);
        assert_eq!(u.dims(), [4, 4, 2]);
        let h = host_vec(u).unwrap();
        // Local patch 1 = (gy 0, gx 1); its sample 2 = (py 1, px 0) = pixel (1, 2).
        let base = (4 + 2) * 2;
        assert_eq!(&h[base..base + 2], &[12.0, 112.0]);
        let f = local_patches(t, 2, false);
        assert_eq!(f.dims(), [4, 1, 8]);
        let h = host_vec(f).unwrap();
        // Local patch 3 = (1, 1): channel 0 then 1, rows 2..4, cols 2..4.
        assert_eq!(
            &h[24..32],
            &[22.0, 23.0, 32.0, 33.0, 122.0, 123.0, 132.0, 133.0]
        );
    }

    #[test]
    fn windows_reproduce_same_padded_conv() {
        let (n, c, h, w, k, p) = (2, 2, 6, 4, 3, 2);
        let mut rng = StdRng::seed_from_u64(9);
        let x: Vec<f32> = (0..n * c * h * w)
            .map(|_| rng.random_range(-1.0..1.0))
            .collect();
        let dev = Default::default();
        let bank = FilterBank::new(c, k);
        let f = bank.select::<B>(&[0, 5, 20, 30], &dev);
        let xt = Tensor::<B, 4>::from_data(TensorData::new(x.clone(), [n, c, h, w]), &dev);
        let full = local_patches(apply(xt, Some(&f), 1), p, true);
        let host = PaddedHost::new(&x, n, c, h, w, 1);
        let ids = [0usize, 4, 7, 11];
        let win = host.windows::<B>(&ids, p, w / p, h / p, &dev);
        let part = local_patches(apply(win, Some(&f), 0), p, true);
        let full = host_vec(full).unwrap();
        let part = host_vec(part).unwrap();
        let per = p * p * 4;
        for (r, &id) in ids.iter().enumerate() {
            for e in 0..per {
                assert!((full[id * per + e] - part[r * per + e]).abs() < 1e-5);
            }
        }
    }
}
