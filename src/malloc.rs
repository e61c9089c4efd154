//! glibc's allocator, tuned for tensor workloads: an opt-in process setting for binaries.
//!
//! Every Burn op on the CPU backend allocates its output afresh. glibc serves blocks above its
//! (dynamic) mmap threshold with a new `mmap` and unmaps them on free, so a training step
//! page-faults and zero-fills each activation again, and it trims freed heap back to the OS.
//! `perf` put ~10% of a SwinIR-tiny train step in page faults, page clearing and unmapping;
//! with the thresholds below the blocks are reused from the heap instead: the same results,
//! the same peak memory, and a 300-iteration SwinIR-tiny training 1.57x faster
//! (`benches/README.md`).

/// Allocations up to this size come from the heap (glibc's ceiling for the setting on 64-bit:
/// larger values are refused). Every activation of the CPU presets fits under it.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: libc::c_int = 32 << 20;

/// Freed memory at the top of the heap is kept up to this much, for the next step to reuse.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const TRIM_THRESHOLD: libc::c_int = libc::c_int::MAX;

/// Sets glibc's mmap and trim thresholds for this process (see the module docs); `true` when
/// applied, `false` on a target without glibc (nothing to do there). Call it once at the start
/// of `main`: a process-wide setting, so the library never makes it on its own.
pub fn tune_allocator() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: `mallopt` only updates glibc's malloc parameters, under its own lock.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
                && libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_are_accepted_by_glibc() {
        // glibc refuses an mmap threshold above its ceiling (returns 0): this fails if the
        // constant ever drifts past it.
        assert_eq!(
            tune_allocator(),
            cfg!(all(target_os = "linux", target_env = "gnu"))
        );
    }
}
