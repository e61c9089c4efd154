//! ISR networks and the two roles IDC needs them in.
//!
//! - [`FeatureExtractor`](crate::FeatureExtractor): the frozen network whose features the condenser matches.
//! - [`Teacher`](crate::Teacher): the network that up-samples synthetic LR patches into HR targets.
//!
//! Both take `[N, 3, h, w]` batches in `[0, 1]`. Any user model can implement them; EDSR
//! (`edsr`) and SwinIR (`swinir`) implement both.

/// Writes [`FeatureExtractor`] and [`Teacher`] for a network family, once for every family: the
/// extractor's features are the family's inherent `features`, the teacher's output its inherent
/// `forward`; the three facts that differ (feature channels, scale, fingerprint) are expressions
/// of the network `$m`. Call it where `FeatureExtractor`, `Teacher`, `Tensor` and `Backend` are
/// in scope (the family's own module, which sees its private fields).
macro_rules! impl_roles {
    ($family:ident, |$m:ident| channels: $channels:expr, scale: $scale:expr, fingerprint: $fp:expr $(,)?) => {
        impl<B: Backend> FeatureExtractor<B> for $family<B> {
            /// Through an untracked copy of the network: the extractor is frozen, so a backward
            /// from its features computes the input's gradient only, not every weight's as well.
            fn features(&self, lr: Tensor<B, 4>) -> Tensor<B, 4> {
                $family::features(&burn::module::Module::no_grad(self.clone()), lr)
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

// The sub-modules are private: the networks and traits a Burn program names live at the crate
// root (`burn_idc::EdsrConfig`, `SwinIrConfig`, `FeatureExtractor`, `Teacher`, `NetConfig`,
// `SrNet`, `load_model_dir`, `save_model_dir`), everything else here, once, as
// `burn_idc::models::X`.
pub(crate) mod conv;
pub(crate) mod edsr;
pub(crate) mod identity;
pub(crate) mod net;
pub(crate) mod permute;
pub(crate) mod pretrained;
pub(crate) mod roles;
pub(crate) mod shuffle;
pub(crate) mod softmax;
pub(crate) mod store;
pub(crate) mod swinir;
pub(crate) mod weights;

pub(crate) use net::{NetConfig, SrNet};
pub(crate) use roles::{FeatureExtractor, Teacher};
pub(crate) use store::{load_model_dir, save_model_dir};

/// The fast path's backward passes alone, for `benches/conv_grad`.
#[doc(hidden)]
pub use conv::passes::{input_grad as conv_input_grad, weight_grad as conv_weight_grad};
pub use conv::{conv2d, fast_conv_enabled};
pub use edsr::{DIV2K_RGB_MEAN, ResidualBlockNoBn};
pub use identity::IdentityTeacher;
pub use permute::permute_contiguous;
pub use pretrained::{BUILTIN, Pretrained, load_builtin};
pub use shuffle::{pixel_shuffle, pixel_shuffle_ops};
pub use softmax::softmax_last;
pub use store::{CONFIG_FILE, WEIGHTS_FILE, load_model_config, model_from_bytes, model_to_bytes};
pub use swinir::{
    BasicLayer, Mlp, PatchEmbed, RECON_FEAT, ResiConnection, Rstb, SwinBlock, Upsampler,
    WindowAttention, relative_position_index, shifted_window_mask,
};
pub use weights::{
    EDSR_KEYS, KeyRules, PTH_SUPPORTED, basicsr_to_burn_key, burn_to_basicsr_key, load_basicsr_pth,
    load_net_pth, load_swinir_pth, swinir_keys, swinir_names,
};
