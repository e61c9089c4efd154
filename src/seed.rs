//! The one seed mixer: every derived random stream in the crate comes from these functions, so
//! equal inputs give equal streams everywhere (shards, samplers, augmentation, generated images).

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;
const SECOND: u64 = 0xD1B5_4A32_D192_ED03;

/// SplitMix64's output finaliser: a bijective, well-mixed 64-bit hash.
fn finalize(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// One SplitMix64 step on `z` (state advanced by the golden gamma, then finalised).
pub fn splitmix64(z: u64) -> u64 {
    finalize(z.wrapping_add(GOLDEN))
}

/// Mixes a seed with two stream ids into an independent 64-bit seed; `(seed, a, 0)` is the
/// stream for purpose `a`.
pub fn mix_seed(seed: u64, a: u64, b: u64) -> u64 {
    finalize(seed ^ a.wrapping_mul(GOLDEN) ^ b.wrapping_mul(SECOND))
}

/// A seed for the named instance `name` under the run seed `seed` (independent of the
/// instance's position in a folder, so adding images does not change the others' draws).
pub fn named_seed(seed: u64, name: &str) -> u64 {
    let h = crate::config::hex_sha256(format!("{seed}:{name}").as_bytes());
    u64::from_str_radix(&h[..16], 16).unwrap_or(seed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_distinct_and_stable() {
        // Pinned values: cache fingerprints and committed results depend on these streams.
        assert_eq!(splitmix64(0), 0xE220_A839_7B1D_CDAF);
        assert_ne!(mix_seed(1, 2, 0), mix_seed(1, 0, 2));
        assert_eq!(mix_seed(7, 3, 0), finalize(7 ^ 3u64.wrapping_mul(GOLDEN)));
        assert_ne!(named_seed(0, "a"), named_seed(0, "b"));
    }
}
