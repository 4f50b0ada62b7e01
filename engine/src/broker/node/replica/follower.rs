//! The follower side of a replica, as the node runs it: truncation by leader epoch (the core
//! decides where; the log cuts durably here) and the append of batches fetched from the leader.

use crate::broker::core::Effect;
use crate::broker::node::replica::{storage_error, Replica};
use crate::storage::RecordBatch;
use crate::wire::broker_protocol::{BrokerError, EpochEndResponse};

impl Replica {
    /// Follower side of KIP-279: given the leader's answer for our latest epoch, where to cut.
    pub fn truncation_point(&self, answer: &EpochEndResponse) -> u64 {
        self.core.truncation_point(answer, self.log.end())
    }

    /// A follower must truncate by epoch again before its next fetch.
    pub fn mark_needs_truncation(&mut self) {
        self.core.mark_needs_truncation();
    }

    /// A follower needs no truncation before fetching.
    pub fn mark_truncated(&mut self) {
        self.core.mark_truncated();
    }

    /// Cuts the log (durably) and the epoch cache; the follower may then fetch.
    pub fn truncate_to(&mut self, offset: u64) -> Result<u64, BrokerError> {
        let mut effects = Vec::new();
        let result = self.truncate_with(offset, &mut effects);
        self.run(effects);
        result
    }

    fn truncate_with(
        &mut self,
        offset: u64,
        effects: &mut Vec<Effect>,
    ) -> Result<u64, BrokerError> {
        self.core.check_online()?;
        let end = match self.log.truncate_to(offset) {
            Ok(end) => end,
            Err(error) => {
                let error = storage_error(error);
                self.take_offline(&error, effects);
                return Err(error);
            }
        };
        self.core.on_truncated(end);
        // Forget batches that are gone: rebuild the producer table from what remains.
        match self.log.batches() {
            Ok(batches) => batches
                .iter()
                .for_each(|batch| self.core.replay_producers(batch)),
            Err(error) => {
                let error = storage_error(error);
                self.take_offline(&error, effects);
                return Err(error);
            }
        }
        self.core.truncation_done(end);
        Ok(end)
    }

    /// Appends batches fetched from the leader (each verified by its checksum) and takes the
    /// leader's high watermark, capped by what this replica holds.
    pub fn append_replicated(
        &mut self,
        batches: &[Vec<u8>],
        leader_hw: u64,
    ) -> Result<(), BrokerError> {
        let mut effects = Vec::new();
        let result = self.append_replicated_with(batches, leader_hw, &mut effects);
        self.run(effects);
        result
    }

    fn append_replicated_with(
        &mut self,
        batches: &[Vec<u8>],
        leader_hw: u64,
        effects: &mut Vec<Effect>,
    ) -> Result<(), BrokerError> {
        self.core.check_online()?;
        // With group commit the whole response is appended unsynced and the group-commit loop
        // syncs it (also when a batch fails midway): the fetcher waits for that sync before its
        // next fetch offset claims the batches (`fetch_from`).
        let grouped = self.defers_syncs();
        let mut failed = None;
        for bytes in batches {
            let batch = match RecordBatch::decode(bytes) {
                Ok(batch) => batch,
                Err(reason) => {
                    failed = Some(BrokerError::CorruptRecord { reason });
                    break;
                }
            };
            if batch.next_offset() <= self.log.end() {
                continue;
            }
            let appended = if grouped {
                self.log.append_batch_unsynced(&batch)
            } else {
                self.log.append_batch(&batch)
            };
            if let Err(error) = appended {
                let error = storage_error(error);
                if self.log.offline_reason().is_some() {
                    self.take_offline(&error, effects);
                    return Err(error);
                }
                failed = Some(error);
                break;
            }
            self.core.on_replicated(&batch);
        }
        if grouped && self.log.synced_end() < self.log.end() {
            self.want_sync();
        }
        if let Some(error) = failed {
            return Err(error);
        }
        let log = self.facts();
        self.core.follow_hw(leader_hw, log, effects);
        Ok(())
    }
}
