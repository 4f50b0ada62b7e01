//! The metadata loop: re-reads the cluster view whenever a watch fires (or every
//! `metadata_refresh`), hands each hosted partition's state to its replica (whose core decides
//! the role), opens replicas newly assigned here, and starts a fetcher for each partition this
//! broker starts following.

use crate::broker::node::fetcher;
use crate::broker::node::replica::{PartitionView, ViewStep};
use crate::broker::node::shared::{Shared, REPLICAS_MAX};
use crate::broker::view::{self, ClusterView, WatchSet};
use crate::broker::znodes::PartitionState;
use crate::wire::broker_protocol::Overflow;
use std::sync::Arc;
use tokio::time::Instant; // The simulated clock (design.md section 4).

/// Re-reads the cluster view whenever a watch fires (or every `metadata_refresh`) and turns
/// partition states into roles.
pub async fn run(shared: Arc<Shared>) {
    let options = shared.options.clone();
    let (watches, mut changed) = WatchSet::new();
    let mut session_changes = shared.session.subscribe();
    let mut session_seen = 0;
    loop {
        let generation = *session_changes.borrow_and_update();
        if generation != session_seen {
            watches.reset();
            session_seen = generation;
        }
        if let Some(registered) = shared.session.get() {
            match view::read(&registered.client, &watches).await {
                Ok(view) => apply_view(&shared, view, registered.zxid),
                Err(error) => tracing::debug!(broker = options.id, %error, "metadata read failed"),
            }
        }
        let _ = tokio::time::timeout(options.metadata_refresh, changed.recv()).await;
    }
}

fn apply_view(shared: &Arc<Shared>, view: ClusterView, registration_zxid: u64) {
    let me = shared.options.id;
    let now = Instant::now();
    let mut fetchers = Vec::new();
    let mut state = shared.lock();
    state.registration_zxid = Some(registration_zxid);
    for tp in view.partitions() {
        let (Some(replicas), Some(entry)) = (view.replicas(&tp), view.states.get(&tp)) else {
            continue;
        };
        if !replicas.contains(&me) {
            continue;
        }
        if !state.replicas.contains_key(&tp) {
            if state.replicas.len() >= REPLICAS_MAX {
                continue;
            }
            match shared.open_replica(tp.clone(), now, 0) {
                Ok(replica) => {
                    state.replicas.insert(tp.clone(), replica);
                }
                Err(error) => {
                    tracing::error!(%tp, %error, "cannot open the partition log");
                    continue;
                }
            }
        }
        let Some(replica) = state.replicas.get_mut(&tp) else {
            continue;
        };
        let assignment = view.topics.get(&tp.topic);
        let partition: &PartitionState = &entry.state;
        let partition_view = PartitionView {
            replicas,
            min_insync: assignment.map_or(1, |a| a.min_insync),
            capacity: assignment.and_then(|a| a.capacity),
            overflow: assignment.map_or(Overflow::Reject, |a| a.overflow),
            leader: partition.leader,
            leader_epoch: partition.leader_epoch,
            isr: &partition.isr,
            version: entry.version,
            mzxid: entry.mzxid,
            registration_zxid,
        };
        if let ViewStep::Followed {
            leader: Some(leader),
            epoch,
        } = replica.apply_view(&partition_view, now)
        {
            if let Some(live) = view.brokers.get(&leader) {
                fetchers.push((tp.clone(), leader, live.registration.addr.clone(), epoch));
            }
        }
    }
    state.view = view;
    drop(state);
    for (tp, leader, addr, epoch) in fetchers {
        crate::env::spawn(fetcher::run(shared.clone(), tp, leader, addr, epoch));
    }
}
