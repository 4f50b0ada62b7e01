//! Group commit: one fsync covers every append that arrived while the previous one ran.
//! Produce handlers append acks=all writes under `fsync: always` without syncing and wake this
//! loop (`Shared::sync_wanted`), and so do followers appending what they fetched; the loop lets
//! the handlers that are ready append too, then, under the broker's lock, begins the syncs of
//! every replica with unsynced appends — its log and the recovery point of its previous group
//! side by side (`storage::recovery_point`) — releases the lock, waits for them (a real disk's
//! fsyncs on blocking threads, all replicas' at once), and under the lock again counts what
//! they covered and moves each high watermark, which answers the writes the sync covered.
//! Appends, fetches and answers go on while the disk flushes; those that come in meanwhile
//! leave the wake-up set, so the loop comes round at once and the next sync covers them all.
//!
//! Invariant: a write under `fsync: always` is acknowledged only once a sync that succeeded
//! covers it (the replica core's durable end is the log's synced end, which moves only when a
//! group's syncs ended, to the end the log had when they began). A failed sync takes the
//! replica offline, which answers its waiting writes "outcome unknown". Only this loop begins
//! group syncs, so a log has at most one in flight.

use crate::broker::node::shared::{Shared, REPLICAS_MAX};
use crate::storage::GroupSync;
use crate::wire::broker_protocol::TopicPartition;
use std::sync::Arc;

/// Runs the broker's group commit until the task is dropped.
pub async fn run(shared: Arc<Shared>) {
    loop {
        shared.sync_wanted.notified().await;
        // The handlers already woken append before this group's sync, and join it.
        tokio::task::yield_now().await;
        let (tps, mut groups): (Vec<TopicPartition>, Vec<GroupSync>) = {
            let mut state = shared.lock();
            state
                .replicas
                .iter_mut()
                .filter_map(|(tp, replica)| Some((tp.clone(), replica.begin_group_sync()?)))
                .unzip()
        };
        assert!(groups.len() <= REPLICAS_MAX);
        if groups.is_empty() {
            continue;
        }
        groups = wait(groups).await;
        let lagging = {
            let mut state = shared.lock();
            let mut lagging = false;
            for (tp, group) in tps.iter().zip(groups) {
                if let Some(replica) = state.replicas.get_mut(tp) {
                    lagging |= replica.finish_group_sync(group);
                }
            }
            lagging
        };
        if lagging {
            // A recovery point trails its log by one group: come back to catch it up (or to
            // sync the next group, which carries it).
            shared.sync_wanted.notify_one();
        }
    }
}

/// Waits for the groups' syncs: a real disk's on a blocking thread, so the broker's other
/// tasks run meanwhile; simulated ones ended when they began (see `env::PendingSync`).
async fn wait(mut groups: Vec<GroupSync>) -> Vec<GroupSync> {
    if !groups.iter().any(GroupSync::blocks) {
        GroupSync::finish_all(&mut groups);
        return groups;
    }
    // Real mode only (`blocks`): the simulation never gets here.
    #[allow(clippy::disallowed_methods)]
    let waited = tokio::task::spawn_blocking(move || {
        GroupSync::finish_all(&mut groups);
        groups
    });
    waited
        .await
        .unwrap_or_else(|error| std::panic::resume_unwind(error.into_panic()))
}
