//! The offset index of one segment: one fixed 16-byte entry per batch, `(base_offset,
//! byte position)`, both big-endian u64. Entries are appended as batches are; the index is
//! synced when its segment rolls. The active segment's index is rebuilt from the log at open,
//! so a crash can never leave an index pointing at data that is not there.

pub const INDEX_ENTRY_BYTES: usize = 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IndexEntry {
    pub offset: u64,
    pub position: u64,
}

impl IndexEntry {
    pub fn encode(&self) -> [u8; INDEX_ENTRY_BYTES] {
        let mut bytes = [0u8; INDEX_ENTRY_BYTES];
        bytes[..8].copy_from_slice(&self.offset.to_be_bytes());
        bytes[8..].copy_from_slice(&self.position.to_be_bytes());
        bytes
    }
}

/// Parses a whole index file and checks it against its segment: offsets strictly increasing
/// from the segment's base, positions strictly increasing and inside the segment. `None` when
/// the file does not pass, so the caller rebuilds it from the log.
pub fn parse_index(bytes: &[u8], base_offset: u64, segment_bytes: u64) -> Option<Vec<IndexEntry>> {
    if bytes.len() % INDEX_ENTRY_BYTES != 0 {
        return None;
    }
    let mut entries = Vec::with_capacity(bytes.len() / INDEX_ENTRY_BYTES);
    for chunk in bytes.chunks_exact(INDEX_ENTRY_BYTES) {
        let mut offset = [0u8; 8];
        let mut position = [0u8; 8];
        offset.copy_from_slice(&chunk[..8]);
        position.copy_from_slice(&chunk[8..]);
        let entry = IndexEntry {
            offset: u64::from_be_bytes(offset),
            position: u64::from_be_bytes(position),
        };
        let in_order = match entries.last() {
            None => entry.offset == base_offset && entry.position == 0,
            Some(previous) => {
                let previous: &IndexEntry = previous;
                entry.offset > previous.offset && entry.position > previous.position
            }
        };
        if !in_order || entry.position >= segment_bytes {
            return None;
        }
        entries.push(entry);
    }
    if entries.is_empty() && segment_bytes > 0 {
        return None;
    }
    Some(entries)
}

/// The entry of the batch holding `offset`: the last entry whose base is at or below it.
pub fn lookup(entries: &[IndexEntry], offset: u64) -> Option<&IndexEntry> {
    let after = entries.partition_point(|entry| entry.offset <= offset);
    after.checked_sub(1).map(|i| &entries[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_looks_up() {
        let entries = [
            IndexEntry {
                offset: 10,
                position: 0,
            },
            IndexEntry {
                offset: 13,
                position: 100,
            },
            IndexEntry {
                offset: 20,
                position: 250,
            },
        ];
        let bytes: Vec<u8> = entries.iter().flat_map(|e| e.encode()).collect();
        let parsed = parse_index(&bytes, 10, 300).unwrap();
        assert_eq!(parsed, entries);
        assert_eq!(lookup(&parsed, 9), None);
        assert_eq!(lookup(&parsed, 10).unwrap().position, 0);
        assert_eq!(lookup(&parsed, 19).unwrap().position, 100);
        assert_eq!(lookup(&parsed, 99).unwrap().position, 250);
    }

    #[test]
    fn rejects_inconsistent_files() {
        let bad = [IndexEntry {
            offset: 11,
            position: 0,
        }];
        let bytes: Vec<u8> = bad.iter().flat_map(|e| e.encode()).collect();
        assert!(parse_index(&bytes, 10, 300).is_none());
        assert!(parse_index(&bytes[..5], 11, 300).is_none());
        let outside = [
            IndexEntry {
                offset: 11,
                position: 0,
            },
            IndexEntry {
                offset: 12,
                position: 400,
            },
        ];
        let bytes: Vec<u8> = outside.iter().flat_map(|e| e.encode()).collect();
        assert!(parse_index(&bytes, 11, 300).is_none());
    }
}
