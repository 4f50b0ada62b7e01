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
use std::sync::{Mutex, MutexGuard};

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
}

/// What every task and handler of one broker shares.
pub struct Shared {
    pub options: BrokerOptions,
    pub net: Net,
    pub(crate) disk: Disk,
    pub(crate) session: SessionSlot,
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
