//! The groups one broker coordinates, slotted by `__consumer_offsets` partition. A slot exists
//! while this broker leads that partition with a confirmed role; it starts `Loading` and becomes
//! `Loaded` once the partition's log, up to where it ended when leadership began, is covered by
//! the high watermark and replayed. A new leader epoch, or the loss of leadership, drops the
//! slot's groups (their members rejoin elsewhere or later).
//!
//! Fault model: leadership moves at any moment; writes to the offsets partition fail or stay
//! unreplicated. Invariants: the committed offsets in memory are exactly the replay of the
//! partition's log below the high watermark (commits are applied from `pending` only once the
//! high watermark passes them); the generation in memory is never ahead of the log — a failed
//! generation write unloads the slot so it reloads from what the log holds.

use crate::broker::group::Group;
use crate::broker::offsets_topic::GroupRecord;
use crate::wire::broker_protocol::BrokerError;
use std::collections::{BTreeMap, VecDeque};

/// The most groups one offsets partition holds on its coordinator.
pub const GROUPS_PER_PARTITION_MAX: usize = 1000;
/// Commit records written but not yet covered by the high watermark, per partition.
pub const PENDING_COMMITS_MAX: usize = 10_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Waiting for the high watermark to reach `load_end`, then replaying `[start, load_end)`.
    Loading {
        load_end: u64,
    },
    Loaded,
}

#[derive(Debug)]
struct Slot {
    /// The leader epoch this slot was loaded under.
    epoch: u64,
    phase: Phase,
    groups: BTreeMap<String, Group>,
    /// `(log offset, record)` of commits not yet below the high watermark, in log order.
    pending: VecDeque<(u64, GroupRecord)>,
}

impl Slot {
    fn loading(epoch: u64, load_end: u64) -> Slot {
        Slot {
            epoch,
            phase: Phase::Loading { load_end },
            groups: BTreeMap::new(),
            pending: VecDeque::new(),
        }
    }

    /// The group, created if missing and there is room.
    fn group_or_new(&mut self, name: &str) -> Option<&mut Group> {
        if !self.groups.contains_key(name) {
            if self.groups.len() >= GROUPS_PER_PARTITION_MAX {
                return None;
            }
            self.groups.insert(name.to_string(), Group::new(name));
        }
        self.groups.get_mut(name)
    }
}

#[derive(Debug, Default)]
pub struct GroupTable {
    slots: BTreeMap<u32, Slot>,
}

impl GroupTable {
    /// Aligns the slot with this broker's role for the partition: `leading` is the confirmed
    /// leader epoch and the log end now, or `None` when this broker does not lead it.
    pub fn observe(&mut self, partition: u32, leading: Option<(u64, u64)>) {
        match leading {
            None => {
                if self.slots.remove(&partition).is_some() {
                    tracing::info!(partition, "no longer coordinating this offsets partition");
                }
            }
            Some((epoch, log_end)) => {
                if self
                    .slots
                    .get(&partition)
                    .is_none_or(|slot| slot.epoch != epoch)
                {
                    tracing::info!(partition, epoch, log_end, "loading groups");
                    self.slots.insert(partition, Slot::loading(epoch, log_end));
                }
            }
        }
    }

    /// Where the log must be replayed to, while the slot is loading.
    pub fn load_end(&self, partition: u32) -> Option<u64> {
        match self.slots.get(&partition)?.phase {
            Phase::Loading { load_end } => Some(load_end),
            Phase::Loaded => None,
        }
    }

    /// Replays the partition's records (in log order, all below the high watermark) and opens
    /// the slot for requests. Undecodable records were already skipped by the caller.
    pub fn load(&mut self, partition: u32, records: Vec<GroupRecord>) {
        let Some(slot) = self.slots.get_mut(&partition) else {
            return;
        };
        slot.groups.clear();
        slot.pending.clear();
        let count = records.len();
        for record in &records {
            match slot.group_or_new(record.group()) {
                Some(group) => group.apply(record),
                None => tracing::warn!(
                    partition,
                    group = record.group(),
                    "too many groups; skipping a record"
                ),
            }
        }
        slot.phase = Phase::Loaded;
        tracing::info!(
            partition,
            records = count,
            groups = slot.groups.len(),
            "groups loaded"
        );
    }

    /// Forgets the slot's groups and reloads from the log (after a failed generation write).
    pub fn unload(&mut self, partition: u32, log_end: u64) {
        if let Some(slot) = self.slots.get_mut(&partition) {
            tracing::warn!(partition, log_end, "unloading groups after a failed write");
            *slot = Slot::loading(slot.epoch, log_end);
        }
    }

    fn loaded(&mut self, partition: u32) -> Result<&mut Slot, BrokerError> {
        let slot = self
            .slots
            .get_mut(&partition)
            .ok_or(BrokerError::NotCoordinator)?;
        match slot.phase {
            Phase::Loading { .. } => Err(BrokerError::CoordinatorLoading),
            Phase::Loaded => Ok(slot),
        }
    }

    /// The group, if this broker coordinates it and it exists.
    pub fn group(&mut self, partition: u32, name: &str) -> Result<Option<&mut Group>, BrokerError> {
        Ok(self.loaded(partition)?.groups.get_mut(name))
    }

    /// The group, created if missing.
    pub fn group_or_new(&mut self, partition: u32, name: &str) -> Result<&mut Group, BrokerError> {
        self.loaded(partition)?
            .group_or_new(name)
            .ok_or_else(|| BrokerError::InvalidRequest {
                reason: format!(
                    "offsets partition {partition} holds {GROUPS_PER_PARTITION_MAX} groups"
                ),
            })
    }

    /// Whether another commit may be written now.
    pub fn has_room(&mut self, partition: u32) -> Result<(), BrokerError> {
        if self.loaded(partition)?.pending.len() >= PENDING_COMMITS_MAX {
            return Err(BrokerError::RequestTimedOut);
        }
        Ok(())
    }

    /// Remembers a commit written at `log_offset`, to apply once the high watermark passes it.
    pub fn push_pending(&mut self, partition: u32, log_offset: u64, record: GroupRecord) {
        if let Ok(slot) = self.loaded(partition) {
            assert!(slot.pending.len() < PENDING_COMMITS_MAX);
            assert!(slot
                .pending
                .back()
                .is_none_or(|(last, _)| *last < log_offset));
            slot.pending.push_back((log_offset, record));
        }
    }

    /// Applies the pending commits below `high_watermark`.
    pub fn apply_up_to(&mut self, partition: u32, high_watermark: u64) {
        let Ok(slot) = self.loaded(partition) else {
            return;
        };
        while slot
            .pending
            .front()
            .is_some_and(|(offset, _)| *offset < high_watermark)
        {
            let Some((_, record)) = slot.pending.pop_front() else {
                break;
            };
            if let Some(group) = slot.group_or_new(record.group()) {
                group.apply(&record);
            }
        }
    }

    /// Names of the slot's groups (for the expiry tick).
    pub fn group_names(&self, partition: u32) -> Vec<String> {
        self.slots
            .get(&partition)
            .filter(|slot| slot.phase == Phase::Loaded)
            .map(|slot| slot.groups.keys().cloned().collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::broker_protocol::TopicPartition;

    fn commit(offset: u64) -> GroupRecord {
        GroupRecord::Offsets {
            group: "g".into(),
            generation: 0,
            offsets: vec![(TopicPartition::new("t", 0), offset)],
        }
    }

    #[test]
    fn loads_then_applies_commits_only_below_the_high_watermark() {
        let mut table = GroupTable::default();
        assert_eq!(table.group(0, "g").err(), Some(BrokerError::NotCoordinator));
        table.observe(0, Some((4, 10)));
        assert_eq!(table.load_end(0), Some(10));
        assert_eq!(
            table.group(0, "g").err(),
            Some(BrokerError::CoordinatorLoading)
        );
        table.load(0, vec![commit(5)]);
        let tp = TopicPartition::new("t", 0);
        assert_eq!(
            table.group(0, "g").unwrap().unwrap().committed(&tp),
            Some(5)
        );
        table.push_pending(0, 10, commit(7));
        table.push_pending(0, 11, commit(9));
        table.apply_up_to(0, 11);
        assert_eq!(
            table.group(0, "g").unwrap().unwrap().committed(&tp),
            Some(7)
        );
        // The same epoch keeps the slot; a new epoch reloads; losing leadership drops it.
        table.observe(0, Some((4, 12)));
        assert_eq!(table.load_end(0), None);
        table.observe(0, Some((5, 12)));
        assert_eq!(table.load_end(0), Some(12));
        table.observe(0, None);
        assert_eq!(table.group(0, "g").err(), Some(BrokerError::NotCoordinator));
    }
}
