//! The internal `__consumer_offsets` topic: which partition holds a group (a stable FNV-1a hash
//! of its name, never std's seeded hasher), how the topic is replicated, and the records a
//! group coordinator writes to it — committed offsets and generation bumps, postcard in the
//! record value with the group name as key.
//!
//! Fault model: the log holds whatever any past coordinator of the partition wrote, including
//! records from builds we never ran; a record that does not decode is skipped, never trusted.
//! Invariant: replaying a partition's records in log order rebuilds every group's committed
//! offsets, highest generation and member counter exactly as the coordinators that wrote them
//! had them once acknowledged.

use crate::storage::Record;
use crate::wire::broker_protocol::TopicPartition;
use serde::{Deserialize, Serialize};

pub const OFFSETS_TOPIC: &str = "__consumer_offsets";
pub const OFFSETS_PARTITIONS: u32 = 3;
/// The most replicas of an offsets partition.
pub const OFFSETS_REPLICATION_MAX: u32 = 3;

pub use crate::wire::stable_hash::stable_hash;

/// The offsets partition that holds `group`; its leader coordinates the group.
pub fn partition_for(group: &str) -> u32 {
    (stable_hash(group.as_bytes()) % u64::from(OFFSETS_PARTITIONS)) as u32
}

pub fn offsets_tp(partition: u32) -> TopicPartition {
    TopicPartition::new(OFFSETS_TOPIC, partition)
}

/// `(replication, min_insync)` for the offsets topic given the live brokers: as many replicas
/// as can be had up to three, and a write survives one broker's loss whenever there are two.
pub fn replication_for(live_brokers: u32) -> (u32, u32) {
    let replication = live_brokers.clamp(1, OFFSETS_REPLICATION_MAX);
    let min_insync = if replication == 1 { 1 } else { 2 };
    (replication, min_insync)
}

/// What a group coordinator writes to its offsets partition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum GroupRecord {
    /// Offsets committed by a member of `generation` (or by a member-less consumer).
    Offsets {
        group: String,
        generation: u64,
        offsets: Vec<(TopicPartition, u64)>,
    },
    /// The group moved to `generation`; `member_counter` numbers the members named so far, so
    /// a later coordinator never names a new member like an old one.
    Generation {
        group: String,
        generation: u64,
        member_counter: u64,
    },
}

impl GroupRecord {
    pub fn group(&self) -> &str {
        match self {
            GroupRecord::Offsets { group, .. } | GroupRecord::Generation { group, .. } => group,
        }
    }

    pub fn to_record(&self) -> Record {
        Record {
            key: Some(self.group().as_bytes().to_vec()),
            // Serialising this plain enum into a Vec cannot fail.
            value: postcard::to_allocvec(self).unwrap_or_default(),
            headers: Vec::new(),
            timestamp_ms: 0,
        }
    }

    /// `None` when the value is not a group record this build understands.
    pub fn from_record(record: &Record) -> Option<GroupRecord> {
        postcard::from_bytes(&record.value).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_the_reference_vectors() {
        assert_eq!(stable_hash(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(stable_hash(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(stable_hash(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn replication_follows_the_live_brokers() {
        assert_eq!(replication_for(1), (1, 1));
        assert_eq!(replication_for(2), (2, 2));
        assert_eq!(replication_for(5), (3, 2));
    }

    #[test]
    fn records_round_trip_and_garbage_is_refused() {
        let record = GroupRecord::Offsets {
            group: "billing".into(),
            generation: 3,
            offsets: vec![(TopicPartition::new("orders", 1), 42)],
        };
        let encoded = record.to_record();
        assert_eq!(encoded.key.as_deref(), Some(&b"billing"[..]));
        assert_eq!(GroupRecord::from_record(&encoded), Some(record));
        assert_eq!(
            GroupRecord::from_record(&Record::value(vec![0xff; 3])),
            None
        );
    }
}
