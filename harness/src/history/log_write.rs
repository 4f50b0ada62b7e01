//! One value some client tried to write, as the inferred log keeps it. A history of 10^7 ops
//! holds millions of these, so the optional numbers are packed beside flags and sentinels
//! (56 bytes a write instead of 96) and read through methods that give the `Option` back.

use super::body::KeyId;
use std::fmt;

/// A write's dense id: its position in the inferred log's writes.
pub type WriteId = u32;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteKind {
    /// A `send` micro-op (in a `send` or `txn` op).
    Send,
    /// A transactional message (`txn-send`).
    TxnSend,
}

/// How the op that wrote a value ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Fail,
    /// `info`, or the invoke never completed: may or may not have happened.
    Info,
}

/// "None" for the `u32` op and observation numbers: a history holds fewer ops than this
/// (its builder asserts it), and its log fewer observations (the log's builder asserts it).
const ABSENT: u32 = u32::MAX;
const HAS_OFFSET: u8 = 1;
const HAS_DEADLINE: u8 = 2;

/// One value some client tried to write.
#[derive(Clone, PartialEq, Eq)]
pub struct Write {
    pub key: KeyId,
    pub value: i64,
    pub kind: WriteKind,
    pub invoke: u64,
    pub outcome: Outcome,
    /// The write certainly happened: its op is ok, or is info and one of its writes was read
    /// (an op's writes are atomic).
    pub proven: bool,
    /// How many polled records carried this value.
    pub reads: u32,
    completion: u32,
    offset: u64,
    deadline: u64,
    read_first: u32,
    seen_first: u32,
    has: u8,
}

const _: () = assert!(std::mem::size_of::<Write>() <= 56);

impl Write {
    pub(crate) fn new(key: KeyId, value: i64, kind: WriteKind, invoke: u64) -> Write {
        Write {
            key,
            value,
            kind,
            invoke,
            outcome: Outcome::Info,
            proven: false,
            reads: 0,
            completion: ABSENT,
            offset: 0,
            deadline: 0,
            read_first: ABSENT,
            seen_first: ABSENT,
            has: 0,
        }
    }

    /// The completion of the op that wrote it, if it completed.
    #[inline]
    pub fn completion(&self) -> Option<u64> {
        (self.completion != ABSENT).then_some(u64::from(self.completion))
    }

    /// The acknowledged offset: ok sends that learned it, and proven info sends whose
    /// completion carries one.
    #[inline]
    pub fn offset(&self) -> Option<u64> {
        (self.has & HAS_OFFSET != 0).then_some(self.offset)
    }

    /// The deadline its send carried (simulated ns); `None` for a message that never expires.
    #[inline]
    pub fn deadline(&self) -> Option<u64> {
        (self.has & HAS_DEADLINE != 0).then_some(self.deadline)
    }

    /// The first observation that read it (index into the log's observations).
    #[inline]
    pub fn read_first(&self) -> Option<u32> {
        (self.read_first != ABSENT).then_some(self.read_first)
    }

    /// The first observation of this value at any (key, offset), ack or read.
    #[inline]
    pub fn seen_first(&self) -> Option<u32> {
        (self.seen_first != ABSENT).then_some(self.seen_first)
    }

    pub(crate) fn set_completion(&mut self, completion: u64) {
        assert!(completion < u64::from(ABSENT), "op numbers fit a u32");
        self.completion = completion as u32;
    }

    pub(crate) fn set_offset(&mut self, offset: u64) {
        self.offset = offset;
        self.has |= HAS_OFFSET;
    }

    pub(crate) fn set_deadline(&mut self, deadline: Option<u64>) {
        match deadline {
            Some(deadline) => {
                self.deadline = deadline;
                self.has |= HAS_DEADLINE;
            }
            None => self.has &= !HAS_DEADLINE,
        }
    }

    /// Keeps `observation` as the first read, unless one came before.
    pub(crate) fn note_read(&mut self, observation: u32) {
        assert_ne!(observation, ABSENT, "observation numbers fit a u32");
        if self.read_first == ABSENT {
            self.read_first = observation;
        }
    }

    pub(crate) fn set_seen_first(&mut self, observation: u32) {
        assert_ne!(observation, ABSENT, "observation numbers fit a u32");
        self.seen_first = observation;
    }
}

/// As `#[derive(Debug)]` would print the unpacked fields.
impl fmt::Debug for Write {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Write")
            .field("key", &self.key)
            .field("value", &self.value)
            .field("kind", &self.kind)
            .field("invoke", &self.invoke)
            .field("completion", &self.completion())
            .field("outcome", &self.outcome)
            .field("proven", &self.proven)
            .field("offset", &self.offset())
            .field("reads", &self.reads)
            .field("read_first", &self.read_first())
            .field("seen_first", &self.seen_first())
            .field("deadline", &self.deadline())
            .finish()
    }
}
