//! Group commit: one fsync covers every append that arrived while the previous one ran.
//! Produce handlers append acks=all writes under `fsync: always` without syncing and wake this
//! loop (`Shared::sync_wanted`); it lets the handlers that are ready append too, then syncs
//! every replica with unsynced appends — its log and the recovery point of its previous group
//! side by side (`storage::recovery_point`) — and moves each high watermark, which answers the
//! writes the sync covered. Appends that come in meanwhile leave the wake-up set, so the loop
//! comes round at once and the next sync covers all of them.
//!
//! Invariant: a write under `fsync: always` is acknowledged only once a sync that succeeded
//! covers it (the replica core's durable end is the log's synced end). A failed sync takes the
//! replica offline, which answers its waiting writes "outcome unknown".

use crate::broker::node::shared::Shared;
use std::sync::Arc;

/// Runs the broker's group commit until the task is dropped.
pub async fn run(shared: Arc<Shared>) {
    loop {
        shared.sync_wanted.notified().await;
        // The handlers already woken append before this group's sync, and join it.
        tokio::task::yield_now().await;
        let lagging = {
            let mut state = shared.lock();
            let mut lagging = false;
            for replica in state.replicas.values_mut() {
                lagging |= replica.sync_group();
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
