//! The offsets of one key known to hold a value (some observation names them), which the order
//! checks ask "which is the first strictly between these two?" when a consumer or producer
//! jumps. A key whose offsets are dense (a log appends at the next one) keeps a bit per offset
//! of its range with a running count per 64 ([`Ranks`]: 1.5 bits an offset, constant time);
//! a sparse one keeps them listed (8 bytes each, a binary search). Listing every key's took
//! 2.4 bytes an op of a history.

use super::ranks::Ranks;

#[derive(Clone, Debug)]
pub enum KnownOffsets {
    /// The offsets `low + n` for each member `n` of the set.
    Dense { low: u64, set: Ranks },
    /// The offsets, ascending.
    Sparse(Vec<u64>),
}

impl Default for KnownOffsets {
    fn default() -> Self {
        KnownOffsets::Sparse(Vec::new())
    }
}

impl KnownOffsets {
    /// The lowest known offset strictly between `low` and `high`, if any.
    pub fn between(&self, low: u64, high: u64) -> Option<u64> {
        if high <= low.saturating_add(1) {
            return None;
        }
        match self {
            KnownOffsets::Dense { low: base, set } => {
                // Members from low + 1 up to (not including) high, relative to the base.
                let from = (low + 1).saturating_sub(*base);
                let to = high.saturating_sub(*base);
                let first = set.below(from);
                (set.below(to) > first).then(|| base + set.member(first))
            }
            KnownOffsets::Sparse(offsets) => {
                let at = offsets.partition_point(|&offset| offset <= low);
                offsets.get(at).copied().filter(|&offset| offset < high)
            }
        }
    }

    /// The known offsets, ascending.
    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        let (dense, sparse) = match self {
            KnownOffsets::Dense { low, set } => (Some(set.iter().map(move |n| low + n)), None),
            KnownOffsets::Sparse(offsets) => (None, Some(offsets.iter().copied())),
        };
        dense
            .into_iter()
            .flatten()
            .chain(sparse.into_iter().flatten())
    }

    /// Bytes held (length times element size).
    pub fn held_bytes(&self) -> usize {
        match self {
            KnownOffsets::Dense { set, .. } => set.held_bytes(),
            KnownOffsets::Sparse(offsets) => std::mem::size_of_val(offsets.as_slice()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_and_sparse_agree() {
        let offsets: Vec<u64> = vec![100, 101, 103, 170, 171, 300];
        let sparse = KnownOffsets::Sparse(offsets.clone());
        let dense = KnownOffsets::Dense {
            low: 100,
            set: Ranks::new(201, offsets.iter().map(|offset| offset - 100)),
        };
        assert_eq!(dense.iter().collect::<Vec<_>>(), offsets);
        assert_eq!(sparse.iter().collect::<Vec<_>>(), offsets);
        for low in 0..320 {
            for high in low..330 {
                let expected = offsets.iter().copied().find(|&o| low < o && o < high);
                assert_eq!(sparse.between(low, high), expected, "({low}, {high})");
                assert_eq!(dense.between(low, high), expected, "({low}, {high})");
            }
        }
        assert_eq!(dense.between(0, u64::MAX), Some(100));
        assert_eq!(dense.between(300, u64::MAX), None);
        assert_eq!(KnownOffsets::default().between(0, u64::MAX), None);
    }
}
