//! The recovery point of a log: the end of what the log knows it synced, kept on disk beside
//! it, so that recovery after a crash never cuts below it. Torn writes only ever damage what was
//! not yet synced; a batch below the recovery point that fails its checksum was damaged by the
//! disk (or a failing read), so recovery refuses to open the log instead of taking the damage
//! for a torn tail and silently dropping acknowledged records (found by a queue swarm: a broker
//! restarted under read corruption cut its whole offsets partition and then led it).
//!
//! Two small files, written in turn (truncate, append, sync), each holding
//! `magic | sequence | synced end | CRC32C`: a crash while one is written leaves the other
//! whole, and opening takes the valid one with the highest sequence. A file that is present,
//! non-empty and fails its check while the other is fine was torn mid-write; both failing is a
//! failing disk, and the log does not open. The point is written after the log's own sync and
//! before the log reports the offsets synced, and lowered before a truncation cuts below it.
//! A group commit writes it differently: the point of the previous group (already durable in
//! the log) is synced beside the log's fsync of this group, so it costs no second wait; it then
//! lags the log by one group until the log goes idle and catches it up. A lagging point is
//! safe — it never claims more than the log holds — and only narrows what recovery can tell
//! apart: a damaged batch in the last group before a power loss reads as a torn tail.
//! That group write is begun under the broker's lock and synced after it is released
//! ([`RecoveryPoint::write_alongside`], then [`RecoveryPoint::finish_alongside`]): meanwhile
//! it is *pending*, and a `record` (a roll, an `acks=1` sync, a truncation lowering the point)
//! takes the next sequence, in the other file, so the newer record wins on disk whichever sync
//! ends first, and the pending one no longer counts once it finishes.

use crate::env::{Disk, DiskFile, PendingSync};
use crate::storage::StorageError;
use std::path::Path;

/// The two files, written alternately.
pub const FILES: [&str; 2] = ["recovery-point.0", "recovery-point.1"];
const MAGIC: u32 = 0x464c_5250; // "FLRP"
const RECORD_BYTES: usize = 4 + 8 + 8 + 4;

pub struct RecoveryPoint {
    files: [DiskFile; 2],
    /// Sequence of the last record written; the next goes to `files[(sequence + 1) % 2]`.
    sequence: u64,
    synced_end: u64,
    /// A group's record written, its sync not finished yet (at most one at a time).
    pending: Option<PointWrite>,
}

/// A record written beside a log's group sync, durable once that sync finishes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PointWrite {
    sequence: u64,
    synced_end: u64,
}

fn encode(sequence: u64, synced_end: u64) -> [u8; RECORD_BYTES] {
    let mut bytes = [0u8; RECORD_BYTES];
    bytes[0..4].copy_from_slice(&MAGIC.to_be_bytes());
    bytes[4..12].copy_from_slice(&sequence.to_be_bytes());
    bytes[12..20].copy_from_slice(&synced_end.to_be_bytes());
    let crc = crc32c::crc32c(&bytes[..20]);
    bytes[20..24].copy_from_slice(&crc.to_be_bytes());
    bytes
}

/// `(sequence, synced end)`, or why the bytes are not a record.
fn decode(bytes: &[u8]) -> Result<(u64, u64), String> {
    if bytes.len() != RECORD_BYTES {
        return Err(format!("{} bytes, expected {RECORD_BYTES}", bytes.len()));
    }
    let word = |range: std::ops::Range<usize>| {
        let mut buf = [0u8; 8];
        buf[8 - range.len()..].copy_from_slice(&bytes[range]);
        u64::from_be_bytes(buf)
    };
    if word(0..4) != u64::from(MAGIC) {
        return Err("bad magic".to_string());
    }
    let stored = word(20..24) as u32;
    let computed = crc32c::crc32c(&bytes[..20]);
    if stored != computed {
        return Err(format!(
            "checksum mismatch (stored {stored:#x}, computed {computed:#x})"
        ));
    }
    Ok((word(4..12), word(12..20)))
}

fn corrupt(disk: &Disk, reason: String) -> StorageError {
    StorageError::CorruptRecoveryPoint {
        path: disk.root().display().to_string(),
        reason,
    }
}

impl RecoveryPoint {
    /// Opens (creating if absent) the recovery point in `disk`'s root.
    pub fn open(disk: &Disk) -> Result<RecoveryPoint, StorageError> {
        let mut created = false;
        let mut open = |name: &str| -> Result<DiskFile, StorageError> {
            let path = Path::new(name);
            if disk.exists(path) {
                return Ok(disk.open_file(path)?);
            }
            created = true;
            let file = disk.create(path)?;
            file.sync()?;
            Ok(file)
        };
        let files = [open(FILES[0])?, open(FILES[1])?];
        if created {
            disk.sync_dir(Path::new(""))?;
        }
        let mut best: Option<(u64, u64)> = None;
        let mut damaged = Vec::new();
        for file in &files {
            if file.is_empty() {
                continue; // Fresh, or truncated by a write a crash cut short.
            }
            let mut bytes = vec![0u8; usize::try_from(file.len()).unwrap_or(usize::MAX).min(64)];
            file.read_exact_at(&mut bytes, 0)?;
            match decode(&bytes) {
                Ok(record) => best = best.max(Some(record)),
                Err(reason) => damaged.push(format!("{}: {reason}", file.path().display())),
            }
        }
        if best.is_none() && !damaged.is_empty() {
            return Err(corrupt(disk, damaged.join("; ")));
        }
        let (sequence, synced_end) = best.unwrap_or((0, 0));
        Ok(RecoveryPoint {
            files,
            sequence,
            synced_end,
            pending: None,
        })
    }

    /// The end the log had synced when the point was last written.
    pub fn synced_end(&self) -> u64 {
        self.synced_end
    }

    /// The most the point may claim on disk: its synced end, or a pending group's record if
    /// that claims more. A truncation below it must lower the point first.
    pub fn claimed_end(&self) -> u64 {
        let pending = self.pending.map_or(0, |write| write.synced_end);
        self.synced_end.max(pending)
    }

    /// Records `synced_end` durably. On error the point's state on disk is unknown: the caller
    /// takes its log offline. A pending group record is superseded (its sequence is lower).
    pub fn record(&mut self, synced_end: u64) -> Result<(), StorageError> {
        if synced_end == self.synced_end && self.pending.is_none() {
            return Ok(());
        }
        let sequence = self.sequence + 1;
        let file = &mut self.files[(sequence % 2) as usize];
        file.truncate(0)?;
        file.append(&encode(sequence, synced_end))?;
        file.sync()?;
        self.sequence = sequence;
        self.synced_end = synced_end;
        self.pending = None;
        Ok(())
    }

    /// Writes `synced_end` as the next record for a group commit, to be synced beside the log
    /// ([`Self::begin_pending_sync`]) and counted by [`Self::finish_alongside`]. `synced_end`
    /// must already be durable in the log — the end an *earlier* sync covered — so the point
    /// lags the log by one group; the log catches it up once no appends are pending. `None`
    /// when it would not raise the point (only `record` lowers it: before a cut, durably).
    pub fn write_alongside(&mut self, synced_end: u64) -> Result<Option<PointWrite>, StorageError> {
        assert!(self.pending.is_none(), "one group sync at a time");
        if synced_end <= self.synced_end {
            return Ok(None);
        }
        let sequence = self.sequence + 1;
        let file = &mut self.files[(sequence % 2) as usize];
        file.truncate(0)?;
        file.append(&encode(sequence, synced_end))?;
        let write = PointWrite {
            sequence,
            synced_end,
        };
        self.sequence = sequence;
        self.pending = Some(write);
        Ok(Some(write))
    }

    /// Begins the sync of the pending group record's file.
    pub fn begin_pending_sync(&self) -> Option<PendingSync> {
        let write = self.pending?;
        Some(self.files[(write.sequence % 2) as usize].begin_sync())
    }

    /// The sync of `write` succeeded: the point stands there, unless a later `record`
    /// superseded it meanwhile.
    pub fn finish_alongside(&mut self, write: PointWrite) {
        if self.pending == Some(write) {
            self.synced_end = write.synced_end;
            self.pending = None;
        }
    }

    /// The sync of `write` failed: the caller takes its log offline; nothing more is claimed.
    pub fn abandon(&mut self, write: PointWrite) {
        if self.pending == Some(write) {
            self.pending = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::{DiskFault, DiskFaults, Mode};

    fn disk(root: &Path) -> (Disk, DiskFaults) {
        let faults = DiskFaults::new();
        let disk = Disk::open(Mode::Real, root.to_path_buf(), faults.clone()).expect("disk");
        (disk, faults)
    }

    #[test]
    fn records_round_trip_and_every_flipped_bit_is_caught() {
        let bytes = encode(7, 1234);
        assert_eq!(decode(&bytes), Ok((7, 1234)));
        for bit in 0..RECORD_BYTES * 8 {
            let mut flipped = bytes;
            flipped[bit / 8] ^= 1 << (bit % 8);
            assert!(decode(&flipped).is_err(), "bit {bit}");
        }
        assert!(decode(&bytes[..10]).is_err());
    }

    #[test]
    fn the_latest_point_survives_reopening_and_a_torn_file_falls_back_to_the_other() {
        let root = tempfile::tempdir().expect("temporary directory");
        let (disk, _) = disk(root.path());
        let mut point = RecoveryPoint::open(&disk).expect("open");
        assert_eq!(point.synced_end(), 0);
        point.record(10).expect("record");
        point.record(25).expect("record");
        drop(point);
        assert_eq!(RecoveryPoint::open(&disk).expect("reopen").synced_end(), 25);
        // The newer file torn by a crash: the older point stands.
        let newer = Path::new(FILES[0]); // sequence 2 went to file 0
        let mut file = disk.open_file(newer).expect("file");
        file.truncate(5).expect("tear");
        drop(file);
        assert_eq!(RecoveryPoint::open(&disk).expect("reopen").synced_end(), 10);
    }

    #[test]
    fn a_failing_read_of_both_files_refuses_instead_of_reading_zero() {
        let root = tempfile::tempdir().expect("temporary directory");
        let (disk, faults) = disk(root.path());
        let mut point = RecoveryPoint::open(&disk).expect("open");
        point.record(3).expect("record");
        point.record(9).expect("record");
        drop(point);
        faults.inject(DiskFault::ReadCorruption);
        assert!(matches!(
            RecoveryPoint::open(&disk),
            Err(StorageError::CorruptRecoveryPoint { .. })
        ));
        faults.lift_all();
        assert_eq!(RecoveryPoint::open(&disk).expect("reopen").synced_end(), 9);
    }

    /// Writes `end` beside `log`'s sync and waits for both, as a group commit does.
    fn record_alongside(
        point: &mut RecoveryPoint,
        end: u64,
        log: &DiskFile,
    ) -> Result<(), StorageError> {
        let write = point.write_alongside(end)?;
        let mut syncs = vec![log.begin_sync()];
        syncs.extend(point.begin_pending_sync());
        for outcome in PendingSync::finish_all(syncs) {
            if let Err(error) = outcome {
                if let Some(write) = write {
                    point.abandon(write);
                }
                return Err(error.into());
            }
        }
        if let Some(write) = write {
            point.finish_alongside(write);
        }
        Ok(())
    }

    #[test]
    fn a_point_recorded_alongside_a_log_sync_takes_the_given_end_and_survives_reopening() {
        let root = tempfile::tempdir().expect("temporary directory");
        let (disk, faults) = disk(root.path());
        let log = disk.create(Path::new("log")).expect("log file");
        let mut point = RecoveryPoint::open(&disk).expect("open");
        record_alongside(&mut point, 0, &log).expect("nothing to raise: the log alone");
        assert_eq!(point.synced_end(), 0);
        record_alongside(&mut point, 12, &log).expect("group sync");
        assert_eq!(point.synced_end(), 12);
        // Never lowered here: a cut lowers it with `record`, before the cut.
        record_alongside(&mut point, 5, &log).expect("lower end ignored");
        assert_eq!(point.synced_end(), 12);
        assert_eq!(RecoveryPoint::open(&disk).expect("reopen").synced_end(), 12);
        // A failed fsync of either file does not count as recorded (the caller goes offline).
        faults.inject(DiskFault::FsyncError);
        assert!(record_alongside(&mut point, 20, &log).is_err());
        assert_eq!(point.synced_end(), 12);
    }

    #[test]
    fn a_record_made_while_a_group_write_is_pending_wins_on_disk_whichever_sync_ends_first() {
        let root = tempfile::tempdir().expect("temporary directory");
        let (disk, _) = disk(root.path());
        let mut point = RecoveryPoint::open(&disk).expect("open");
        point.record(10).expect("record");
        let write = point.write_alongside(30).expect("write").expect("raises");
        assert_eq!(point.claimed_end(), 30, "a pending write claims its end");
        // A truncation to 20 lowers the point while the group's sync is still running.
        point.record(20).expect("lowered");
        let pending = point.begin_pending_sync();
        assert!(pending.is_none(), "superseded: nothing pending any more");
        point.finish_alongside(write);
        assert_eq!((point.synced_end(), point.claimed_end()), (20, 20));
        assert_eq!(RecoveryPoint::open(&disk).expect("reopen").synced_end(), 20);
    }
}
