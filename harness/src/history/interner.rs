//! Names interned into dense ids, in the order first met: keys ([`super::keys`]) and
//! transaction ids ([`super::txns`]). A history holds an id per op, not a string, so per-name
//! state lives in vectors and an op's value stays a few bytes.

use indexmap::IndexSet;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::marker::PhantomData;

/// An id an [`Interner`] hands out: the position of its name, in 32 bits.
pub trait InternedId: Copy {
    /// What the names are, for the messages of the interner's assertions ("keys").
    const WHAT: &'static str;

    fn at(position: u32) -> Self;

    fn position(self) -> u32;
}

/// The names of one history, of one kind: in the order first met, an id its name's position.
/// Every name of every op is looked up here while a history is read, so the names are hashed
/// (an insertion-ordered set: nothing depends on hash order).
pub struct Interner<I> {
    names: IndexSet<String, BuildHasherDefault<NameHasher>>,
    /// [`Interner::intern_bytes`]' cache: an id by a cheap slot of its name's bytes (empty
    /// until first used; [`RECENT_NONE`] in a slot not yet filled). A history names a few keys
    /// millions of times, so nearly every key lookup ends here, without hashing the name or
    /// checking it as UTF-8. It is only ever a hint: a hit is confirmed by comparing names.
    /// (Transaction ids, each named by an invoke and its completion, mostly miss it, which
    /// costs one compare before the lookup they would make anyway.)
    recent: Vec<u32>,
    id: PhantomData<I>,
}

/// Slots of [`Interner::recent`]: a power of two, well over the keys of a typical history.
const RECENT_SLOTS: usize = 64;

/// An empty slot of [`Interner::recent`].
const RECENT_NONE: u32 = u32::MAX;

/// The slot of a non-empty name in [`Interner::recent`]: from its length and its first and last
/// bytes, which tell apart `"orders/0"` … `"orders/7"` and `"tokens/0"` for the price of two
/// loads. Names that share a slot only miss the cache.
fn recent_slot(name: &[u8]) -> usize {
    let (first, last) = (name[0] as usize, name[name.len() - 1] as usize);
    (first * 7 + last + name.len() * 13) % RECENT_SLOTS
}

impl<I> Default for Interner<I> {
    fn default() -> Self {
        Interner {
            names: IndexSet::default(),
            recent: Vec::new(),
            id: PhantomData,
        }
    }
}

impl<I> Clone for Interner<I> {
    fn clone(&self) -> Self {
        Interner {
            names: self.names.clone(),
            recent: self.recent.clone(),
            id: PhantomData,
        }
    }
}

impl<I> fmt::Debug for Interner<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.names.iter()).finish()
    }
}

/// A multiply-rotate hash of a name, a word at a time (rustc's Fx hash): names are short, and
/// std's keyed hasher would cost more than the lookup it serves. A product's low bits depend
/// only on its factors' low bits, here a name's first bytes, and the table picks buckets by
/// the low bits: [`Hasher::finish`] rotates the well-mixed high bits down (as rustc-hash 2
/// does), else names that differ only at the end ("t1", ..., "t500000") share a few buckets.
#[derive(Clone, Copy, Debug, Default)]
struct NameHasher(u64);

impl NameHasher {
    const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(Self::SEED);
    }
}

impl Hasher for NameHasher {
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
        self.0.rotate_left(26)
    }
}

impl<I: InternedId> Interner<I> {
    pub fn intern(&mut self, name: &str) -> I {
        let position = match self.names.get_index_of(name) {
            Some(position) => position,
            None => self.names.insert_full(name.to_string()).0,
        };
        I::at(
            u32::try_from(position)
                .unwrap_or_else(|_| panic!("fewer than 2^32 {} in one history", I::WHAT)),
        )
    }

    /// [`Interner::intern`] for a name read as bytes (non-empty), or `None` when it is not
    /// UTF-8. A name met before is found in [`Interner::recent`] without checking it again: it
    /// equals a name that was checked.
    pub(crate) fn intern_bytes(&mut self, name: &[u8]) -> Option<I> {
        assert!(!name.is_empty(), "{} are not empty", I::WHAT);
        let slot = recent_slot(name);
        if let Some(&position) = self.recent.get(slot) {
            // A slot may name a name given back since ([`Interner::truncate`]), or one now
            // numbered again: comparing names settles both.
            let known = self.names.get_index(position as usize);
            if known.is_some_and(|known| same_bytes(known.as_bytes(), name)) {
                return Some(I::at(position));
            }
        }
        let id = self.intern(std::str::from_utf8(name).ok()?);
        if self.recent.is_empty() {
            self.recent = vec![RECENT_NONE; RECENT_SLOTS];
        }
        self.recent[slot] = id.position();
        Some(id)
    }

    /// Forgets the names interned after the first `len` (a reader that gave up on a line gives
    /// its names back, so ids stay in the order the accepted reading meets them).
    pub(crate) fn truncate(&mut self, len: usize) {
        self.names.truncate(len);
    }

    pub fn name(&self, id: I) -> &str {
        self.names
            .get_index(id.position() as usize)
            .unwrap_or_else(|| panic!("an id of this history's {}", I::WHAT))
    }

    pub fn id(&self, name: &str) -> Option<I> {
        self.names
            .get_index_of(name)
            .map(|position| I::at(position as u32))
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Bytes held: each name's characters, its string and the set's hash and index of it.
    pub(crate) fn held_bytes(&self) -> usize {
        let per_name = std::mem::size_of::<String>() + 2 * std::mem::size_of::<u64>();
        let characters: usize = self.names.iter().map(String::len).sum();
        self.names.len() * per_name + characters
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// `a == b`, a word at a time: names are a few words long, where a call to `memcmp` costs more
/// than the compare.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let (mut a, mut b) = (a, b);
    while let (Some((word_a, rest_a)), Some((word_b, rest_b))) =
        (a.split_first_chunk::<8>(), b.split_first_chunk::<8>())
    {
        if word_a != word_b {
            return false;
        }
        (a, b) = (rest_a, rest_b);
    }
    a.iter().zip(b).all(|(x, y)| x == y)
}

#[cfg(test)]
mod tests {
    use super::super::keys::{KeyId, Keys};
    use super::super::txns::{TxnId, Txns};

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
    fn a_name_given_back_is_not_found_in_the_cache() {
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

    /// Many names that differ only in their last bytes, as a run's transaction ids do: each
    /// gets its own id, found again by name and by bytes (a cache slot shared by thousands of
    /// them only ever misses).
    #[test]
    fn names_that_differ_at_the_end_keep_their_own_ids() {
        let mut txns = Txns::default();
        let count = 20_000u32;
        for n in 0..count {
            assert_eq!(txns.intern(&format!("t{n}")), TxnId(n));
        }
        for n in (0..count).rev() {
            let name = format!("t{n}");
            assert_eq!(txns.intern_bytes(name.as_bytes()), Some(TxnId(n)));
            assert_eq!(txns.id(&name), Some(TxnId(n)));
            assert_eq!(txns.name(TxnId(n)), name);
        }
        assert_eq!(txns.len(), count as usize);
    }
}
