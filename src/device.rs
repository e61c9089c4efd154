//! The one place that picks the Burn backend, so the rest of the crate is backend-agnostic.
//!
//! Without features the CPU backend is Burn's `flex` (the fastest CPU backward pass available
//! offline); with `--features cuda` the same code runs on `burn-cuda`. Library code is generic over
//! `B: Backend`; only binaries, examples and tests name [`DefaultBackend`].

use burn::backend::Autodiff;

#[cfg(not(feature = "cuda"))]
mod pick {
    /// Inference backend (CPU, `flex`).
    pub type DefaultBackend = burn::backend::Flex;
    /// Human-readable backend name for logs and reports.
    pub const BACKEND_NAME: &str = "flex (CPU)";
}

#[cfg(feature = "cuda")]
mod pick {
    /// Inference backend (CUDA through burn-cuda).
    pub type DefaultBackend = burn::backend::Cuda;
    /// Human-readable backend name for logs and reports.
    pub const BACKEND_NAME: &str = "cuda";
}

pub use pick::{BACKEND_NAME, DefaultBackend};

/// Training backend: the default backend with automatic differentiation.
pub type TrainBackend = Autodiff<DefaultBackend>;

/// Device of the default backend.
pub type DefaultDevice = burn::tensor::Device<DefaultBackend>;

/// The default device (CPU, or CUDA device 0 with the `cuda` feature).
pub fn default_device() -> DefaultDevice {
    DefaultDevice::default()
}

/// Runs the same test body on the CPU backend and, with the `cuda` feature, on CUDA too
/// (candle's pattern). The body sees `B` (a backend type) and `device`.
///
/// ```ignore
/// burn_idc::backend_test!(adds_up, |B, device| { let t = Tensor::<B, 1>::ones([2], &device); });
/// ```
#[macro_export]
macro_rules! backend_test {
    ($name:ident, |$b:ident, $dev:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[test]
            fn cpu() {
                #[allow(non_camel_case_types, dead_code)]
                type $b = burn::backend::Flex;
                let $dev = burn::tensor::Device::<$b>::default();
                $body
            }
            #[cfg(feature = "cuda")]
            #[test]
            fn cuda() {
                #[allow(non_camel_case_types, dead_code)]
                type $b = burn::backend::Cuda;
                let $dev = burn::tensor::Device::<$b>::default();
                $body
            }
        }
    };
}
