//! Keys (`"topic/partition"`, or a znode's path) interned into [`KeyId`]s, so per-key state
//! lives in vectors, not string-keyed maps.

use super::interner::{InternedId, Interner};

/// An interned key (`"topic/partition"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId(pub u32);

impl KeyId {
    pub fn slot(self) -> usize {
        self.0 as usize
    }
}

impl InternedId for KeyId {
    const WHAT: &'static str = "keys";

    fn at(position: u32) -> KeyId {
        KeyId(position)
    }

    fn position(self) -> u32 {
        self.0
    }
}

/// The key interner of one history: key names in the order first met, a key's id its
/// position.
pub type Keys = Interner<KeyId>;
