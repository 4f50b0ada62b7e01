//! The replica's side of group commit. Under `fsync: always` a replica of a broker that runs
//! the group-commit loop (`node::group_commit`) appends acks=all writes without syncing and
//! wakes the loop, which makes every append since the last sync durable with one fsync and only
//! then moves the high watermark — so nothing unsynced is acknowledged, and a write waits for
//! the fsync covering it, not for one of its own. A follower appends a whole fetch response and
//! syncs once before it fetches again: its fetch offset tells the leader what it holds durably
//! (and a former leader syncs a group its loop has not reached before its first fetch).

use super::{storage_error, Replica};
use crate::storage::FsyncPolicy;
use std::sync::Arc;
use tokio::sync::Notify;

impl Replica {
    /// From now on, defers syncs to the broker's group-commit loop, woken through `wanted`.
    pub fn join_group_commit(&mut self, wanted: Arc<Notify>) {
        self.sync_wanted = Some(wanted);
    }

    /// Whether appends wait for a group's sync instead of syncing at once.
    pub(super) fn defers_syncs(&self) -> bool {
        self.sync_wanted.is_some() && self.log.options().fsync == FsyncPolicy::Always
    }

    /// Wakes the group-commit loop (a permit is kept if it is busy: it comes round again).
    pub(super) fn want_sync(&self) {
        if let Some(wanted) = &self.sync_wanted {
            wanted.notify_one();
        }
    }

    /// The offset a follower fetches from: its log end, made durable first, since the leader
    /// counts a follower's fetch offset as held. A former leader may still hold a group its
    /// loop has not synced yet. If that sync fails the replica is offline (the caller checks).
    pub fn durable_log_end(&mut self) -> u64 {
        if self.defers_syncs() && self.log.synced_end() < self.log.end() {
            self.sync_group();
        }
        self.log.end()
    }

    /// The group-commit loop's turn: one sync for everything appended since the last, then the
    /// high watermark moves (and the waiting acks=all writes it covers are answered). Returns
    /// whether the log's recovery point lags its synced end, so the loop comes back once idle.
    pub fn sync_group(&mut self) -> bool {
        if self.core.is_offline() || !self.defers_syncs() {
            return false;
        }
        let mut effects = Vec::new();
        if let Err(error) = self.log.sync_group() {
            let error = storage_error(error);
            self.take_offline(&error, &mut effects);
        }
        let log = self.facts();
        self.core.advance_hw(log, &mut effects);
        self.run(effects);
        !self.core.is_offline() && self.log.recovery_point_lags()
    }
}
