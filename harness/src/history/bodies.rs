//! Every op's decoded value, packed into a few flat vectors: an 8-byte entry per op that names
//! a range or a slot in the vector of its kind, never a heap allocation of its own. A history of
//! 10^7 ops would otherwise hold 10^7 small `Vec`s (micro-ops, then per poll the keys read and
//! per key the records), each a malloc'd block with its header: most of a history's memory.
//!
//! Checkers read values through [`BodyView`], a borrowed mirror of [`Body`] whose micro-ops
//! ([`Mops`]) iterate the packed ones. A send's offset is kept beside a flag, not as an
//! `Option<u64>`, and its deadline (rare) apart, so a packed micro-op is 24 bytes, not 48.
//!
//! A completion repeats its invoke's value and adds to it: a `send`'s offsets, a `poll`'s
//! records, an `admit`'s token, a `txn-send`'s local result. So a completion matched to its
//! invoke is stored once for both when the invoke's value carries nothing the completion's
//! lacks ([`Bodies::push_completion`]). Micro-ops: the same sends (key, value, deadline) with
//! no offsets on the invoke, and polls with no records on it; the completion's packed micro-ops
//! overwrite the invoke's (the same count, so in place, the deadlines already in the table at
//! the same positions) and the invoke's entry reads them without the offset and record flags,
//! which yields exactly what the invoke recorded. Other values (`commit-offsets`, `txn-send`,
//! `admit`, ...): only when equal, both entries naming one slot. Half the micro-ops and
//! deadlines of a history are its invokes': in the 10^6-op test history this takes micro-ops
//! from 20.4 to 10.4 bytes an op, deadlines from 3.8 to 1.9, other values from 9.6 to 8.6.

use super::body::{
    Admit, Apply, Body, Expired, KeyId, KeyReads, Membership, Mop, PollMop, Record, SendMop,
    SequenceGap, TxnSend, Zk,
};
use super::final_state::FinalState;
use super::spare_vecs::SpareVecs;
use std::fmt;

/// What an op's value is: the top four bits of its [`Entry`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum Tag {
    Mops,
    /// An invoke's micro-ops, stored once with its completion's: read without the offsets and
    /// records the completion added.
    MopsAsInvoked,
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

const TAGS: [Tag; 12] = [
    Tag::Mops,
    Tag::MopsAsInvoked,
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

impl Tag {
    /// The shape of value this tag stores.
    fn kind(self) -> BodyKind {
        match self {
            Tag::Mops | Tag::MopsAsInvoked => BodyKind::Mops,
            Tag::Membership => BodyKind::Membership,
            Tag::CommitOffsets => BodyKind::CommitOffsets,
            Tag::TxnSend => BodyKind::TxnSend,
            Tag::Apply => BodyKind::Apply,
            Tag::Expired => BodyKind::Expired,
            Tag::Admit => BodyKind::Admit,
            Tag::FinalState => BodyKind::FinalState,
            Tag::SequenceGap => BodyKind::SequenceGap,
            Tag::Zk => BodyKind::Zk,
            Tag::Opaque => BodyKind::Opaque,
        }
    }
}

/// The shape of an op's value: [`BodyView`]'s variants without their data. A check that reads
/// a few kinds of op picks them by this, read from the 8-byte entries: building the view of
/// every op's value only to drop most of them cost each such check ~20 ms a 10^6-op history.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyKind {
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

/// A set of [`Tag`]s, one bit each: those whose kind is one of `kinds`.
fn tag_mask(kinds: &[BodyKind]) -> u16 {
    TAGS.iter()
        .enumerate()
        .filter(|(_, tag)| kinds.contains(&tag.kind()))
        .fold(0, |mask, (bit, _)| mask | 1 << bit)
}

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

    /// The same parts, read as another kind.
    fn with_tag(self, tag: Tag) -> Entry {
        Entry(self.0 & !(0xf << 60) | (tag as u64) << 60)
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

/// The flags an op's micro-ops are read with: all of them, or, for an invoke stored with its
/// completion, those the invoke itself recorded (a completion adds offsets and records).
const FLAGS_ALL: u8 = POLL | HAS_OFFSET | HAS_DEADLINE | HAS_READS;
const FLAGS_AS_INVOKED: u8 = POLL | HAS_DEADLINE;

/// Whether packing a send adds its deadline to [`Bodies::deadlines`], or finds it there: an
/// invoke stored with its completion recorded it at the same position.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Deadline {
    Record,
    Recorded,
}

/// The records one poll returned for one key: `len` records from `start` in [`Bodies::records`].
#[derive(Clone, Copy, Debug)]
struct PackedReads {
    key: KeyId,
    start: u32,
    len: u32,
}

const _: () = assert!(std::mem::size_of::<PackedMop>() <= 24);

/// Micro-ops per block of [`Bodies::deadline_blocks`].
const DEADLINE_BLOCK: usize = 64;

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
    /// Per block of [`DEADLINE_BLOCK`] micro-ops, where its sends' deadlines start in
    /// `deadlines`; built once the history is read ([`Bodies::seal`]), empty until then. A
    /// send's deadline is searched for among its block's few, not in the whole table: that
    /// took ~17 steps, most of them cache misses, each time a send carrying one was viewed.
    deadline_blocks: Vec<u32>,
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
    /// The vectors of values already packed, for the reader to read the next values into.
    spare: SpareVecs,
}

impl Bodies {
    /// Empty vectors to read the next op's value into.
    pub(crate) fn spare(&mut self) -> &mut SpareVecs {
        &mut self.spare
    }

    /// Adds the next op's value.
    pub(crate) fn push(&mut self, body: Body) {
        let entry = match body {
            Body::Mops(mut mops) => {
                let start = position(self.mops.len(), "micro-ops");
                for mop in &mut mops {
                    let at = position(self.mops.len(), "micro-ops");
                    let packed = self.pack(mop, at, Deadline::Record);
                    self.mops.push(packed);
                }
                self.spare.give_mops(mops);
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
                self.spare.give_offsets(offsets);
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

    /// Adds the next op's value, a completion matched to op `invoke` (already pushed). When
    /// the invoke's value carries nothing the completion's lacks, the completion's is stored
    /// once, for both: micro-ops over the invoke's own (the same count, so in place), the
    /// invoke's entry marked to read them without the offsets and records the completion
    /// added; a value of another kind, only when equal, by one entry naming the invoke's slot.
    /// Otherwise it is stored apart, as [`Bodies::push`] does.
    pub(crate) fn push_completion(&mut self, invoke: u64, body: Body) {
        let invoked = self.entries[invoke as usize];
        if !self.shares(invoked, &body) {
            self.push(body);
            return;
        }
        if let Body::Mops(mut mops) = body {
            let start = position(invoked.start(), "micro-ops");
            for (at, mop) in (start..).zip(&mut mops) {
                // The invoke recorded the same deadlines at the same positions: the table
                // keeps them once.
                let packed = self.pack(mop, at, Deadline::Recorded);
                self.mops[at as usize] = packed;
            }
            self.spare.give_mops(mops);
            self.entries[invoke as usize] = invoked.with_tag(Tag::MopsAsInvoked);
        }
        self.entries.push(invoked);
    }

    /// Can the completion `body` be stored once for it and the invoke stored as `invoked`:
    /// read back without the offsets and records the completion adds, is the invoke's value
    /// exactly what it recorded?
    fn shares(&self, invoked: Entry, body: &Body) -> bool {
        let (start, end) = (invoked.start(), invoked.end());
        match (invoked.tag(), body) {
            (Tag::Mops, Body::Mops(answered)) => {
                let asked = self.mops_view(start, end, FLAGS_ALL);
                asked.len() == answered.len()
                    && asked.iter().zip(answered).all(|pair| match pair {
                        (MopView::Send(asked), Mop::Send(answered)) => {
                            asked.offset.is_none()
                                && asked.key == answered.key
                                && asked.value == answered.value
                                && asked.deadline == answered.deadline
                        }
                        (MopView::Poll(asked), Mop::Poll(_)) => asked.reads.is_none(),
                        _ => false,
                    })
            }
            (Tag::Membership, Body::Membership(answered)) => self.memberships[start] == **answered,
            (Tag::CommitOffsets, Body::CommitOffsets(answered)) => {
                self.commit_offsets[start..end] == answered[..]
            }
            (Tag::TxnSend, Body::TxnSend(answered)) => self.txn_sends[start] == *answered,
            (Tag::Apply, Body::Apply(answered)) => self.applies[start] == *answered,
            (Tag::Admit, Body::Admit(answered)) => self.admits[start] == *answered,
            (Tag::Zk, Body::Zk(answered)) => self.zks[start] == *answered,
            _ => false,
        }
    }

    /// Packs `mop`, micro-op `at` of the history, its records appended (its vectors taken, to
    /// be read into again); its deadline added to the table unless it is there already.
    fn pack(&mut self, mop: &mut Mop, at: u32, deadline: Deadline) -> PackedMop {
        match mop {
            Mop::Send(send) => {
                if let (Some(set), Deadline::Record) = (send.deadline, deadline) {
                    self.deadlines.push((at, set));
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
            Mop::Poll(PollMop {
                reads: reads @ Some(_),
            }) => {
                let reads = reads.take().expect("matched as some");
                let first = position(self.reads.len(), "keys read");
                for KeyReads { key, records } in &reads {
                    let start = position(self.records.len(), "records");
                    self.records.extend_from_slice(records);
                    self.reads.push(PackedReads {
                        key: *key,
                        start,
                        len: position(records.len(), "records"),
                    });
                }
                self.spare.give_key_reads(reads);
                PackedMop {
                    value: 0,
                    offset: u64::from(first),
                    key: position(self.reads.len(), "keys read") - first,
                    flags: POLL | HAS_READS,
                }
            }
        }
    }

    fn mops_view(&self, start: usize, end: usize, flags_kept: u8) -> Mops<'_> {
        Mops {
            mops: &self.mops[start..end],
            start: start as u32,
            flags_kept,
            deadlines: &self.deadlines,
            deadline_blocks: &self.deadline_blocks,
            reads: &self.reads,
            records: &self.records,
        }
    }

    /// The value of op `index`.
    #[inline]
    pub(crate) fn get(&self, index: u64) -> BodyView<'_> {
        let entry = self.entries[index as usize];
        let (start, end) = (entry.start(), entry.end());
        match entry.tag() {
            Tag::Mops => BodyView::Mops(self.mops_view(start, end, FLAGS_ALL)),
            Tag::MopsAsInvoked => BodyView::Mops(self.mops_view(start, end, FLAGS_AS_INVOKED)),
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

    /// The ops whose value is of one of `kinds`, with it, in history order. The others are
    /// skipped by their entry's tag alone: their values are never read.
    pub(crate) fn iter_of<'h>(
        &'h self,
        kinds: &[BodyKind],
    ) -> impl Iterator<Item = (u64, BodyView<'h>)> + 'h {
        self.indexes_of(kinds).map(|index| (index, self.get(index)))
    }

    /// The indexes of the ops whose value is of one of `kinds`, ascending.
    pub(crate) fn indexes_of(&self, kinds: &[BodyKind]) -> impl Iterator<Item = u64> + '_ {
        let mask = tag_mask(kinds);
        self.entries
            .iter()
            .enumerate()
            .filter(move |(_, entry)| mask & 1 << entry.tag() as u16 != 0)
            .map(|(index, _)| index as u64)
    }

    /// Does any op hold a value of kind `kind`? Read from the tags alone.
    pub(crate) fn any_of(&self, kind: BodyKind) -> bool {
        self.entries.iter().any(|entry| entry.tag().kind() == kind)
    }

    /// Bytes held, by part (length times element size: what a reader touches).
    pub(crate) fn held_bytes(&self, parts: &mut Vec<(&'static str, usize)>) {
        fn held<T>(vector: &[T]) -> usize {
            std::mem::size_of_val(vector)
        }
        parts.push(("value entries", held(&self.entries)));
        parts.push(("micro-ops", held(&self.mops)));
        parts.push((
            "deadlines",
            held(&self.deadlines) + held(&self.deadline_blocks),
        ));
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

    /// The history is read: gives back the memory the vectors reserved beyond what they hold
    /// (they grow by doubling while a history streams in), and indexes the deadlines by block
    /// of micro-ops. No value is added after.
    pub(crate) fn seal(&mut self) {
        let blocks = self.mops.len().div_ceil(DEADLINE_BLOCK);
        let mut blocks_start = Vec::with_capacity(blocks);
        let mut next = 0;
        for block in 0..blocks {
            let first = position(block * DEADLINE_BLOCK, "micro-ops");
            while self.deadlines.get(next).is_some_and(|&(at, _)| at < first) {
                next += 1;
            }
            blocks_start.push(position(next, "deadlines"));
        }
        self.deadline_blocks = blocks_start;
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

/// Where micro-op `at`'s deadline is in `table` (sorted by micro-op), searched for from the
/// end: while a history streams in, the builder looks at the invokes its completions answer,
/// recent ones, whose deadlines are among the last recorded. A galloping search back from the
/// end finds them in a few steps, where a binary search of the whole table took ~17.
fn find_recent(table: &[(u32, u64)], at: u32) -> Option<usize> {
    // Every entry from `high` on is of a later micro-op.
    let mut high = table.len();
    let mut step = 1;
    while high > 0 {
        let probe = high.saturating_sub(step);
        if table[probe].0 <= at {
            let found = table[probe..high].binary_search_by_key(&at, |&(mop, _)| mop);
            return found.ok().map(|found| probe + found);
        }
        high = probe;
        step *= 2;
    }
    None
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
            BodyView::TxnSend(txn) => Body::TxnSend(*txn),
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
    /// The flags read: [`FLAGS_AS_INVOKED`] for an invoke stored with its completion.
    flags_kept: u8,
    deadlines: &'h [(u32, u64)],
    /// Empty until the history is sealed: then every block's first deadline.
    deadline_blocks: &'h [u32],
    reads: &'h [PackedReads],
    records: &'h [Record],
}

impl<'h> Mops<'h> {
    const EMPTY: Mops<'static> = Mops {
        mops: &[],
        start: 0,
        flags_kept: FLAGS_ALL,
        deadlines: &[],
        deadline_blocks: &[],
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

    /// The polls among the micro-ops, in order. The sends are passed over by their flags,
    /// their views never built: building one looks up its deadline (a search of the table)
    /// whether the reader wants it or not.
    pub fn polls(&self) -> impl Iterator<Item = PollView<'h>> + 'h {
        let mops = *self;
        (0..self.mops.len()).filter_map(move |position| {
            let packed = &mops.mops[position];
            if packed.flags & POLL == 0 {
                return None;
            }
            match mops.view(position, packed) {
                MopView::Poll(poll) => Some(poll),
                MopView::Send(_) => unreachable!("a poll's flags read as a poll"),
            }
        })
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
        let flags = packed.flags & self.flags_kept;
        if flags & POLL == 0 {
            let deadline = (flags & HAS_DEADLINE != 0).then(|| {
                let at = self.start + position as u32;
                let block = at as usize / DEADLINE_BLOCK;
                // Its block's deadlines once sealed, else (the history streams in) all of
                // them, from the end.
                let found = match self.deadline_blocks.get(block) {
                    Some(&start) => {
                        let end = self.deadline_blocks.get(block + 1);
                        let end = end.map_or(self.deadlines.len(), |&end| end as usize);
                        let table = &self.deadlines[start as usize..end];
                        let found = table.binary_search_by_key(&at, |&(mop, _)| mop);
                        found.ok().map(|at| start as usize + at)
                    }
                    None => find_recent(self.deadlines, at),
                };
                self.deadlines[found.expect("a flagged deadline is recorded")].1
            });
            return MopView::Send(SendMop {
                key: KeyId(packed.key),
                value: packed.value,
                offset: (flags & HAS_OFFSET != 0).then_some(packed.offset),
                deadline,
            });
        }
        let reads = (flags & HAS_READS != 0).then(|| {
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
    use crate::history::{Local, TxnId};

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
                txn: TxnId(0),
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
        packed.seal();
        let read: Vec<Body> = packed.iter().map(|view| view.to_body()).collect();
        assert_eq!(read, bodies);
        assert_eq!(packed.get(0).mops().len(), 3);
        assert!(packed.get(3).mops().is_empty(), "no micro-ops in a commit");
    }

    fn send(value: i64, offset: Option<u64>, deadline: Option<u64>) -> Mop {
        Mop::Send(SendMop {
            key: KeyId(0),
            value,
            offset,
            deadline,
        })
    }

    fn poll(records: Option<Vec<Record>>) -> Mop {
        Mop::Poll(PollMop {
            reads: records.map(|records| {
                vec![KeyReads {
                    key: KeyId(1),
                    records,
                }]
            }),
        })
    }

    fn admit(request: i64, token: Option<Record>) -> Body {
        Body::Admit(Admit {
            key: KeyId(2),
            request,
            token,
        })
    }

    fn txn_send(value: i64, local: Option<Local>) -> Body {
        Body::TxnSend(TxnSend {
            txn: TxnId(0),
            key: KeyId(0),
            value,
            local,
        })
    }

    fn held(bodies: &Bodies) -> usize {
        let mut parts = Vec::new();
        bodies.held_bytes(&mut parts);
        parts.iter().map(|&(_, bytes)| bytes).sum()
    }

    /// (invoke, completion, stored once?) An invoke is stored with its completion exactly
    /// when its value carries nothing the completion's lacks.
    fn pairs() -> Vec<(Body, Body, bool)> {
        let record = |offset, value| Record { offset, value };
        vec![
            (
                Body::Mops(vec![send(1, None, Some(9)), send(2, None, None)]),
                Body::Mops(vec![send(1, Some(0), Some(9)), send(2, None, None)]),
                true,
            ),
            (
                Body::Mops(vec![poll(None), send(3, None, None)]),
                Body::Mops(vec![poll(Some(vec![record(0, 1)])), send(3, Some(1), None)]),
                true,
            ),
            (
                Body::Mops(vec![poll(None)]),
                Body::Mops(vec![poll(None)]),
                true,
            ),
            // The completion leaves out the invoke's deadline.
            (
                Body::Mops(vec![send(4, None, Some(7))]),
                Body::Mops(vec![send(4, Some(2), None)]),
                false,
            ),
            // An invoke that names an offset or records is kept as recorded.
            (
                Body::Mops(vec![send(5, Some(3), None)]),
                Body::Mops(vec![send(5, Some(3), None)]),
                false,
            ),
            (
                Body::Mops(vec![poll(Some(Vec::new()))]),
                Body::Mops(vec![poll(Some(Vec::new()))]),
                false,
            ),
            (
                Body::Mops(vec![send(6, None, None)]),
                Body::Mops(vec![send(7, Some(4), None)]),
                false,
            ),
            (admit(1, None), admit(1, None), true),
            (
                admit(2, Some(record(0, 9))),
                admit(2, Some(record(0, 9))),
                true,
            ),
            (admit(3, None), admit(3, Some(record(1, 10))), false),
            (admit(4, Some(record(2, 11))), admit(4, None), false),
            (txn_send(8, None), txn_send(8, None), true),
            (txn_send(9, None), txn_send(9, Some(Local::Commit)), false),
            (
                Body::CommitOffsets(vec![(KeyId(0), 4)]),
                Body::CommitOffsets(vec![(KeyId(0), 4)]),
                true,
            ),
            (
                Body::CommitOffsets(vec![(KeyId(0), 4)]),
                Body::CommitOffsets(vec![(KeyId(0), 5)]),
                false,
            ),
        ]
    }

    /// Every invoke and completion reads back as it was recorded, whether stored once or
    /// apart, with a value pushed between them (the invoke's micro-ops are not the last); an
    /// invoke stored once costs no parts of its own, and the deadlines table holds each
    /// deadline once.
    #[test]
    fn a_search_from_the_end_agrees_with_a_binary_search() {
        let table: Vec<(u32, u64)> = [2, 3, 5, 8, 13, 21, 34, 55, 89, 144]
            .iter()
            .map(|&at| (at, u64::from(at) * 10))
            .collect();
        for at in 0..150 {
            let searched = table.binary_search_by_key(&at, |&(mop, _)| mop).ok();
            assert_eq!(find_recent(&table, at), searched, "{at}");
        }
        assert_eq!(find_recent(&[], 3), None);
    }

    /// Sealed, a history's deadlines are found by block of micro-ops: the same as searching
    /// the whole table, over blocks with many deadlines, one, or none, and ops that straddle
    /// two blocks.
    #[test]
    fn sealed_deadlines_read_back_as_unsealed() {
        let mut bodies = Bodies::default();
        for op in 0..90i64 {
            let mops = (0..op % 4)
                .map(|at| {
                    let value = op * 10 + at;
                    let deadline =
                        (value % 3 == 0 || (40..60).contains(&op)).then_some(1000 + value as u64);
                    send(value, None, deadline.filter(|_| op < 70))
                })
                .collect();
            bodies.push(Body::Mops(mops));
        }
        let unsealed: Vec<Body> = bodies.iter().map(|view| view.to_body()).collect();
        assert!(bodies.mops.len() > 2 * DEADLINE_BLOCK, "several blocks");
        bodies.seal();
        assert_eq!(
            bodies.deadline_blocks.len(),
            bodies.mops.len().div_ceil(DEADLINE_BLOCK)
        );
        let sealed: Vec<Body> = bodies.iter().map(|view| view.to_body()).collect();
        assert_eq!(sealed, unsealed);
    }

    #[test]
    fn an_invoke_stored_with_its_completion_reads_back_as_recorded() {
        for (invoke, completion, once) in pairs() {
            let between = Body::Mops(vec![send(100, None, Some(1)), poll(None)]);
            let mut apart = Bodies::default();
            let mut shared = Bodies::default();
            for bodies in [&mut apart, &mut shared] {
                bodies.push(invoke.clone());
                bodies.push(between.clone());
            }
            apart.push(completion.clone());
            shared.push_completion(0, completion.clone());
            let read: Vec<Body> = shared.iter().map(|view| view.to_body()).collect();
            assert_eq!(read, [invoke.clone(), between, completion.clone()]);
            assert_eq!(shared.get(0), apart.get(0), "{invoke:?}");
            assert_eq!(shared.get(2), apart.get(2), "{completion:?}");
            let invoke_held = {
                let mut alone = Bodies::default();
                alone.push(invoke.clone());
                held(&alone) - std::mem::size_of::<Entry>()
            };
            let saved = held(&apart) - held(&shared);
            assert_eq!(saved, if once { invoke_held } else { 0 }, "{invoke:?}");
            let positions: Vec<u32> = shared.deadlines.iter().map(|&(at, _)| at).collect();
            assert!(
                positions.windows(2).all(|pair| pair[0] < pair[1]),
                "deadlines once each, ascending: {positions:?}"
            );
        }
    }
}
