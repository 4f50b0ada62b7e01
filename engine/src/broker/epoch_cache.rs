//! The leader-epoch cache of one replica: for each leader epoch, the offset where its records
//! start. A follower that learns of a new leader asks where its own latest epoch ends on the
//! leader and truncates there — never to its high watermark, which can lag the leader's and
//! would drop acknowledged records (KIP-101, with the KIP-279 refinement).

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EpochCache {
    /// `(epoch, start_offset)`, both strictly increasing... epochs strictly, starts non-decreasing.
    entries: Vec<(u64, u64)>,
}

impl EpochCache {
    pub fn latest_epoch(&self) -> Option<u64> {
        self.entries.last().map(|(epoch, _)| *epoch)
    }

    pub fn entries(&self) -> &[(u64, u64)] {
        &self.entries
    }

    /// Records that `epoch` starts at `start_offset`; ignores epochs not newer than the latest.
    pub fn assign(&mut self, epoch: u64, start_offset: u64) {
        if self.latest_epoch().is_some_and(|latest| epoch <= latest) {
            return;
        }
        // An epoch that starts where the previous one started replaces it (it had no records).
        while self
            .entries
            .last()
            .is_some_and(|(_, start)| *start >= start_offset)
        {
            self.entries.pop();
        }
        self.entries.push((epoch, start_offset));
    }

    /// Forgets epochs that start at or after `offset` (the log was truncated there).
    pub fn truncate_from(&mut self, offset: u64) {
        while self
            .entries
            .last()
            .is_some_and(|(_, start)| *start >= offset)
        {
            self.entries.pop();
        }
    }

    /// The largest known epoch at or below `epoch` and where it ends: the start of the next
    /// known epoch, or `log_end` if it is the latest. `None` if every known epoch is newer.
    pub fn end_of(&self, epoch: u64, log_end: u64) -> (Option<u64>, u64) {
        let after = self.entries.partition_point(|(e, _)| *e <= epoch);
        if after == 0 {
            // Nothing at or below: the requested epoch's records, if any, end where ours start.
            let start = self.entries.first().map_or(log_end, |(_, start)| *start);
            return (None, start);
        }
        let found = self.entries[after - 1].0;
        let end = self.entries.get(after).map_or(log_end, |(_, start)| *start);
        (Some(found), end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_epoch_ends() {
        let mut cache = EpochCache::default();
        cache.assign(0, 0);
        cache.assign(2, 10);
        cache.assign(5, 25);
        assert_eq!(cache.end_of(0, 40), (Some(0), 10));
        assert_eq!(cache.end_of(1, 40), (Some(0), 10));
        assert_eq!(cache.end_of(2, 40), (Some(2), 25));
        assert_eq!(cache.end_of(9, 40), (Some(5), 40));
        cache.truncate_from(25);
        assert_eq!(cache.latest_epoch(), Some(2));
        assert_eq!(cache.end_of(9, 20), (Some(2), 20));
    }

    #[test]
    fn empty_epochs_are_replaced() {
        let mut cache = EpochCache::default();
        cache.assign(1, 5);
        cache.assign(2, 5);
        assert_eq!(cache.entries(), &[(2, 5)]);
        cache.assign(1, 9);
        assert_eq!(cache.entries(), &[(2, 5)], "older epochs are ignored");
    }
}
