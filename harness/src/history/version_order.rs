//! The keys' version orders, as the inferred log keeps them: each key's observations sorted by
//! (offset, value, op), and the offsets they name. A key's offsets are dense (each
//! append takes the next one), so the observations are placed by a counting sort over each
//! key's range of offsets: three passes over all the observations in their own order (a range
//! and a count per key, a count per offset, the placing), then the observations at each offset
//! sorted among themselves by (value, op). Those are mostly an ack and the reads of one value,
//! placed in observation order, which is op order: already sorted, as the placing notes (one
//! write seen, in one stretch of op order) without reading them again from all over the log. A
//! comparison sort per key read the offset, value and op of both sides of ~20 comparisons an
//! observation, scattered over the log: the log's costliest step (~40 ms of a 10^6-op
//! history). A key whose offsets spread much wider than its observations (a sparse log) is
//! sorted that way still.
//!
//! Memory, beside the orders: 8 bytes per offset of the dense keys' ranges, where gathering
//! the distinct offsets with their repeats took 8 bytes an observation. The known offsets of a
//! dense key are kept as a set over its range ([`KnownOffsets`]), read from the buckets.

use super::known_offsets::KnownOffsets;
use super::observation::Observation;
use super::offset_runs::OffsetRuns;
use super::ranks::Ranks;

/// The counting sort's table may hold at most this many counts per observation of the key...
const SPREAD_PER_OBSERVATION_MAX: u64 = 2;
/// ... plus this many, so that a small key never falls back.
const SPREAD_SLACK: u64 = 1024;

/// How one key's order is built.
enum Placing {
    /// Counting sort: the lowest offset, and a bucket per offset from it.
    Counted { low: u64, buckets: Vec<Bucket> },
    /// Comparison sort, the observations gathered first.
    Compared,
}

/// The observations of one offset of a dense key.
#[derive(Clone, Copy)]
struct Bucket {
    /// Their count, then where they start in the order, then (once placed) where they end.
    end: u32,
    /// The write all those placed so far saw, [`NO_WRITE`] before the first, or
    /// [`WRITES_MIXED`] (some saw another write, or a value no client sent).
    write: u32,
}

/// [`Bucket::write`] of an empty bucket. Write ids are below both (they fit 31 bits).
const NO_WRITE: u32 = u32::MAX;
/// [`Bucket::write`] of a bucket whose values must be read to sort it.
const WRITES_MIXED: u32 = u32::MAX - 1;

/// One key's version order: observation ids sorted by (offset, value, op), then id; the
/// offsets they name; and where each offset's run of them starts.
#[derive(Debug)]
pub(crate) struct VersionOrder {
    pub order: Vec<u32>,
    pub offsets: KnownOffsets,
    pub runs: OffsetRuns,
}

/// Every key's version order, by key slot. `values[id]` is observation `id`'s value. The
/// observations below `later` were recorded in op order, and so were those from it on (the
/// log's acks of info sends, proven after all the rest).
pub(crate) fn build(
    key_count: usize,
    observations: &[Observation],
    values: &[i64],
    later: u32,
) -> Vec<VersionOrder> {
    // Per key: (observations, lowest offset, highest offset).
    let mut spans: Vec<(u32, u64, u64)> = vec![(0, u64::MAX, 0); key_count];
    for observation in observations {
        let span = &mut spans[observation.key.slot()];
        span.0 += 1;
        span.1 = span.1.min(observation.offset);
        span.2 = span.2.max(observation.offset);
    }
    let mut placings: Vec<Placing> = spans
        .iter()
        .map(|&(count, low, high)| {
            let dense = count > 0
                && high - low < SPREAD_PER_OBSERVATION_MAX * u64::from(count) + SPREAD_SLACK;
            if dense {
                let empty = Bucket {
                    end: 0,
                    write: NO_WRITE,
                };
                Placing::Counted {
                    low,
                    buckets: vec![empty; (high - low) as usize + 1],
                }
            } else {
                Placing::Compared
            }
        })
        .collect();
    for observation in observations {
        if let Placing::Counted { low, buckets } = &mut placings[observation.key.slot()] {
            buckets[(observation.offset - *low) as usize].end += 1;
        }
    }
    let mut keys: Vec<(Vec<u32>, KnownOffsets)> = Vec::with_capacity(key_count);
    for (placing, &(count, _, _)) in placings.iter_mut().zip(&spans) {
        if let Placing::Counted { low, buckets } = placing {
            let seen = (0..)
                .zip(buckets.iter())
                .filter(|(_, bucket)| bucket.end > 0);
            let set = Ranks::new(buckets.len() as u64, seen.map(|(at, _)| at));
            let mut start = 0u32;
            for bucket in buckets.iter_mut() {
                let count = bucket.end;
                bucket.end = start;
                start += count;
            }
            keys.push((
                vec![0; count as usize],
                KnownOffsets::Dense { low: *low, set },
            ));
        } else {
            keys.push((Vec::with_capacity(count as usize), KnownOffsets::default()));
        }
    }
    for (id, observation) in observations.iter().enumerate() {
        let slot = observation.key.slot();
        let order = &mut keys[slot].0;
        match &mut placings[slot] {
            Placing::Counted { low, buckets } => {
                let bucket = &mut buckets[(observation.offset - *low) as usize];
                order[bucket.end as usize] = id as u32;
                bucket.end += 1;
                let write = observation.write().unwrap_or(WRITES_MIXED);
                if bucket.write == NO_WRITE {
                    bucket.write = write;
                } else if bucket.write != write {
                    bucket.write = WRITES_MIXED;
                }
            }
            Placing::Compared => order.push(id as u32),
        }
    }

    let tie = |id: u32| (values[id as usize], observations[id as usize].op(), id);
    let mut built = Vec::with_capacity(key_count);
    for ((mut order, mut offsets), placing) in keys.into_iter().zip(placings) {
        let mut runs = OffsetRuns::new(order.len());
        match placing {
            // Each offset's observations by (value, op, id). Placed in id order, they are
            // sorted already when they saw one write (one value) and all come from one
            // stretch of op order.
            Placing::Counted { buckets, .. } => {
                let mut start = 0usize;
                for Bucket { end, write } in buckets {
                    let end = end as usize;
                    if end > start {
                        runs.mark(start, (write != WRITES_MIXED).then_some(write));
                    }
                    let bucket = &mut order[start..end];
                    let in_op_order = bucket
                        .first()
                        .zip(bucket.last())
                        .is_none_or(|(&first, &last)| (first < later) == (last < later));
                    if bucket.len() > 1 && (write == WRITES_MIXED || !in_op_order) {
                        bucket.sort_unstable_by_key(|&id| tie(id));
                    }
                    start = end;
                }
            }
            Placing::Compared => {
                let offset = |id: u32| observations[id as usize].offset;
                order.sort_unstable_by_key(|&id| (offset(id), tie(id)));
                let mut listed: Vec<u64> = Vec::new();
                let mut start = 0;
                for run in order.chunk_by(|&a, &b| offset(a) == offset(b)) {
                    listed.push(offset(run[0]));
                    let write = observations[run[0] as usize].write();
                    let one = run
                        .iter()
                        .all(|&id| observations[id as usize].write() == write);
                    runs.mark(start, write.filter(|_| one));
                    start += run.len();
                }
                offsets = KnownOffsets::Sparse(listed);
            }
        }
        built.push(VersionOrder {
            order,
            offsets,
            runs,
        });
    }
    built
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::body::KeyId;
    use crate::history::observation::Source;

    /// What the log did before: per key one comparison sort, the offsets gathered and thinned.
    fn by_comparison(
        key_count: usize,
        observations: &[Observation],
        values: &[i64],
    ) -> Vec<(Vec<u32>, Vec<u64>)> {
        (0..key_count)
            .map(|slot| {
                let mut order: Vec<u32> = (0..observations.len() as u32)
                    .filter(|&id| observations[id as usize].key.slot() == slot)
                    .collect();
                order.sort_unstable_by_key(|&id| {
                    let o = &observations[id as usize];
                    (o.offset, values[id as usize], o.op(), id)
                });
                let mut offsets: Vec<u64> = order
                    .iter()
                    .map(|&id| observations[id as usize].offset)
                    .collect();
                offsets.dedup();
                (order, offsets)
            })
            .collect()
    }

    #[test]
    fn counting_and_comparison_sorts_agree() {
        // (key, offset, value, op), in op order until the last three, which come later out of
        // it (as the acks of info sends do). Values of 20 and up are matched with the write
        // numbered as the value, the rest unmatched (read by their values alone). Key 0:
        // offsets out of order, two values at offset 3, one value read twice by one op,
        // offset 2 seen three times holding one write, offset 5 holding one write but seen
        // later by an op before the others. Key 1: offsets far apart (the comparison sort's
        // branch), two values at offset 7. Key 2: nothing. Key 3: one observation, then one
        // later.
        let seen = [
            (0, 3, 30, 1),
            (1, 1 << 40, 5, 1),
            (0, 0, 10, 2),
            (0, 1, 11, 4),
            (0, 1, 11, 4),
            (1, 7, 1, 5),
            (0, 2, 20, 5),
            (0, 0, 10, 7),
            (3, 5, 8, 8),
            (0, 3, 31, 8),
            (0, 2, 20, 9),
            (1, 1 << 20, 2, 9),
            (0, 6, 60, 10),
            (0, 5, 50, 12),
            (1, 7, 0, 12),
            (0, 3, 30, 13),
            (0, 2, 20, 14),
            (0, 5, 50, 15),
            (0, 5, 50, 11),
            (0, 4, 40, 3),
            (3, 6, 9, 2),
        ];
        let later = seen.len() as u32 - 3;
        let observations: Vec<Observation> = seen
            .iter()
            .map(|&(key, offset, value, op)| {
                let mut observation = Observation::new(KeyId(key), offset, op, Source::Read);
                if value >= 20 {
                    observation.set_write(value as u32);
                }
                observation
            })
            .collect();
        let values: Vec<i64> = seen.iter().map(|&(_, _, value, _)| value).collect();
        let orders = build(4, &observations, &values, later);
        let built: Vec<(Vec<u32>, Vec<u64>)> = orders
            .iter()
            .map(|key| (key.order.clone(), key.offsets.iter().collect()))
            .collect();
        assert_eq!(built, by_comparison(4, &observations, &values));
        assert_eq!(built[0].1, [0, 1, 2, 3, 4, 5, 6]);
        assert_eq!(
            built[0].0[4..7],
            [6, 10, 16],
            "offset 2, in op order already"
        );
        assert_eq!(built[0].0[7..10], [0, 15, 9], "offset 3, by value then op");
        assert_eq!(
            built[0].0[11..14],
            [18, 13, 17],
            "offset 5, the later one first"
        );
        assert_eq!(built[1].1, [7, 1 << 20, 1 << 40]);
        // Runs: values below 20 are unmatched, so their offsets are mixed; offset 3 saw two
        // writes.
        let runs: Vec<(std::ops::Range<usize>, Option<u32>)> = orders[0]
            .runs
            .iter()
            .map(|run| (run.range, run.write))
            .collect();
        assert_eq!(
            runs,
            [
                (0..2, None),
                (2..4, None),
                (4..7, Some(20)),
                (7..10, None),
                (10..11, Some(40)),
                (11..14, Some(50)),
                (14..15, Some(60))
            ]
        );
        let sparse: Vec<Option<u32>> = orders[1].runs.iter().map(|run| run.write).collect();
        assert_eq!(sparse, [None, None, None]);
        assert!(build(2, &[], &[], 0).iter().all(|key| key.order.is_empty()
            && key.offsets.iter().next().is_none()
            && key.runs.iter().next().is_none()));
    }
}
