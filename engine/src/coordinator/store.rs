//! The coordinator's durable state: a write-ahead log of [`Txn`]s (a storage [`Log`] with
//! `fsync: always`) and periodic snapshots of the whole [`Tree`].
//!
//! Fault model: power loss (unsynced writes lost, torn tails), fsync EIO, write EIO, disk full.
//! Invariants: a txn is applied in memory only after its WAL record is synced; a txn whose
//! append or sync failed is not applied, and the WAL is cut back to the last applied txn before
//! the next write is accepted (if the cut cannot be made, writes keep failing). Recovery loads
//! the newest snapshot, then replays the WAL after it; a snapshot is durable (atomic rename,
//! directory synced) before the WAL segments it covers are removed.

use crate::bugs::{Bug, Bugs};
use crate::coordinator::tree::{Tree, Txn};
use crate::env::Disk;
use crate::storage::{BatchMeta, FsyncPolicy, Log, LogOptions, Record, StorageError};
use serde::{Deserialize, Serialize};
use std::path::Path;

const WAL_DIR: &str = "wal";
const SNAPSHOT_FILE: &str = "snapshot";
const WAL_SEGMENT_BYTES: u64 = 1024 * 1024;
/// Bytes read from the WAL per replay step.
const REPLAY_CHUNK_BYTES: u64 = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("write-ahead log: {0}")]
    Storage(#[from] StorageError),
    #[error("snapshot: {0}")]
    Snapshot(String),
    #[error("WAL record at offset {offset}: {reason}")]
    Replay { offset: u64, reason: String },
    #[error("the write-ahead log could not be repaired after an earlier failure: {0}")]
    Broken(String),
}

#[derive(Serialize, Deserialize)]
struct SnapshotFile {
    /// The first WAL offset the snapshot does not include.
    wal_next: u64,
    tree: Tree,
}

pub struct Store {
    disk: Disk,
    wal: Log,
    /// The WAL end after the last txn that was applied; the WAL is cut back to it after a
    /// failed append.
    applied_end: u64,
    needs_repair: bool,
    snapshot_every_txns: u64,
    txns_since_snapshot: u64,
    /// `Always`, unless the planted bug `coordinator-ack-before-wal-sync` is on.
    fsync: FsyncPolicy,
}

fn wal_options(fsync: FsyncPolicy) -> LogOptions {
    LogOptions {
        segment_bytes_max: WAL_SEGMENT_BYTES,
        fsync,
    }
}

impl Store {
    /// Opens the store and rebuilds the tree: snapshot, then every WAL txn after it.
    pub fn open(
        disk: &Disk,
        snapshot_every_txns: u64,
        bugs: Bugs,
    ) -> Result<(Store, Tree), StoreError> {
        let fsync = if bugs.has(Bug::CoordinatorAckBeforeWalSync) {
            FsyncPolicy::Never
        } else {
            FsyncPolicy::Always
        };
        let (mut tree, wal_next) = match disk.read(Path::new(SNAPSHOT_FILE)) {
            Ok(bytes) => {
                let snapshot = decode_snapshot(&bytes)?;
                (snapshot.tree, snapshot.wal_next)
            }
            Err(error) if error.is_not_found() => (Tree::default(), 0),
            Err(error) => return Err(StoreError::Snapshot(error.to_string())),
        };
        let wal = Log::open(disk, Path::new(WAL_DIR), wal_options(fsync))?;
        if wal_next < wal.start() {
            return Err(StoreError::Snapshot(format!(
                "snapshot ends at WAL offset {wal_next} but the WAL starts at {}",
                wal.start()
            )));
        }
        let mut from = wal_next;
        // Each pass consumes at least one record (reads return at least one batch).
        while from < wal.end() {
            let records = wal.read_records(from, REPLAY_CHUNK_BYTES)?;
            let Some((last, _)) = records.last() else {
                break;
            };
            let next = last + 1;
            for (offset, record) in records {
                let txn: Txn =
                    postcard::from_bytes(&record.value).map_err(|error| StoreError::Replay {
                        offset,
                        reason: error.to_string(),
                    })?;
                tree.apply(&txn, offset + 1)
                    .map_err(|error| StoreError::Replay {
                        offset,
                        reason: error.to_string(),
                    })?;
            }
            from = next;
        }
        let applied_end = wal.end();
        let store = Store {
            disk: disk.clone(),
            wal,
            applied_end,
            needs_repair: false,
            snapshot_every_txns: snapshot_every_txns.max(1),
            txns_since_snapshot: 0,
            fsync,
        };
        Ok((store, tree))
    }

    /// The zxid the next txn will get.
    pub fn next_zxid(&self) -> u64 {
        self.applied_end + 1
    }

    /// Appends and syncs one txn; returns its zxid. On error the txn must not be applied.
    pub fn append(&mut self, txn: &Txn) -> Result<u64, StoreError> {
        if self.needs_repair {
            self.repair()?;
        }
        let value = postcard::to_allocvec(txn).map_err(|e| StoreError::Snapshot(e.to_string()))?;
        match self
            .wal
            .append(BatchMeta::default(), vec![Record::value(value)])
        {
            Ok(info) => {
                assert!(
                    info.synced || self.fsync != FsyncPolicy::Always,
                    "the WAL syncs every append"
                );
                assert_eq!(info.base_offset, self.applied_end);
                self.applied_end = info.last_offset + 1;
                self.txns_since_snapshot += 1;
                Ok(info.base_offset + 1)
            }
            Err(error) => {
                // The record may be on disk, unsynced, or half there: cut it before the next write.
                self.needs_repair = true;
                Err(error.into())
            }
        }
    }

    /// Reopens the WAL if it went offline and cuts it back to the last applied txn, durably.
    fn repair(&mut self) -> Result<(), StoreError> {
        if self.wal.offline_reason().is_some() {
            self.wal = Log::open(&self.disk, Path::new(WAL_DIR), wal_options(self.fsync))
                .map_err(|error| StoreError::Broken(error.to_string()))?;
        }
        if self.wal.end() > self.applied_end {
            self.wal
                .truncate_to(self.applied_end)
                .map_err(|error| StoreError::Broken(error.to_string()))?;
        }
        if self.wal.end() != self.applied_end {
            return Err(StoreError::Broken(format!(
                "the WAL ends at {} after repair, expected {}",
                self.wal.end(),
                self.applied_end
            )));
        }
        self.needs_repair = false;
        Ok(())
    }

    /// Writes a snapshot if enough txns passed since the last one, then drops the WAL segments
    /// it covers. A failure is logged and retried later: the WAL alone still holds everything.
    pub fn maybe_snapshot(&mut self, tree: &Tree) {
        if self.txns_since_snapshot < self.snapshot_every_txns || self.needs_repair {
            return;
        }
        if let Err(error) = self.snapshot(tree) {
            tracing::warn!(%error, "snapshot failed; the WAL keeps everything until the next try");
        }
    }

    fn snapshot(&mut self, tree: &Tree) -> Result<(), StoreError> {
        let file = SnapshotFile {
            wal_next: self.applied_end,
            tree: tree.clone(),
        };
        let body = postcard::to_allocvec(&file).map_err(|e| StoreError::Snapshot(e.to_string()))?;
        let mut bytes = crc32c::crc32c(&body).to_be_bytes().to_vec();
        bytes.extend_from_slice(&body);
        self.disk
            .write_atomic(Path::new(SNAPSHOT_FILE), &bytes)
            .map_err(|error| StoreError::Snapshot(error.to_string()))?;
        self.txns_since_snapshot = 0;
        self.wal.remove_segments_below(file.wal_next)?;
        Ok(())
    }
}

fn decode_snapshot(bytes: &[u8]) -> Result<SnapshotFile, StoreError> {
    if bytes.len() < 4 {
        return Err(StoreError::Snapshot("shorter than its checksum".into()));
    }
    let (crc, body) = bytes.split_at(4);
    let mut stored = [0u8; 4];
    stored.copy_from_slice(crc);
    if crc32c::crc32c(body) != u32::from_be_bytes(stored) {
        return Err(StoreError::Snapshot("checksum mismatch".into()));
    }
    postcard::from_bytes(body).map_err(|error| StoreError::Snapshot(error.to_string()))
}
