//! A key's version order cut into runs, one per offset: a bit per position of the order marks
//! where each offset's observations start, and each run keeps the write all its observations
//! saw, if they saw one ("mixed" if they saw more than one, or a value no client sent). The
//! checks that walk a key's log offset by offset read the boundaries and the write here, where
//! finding them meant reading every observation, scattered over the log (a cache miss each);
//! and an offset that saw one write has one value, so the log-consistency check passes it
//! over. A bit an observation and 4 bytes an offset.

use super::log_write::WriteId;
use std::ops::Range;

/// Positions per word of [`OffsetRuns::starts`].
const WORD_BITS: usize = 64;

/// [`OffsetRuns::writes`] of a mixed run. Write ids are below it (they fit 31 bits).
const MIXED: u32 = u32::MAX;

#[derive(Clone, Debug, Default)]
pub struct OffsetRuns {
    /// Bit `n % 64` of word `n / 64`: position `n` of the order starts an offset's run.
    starts: Vec<u64>,
    /// Per run, in order: the write its observations saw, or [`MIXED`].
    writes: Vec<WriteId>,
    /// Positions in the order.
    len: usize,
}

/// One offset's observations: positions `range` of the key's order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run {
    pub range: Range<usize>,
    /// The write they all saw; `None` when they saw more than one, or a value no client sent
    /// (read their values then).
    pub write: Option<WriteId>,
}

impl OffsetRuns {
    /// Runs of an order of `len` positions, to be marked in order with [`OffsetRuns::mark`].
    pub(crate) fn new(len: usize) -> OffsetRuns {
        OffsetRuns {
            starts: vec![0; len.div_ceil(WORD_BITS)],
            writes: Vec::new(),
            len,
        }
    }

    /// The next run starts at position `start`; its observations saw `write` alone, or (None)
    /// were mixed.
    pub(crate) fn mark(&mut self, start: usize, write: Option<WriteId>) {
        assert!(
            start < self.len,
            "run start {start} of an order of {}",
            self.len
        );
        assert!(
            write.is_none_or(|write| write < MIXED),
            "write ids fit 31 bits"
        );
        self.starts[start / WORD_BITS] |= 1 << (start % WORD_BITS);
        self.writes.push(write.unwrap_or(MIXED));
    }

    /// Every run, in order.
    pub fn iter(&self) -> impl Iterator<Item = Run> + '_ {
        let mut starts = set_bits(&self.starts)
            .chain(std::iter::once(self.len))
            .peekable();
        self.writes.iter().map(move |&write| {
            let start = starts.next().expect("a start per run");
            let end = *starts.peek().expect("the end follows the last run");
            Run {
                range: start..end,
                write: (write != MIXED).then_some(write),
            }
        })
    }

    /// The mixed runs' positions alone, in order.
    pub fn mixed(&self) -> impl Iterator<Item = Range<usize>> + '_ {
        self.iter()
            .filter(|run| run.write.is_none())
            .map(|run| run.range)
    }

    /// Bytes held (length times element size).
    pub fn held_bytes(&self) -> usize {
        std::mem::size_of_val(self.starts.as_slice())
            + std::mem::size_of_val(self.writes.as_slice())
    }
}

/// The set bits' positions of `words`, ascending.
fn set_bits(words: &[u64]) -> impl Iterator<Item = usize> + '_ {
    words.iter().enumerate().flat_map(|(at, &word)| {
        let mut word = word;
        std::iter::from_fn(move || {
            if word == 0 {
                return None;
            }
            let bit = word.trailing_zeros() as usize;
            word &= word - 1;
            Some(at * WORD_BITS + bit)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_read_back_as_marked() {
        // Runs across word boundaries, a long one, one alone at the end.
        let marks = [
            (0, Some(7)),
            (3, None),
            (63, Some(0)),
            (64, None),
            (70, Some(9)),
            (199, None),
        ];
        let mut runs = OffsetRuns::new(200);
        for &(start, write) in &marks {
            runs.mark(start, write);
        }
        let expected: Vec<Run> = marks
            .iter()
            .enumerate()
            .map(|(at, &(start, write))| Run {
                range: start..marks.get(at + 1).map_or(200, |&(next, _)| next),
                write,
            })
            .collect();
        assert_eq!(runs.iter().collect::<Vec<_>>(), expected);
        let mixed: Vec<Range<usize>> = expected
            .iter()
            .filter(|run| run.write.is_none())
            .map(|run| run.range.clone())
            .collect();
        assert_eq!(runs.mixed().collect::<Vec<_>>(), mixed);
        assert_eq!(OffsetRuns::new(0).iter().count(), 0);
    }
}
