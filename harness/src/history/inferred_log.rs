//! The log a history implies, built once and shared by every checker. Each sent value becomes
//! a [`Write`] with its outcome; each acknowledged offset (of an ok send, or of an info send
//! once its op is proven written), each polled record and each token record an `admit` names
//! (the gateway fetched it before taking it) becomes an [`Observation`] of a (key, offset,
//! value). Values are unique per key, so a write is found by (key, value). An op's writes are
//! atomic: one of them read proves them all ([`Write::proven`]). Per key, the observations sorted by offset are
//! the inferred "version order" (Jepsen's term): the checkers compare what clients saw against
//! it. The log is *inferred*, never trusted: two values at one offset, or one value at two
//! offsets, are kept side by side so the log-consistency check can report them.
//!
//! Cost: one pass over the ops, one sort of the sent values, one sort per key (a counting
//! sort over its offsets where they are dense, in `version_order.rs`) — n log n.

use super::bodies::{Bodies, BodyView, MopView};
use super::body::{KeyId, Keys};
use super::heads::Heads;
pub use super::known_offsets::KnownOffsets;
pub use super::log_write::{Outcome, Write, WriteId, WriteKind};
use super::observation::GARBAGE;
pub use super::observation::{Observation, Source};
pub use super::offset_runs::{OffsetRuns, Run};
use super::op::{OpType, F};
use super::version_order;
use super::{HistoryError, OpError, NONE, PARTNER_NONE};

/// Per key: what was seen where.
#[derive(Clone, Debug, Default)]
pub struct KeyLog {
    /// Observation ids sorted by (offset, value, op): the version order with its witnesses.
    pub order: Vec<u32>,
    /// The offsets known to hold a value.
    pub offsets: KnownOffsets,
    /// Where each offset's observations start in `order`, and which saw more than one write.
    pub runs: OffsetRuns,
    /// The highest offset any poll returned, and the observation that proves it.
    pub read_max: Option<(u64, u32)>,
    /// A poll completing after the drain marker listed this key with no records: the drain
    /// reached the key's end.
    pub drained: bool,
}

impl KeyLog {
    /// Is some offset strictly between `low` and `high` known to hold a value? The lowest.
    pub fn known_between(&self, low: u64, high: u64) -> Option<u64> {
        self.offsets.between(low, high)
    }
}

/// A value observed at a second (key, offset): `first` and `again` are observation ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Relocation {
    pub write: WriteId,
    pub first: u32,
    pub again: u32,
}

#[derive(Clone, Debug, Default)]
pub struct InferredLog {
    pub writes: Vec<Write>,
    pub observations: Vec<Observation>,
    pub keys: Vec<KeyLog>,
    /// Values seen at more than one (key, offset), one entry per extra place.
    pub relocations: Vec<Relocation>,
    /// Observations of values no client ever sent.
    pub garbage: Vec<u32>,
    /// The values of [`InferredLog::garbage`], in its order: the others are their writes'.
    garbage_values: Vec<i64>,
    table: ValueTable,
}

/// Read here, where the log is, so that [`super::observation`] does not name the log that
/// names it (an import circle).
impl InferredLog {
    /// `slot_count`: the history's process slots ([`Heads::slot`] numbers them below it).
    pub(crate) fn build(
        heads: &Heads,
        bodies: &Bodies,
        partner: &[u32],
        slot_count: usize,
        key_names: &Keys,
        drain: Option<u64>,
    ) -> Result<InferredLog, Vec<HistoryError>> {
        let mut writes: Vec<Write> = Vec::new();
        let mut observations: Vec<Observation> = Vec::new();
        // The value of each observation: kept apart until the observations are matched with
        // their writes (which hold it) and sorted.
        let mut values: Vec<i64> = Vec::new();
        let mut keys = vec![KeyLog::default(); key_names.len()];
        // Per process slot: the first write id of its latest invoke's micro-ops. A completion
        // answers its slot's open invoke (the builder pairs no other), and a slot has one op
        // open at a time, so this is the write base of the invoke a completion answers. Kept
        // per slot, not per op: a u32 for each op of the history (40 MB of 10^7 ops) was
        // most of what the log's build held at its peak beside the log itself.
        let mut write_base: Vec<WriteId> = vec![WriteId::MAX; slot_count];
        // Offsets that `info` completions carry: they count once the op is proven to have
        // happened (one of its writes was read), and not before.
        let mut info_acks: Vec<(WriteId, Observation)> = Vec::new();
        let drain = drain.unwrap_or(NONE);

        for (position, body) in bodies.iter().enumerate() {
            let index = position as u64;
            match (heads.kind(index), body) {
                (OpType::Invoke, BodyView::Mops(mops)) => {
                    write_base[heads.slot(index) as usize] = writes.len() as WriteId;
                    for mop in mops {
                        if let MopView::Send(send) = mop {
                            writes.push(Write::new(
                                send.key,
                                send.value,
                                WriteKind::Send,
                                index,
                                send.deadline.is_some(),
                            ));
                        }
                    }
                }
                (OpType::Invoke, BodyView::TxnSend(txn)) => {
                    write_base[heads.slot(index) as usize] = writes.len() as WriteId;
                    writes.push(Write::new(
                        txn.key,
                        txn.value,
                        WriteKind::TxnSend,
                        index,
                        false,
                    ));
                }
                (kind, BodyView::Mops(mops)) => {
                    let invoke = partner[position];
                    if invoke == PARTNER_NONE {
                        continue;
                    }
                    let mut write = write_base[heads.slot(index) as usize] as usize;
                    for mop in mops {
                        match mop {
                            MopView::Send(send) => {
                                let id = write as WriteId;
                                let entry = &mut writes[write];
                                assert_eq!(entry.invoke(), u64::from(invoke), "its invoke's write");
                                write += 1;
                                entry.set_completion(index);
                                entry.set_outcome(outcome(kind));
                                let Some(offset) = send.offset else { continue };
                                let ack = Observation::new(send.key, offset, index, Source::Ack);
                                match kind {
                                    OpType::Ok => {
                                        entry.set_offset(offset);
                                        observations.push(ack);
                                        values.push(send.value);
                                    }
                                    OpType::Info => info_acks.push((id, ack)),
                                    _ => {}
                                }
                            }
                            MopView::Poll(poll) => {
                                let (OpType::Ok, Some(reads)) = (kind, poll.reads()) else {
                                    continue;
                                };
                                for key_reads in reads {
                                    if drain != NONE
                                        && index > drain
                                        && key_reads.records.is_empty()
                                    {
                                        keys[key_reads.key.slot()].drained = true;
                                    }
                                    for record in key_reads.records {
                                        observations.push(Observation::new(
                                            key_reads.key,
                                            record.offset,
                                            index,
                                            Source::Read,
                                        ));
                                        values.push(record.value);
                                    }
                                }
                            }
                        }
                    }
                }
                // Whatever the outcome: the gateway read the token (before its invoke, when the
                // invoke names it) even if it then failed to take it.
                (_, BodyView::Admit(admit)) => {
                    if let Some(token) = admit.token {
                        observations.push(Observation::new(
                            admit.key,
                            token.offset,
                            index,
                            Source::Read,
                        ));
                        values.push(token.value);
                    }
                }
                (kind, BodyView::TxnSend(_)) if *heads.f(index) == F::TxnSend => {
                    let invoke = partner[position];
                    if invoke == PARTNER_NONE {
                        continue;
                    }
                    let entry = &mut writes[write_base[heads.slot(index) as usize] as usize];
                    assert_eq!(entry.invoke(), u64::from(invoke), "its invoke's write");
                    entry.set_completion(index);
                    entry.set_outcome(outcome(kind));
                }
                _ => {}
            }
        }
        drop(write_base);
        // Observation numbers are u32, u32::MAX meaning "none"; write numbers share a u32 with
        // garbage numbers in an observation.
        assert!(
            writes.len() < GARBAGE as usize && observations.len() < u32::MAX as usize,
            "a history's log holds fewer than 2^31 writes and 2^32 - 1 observations"
        );

        let table = ValueTable::build(&writes).map_err(|(first, again)| {
            let write = &writes[again as usize];
            vec![HistoryError {
                index: write.invoke(),
                error: OpError::DuplicateValue {
                    key: key_names.name(write.key).to_string(),
                    value: write.value,
                    first: writes[first as usize].invoke(),
                },
            }]
        })?;

        let mut garbage = Vec::new();
        let mut garbage_values = Vec::new();
        for (id, (observation, &value)) in observations.iter_mut().zip(&values).enumerate() {
            match table.get(observation.key, value, &writes) {
                Some(write_id) => {
                    observation.set_write(write_id);
                    if observation.source == Source::Read {
                        writes[write_id as usize].note_read(id as u32);
                    }
                }
                None => {
                    observation.set_garbage(garbage.len() as u32);
                    garbage.push(id as u32);
                    garbage_values.push(value);
                }
            }
        }

        // An op's writes are atomic (design.md section 8): an ok op wrote them all, and so did
        // an info op any of whose writes was read. An op's writes are contiguous.
        let mut start = 0;
        while start < writes.len() {
            let invoke = writes[start].invoke();
            let mut end = start;
            while end < writes.len() && writes[end].invoke() == invoke {
                end += 1;
            }
            let group = &mut writes[start..end];
            let proven = match group[0].outcome() {
                Outcome::Ok => true,
                Outcome::Info => group.iter().any(|write| write.reads() > 0),
                Outcome::Fail => false,
            };
            for write in group {
                write.set_proven(proven);
            }
            start = end;
        }
        // The acks of info sends come last, out of op order among the rest.
        let info_start = observations.len() as u32;
        for (id, mut ack) in info_acks {
            let write = &mut writes[id as usize];
            if write.proven() {
                write.set_offset(ack.offset);
                // A completion sends what its invoke did (the builder pairs no other).
                ack.set_write(id);
                observations.push(ack);
                values.push(write.value);
            }
        }

        let mut relocations = Vec::new();
        // Write -> the first observation of its value, at any (key, offset), ack or read.
        let mut seen_first: Vec<u32> = vec![u32::MAX; writes.len()];
        for (id, observation) in observations.iter().enumerate() {
            let id = id as u32;
            let key = &mut keys[observation.key.slot()];
            if observation.source == Source::Read
                && key
                    .read_max
                    .is_none_or(|(offset, _)| observation.offset > offset)
            {
                key.read_max = Some((observation.offset, id));
            }
            let Some(write_id) = observation.write() else {
                continue;
            };
            let first = &mut seen_first[write_id as usize];
            if *first == u32::MAX {
                *first = id;
            } else if observations[*first as usize].offset != observation.offset {
                relocations.push(Relocation {
                    write: write_id,
                    first: *first,
                    again: id,
                });
            }
        }
        drop(seen_first);

        let orders = version_order::build(keys.len(), &observations, &values, info_start);
        for (key, built) in keys.iter_mut().zip(orders) {
            key.order = built.order;
            key.offsets = built.offsets;
            key.runs = built.runs;
        }

        drop(values);

        Ok(InferredLog {
            writes,
            observations,
            keys,
            relocations,
            garbage,
            garbage_values,
            table,
        })
    }

    /// The write of `value` to `key`, if some client sent it. Values are unique per key.
    pub fn write_of(&self, key: KeyId, value: i64) -> Option<&Write> {
        self.table
            .get(key, value, &self.writes)
            .map(|id| &self.writes[id as usize])
    }

    /// Where a write sits in its key's log, as far as the history shows: its acknowledged
    /// offset (an ok send, or a proven info send that learned one), else the offset a poll
    /// first read it at.
    pub fn position(&self, write: &Write) -> Option<u64> {
        write
            .offset()
            .or_else(|| write.read_first().map(|read| self.observation(read).offset))
    }

    /// The value `observation` saw: its write's, or (no client sent it) the log's note of it.
    /// Here, not on [`Observation`], so that an observation's module needs nothing of the log.
    #[inline]
    pub fn value_seen(&self, observation: &Observation) -> i64 {
        match observation.write() {
            Some(write) => self.writes[write as usize].value,
            None => self.garbage_values[observation.garbage() as usize],
        }
    }

    pub fn write(&self, id: WriteId) -> &Write {
        &self.writes[id as usize]
    }

    pub fn observation(&self, id: u32) -> &Observation {
        &self.observations[id as usize]
    }

    pub fn key(&self, key: KeyId) -> &KeyLog {
        &self.keys[key.slot()]
    }

    /// Bytes held, by part (length times element size).
    pub(crate) fn held_bytes(&self, parts: &mut Vec<(&'static str, usize)>) {
        parts.push(("writes", std::mem::size_of_val(self.writes.as_slice())));
        parts.push((
            "observations",
            std::mem::size_of_val(self.observations.as_slice())
                + std::mem::size_of_val(self.garbage_values.as_slice()),
        ));
        let orders = self
            .keys
            .iter()
            .map(|key| key.order.len() * 4 + key.runs.held_bytes())
            .sum();
        let offsets = self.keys.iter().map(|key| key.offsets.held_bytes()).sum();
        parts.push(("version orders", orders));
        parts.push(("known offsets", offsets));
        parts.push(("value table", self.table.held_bytes()));
    }

    /// Ok sends (micro-ops), for the run statistics.
    pub fn sends_ok(&self) -> u64 {
        self.writes
            .iter()
            .filter(|w| w.kind() == WriteKind::Send && w.outcome() == Outcome::Ok)
            .count() as u64
    }
}

fn outcome(kind: OpType) -> Outcome {
    match kind {
        OpType::Ok => Outcome::Ok,
        OpType::Fail => Outcome::Fail,
        OpType::Info | OpType::Invoke => Outcome::Info,
    }
}

/// (key, value) -> write id. Values are unique per key; faultline's own histories make them
/// unique per run and usually a dense run of integers, so a direct table over values is tried
/// first, with the few values sent to more than one key kept aside in a sorted vector; sparse
/// values fall back to a sorted vector of (key, value) and binary search.
#[derive(Clone, Debug, Default)]
enum ValueTable {
    #[default]
    Empty,
    Dense {
        min: i64,
        /// The first write of each value.
        slots: Vec<WriteId>,
        /// (key, value, write) of later writes of a value already in `slots`, sorted.
        shared: Vec<(KeyId, i64, WriteId)>,
    },
    Sorted(Vec<(KeyId, i64, WriteId)>),
}

/// A dense table may be at most this many times larger than the number of writes.
const DENSE_SPREAD_MAX: u64 = 4;

impl ValueTable {
    /// Fails with (first write, second write) when a value was sent twice to one key.
    fn build(writes: &[Write]) -> Result<ValueTable, (WriteId, WriteId)> {
        if writes.is_empty() {
            return Ok(ValueTable::Empty);
        }
        let min = writes.iter().map(|w| w.value).min().expect("not empty");
        let max = writes.iter().map(|w| w.value).max().expect("not empty");
        let spread = max.abs_diff(min);
        if spread < DENSE_SPREAD_MAX * writes.len() as u64 + 1024 {
            let mut slots = vec![WriteId::MAX; spread as usize + 1];
            let mut shared = Vec::new();
            for (id, write) in writes.iter().enumerate() {
                let slot = &mut slots[write.value.abs_diff(min) as usize];
                if *slot == WriteId::MAX {
                    *slot = id as WriteId;
                } else if writes[*slot as usize].key == write.key {
                    return Err((*slot, id as WriteId));
                } else {
                    shared.push((write.key, write.value, id as WriteId));
                }
            }
            check_unique(&mut shared)?;
            return Ok(ValueTable::Dense { min, slots, shared });
        }
        let mut sorted: Vec<(KeyId, i64, WriteId)> = writes
            .iter()
            .enumerate()
            .map(|(id, write)| (write.key, write.value, id as WriteId))
            .collect();
        check_unique(&mut sorted)?;
        Ok(ValueTable::Sorted(sorted))
    }

    fn held_bytes(&self) -> usize {
        match self {
            ValueTable::Empty => 0,
            ValueTable::Dense { slots, shared, .. } => {
                std::mem::size_of_val(slots.as_slice()) + std::mem::size_of_val(shared.as_slice())
            }
            ValueTable::Sorted(sorted) => std::mem::size_of_val(sorted.as_slice()),
        }
    }

    fn get(&self, key: KeyId, value: i64, writes: &[Write]) -> Option<WriteId> {
        let search = |sorted: &[(KeyId, i64, WriteId)]| {
            sorted
                .binary_search_by_key(&(key, value), |&(k, v, _)| (k, v))
                .ok()
                .map(|at| sorted[at].2)
        };
        match self {
            ValueTable::Empty => None,
            ValueTable::Dense { min, slots, shared } => {
                if value < *min {
                    return None;
                }
                let id = slots
                    .get(value.abs_diff(*min) as usize)
                    .copied()
                    .filter(|&id| id != WriteId::MAX)?;
                if writes[id as usize].key == key {
                    Some(id)
                } else {
                    search(shared)
                }
            }
            ValueTable::Sorted(sorted) => search(sorted),
        }
    }
}

/// Sorts (key, value, write) triples; fails on a (key, value) sent twice.
fn check_unique(sorted: &mut [(KeyId, i64, WriteId)]) -> Result<(), (WriteId, WriteId)> {
    sorted.sort_unstable();
    for pair in sorted.windows(2) {
        if (pair[0].0, pair[0].1) == (pair[1].0, pair[1].1) {
            return Err((pair[0].2, pair[1].2));
        }
    }
    Ok(())
}
