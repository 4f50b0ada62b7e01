//! `--shard K/N`: which (scenario, seed) pairs this machine runs. A stable hash (FNV-1a of the
//! scenario name and seed, never `std`'s randomised hasher) spreads runs so the N shards are
//! disjoint and together cover everything, whatever order the runs are listed in.

use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// 1-based.
    pub index: u64,
    pub count: u64,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("bad shard {0:?}: expected K/N with 1 <= K <= N, e.g. 2/4")]
pub struct ShardParseError(String);

impl FromStr for Shard {
    type Err = ShardParseError;

    fn from_str(text: &str) -> Result<Shard, ShardParseError> {
        let error = || ShardParseError(text.to_string());
        let (index, count) = text.split_once('/').ok_or_else(error)?;
        let index: u64 = index.trim().parse().map_err(|_| error())?;
        let count: u64 = count.trim().parse().map_err(|_| error())?;
        if count == 0 || index == 0 || index > count {
            return Err(error());
        }
        Ok(Shard { index, count })
    }
}

pub fn stable_hash(scenario: &str, seed: u64) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in scenario
        .as_bytes()
        .iter()
        .chain(&[0u8])
        .chain(&seed.to_be_bytes())
    {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

impl Shard {
    pub fn owns(&self, scenario: &str, seed: u64) -> bool {
        stable_hash(scenario, seed) % self.count == self.index - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_disjoint_and_cover_everything() {
        let shards: Vec<Shard> = (1..=3).map(|k| format!("{k}/3").parse().unwrap()).collect();
        for seed in 0..500 {
            let owners = shards
                .iter()
                .filter(|s| s.owns("leader-crash", seed))
                .count();
            assert_eq!(owners, 1);
        }
        assert!("0/3".parse::<Shard>().is_err());
        assert!("4/3".parse::<Shard>().is_err());
        assert!("x".parse::<Shard>().is_err());
    }
}
