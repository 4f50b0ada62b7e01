//! A (key, offset, value) some op saw, as the inferred log keeps it: an acknowledged offset or
//! a record read. A history holds about one per op, so the op and write numbers are `u32`
//! (a history holds fewer than 2^32 - 1 ops and writes; the builders assert it), with a
//! sentinel for "no write": 32 bytes an observation instead of 40.

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

/// "No write": no client sent the value observed.
const WRITE_NONE: WriteId = WriteId::MAX;

/// A (key, offset, value) some op saw.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Observation {
    pub key: KeyId,
    pub offset: u64,
    pub value: i64,
    pub source: Source,
    op: u32,
    write: WriteId,
}

const _: () = assert!(std::mem::size_of::<Observation>() <= 32);

impl Observation {
    /// What completion `op` saw, before it is matched with a write.
    pub(crate) fn new(key: KeyId, offset: u64, value: i64, op: u64, source: Source) -> Observation {
        Observation {
            key,
            offset,
            value,
            source,
            op: u32::try_from(op).expect("op numbers fit a u32"),
            write: WRITE_NONE,
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
        (self.write != WRITE_NONE).then_some(self.write)
    }

    pub(crate) fn set_write(&mut self, write: Option<WriteId>) {
        self.write = match write {
            Some(write) => {
                assert_ne!(write, WRITE_NONE, "write numbers fit a u32");
                write
            }
            None => WRITE_NONE,
        };
    }
}

/// As `#[derive(Debug)]` would print the unpacked fields.
impl fmt::Debug for Observation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Observation")
            .field("key", &self.key)
            .field("offset", &self.offset)
            .field("value", &self.value)
            .field("op", &self.op())
            .field("source", &self.source)
            .field("write", &self.write())
            .finish()
    }
}
