//! The history digest: FNV-1a (64 bit) over the canonical JSON Lines bytes. Two runs of one
//! (scenario, seed, code) must produce the same digest; `--check-determinism` compares them.
//! Hand-written on purpose: std's hashers are randomly keyed or unspecified across releases.

use super::op::Op;
use super::write::write_op;
use std::fmt;
use std::io;

const FNV_OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a 64 of a history's canonical bytes; printed as 16 lowercase hex digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HistoryDigest(pub u64);

impl HistoryDigest {
    pub fn of_bytes(bytes: &[u8]) -> HistoryDigest {
        let mut hasher = Fnv1a::default();
        hasher.update(bytes);
        HistoryDigest(hasher.state)
    }

    /// The digest of the bytes [`super::write_history`] would write for `ops`.
    pub fn of_ops(ops: &[Op]) -> HistoryDigest {
        let mut hasher = Fnv1a::default();
        for op in ops {
            write_op(op, &mut hasher).expect("hashing never fails");
        }
        HistoryDigest(hasher.state)
    }

    pub fn hex(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for HistoryDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// An `io::Write` that hashes what is written to it.
#[derive(Clone, Debug)]
pub struct Fnv1a {
    state: u64,
}

impl Default for Fnv1a {
    fn default() -> Self {
        Fnv1a {
            state: FNV_OFFSET_BASIS,
        }
    }
}

impl Fnv1a {
    pub fn update(&mut self, bytes: &[u8]) {
        let mut state = self.state;
        for &byte in bytes {
            state ^= u64::from(byte);
            state = state.wrapping_mul(FNV_PRIME);
        }
        self.state = state;
    }

    pub fn finish(&self) -> u64 {
        self.state
    }
}

impl io::Write for Fnv1a {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.update(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_published_vectors() {
        // From the FNV reference test suite.
        assert_eq!(HistoryDigest::of_bytes(b"").0, 0xcbf2_9ce4_8422_2325);
        assert_eq!(HistoryDigest::of_bytes(b"a").0, 0xaf63_dc4c_8601_ec8c);
        assert_eq!(HistoryDigest::of_bytes(b"foobar").0, 0x8594_4171_f739_67e8);
        assert_eq!(HistoryDigest(0xab).to_string(), "00000000000000ab");
    }
}
