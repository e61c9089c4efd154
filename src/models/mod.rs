//! ISR networks and the two roles IDC needs them in.
//!
//! - [`FeatureExtractor`]: the frozen network whose features the condenser matches.
//! - [`Teacher`]: the network that up-samples synthetic LR patches into HR targets.
//!
//! Both take `[N, 3, h, w]` batches in `[0, 1]`. Any user model can implement them; EDSR
//! (`edsr`) and SwinIR (`swinir`) implement both.

use burn::tensor::{Tensor, backend::Backend};

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
pub mod store;

pub use net::{NetConfig, SrNet};
pub use store::{load_model_dir, save_model_dir};
