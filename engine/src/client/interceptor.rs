//! The seed's loss detector: a producer interceptor stamps `(producer, sequence)` on every
//! message, counting per partition; a consumer interceptor checks that, per producer and
//! partition, the sequences it reads are contiguous, and reports gaps and repeats as events the
//! harness records (`sequence-gap`). A gap is only an anomaly if the missing message was
//! acknowledged — the checker decides that, not the interceptor.

use crate::storage::Record;
use crate::wire::broker_protocol::TopicPartition;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

/// The header the stamp travels in.
pub const SEQUENCE_HEADER: &str = "fl-seq";

/// Runs on every record before it is queued for sending.
pub trait ProducerInterceptor: Send + Sync {
    fn on_send(&self, tp: &TopicPartition, record: &mut Record);
}

/// Runs on every record a consumer receives; may report an event.
pub trait ConsumerInterceptor: Send + Sync {
    fn on_consume(
        &self,
        tp: &TopicPartition,
        offset: u64,
        record: &Record,
    ) -> Option<SequenceEvent>;

    /// The consumer moved its position in `tp` to `offset` other than by reading: an assignment
    /// resumed from a committed offset, a seek, a reset after `OffsetOutOfRange`.
    fn on_reset(&self, _tp: &TopicPartition, _offset: u64) {}
}

/// `(producer, sequence)` as carried in [`SEQUENCE_HEADER`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Stamp {
    pub producer: u64,
    pub sequence: u64,
}

impl Stamp {
    fn encode(&self) -> Vec<u8> {
        let mut bytes = self.producer.to_be_bytes().to_vec();
        bytes.extend_from_slice(&self.sequence.to_be_bytes());
        bytes
    }

    pub fn decode(bytes: &[u8]) -> Option<Stamp> {
        if bytes.len() != 16 {
            return None;
        }
        let mut producer = [0u8; 8];
        let mut sequence = [0u8; 8];
        producer.copy_from_slice(&bytes[..8]);
        sequence.copy_from_slice(&bytes[8..]);
        Some(Stamp {
            producer: u64::from_be_bytes(producer),
            sequence: u64::from_be_bytes(sequence),
        })
    }

    pub fn of(record: &Record) -> Option<Stamp> {
        record
            .headers
            .iter()
            .find(|(name, _)| name == SEQUENCE_HEADER)
            .and_then(|(_, v)| Stamp::decode(v))
    }
}

/// Stamps each record with this producer's next sequence for its partition.
pub struct SequenceStamper {
    producer: u64,
    next: Mutex<BTreeMap<TopicPartition, u64>>,
}

impl SequenceStamper {
    pub fn new(producer: u64) -> SequenceStamper {
        SequenceStamper {
            producer,
            next: Mutex::new(BTreeMap::new()),
        }
    }
}

impl ProducerInterceptor for SequenceStamper {
    fn on_send(&self, tp: &TopicPartition, record: &mut Record) {
        let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
        let sequence = next.entry(tp.clone()).or_insert(0);
        let stamp = Stamp {
            producer: self.producer,
            sequence: *sequence,
        };
        *sequence += 1;
        record.headers.retain(|(name, _)| name != SEQUENCE_HEADER);
        record
            .headers
            .push((SEQUENCE_HEADER.to_string(), stamp.encode()));
    }
}

/// What the consumer-side checker saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SequenceEvent {
    pub tp: TopicPartition,
    pub offset: u64,
    pub producer: u64,
    /// The sequence that should have come next.
    pub expected: u64,
    /// The sequence that came.
    pub got: u64,
}

impl SequenceEvent {
    /// Sequences were skipped (`got > expected`); otherwise one repeated or went back.
    pub fn is_gap(&self) -> bool {
        self.got > self.expected
    }
}

/// Checks contiguity per (producer, partition). Reading from the start of a partition is
/// assumed; a consumer that seeks must call [`SequenceChecker::reset`]. After a reset to a
/// later offset ([`ConsumerInterceptor::on_reset`]), the first sequence read per producer is the
/// baseline: what came before the resume point is not this reader's to check.
#[derive(Default)]
pub struct SequenceChecker {
    next: Mutex<BTreeMap<(u64, TopicPartition), u64>>,
    resumed: Mutex<BTreeSet<TopicPartition>>,
}

impl SequenceChecker {
    /// Forgets `tp`: the next read is expected to start at the partition's beginning.
    pub fn reset(&self, tp: &TopicPartition) {
        self.next
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(_, t), _| t != tp);
        self.resumed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(tp);
    }
}

impl ConsumerInterceptor for SequenceChecker {
    fn on_consume(
        &self,
        tp: &TopicPartition,
        offset: u64,
        record: &Record,
    ) -> Option<SequenceEvent> {
        let stamp = Stamp::of(record)?;
        let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
        let resumed = self
            .resumed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(tp);
        let first = if resumed { stamp.sequence } else { 0 };
        let expected = next.entry((stamp.producer, tp.clone())).or_insert(first);
        let event = (stamp.sequence != *expected).then(|| SequenceEvent {
            tp: tp.clone(),
            offset,
            producer: stamp.producer,
            expected: *expected,
            got: stamp.sequence,
        });
        *expected = (*expected).max(stamp.sequence + 1);
        event
    }

    fn on_reset(&self, tp: &TopicPartition, offset: u64) {
        self.reset(tp);
        if offset > 0 {
            self.resumed
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(tp.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_planted_gap_is_reported_and_contiguous_sequences_are_not() {
        let tp = TopicPartition::new("t", 0);
        let stamper = SequenceStamper::new(9);
        let checker = SequenceChecker::default();
        let mut records: Vec<Record> = (0..5u8).map(|i| Record::value(vec![i])).collect();
        for record in &mut records {
            stamper.on_send(&tp, record);
        }
        assert_eq!(checker.on_consume(&tp, 0, &records[0]), None);
        assert_eq!(checker.on_consume(&tp, 1, &records[1]), None);
        // Record 2 is lost.
        let gap = checker.on_consume(&tp, 2, &records[3]).expect("a gap");
        assert_eq!(
            (gap.producer, gap.expected, gap.got, gap.is_gap()),
            (9, 2, 3, true)
        );
        assert_eq!(checker.on_consume(&tp, 3, &records[4]), None);
        let repeat = checker.on_consume(&tp, 4, &records[4]).expect("a repeat");
        assert!(!repeat.is_gap());
        // Resumed mid-partition: the first sequence read is the baseline, later gaps still show.
        checker.on_reset(&tp, 2);
        assert_eq!(checker.on_consume(&tp, 2, &records[2]), None);
        assert!(checker
            .on_consume(&tp, 4, &records[4])
            .is_some_and(|e| e.is_gap()));
        // Back to the beginning: a read from the middle is a gap again.
        checker.on_reset(&tp, 0);
        assert!(checker
            .on_consume(&tp, 3, &records[3])
            .is_some_and(|e| e.is_gap()));
    }
}
