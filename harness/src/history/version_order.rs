//! The keys' version orders, as the inferred log keeps them: each key's observations sorted by
//! (offset, value, op), and the distinct offsets they name. A key's offsets are dense (each
//! append takes the next one), so the observations are placed by a counting sort over each
//! key's range of offsets: three passes over all the observations in their own order (a range
//! and a count per key, a count per offset, the placing), then the observations at each offset
//! (mostly an ack and the reads of one value) sorted among themselves by (value, op). A
//! comparison sort per key read the offset, value and op of both sides of ~20 comparisons an
//! observation, scattered over the log: the log's costliest step (~40 ms of a 10^6-op
//! history). A key whose offsets spread much wider than its observations (a sparse log) is
//! sorted that way still.
//!
//! Memory, beside the orders: a count per offset of the dense keys' ranges, where gathering
//! the distinct offsets with their repeats took 8 bytes an observation.

use super::observation::Observation;

/// The counting sort's table may hold at most this many counts per observation of the key...
const SPREAD_PER_OBSERVATION_MAX: u64 = 2;
/// ... plus this many, so that a small key never falls back.
const SPREAD_SLACK: u64 = 1024;

/// How one key's order is built.
enum Placing {
    /// Counting sort: the lowest offset, and per offset from it its observations' count,
    /// then where its bucket starts, then (once placed) where it ends.
    Counted { low: u64, ends: Vec<u32> },
    /// Comparison sort, the observations gathered first.
    Compared,
}

/// Every key's version order and distinct offsets, ascending, by key slot: observation ids
/// sorted by (offset, value, op), then id. `values[id]` is observation `id`'s value.
pub(crate) fn build(
    key_count: usize,
    observations: &[Observation],
    values: &[i64],
) -> Vec<(Vec<u32>, Vec<u64>)> {
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
                Placing::Counted {
                    low,
                    ends: vec![0; (high - low) as usize + 1],
                }
            } else {
                Placing::Compared
            }
        })
        .collect();
    for observation in observations {
        if let Placing::Counted { low, ends } = &mut placings[observation.key.slot()] {
            ends[(observation.offset - *low) as usize] += 1;
        }
    }
    let mut keys: Vec<(Vec<u32>, Vec<u64>)> = Vec::with_capacity(key_count);
    for (placing, &(count, _, _)) in placings.iter_mut().zip(&spans) {
        let mut offsets = Vec::new();
        if let Placing::Counted { low, ends } = placing {
            let mut start = 0u32;
            for (offset, slot) in (*low..).zip(ends.iter_mut()) {
                let count = *slot;
                if count > 0 {
                    offsets.push(offset);
                }
                *slot = start;
                start += count;
            }
            keys.push((vec![0; count as usize], offsets));
        } else {
            keys.push((Vec::with_capacity(count as usize), offsets));
        }
    }
    for (id, observation) in observations.iter().enumerate() {
        let slot = observation.key.slot();
        let order = &mut keys[slot].0;
        match &mut placings[slot] {
            Placing::Counted { low, ends } => {
                let end = &mut ends[(observation.offset - *low) as usize];
                order[*end as usize] = id as u32;
                *end += 1;
            }
            Placing::Compared => order.push(id as u32),
        }
    }

    let tie = |id: u32| (values[id as usize], observations[id as usize].op(), id);
    for ((order, offsets), placing) in keys.iter_mut().zip(placings) {
        match placing {
            // Each offset's observations by (value, op, id); one alone is in place already.
            Placing::Counted { ends, .. } => {
                let mut start = 0usize;
                for end in ends {
                    let end = end as usize;
                    if end - start > 1 {
                        order[start..end].sort_unstable_by_key(|&id| tie(id));
                    }
                    start = end;
                }
            }
            Placing::Compared => {
                let offset = |id: u32| observations[id as usize].offset;
                order.sort_unstable_by_key(|&id| (offset(id), tie(id)));
                for &id in order.iter() {
                    if offsets.last() != Some(&offset(id)) {
                        offsets.push(offset(id));
                    }
                }
            }
        }
    }
    keys
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
        // (key, offset, value, op). Key 0: acks and reads out of order, two values at one
        // offset, one value read twice by one op, a gap. Key 1: offsets far apart (the
        // comparison sort's branch). Key 2: nothing. Key 3: one observation.
        let seen = [
            (0, 3, 30, 9),
            (1, 1 << 40, 5, 3),
            (0, 0, 10, 2),
            (0, 1, 11, 4),
            (1, 7, 1, 1),
            (0, 0, 10, 7),
            (3, 5, 8, 8),
            (0, 3, 31, 5),
            (1, 1 << 20, 2, 2),
            (0, 1, 11, 4),
            (0, 6, 60, 12),
            (1, 7, 0, 4),
            (0, 3, 30, 8),
            (0, 2, 20, 6),
        ];
        let observations: Vec<Observation> = seen
            .iter()
            .map(|&(key, offset, _, op)| Observation::new(KeyId(key), offset, op, Source::Read))
            .collect();
        let values: Vec<i64> = seen.iter().map(|&(_, _, value, _)| value).collect();
        let built = build(4, &observations, &values);
        assert_eq!(built, by_comparison(4, &observations, &values));
        assert_eq!(built[0].1, [0, 1, 2, 3, 6]);
        assert_eq!(built[1].1, [7, 1 << 20, 1 << 40]);
        assert!(build(2, &[], &[])
            .iter()
            .all(|(order, offsets)| order.is_empty() && offsets.is_empty()));
    }
}
