//! The replica's side of group commit. Under `fsync: always` a replica of a broker that runs
//! the group-commit loop (`node::group_commit`) appends acks=all writes without syncing and
//! wakes the loop, which makes every append since the last sync durable with one fsync and only
//! then moves the high watermark — so nothing unsynced is acknowledged, and a write waits for
//! the fsync covering it, not for one of its own. The loop begins a replica's syncs under the
//! broker's lock ([`Replica::begin_group_sync`]), waits for them with the lock released, and
//! counts them under it again ([`Replica::finish_group_sync`]): appends and fetches go on
//! meanwhile, and are covered by the next group. A follower appends a whole fetch response
//! unsynced too, and its fetcher waits for the group sync covering it before it fetches again:
//! its fetch offset tells the leader what it holds durably (a former leader's pending group
//! included).

use super::{storage_error, Replica};
use crate::storage::{FsyncPolicy, GroupSync};
use std::sync::Arc;
use tokio::sync::Notify;

/// Where a follower fetches from next.
pub enum FetchFrom {
    /// Its log end, durable.
    Offset(u64),
    /// Its log holds appends no sync covers yet: wait for the group sync (woken through this),
    /// then ask again.
    AfterSync(Arc<Notify>),
}

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

    /// Where a follower fetches from: its log end once durable, since the leader counts a
    /// follower's fetch offset as held.
    pub fn fetch_from(&mut self) -> FetchFrom {
        if self.defers_syncs() && self.log.synced_end() < self.log.end() {
            self.want_sync();
            return FetchFrom::AfterSync(self.synced.clone());
        }
        FetchFrom::Offset(self.log.end())
    }

    /// Begins the group-commit loop's turn for this replica: the syncs of everything appended
    /// since the last (and of its recovery point), to be waited for outside the broker's lock.
    /// `None` with nothing to sync; if beginning fails the replica goes offline.
    pub fn begin_group_sync(&mut self) -> Option<GroupSync> {
        if self.core.is_offline() || !self.defers_syncs() {
            return None;
        }
        match self.log.begin_group_sync() {
            Ok(group) => group,
            Err(error) => {
                let mut effects = Vec::new();
                self.take_offline(&storage_error(error), &mut effects);
                self.run(effects);
                None
            }
        }
    }

    /// Ends the loop's turn once `group`'s syncs ended: what they covered counts as synced and
    /// the high watermark moves (answering the waiting acks=all writes it covers); a failed
    /// sync takes the replica offline, which answers every waiting write "outcome unknown".
    /// Returns whether the log's recovery point lags its synced end, so the loop comes back.
    pub fn finish_group_sync(&mut self, group: GroupSync) -> bool {
        if !group.is_of(&self.log) {
            // Reopened meanwhile: the group was begun on a log that went offline and is gone.
            return false;
        }
        let mut effects = Vec::new();
        if let Err(error) = self.log.finish_group_sync(group) {
            if !self.core.is_offline() {
                self.take_offline(&storage_error(error), &mut effects);
            }
        }
        if !self.core.is_offline() {
            let log = self.facts();
            self.core.advance_hw(log, &mut effects);
        }
        self.run(effects);
        self.synced.notify_one();
        !self.core.is_offline() && self.log.recovery_point_lags()
    }

    /// The loop's turn for this replica alone, waiting under the caller's lock (tests).
    #[cfg(test)]
    pub fn sync_group(&mut self) -> bool {
        let Some(group) = self.begin_group_sync() else {
            return false;
        };
        let mut groups = [group];
        GroupSync::finish_all(&mut groups);
        let [group] = groups;
        self.finish_group_sync(group)
    }
}
