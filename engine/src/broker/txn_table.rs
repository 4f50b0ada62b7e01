//! The transactions one broker coordinates, slotted by `__txn_half` partition: an index of
//! every half message with its decision and publication, rebuilt from the partition's log when
//! this broker becomes its leader (like the group table). No I/O here: `txn_coordinator`
//! appends the records this table asks for and waits for the high watermark.
//!
//! Fault model: leadership moves at any moment; appends fail or never replicate; producers
//! repeat requests, answer check-backs late, or die. Invariants: a transaction is decided at
//! most once — the first decision written wins and every later commit, rollback or check-back
//! answer gets that decision back; a decision is reported only once the high watermark covers
//! it; a transaction is published only after its commit decision is covered, and always under
//! the same stamp (see `txn_topic`). A slot's memory may run ahead of its log (an append not
//! yet replicated) but a new leader epoch reloads the slot from the log alone.

use crate::broker::txn_topic::{publish_stamp, TxnRecord};
use crate::storage::Record;
use crate::wire::broker_protocol::{
    BrokerError, Decision, DecisionReason, LocalOutcome, ProducerStamp, SendHalfRequest,
    TopicPartition, TxnStatus,
};
use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;
// tokio's clock, which turmoil drives in simulation; never the wall clock (design.md section 4).
use tokio::time::Instant; // The simulated clock (design.md section 4).

/// Transactions one `__txn_half` partition holds in memory (open and recently finished).
pub const TXNS_PER_PARTITION_MAX: usize = 100_000;
/// Transaction ids one check-back poll returns at most.
pub const CHECK_BACKS_PER_POLL_MAX: usize = 100;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Half {
    pub offset: u64,
    pub producer_group: String,
    pub target: TopicPartition,
    pub record: Record,
    pub check_after: Duration,
    pub check_max: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Phase {
    Undecided {
        unknowns: u32,
        next_check_at: Instant,
    },
    Decided {
        decision: Decision,
        reason: DecisionReason,
        /// Where the decision record lies: reported only once the high watermark passes it.
        offset: u64,
        published: Option<u64>,
        /// A background publish is under way.
        publishing: bool,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Txn {
    half: Half,
    phase: Phase,
}

impl Txn {
    fn finished(&self) -> bool {
        match self.phase {
            Phase::Undecided { .. } => false,
            Phase::Decided {
                decision,
                published,
                ..
            } => decision == Decision::Rollback || published.is_some(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Load {
    /// Waiting for the high watermark to reach `load_end`, then replaying `[start, load_end)`.
    Loading {
        load_end: u64,
    },
    Loaded,
}

#[derive(Debug)]
struct Slot {
    epoch: u64,
    load: Load,
    txns: BTreeMap<String, Txn>,
    /// Finished transactions, oldest first: the first forgotten when the slot is full.
    finished: VecDeque<String>,
}

impl Slot {
    fn mark_finished(&mut self, txn_id: &str) {
        if self.txns.get(txn_id).is_some_and(Txn::finished) {
            self.finished.push_back(txn_id.to_string());
        }
    }

    /// Makes room for one more transaction by forgetting the oldest finished ones.
    fn make_room(&mut self) -> Result<(), BrokerError> {
        while self.txns.len() >= TXNS_PER_PARTITION_MAX {
            let Some(oldest) = self.finished.pop_front() else {
                return Err(BrokerError::TooManyTransactions);
            };
            self.txns.remove(&oldest);
        }
        Ok(())
    }

    fn apply(&mut self, offset: u64, record: TxnRecord, now: Instant) {
        match record {
            TxnRecord::Half {
                txn_id,
                producer_group,
                target,
                record,
                check_after_ms,
                check_max,
            } => {
                if self.txns.contains_key(&txn_id) || self.make_room().is_err() {
                    return;
                }
                let check_after = Duration::from_millis(check_after_ms);
                let half = Half {
                    offset,
                    producer_group,
                    target,
                    record,
                    check_after,
                    check_max,
                };
                let phase = Phase::Undecided {
                    unknowns: 0,
                    next_check_at: now + check_after,
                };
                self.txns.insert(txn_id, Txn { half, phase });
            }
            TxnRecord::Decision {
                txn_id,
                decision,
                reason,
            } => {
                if let Some(txn) = self.txns.get_mut(&txn_id) {
                    if let Phase::Undecided { .. } = txn.phase {
                        txn.phase = Phase::Decided {
                            decision,
                            reason,
                            offset,
                            published: None,
                            publishing: false,
                        };
                        self.mark_finished(&txn_id);
                    }
                }
            }
            TxnRecord::Published { txn_id, offset } => {
                if let Some(txn) = self.txns.get_mut(&txn_id) {
                    if let Phase::Decided {
                        decision: Decision::Commit,
                        published: published @ None,
                        ..
                    } = &mut txn.phase
                    {
                        *published = Some(offset);
                        self.mark_finished(&txn_id);
                    }
                }
            }
        }
    }
}

/// What `SendHalf` needs next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HalfStep {
    /// Stored before (a retry): answer this offset once the high watermark covers it.
    Stored { offset: u64 },
    /// Append this record, then call [`TxnTable::half_written`].
    Write(TxnRecord),
}

/// What a decision (from `EndTxn` or a check-back answer) needs next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecideStep {
    /// Already decided (maybe otherwise): report it once the high watermark passes `offset`.
    Decided { offset: u64 },
    /// Append this decision record, then call [`TxnTable::decision_written`].
    Write(TxnRecord),
    /// An unknown answer below `check_max`: nothing to write; ask again later.
    Undecided(TxnStatus),
}

/// A committed message to publish to its target partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishJob {
    pub partition: u32,
    pub txn_id: String,
    pub target: TopicPartition,
    pub record: Record,
    pub stamp: ProducerStamp,
}

#[derive(Debug, Default)]
pub struct TxnTable {
    slots: BTreeMap<u32, Slot>,
}

impl TxnTable {
    /// Aligns the slot with this broker's role for the partition: `leading` is the confirmed
    /// leader epoch and the log end now, or `None` when this broker does not lead it.
    pub fn observe(&mut self, partition: u32, leading: Option<(u64, u64)>) {
        match leading {
            None => {
                if self.slots.remove(&partition).is_some() {
                    tracing::info!(
                        partition,
                        "no longer coordinating this __txn_half partition"
                    );
                }
            }
            Some((epoch, log_end)) => {
                if self
                    .slots
                    .get(&partition)
                    .is_none_or(|slot| slot.epoch != epoch)
                {
                    tracing::info!(partition, epoch, log_end, "loading transactions");
                    let slot = Slot {
                        epoch,
                        load: Load::Loading { load_end: log_end },
                        txns: BTreeMap::new(),
                        finished: VecDeque::new(),
                    };
                    self.slots.insert(partition, slot);
                }
            }
        }
    }

    /// Where the log must be replayed to, while the slot is loading.
    pub fn load_end(&self, partition: u32) -> Option<u64> {
        match self.slots.get(&partition)?.load {
            Load::Loading { load_end } => Some(load_end),
            Load::Loaded => None,
        }
    }

    /// Replays `(offset, record)` pairs (log order, all below the high watermark) and opens the
    /// slot. Undecided transactions are checked back `check_after` from now.
    pub fn load(&mut self, partition: u32, records: Vec<(u64, TxnRecord)>, now: Instant) {
        let Some(slot) = self.slots.get_mut(&partition) else {
            return;
        };
        slot.txns.clear();
        slot.finished.clear();
        let count = records.len();
        for (offset, record) in records {
            slot.apply(offset, record, now);
        }
        slot.load = Load::Loaded;
        tracing::info!(
            partition,
            records = count,
            txns = slot.txns.len(),
            "transactions loaded"
        );
    }

    fn loaded(&mut self, partition: u32) -> Result<&mut Slot, BrokerError> {
        let slot = self
            .slots
            .get_mut(&partition)
            .ok_or(BrokerError::NotCoordinator)?;
        match slot.load {
            Load::Loading { .. } => Err(BrokerError::CoordinatorLoading),
            Load::Loaded => Ok(slot),
        }
    }

    /// A half message arrives. The same id with other contents is refused (ids are unique), and
    /// so is a repeat for a decided transaction: a producer whose half was rolled back by
    /// check-backs while it retried must not run its local transaction.
    pub fn half(
        &mut self,
        partition: u32,
        request: &SendHalfRequest,
    ) -> Result<HalfStep, BrokerError> {
        let slot = self.loaded(partition)?;
        if let Some(txn) = slot.txns.get(&request.txn_id) {
            let half = &txn.half;
            if half.target != request.target
                || half.record != request.record
                || half.producer_group != request.producer_group
            {
                return Err(BrokerError::InvalidRequest {
                    reason: format!("transaction id {:?} is already used", request.txn_id),
                });
            }
            if let Phase::Decided { decision, .. } = txn.phase {
                return Err(BrokerError::InvalidRequest {
                    reason: format!(
                        "transaction {:?} is already decided ({decision:?})",
                        request.txn_id
                    ),
                });
            }
            return Ok(HalfStep::Stored {
                offset: half.offset,
            });
        }
        slot.make_room()?;
        Ok(HalfStep::Write(TxnRecord::Half {
            txn_id: request.txn_id.clone(),
            producer_group: request.producer_group.clone(),
            target: request.target.clone(),
            record: request.record.clone(),
            check_after_ms: request.check_after_ms,
            check_max: request.check_max,
        }))
    }

    /// The half record asked for by [`TxnTable::half`] was appended at `offset`.
    pub fn half_written(&mut self, partition: u32, record: TxnRecord, offset: u64, now: Instant) {
        if let Some(slot) = self.slots.get_mut(&partition) {
            slot.apply(offset, record, now);
        }
    }

    /// A decision arrives; the first one wins.
    pub fn decide(
        &mut self,
        partition: u32,
        txn_id: &str,
        decision: Decision,
        reason: DecisionReason,
    ) -> Result<DecideStep, BrokerError> {
        let slot = self.loaded(partition)?;
        let txn = slot
            .txns
            .get(txn_id)
            .ok_or(BrokerError::UnknownTransaction)?;
        match txn.phase {
            Phase::Decided { offset, .. } => Ok(DecideStep::Decided { offset }),
            Phase::Undecided { .. } => Ok(DecideStep::Write(TxnRecord::Decision {
                txn_id: txn_id.to_string(),
                decision,
                reason,
            })),
        }
    }

    /// The decision record asked for by [`TxnTable::decide`] was appended at `offset`.
    pub fn decision_written(&mut self, partition: u32, record: TxnRecord, offset: u64) {
        if let Some(slot) = self.slots.get_mut(&partition) {
            slot.apply(offset, record, Instant::now());
        }
    }

    /// A producer answered a check-back. Commit and rollback decide; unknown counts, and
    /// decides rollback at the half's `check_max`.
    pub fn answer(
        &mut self,
        partition: u32,
        txn_id: &str,
        local: LocalOutcome,
        now: Instant,
    ) -> Result<DecideStep, BrokerError> {
        let decision = match local {
            LocalOutcome::Commit => Decision::Commit,
            LocalOutcome::Rollback => Decision::Rollback,
            LocalOutcome::Unknown => {
                let slot = self.loaded(partition)?;
                let txn = slot
                    .txns
                    .get_mut(txn_id)
                    .ok_or(BrokerError::UnknownTransaction)?;
                let check_after = txn.half.check_after;
                let check_max = txn.half.check_max;
                match &mut txn.phase {
                    Phase::Decided { offset, .. } => {
                        return Ok(DecideStep::Decided { offset: *offset })
                    }
                    Phase::Undecided {
                        unknowns,
                        next_check_at,
                    } => {
                        *unknowns = unknowns.saturating_add(1);
                        if *unknowns < check_max {
                            *next_check_at = now + check_after;
                            return Ok(DecideStep::Undecided(TxnStatus::Undecided {
                                unknowns: *unknowns,
                            }));
                        }
                        let unknowns = *unknowns;
                        tracing::info!(partition, txn_id, unknowns, "check_max unknowns: rollback");
                        return self.decide(
                            partition,
                            txn_id,
                            Decision::Rollback,
                            DecisionReason::CheckMaxExceeded { unknowns },
                        );
                    }
                }
            }
        };
        self.decide(partition, txn_id, decision, DecisionReason::CheckBack)
    }

    /// The transaction's status as far as the high watermark `hw` covers it.
    pub fn status(
        &mut self,
        partition: u32,
        txn_id: &str,
        hw: u64,
    ) -> Result<TxnStatus, BrokerError> {
        let slot = self.loaded(partition)?;
        let txn = slot
            .txns
            .get(txn_id)
            .ok_or(BrokerError::UnknownTransaction)?;
        if txn.half.offset >= hw {
            return Err(BrokerError::UnknownTransaction);
        }
        Ok(match &txn.phase {
            Phase::Decided {
                decision,
                reason,
                offset,
                published,
                ..
            } if *offset < hw => TxnStatus::Decided {
                decision: *decision,
                reason: *reason,
                published: *published,
            },
            Phase::Decided { .. } => TxnStatus::Undecided { unknowns: 0 },
            Phase::Undecided { unknowns, .. } => TxnStatus::Undecided {
                unknowns: *unknowns,
            },
        })
    }

    /// Undecided transactions of `group` whose half is below `hw` and whose check-back is due;
    /// each is not handed out again before another `check_after` passes.
    pub fn due_check_backs(
        &mut self,
        partition: u32,
        group: &str,
        now: Instant,
        hw: u64,
    ) -> Result<Vec<String>, BrokerError> {
        let slot = self.loaded(partition)?;
        let mut due = Vec::new();
        for (txn_id, txn) in slot.txns.iter_mut() {
            if due.len() >= CHECK_BACKS_PER_POLL_MAX {
                break;
            }
            if txn.half.producer_group != group || txn.half.offset >= hw {
                continue;
            }
            if let Phase::Undecided { next_check_at, .. } = &mut txn.phase {
                if *next_check_at <= now {
                    *next_check_at = now + txn.half.check_after;
                    due.push(txn_id.clone());
                }
            }
        }
        Ok(due)
    }

    /// The publish a covered, unpublished commit needs; `Ok(None)` when there is none.
    pub fn publish_job(
        &mut self,
        partition: u32,
        txn_id: &str,
        hw: u64,
    ) -> Result<Option<PublishJob>, BrokerError> {
        let slot = self.loaded(partition)?;
        let txn = slot
            .txns
            .get(txn_id)
            .ok_or(BrokerError::UnknownTransaction)?;
        match txn.phase {
            Phase::Decided {
                decision: Decision::Commit,
                offset,
                published: None,
                ..
            } if offset < hw => Ok(Some(PublishJob {
                partition,
                txn_id: txn_id.to_string(),
                target: txn.half.target.clone(),
                record: txn.half.record.clone(),
                stamp: publish_stamp(partition, txn.half.offset),
            })),
            _ => Ok(None),
        }
    }

    /// Covered commits not yet published and not being published, at most `limit`; each is
    /// marked as being published until [`TxnTable::publish_done`].
    pub fn pending_publishes(&mut self, partition: u32, hw: u64, limit: usize) -> Vec<PublishJob> {
        let Ok(slot) = self.loaded(partition) else {
            return Vec::new();
        };
        let mut jobs = Vec::new();
        for (txn_id, txn) in slot.txns.iter_mut() {
            if jobs.len() >= limit {
                break;
            }
            if let Phase::Decided {
                decision: Decision::Commit,
                offset,
                published: None,
                publishing: publishing @ false,
                ..
            } = &mut txn.phase
            {
                if *offset < hw {
                    *publishing = true;
                    jobs.push(PublishJob {
                        partition,
                        txn_id: txn_id.clone(),
                        target: txn.half.target.clone(),
                        record: txn.half.record.clone(),
                        stamp: publish_stamp(partition, txn.half.offset),
                    });
                }
            }
        }
        jobs
    }

    /// A background publish ended (either way).
    pub fn publish_done(&mut self, partition: u32, txn_id: &str) {
        if let Some(Txn {
            phase: Phase::Decided { publishing, .. },
            ..
        }) = self
            .slots
            .get_mut(&partition)
            .and_then(|slot| slot.txns.get_mut(txn_id))
        {
            *publishing = false;
        }
    }

    /// The message is visible at `offset`. Returns the `Published` record to append when this
    /// is news (nothing when another publish got there first or the slot is gone).
    pub fn published(&mut self, partition: u32, txn_id: &str, offset: u64) -> Option<TxnRecord> {
        let slot = self.slots.get_mut(&partition)?;
        let txn = slot.txns.get_mut(txn_id)?;
        match &mut txn.phase {
            Phase::Decided {
                decision: Decision::Commit,
                published: published @ None,
                ..
            } => {
                *published = Some(offset);
                slot.mark_finished(txn_id);
                Some(TxnRecord::Published {
                    txn_id: txn_id.to_string(),
                    offset,
                })
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: u32 = 1;

    fn request(txn_id: &str) -> SendHalfRequest {
        SendHalfRequest {
            txn_id: txn_id.into(),
            producer_group: "shop".into(),
            target: TopicPartition::new("orders", 0),
            record: Record::value(b"order".to_vec()),
            check_after_ms: 1000,
            check_max: 2,
        }
    }

    fn loaded_table() -> TxnTable {
        let mut table = TxnTable::default();
        table.observe(P, Some((1, 0)));
        assert_eq!(
            table.half(P, &request("t")),
            Err(BrokerError::CoordinatorLoading)
        );
        table.load(P, Vec::new(), Instant::now());
        table
    }

    fn store_half(table: &mut TxnTable, txn_id: &str, offset: u64) {
        let HalfStep::Write(record) = table.half(P, &request(txn_id)).unwrap() else {
            panic!("a new half is written");
        };
        table.half_written(P, record, offset, Instant::now());
    }

    #[test]
    fn the_first_decision_wins_and_a_repeat_gets_it_back() {
        let mut table = loaded_table();
        store_half(&mut table, "t", 0);
        assert_eq!(
            table.half(P, &request("t")),
            Ok(HalfStep::Stored { offset: 0 })
        );
        let DecideStep::Write(record) = table
            .decide(P, "t", Decision::Commit, DecisionReason::Producer)
            .unwrap()
        else {
            panic!("first decision writes");
        };
        table.decision_written(P, record, 1);
        assert!(matches!(
            table.half(P, &request("t")),
            Err(BrokerError::InvalidRequest { .. })
        ));
        for decision in [Decision::Commit, Decision::Rollback] {
            assert_eq!(
                table.decide(P, "t", decision, DecisionReason::Producer),
                Ok(DecideStep::Decided { offset: 1 })
            );
        }
        assert_eq!(
            table.answer(P, "t", LocalOutcome::Rollback, Instant::now()),
            Ok(DecideStep::Decided { offset: 1 })
        );
        // Not reported before the high watermark covers the decision.
        assert_eq!(
            table.status(P, "t", 1),
            Ok(TxnStatus::Undecided { unknowns: 0 })
        );
        assert_eq!(table.publish_job(P, "t", 1), Ok(None));
        let job = table.publish_job(P, "t", 2).unwrap().expect("a job");
        assert_eq!(job.stamp, publish_stamp(P, 0));
        assert!(table.published(P, "t", 40).is_some());
        assert!(table.published(P, "t", 41).is_none(), "published once");
        assert_eq!(
            table.status(P, "t", 3),
            Ok(TxnStatus::Decided {
                decision: Decision::Commit,
                reason: DecisionReason::Producer,
                published: Some(40)
            })
        );
    }

    #[test]
    fn unknown_answers_roll_back_at_check_max() {
        let mut table = loaded_table();
        store_half(&mut table, "t", 0);
        let now = Instant::now();
        assert_eq!(table.due_check_backs(P, "shop", now, 1), Ok(vec![]));
        let later = now + Duration::from_millis(1000);
        assert_eq!(table.due_check_backs(P, "other", later, 1), Ok(vec![]));
        assert_eq!(table.due_check_backs(P, "shop", later, 0), Ok(vec![]));
        assert_eq!(
            table.due_check_backs(P, "shop", later, 1),
            Ok(vec!["t".to_string()])
        );
        assert_eq!(table.due_check_backs(P, "shop", later, 1), Ok(vec![]));
        assert_eq!(
            table.answer(P, "t", LocalOutcome::Unknown, later),
            Ok(DecideStep::Undecided(TxnStatus::Undecided { unknowns: 1 }))
        );
        assert_eq!(
            table.answer(P, "t", LocalOutcome::Unknown, later),
            Ok(DecideStep::Write(TxnRecord::Decision {
                txn_id: "t".into(),
                decision: Decision::Rollback,
                reason: DecisionReason::CheckMaxExceeded { unknowns: 2 },
            }))
        );
    }

    #[test]
    fn a_reload_rebuilds_decisions_and_pending_publishes() {
        let mut table = TxnTable::default();
        table.observe(P, Some((2, 4)));
        assert_eq!(table.load_end(P), Some(4));
        let half = |txn_id: &str| match table_half(txn_id) {
            HalfStep::Write(record) => record,
            HalfStep::Stored { .. } => unreachable!(),
        };
        let records = vec![
            (0, half("a")),
            (1, half("b")),
            (
                2,
                TxnRecord::Decision {
                    txn_id: "a".into(),
                    decision: Decision::Commit,
                    reason: DecisionReason::CheckBack,
                },
            ),
            (
                3,
                TxnRecord::Decision {
                    txn_id: "b".into(),
                    decision: Decision::Rollback,
                    reason: DecisionReason::Producer,
                },
            ),
        ];
        table.load(P, records, Instant::now());
        let jobs = table.pending_publishes(P, 4, 10);
        assert_eq!(jobs.len(), 1);
        assert_eq!(jobs[0].txn_id, "a");
        assert_eq!(jobs[0].stamp, publish_stamp(P, 0));
        assert!(
            table.pending_publishes(P, 4, 10).is_empty(),
            "one at a time"
        );
        table.publish_done(P, "a");
        assert_eq!(table.pending_publishes(P, 4, 10).len(), 1);
        table.observe(P, None);
        assert_eq!(table.status(P, "a", 4), Err(BrokerError::NotCoordinator));
    }

    fn table_half(txn_id: &str) -> HalfStep {
        let mut table = loaded_table();
        table.half(P, &request(txn_id)).unwrap()
    }
}
