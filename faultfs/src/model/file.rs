//! One regular file's data in the page-cache model. The durable bytes live in the backing file
//! (its "home"); everything written since the last sync lives here, as extents over a base. The
//! base is the prefix of the durable file that is still visible: a truncation hides the durable
//! bytes past it until the next sync, and bytes past the base that no extent covers read as
//! zeros (a truncate-then-extend hole). Invariant: every extent ends at or before `live_len`.

use std::collections::BTreeMap;

/// Where the bytes of one range of a read come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Read `len` bytes at `offset` of the backing file.
    Durable { offset: u64, len: u64 },
    /// Unsynced bytes, held in memory.
    Bytes(Vec<u8>),
    /// A hole: `len` zero bytes.
    Zeros { len: u64 },
}

/// What a sync (or a torn power loss) writes to the backing file, in this order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DataPlan {
    /// Cut the backing file to this length first (a pending truncation).
    pub truncate_to: Option<u64>,
    /// (offset, bytes) to write.
    pub writes: Vec<(u64, Vec<u8>)>,
    /// Set the final length (extends with zeros or cuts); `None` leaves the length as written.
    pub len: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileData {
    durable_len: u64,
    base_len: u64,
    live_len: u64,
    extents: BTreeMap<u64, Vec<u8>>,
}

impl FileData {
    /// A file whose durable copy has `len` bytes and nothing pending.
    pub fn durable(len: u64) -> FileData {
        FileData {
            durable_len: len,
            base_len: len,
            live_len: len,
            extents: BTreeMap::new(),
        }
    }

    pub fn live_len(&self) -> u64 {
        self.live_len
    }

    pub fn durable_len(&self) -> u64 {
        self.durable_len
    }

    pub fn pending_bytes(&self) -> u64 {
        self.extents.values().map(|bytes| bytes.len() as u64).sum()
    }

    /// True when a power loss now would change what a reader sees.
    pub fn is_dirty(&self) -> bool {
        !self.extents.is_empty()
            || self.live_len != self.durable_len
            || self.base_len != self.durable_len
    }

    pub fn write(&mut self, offset: u64, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        let end = offset + data.len() as u64;
        // Merge with every extent that overlaps or touches [offset, end), so extents stay
        // disjoint and a read never has to choose between two of them. Only the extent just
        // before `offset` and those starting inside the range can touch it.
        let mut touching: Vec<u64> = Vec::new();
        if let Some((start, bytes)) = self.extents.range(..offset).next_back() {
            if start + bytes.len() as u64 >= offset {
                touching.push(*start);
            }
        }
        touching.extend(self.extents.range(offset..=end).map(|(start, _)| *start));
        let start_merged = touching
            .first()
            .map_or(offset, |first| (*first).min(offset));
        // Appending to an extent reuses its buffer: a sequential writer must not pay a copy of
        // everything it wrote so far on every write.
        let mut merged = match touching.first() {
            Some(first) if *first == start_merged => {
                self.extents.remove(first).expect("listed above")
            }
            _ => Vec::new(),
        };
        for start in touching.iter().filter(|start| **start != start_merged) {
            let bytes = self.extents.remove(start).expect("listed above");
            let at = (start - start_merged) as usize;
            if merged.len() < at + bytes.len() {
                merged.resize(at + bytes.len(), 0);
            }
            merged[at..at + bytes.len()].copy_from_slice(&bytes);
        }
        let at = (offset - start_merged) as usize;
        if merged.len() < at + data.len() {
            merged.resize(at + data.len(), 0);
        }
        merged[at..at + data.len()].copy_from_slice(data);
        self.extents.insert(start_merged, merged);
        self.live_len = self.live_len.max(end);
    }

    pub fn truncate(&mut self, len: u64) {
        if len < self.live_len {
            let cut: Vec<u64> = self.extents.range(..).map(|(start, _)| *start).collect();
            for start in cut {
                if start >= len {
                    self.extents.remove(&start);
                } else if let Some(bytes) = self.extents.get_mut(&start) {
                    bytes.truncate((len - start).min(bytes.len() as u64) as usize);
                }
            }
            self.base_len = self.base_len.min(len);
        }
        self.live_len = len;
    }

    /// The pieces that make up the live bytes [offset, offset + size), clipped to the length.
    pub fn read(&self, offset: u64, size: u64) -> Vec<Piece> {
        let end = (offset.saturating_add(size)).min(self.live_len);
        let mut pieces = Vec::new();
        let mut at = offset;
        while at < end {
            let covering = self
                .extents
                .range(..=at)
                .next_back()
                .filter(|(start, bytes)| **start + bytes.len() as u64 > at);
            if let Some((start, bytes)) = covering {
                let upto = (start + bytes.len() as u64).min(end);
                pieces.push(Piece::Bytes(
                    bytes[(at - start) as usize..(upto - start) as usize].to_vec(),
                ));
                at = upto;
                continue;
            }
            let gap_end = self
                .extents
                .range(at + 1..)
                .next()
                .map_or(end, |(s, _)| (*s).min(end));
            if at < self.base_len {
                let upto = gap_end.min(self.base_len);
                pieces.push(Piece::Durable {
                    offset: at,
                    len: upto - at,
                });
                at = upto;
            } else {
                pieces.push(Piece::Zeros { len: gap_end - at });
                at = gap_end;
            }
        }
        pieces
    }

    /// Makes everything durable: returns what to write and forgets the extents.
    pub fn sync(&mut self) -> DataPlan {
        let plan = DataPlan {
            truncate_to: (self.base_len < self.durable_len).then_some(self.base_len),
            writes: std::mem::take(&mut self.extents).into_iter().collect(),
            len: Some(self.live_len),
        };
        self.durable_len = self.live_len;
        self.base_len = self.live_len;
        plan
    }

    /// The lowest offset a power loss could change, or `None` when nothing is pending.
    pub fn dirty_from(&self) -> Option<u64> {
        if !self.is_dirty() {
            return None;
        }
        let mut from = self.extents.keys().next().copied().unwrap_or(u64::MAX);
        if self.base_len < self.durable_len || self.live_len != self.durable_len {
            from = from
                .min(self.base_len)
                .min(self.live_len)
                .min(self.durable_len);
        }
        Some(from)
    }

    /// A torn power loss: the live bytes before `cut` reached the disk, nothing after. The
    /// result is live[..c] followed by durable[c..], with c = min(cut, live length); the
    /// length is the larger of c and the durable length (a size update is not written back
    /// with a partial flush, so a pending truncation is never applied by a tear).
    pub fn tear(&mut self, cut: u64) -> DataPlan {
        let c = cut.min(self.live_len);
        let writes = self
            .read(0, c)
            .into_iter()
            .scan(0u64, |at, piece| {
                let start = *at;
                let (len, bytes) = match piece {
                    Piece::Durable { len, .. } => (len, None),
                    Piece::Bytes(bytes) => (bytes.len() as u64, Some(bytes)),
                    Piece::Zeros { len } => (len, Some(vec![0; len as usize])),
                };
                *at += len;
                Some(bytes.map(|bytes| (start, bytes)))
            })
            .flatten()
            .collect();
        self.durable_len = self.durable_len.max(c);
        self.lose();
        DataPlan {
            truncate_to: None,
            writes,
            len: None,
        }
    }

    /// A power loss without tearing: the live view falls back to the durable file.
    pub fn lose(&mut self) {
        self.extents.clear();
        self.base_len = self.durable_len;
        self.live_len = self.durable_len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live(file: &FileData, durable: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for piece in file.read(0, u64::MAX) {
            match piece {
                Piece::Durable { offset, len } => {
                    out.extend_from_slice(&durable[offset as usize..(offset + len) as usize])
                }
                Piece::Bytes(bytes) => out.extend_from_slice(&bytes),
                Piece::Zeros { len } => out.extend(std::iter::repeat_n(0, len as usize)),
            }
        }
        out
    }

    fn apply(plan: &DataPlan, durable: &mut Vec<u8>) {
        if let Some(len) = plan.truncate_to {
            durable.truncate(len as usize);
        }
        for (offset, bytes) in &plan.writes {
            let end = *offset as usize + bytes.len();
            if durable.len() < end {
                durable.resize(end, 0);
            }
            durable[*offset as usize..end].copy_from_slice(bytes);
        }
        if let Some(len) = plan.len {
            durable.resize(len as usize, 0);
        }
    }

    #[test]
    fn writes_merge_and_overlay_the_durable_bytes() {
        let durable = b"0123456789".to_vec();
        let mut file = FileData::durable(10);
        file.write(2, b"ab");
        file.write(4, b"cd");
        file.write(12, b"zz");
        assert_eq!(live(&file, &durable), b"01abcd6789\0\0zz");
        assert_eq!(file.extents.len(), 2, "touching extents merge");
        assert_eq!(file.pending_bytes(), 6);
    }

    #[test]
    fn random_writes_read_back_like_a_flat_buffer() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let durable = vec![b'.'; 64];
        let mut file = FileData::durable(64);
        let mut flat = durable.clone();
        for _ in 0..2000 {
            let offset = rng.random_range(0..96usize);
            let data = vec![rng.random_range(b'a'..=b'z'); rng.random_range(1..16)];
            file.write(offset as u64, &data);
            if flat.len() < offset + data.len() {
                flat.resize(offset + data.len(), 0);
            }
            flat[offset..offset + data.len()].copy_from_slice(&data);
            assert_eq!(live(&file, &durable), flat);
            let ends: Vec<(u64, u64)> = file
                .extents
                .iter()
                .map(|(s, b)| (*s, s + b.len() as u64))
                .collect();
            assert!(
                ends.windows(2).all(|w| w[0].1 < w[1].0),
                "extents disjoint, not touching"
            );
        }
    }

    #[test]
    fn truncate_then_extend_reads_zeros_not_the_old_durable_bytes() {
        let mut durable = b"0123456789".to_vec();
        let mut file = FileData::durable(10);
        file.truncate(3);
        file.write(5, b"x");
        assert_eq!(live(&file, &durable), b"012\0\0x");
        let expected = live(&file, &durable);
        apply(&file.sync(), &mut durable);
        assert_eq!(durable, expected);
        assert!(!file.is_dirty());
    }

    #[test]
    fn power_loss_forgets_everything_pending() {
        let durable = b"abc".to_vec();
        let mut file = FileData::durable(3);
        file.write(3, b"def");
        file.truncate(1);
        file.lose();
        assert_eq!(live(&file, &durable), b"abc");
        assert!(!file.is_dirty());
    }

    #[test]
    fn a_tear_keeps_the_live_prefix_and_the_durable_rest() {
        let mut durable = b"AAAAAAAA".to_vec();
        let mut file = FileData::durable(8);
        file.write(2, b"bbbbbbbbbb");
        assert_eq!(file.dirty_from(), Some(2));
        let plan = file.tear(4);
        apply(&plan, &mut durable);
        assert_eq!(durable, b"AAbbAAAA");
        assert_eq!(live(&file, &durable), b"AAbbAAAA");
        assert!(!file.is_dirty());
    }

    #[test]
    fn a_tear_never_applies_a_pending_truncation() {
        let mut durable = b"AAAAAAAA".to_vec();
        let mut file = FileData::durable(8);
        file.truncate(2);
        apply(&file.tear(8), &mut durable);
        assert_eq!(durable, b"AAAAAAAA");
        assert_eq!(file.durable_len(), 8);
    }
}
