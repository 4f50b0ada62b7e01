//! The vectors an op's value was read into, given back once the history has packed them into its
//! flat ones ([`super::bodies`]), so the next op's value is read into them again. Without them
//! every send, poll and transaction allocated and freed its micro-ops, and every poll that
//! returned records its keys' and records' vectors: over an allocation an op, and the allocator
//! was ~6% of the instructions and ~8% of the mispredicted branches of reading a history.

use super::body::{KeyId, KeyReads, Mop, Record};

/// Vectors kept of each kind: a value nests a few (a poll's keys, each key's records), so a
/// handful serves every op; more are dropped.
const SPARES_MAX: usize = 32;

/// A vector that grew past this many elements (a poll of thousands of records) is dropped, not
/// kept: what the spares hold stays a few KiB whatever the history held.
const SPARE_CAPACITY_MAX: usize = 256;

#[derive(Debug, Default)]
pub(crate) struct SpareVecs {
    mops: Vec<Vec<Mop>>,
    key_reads: Vec<Vec<KeyReads>>,
    records: Vec<Vec<Record>>,
    offsets: Vec<Vec<(KeyId, u64)>>,
}

/// Keeps `vector`, emptied, among `spares` if there is room and it is not too large.
fn keep<T>(spares: &mut Vec<Vec<T>>, mut vector: Vec<T>) {
    if spares.len() < SPARES_MAX && vector.capacity() <= SPARE_CAPACITY_MAX {
        vector.clear();
        spares.push(vector);
    }
}

impl SpareVecs {
    /// An empty vector for an op's micro-ops.
    pub(crate) fn mops(&mut self) -> Vec<Mop> {
        self.mops.pop().unwrap_or_default()
    }

    /// An empty vector for the keys one poll read.
    pub(crate) fn key_reads(&mut self) -> Vec<KeyReads> {
        self.key_reads.pop().unwrap_or_default()
    }

    /// An empty vector for the records one poll read of one key.
    pub(crate) fn records(&mut self) -> Vec<Record> {
        self.records.pop().unwrap_or_default()
    }

    /// An empty vector for a commit's offsets.
    pub(crate) fn offsets(&mut self) -> Vec<(KeyId, u64)> {
        self.offsets.pop().unwrap_or_default()
    }

    /// Takes back micro-ops already packed. The vectors their polls held are taken back with
    /// [`SpareVecs::give_key_reads`] as they are packed; any left are dropped.
    pub(crate) fn give_mops(&mut self, mops: Vec<Mop>) {
        keep(&mut self.mops, mops);
    }

    /// Takes back the keys one poll read, with their records' vectors.
    pub(crate) fn give_key_reads(&mut self, mut reads: Vec<KeyReads>) {
        for read in reads.drain(..) {
            keep(&mut self.records, read.records);
        }
        keep(&mut self.key_reads, reads);
    }

    /// Takes back a commit's offsets.
    pub(crate) fn give_offsets(&mut self, offsets: Vec<(KeyId, u64)>) {
        keep(&mut self.offsets, offsets);
    }
}

#[cfg(test)]
mod tests {
    use super::super::body::PollMop;
    use super::*;

    fn poll_of(records: usize) -> Mop {
        Mop::Poll(PollMop {
            reads: Some(vec![KeyReads {
                key: KeyId(0),
                records: (0..records as u64)
                    .map(|offset| Record {
                        offset,
                        value: offset as i64,
                    })
                    .collect(),
            }]),
        })
    }

    #[test]
    fn vectors_given_back_come_back_empty_with_their_room() {
        let mut spares = SpareVecs::default();
        let mut mops = spares.mops();
        mops.push(poll_of(3));
        let room = mops.capacity();
        let Some(Mop::Poll(PollMop { reads })) = mops.first_mut() else {
            panic!("a poll");
        };
        spares.give_key_reads(reads.take().expect("records"));
        spares.give_mops(mops);
        let again = spares.mops();
        assert!(again.is_empty());
        assert_eq!(again.capacity(), room, "the same vector, not a new one");
        assert!(
            spares.key_reads().capacity() >= 1,
            "the poll's keys came back"
        );
        assert!(spares.records().capacity() >= 3, "and its records");
    }

    #[test]
    fn the_spares_stay_bounded() {
        let mut spares = SpareVecs::default();
        for _ in 0..SPARES_MAX * 3 {
            spares.give_mops(vec![poll_of(1)]);
            spares.give_key_reads(vec![KeyReads {
                key: KeyId(0),
                records: vec![Record {
                    offset: 0,
                    value: 0,
                }],
            }]);
        }
        assert_eq!(spares.mops.len(), SPARES_MAX);
        assert_eq!(spares.records.len(), SPARES_MAX);
        // A vector grown large is dropped, not kept.
        let mut spares = SpareVecs::default();
        let Mop::Poll(PollMop { reads: Some(reads) }) = poll_of(SPARE_CAPACITY_MAX + 1) else {
            panic!("a poll with records");
        };
        spares.give_key_reads(reads);
        assert!(spares.records.is_empty());
        assert_eq!(spares.key_reads.len(), 1);
    }
}
