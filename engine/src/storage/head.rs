//! The durable head of one partition: the first offset consumers may still read (Kafka's
//! logStartOffset, KIP-107). Records below it were consumed, purged or dropped.
//!
//! Fault model: a crash loses whatever was not synced and may tear unsynced writes; a disk may
//! fail writes and syncs, fill up, or return flipped bits on read. Invariants: the file is only
//! ever replaced whole ([`Disk::write_atomic`]: temporary file, sync, rename, directory sync), so
//! a crash leaves the old head or the new one, never a mix; a stored head is reported durable
//! only after all of that succeeded; and every read is checked against the file's CRC32C, so a
//! damaged file is an error — never a head of 0, which would serve deleted records again.

use crate::env::Disk;
use crate::storage::StorageError;
use std::path::{Path, PathBuf};

/// The head's file name inside the partition's directory (segments are named by digits, so it
/// never collides with one).
pub const HEAD_FILE: &str = "head";
/// Marks a head file, so a stray file of the right length is not taken for one.
const MAGIC: [u8; 4] = *b"HEAD";
/// Magic, head (big-endian u64), CRC32C of the two.
pub const HEAD_FILE_BYTES: usize = 16;

/// The file's bytes for `head`.
pub fn encode(head: u64) -> [u8; HEAD_FILE_BYTES] {
    let mut bytes = [0u8; HEAD_FILE_BYTES];
    bytes[..4].copy_from_slice(&MAGIC);
    bytes[4..12].copy_from_slice(&head.to_be_bytes());
    let crc = crc32c::crc32c(&bytes[..12]);
    bytes[12..].copy_from_slice(&crc.to_be_bytes());
    bytes
}

/// The head in `bytes`, or why they are not a head file.
pub fn decode(bytes: &[u8]) -> Result<u64, String> {
    if bytes.len() != HEAD_FILE_BYTES {
        return Err(format!(
            "{} bytes, a head file has {HEAD_FILE_BYTES}",
            bytes.len()
        ));
    }
    let mut stored = [0u8; 4];
    stored.copy_from_slice(&bytes[12..]);
    let computed = crc32c::crc32c(&bytes[..12]);
    if u32::from_be_bytes(stored) != computed {
        return Err(format!(
            "checksum mismatch (stored {:#010x}, computed {computed:#010x})",
            u32::from_be_bytes(stored)
        ));
    }
    if bytes[..4] != MAGIC {
        return Err("not a head file (bad magic)".into());
    }
    let mut head = [0u8; 8];
    head.copy_from_slice(&bytes[4..12]);
    Ok(u64::from_be_bytes(head))
}

/// One partition's head file on a node's disk.
#[derive(Clone, Debug)]
pub struct HeadFile {
    disk: Disk,
    /// Relative to the disk's root: `<partition dir>/head`.
    path: PathBuf,
}

impl HeadFile {
    /// The head file of the partition whose log lives in `dir` (relative to `disk`'s root).
    pub fn new(disk: &Disk, dir: &Path) -> HeadFile {
        HeadFile {
            disk: disk.clone(),
            path: dir.join(HEAD_FILE),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The stored head; 0 when no head was ever stored. A file that fails its check is an
    /// error (`CorruptHead`), so the caller keeps the partition closed until a read succeeds.
    pub fn load(&self) -> Result<u64, StorageError> {
        let bytes = match self.disk.read(&self.path) {
            Ok(bytes) => bytes,
            Err(error) if error.is_not_found() => return Ok(0),
            Err(error) => return Err(error.into()),
        };
        decode(&bytes).map_err(|reason| StorageError::CorruptHead {
            path: self.path.display().to_string(),
            reason,
        })
    }

    /// Replaces the stored head; durable when this returns `Ok`. On error the file holds the
    /// old head or the new one — which is unknown, so the caller must not report either.
    pub fn store(&self, head: u64) -> Result<(), StorageError> {
        self.disk.write_atomic(&self.path, &encode(head))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::{DiskFault, DiskFaultKind, DiskFaults, Mode};

    #[test]
    fn heads_round_trip_and_damage_is_detected() {
        for head in [0, 1, 4096, u64::MAX] {
            assert_eq!(decode(&encode(head)), Ok(head));
        }
        let good = encode(77);
        for i in 0..HEAD_FILE_BYTES {
            let mut bad = good;
            bad[i] ^= 0x10;
            assert!(decode(&bad).is_err(), "a flipped bit in byte {i} is caught");
        }
        assert!(decode(&good[..15]).is_err(), "a short file is caught");
        assert!(decode(&[]).is_err(), "an empty file is caught");
    }

    #[test]
    fn a_stored_head_loads_back_and_corrupt_reads_are_errors_not_zero() {
        let root = tempfile::tempdir().expect("temporary directory");
        let faults = DiskFaults::new();
        let disk = Disk::open(Mode::Real, root.path().to_path_buf(), faults.clone()).expect("disk");
        disk.create_dir_all(Path::new("orders-0")).expect("dir");
        let file = HeadFile::new(&disk, Path::new("orders-0"));
        assert_eq!(file.load().expect("no file yet"), 0);
        file.store(42).expect("store");
        file.store(43).expect("store again");
        assert_eq!(file.load().expect("load"), 43);
        faults.inject(DiskFault::ReadCorruption);
        assert!(matches!(file.load(), Err(StorageError::CorruptHead { .. })));
        faults.lift(DiskFaultKind::ReadCorruption);
        faults.inject(DiskFault::FsyncError);
        assert!(file.store(50).is_err(), "a failed sync is reported");
        faults.lift(DiskFaultKind::FsyncError);
        let head = file.load().expect("load after a failed store");
        assert!(
            head == 43 || head == 50,
            "the old head or the new one: {head}"
        );
    }
}
