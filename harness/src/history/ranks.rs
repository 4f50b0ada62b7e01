//! A set of numbers below a bound (op indexes, a key's offsets) that answers "which member
//! is this, counting from 0?" and "how many members are below this?" in constant time: one bit
//! per number and a running count per 64 (1.5 bits a number). The dependency graph numbers
//! its vertices, the ops, this way: a binary search of the sorted members cost ~24 dependent
//! cache misses a lookup on a history of millions of ops. The members are set bit by bit, in
//! any order, so they are never gathered and sorted; the way back, from a position to its
//! member, is a binary search of the running counts.

/// Numbers per word of the bitmap.
const WORD_BITS: usize = 64;

#[derive(Clone, Debug, Default)]
pub struct Ranks {
    /// Bit `n % 64` of word `n / 64` is set when `n` is a member.
    words: Vec<u64>,
    /// Members in the words before each word.
    before: Vec<u32>,
    /// Members in all.
    len: u32,
}

impl Ranks {
    /// The set of `members`, in any order and with repeats, each below `bound`.
    pub fn new(bound: u64, members: impl IntoIterator<Item = u64>) -> Ranks {
        let words_len =
            usize::try_from(bound.div_ceil(WORD_BITS as u64)).expect("the set fits memory");
        let mut words = vec![0u64; words_len];
        for member in members {
            assert!(member < bound, "member {member} of a set below {bound}");
            words[member as usize / WORD_BITS] |= 1 << (member as usize % WORD_BITS);
        }
        let mut before = Vec::with_capacity(words_len);
        let mut count = 0u64;
        for word in &words {
            before.push(u32::try_from(count).expect("members are counted in a u32"));
            count += u64::from(word.count_ones());
        }
        let len = u32::try_from(count).expect("members are counted in a u32");
        Ranks { words, before, len }
    }

    /// How many members there are.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The position of `n` among the members, if it is one.
    #[inline]
    pub fn rank(&self, n: u64) -> Option<u32> {
        let at = usize::try_from(n / WORD_BITS as u64).ok()?;
        let word = *self.words.get(at)?;
        let bit = 1u64 << (n % WORD_BITS as u64);
        if word & bit == 0 {
            return None;
        }
        Some(self.before[at] + (word & (bit - 1)).count_ones())
    }

    /// How many members are below `n`.
    #[inline]
    pub fn below(&self, n: u64) -> u32 {
        let at = usize::try_from(n / WORD_BITS as u64).unwrap_or(usize::MAX);
        let Some(&word) = self.words.get(at) else {
            return self.len;
        };
        let bits = (1u64 << (n % WORD_BITS as u64)) - 1;
        self.before[at] + (word & bits).count_ones()
    }

    /// The members, ascending.
    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        self.words.iter().enumerate().flat_map(|(at, &word)| {
            let mut word = word;
            std::iter::from_fn(move || {
                if word == 0 {
                    return None;
                }
                let bit = u64::from(word.trailing_zeros());
                word &= word - 1;
                Some((at * WORD_BITS) as u64 + bit)
            })
        })
    }

    /// Bytes held (length times element size).
    pub fn held_bytes(&self) -> usize {
        std::mem::size_of_val(self.words.as_slice()) + std::mem::size_of_val(self.before.as_slice())
    }

    /// The member at position `rank`: the inverse of [`Ranks::rank`]. Logarithmic.
    pub fn member(&self, rank: u32) -> u64 {
        assert!(rank < self.len, "rank {rank} of {} members", self.len);
        // The last word with fewer members before it than `rank + 1`: it holds the member.
        let at = self.before.partition_point(|&before| before <= rank) - 1;
        let mut word = self.words[at];
        // Clear the word's lowest members until the wanted one is the lowest: under 64 steps.
        for _ in 0..rank - self.before[at] {
            word &= word - 1;
        }
        (at * WORD_BITS) as u64 + u64::from(word.trailing_zeros())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_agree_with_a_search_of_the_members() {
        let members: Vec<u64> = vec![0, 3, 63, 64, 65, 127, 128, 500, 1000];
        // Given out of order and with a repeat: the set is the same.
        let shuffled = [500, 0, 64, 1000, 3, 127, 63, 65, 128, 3];
        let ranks = Ranks::new(1100, shuffled);
        assert_eq!(ranks.len(), members.len());
        for op in 0..1100u64 {
            let searched = members.binary_search(&op).ok().map(|at| at as u32);
            assert_eq!(ranks.rank(op), searched, "op {op}");
        }
        for (rank, &op) in members.iter().enumerate() {
            assert_eq!(ranks.member(rank as u32), op);
        }
        assert_eq!(ranks.iter().collect::<Vec<_>>(), members);
        for n in 0..1200u64 {
            let below = members.partition_point(|&member| member < n) as u32;
            assert_eq!(ranks.below(n), below, "{n}");
        }
        assert_eq!(ranks.below(u64::MAX), members.len() as u32);
        let empty = Ranks::new(0, []);
        assert_eq!((empty.rank(0), empty.len()), (None, 0));
        assert!(empty.is_empty());
        assert_eq!(ranks.rank(u64::MAX), None);
    }
}
