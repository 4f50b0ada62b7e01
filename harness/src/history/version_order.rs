//! A key's version order, as the inferred log keeps it: the key's observations sorted by
//! (offset, value, op), and the distinct offsets they name. A key's offsets are dense (each
//! append takes the next one), so the observations are placed by a counting sort over the
//! key's range of offsets: linear, each observation's offset read twice in observation order.
//! A comparison sort read the offset, value and op of both sides of ~20 comparisons an
//! observation, scattered over the log: the log's costliest step (~40 ms of a 10^6-op
//! history). Offsets spread much wider than the observations (a sparse log) fall back to that
//! comparison sort. Observations at one offset, mostly an ack and the reads of one value, are
//! then sorted among themselves by (value, op).
//!
//! Memory, beside the log: a count per offset of the key's range and a second order, for one
//! key at a time, where the comparison sort needed none but the distinct offsets were
//! gathered with their repeats (8 bytes an observation) before being thinned out.

use super::observation::Observation;

/// The counting sort's table may hold at most this many counts per observation of the key.
const SPREAD_PER_OBSERVATION_MAX: u64 = 2;
/// ... plus this many, so that a small key never falls back.
const SPREAD_SLACK: u64 = 1024;

/// Sorts `order` (observation ids of one key, ascending) by (offset, value, op), then id, and
/// returns the distinct offsets, ascending. `values[id]` is observation `id`'s value.
pub(crate) fn sort(order: &mut Vec<u32>, observations: &[Observation], values: &[i64]) -> Vec<u64> {
    let offset = |id: u32| observations[id as usize].offset;
    let tie = |id: u32| (values[id as usize], observations[id as usize].op(), id);
    let Some((low, high)) = order.iter().map(|&id| offset(id)).fold(None, |range, at| {
        let (low, high) = range.unwrap_or((at, at));
        Some((low.min(at), high.max(at)))
    }) else {
        return Vec::new();
    };
    let spread = high - low;
    let n = order.len() as u64;
    if spread >= SPREAD_PER_OBSERVATION_MAX * n + SPREAD_SLACK {
        order.sort_unstable_by_key(|&id| (offset(id), tie(id)));
        let mut offsets: Vec<u64> = Vec::new();
        for &id in order.iter() {
            if offsets.last() != Some(&offset(id)) {
                offsets.push(offset(id));
            }
        }
        return offsets;
    }

    // ends[k]: first the observations at offset low + k, then where the bucket of offset
    // low + k starts, then (once placed) where it ends.
    let mut ends = vec![0u32; spread as usize + 1];
    for &id in order.iter() {
        ends[(offset(id) - low) as usize] += 1;
    }
    let offsets: Vec<u64> = (low..=high)
        .zip(&ends)
        .filter(|&(_, &count)| count > 0)
        .map(|(offset, _)| offset)
        .collect();
    let mut start = 0u32;
    for slot in ends.iter_mut() {
        let count = *slot;
        *slot = start;
        start += count;
    }
    let mut placed = vec![0u32; order.len()];
    for &id in order.iter() {
        let slot = &mut ends[(offset(id) - low) as usize];
        placed[*slot as usize] = id;
        *slot += 1;
    }
    drop(std::mem::replace(order, placed));

    // Each offset's observations by (value, op, id); one alone is in place already.
    let mut start = 0usize;
    for &end in &ends {
        let end = end as usize;
        if end - start > 1 {
            order[start..end].sort_unstable_by_key(|&id| tie(id));
        }
        start = end;
    }
    offsets
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::body::KeyId;
    use crate::history::observation::Source;

    /// What the log did before: one comparison sort, the offsets gathered and thinned.
    fn by_comparison(observations: &[Observation], values: &[i64]) -> (Vec<u32>, Vec<u64>) {
        let mut order: Vec<u32> = (0..observations.len() as u32).collect();
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
    }

    fn observe(seen: &[(u64, i64, u64)]) -> (Vec<Observation>, Vec<i64>) {
        let observations = seen
            .iter()
            .map(|&(offset, _, op)| Observation::new(KeyId(0), offset, op, Source::Read))
            .collect();
        (
            observations,
            seen.iter().map(|&(_, value, _)| value).collect(),
        )
    }

    #[test]
    fn counting_and_comparison_sorts_agree() {
        // (offset, value, op): acks and reads out of order, two values at one offset, one
        // value read twice by one op, a gap.
        let dense = [
            (3, 30, 9),
            (0, 10, 2),
            (1, 11, 4),
            (0, 10, 7),
            (3, 31, 5),
            (1, 11, 4),
            (6, 60, 12),
            (3, 30, 8),
            (2, 20, 6),
        ];
        // Offsets far apart: the comparison sort's branch.
        let sparse = [(1 << 40, 5, 3), (7, 1, 1), (1 << 20, 2, 2), (7, 0, 4)];
        for seen in [&dense[..], &sparse[..], &[]] {
            let (observations, values) = observe(seen);
            let mut order: Vec<u32> = (0..observations.len() as u32).collect();
            let offsets = sort(&mut order, &observations, &values);
            assert_eq!((order, offsets), by_comparison(&observations, &values));
        }
    }
}
