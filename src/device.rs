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

/// Serialises this crate's autodiff work across threads: a condensation step (condense-ahead
/// worker) and a training step never build or free autodiff graphs at the same time. Why: Burn
/// 0.21's autodiff registry can deadlock when two threads do (a backward's cleanup holds a
/// graph's mutex and waits for the global locator, while an op on the other thread holds the
/// locator and waits for that graph), seen as a hung `idc train --condense-ratio`. Held for one
/// step, so the two threads still interleave. Not reentrant: never nest two sections.
pub fn autodiff_section() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The default device (CPU, or CUDA device 0 with the `cuda` feature). On CUDA it first points
/// CubeCL's kernel and autotune caches at [`kernel_cache_dir`] (see there).
pub fn default_device() -> DefaultDevice {
    #[cfg(feature = "cuda")]
    cubecl_caches::install();
    DefaultDevice::default()
}

/// Where compiled kernels and autotune results persist between processes on CUDA, so only the
/// first process on a machine (or cluster, with a shared path) pays the ~100 s of compilation:
/// `$IDC_KERNEL_CACHE` if set (`off` disables it), else `$XDG_CACHE_HOME/burn-idc/cubecl`, else
/// `$HOME/.cache/burn-idc/cubecl`. A `cubecl.toml` (or `[cubecl]` in `burn.toml`) in the working
/// directory or a parent takes precedence over all of this, as CubeCL documents.
pub fn kernel_cache_dir(env: impl Fn(&str) -> Option<String>) -> Option<std::path::PathBuf> {
    let set = |k: &str| env(k).filter(|v| !v.is_empty());
    if let Some(dir) = set("IDC_KERNEL_CACHE") {
        return (dir != "off").then(|| dir.into());
    }
    let base = set("XDG_CACHE_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| set("HOME").map(|h| std::path::Path::new(&h).join(".cache")))?;
    Some(base.join("burn-idc").join("cubecl"))
}

#[cfg(feature = "cuda")]
mod cubecl_caches {
    use burn::cubecl::config::cache::CacheConfig;
    use burn::cubecl::config::{CubeClRuntimeConfig, RuntimeConfig};
    use std::path::Path;
    use std::sync::{Arc, Once};

    /// True when the user configures CubeCL with a file CubeCL itself reads.
    fn user_config_file() -> bool {
        let Ok(mut dir) = std::env::current_dir() else {
            return false;
        };
        loop {
            let names = ["cubecl.toml", "CubeCL.toml", "burn.toml", "Burn.toml"];
            if names.iter().any(|n| Path::new(&dir).join(n).is_file()) {
                return true;
            }
            if !dir.pop() {
                return false;
            }
        }
    }

    /// Installs the persistent caches once, unless CubeCL was configured already (by a file, or
    /// by a runtime created earlier in this process).
    pub(super) fn install() {
        static ONCE: Once = Once::new();
        ONCE.call_once(|| {
            if user_config_file() {
                return;
            }
            let Some(dir) = super::kernel_cache_dir(|k| std::env::var(k).ok()) else {
                return;
            };
            let mut config = CubeClRuntimeConfig::default().override_from_env();
            config.compilation.cache = Some(CacheConfig::File(dir.clone()));
            config.autotune.cache = CacheConfig::File(dir);
            let mut state = CubeClRuntimeConfig::storage().lock();
            if state.is_none() {
                *state = Some(Arc::new(config));
            }
        });
    }
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

#[cfg(test)]
mod tests {
    use super::kernel_cache_dir;
    use std::path::PathBuf;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn kernel_cache_dir_follows_env_precedence() {
        let all = [
            ("IDC_KERNEL_CACHE", "/shared/k"),
            ("XDG_CACHE_HOME", "/x"),
            ("HOME", "/h"),
        ];
        assert_eq!(
            kernel_cache_dir(env(&all)),
            Some(PathBuf::from("/shared/k"))
        );
        assert_eq!(
            kernel_cache_dir(env(&all[1..])),
            Some(PathBuf::from("/x/burn-idc/cubecl"))
        );
        assert_eq!(
            kernel_cache_dir(env(&all[2..])),
            Some(PathBuf::from("/h/.cache/burn-idc/cubecl"))
        );
        assert_eq!(
            kernel_cache_dir(env(&[("IDC_KERNEL_CACHE", "off"), ("HOME", "/h")])),
            None
        );
        assert_eq!(kernel_cache_dir(env(&[])), None);
    }
}
