//! One segment: a `.log` file of consecutive batches and its `.index`, named by the segment's
//! base offset (`00000000000000000042.log`). Only the last segment of a log is appended to;
//! earlier ones were synced, log and index, when the log rolled past them. The active segment's
//! index lives in memory only and is written when the segment is sealed: it is rebuilt by the
//! recovery scan anyway, and writing it per batch would only add unsynced writes.

use crate::env::{Disk, DiskFile};
use crate::storage::batch::{BatchHeader, RecordBatch, BATCH_HEADER_BYTES};
use crate::storage::index::{lookup, parse_index, IndexEntry};
use crate::storage::StorageError;
use std::path::PathBuf;

pub const LOG_SUFFIX: &str = ".log";
pub const INDEX_SUFFIX: &str = ".index";

pub fn log_name(base_offset: u64) -> String {
    format!("{base_offset:020}{LOG_SUFFIX}")
}

pub fn index_name(base_offset: u64) -> String {
    format!("{base_offset:020}{INDEX_SUFFIX}")
}

/// The base offset named by a segment file, if `name` is one.
pub fn parse_name(name: &str, suffix: &str) -> Option<u64> {
    let digits = name.strip_suffix(suffix)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// What opening the active segment found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Bytes cut from the end of the active segment.
    pub truncated_bytes: u64,
    /// Why the scan stopped before the end of the file, if it did.
    pub stop_reason: Option<String>,
}

pub struct Segment {
    pub base_offset: u64,
    next_offset: u64,
    log: DiskFile,
    entries: Vec<IndexEntry>,
}

struct Scan {
    entries: Vec<IndexEntry>,
    valid_bytes: u64,
    next_offset: u64,
    stop_reason: Option<String>,
}

impl Segment {
    /// Creates an empty segment; its directory entry is synced before it returns.
    pub fn create(disk: &Disk, base_offset: u64) -> Result<Segment, StorageError> {
        let log = disk.create(&PathBuf::from(log_name(base_offset)))?;
        Ok(Segment {
            base_offset,
            next_offset: base_offset,
            log,
            entries: Vec::new(),
        })
    }

    /// Opens a segment the log rolled past, ending where the next one begins. Its index is
    /// trusted if it is consistent with the file, and rebuilt from the log otherwise.
    pub fn open_sealed(
        disk: &Disk,
        base_offset: u64,
        next_offset: u64,
    ) -> Result<Segment, StorageError> {
        let log = disk.open_file(&PathBuf::from(log_name(base_offset)))?;
        let index_path = PathBuf::from(index_name(base_offset));
        let parsed = match disk.read(&index_path) {
            Ok(bytes) => parse_index(&bytes, base_offset, log.len()),
            Err(error) if error.is_not_found() => None,
            Err(error) => return Err(error.into()),
        };
        let entries = match parsed {
            Some(found) => found,
            None => {
                let scan = scan(&log, base_offset, None)?;
                if let Some(reason) = scan.stop_reason {
                    return Err(StorageError::Corrupt {
                        segment: log.path().display().to_string(),
                        position: scan.valid_bytes,
                        reason,
                    });
                }
                write_index(disk, base_offset, &scan.entries)?;
                scan.entries
            }
        };
        if entries
            .last()
            .is_some_and(|last| last.offset >= next_offset)
        {
            return Err(StorageError::Corrupt {
                segment: log.path().display().to_string(),
                position: 0,
                reason: format!("index reaches past the next segment's base {next_offset}"),
            });
        }
        Ok(Segment {
            base_offset,
            next_offset,
            log,
            entries,
        })
    }

    /// Opens the active (last) segment: scans every batch, keeps the intact prefix, truncates
    /// the first torn or corrupt batch and everything after it, and rebuilds the index in
    /// memory (an index file left from an earlier seal is stale and ignored).
    ///
    /// `keep_end`: offsets below it are known durable (synced by this process before it lost
    /// track of the log); if the scan would cut below it, the damage is not a torn tail but a
    /// failing read, and nothing is cut: the open fails so the caller can retry later.
    ///
    /// `trust_from` (the planted bug `recovery-trusts-lengths` only): batches from this offset
    /// on are taken on their header's word, checksum unchecked.
    pub fn recover(
        disk: &Disk,
        base_offset: u64,
        keep_end: u64,
        trust_from: Option<u64>,
    ) -> Result<(Segment, Recovery), StorageError> {
        let mut log = disk.open_file(&PathBuf::from(log_name(base_offset)))?;
        let scan = scan(&log, base_offset, trust_from)?;
        if scan.next_offset < keep_end {
            return Err(StorageError::Corrupt {
                segment: log.path().display().to_string(),
                position: scan.valid_bytes,
                reason: format!(
                    "recovery would cut synced offsets {}..{keep_end}: {}",
                    scan.next_offset,
                    scan.stop_reason.unwrap_or_default()
                ),
            });
        }
        let truncated_bytes = log.len() - scan.valid_bytes;
        if truncated_bytes > 0 {
            log.truncate(scan.valid_bytes)?;
            log.sync()?;
        }
        let segment = Segment {
            base_offset,
            next_offset: scan.next_offset,
            log,
            entries: scan.entries,
        };
        Ok((
            segment,
            Recovery {
                truncated_bytes,
                stop_reason: scan.stop_reason,
            },
        ))
    }

    pub fn next_offset(&self) -> u64 {
        self.next_offset
    }

    pub fn size_bytes(&self) -> u64 {
        self.log.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Appends one encoded batch whose base offset is this segment's next offset.
    pub fn append(&mut self, bytes: &[u8], header: &BatchHeader) -> Result<(), StorageError> {
        assert_eq!(header.base_offset, self.next_offset);
        let entry = IndexEntry {
            offset: header.base_offset,
            position: self.log.len(),
        };
        self.log.append(bytes)?;
        self.entries.push(entry);
        self.next_offset = header.next_offset();
        Ok(())
    }

    pub fn sync_log(&self) -> Result<(), StorageError> {
        Ok(self.log.sync()?)
    }

    /// The segment's log file, for a sync the caller pairs with another (a group commit).
    pub fn log_file(&self) -> &DiskFile {
        &self.log
    }

    /// Seals the segment: its log and its index file are durable when this returns.
    pub fn seal(&self, disk: &Disk) -> Result<(), StorageError> {
        self.log.sync()?;
        write_index(disk, self.base_offset, &self.entries)
    }

    /// The byte position of the batch holding `offset`.
    pub fn position_of(&self, offset: u64) -> Option<u64> {
        lookup(&self.entries, offset).map(|entry| entry.position)
    }

    /// Reads and verifies the batch at `position`; returns it and the next batch's position.
    pub fn read_batch_at(&self, position: u64) -> Result<(RecordBatch, u64), StorageError> {
        let corrupt = |reason: String| StorageError::Corrupt {
            segment: self.log.path().display().to_string(),
            position,
            reason,
        };
        let mut header_bytes = [0u8; BATCH_HEADER_BYTES];
        self.log.read_exact_at(&mut header_bytes, position)?;
        let header = BatchHeader::parse(&header_bytes).map_err(corrupt)?;
        let mut bytes = vec![0u8; header.total_bytes];
        self.log.read_exact_at(&mut bytes, position)?;
        let batch = RecordBatch::decode(&bytes).map_err(corrupt)?;
        Ok((batch, position + header.total_bytes as u64))
    }

    /// Drops every batch holding an offset at or above `offset`. A batch that straddles
    /// `offset` goes whole, so the new end may be below `offset`. Durable before it returns.
    pub fn truncate_to(&mut self, offset: u64) -> Result<u64, StorageError> {
        let keep = self.batches_kept(offset);
        let cut_position = self
            .entries
            .get(keep)
            .map_or(self.log.len(), |entry| entry.position);
        let new_next = self
            .entries
            .get(keep)
            .map_or(self.next_offset, |entry| entry.offset);
        self.log.truncate(cut_position)?;
        self.log.sync()?;
        self.entries.truncate(keep);
        self.next_offset = new_next;
        Ok(new_next)
    }

    /// How many batches `truncate_to(offset)` keeps: those starting below `offset`, except the
    /// last of them if it straddles it.
    fn batches_kept(&self, offset: u64) -> usize {
        let mut keep = self.entries.partition_point(|entry| entry.offset < offset);
        if keep > 0 && self.batch_next_offset(keep - 1) > offset {
            keep -= 1;
        }
        keep
    }

    /// Where `truncate_to(offset)` would end this segment, without cutting anything.
    pub fn truncation_end(&self, offset: u64) -> u64 {
        self.entries
            .get(self.batches_kept(offset))
            .map_or(self.next_offset, |entry| entry.offset)
    }

    fn batch_next_offset(&self, entry: usize) -> u64 {
        self.entries
            .get(entry + 1)
            .map_or(self.next_offset, |next| next.offset)
    }

    /// Every batch header in the segment, in order, verified (for rebuilding per-batch state
    /// such as the leader-epoch cache or producer sequences).
    ///
    /// `trust_from` (the planted bug `recovery-trusts-lengths` only): a batch from this offset
    /// on that fails its checksum is skipped instead of failing the rebuild.
    pub fn batches(&self, trust_from: Option<u64>) -> Result<Vec<RecordBatch>, StorageError> {
        let mut batches = Vec::with_capacity(self.entries.len());
        for entry in &self.entries {
            match self.read_batch_at(entry.position) {
                Ok((batch, _)) => batches.push(batch),
                Err(StorageError::Corrupt { .. })
                    if trust_from.is_some_and(|from| entry.offset >= from) => {}
                Err(error) => return Err(error),
            }
        }
        Ok(batches)
    }

    pub fn remove(self, disk: &Disk) -> Result<(), StorageError> {
        let base = self.base_offset;
        drop(self);
        disk.remove(&PathBuf::from(log_name(base)))?;
        match disk.remove(&PathBuf::from(index_name(base))) {
            Err(error) if !error.is_not_found() => Err(error.into()),
            _ => Ok(()),
        }
    }
}

/// Walks the batches of a segment file from its start and stops at the first one that is torn,
/// fails its checksum, or does not continue the offsets.
fn scan(log: &DiskFile, base_offset: u64, trust_from: Option<u64>) -> Result<Scan, StorageError> {
    let mut scan = Scan {
        entries: Vec::new(),
        valid_bytes: 0,
        next_offset: base_offset,
        stop_reason: None,
    };
    let len = log.len();
    // Each iteration consumes at least one header's worth of bytes, so this ends.
    while scan.valid_bytes < len {
        let position = scan.valid_bytes;
        if len - position < BATCH_HEADER_BYTES as u64 {
            scan.stop_reason = Some(format!(
                "torn header: {} bytes at {position}",
                len - position
            ));
            break;
        }
        let mut header_bytes = [0u8; BATCH_HEADER_BYTES];
        log.read_exact_at(&mut header_bytes, position)?;
        let header = match BatchHeader::parse(&header_bytes) {
            Ok(header) => header,
            Err(reason) => {
                scan.stop_reason = Some(format!("bad header at {position}: {reason}"));
                break;
            }
        };
        if position + header.total_bytes as u64 > len {
            scan.stop_reason = Some(format!("torn batch at {position}"));
            break;
        }
        let trusted = trust_from.is_some_and(|from| header.base_offset >= from);
        if !trusted {
            let mut bytes = vec![0u8; header.total_bytes];
            log.read_exact_at(&mut bytes, position)?;
            if let Err(reason) = RecordBatch::decode(&bytes) {
                scan.stop_reason = Some(format!("corrupt batch at {position}: {reason}"));
                break;
            }
        }
        if header.base_offset != scan.next_offset {
            scan.stop_reason = Some(format!(
                "batch at {position} starts at offset {}, expected {}",
                header.base_offset, scan.next_offset
            ));
            break;
        }
        scan.entries.push(IndexEntry {
            offset: header.base_offset,
            position,
        });
        scan.valid_bytes = position + header.total_bytes as u64;
        scan.next_offset = header.next_offset();
    }
    Ok(scan)
}

/// Writes a segment's whole index durably (file synced; its directory entry synced on create).
fn write_index(disk: &Disk, base_offset: u64, entries: &[IndexEntry]) -> Result<(), StorageError> {
    let mut index = disk.create(&PathBuf::from(index_name(base_offset)))?;
    let bytes: Vec<u8> = entries.iter().flat_map(|entry| entry.encode()).collect();
    if !bytes.is_empty() {
        index.append(&bytes)?;
    }
    index.sync()?;
    Ok(())
}
