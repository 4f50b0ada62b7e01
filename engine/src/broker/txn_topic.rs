//! The internal `__txn_half` topic of transactional messages (RocketMQ model): which partition
//! holds a transaction (a stable FNV-1a hash of its id), the records its coordinator writes
//! there — the half message, the decision, and the note that a committed message was published
//! — and the idempotent-producer stamp under which a committed message is published.
//!
//! Fault model: the log holds whatever any past coordinator of the partition wrote, including
//! records from builds we never ran; a record that does not decode is skipped, never trusted.
//! Invariants: replaying a partition's records in log order rebuilds every transaction's half,
//! decision and publication as the coordinators that wrote them had them once acknowledged.
//! The publish stamp of a transaction is a pure function of where its half message lies, so
//! every coordinator that ever publishes it — twice, after a crash, racing a check-back —
//! sends the same stamp, and the target partition's producer state keeps one copy.

use crate::storage::batch::{FLAG_CONTROL, FLAG_TRANSACTIONAL};
use crate::storage::Record;
use crate::wire::broker_protocol::{Decision, DecisionReason, ProducerStamp, TopicPartition};
pub use crate::wire::txn_partition::{partition_for, TXN_ID_BYTES_MAX, TXN_PARTITIONS};
use serde::{Deserialize, Serialize};

pub const TXN_TOPIC: &str = "__txn_half";
/// Producer ids at or above this flag are the coordinators' publish ids; ids handed out by
/// `InitProducerId` count up from zero and never get near it.
pub const PUBLISH_PRODUCER_ID_FLAG: u64 = 1 << 62;
/// Bits of a publish producer id that hold the half's offset (the partition sits above them).
pub const HALF_OFFSET_BITS: u32 = 40;

pub fn txn_tp(partition: u32) -> TopicPartition {
    TopicPartition::new(TXN_TOPIC, partition)
}

/// The stamp a committed message is published under: a producer id of its own (derived from
/// the half's partition and offset), epoch 0, sequence 0. A repeated publish is a retry of the
/// same one-batch producer, which the target partition answers with the original offset.
pub fn publish_stamp(partition: u32, half_offset: u64) -> ProducerStamp {
    assert!(half_offset < 1 << HALF_OFFSET_BITS, "half offset fits");
    assert!(partition < TXN_PARTITIONS, "partition in range");
    ProducerStamp {
        producer_id: PUBLISH_PRODUCER_ID_FLAG
            | (u64::from(partition) << HALF_OFFSET_BITS)
            | half_offset,
        producer_epoch: 0,
        base_sequence: 0,
    }
}

/// What a transaction coordinator writes to its `__txn_half` partition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TxnRecord {
    /// The half message: stored, replicated, invisible.
    Half {
        txn_id: String,
        producer_group: String,
        target: TopicPartition,
        record: Record,
        check_after_ms: u64,
        check_max: u32,
    },
    /// The decision, written before anything is published.
    Decision {
        txn_id: String,
        decision: Decision,
        reason: DecisionReason,
    },
    /// A committed message is visible in its target partition at `offset`. Only saves a later
    /// coordinator a (deduplicated) publish; losing it costs nothing else.
    Published { txn_id: String, offset: u64 },
}

impl TxnRecord {
    pub fn txn_id(&self) -> &str {
        match self {
            TxnRecord::Half { txn_id, .. }
            | TxnRecord::Decision { txn_id, .. }
            | TxnRecord::Published { txn_id, .. } => txn_id,
        }
    }

    /// Batch flags: a half is transactional, the rest are control records.
    pub fn flags(&self) -> u32 {
        match self {
            TxnRecord::Half { .. } => FLAG_TRANSACTIONAL,
            TxnRecord::Decision { .. } | TxnRecord::Published { .. } => FLAG_CONTROL,
        }
    }

    pub fn to_record(&self) -> Record {
        Record {
            key: Some(self.txn_id().as_bytes().to_vec()),
            // Serialising this plain enum into a Vec cannot fail.
            value: postcard::to_allocvec(self).unwrap_or_default(),
            headers: Vec::new(),
            timestamp_ms: 0,
        }
    }

    /// `None` when the value is not a transaction record this build understands.
    pub fn from_record(record: &Record) -> Option<TxnRecord> {
        postcard::from_bytes(&record.value).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_stamps_are_distinct_per_half_and_stable() {
        let a = publish_stamp(0, 7);
        assert_eq!(a, publish_stamp(0, 7));
        assert_ne!(a.producer_id, publish_stamp(1, 7).producer_id);
        assert_ne!(a.producer_id, publish_stamp(0, 8).producer_id);
        assert!(a.producer_id >= PUBLISH_PRODUCER_ID_FLAG);
        assert_ne!(a.producer_id, crate::storage::batch::NO_PRODUCER);
        assert_eq!((a.producer_epoch, a.base_sequence), (0, 0));
    }

    #[test]
    fn records_round_trip_and_garbage_is_refused() {
        let record = TxnRecord::Decision {
            txn_id: "t-1".into(),
            decision: Decision::Commit,
            reason: DecisionReason::CheckMaxExceeded { unknowns: 3 },
        };
        let encoded = record.to_record();
        assert_eq!(encoded.key.as_deref(), Some(&b"t-1"[..]));
        assert_eq!(TxnRecord::from_record(&encoded), Some(record));
        assert_eq!(TxnRecord::from_record(&Record::value(vec![0xff; 3])), None);
        assert!(partition_for("t-1") < TXN_PARTITIONS);
    }
}
