//! One value some client tried to write, as the inferred log keeps it. A history of 10^7 ops
//! holds millions of these, so a write is 40 bytes (was 56, and 96 unpacked): its op numbers
//! are `u32` (a history holds fewer than 2^32 - 1 ops; its builder asserts it), its kind,
//! outcome and flags share one byte, the optional numbers are kept beside flags and
//! sentinels and read through methods that give the `Option` back, and two fields are kept
//! elsewhere: its deadline is its send's in the invoke's body ([`super::History::deadline`]:
//! a flag here says whether it has one), and the first observation of its value, which only
//! the log's build needs, lives only while the log is built.

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

/// The flags byte: the kind, the outcome (two bits), and what is known.
const TXN_SEND: u8 = 1;
const OUTCOME_SHIFT: u32 = 1;
const OUTCOME_MASK: u8 = 0b11 << OUTCOME_SHIFT;
const OUTCOME_OK: u8 = 1 << OUTCOME_SHIFT;
const OUTCOME_FAIL: u8 = 2 << OUTCOME_SHIFT;
const PROVEN: u8 = 1 << 3;
const HAS_OFFSET: u8 = 1 << 4;
const HAS_DEADLINE: u8 = 1 << 5;

/// One value some client tried to write.
#[derive(Clone, PartialEq, Eq)]
pub struct Write {
    pub value: i64,
    offset: u64,
    pub key: KeyId,
    invoke: u32,
    completion: u32,
    reads: u32,
    read_first: u32,
    flags: u8,
}

const _: () = assert!(std::mem::size_of::<Write>() <= 40);

impl Write {
    /// A value op `invoke` tried to write (`deadline`: its send carried one).
    pub(crate) fn new(
        key: KeyId,
        value: i64,
        kind: WriteKind,
        invoke: u64,
        deadline: bool,
    ) -> Write {
        let kind = match kind {
            WriteKind::Send => 0,
            WriteKind::TxnSend => TXN_SEND,
        };
        Write {
            value,
            offset: 0,
            key,
            invoke: op_number(invoke),
            completion: ABSENT,
            reads: 0,
            read_first: ABSENT,
            flags: kind | if deadline { HAS_DEADLINE } else { 0 },
        }
    }

    #[inline]
    pub fn kind(&self) -> WriteKind {
        if self.flags & TXN_SEND != 0 {
            WriteKind::TxnSend
        } else {
            WriteKind::Send
        }
    }

    /// The invoke of the op that wrote it.
    #[inline]
    pub fn invoke(&self) -> u64 {
        u64::from(self.invoke)
    }

    /// The completion of the op that wrote it, if it completed.
    #[inline]
    pub fn completion(&self) -> Option<u64> {
        (self.completion != ABSENT).then_some(u64::from(self.completion))
    }

    #[inline]
    pub fn outcome(&self) -> Outcome {
        match self.flags & OUTCOME_MASK {
            OUTCOME_OK => Outcome::Ok,
            OUTCOME_FAIL => Outcome::Fail,
            _ => Outcome::Info,
        }
    }

    /// The write certainly happened: its op is ok, or is info and one of its writes was read
    /// (an op's writes are atomic).
    #[inline]
    pub fn proven(&self) -> bool {
        self.flags & PROVEN != 0
    }

    /// How many polled records carried this value.
    #[inline]
    pub fn reads(&self) -> u32 {
        self.reads
    }

    /// The acknowledged offset: ok sends that learned it, and proven info sends whose
    /// completion carries one.
    #[inline]
    pub fn offset(&self) -> Option<u64> {
        (self.flags & HAS_OFFSET != 0).then_some(self.offset)
    }

    /// Its send carried a deadline ([`super::History::deadline`] says which).
    #[inline]
    pub fn has_deadline(&self) -> bool {
        self.flags & HAS_DEADLINE != 0
    }

    /// The first observation that read it (index into the log's observations).
    #[inline]
    pub fn read_first(&self) -> Option<u32> {
        (self.read_first != ABSENT).then_some(self.read_first)
    }

    pub(crate) fn set_completion(&mut self, completion: u64) {
        self.completion = op_number(completion);
    }

    pub(crate) fn set_outcome(&mut self, outcome: Outcome) {
        let bits = match outcome {
            Outcome::Ok => OUTCOME_OK,
            Outcome::Fail => OUTCOME_FAIL,
            Outcome::Info => 0,
        };
        self.flags = (self.flags & !OUTCOME_MASK) | bits;
    }

    pub(crate) fn set_proven(&mut self, proven: bool) {
        self.flags = (self.flags & !PROVEN) | if proven { PROVEN } else { 0 };
    }

    pub(crate) fn set_offset(&mut self, offset: u64) {
        self.offset = offset;
        self.flags |= HAS_OFFSET;
    }

    /// Counts a polled record of this value, observation `observation`; keeps the first.
    pub(crate) fn note_read(&mut self, observation: u32) {
        assert_ne!(observation, ABSENT, "observation numbers fit a u32");
        self.reads += 1;
        if self.read_first == ABSENT {
            self.read_first = observation;
        }
    }
}

fn op_number(op: u64) -> u32 {
    assert!(op < u64::from(ABSENT), "op numbers fit a u32");
    op as u32
}

/// As `#[derive(Debug)]` would print the unpacked fields.
impl fmt::Debug for Write {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Write")
            .field("key", &self.key)
            .field("value", &self.value)
            .field("kind", &self.kind())
            .field("invoke", &self.invoke())
            .field("completion", &self.completion())
            .field("outcome", &self.outcome())
            .field("proven", &self.proven())
            .field("offset", &self.offset())
            .field("reads", &self.reads)
            .field("read_first", &self.read_first())
            .field("has_deadline", &self.has_deadline())
            .finish()
    }
}
