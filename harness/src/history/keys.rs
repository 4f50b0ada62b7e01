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
    /// [`Keys::intern_bytes`]' cache: a key id by a cheap slot of its name's bytes (empty
    /// until first used; [`RECENT_NONE`] in a slot not yet filled). A history names a few keys
    /// millions of times, so nearly every lookup ends here, without hashing the name or
    /// checking it as UTF-8. It is only ever a hint: a hit is confirmed by comparing names.
    recent: Vec<u32>,
}

/// Slots of [`Keys::recent`]: a power of two, well over the keys of a typical history.
const RECENT_SLOTS: usize = 64;

/// An empty slot of [`Keys::recent`].
const RECENT_NONE: u32 = u32::MAX;

/// The slot of a non-empty key name in [`Keys::recent`]: from its length and its first and last
/// bytes, which tell apart `"orders/0"` … `"orders/7"` and `"tokens/0"` for the price of two
/// loads. Names that share a slot only miss the cache.
fn recent_slot(name: &[u8]) -> usize {
    let (first, last) = (name[0] as usize, name[name.len() - 1] as usize);
    (first * 7 + last + name.len() * 13) % RECENT_SLOTS
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

    /// [`Keys::intern`] for a name read as bytes (non-empty), or `None` when it is not UTF-8.
    /// A name met before is found in [`Keys::recent`] without checking it again: it equals a
    /// name that was checked.
    pub(crate) fn intern_bytes(&mut self, name: &[u8]) -> Option<KeyId> {
        assert!(!name.is_empty(), "key names are not empty");
        let slot = recent_slot(name);
        if let Some(&id) = self.recent.get(slot) {
            // A slot may name a key given back since ([`Keys::truncate`]), or one now
            // numbered again: comparing names settles both.
            let known = self.names.get_index(id as usize);
            if known.is_some_and(|known| known.as_bytes() == name) {
                return Some(KeyId(id));
            }
        }
        let id = self.intern(std::str::from_utf8(name).ok()?);
        if self.recent.is_empty() {
            self.recent = vec![RECENT_NONE; RECENT_SLOTS];
        }
        self.recent[slot] = id.0;
        Some(id)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_as_bytes_intern_as_their_strings_do() {
        let (mut by_bytes, mut by_str) = (Keys::default(), Keys::default());
        // Repeats, names that share a cache slot ("ab"/"ba" have the same ends and length),
        // and a name not in ASCII.
        let names = [
            "orders/0", "tokens/0", "ab", "ba", "orders/0", "ab", "ba", "ké", "ba",
        ];
        for name in names {
            assert_eq!(
                by_bytes.intern_bytes(name.as_bytes()),
                Some(by_str.intern(name))
            );
        }
        assert_eq!(by_bytes.len(), 5);
        assert_eq!(by_bytes.intern_bytes(b"k\xff"), None, "not UTF-8");
        assert_eq!(by_bytes.len(), 5, "a refused name is not interned");
    }

    #[test]
    fn a_key_given_back_is_not_found_in_the_cache() {
        let mut keys = Keys::default();
        keys.intern_bytes(b"a/0").unwrap();
        keys.intern_bytes(b"b/1").unwrap();
        keys.truncate(1);
        // "c/1" may share "b/1"'s slot and now takes its id; "b/1" is new again.
        assert_eq!(keys.intern_bytes(b"c/1"), Some(KeyId(1)));
        assert_eq!(keys.intern_bytes(b"b/1"), Some(KeyId(2)));
        assert_eq!(keys.intern_bytes(b"c/1"), Some(KeyId(1)));
        assert_eq!(keys.name(KeyId(2)), "b/1");
    }
}
