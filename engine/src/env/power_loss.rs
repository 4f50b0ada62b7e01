//! Power loss: which of a file's unsynced writes a crash leaves on disk. A pure function of the
//! dirty extents and a seeded RNG; the page cache calls it and the disk applies the result.
//!
//! Fault model. A disk writes whole blocks (sectors) atomically and in no promised order, and
//! the kernel writes dirty pages back in no promised order either. So after a power loss each
//! file may hold any subset of its unsynced blocks: nothing; a prefix, torn at a block boundary;
//! or later blocks without earlier ones, where a lost block past the old end of the file reads
//! back as zeros and the file's length covers the highest kept block. Synced data is never
//! touched. Invariant: every byte kept is a byte that was written to that offset of that file,
//! and every kept range is whole blocks of the dirty data (clipped to what was dirty).

use rand::Rng;

/// The block a power loss keeps or loses whole (a 512-byte sector).
pub const POWER_LOSS_BLOCK_BYTES: u64 = 512;
/// Bound on the blocks one file's crash state is drawn over (4 GiB of 512-byte blocks).
const BLOCKS_PER_FILE_MAX: u64 = 1 << 23;

/// What a power loss may keep of the unsynced data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keep {
    /// Every unsynced write is lost (`lose-unsynced`).
    Nothing,
    /// Each file draws a crash state (`crash`, `torn-writes`).
    Draw,
    /// Each file keeps a prefix of its unsynced blocks, in order: the old, kinder model, kept
    /// only to show which bugs it cannot see.
    PrefixOnly,
}

/// How the next power loss treats unsynced data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PowerLoss {
    pub keep: Keep,
    pub block_bytes: u64,
}

impl Default for PowerLoss {
    fn default() -> PowerLoss {
        PowerLoss {
            keep: Keep::Draw,
            block_bytes: POWER_LOSS_BLOCK_BYTES,
        }
    }
}

/// The crash state drawn for one file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrashState {
    /// No unsynced block reached the disk.
    Nothing,
    /// The first `blocks` unsynced blocks reached the disk, the rest did not.
    Prefix { blocks: u64 },
    /// Each unsynced block reached the disk or not, independently.
    Subset,
}

/// The block indexes `extents` touch, ascending, without repeats.
fn dirty_blocks(extents: &[(u64, &[u8])], block_bytes: u64) -> Vec<u64> {
    let mut blocks: Vec<u64> = Vec::new();
    for (offset, bytes) in extents {
        if bytes.is_empty() {
            continue;
        }
        let first = offset / block_bytes;
        let last = (offset + bytes.len() as u64 - 1) / block_bytes;
        for block in first..=last {
            if blocks.last() != Some(&block) {
                blocks.push(block);
            }
        }
    }
    blocks
}

/// Draws one file's crash state and returns what survives of `extents` (sorted, disjoint
/// `(offset, bytes)` of unsynced data) as sorted, disjoint extents.
pub fn survivors<R: Rng>(
    extents: &[(u64, &[u8])],
    spec: PowerLoss,
    rng: &mut R,
) -> (CrashState, Vec<(u64, Vec<u8>)>) {
    assert!(spec.block_bytes > 0, "a block holds at least one byte");
    let blocks = dirty_blocks(extents, spec.block_bytes);
    assert!(blocks.len() as u64 <= BLOCKS_PER_FILE_MAX);
    let count = blocks.len() as u64;
    let state = match spec.keep {
        Keep::Nothing => CrashState::Nothing,
        Keep::PrefixOnly => CrashState::Prefix {
            blocks: rng.random_range(0..=count),
        },
        Keep::Draw => match rng.random_range(0..4u32) {
            0 => CrashState::Nothing,
            1 => CrashState::Prefix {
                blocks: rng.random_range(0..=count),
            },
            _ => CrashState::Subset,
        },
    };
    let kept: Vec<u64> = match state {
        CrashState::Nothing => Vec::new(),
        CrashState::Prefix { blocks: n } => blocks[..n as usize].to_vec(),
        CrashState::Subset => blocks
            .iter()
            .copied()
            .filter(|_| rng.random_bool(0.5))
            .collect(),
    };
    (state, clip(extents, &kept, spec.block_bytes))
}

/// The bytes of `extents` that lie in the `kept` blocks (ascending), coalesced.
fn clip(extents: &[(u64, &[u8])], kept: &[u64], block_bytes: u64) -> Vec<(u64, Vec<u8>)> {
    let mut out: Vec<(u64, Vec<u8>)> = Vec::new();
    for &block in kept {
        let (block_start, block_end) = (block * block_bytes, (block + 1) * block_bytes);
        for (offset, bytes) in extents {
            let end = offset + bytes.len() as u64;
            let (from, to) = ((*offset).max(block_start), end.min(block_end));
            if from >= to {
                continue;
            }
            let piece = &bytes[(from - offset) as usize..(to - offset) as usize];
            match out.last_mut() {
                Some((start, data)) if *start + data.len() as u64 == from => {
                    data.extend_from_slice(piece)
                }
                _ => out.push((from, piece.to_vec())),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn spec(keep: Keep) -> PowerLoss {
        PowerLoss {
            keep,
            block_bytes: 4,
        }
    }

    #[test]
    fn nothing_keeps_nothing_and_prefixes_are_whole_blocks_in_order() {
        let data: Vec<u8> = (1..=10).collect();
        let extents = [(2u64, data.as_slice())];
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        assert!(survivors(&extents, spec(Keep::Nothing), &mut rng)
            .1
            .is_empty());
        for _ in 0..50 {
            let (state, kept) = survivors(&extents, spec(Keep::PrefixOnly), &mut rng);
            let CrashState::Prefix { blocks } = state else {
                panic!("prefix-only draws prefixes")
            };
            // Dirty bytes 2..12 touch blocks 0, 1, 2: a prefix ends at 4, 8 or 12.
            let expected_end = [2, 4, 8, 12][blocks as usize];
            let kept_end = kept.last().map_or(2, |(o, d)| o + d.len() as u64);
            assert_eq!(kept_end, expected_end);
            assert!(kept.len() <= 1, "a prefix has no holes");
        }
    }

    #[test]
    fn subsets_keep_later_blocks_without_earlier_ones_and_only_written_bytes() {
        let data: Vec<u8> = (0..64).collect();
        let extents = [(0u64, data.as_slice())];
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut saw_hole = false;
        for _ in 0..200 {
            let (_, kept) = survivors(&extents, spec(Keep::Draw), &mut rng);
            for (offset, bytes) in &kept {
                assert_eq!(offset % 4, 0, "kept ranges start on a block");
                assert_eq!(bytes.as_slice(), &data[*offset as usize..][..bytes.len()]);
            }
            saw_hole |= kept.first().is_some_and(|(offset, _)| *offset > 0) || kept.len() > 1;
        }
        assert!(
            saw_hole,
            "some draw keeps a later block and loses an earlier one"
        );
    }
}
