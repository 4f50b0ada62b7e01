//! Idempotent-producer state of one partition: for each producer id, its epoch and the last
//! [`BATCHES_REMEMBERED`] batches it wrote, so a retried batch is answered with its original
//! offsets instead of being written twice, and a batch that skips sequences is refused.
//! Rebuilt from the log's batch headers at startup and after truncation, and kept by followers
//! too, so a new leader dedups retries of batches its predecessor wrote.

use crate::storage::batch::{NO_PRODUCER, NO_SEQUENCE};
use crate::storage::RecordBatch;
use crate::wire::broker_protocol::{BrokerError, ProducerStamp};
use std::collections::{BTreeMap, VecDeque};

/// Batches remembered per producer and partition (Kafka's five in-flight requests).
pub const BATCHES_REMEMBERED: usize = 5;
/// Producers remembered per partition; the least recently written is forgotten beyond it.
pub const PRODUCERS_MAX: usize = 10_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchRecord {
    pub first_sequence: u32,
    pub last_sequence: u32,
    pub first_offset: u64,
    pub last_offset: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct ProducerEntry {
    epoch: u32,
    batches: VecDeque<BatchRecord>,
    last_written_offset: u64,
}

/// What to do with an incoming idempotent batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Write it.
    Append,
    /// Already written: answer with these offsets and write nothing.
    Duplicate { first_offset: u64, last_offset: u64 },
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProducerState {
    producers: BTreeMap<u64, ProducerEntry>,
}

impl ProducerState {
    /// Decides on a batch of `count` records stamped `stamp`.
    pub fn admit(&self, stamp: &ProducerStamp, count: u32) -> Result<Admission, BrokerError> {
        let Some(entry) = self.producers.get(&stamp.producer_id) else {
            return Ok(Admission::Append);
        };
        if stamp.producer_epoch < entry.epoch {
            return Err(BrokerError::InvalidRequest {
                reason: format!(
                    "producer epoch {} is fenced by {}",
                    stamp.producer_epoch, entry.epoch
                ),
            });
        }
        if stamp.producer_epoch > entry.epoch {
            // A new epoch starts its sequences afresh.
            return if stamp.base_sequence == 0 {
                Ok(Admission::Append)
            } else {
                Err(BrokerError::OutOfOrderSequence {
                    expected: 0,
                    got: stamp.base_sequence,
                })
            };
        }
        let last_sequence = stamp.base_sequence.wrapping_add(count.saturating_sub(1));
        if let Some(batch) = entry
            .batches
            .iter()
            .find(|b| b.first_sequence == stamp.base_sequence && b.last_sequence == last_sequence)
        {
            return Ok(Admission::Duplicate {
                first_offset: batch.first_offset,
                last_offset: batch.last_offset,
            });
        }
        let expected = entry
            .batches
            .back()
            .map_or(0, |b| b.last_sequence.wrapping_add(1));
        if stamp.base_sequence != expected {
            return Err(BrokerError::OutOfOrderSequence {
                expected,
                got: stamp.base_sequence,
            });
        }
        Ok(Admission::Append)
    }

    /// Remembers a written batch.
    pub fn record(&mut self, stamp: &ProducerStamp, count: u32, first_offset: u64) {
        if !self.producers.contains_key(&stamp.producer_id) && self.producers.len() >= PRODUCERS_MAX
        {
            let oldest = self
                .producers
                .iter()
                .min_by_key(|(_, e)| e.last_written_offset)
                .map(|(id, _)| *id);
            if let Some(oldest) = oldest {
                self.producers.remove(&oldest);
            }
        }
        let entry = self.producers.entry(stamp.producer_id).or_default();
        if stamp.producer_epoch > entry.epoch {
            entry.epoch = stamp.producer_epoch;
            entry.batches.clear();
        }
        let last_offset = first_offset + u64::from(count.saturating_sub(1));
        entry.batches.push_back(BatchRecord {
            first_sequence: stamp.base_sequence,
            last_sequence: stamp.base_sequence.wrapping_add(count.saturating_sub(1)),
            first_offset,
            last_offset,
        });
        while entry.batches.len() > BATCHES_REMEMBERED {
            entry.batches.pop_front();
        }
        entry.last_written_offset = last_offset;
    }

    /// Feeds one batch read from the log (startup, follower appends, rebuild after truncation).
    pub fn replay(&mut self, batch: &RecordBatch) {
        if batch.meta.producer_id == NO_PRODUCER || batch.meta.base_sequence == NO_SEQUENCE {
            return;
        }
        let stamp = ProducerStamp {
            producer_id: batch.meta.producer_id,
            producer_epoch: batch.meta.producer_epoch,
            base_sequence: batch.meta.base_sequence,
        };
        self.record(&stamp, batch.records.len() as u32, batch.base_offset);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(sequence: u32) -> ProducerStamp {
        ProducerStamp {
            producer_id: 7,
            producer_epoch: 0,
            base_sequence: sequence,
        }
    }

    #[test]
    fn duplicates_get_their_original_offsets_and_gaps_are_refused() {
        let mut state = ProducerState::default();
        assert_eq!(state.admit(&stamp(0), 2), Ok(Admission::Append));
        state.record(&stamp(0), 2, 100);
        assert_eq!(
            state.admit(&stamp(0), 2),
            Ok(Admission::Duplicate {
                first_offset: 100,
                last_offset: 101
            })
        );
        assert_eq!(
            state.admit(&stamp(3), 1),
            Err(BrokerError::OutOfOrderSequence {
                expected: 2,
                got: 3
            })
        );
        assert_eq!(state.admit(&stamp(2), 1), Ok(Admission::Append));
        for sequence in 2..9 {
            state.record(&stamp(sequence), 1, 100 + u64::from(sequence));
        }
        // Only the last five batches are remembered.
        assert!(matches!(
            state.admit(&stamp(0), 2),
            Err(BrokerError::OutOfOrderSequence { .. })
        ));
        assert!(matches!(
            state.admit(&stamp(8), 1),
            Ok(Admission::Duplicate { .. })
        ));
    }
}
