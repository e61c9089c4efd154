//! The two roles IDC needs a network in, [`FeatureExtractor`] and [`Teacher`] (both at the
//! crate root), and their blanket impls through `&E` and `Arc<E>`.

use burn::tensor::{Tensor, backend::Backend};

/// Frozen feature network: LR batch `[N, 3, h, w]` in `[0, 1]` -> feature maps `[N, c, h', w']`.
///
/// Gradients must flow from the features back to the *input* (the condenser optimises pixels),
/// so on an autodiff backend the implementation must not detach the input; its parameters are
/// best left untracked (`Module::no_grad`), or every condensation step also computes their
/// gradients, which nothing reads (EDSR and SwinIR run an untracked copy: 0.79x a step).
pub trait FeatureExtractor<B: Backend>: Send + Sync {
    /// Feature maps of an LR batch.
    fn features(&self, lr: Tensor<B, 4>) -> Tensor<B, 4>;
    /// Number of feature channels `c`.
    fn feature_channels(&self) -> usize;
    /// Stable hash of architecture and weights, part of every cache fingerprint.
    fn fingerprint(&self) -> String;
}

/// Super-resolution network used to make HR targets: LR `[N, 3, h, w]` -> HR `[N, 3, s h, s w]`.
pub trait Teacher<B: Backend>: Send + Sync {
    /// Up-sampled batch (not clamped; callers clamp to `[0, 1]`).
    fn upscale(&self, lr: Tensor<B, 4>) -> Tensor<B, 4>;
    /// Up-sampling factor `s`.
    fn scale(&self) -> usize;
    /// Stable hash of architecture and weights, part of every cache fingerprint.
    fn fingerprint(&self) -> String;
}

/// A borrowed or shared model plays its role too, so a [`crate::condense::Condenser`] can hold
/// `&E` (a caller's model) or `Arc<E>` (a long-lived dataset's) by value.
macro_rules! impl_roles_through {
    ($($ptr:ty),*) => {$(
        impl<B: Backend, E: FeatureExtractor<B> + ?Sized> FeatureExtractor<B> for $ptr {
            fn features(&self, lr: Tensor<B, 4>) -> Tensor<B, 4> {
                (**self).features(lr)
            }
            fn feature_channels(&self) -> usize {
                (**self).feature_channels()
            }
            fn fingerprint(&self) -> String {
                (**self).fingerprint()
            }
        }
    )*};
}
macro_rules! impl_teacher_through {
    ($($ptr:ty),*) => {$(
        impl<B: Backend, E: Teacher<B> + ?Sized> Teacher<B> for $ptr {
            fn upscale(&self, lr: Tensor<B, 4>) -> Tensor<B, 4> {
                (**self).upscale(lr)
            }
            fn scale(&self) -> usize {
                (**self).scale()
            }
            fn fingerprint(&self) -> String {
                (**self).fingerprint()
            }
        }
    )*};
}
impl_roles_through!(&E, std::sync::Arc<E>);
impl_teacher_through!(&E, std::sync::Arc<E>);
