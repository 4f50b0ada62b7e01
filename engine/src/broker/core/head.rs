//! The replica as a bounded queue: its head (the first offset consumers may read, Kafka's
//! logStartOffset of KIP-107), the head's replication, `DeleteRecords` with compare-and-set,
//! and the capacity check on produce. The node stores the head durably before the core uses
//! it (`set_head`).
//!
//! Fault model: leaders lose power, followers lag or leave the ISR, leadership moves; the head
//! file's writes fail or its reads come back damaged. Invariants:
//! - The head only moves forward, and only after it is durable here (a failed write takes the
//!   replica offline, like a failed log write). A follower's head is at most its own log end.
//! - The *replicated head* is the smallest durable head among the ISR (the leader's own
//!   included; while an ISR change is being written, among the old and the proposed ISR, since
//!   the controller may elect from either). A `DeleteRecords` is acknowledged only once the
//!   replicated head covers it, so every replica a controller may elect already holds it: an
//!   acknowledged delete survives any leader change. A follower joins the ISR only with a head
//!   at least the replicated head, which keeps that true as the ISR grows.
//! - A `reject` partition counts its records from the replicated head, never the leader's own:
//!   deletes the leader made but never got acknowledged may be lost with it, and counting them
//!   could overfill the queue. A `drop-oldest` partition moves its head to make room, never past
//!   the high watermark, so no uncommitted record is dropped; its `acks=all` produces are
//!   acknowledged once the head they moved is replicated too. Either way a leader's append
//!   leaves at most `capacity` records between its head and its log end (asserted).
//! - Consumers are served from the leader's own head. A delete (or drop) not yet replicated is
//!   visible at once on its leader, and may be undone if that leader is lost before it
//!   replicates — as a timed-out produce may be lost. Acknowledged ones never are.

use super::{Effect, LogFacts, ReplicaCore, Role, WaiterId};
use crate::wire::broker_protocol::{BrokerError, BrokerId, Overflow, TopicPartition};
use std::time::Duration;
use tokio::time::Instant;

/// The queue side of one replica.
#[derive(Debug)]
pub struct Head {
    /// The head as stored durably (possibly clamped down to the log end).
    offset: u64,
    /// Records held at most between the head and the log end; `None`: unbounded.
    pub capacity: Option<u64>,
    pub overflow: Overflow,
}

impl Head {
    /// The queue state of a replica whose head file held `offset`; unbounded until the cluster
    /// view says otherwise.
    pub fn new(offset: u64) -> Head {
        Head {
            offset,
            capacity: None,
            overflow: Overflow::Reject,
        }
    }

    /// Clamps the head to the log's end once the log is open.
    pub fn fit(&mut self, log_end: u64, tp: &TopicPartition) {
        if self.offset > log_end {
            // The log lost records its head had covered (unsynced writes under a relaxed fsync
            // policy): the head cannot be past the end. A follower gets it back by fetching.
            tracing::warn!(%tp, head = self.offset, log_end, "head beyond the log end; clamped");
            self.offset = log_end;
        }
    }
}

/// What the node does with an admitted `DeleteRecords`.
#[derive(Debug, PartialEq, Eq)]
pub struct DeleteAdmission {
    /// The head the delete leaves.
    pub head: u64,
    /// Whether the node must store `head` durably first (it moves).
    pub moves: bool,
}

/// What a `DeleteRecords` needs next: nothing, or waiting for its head to replicate.
#[derive(Debug, PartialEq, Eq)]
pub enum DeleteStep {
    /// The head this delete left, already replicated.
    Done(u64),
    Wait(u64, WaiterId),
}

impl ReplicaCore {
    /// The first offset consumers may read: the head, or the log's physical start if later.
    pub fn head(&self, log: LogFacts) -> u64 {
        self.head.offset.max(log.start)
    }

    /// The head as stored here, whatever the log's start.
    pub fn stored_head(&self) -> u64 {
        self.head.offset
    }

    /// Takes the topic's bound from the cluster view.
    pub fn set_bound(&mut self, capacity: Option<u64>, overflow: Overflow) {
        self.head.capacity = capacity;
        self.head.overflow = overflow;
    }

    pub fn bound(&self) -> (Option<u64>, Overflow) {
        (self.head.capacity, self.head.overflow)
    }

    /// Checks a head the node is about to store: forward only, and within the log.
    pub fn check_head_move(&self, head: u64, log: LogFacts) {
        assert!(head >= self.head.offset, "the head only moves forward");
        assert!(head <= log.end, "the head never passes the log end");
    }

    /// The node stored `head` durably: use it.
    pub fn set_head(&mut self, head: u64, log: LogFacts, effects: &mut Vec<Effect>) {
        self.check_head_move(head, log);
        self.head.offset = head;
        effects.push(Effect::NotifyChanged);
    }

    /// The smallest durable head among the replicas a controller may elect (the leader's own
    /// included); a follower that has not reported one yet counts as 0. Only a leader knows it;
    /// any other role answers its own head.
    pub fn replicated_head(&self) -> u64 {
        let Role::Leader(leadership) = &self.role else {
            return self.head.offset;
        };
        let mut head = self.head.offset;
        for member in leadership.electable() {
            if member == self.me {
                continue;
            }
            let reported = leadership.followers.get(&member).map_or(0, |p| p.head);
            head = head.min(reported);
        }
        head
    }

    /// Leader: a follower's fetch reported its durable head. Taken as is, even when lower than
    /// before (a restarted follower may have clamped it): the truth, not the best seen.
    pub fn note_follower_head(&mut self, follower: BrokerId, head: u64) {
        if let Role::Leader(leadership) = &mut self.role {
            if let Some(progress) = leadership.followers.get_mut(&follower) {
                progress.head = head;
            }
        }
    }

    /// Follower: the head to store, taking the leader's (from a fetch response) up to its
    /// own log end; `None` when it does not move.
    pub fn adopt_head(&self, leader_head: u64, log: LogFacts) -> Result<Option<u64>, BrokerError> {
        self.check_online()?;
        let head = leader_head.min(log.end);
        if head <= self.head.offset {
            return Ok(None);
        }
        Ok(Some(head))
    }

    /// After truncation to `end`: a head past the end is clamped. A correct run never gets
    /// here (heads only cover committed records, and those are never truncated).
    pub(super) fn clamp_head(&mut self, end: u64) {
        if self.head.offset > end {
            tracing::warn!(tp = %self.tp, head = self.head.offset, end, "truncated below the head; clamped");
            self.head.offset = end;
        }
    }

    /// Checks a `DeleteRecords` moving the head to at least `before` (leader only),
    /// compare-and-set on `expected_head`. Checked in order: leadership, ISR size, expected
    /// head, `before` within the high watermark.
    pub fn admit_delete(
        &mut self,
        before: u64,
        expected_head: Option<u64>,
        log: LogFacts,
        now: Instant,
        expiry: Duration,
        effects: &mut Vec<Effect>,
    ) -> Result<DeleteAdmission, BrokerError> {
        self.check_online()?;
        let isr = self.leadership(now, expiry)?.isr.len() as u32;
        if isr < self.min_insync {
            return Err(BrokerError::NotEnoughReplicas {
                isr,
                min_insync: self.min_insync,
            });
        }
        let head = self.head(log);
        if expected_head.is_some_and(|expected| expected != head) {
            return Err(BrokerError::HeadMoved { head });
        }
        self.advance_hw(log, effects);
        if before > self.hw {
            return Err(BrokerError::OffsetOutOfRange {
                offset: before,
                start: head,
                end: self.hw,
            });
        }
        let head = head.max(before);
        Ok(DeleteAdmission {
            head,
            moves: head > self.head.offset,
        })
    }

    /// The delete's head is stored (if it moved): done, or wait for it to replicate.
    pub fn delete_step(&mut self, before: u64, head: u64, effects: &mut Vec<Effect>) -> DeleteStep {
        if self.replicated_head() >= before {
            return DeleteStep::Done(head);
        }
        DeleteStep::Wait(head, self.waiters.wait_for_delete(before, effects))
    }

    /// Completes the deletes the replicated head now covers (as a produce's waiter, with
    /// `NotEnoughReplicasAfterAppend` if the ISR fell below `min_insync` meanwhile).
    pub(super) fn settle_deletes(&mut self, effects: &mut Vec<Effect>) {
        if !self.waiters.has_deletes() {
            return;
        }
        let Role::Leader(leadership) = &self.role else {
            return;
        };
        let enough = leadership.isr.len() as u32 >= self.min_insync;
        let replicated = self.replicated_head();
        self.waiters.settle_deletes(replicated, enough, effects);
    }

    /// The replicated head an `acks=all` produce waits for besides the high watermark: under
    /// `drop-oldest`, the head as it stands, so a record acknowledged behind a drop never comes
    /// back for consumers after a leader change; elsewhere none (produces move no head).
    pub(super) fn head_required(&self) -> u64 {
        match (self.head.capacity, self.head.overflow) {
            (Some(_), Overflow::DropOldest) => self.head.offset,
            _ => 0,
        }
    }

    /// Before appending `count` records as leader: refuses them (`QueueFull`) or, under
    /// `drop-oldest`, answers the head the node must store (durably) to make room.
    pub(super) fn make_room(
        &mut self,
        count: u64,
        log: LogFacts,
        effects: &mut Vec<Effect>,
    ) -> Result<Option<u64>, BrokerError> {
        let Some(capacity) = self.head.capacity else {
            return Ok(None);
        };
        let end = log.end + count;
        let full = BrokerError::QueueFull { capacity };
        match self.head.overflow {
            Overflow::Reject => {
                if end.saturating_sub(self.replicated_head()) > capacity {
                    return Err(full);
                }
                Ok(None)
            }
            Overflow::DropOldest => {
                let needed = end.saturating_sub(capacity);
                if needed <= self.head(log) {
                    return Ok(None);
                }
                self.advance_hw(log, effects);
                if needed > self.hw {
                    // Making room would drop uncommitted records.
                    return Err(full);
                }
                Ok(Some(needed))
            }
        }
    }

    /// Pairs with `make_room`: after a leader's append, at most `capacity` records lie
    /// between its head and its log end.
    pub(super) fn assert_within_bound(&self, log: LogFacts) {
        if let Some(capacity) = self.head.capacity {
            let held = log.end.saturating_sub(self.head(log));
            assert!(
                held <= capacity,
                "{}: {held} records between the head and the end, capacity {capacity}",
                self.tp
            );
        }
    }
}
