//! A (key, offset, value) some op saw, as the inferred log keeps it: an acknowledged offset or
//! a record read. A history holds about one per op, so an observation is 24 bytes (was 32, and
//! 40 unpacked): its op number is a `u32` (a history holds fewer than 2^32 - 1 ops; the
//! builder asserts it), and its value is not kept twice: the log matches each observation with
//! the write of its (key, value), whose value it is, and keeps the values of the few no client
//! sent (garbage) in a table of their own, so the observation holds a write id or a garbage
//! number in one `u32` ([`Observation::value`] reads it back).

use super::body::KeyId;
use super::log_write::WriteId;
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Source {
    /// An ok send's acknowledged offset.
    Ack,
    /// A record an ok poll returned, or the token record an ok or info `admit` read.
    Read,
}

/// Set in [`Observation::seen`] for garbage: the rest is its number among the log's garbage.
/// Write ids are below it (the log's builder asserts it).
pub(crate) const GARBAGE: u32 = 1 << 31;
/// Not yet matched with a write (only while the log is built).
const UNMATCHED: u32 = u32::MAX;

/// A (key, offset, value) some op saw.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Observation {
    pub offset: u64,
    pub key: KeyId,
    op: u32,
    /// The write of the value seen, or [`GARBAGE`] and the value's number among the garbage.
    seen: u32,
    pub source: Source,
}

const _: () = assert!(std::mem::size_of::<Observation>() <= 24);

impl Observation {
    /// What completion `op` saw, before it is matched with a write (its value is kept aside
    /// until then).
    pub(crate) fn new(key: KeyId, offset: u64, op: u64, source: Source) -> Observation {
        Observation {
            offset,
            key,
            op: u32::try_from(op).expect("op numbers fit a u32"),
            seen: UNMATCHED,
            source,
        }
    }

    /// The completion op that saw it.
    #[inline]
    pub fn op(&self) -> u64 {
        u64::from(self.op)
    }

    /// The write of this value, if any client sent it.
    #[inline]
    pub fn write(&self) -> Option<WriteId> {
        (self.seen < GARBAGE).then_some(self.seen)
    }

    /// Its number among the log's garbage (values no client sent).
    pub(crate) fn garbage(&self) -> u32 {
        assert!(
            self.seen >= GARBAGE && self.seen != UNMATCHED,
            "a garbage observation"
        );
        self.seen - GARBAGE
    }

    pub(crate) fn set_write(&mut self, write: WriteId) {
        assert!(write < GARBAGE, "write numbers fit 31 bits");
        self.seen = write;
    }

    /// No client sent the value seen: it is garbage number `garbage`.
    pub(crate) fn set_garbage(&mut self, garbage: u32) {
        assert!(garbage < UNMATCHED - GARBAGE, "garbage numbers fit 31 bits");
        self.seen = GARBAGE | garbage;
    }
}

/// As `#[derive(Debug)]` would print the unpacked fields (the value is the log's).
impl fmt::Debug for Observation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("Observation");
        debug
            .field("key", &self.key)
            .field("offset", &self.offset)
            .field("op", &self.op())
            .field("source", &self.source)
            .field("write", &self.write());
        if self.seen >= GARBAGE && self.seen != UNMATCHED {
            debug.field("garbage", &self.garbage());
        }
        debug.finish()
    }
}
