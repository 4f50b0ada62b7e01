//! Every op's decoded value, packed into a few flat vectors: an 8-byte entry per op that names
//! a range or a slot in the vector of its kind, never a heap allocation of its own. A history of
//! 10^7 ops would otherwise hold 10^7 small `Vec`s (micro-ops, then per poll the keys read and
//! per key the records), each a malloc'd block with its header: most of a history's memory.
//!
//! Checkers read values through [`BodyView`], a borrowed mirror of [`Body`] whose micro-ops
//! ([`Mops`]) iterate the packed ones. A send's offset is kept beside a flag, not as an
//! `Option<u64>`, and its deadline (rare) apart, so a packed micro-op is 24 bytes, not 48.

use super::body::{
    Admit, Apply, Body, Expired, KeyId, KeyReads, Membership, Mop, PollMop, Record, SendMop,
    SequenceGap, TxnSend, Zk,
};
use super::final_state::FinalState;
use std::fmt;

/// What an op's value is: the top four bits of its [`Entry`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum Tag {
    Mops,
    Membership,
    CommitOffsets,
    TxnSend,
    Apply,
    Expired,
    Admit,
    FinalState,
    SequenceGap,
    Zk,
    Opaque,
}

const TAGS: [Tag; 11] = [
    Tag::Mops,
    Tag::Membership,
    Tag::CommitOffsets,
    Tag::TxnSend,
    Tag::Apply,
    Tag::Expired,
    Tag::Admit,
    Tag::FinalState,
    Tag::SequenceGap,
    Tag::Zk,
    Tag::Opaque,
];

/// At most this many micro-ops (or committed offsets) in one op: an [`Entry`] keeps the count
/// in 28 bits.
const ENTRY_LEN_MAX: u32 = (1 << 28) - 1;

/// One op's value, where its parts are, in 8 bytes: the [`Tag`] (4 bits), a count (28 bits:
/// micro-ops or committed offsets) and the position of the first part in the vector of its
/// kind (32 bits).
#[derive(Clone, Copy, Debug)]
struct Entry(u64);

impl Entry {
    fn new(tag: Tag, start: u32, len: u32) -> Entry {
        assert!(
            len <= ENTRY_LEN_MAX,
            "more than 2^28 parts in one op's value"
        );
        Entry((tag as u64) << 60 | u64::from(len) << 32 | u64::from(start))
    }

    #[inline]
    fn tag(self) -> Tag {
        TAGS[(self.0 >> 60) as usize]
    }

    #[inline]
    fn start(self) -> usize {
        self.0 as u32 as usize
    }

    #[inline]
    fn end(self) -> usize {
        self.start() + ((self.0 >> 32) as u32 & ENTRY_LEN_MAX) as usize
    }
}

/// A micro-op, packed. A send keeps its key, value and offset (valid when its flag is set);
/// its deadline, when it has one, is in [`Bodies::deadlines`] (few sends carry one). A poll
/// keeps `start`/`len` into [`Bodies::reads`] in `offset` and `key` when it carries records.
#[derive(Clone, Copy, Debug)]
struct PackedMop {
    value: i64,
    offset: u64,
    key: u32,
    flags: u8,
}

const POLL: u8 = 1;
const HAS_OFFSET: u8 = 2;
const HAS_DEADLINE: u8 = 4;
const HAS_READS: u8 = 8;

/// The records one poll returned for one key: `len` records from `start` in [`Bodies::records`].
#[derive(Clone, Copy, Debug)]
struct PackedReads {
    key: KeyId,
    start: u32,
    len: u32,
}

const _: () = assert!(std::mem::size_of::<PackedMop>() <= 24);

/// Positions in the flat vectors are `u32`: a history holds fewer than 2^32 micro-ops, keys
/// read and records (it would need over 64 GiB of text to hold more).
fn position(len: usize, what: &str) -> u32 {
    u32::try_from(len).unwrap_or_else(|_| panic!("more than 2^32 {what} in one history"))
}

#[derive(Debug, Default)]
pub(crate) struct Bodies {
    entries: Vec<Entry>,
    mops: Vec<PackedMop>,
    /// (micro-op position in `mops`, deadline) of the sends that carry one, ascending.
    deadlines: Vec<(u32, u64)>,
    reads: Vec<PackedReads>,
    records: Vec<Record>,
    commit_offsets: Vec<(KeyId, u64)>,
    memberships: Vec<Membership>,
    txn_sends: Vec<TxnSend>,
    applies: Vec<Apply>,
    expiries: Vec<Expired>,
    admits: Vec<Admit>,
    final_states: Vec<FinalState>,
    sequence_gaps: Vec<SequenceGap>,
    zks: Vec<Zk>,
}

impl Bodies {
    /// Adds the next op's value.
    pub(crate) fn push(&mut self, body: Body) {
        let entry = match body {
            Body::Mops(mops) => {
                let start = position(self.mops.len(), "micro-ops");
                for mop in mops {
                    let packed = match mop {
                        Mop::Send(send) => {
                            if let Some(deadline) = send.deadline {
                                let at = position(self.mops.len(), "micro-ops");
                                self.deadlines.push((at, deadline));
                            }
                            PackedMop {
                                value: send.value,
                                offset: send.offset.unwrap_or(0),
                                key: send.key.0,
                                flags: if send.offset.is_some() { HAS_OFFSET } else { 0 }
                                    | if send.deadline.is_some() {
                                        HAS_DEADLINE
                                    } else {
                                        0
                                    },
                            }
                        }
                        Mop::Poll(PollMop { reads: None }) => PackedMop {
                            value: 0,
                            offset: 0,
                            key: 0,
                            flags: POLL,
                        },
                        Mop::Poll(PollMop { reads: Some(reads) }) => {
                            let first = position(self.reads.len(), "keys read");
                            for KeyReads { key, records } in reads {
                                let start = position(self.records.len(), "records");
                                self.records.extend_from_slice(&records);
                                self.reads.push(PackedReads {
                                    key,
                                    start,
                                    len: position(records.len(), "records"),
                                });
                            }
                            PackedMop {
                                value: 0,
                                offset: u64::from(first),
                                key: position(self.reads.len(), "keys read") - first,
                                flags: POLL | HAS_READS,
                            }
                        }
                    };
                    self.mops.push(packed);
                }
                let len = position(self.mops.len(), "micro-ops") - start;
                Entry::new(Tag::Mops, start, len)
            }
            Body::Membership(membership) => {
                Entry::new(Tag::Membership, slot(&mut self.memberships, *membership), 0)
            }
            Body::CommitOffsets(offsets) => {
                let start = position(self.commit_offsets.len(), "committed offsets");
                self.commit_offsets.extend_from_slice(&offsets);
                let len = position(offsets.len(), "committed offsets");
                Entry::new(Tag::CommitOffsets, start, len)
            }
            Body::TxnSend(txn) => Entry::new(Tag::TxnSend, slot(&mut self.txn_sends, txn), 0),
            Body::Apply(apply) => Entry::new(Tag::Apply, slot(&mut self.applies, apply), 0),
            Body::Expired(expired) => {
                Entry::new(Tag::Expired, slot(&mut self.expiries, expired), 0)
            }
            Body::Admit(admit) => Entry::new(Tag::Admit, slot(&mut self.admits, admit), 0),
            Body::FinalState(state) => {
                Entry::new(Tag::FinalState, slot(&mut self.final_states, *state), 0)
            }
            Body::SequenceGap(gap) => {
                Entry::new(Tag::SequenceGap, slot(&mut self.sequence_gaps, gap), 0)
            }
            Body::Zk(zk) => Entry::new(Tag::Zk, slot(&mut self.zks, zk), 0),
            Body::Opaque => Entry::new(Tag::Opaque, 0, 0),
        };
        self.entries.push(entry);
    }

    /// The value of op `index`.
    #[inline]
    pub(crate) fn get(&self, index: u64) -> BodyView<'_> {
        let entry = self.entries[index as usize];
        let (start, end) = (entry.start(), entry.end());
        match entry.tag() {
            Tag::Mops => BodyView::Mops(Mops {
                mops: &self.mops[start..end],
                start: start as u32,
                deadlines: &self.deadlines,
                reads: &self.reads,
                records: &self.records,
            }),
            Tag::Membership => BodyView::Membership(&self.memberships[start]),
            Tag::CommitOffsets => BodyView::CommitOffsets(&self.commit_offsets[start..end]),
            Tag::TxnSend => BodyView::TxnSend(&self.txn_sends[start]),
            Tag::Apply => BodyView::Apply(&self.applies[start]),
            Tag::Expired => BodyView::Expired(&self.expiries[start]),
            Tag::Admit => BodyView::Admit(&self.admits[start]),
            Tag::FinalState => BodyView::FinalState(&self.final_states[start]),
            Tag::SequenceGap => BodyView::SequenceGap(&self.sequence_gaps[start]),
            Tag::Zk => BodyView::Zk(&self.zks[start]),
            Tag::Opaque => BodyView::Opaque,
        }
    }

    /// Every op's value, in history order.
    pub(crate) fn iter(&self) -> impl ExactSizeIterator<Item = BodyView<'_>> + '_ {
        (0..self.entries.len()).map(|index| self.get(index as u64))
    }

    /// Bytes held, by part (length times element size: what a reader touches).
    pub(crate) fn held_bytes(&self, parts: &mut Vec<(&'static str, usize)>) {
        fn held<T>(vector: &[T]) -> usize {
            std::mem::size_of_val(vector)
        }
        parts.push(("value entries", held(&self.entries)));
        parts.push(("micro-ops", held(&self.mops)));
        parts.push(("deadlines", held(&self.deadlines)));
        parts.push(("keys read", held(&self.reads)));
        parts.push(("records", held(&self.records)));
        let others = held(&self.commit_offsets)
            + held(&self.memberships)
            + held(&self.txn_sends)
            + held(&self.applies)
            + held(&self.expiries)
            + held(&self.admits)
            + held(&self.final_states)
            + held(&self.sequence_gaps)
            + held(&self.zks);
        parts.push(("other values", others));
    }

    /// Gives back the memory the vectors reserved beyond what they hold (they grow by
    /// doubling while a history streams in).
    pub(crate) fn shrink_to_fit(&mut self) {
        self.entries.shrink_to_fit();
        self.mops.shrink_to_fit();
        self.deadlines.shrink_to_fit();
        self.reads.shrink_to_fit();
        self.records.shrink_to_fit();
        self.commit_offsets.shrink_to_fit();
        self.txn_sends.shrink_to_fit();
        self.applies.shrink_to_fit();
        self.expiries.shrink_to_fit();
        self.admits.shrink_to_fit();
    }
}

fn slot<T>(vector: &mut Vec<T>, item: T) -> u32 {
    let at = position(vector.len(), "values of one kind");
    vector.push(item);
    at
}

/// An op's decoded value, borrowed from the history: [`Body`]'s shapes, with the micro-ops
/// read from where they are packed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum BodyView<'h> {
    /// `send`, `poll`, `txn`.
    Mops(Mops<'h>),
    /// `assign`, `subscribe`.
    Membership(&'h Membership),
    /// `commit-offsets`, sorted by key.
    CommitOffsets(&'h [(KeyId, u64)]),
    TxnSend(&'h TxnSend),
    Apply(&'h Apply),
    Expired(&'h Expired),
    Admit(&'h Admit),
    FinalState(&'h FinalState),
    SequenceGap(&'h SequenceGap),
    Zk(&'h Zk),
    /// `crash`, `debug-topic-partitions` and nemesis ops: free-form values no checker reads.
    Opaque,
}

impl<'h> BodyView<'h> {
    /// The micro-ops of a `send`, `poll` or `txn` op; none for any other.
    pub fn mops(&self) -> Mops<'h> {
        match self {
            BodyView::Mops(mops) => *mops,
            _ => Mops::EMPTY,
        }
    }

    /// The value as an owned [`Body`] (tests compare with one; checkers need not).
    pub fn to_body(&self) -> Body {
        match *self {
            BodyView::Mops(mops) => Body::Mops(mops.iter().map(|mop| mop.to_mop()).collect()),
            BodyView::Membership(membership) => Body::Membership(Box::new(membership.clone())),
            BodyView::CommitOffsets(offsets) => Body::CommitOffsets(offsets.to_vec()),
            BodyView::TxnSend(txn) => Body::TxnSend(txn.clone()),
            BodyView::Apply(apply) => Body::Apply(*apply),
            BodyView::Expired(expired) => Body::Expired(*expired),
            BodyView::Admit(admit) => Body::Admit(*admit),
            BodyView::FinalState(state) => Body::FinalState(Box::new(state.clone())),
            BodyView::SequenceGap(gap) => Body::SequenceGap(*gap),
            BodyView::Zk(zk) => Body::Zk(*zk),
            BodyView::Opaque => Body::Opaque,
        }
    }
}

/// The micro-ops of one op, as [`BodyView::mops`] gives them.
#[derive(Clone, Copy)]
pub struct Mops<'h> {
    mops: &'h [PackedMop],
    /// The position of `mops[0]` among all the history's micro-ops.
    start: u32,
    deadlines: &'h [(u32, u64)],
    reads: &'h [PackedReads],
    records: &'h [Record],
}

impl<'h> Mops<'h> {
    const EMPTY: Mops<'static> = Mops {
        mops: &[],
        start: 0,
        deadlines: &[],
        reads: &[],
        records: &[],
    };

    pub fn len(&self) -> usize {
        self.mops.len()
    }

    pub fn is_empty(&self) -> bool {
        self.mops.is_empty()
    }

    /// Micro-op `position`.
    #[inline]
    pub fn get(&self, position: usize) -> Option<MopView<'h>> {
        self.mops
            .get(position)
            .map(|packed| self.view(position, packed))
    }

    #[inline]
    pub fn iter(&self) -> MopsIter<'h> {
        MopsIter {
            mops: *self,
            next: 0,
        }
    }

    #[inline]
    fn view(&self, position: usize, packed: &PackedMop) -> MopView<'h> {
        if packed.flags & POLL == 0 {
            let deadline = (packed.flags & HAS_DEADLINE != 0).then(|| {
                let at = self.start + position as u32;
                let found = self.deadlines.binary_search_by_key(&at, |&(mop, _)| mop);
                self.deadlines[found.expect("a flagged deadline is recorded")].1
            });
            return MopView::Send(SendMop {
                key: KeyId(packed.key),
                value: packed.value,
                offset: (packed.flags & HAS_OFFSET != 0).then_some(packed.offset),
                deadline,
            });
        }
        let reads = (packed.flags & HAS_READS != 0).then(|| {
            let start = packed.offset as usize;
            &self.reads[start..start + packed.key as usize]
        });
        MopView::Poll(PollView {
            reads,
            records: self.records,
        })
    }
}

impl<'h> IntoIterator for Mops<'h> {
    type Item = MopView<'h>;
    type IntoIter = MopsIter<'h>;

    fn into_iter(self) -> MopsIter<'h> {
        self.iter()
    }
}

/// The micro-ops of one op, in order.
#[derive(Clone)]
pub struct MopsIter<'h> {
    mops: Mops<'h>,
    next: usize,
}

impl<'h> Iterator for MopsIter<'h> {
    type Item = MopView<'h>;

    #[inline]
    fn next(&mut self) -> Option<MopView<'h>> {
        let mop = self.mops.get(self.next)?;
        self.next += 1;
        Some(mop)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.mops.len() - self.next;
        (left, Some(left))
    }
}

impl ExactSizeIterator for MopsIter<'_> {}

impl fmt::Debug for Mops<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl PartialEq for Mops<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().zip(other.iter()).all(|(a, b)| a == b)
    }
}

impl PartialEq<[Mop]> for Mops<'_> {
    fn eq(&self, other: &[Mop]) -> bool {
        self.len() == other.len() && self.iter().zip(other).all(|(a, b)| a.to_mop() == *b)
    }
}

impl<const N: usize> PartialEq<&[Mop; N]> for Mops<'_> {
    fn eq(&self, other: &&[Mop; N]) -> bool {
        *self == other[..]
    }
}

/// One micro-op, as [`Mops`] gives them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MopView<'h> {
    Send(SendMop),
    Poll(PollView<'h>),
}

impl MopView<'_> {
    pub fn to_mop(&self) -> Mop {
        match self {
            MopView::Send(send) => Mop::Send(*send),
            MopView::Poll(poll) => Mop::Poll(PollMop {
                reads: poll.reads().map(|reads| {
                    reads
                        .map(|read| KeyReads {
                            key: read.key,
                            records: read.records.to_vec(),
                        })
                        .collect()
                }),
            }),
        }
    }
}

/// A poll micro-op: the records it returned per key, if it carries any.
#[derive(Clone, Copy)]
pub struct PollView<'h> {
    reads: Option<&'h [PackedReads]>,
    records: &'h [Record],
}

impl<'h> PollView<'h> {
    /// `None` for `["poll"]` (an invoke, or a completion that carries no records).
    pub fn reads(&self) -> Option<impl ExactSizeIterator<Item = KeyReadsView<'h>> + Clone + 'h> {
        let records = self.records;
        self.reads.map(move |reads| {
            reads.iter().map(move |read| KeyReadsView {
                key: read.key,
                records: &records[read.start as usize..(read.start + read.len) as usize],
            })
        })
    }
}

impl fmt::Debug for PollView<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.reads() {
            None => f.write_str("PollView { reads: None }"),
            Some(reads) => f.debug_list().entries(reads).finish(),
        }
    }
}

impl PartialEq for PollView<'_> {
    fn eq(&self, other: &Self) -> bool {
        match (self.reads(), other.reads()) {
            (None, None) => true,
            (Some(a), Some(b)) => a.len() == b.len() && a.zip(b).all(|(a, b)| a == b),
            _ => false,
        }
    }
}

/// The records one poll returned for one key, in the order returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyReadsView<'h> {
    pub key: KeyId,
    pub records: &'h [Record],
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Local;

    /// Every shape of value reads back from the packed vectors as it went in, in order, with
    /// the optional numbers (offsets, deadlines, records) kept apart where they are absent.
    #[test]
    fn every_shape_reads_back_as_pushed() {
        let (k0, k1) = (KeyId(0), KeyId(1));
        let record = |offset, value| Record { offset, value };
        let bodies = vec![
            Body::Mops(vec![
                Mop::Send(SendMop {
                    key: k0,
                    value: 7,
                    offset: Some(3),
                    deadline: Some(9),
                }),
                Mop::Send(SendMop {
                    key: k1,
                    value: -8,
                    offset: None,
                    deadline: None,
                }),
                Mop::Poll(PollMop { reads: None }),
            ]),
            Body::Mops(vec![Mop::Poll(PollMop {
                reads: Some(vec![
                    KeyReads {
                        key: k1,
                        records: vec![record(0, 5), record(1, 6)],
                    },
                    KeyReads {
                        key: k0,
                        records: Vec::new(),
                    },
                ]),
            })]),
            Body::Mops(vec![Mop::Poll(PollMop {
                reads: Some(Vec::new()),
            })]),
            Body::CommitOffsets(vec![(k0, 4), (k1, 2)]),
            Body::TxnSend(TxnSend {
                txn: "t1".to_string(),
                key: k1,
                value: 11,
                local: Some(Local::Commit),
            }),
            Body::Apply(Apply {
                key: k0,
                value: 7,
                offset: None,
            }),
            Body::Expired(Expired {
                key: k0,
                value: 8,
                offset: Some(1),
            }),
            Body::Admit(Admit {
                key: k1,
                request: 3,
                token: Some(record(2, 900)),
            }),
            Body::SequenceGap(SequenceGap {
                key: k0,
                producer: 1,
                expected: 2,
                got: 4,
            }),
            Body::Zk(Zk {
                path: k1,
                data: Some(5),
                expected: Some(0),
                version: Some(1),
            }),
            Body::Membership(Box::new(Membership {
                group: Some("g".to_string()),
                keys: vec![k0],
                topics: Vec::new(),
                generation: Some(2),
            })),
            Body::FinalState(Box::default()),
            Body::Opaque,
            Body::Mops(vec![Mop::Send(SendMop {
                key: k0,
                value: 12,
                offset: Some(4),
                deadline: Some(1),
            })]),
        ];
        let mut packed = Bodies::default();
        for body in &bodies {
            packed.push(body.clone());
        }
        packed.shrink_to_fit();
        let read: Vec<Body> = packed.iter().map(|view| view.to_body()).collect();
        assert_eq!(read, bodies);
        assert_eq!(packed.get(0).mops().len(), 3);
        assert!(packed.get(3).mops().is_empty(), "no micro-ops in a commit");
    }
}
