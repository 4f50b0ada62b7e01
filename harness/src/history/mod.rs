//! The history: every operation the clients and the nemesis performed, in simulated-time order,
//! stored as JSON Lines (design.md section 8). Modelled on Jepsen's Kafka workload so histories
//! stay comparable. A history is the only input of the checkers, so it is validated whole when
//! it is built: indexes run 0, 1, 2, ...; time never goes backwards; every client completion
//! answers that process's open invoke with the same function and the same micro-ops; sent
//! values are unique per key, and request ids of `admit` ops per run. A process id used again
//! after an `info` (legal in Jepsen's histories) starts a new logical process: a new slot and a
//! note in [`History::notes`], not an error. A history that breaks one of these is bad input
//! (exit 2), never a verdict.
//!
//! Fault model of the recording itself: a client op may never complete (the run ended, or its
//! process crashed); such an invoke is treated like an `info` — it may or may not have
//! happened. Nothing else about the recording is assumed to be lossy.
//!
//! Phase markers are nemesis ops: `heal` (every fault lifted; liveness is measured from it) and
//! `drain` (the final reads start). A key is *drained* once a poll that completes after the
//! drain marker lists it with no records (`"orders/0":[]`): the recorder writes that only when
//! the consumer's position has reached the key's end (its high watermark), so checks that need
//! "never read, even at the end" (`unseen`, `txn-committed-lost`) have their proof. See
//! [`final_state`] for the `final-state` value, and [`body`] for every op's value, including
//! message deadlines (`send`), expiries (`expired`) and token-bucket admissions (`admit`).

pub mod bodies;
pub mod body;
mod builder;
mod decode;
pub mod digest;
mod digest_runs;
pub mod edn;
pub mod final_state;
mod heads;
pub mod inferred_log;
mod interner;
mod keys;
mod known_offsets;
mod line;
mod local;
mod log_write;
mod observation;
mod offset_runs;
pub mod op;
pub(crate) mod ranks;
pub mod read;
pub mod read_error;
pub mod recorder;
mod spare_vecs;
pub mod synthetic;
mod synthetic_coordinator;
mod txns;
pub mod value_reader;
pub mod values;
mod version_order;
pub mod write;

pub use bodies::{BodyKind, BodyView, KeyReadsView, MopView, Mops, MopsIter, PollView};
pub use body::{
    Admit, Apply, Body, Expired, KeyId, KeyReads, Keys, Local, Membership, Mop, PollMop, Record,
    SendMop, SequenceGap, TxnId, TxnSend, Txns, Zk,
};
pub use digest::HistoryDigest;
pub use final_state::{FinalState, TokenBucket, TokenRate, TxnLocals};
pub use inferred_log::{
    InferredLog, KeyLog, Observation, OffsetRuns, Outcome, Run, Source, Write, WriteKind,
};
pub use op::{Op, OpHead, OpType, Process, F};
pub use read::{parse_history, read_history};
pub use read_error::{LineError, ReadError};
pub use recorder::Recorder;
pub use write::{write_history, write_op};

pub(crate) use builder::Builder;
use heads::Heads;
use std::collections::BTreeMap;
use std::fmt;
use thiserror::Error;

/// At most this many problems are collected from one history before giving up on it.
pub const ERRORS_MAX: usize = 20;

/// Marks "no such op" in dense per-op tables.
const NONE: u64 = u64::MAX;

/// Marks "no partner" in [`History`]'s invoke <-> completion table, whose entries are `u32`
/// (half the memory of `u64`): a history holds fewer ops than this ([`Builder::push`] asserts it).
const PARTNER_NONE: u32 = u32::MAX;

/// Why an op cannot be part of a valid history.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum OpError {
    #[error("not a history op: {0}")]
    Syntax(String),
    #[error("index {found} is out of sequence (expected {expected}: indexes count lines from 0)")]
    Index { expected: u64, found: u64 },
    #[error("time {time} is before the previous op's time {previous} (ops are in sim-time order)")]
    TimeBackwards { previous: u64, time: u64 },
    #[error("{0}")]
    Value(String),
    #[error("{0}")]
    Process(String),
    #[error("{0}")]
    Pairing(String),
    #[error("value {value} was already sent to {key} by op {first}; values are unique per key")]
    DuplicateValue { key: String, value: i64, first: u64 },
    #[error("more than {max} distinct functions (\"f\") in one history")]
    Functions { max: usize },
    #[error("admit request {request} was already asked for by op {first}; request ids are unique per run (a retry of a request is a new request id)")]
    DuplicateRequest { request: i64, first: u64 },
}

/// One problem, at the op with this index.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("op {index}: {error}")]
pub struct HistoryError {
    pub index: u64,
    pub error: OpError,
}

/// A validated history with every value decoded and the log it implies inferred. It keeps each
/// op's head and typed value, never its JSON: a history read from a file costs memory for what
/// the checks read, not for the text ([`read`] streams it and digests the bytes on the way).
#[derive(Debug)]
pub struct History {
    /// Every op's head, packed; with its dense process number (its slot): clients in order
    /// of first appearance, then the nemesis.
    heads: Heads,
    bodies: bodies::Bodies,
    keys: Keys,
    txns: Txns,
    /// Invoke <-> completion, both ways; `PARTNER_NONE` for events and unpaired ops.
    partner: Vec<u32>,
    slot_count: usize,
    final_state: Option<u64>,
    heal: Option<u64>,
    drain: Option<u64>,
    log: InferredLog,
    /// Things a reader of the verdict should know about how the history was read.
    notes: Vec<String>,
    digest: HistoryDigest,
    /// The ops as recorded, values and all, when the history was built from them
    /// ([`History::from_ops`]: a run writes them out); `None` when streamed from a file.
    recorded: Option<Vec<Op>>,
    /// Streamed from a file: the free-form values ([`Body::Opaque`]: the nemesis' faults and
    /// markers, crashes) by op index, ascending. Few per history; the reports draw the fault
    /// windows from them.
    opaque: Vec<(u64, serde_json::Value)>,
}

impl History {
    /// Validates and indexes `ops`. On failure returns up to [`ERRORS_MAX`] problems, in order.
    pub fn from_ops(ops: Vec<Op>) -> Result<History, Vec<HistoryError>> {
        let mut builder = Builder::new();
        for op in &ops {
            let (keys, txns) = builder.interners();
            let decoded = decode::decode(&op.f, op.kind, &op.value, keys, txns);
            builder.push(op.head(), decoded);
        }
        let digest = HistoryDigest::of_ops(&ops);
        builder.finish(digest, Some(ops), Vec::new())
    }

    /// Every op's head (its value decoded apart: [`History::body`]).
    pub fn ops(&self) -> Ops<'_> {
        Ops { heads: &self.heads }
    }

    /// The ops with their values as recorded, when the history was built from them
    /// ([`History::from_ops`]); `None` for a history streamed from a file, which keeps only
    /// what the checks read.
    pub fn recorded_ops(&self) -> Option<&[Op]> {
        self.recorded.as_deref()
    }

    /// The op's value as recorded, where the history kept it: every op's when built from ops,
    /// the free-form ones' ([`Body::Opaque`]) when streamed from a file.
    pub fn value(&self, index: u64) -> Option<&serde_json::Value> {
        if let Some(ops) = &self.recorded {
            return ops.get(index as usize).map(|op| &op.value);
        }
        let at = self
            .opaque
            .binary_search_by_key(&index, |&(at, _)| at)
            .ok()?;
        Some(&self.opaque[at].1)
    }

    pub fn len(&self) -> usize {
        self.heads.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heads.len() == 0
    }

    /// The head of op `index` (rebuilt from its packed form: a value, not a reference).
    pub fn op(&self, index: u64) -> OpHead {
        self.heads.get(index)
    }

    /// The simulated time of op `index`: [`History::op`]'s without building the head.
    pub fn time(&self, index: u64) -> u64 {
        self.heads.time(index)
    }

    /// The type of op `index`: [`History::op`]'s `kind` without building the head.
    pub fn kind(&self, index: u64) -> OpType {
        self.heads.kind(index)
    }

    /// The function of op `index`: [`History::op`]'s `f` without building the head.
    pub fn f(&self, index: u64) -> &F {
        self.heads.f(index)
    }

    /// The decoded value of op `index`.
    pub fn body(&self, index: u64) -> BodyView<'_> {
        self.bodies.get(index)
    }

    /// The deadline `write`'s send carried (simulated ns); `None` for a message that never
    /// expires. Read from its invoke's body, where the send is: the log's write keeps only
    /// whether it has one, and a completion cannot add one (the builder pairs no such).
    pub fn deadline(&self, write: &Write) -> Option<u64> {
        if !write.has_deadline() {
            return None;
        }
        let BodyView::Mops(mops) = self.body(write.invoke()) else {
            return None;
        };
        // Values are unique per key, in an op as in the history: one send matches.
        mops.iter().find_map(|mop| match mop {
            MopView::Send(send) if send.key == write.key && send.value == write.value => {
                Some(send.deadline)
            }
            _ => None,
        })?
    }

    /// Every op with its decoded value, in history order.
    pub fn entries(&self) -> impl Iterator<Item = (OpHead, BodyView<'_>)> {
        self.ops().iter().zip(self.bodies.iter())
    }

    /// Every op's decoded value, in history order, without its head.
    pub fn bodies(&self) -> impl Iterator<Item = BodyView<'_>> {
        self.bodies.iter()
    }

    /// [`History::entries`] whose value is of one of `kinds`: most checks read a few kinds of
    /// op, and the heads and values of the others are never built.
    pub fn entries_of<'h>(
        &'h self,
        kinds: &[BodyKind],
    ) -> impl Iterator<Item = (OpHead, BodyView<'h>)> + 'h {
        self.bodies
            .iter_of(kinds)
            .map(move |(index, body)| (self.op(index), body))
    }

    /// The indexes of the ops whose value is of one of `kinds`, ascending: for a check that
    /// reads a few fields of many ops ([`History::kind`], [`History::slot`], ...) and the
    /// values of fewer, without building a head and a value for each.
    pub fn indexes_of<'h>(&'h self, kinds: &[BodyKind]) -> impl Iterator<Item = u64> + 'h {
        self.bodies.indexes_of(kinds)
    }

    /// Does any op hold a value of kind `kind`? Without building any op's value.
    pub fn has_kind(&self, kind: BodyKind) -> bool {
        self.bodies.any_of(kind)
    }

    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    pub fn key_name(&self, key: KeyId) -> &str {
        self.keys.name(key)
    }

    pub fn txns(&self) -> &Txns {
        &self.txns
    }

    /// The transaction id as recorded (an integer id in decimal).
    pub fn txn_name(&self, txn: TxnId) -> &str {
        self.txns.name(txn)
    }

    /// The invoke a completion answers.
    pub fn invoke_of(&self, completion: u64) -> Option<u64> {
        let partner = self.partner[completion as usize];
        (partner != PARTNER_NONE && u64::from(partner) < completion).then_some(u64::from(partner))
    }

    /// The completion of an invoke, if it completed.
    pub fn completion_of(&self, invoke: u64) -> Option<u64> {
        let partner = self.partner[invoke as usize];
        (partner != PARTNER_NONE && u64::from(partner) > invoke).then_some(u64::from(partner))
    }

    /// A dense number for the op's process, `0..slot_count()`; stable within this history.
    pub fn slot(&self, index: u64) -> usize {
        self.heads.slot(index) as usize
    }

    pub fn slot_count(&self) -> usize {
        self.slot_count
    }

    /// The `final-state` op, if recorded.
    pub fn final_state(&self) -> Option<(u64, &FinalState)> {
        let index = self.final_state?;
        match self.bodies.get(index) {
            BodyView::FinalState(state) => Some((index, state)),
            _ => None,
        }
    }

    /// The heal: the last `heal` marker, else the last `stop-*` nemesis op.
    pub fn heal(&self) -> Option<OpHead> {
        self.heal.map(|index| self.op(index))
    }

    /// The first `drain` marker.
    pub fn drain(&self) -> Option<OpHead> {
        self.drain.map(|index| self.op(index))
    }

    /// Notes on how the history was read (e.g. process ids used again after an `info`); not
    /// problems, but worth a line in a report.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// The log the history implies: writes, reads and per-key version orders.
    pub fn log(&self) -> &InferredLog {
        &self.log
    }

    /// Simulated time of the last op, in nanoseconds.
    pub fn time_end(&self) -> u64 {
        match self.heads.len() {
            0 => 0,
            len => self.heads.time(len as u64 - 1),
        }
    }

    /// The bytes this history holds, by part (length times element size: what was written
    /// and is resident), for the checkers bench to say where a history's memory goes.
    pub fn held_bytes(&self) -> Vec<(&'static str, usize)> {
        let mut parts = vec![("heads", self.heads.held_bytes())];
        self.bodies.held_bytes(&mut parts);
        parts.push(("names", self.keys.held_bytes() + self.txns.held_bytes()));
        parts.push(("partners", std::mem::size_of_val(self.partner.as_slice())));
        self.log.held_bytes(&mut parts);
        parts
    }

    /// The digest of the canonical JSON Lines form.
    pub fn digest(&self) -> HistoryDigest {
        self.digest
    }
}

/// Every op's head in history order, as [`History::ops`] gives them: built from the packed
/// heads on the way.
#[derive(Clone, Copy)]
pub struct Ops<'h> {
    heads: &'h Heads,
}

impl<'h> Ops<'h> {
    pub fn len(&self) -> usize {
        self.heads.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heads.len() == 0
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = OpHead> + ExactSizeIterator + 'h {
        self.heads.iter()
    }
}

impl fmt::Debug for Ops<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl PartialEq<&[OpHead]> for Ops<'_> {
    fn eq(&self, other: &&[OpHead]) -> bool {
        self.len() == other.len() && self.iter().zip(other.iter()).all(|(a, b)| a == *b)
    }
}

#[cfg(test)]
mod tests;
