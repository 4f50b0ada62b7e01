//! What every task and handler of one broker shares: its options, its network and disk, the
//! coordinator session, and the broker state behind one mutex (the replicas, the cluster view,
//! the groups and transactions it coordinates). Handlers and loops depend on this; nothing
//! here depends on them.

use crate::broker::group_table::GroupTable;
use crate::broker::node::replica::Replica;
use crate::broker::options::BrokerOptions;
use crate::broker::session::SessionSlot;
use crate::broker::txn_table::TxnTable;
use crate::broker::view::ClusterView;
use crate::bugs::Bug;
use crate::env::{Disk, Net};
use crate::storage::{FsyncPolicy, LogOptions};
use crate::wire::broker_protocol::{BrokerError, TopicPartition};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::Notify;

/// The most partitions one broker hosts.
pub const REPLICAS_MAX: usize = 10_000;

pub struct BrokerState {
    pub replicas: BTreeMap<TopicPartition, Replica>,
    pub view: ClusterView,
    /// The consumer groups this broker coordinates.
    pub groups: GroupTable,
    /// The transactions this broker coordinates.
    pub txns: TxnTable,
    /// The zxid of this incarnation's registration, once registered.
    pub(crate) registration_zxid: Option<u64>,
    /// Producer ids this incarnation granted from memory: only the planted
    /// `producer-id-not-persisted` counts here instead of in the coordinator.
    pub(crate) producer_ids_granted: u64,
}

/// What every task and handler of one broker shares.
pub struct Shared {
    pub options: BrokerOptions,
    pub net: Net,
    pub(crate) disk: Disk,
    pub(crate) session: SessionSlot,
    /// Wakes the group-commit loop: a replica appended something only its next sync covers.
    pub(crate) sync_wanted: Arc<Notify>,
    state: Mutex<BrokerState>,
}

impl Shared {
    /// Log options for this broker's replicas (a planted `ack-before-fsync` never syncs).
    pub(crate) fn log_options(&self) -> LogOptions {
        let mut options = self.options.log;
        if self.options.bugs.has(Bug::AckBeforeFsync) {
            options.fsync = FsyncPolicy::Never;
        }
        options
    }

    /// Opens (or reopens) a partition's replica of this broker, in its group commit.
    pub(crate) fn open_replica(
        &self,
        tp: TopicPartition,
        now: tokio::time::Instant,
        synced_end: u64,
    ) -> Result<Replica, crate::storage::StorageError> {
        let me = self.options.id;
        let (options, bugs) = (self.log_options(), self.options.bugs);
        let mut replica = Replica::reopen_with(&self.disk, tp, me, options, now, synced_end, bugs)?;
        replica.join_group_commit(self.sync_wanted.clone());
        replica.set_events(self.options.events.clone());
        Ok(replica)
    }

    pub fn lock(&self) -> MutexGuard<'_, BrokerState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl BrokerState {
    /// The state of a broker that has not registered nor read a view yet.
    pub fn new() -> BrokerState {
        BrokerState {
            replicas: BTreeMap::new(),
            view: ClusterView::default(),
            groups: GroupTable::default(),
            txns: TxnTable::default(),
            registration_zxid: None,
            producer_ids_granted: 0,
        }
    }
}

impl Default for BrokerState {
    fn default() -> BrokerState {
        BrokerState::new()
    }
}

impl Shared {
    pub fn new(options: BrokerOptions, net: Net, disk: Disk) -> Shared {
        Shared {
            options,
            net,
            disk,
            session: SessionSlot::default(),
            sync_wanted: Arc::new(Notify::new()),
            state: Mutex::new(BrokerState::new()),
        }
    }
}

pub(crate) fn unknown_or_not_leader(view: &ClusterView, tp: &TopicPartition) -> BrokerError {
    match view.states.get(tp) {
        Some(entry) => BrokerError::NotLeader {
            leader_hint: entry.state.leader,
        },
        None => BrokerError::UnknownTopicOrPartition,
    }
}
