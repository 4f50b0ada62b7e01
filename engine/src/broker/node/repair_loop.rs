//! Offline replicas and interval syncs: the loops that look after the disk side of the
//! replicas.

use crate::broker::node::replica::Replica;
use crate::broker::node::shared::Shared;
use crate::broker::znodes::{self, PartitionState};
use crate::wire::broker_protocol::{BrokerId, TopicPartition};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant; // The simulated clock (design.md section 4).

/// How often offline replicas are looked after.
const REPAIR_INTERVAL: Duration = Duration::from_millis(500);

/// Looks after replicas a disk fault took offline: a leader resigns (writes its partition's
/// state without a leader and without itself in the ISR, version-conditioned, so the controller
/// elects another in-sync replica with a new epoch), and every offline replica is reopened from
/// its disk — recovery keeps what survived — once the disk lets it. A reopened replica has no
/// role until the metadata loop gives it one, and the state it may lead on must be newer than
/// its resignation, so it never leads on with a log it could not trust.
pub async fn repair(shared: Arc<Shared>) {
    let me = shared.options.id;
    loop {
        tokio::time::sleep(REPAIR_INTERVAL).await;
        let (offline, resignations) = {
            let state = shared.lock();
            let offline: Vec<TopicPartition> = state
                .replicas
                .iter()
                .filter(|(_, r)| r.is_offline())
                .map(|(tp, _)| tp.clone())
                .collect();
            let resignations: Vec<(TopicPartition, PartitionState, u64)> = offline
                .iter()
                .filter_map(|tp| {
                    let entry = state.view.states.get(tp)?;
                    if entry.state.leader != Some(me) {
                        return None;
                    }
                    let isr: Vec<BrokerId> = entry
                        .state
                        .isr
                        .iter()
                        .copied()
                        .filter(|id| *id != me)
                        .collect();
                    let resigned = PartitionState {
                        leader: None,
                        isr,
                        ..entry.state.clone()
                    };
                    Some((tp.clone(), resigned, entry.version))
                })
                .collect();
            (offline, resignations)
        };
        if offline.is_empty() {
            continue;
        }
        if let Some(registered) = shared.session.get() {
            for (tp, resigned, version) in resignations {
                if resigned.isr.is_empty() {
                    continue; // Nobody else could take over: stay, and recover in place.
                }
                let written = registered
                    .client
                    .set(
                        &znodes::state_path(&tp),
                        znodes::encode(&resigned),
                        Some(version),
                    )
                    .await;
                tracing::warn!(%tp, ok = written.is_ok(), "leader with an offline replica resigns");
            }
        }
        let now = Instant::now();
        let mut state = shared.lock();
        for tp in offline {
            let synced_end = state.replicas.get(&tp).map_or(0, Replica::synced_end);
            match shared.open_replica(tp.clone(), now, synced_end) {
                Ok(replica) => {
                    tracing::info!(%tp, log_end = replica.log_end(), "offline replica reopened from disk");
                    state.replicas.insert(tp, replica);
                }
                Err(error) => tracing::debug!(%tp, %error, "offline replica cannot reopen yet"),
            }
        }
    }
}

pub async fn sync(shared: Arc<Shared>, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        let mut state = shared.lock();
        for replica in state.replicas.values_mut() {
            replica.sync_if_due();
        }
    }
}
