//! The replica's rules as a state machine without I/O: what a produce appends, where the high
//! watermark stands, who is in the ISR, where a follower truncates, how far the head may move,
//! and whether this broker leads or follows after a read of the cluster view. Inputs come in
//! with the log's facts ([`LogFacts`]) and the time; out come replies and [`Effect`]s the node
//! runs in order (wake-ups, answers to waiting requests by [`WaiterId`]). The node
//! (`broker::replica`) owns the log, the head file and the channels.
//!
//! Invariants (asserted): the high watermark never passes the log end, and while leading never
//! passes the log end of any replica a controller may elect; the leader epoch a replica holds
//! never goes down; a bounded partition never holds more than its capacity between the head
//! and the high watermark.
//!
//! Fault model for answers: between appending a write and acknowledging it, the leader can
//! lose its leadership (a new epoch elected elsewhere), or the replica can go offline because
//! an unrelated read or sync failed (a disk returning flipped bits, fsync EIO). By then the
//! write may already sit in a follower's log, and that follower may lead next. So every
//! request that took effect here and waits for replication is answered "outcome unknown"
//! (`OutcomeUnknown`, as `NotEnoughReplicasAfterAppend` and `RequestTimedOut` are), never with
//! a refusal: a refusal tells an idempotent producer its sequence number is free, and its next
//! record then reuses it — the broker's duplicate check acknowledges that new record at the old
//! record's offset (queue swarm seeds 1066, 1492, 2069, 2167, 2355: aborted-read, lost-write,
//! inconsistent-offsets and sequence-gap at once).

mod effect;
mod head;
mod high_watermark;
mod isr;
mod produce;
mod role;
#[cfg(test)]
mod tests;
mod truncation;
mod view;
mod waiters;

pub use effect::{Effect, WaiterId};
pub use head::{DeleteAdmission, DeleteStep, Head};
pub use produce::{Acknowledgement, ProduceAdmission};
pub use role::{Followership, IsrProposal, Leadership, Progress, Role};
pub use view::{PartitionView, ViewStep};
pub use waiters::{Waiters, DELETE_WAITERS_MAX, WAITERS_MAX};

use crate::broker::epoch_cache::EpochCache;
use crate::broker::producer_state::ProducerState;
use crate::bugs::{Bug, Bugs};
use crate::env::{NodeEvent, NodeEvents};
use crate::storage::{FsyncPolicy, RecordBatch};
use crate::wire::broker_protocol::{BrokerError, BrokerId, TopicPartition};
use std::time::Duration;
use tokio::time::Instant;

/// What the core needs to know of the log at the moment of an input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogFacts {
    /// The log's physical start.
    pub start: u64,
    /// The offset the next append gets.
    pub end: u64,
    /// Everything below it is synced.
    pub synced_end: u64,
}

/// How a replica's core is set up.
#[derive(Clone, Debug)]
pub struct CoreOptions {
    pub tp: TopicPartition,
    pub me: BrokerId,
    pub fsync: FsyncPolicy,
    /// Planted bugs (none unless a run asks for them).
    pub bugs: Bugs,
}

pub struct ReplicaCore {
    pub tp: TopicPartition,
    me: BrokerId,
    fsync: FsyncPolicy,
    epochs: EpochCache,
    producers: ProducerState,
    hw: u64,
    role: Role,
    replicas: Vec<BrokerId>,
    bugs: Bugs,
    min_insync: u32,
    /// When the coordinator last confirmed this replica's role.
    confirmed_at: Instant,
    offline: Option<String>,
    waiters: Waiters,
    head: Head,
    /// Elections, truncations and ISR changes for the run's record of node events.
    events: NodeEvents,
}

impl ReplicaCore {
    /// The core of a replica whose head file held `head`, before its log's batches are
    /// replayed into it ([`ReplicaCore::replay`]).
    pub fn new(options: CoreOptions, head: u64, log_end: u64, now: Instant) -> ReplicaCore {
        let mut head = Head::new(head);
        head.fit(log_end, &options.tp);
        ReplicaCore {
            tp: options.tp,
            me: options.me,
            fsync: options.fsync,
            epochs: EpochCache::default(),
            producers: ProducerState::default(),
            hw: 0,
            role: Role::None,
            replicas: Vec::new(),
            bugs: options.bugs,
            min_insync: 1,
            confirmed_at: now,
            offline: None,
            waiters: Waiters::default(),
            head,
            events: NodeEvents::off(),
        }
    }

    /// Takes in one batch of the log as recovered from disk.
    pub fn replay(&mut self, batch: &RecordBatch) {
        self.epochs
            .assign(batch.meta.leader_epoch, batch.base_offset);
        self.producers.replay(batch);
    }

    pub fn set_events(&mut self, events: NodeEvents) {
        self.events = events;
    }

    pub(crate) fn events(&self) -> &NodeEvents {
        &self.events
    }

    pub fn high_watermark(&self) -> u64 {
        self.hw
    }

    pub fn epochs(&self) -> &EpochCache {
        &self.epochs
    }

    pub fn role(&self) -> &Role {
        &self.role
    }

    pub fn replicas(&self) -> &[BrokerId] {
        &self.replicas
    }

    pub fn set_replicas(&mut self, replicas: Vec<BrokerId>) {
        self.replicas = replicas;
    }

    pub fn min_insync(&self) -> u32 {
        self.min_insync
    }

    pub fn set_min_insync(&mut self, min_insync: u32) {
        self.min_insync = min_insync;
    }

    pub fn bugs(&self) -> Bugs {
        self.bugs
    }

    pub fn confirmed_at(&self) -> Instant {
        self.confirmed_at
    }

    pub fn is_offline(&self) -> bool {
        self.offline.is_some()
    }

    pub fn waiting(&self) -> usize {
        self.waiters.len()
    }

    pub fn leader_epoch(&self) -> Option<u64> {
        match &self.role {
            Role::Leader(leadership) => Some(leadership.epoch),
            Role::Follower(followership) => Some(followership.epoch),
            Role::None => None,
        }
    }

    /// Records that a disk fault took the replica offline and fails every waiting request.
    pub fn take_offline(&mut self, error: &BrokerError, effects: &mut Vec<Effect>) {
        if self.offline.is_none() {
            tracing::error!(tp = %self.tp, %error, "replica goes offline after a disk fault");
            self.offline = Some(error.to_string());
        }
        self.fail_waiters(error.clone(), effects);
    }

    pub fn check_online(&self) -> Result<(), BrokerError> {
        match &self.offline {
            Some(reason) => Err(BrokerError::StorageError {
                reason: reason.clone(),
            }),
            None => Ok(()),
        }
    }

    /// The end of what is durable here per the fsync policy.
    pub fn durable_end(&self, log: LogFacts) -> u64 {
        if self.bugs.has(Bug::AckBeforeFsync) {
            return log.end;
        }
        match self.fsync {
            FsyncPolicy::Always => log.synced_end,
            FsyncPolicy::Interval(_) | FsyncPolicy::Never => log.end,
        }
    }

    /// Checks that an epoch change never goes down (a stale view is dropped before this).
    fn assert_epoch_forward(&self, epoch: u64) {
        if let Some(current) = self.leader_epoch() {
            assert!(
                epoch >= current,
                "{}: leader epoch {epoch} after {current}: epochs never go down",
                self.tp
            );
        }
    }

    pub fn become_leader(
        &mut self,
        epoch: u64,
        isr: &[BrokerId],
        state_version: u64,
        log: LogFacts,
        now: Instant,
        effects: &mut Vec<Effect>,
    ) {
        self.assert_epoch_forward(epoch);
        self.epochs.assign(epoch, log.end);
        let followers = self
            .replicas
            .iter()
            .filter(|id| **id != self.me)
            .map(|id| (*id, Progress::new(now)))
            .collect();
        self.hw = self.hw.min(log.end);
        self.role = Role::Leader(Leadership {
            epoch,
            isr: isr.iter().copied().collect(),
            state_version,
            followers,
            isr_change_pending: false,
            isr_proposed: Default::default(),
        });
        self.confirmed_at = now;
        tracing::info!(tp = %self.tp, epoch, ?isr, log_end = log.end, "became leader");
        self.events.record(NodeEvent::LeaderElected {
            tp: self.tp.to_string(),
            epoch,
            broker: self.me,
            log_end: log.end,
        });
        effects.push(Effect::NotifyChanged);
    }

    pub fn become_follower(
        &mut self,
        leader: Option<BrokerId>,
        epoch: u64,
        log: LogFacts,
        now: Instant,
        effects: &mut Vec<Effect>,
    ) {
        self.assert_epoch_forward(epoch);
        self.fail_waiters(
            BrokerError::NotLeader {
                leader_hint: leader,
            },
            effects,
        );
        self.role = Role::Follower(Followership {
            leader,
            epoch,
            needs_truncation: true,
        });
        self.confirmed_at = now;
        tracing::info!(tp = %self.tp, epoch, ?leader, log_end = log.end, "became follower");
        effects.push(Effect::NotifyChanged);
    }

    /// Fails every request waiting for replication. Each of them already took effect here
    /// (appended, head moved), so whatever ended the wait — a leadership change, a disk fault
    /// on an unrelated read — their outcome is unknown, never a refusal: the records may live
    /// on in a follower that becomes leader. Answering `NotLeader` or a read's `CorruptRecord`
    /// here made producers count written records as failed and reuse their sequence numbers
    /// (queue swarm seeds 1066, 1492, 2069, 2167, 2355: aborted-read, then a new record
    /// acknowledged at the old one's offset by the duplicate check).
    fn fail_waiters(&mut self, cause: BrokerError, effects: &mut Vec<Effect>) {
        let error = match cause {
            unknown @ BrokerError::OutcomeUnknown { .. } => unknown,
            cause => BrokerError::OutcomeUnknown {
                reason: cause.to_string(),
            },
        };
        assert!(error.may_have_been_written() && error.is_retriable());
        self.waiters.fail_all(&error, effects);
    }

    /// Checks that this broker leads with a role confirmed within `expiry`.
    pub fn leadership(&self, now: Instant, expiry: Duration) -> Result<&Leadership, BrokerError> {
        match &self.role {
            Role::Leader(leadership) if now.duration_since(self.confirmed_at) <= expiry => {
                Ok(leadership)
            }
            Role::Leader(_) | Role::None => Err(BrokerError::NotLeader { leader_hint: None }),
            Role::Follower(followership) => Err(BrokerError::NotLeader {
                leader_hint: followership.leader,
            }),
        }
    }
}
