//! ISR networks and the two roles IDC needs them in.
//!
//! - [`FeatureExtractor`]: the frozen network whose features the condenser matches.
//! - [`Teacher`]: the network that up-samples synthetic LR patches into HR targets.
//!
//! Both take `[N, 3, h, w]` batches in `[0, 1]`. Any user model can implement them; EDSR
//! (`edsr`) and SwinIR (`swinir`) implement both.

use burn::tensor::{Tensor, backend::Backend};

/// Writes [`FeatureExtractor`] and [`Teacher`] for a network family, once for every family: the
/// extractor's features are the family's inherent `features`, the teacher's output its inherent
/// `forward`; the three facts that differ (feature channels, scale, fingerprint) are expressions
/// of the network `$m`. Call it where `FeatureExtractor`, `Teacher`, `Tensor` and `Backend` are
/// in scope (the family's own module, which sees its private fields).
macro_rules! impl_roles {
    ($family:ident, |$m:ident| channels: $channels:expr, scale: $scale:expr, fingerprint: $fp:expr $(,)?) => {
        impl<B: Backend> FeatureExtractor<B> for $family<B> {
            fn features(&self, lr: Tensor<B, 4>) -> Tensor<B, 4> {
                $family::features(self, lr)
            }
            fn feature_channels(&self) -> usize {
                let $m = self;
                $channels
            }
            fn fingerprint(&self) -> String {
                let $m = self;
                $fp
            }
        }

        impl<B: Backend> Teacher<B> for $family<B> {
            fn upscale(&self, lr: Tensor<B, 4>) -> Tensor<B, 4> {
                $family::forward(self, lr)
            }
            fn scale(&self) -> usize {
                let $m = self;
                $scale
            }
            fn fingerprint(&self) -> String {
                let $m = self;
                $fp
            }
        }
    };
}

pub mod conv;
pub mod edsr;
pub mod identity;
pub mod net;
pub mod permute;
pub mod pretrained;
pub mod shuffle;
pub mod swinir;
pub mod weights;

/// Frozen feature network: LR batch `[N, 3, h, w]` in `[0, 1]` -> feature maps `[N, c, h', w']`.
///
/// Gradients must flow from the features back to the *input* (the condenser optimises pixels),
/// so on an autodiff backend the implementation must not detach the input.
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

pub mod store;

pub use net::{NetConfig, SrNet};
pub use store::{load_model_dir, save_model_dir};
