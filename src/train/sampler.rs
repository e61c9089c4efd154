//! Iteration-based, seeded data loading for burn-train.
//!
//! burn-train counts epochs; SR training counts iterations. [`IterationLoader`] is a burn
//! `DataLoader` whose every `iter()` yields the next `checkpoint_every` batches (fewer at the end)
//! of one global iteration sequence, so an "epoch" is a chunk of iterations and a checkpoint
//! marks an exact iteration. Batch `g` is a pure function of `(seed, g)`: sample `s = g * batch +
//! slot` takes position `s mod n` of a seeded permutation of the dataset for data-epoch
//! `s div n` (shuffle without replacement, as BasicSR), then a seeded random crop to `lr_patch`
//! and flips/transposition. Resuming at iteration `g` therefore sees exactly the batches an
//! uninterrupted run would.

use crate::dataset::SrPair;
use crate::dataset::augment::Transform;
use crate::dataset::batch::SrBatch;
use crate::error::{IdcError, Result};
use crate::image::Image;
use crate::seed::mix_seed;
use crate::task::{TRAIN_NOISE_STREAM, add_gaussian_noise};
use burn::data::dataloader::{DataLoader, DataLoaderIterator, Progress};
use burn::data::dataset::Dataset;
use burn::tensor::backend::Backend;
use burn::train::Interrupter;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng, rngs::StdRng};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// State shared by the loader clones (`to_device`) and the training driver.
pub struct SamplerState {
    /// Next global iteration (0-based) the loader will produce.
    pub next_iter: Arc<AtomicUsize>,
    /// First error met while loading (the loader stops and the driver reports it).
    pub error: Mutex<Option<IdcError>>,
    perm: Mutex<Option<(usize, Vec<usize>)>>,
}

impl SamplerState {
    /// State starting at iteration `start`.
    pub fn new(start: usize) -> Arc<Self> {
        Arc::new(Self {
            next_iter: Arc::new(AtomicUsize::new(start)),
            error: Mutex::new(None),
            perm: Mutex::new(None),
        })
    }

    fn fail(&self, e: IdcError) {
        if let Ok(mut slot) = self.error.lock() {
            slot.get_or_insert(e);
        }
    }

    /// The shared iteration counter (iterations handed out so far).
    pub fn counter(&self) -> Arc<AtomicUsize> {
        self.next_iter.clone()
    }

    /// Takes the recorded error, if any.
    pub fn take_error(&self) -> Option<IdcError> {
        self.error.lock().ok().and_then(|mut e| e.take())
    }
}

/// Parameters of the iteration sequence.
#[derive(Clone, Debug)]
pub struct SamplerParams {
    /// Seed of the data order, crops and augmentation.
    pub seed: u64,
    /// Pairs per batch.
    pub batch: usize,
    /// LR crop side in pixels (HR side is `lr_patch * scale`).
    pub lr_patch: usize,
    /// Super-resolution factor.
    pub scale: usize,
    /// Random flips and transposition.
    pub augment: bool,
    /// Iterations per `iter()` call (one burn-train epoch).
    pub chunk: usize,
    /// Total iterations.
    pub total: usize,
    /// Denoising noise level (`[0, 255]` units): each sample's input is replaced by its clean
    /// target plus fresh noise seeded by `(seed, sample)`, unclipped. `None` for SR.
    pub noise_sigma: Option<f32>,
}

/// Burn `DataLoader` over any `Dataset<SrPair>` producing the global iteration sequence.
pub struct IterationLoader<B: Backend> {
    dataset: Arc<dyn Dataset<SrPair>>,
    params: SamplerParams,
    state: Arc<SamplerState>,
    device: B::Device,
    interrupter: Option<Interrupter>,
}

impl<B: Backend> IterationLoader<B> {
    /// Stops burn-train (after the current epoch) when loading fails.
    pub fn with_interrupter(mut self, interrupter: Interrupter) -> Self {
        self.interrupter = Some(interrupter);
        self
    }

    /// Loader over `dataset` yielding the iterations `params` describes, batches on `device`.
    pub fn new(
        dataset: Arc<dyn Dataset<SrPair>>,
        params: SamplerParams,
        state: Arc<SamplerState>,
        device: B::Device,
    ) -> Self {
        Self {
            dataset,
            params,
            state,
            device,
            interrupter: None,
        }
    }

    /// The `(lr, hr)` pair of global sample `s` (crop + augmentation applied).
    fn sample(&self, s: usize) -> Result<(Image, Image)> {
        let n = self.dataset.len();
        if n == 0 {
            return Err(IdcError::InvalidInput("training set is empty".into()));
        }
        let data_epoch = s / n;
        let index = {
            let mut guard = self
                .state
                .perm
                .lock()
                .map_err(|_| IdcError::Model("sampler lock poisoned".into()))?;
            let fresh = !matches!(&*guard, Some((e, _)) if *e == data_epoch);
            if fresh {
                let mut perm: Vec<usize> = (0..n).collect();
                let mut rng =
                    StdRng::seed_from_u64(mix_seed(self.params.seed, 1, data_epoch as u64));
                perm.shuffle(&mut rng);
                *guard = Some((data_epoch, perm));
            }
            guard.as_ref().map(|(_, p)| p[s % n]).unwrap_or(0)
        };
        let pair = self
            .dataset
            .get(index)
            .ok_or_else(|| IdcError::InvalidInput(format!("dataset has no item {index}")))?;
        let p = self.params.lr_patch;
        let sc = self.params.scale;
        let (lr, hr) = (&pair.lr, &pair.hr);
        if lr.height < p || lr.width < p {
            return Err(IdcError::InvalidInput(format!(
                "training item {index} has LR size {}x{}, smaller than lr_patch {p}",
                lr.height, lr.width
            )));
        }
        if hr.height != lr.height * sc || hr.width != lr.width * sc {
            return Err(IdcError::InvalidInput(format!(
                "training item {index}: HR {}x{} is not {sc}x LR {}x{}",
                hr.height, hr.width, lr.height, lr.width
            )));
        }
        let mut rng = StdRng::seed_from_u64(mix_seed(self.params.seed, 2, s as u64));
        let top = rng.random_range(0..=lr.height - p);
        let left = rng.random_range(0..=lr.width - p);
        let mut lr_c = lr.crop(top, left, p, p)?;
        let mut hr_c = hr.crop(top * sc, left * sc, p * sc, p * sc)?;
        if self.params.augment {
            let (hf, vf, tr) = (
                rng.random_bool(0.5),
                rng.random_bool(0.5),
                rng.random_bool(0.5),
            );
            let t = Transform::new(hf, vf, tr);
            lr_c = t.apply(&lr_c);
            hr_c = t.apply(&hr_c);
        }
        if let Some(sigma) = self.params.noise_sigma {
            let seed = mix_seed(self.params.seed, TRAIN_NOISE_STREAM, s as u64);
            lr_c = hr_c.clone();
            add_gaussian_noise(&mut lr_c.data, sigma, seed);
        }
        Ok((lr_c, hr_c))
    }

    /// Batch of global iteration `g`.
    pub fn batch_at(&self, g: usize) -> Result<SrBatch<B>> {
        let pairs = (0..self.params.batch)
            .map(|slot| self.sample(g * self.params.batch + slot))
            .collect::<Result<Vec<(Image, Image)>>>()?;
        let lrs: Vec<&Image> = pairs.iter().map(|(l, _)| l).collect();
        let hrs: Vec<&Image> = pairs.iter().map(|(_, h)| h).collect();
        SrBatch::from_images(&lrs, &hrs, &self.device)
    }
}

struct ChunkIter<'a, B: Backend> {
    loader: &'a IterationLoader<B>,
    produced: usize,
    len: usize,
}

impl<B: Backend> Iterator for ChunkIter<'_, B> {
    type Item = SrBatch<B>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.produced >= self.len {
            return None;
        }
        let g = self.loader.state.next_iter.fetch_add(1, Ordering::SeqCst);
        match self.loader.batch_at(g) {
            Ok(b) => {
                self.produced += 1;
                Some(b)
            }
            Err(e) => {
                self.loader.state.fail(e);
                if let Some(i) = &self.loader.interrupter {
                    i.stop(Some("training data could not be loaded"));
                }
                self.len = self.produced;
                None
            }
        }
    }
}

impl<B: Backend> DataLoaderIterator<SrBatch<B>> for ChunkIter<'_, B> {
    fn progress(&self) -> Progress {
        Progress::new(
            self.produced * self.loader.params.batch,
            self.len * self.loader.params.batch,
        )
    }
}

impl<B: Backend> DataLoader<B, SrBatch<B>> for IterationLoader<B> {
    fn iter<'a>(&'a self) -> Box<dyn DataLoaderIterator<SrBatch<B>> + 'a> {
        let done = self.state.next_iter.load(Ordering::SeqCst);
        let failed = self.state.error.lock().map(|e| e.is_some()).unwrap_or(true);
        let len = if failed {
            0
        } else {
            self.params
                .chunk
                .min(self.params.total.saturating_sub(done))
        };
        Box::new(ChunkIter {
            loader: self,
            produced: 0,
            len,
        })
    }

    fn num_items(&self) -> usize {
        self.params.chunk * self.params.batch
    }

    fn to_device(&self, device: &B::Device) -> Arc<dyn DataLoader<B, SrBatch<B>>> {
        Arc::new(Self {
            dataset: self.dataset.clone(),
            params: self.params.clone(),
            state: self.state.clone(),
            device: device.clone(),
            interrupter: self.interrupter.clone(),
        })
    }

    fn slice(&self, start: usize, end: usize) -> Arc<dyn DataLoader<B, SrBatch<B>>> {
        // Slicing a stream of iterations means a shorter chunk; the data stay the same.
        let mut params = self.params.clone();
        params.chunk = end
            .saturating_sub(start)
            .div_ceil(self.params.batch.max(1))
            .max(1);
        Arc::new(Self {
            dataset: self.dataset.clone(),
            params,
            state: self.state.clone(),
            device: self.device.clone(),
            interrupter: self.interrupter.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;
    use burn::data::dataset::InMemDataset;

    fn toy_set(n: usize) -> Arc<dyn Dataset<SrPair>> {
        let items = (0..n)
            .map(|i| {
                let lr_data: Vec<f32> = (0..3 * 6 * 6)
                    .map(|v| ((v + i * 7) % 255) as f32 / 255.0)
                    .collect();
                let hr_data: Vec<f32> = (0..3 * 12 * 12)
                    .map(|v| ((v + i) % 255) as f32 / 255.0)
                    .collect();
                SrPair {
                    lr: Image::new(3, 6, 6, lr_data).unwrap(),
                    hr: Image::new(3, 12, 12, hr_data).unwrap(),
                }
            })
            .collect();
        Arc::new(InMemDataset::new(items))
    }

    fn params(total: usize, chunk: usize) -> SamplerParams {
        SamplerParams {
            seed: 5,
            batch: 3,
            lr_patch: 4,
            scale: 2,
            augment: true,
            chunk,
            total,
            noise_sigma: None,
        }
    }

    #[test]
    fn chunks_resume_exactly_and_stop_at_total() {
        type B = Flex;
        let device = Default::default();
        let set = toy_set(5);
        let full =
            IterationLoader::<B>::new(set.clone(), params(7, 3), SamplerState::new(0), device);
        let mut all = Vec::new();
        for _ in 0..4 {
            let n_before = all.len();
            all.extend(full.iter().map(|b| b.lr.into_data()));
            assert!(all.len() - n_before <= 3);
        }
        assert_eq!(all.len(), 7);
        // Resuming at iteration 4 reproduces batches 4.. exactly.
        let resumed = IterationLoader::<B>::new(set, params(7, 3), SamplerState::new(4), device);
        // One `iter()` per epoch, in sequence, as burn-train calls it.
        let mut tail: Vec<_> = resumed.iter().map(|b| b.lr.into_data()).collect();
        tail.extend(resumed.iter().map(|b| b.lr.into_data()));
        assert_eq!(tail.len(), 3);
        assert_eq!(&all[4..], &tail[..]);
        // Different batches really differ.
        assert_ne!(all[0], all[1]);
    }

    #[test]
    fn denoising_draws_fresh_unclipped_noise_per_sample_reproducibly() {
        type B = Flex;
        let device = Default::default();
        // Clean/clean pairs at scale 1 (what a denoising set holds): a constant bright patch.
        let pair = SrPair {
            lr: Image::new(3, 8, 8, vec![0.9; 3 * 8 * 8]).unwrap(),
            hr: Image::new(3, 8, 8, vec![0.9; 3 * 8 * 8]).unwrap(),
        };
        let set: Arc<dyn Dataset<SrPair>> = Arc::new(InMemDataset::new(vec![pair]));
        let mut p = params(2, 2);
        (p.scale, p.lr_patch, p.batch, p.noise_sigma) = (1, 8, 1, Some(50.0));
        let loader =
            || IterationLoader::<B>::new(set.clone(), p.clone(), SamplerState::new(0), device);
        let a = loader().sample(0).unwrap();
        let b = loader().sample(1).unwrap();
        assert_eq!(
            a,
            loader().sample(0).unwrap(),
            "same seed and sample, same draw"
        );
        assert_ne!(a.0, b.0, "the same item gets new noise in the next sample");
        assert!(a.1.data.iter().all(|&v| v == 0.9), "the target stays clean");
        // 0.9 + N(0, 50/255): about 30% of the 192 values exceed 1, and stay so (unclipped).
        assert!(a.0.data.iter().any(|&v| v > 1.0), "noise is not clipped");
        let lo = a.0.data.iter().fold(f32::MAX, |l, &v| l.min(v));
        assert!(lo < 0.6, "sigma 50 spreads the patch: min {lo}");
    }

    #[test]
    fn hr_crop_matches_lr_crop() {
        // HR built as the nearest-neighbour x2 of LR: every crop/augment must keep that relation.
        let lr = Image::new(3, 6, 6, (0..108).map(|v| v as f32 / 108.0).collect()).unwrap();
        let mut hr = Image::zeros(3, 12, 12);
        for c in 0..3 {
            for y in 0..12 {
                for x in 0..12 {
                    hr.data[(c * 12 + y) * 12 + x] = lr.at(c, y / 2, x / 2);
                }
            }
        }
        let set: Arc<dyn Dataset<SrPair>> = Arc::new(InMemDataset::new(vec![SrPair { lr, hr }]));
        let loader = IterationLoader::<Flex>::new(
            set,
            params(5, 5),
            SamplerState::new(0),
            Default::default(),
        );
        for g in 0..5 {
            let b = loader.batch_at(g).unwrap();
            let hr = b.hr.into_data().into_vec::<f32>().unwrap();
            let lr = b.lr.into_data().into_vec::<f32>().unwrap();
            for n in 0..3 {
                for c in 0..3 {
                    for y in 0..8 {
                        for x in 0..8 {
                            let h = hr[((n * 3 + c) * 8 + y) * 8 + x];
                            let l = lr[((n * 3 + c) * 4 + y / 2) * 4 + x / 2];
                            assert_eq!(h, l);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn too_small_items_are_reported_not_panicked() {
        let set = toy_set(2);
        let mut p = params(3, 3);
        p.lr_patch = 8;
        let state = SamplerState::new(0);
        let loader = IterationLoader::<Flex>::new(set, p, state.clone(), Default::default());
        assert_eq!(loader.iter().count(), 0);
        assert!(matches!(
            state.take_error(),
            Some(IdcError::InvalidInput(_))
        ));
    }
}
