//! The produce decision on a leader: whether a batch may be appended (leadership, `min_insync`
//! for `acks=all`, the producer's sequence, the queue's room), and when it is acknowledged
//! (at once, or once the high watermark — and under `drop-oldest` the replicated head — covers
//! it). The node appends between the two.

use super::{Effect, LogFacts, ReplicaCore, WaiterId};
use crate::broker::producer_state::Admission;
use crate::bugs::Bug;
use crate::storage::{AppendInfo, BatchMeta};
use crate::wire::broker_protocol::{
    Acks, BrokerError, ProduceRequest, ProduceResponse, ProducerStamp,
};
use std::time::Duration;
use tokio::time::Instant;

/// What the node does with an admitted produce.
#[derive(Debug, PartialEq, Eq)]
pub enum ProduceAdmission {
    /// Written before (a retry): answer with the original offsets, write nothing.
    Duplicate(ProduceResponse),
    /// Append the records with `meta`, after storing `head` durably if there is one (the
    /// head a `drop-oldest` partition moves to make room).
    Append { meta: BatchMeta, head: Option<u64> },
}

/// When a produce is answered.
#[derive(Debug, PartialEq, Eq)]
pub enum Acknowledgement {
    Now(ProduceResponse),
    /// Once the waiter completes (`Effect::CompleteWaiter`).
    Later(ProduceResponse, WaiterId),
}

impl ReplicaCore {
    /// Checks a produce and decides what to append. A refusal here leaves nothing written.
    pub fn admit_produce(
        &mut self,
        request: &ProduceRequest,
        log: LogFacts,
        now: Instant,
        expiry: Duration,
        effects: &mut Vec<Effect>,
    ) -> Result<ProduceAdmission, BrokerError> {
        self.check_online()?;
        let leadership = self.leadership(now, expiry)?;
        let epoch = leadership.epoch;
        let isr = leadership.isr.len() as u32;
        if request.acks == Acks::All && isr < self.min_insync {
            return Err(BrokerError::NotEnoughReplicas {
                isr,
                min_insync: self.min_insync,
            });
        }
        if request.records.is_empty() {
            return Err(BrokerError::InvalidRequest {
                reason: "no records".into(),
            });
        }
        let mut meta = BatchMeta {
            leader_epoch: epoch,
            flags: request.flags,
            ..BatchMeta::default()
        };
        if let Some(stamp) = request.producer {
            meta.producer_id = stamp.producer_id;
            meta.producer_epoch = stamp.producer_epoch;
            meta.base_sequence = stamp.base_sequence;
        }
        meta.max_timestamp_ms = request
            .records
            .iter()
            .map(|r| r.timestamp_ms)
            .max()
            .unwrap_or(0);
        let count = request.records.len() as u32;
        let dedup = !self.bugs.has(Bug::IdempotenceIgnored);
        if let Some(stamp) = request.producer.as_ref().filter(|_| dedup) {
            if let Admission::Duplicate {
                first_offset,
                last_offset,
            } = self.producers.admit(stamp, count)?
            {
                return Ok(ProduceAdmission::Duplicate(ProduceResponse {
                    base_offset: first_offset,
                    last_offset,
                    leader_epoch: epoch,
                }));
            }
        }
        // After the duplicate check (a retry of a written batch still gets its offsets) and
        // before anything is recorded for the producer (a refused batch leaves its sequence
        // free for the next one).
        let head = self.make_room(u64::from(count), log, effects)?;
        Ok(ProduceAdmission::Append { meta, head })
    }

    /// The node appended `count` records at `info`; `log` is the log after the append.
    pub fn on_appended(
        &mut self,
        acks: Acks,
        producer: Option<&ProducerStamp>,
        count: u32,
        info: AppendInfo,
        log: LogFacts,
        effects: &mut Vec<Effect>,
    ) -> Acknowledgement {
        if let Some(stamp) = producer {
            self.producers.record(stamp, count, info.base_offset);
        }
        self.assert_within_bound(log);
        let epoch = self.leader_epoch().unwrap_or_default();
        let response = ProduceResponse {
            base_offset: info.base_offset,
            last_offset: info.last_offset,
            leader_epoch: epoch,
        };
        self.advance_hw(log, effects);
        effects.push(Effect::NotifyChanged);
        self.acknowledge(acks, response, effects)
    }

    /// Answers now, or once the high watermark covers the write (`acks=all`) — and, where
    /// the write moved the head (`drop-oldest`), once the replicated head covers that too.
    pub fn acknowledge(
        &mut self,
        acks: Acks,
        response: ProduceResponse,
        effects: &mut Vec<Effect>,
    ) -> Acknowledgement {
        let required = response.last_offset + 1;
        let head_required = self.head_required();
        let replicated = self.hw >= required && self.replicated_head() >= head_required;
        if acks != Acks::All || replicated {
            return Acknowledgement::Now(response);
        }
        let id = self
            .waiters
            .wait_for_write(required, head_required, effects);
        Acknowledgement::Later(response, id)
    }

    /// A waiter that completes, like an `acks=all` produce's, once the high watermark reaches
    /// `required`; `None` when it already has.
    pub fn high_watermark_waiter(
        &mut self,
        required: u64,
        log: LogFacts,
        effects: &mut Vec<Effect>,
    ) -> Option<WaiterId> {
        self.advance_hw(log, effects);
        if self.hw >= required {
            return None;
        }
        Some(self.waiters.wait_for_write(required, 0, effects))
    }
}
