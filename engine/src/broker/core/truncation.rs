//! Follower truncation. A follower that learns of a new leader epoch truncates its log to
//! the end offset the leader reports for the follower's last epoch — never to its own high
//! watermark, which can lag the leader's and would drop acknowledged records (KIP-101, with
//! the KIP-279 refinement). The leader side answers with the end of the asked epoch.

use super::{ReplicaCore, Role};
use crate::broker::producer_state::ProducerState;
use crate::storage::RecordBatch;
use crate::wire::broker_protocol::{BrokerError, EpochEndRequest, EpochEndResponse};
use std::time::Duration;
use tokio::time::Instant;

impl ReplicaCore {
    /// Leader: the end offset of the asked epoch in this log ending at `log_end`.
    pub fn epoch_end(
        &self,
        request: &EpochEndRequest,
        log_end: u64,
        now: Instant,
        expiry: Duration,
    ) -> Result<EpochEndResponse, BrokerError> {
        self.check_online()?;
        let leadership = self.leadership(now, expiry)?;
        if request.current_leader_epoch < leadership.epoch {
            return Err(BrokerError::FencedLeaderEpoch {
                current: leadership.epoch,
            });
        }
        if request.current_leader_epoch > leadership.epoch {
            return Err(BrokerError::UnknownLeaderEpoch);
        }
        let (epoch, end_offset) = self.epochs.end_of(request.epoch, log_end);
        Ok(EpochEndResponse { epoch, end_offset })
    }

    /// Follower side of KIP-279: given the leader's answer for our latest epoch, where to cut.
    pub fn truncation_point(&self, answer: &EpochEndResponse, log_end: u64) -> u64 {
        let ours = match answer.epoch {
            Some(epoch) => self.epochs.end_of(epoch, log_end).1,
            None => answer.end_offset,
        };
        answer.end_offset.min(ours).min(log_end)
    }

    /// The log was cut to `end`: the epoch cache, the high watermark and the head follow, and
    /// the producer table starts again (the node replays what remains into it).
    pub fn on_truncated(&mut self, end: u64) {
        self.epochs.truncate_from(end);
        self.hw = self.hw.min(end);
        self.clamp_head(end);
        self.producers = ProducerState::default();
    }

    /// One batch that remains after a truncation, for the producer table.
    pub fn replay_producers(&mut self, batch: &RecordBatch) {
        self.producers.replay(batch);
    }

    /// The truncation is done: the follower may fetch.
    pub fn truncation_done(&mut self, end: u64) {
        self.mark_truncated();
        tracing::info!(tp = %self.tp, end, "truncated by leader epoch");
        self.events().record(crate::env::NodeEvent::Truncated {
            tp: self.tp.to_string(),
            broker: self.me,
            end,
        });
    }

    /// A follower must truncate by epoch again before its next fetch (its leader's log is
    /// shorter than its own).
    pub fn mark_needs_truncation(&mut self) {
        if let Role::Follower(followership) = &mut self.role {
            followership.needs_truncation = true;
        }
    }

    /// A follower needs no truncation (nothing in its log carries an epoch, or it is done).
    pub fn mark_truncated(&mut self) {
        if let Role::Follower(followership) = &mut self.role {
            followership.needs_truncation = false;
        }
    }

    /// Follower: one batch fetched from the leader and appended to the log.
    pub fn on_replicated(&mut self, batch: &RecordBatch) {
        self.epochs
            .assign(batch.meta.leader_epoch, batch.base_offset);
        if !self.bugs.has(crate::bugs::Bug::ProducerStateNotReplicated) {
            self.producers.replay(batch);
        }
    }
}
