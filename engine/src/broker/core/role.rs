//! A replica's role as the controller last assigned it: leader (with its followers' progress
//! and the ISR it acknowledges with), follower (of which leader, in which epoch), or none yet.

use crate::wire::broker_protocol::{BrokerId, TopicPartition};
use std::collections::{BTreeMap, BTreeSet};
use tokio::time::Instant;

/// A follower's progress as its leader sees it from the follower's fetches.
#[derive(Clone, Debug)]
pub struct Progress {
    pub log_end: u64,
    /// The follower's durable head, as its last fetch reported it.
    pub head: u64,
    pub caught_up_at: Instant,
    pub(super) last_fetch_at: Instant,
    pub(super) leader_end_at_last_fetch: u64,
}

impl Progress {
    /// A follower not heard from yet, counted as caught up at `now` (it gets one lag period).
    pub(super) fn new(now: Instant) -> Progress {
        Progress {
            log_end: 0,
            head: 0,
            caught_up_at: now,
            last_fetch_at: now,
            leader_end_at_last_fetch: 0,
        }
    }
}

#[derive(Debug)]
pub struct Leadership {
    pub epoch: u64,
    pub isr: BTreeSet<BrokerId>,
    /// The version of the partition's state znode that holds `isr`.
    pub state_version: u64,
    pub followers: BTreeMap<BrokerId, Progress>,
    /// An ISR change is being written to the coordinator.
    pub isr_change_pending: bool,
    /// The ISR last proposed, until the coordinator's answer or a read of its state settles
    /// it (empty once settled).
    pub isr_proposed: BTreeSet<BrokerId>,
}

impl Leadership {
    /// The replicas a controller may elect: the ISR, plus the proposed one while a change is
    /// being written or its outcome is unknown (`isr_proposed` is cleared once it settles).
    pub fn electable(&self) -> impl Iterator<Item = BrokerId> + '_ {
        self.isr.union(&self.isr_proposed).copied()
    }
}

#[derive(Debug)]
pub struct Followership {
    pub leader: Option<BrokerId>,
    pub epoch: u64,
    /// Set on becoming follower: the fetcher must truncate by epoch before fetching.
    pub needs_truncation: bool,
}

#[derive(Debug)]
pub enum Role {
    /// Not yet told anything by the controller.
    None,
    Leader(Leadership),
    Follower(Followership),
}

/// An ISR change the leader wants written (version-conditioned) to the coordinator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IsrProposal {
    pub tp: TopicPartition,
    pub epoch: u64,
    pub expected_version: u64,
    pub isr: Vec<BrokerId>,
}
