//! The replica's side of a cluster view read from the coordinator: its replicas, bound and
//! `min_insync`, and whether it leads or follows in the partition state's epoch.
//!
//! Invariant: the leader epoch a replica holds never goes down. A view older than the epoch
//! already applied is a stale read (a slow watch, a refresh racing a watch) and is dropped.
//! A replica leads only on a state written after this broker incarnation registered: an
//! older one may predate a restart that lost unsynced data.

use super::{Effect, LogFacts, ReplicaCore, Role};
use crate::wire::broker_protocol::{BrokerId, Overflow};
use tokio::time::Instant;

/// One partition as the cluster view has it.
#[derive(Clone, Debug)]
pub struct PartitionView<'a> {
    pub replicas: &'a [BrokerId],
    pub min_insync: u32,
    pub capacity: Option<u64>,
    pub overflow: Overflow,
    pub leader: Option<BrokerId>,
    pub leader_epoch: u64,
    pub isr: &'a [BrokerId],
    /// The version of the partition's state znode.
    pub version: u64,
    /// The zxid that last modified the state znode.
    pub mzxid: u64,
    /// The zxid at which this broker incarnation registered.
    pub registration_zxid: u64,
}

/// What applying a view did to the replica's role.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ViewStep {
    /// Older than the epoch this replica holds: ignored.
    Stale,
    /// Leads in this epoch already: the ISR was reconciled with the coordinator's.
    Reconciled,
    /// Became leader.
    Led,
    /// Told to lead on a state older than this incarnation: waits for a newer one.
    NotYetLeading,
    /// Follows the same leader in the same epoch: confirmed.
    Confirmed,
    /// Became follower of `leader` (the node starts fetching from it, if any).
    Followed {
        leader: Option<BrokerId>,
        epoch: u64,
    },
}

impl ReplicaCore {
    pub fn on_view(
        &mut self,
        view: &PartitionView<'_>,
        log: LogFacts,
        now: Instant,
        effects: &mut Vec<Effect>,
    ) -> ViewStep {
        self.replicas = view.replicas.to_vec();
        self.min_insync = view.min_insync;
        self.set_bound(view.capacity, view.overflow);
        let epoch = view.leader_epoch;
        let current = self.leader_epoch();
        if current.is_some_and(|current| epoch < current) {
            return ViewStep::Stale;
        }
        let me = self.me;
        match view.leader {
            Some(leader) if leader == me => match &self.role {
                Role::Leader(leadership) if leadership.epoch == epoch => {
                    self.reconcile_isr(view.isr, view.version, log, now, effects);
                    ViewStep::Reconciled
                }
                _ if view.mzxid > view.registration_zxid => {
                    self.become_leader(epoch, view.isr, view.version, log, now, effects);
                    ViewStep::Led
                }
                _ => ViewStep::NotYetLeading,
            },
            leader => match &self.role {
                Role::Follower(f) if f.epoch == epoch && f.leader == leader => {
                    self.confirmed_at = now;
                    ViewStep::Confirmed
                }
                _ => {
                    self.become_follower(leader, epoch, log, now, effects);
                    ViewStep::Followed { leader, epoch }
                }
            },
        }
    }
}
