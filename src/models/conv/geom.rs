//! The shape of one fast-path convolution, its split into work items and each item's scratch
//! buffer, shared by the im2col + `gemm` kernels (`host`) and the direct 3x3 kernel (`direct`).

use std::cell::RefCell;
use std::ops::Range;

/// Floats in one item's im2col buffer at most (4 MiB): small enough to stay near the cache, and
/// about what each thread's [`SCRATCH`] grows to.
pub(super) const COLS_ELEMS: usize = 1 << 20;
/// Items the work is split into at least (when the image has the rows): enough to keep a few
/// cores busy at batch 1, independent of the thread count so the split is too.
const MIN_ITEMS: usize = 8;

/// A stride-1, dilation-1, single-group convolution with zero padding `pt`/`pl` at the top/left
/// (the bottom/right padding is implied by `ho`/`wo`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Geom {
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub co: usize,
    pub kh: usize,
    pub kw: usize,
    pub pt: usize,
    pub pl: usize,
    pub ho: usize,
    pub wo: usize,
}

impl Geom {
    /// Rows of the im2col matrix (`c kh kw`), the reduction length of the forward product.
    pub(super) fn k(&self) -> usize {
        self.c * self.kh * self.kw
    }

    /// A 1x1 unpadded convolution reads the input as its own im2col matrix.
    pub(super) fn pointwise(&self) -> bool {
        self.kh == 1
            && self.kw == 1
            && self.pt == 0
            && self.pl == 0
            && (self.ho, self.wo) == (self.h, self.w)
    }

    /// The work items `(image, output rows)`, a function of the shape only.
    pub(super) fn items(&self) -> Vec<(usize, Range<usize>)> {
        let by_memory = (COLS_ELEMS / (self.k() * self.wo).max(1)).max(1);
        let bands_wanted = MIN_ITEMS.div_ceil(self.n.max(1)).min(self.ho);
        let rows = by_memory.min(self.ho.div_ceil(bands_wanted.max(1))).max(1);
        (0..self.n)
            .flat_map(|b| {
                (0..self.ho)
                    .step_by(rows)
                    .map(move |r| (b, r..(r + rows).min(self.ho)))
            })
            .collect()
    }

    /// The convolution whose forward is this one's input gradient: output gradient in, weights
    /// flipped and transposed ([`flip_transpose`]), padding `k - 1 - p` on each side.
    pub(crate) fn input_grad(&self) -> Geom {
        Geom {
            n: self.n,
            c: self.co,
            h: self.ho,
            w: self.wo,
            co: self.c,
            kh: self.kh,
            kw: self.kw,
            pt: self.kh - 1 - self.pt,
            pl: self.kw - 1 - self.pl,
            ho: self.h,
            wo: self.w,
        }
    }
}

thread_local! {
    /// Each thread's scratch buffer for one item (an im2col matrix or a padded input band). It
    /// only grows, so items after the first neither allocate nor zero-fill: every user
    /// overwrites all of the slice it is handed before reading it.
    static SCRATCH: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// `f` on `len` floats of this thread's [`SCRATCH`] (stale values: `f` must write before it
/// reads). The kernels never nest, so the buffer is never borrowed twice on a thread; a fresh
/// one keeps that an optimisation rather than a requirement.
pub(crate) fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    let run = |buf: &mut Vec<f32>| {
        if buf.len() < len {
            buf.resize(len, 0.0);
        }
        f(&mut buf[..len])
    };
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => run(&mut buf),
        Err(_) => run(&mut Vec::new()),
    })
}
