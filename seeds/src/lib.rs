//! Seeded randomness. One master seed per run; every node, client and fault generator derives
//! its own seed from it by label, so adding a node does not shift another node's stream.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// A node's random number generator.
pub type NodeRng = ChaCha8Rng;

/// Derives a child seed from `master` and a stable `label` (e.g. `"broker-2"`). FNV-1a over the
/// label, mixed with the master seed through SplitMix64: stable across platforms and releases,
/// unlike `std`'s hashers.
pub fn derive_seed(master: u64, label: &str) -> u64 {
    const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = FNV_OFFSET;
    for byte in label.as_bytes() {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(FNV_PRIME);
    }
    splitmix64(master ^ splitmix64(hash))
}

fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// A ChaCha rng for a derived seed.
pub fn rng_for(master: u64, label: &str) -> NodeRng {
    NodeRng::seed_from_u64(derive_seed(master, label))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn derivation_is_stable_and_label_sensitive() {
        // Pinned: a change here changes what every recorded seed replays.
        assert_eq!(derive_seed(42, "broker-1"), 2_445_513_948_010_111_006);
        assert_ne!(derive_seed(42, "broker-1"), derive_seed(42, "broker-2"));
        assert_ne!(derive_seed(42, "broker-1"), derive_seed(43, "broker-1"));
        let a: u64 = rng_for(7, "x").random();
        let b: u64 = rng_for(7, "x").random();
        assert_eq!(a, b);
    }
}
