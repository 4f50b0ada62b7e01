//! Keys (`"topic/partition"`, or a znode's path) interned into [`KeyId`]s, so per-key state
//! lives in vectors, not string-keyed maps.

use indexmap::IndexSet;
use std::hash::{BuildHasherDefault, Hasher};

/// An interned key (`"topic/partition"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId(pub u32);

impl KeyId {
    pub fn slot(self) -> usize {
        self.0 as usize
    }
}

/// The key interner of one history: key names in the order first met, a key's id its
/// position. Every key of every op is looked up here while a history is read, so the names are
/// hashed (an insertion-ordered set: nothing depends on hash order).
#[derive(Clone, Debug, Default)]
pub struct Keys {
    names: IndexSet<String, BuildHasherDefault<KeyHasher>>,
}

/// A multiply-rotate hash of a key name, a word at a time (rustc's Fx hash): keys are short,
/// and std's keyed hasher would cost more than the lookup it serves.
#[derive(Clone, Copy, Debug, Default)]
struct KeyHasher(u64);

impl KeyHasher {
    const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(Self::SEED);
    }
}

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            self.add(u64::from_le_bytes(chunk.try_into().expect("8 bytes")));
        }
        let mut last = [0u8; 8];
        let rest = chunks.remainder();
        last[..rest.len()].copy_from_slice(rest);
        self.add(u64::from_le_bytes(last));
    }

    fn write_u8(&mut self, byte: u8) {
        self.add(u64::from(byte));
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl Keys {
    pub fn intern(&mut self, name: &str) -> KeyId {
        let position = match self.names.get_index_of(name) {
            Some(position) => position,
            None => self.names.insert_full(name.to_string()).0,
        };
        KeyId(u32::try_from(position).expect("fewer than 2^32 keys"))
    }

    /// Forgets the keys interned after the first `len` (a reader that gave up on a line gives
    /// its keys back, so ids stay in the order the accepted reading meets them).
    pub(crate) fn truncate(&mut self, len: usize) {
        self.names.truncate(len);
    }

    pub fn name(&self, id: KeyId) -> &str {
        self.names
            .get_index(id.slot())
            .expect("a key id of this history")
    }

    pub fn id(&self, name: &str) -> Option<KeyId> {
        self.names
            .get_index_of(name)
            .map(|position| KeyId(position as u32))
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}
