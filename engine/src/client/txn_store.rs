//! A transactional producer's local transaction record (RocketMQ's "local transaction table"):
//! an append-only, checksummed, fsynced log on the producer's own disk. Each transaction gets
//! a `Begun` entry before its half message is sent and a `Done` entry that holds the local
//! outcome *and* its business effect in one record — one fsynced write, so after any crash
//! both are there or neither is. Check-backs are answered from it, also by a new producer
//! instance on the same disk after the first one crashed.
//!
//! Fault model: the process loses power at any moment (unsynced writes are lost); the disk
//! fails syncs or writes. Invariants: an entry is reported only after it was synced; a failed
//! write leaves the store offline (its state on disk is unknown) until it is reopened, which
//! recovers exactly what reached the disk; a transaction's outcome is written at most once.

use crate::env::Disk;
use crate::storage::batch::BatchMeta;
use crate::storage::{FsyncPolicy, Log, LogOptions, Record, StorageError};
use crate::wire::broker_protocol::LocalOutcome;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Transactions one store remembers.
pub const LOCAL_TXNS_MAX: usize = 1_000_000;
/// The largest business effect stored with an outcome.
pub const EFFECT_BYTES_MAX: usize = 64 * 1024;
const SEGMENT_BYTES: u64 = 1024 * 1024;

/// What the store knows of one transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LocalState {
    /// The producer was about to send the half message; no local outcome yet.
    Begun,
    /// The local transaction ended so, with this business effect, in one durable write.
    Done {
        outcome: LocalOutcome,
        effect: Vec<u8>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum Entry {
    Begun {
        txn_id: String,
    },
    Done {
        txn_id: String,
        outcome: LocalOutcome,
        effect: Vec<u8>,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum TxnStoreError {
    /// The write may or may not be on disk; the store is offline until reopened.
    #[error("local transaction store: {0}")]
    Storage(#[from] StorageError),
    #[error("transaction {txn_id:?} is already in the local store")]
    Exists { txn_id: String },
    #[error("transaction {txn_id:?} has no Begun entry, or already has an outcome")]
    NotBegun { txn_id: String },
    #[error("the local store holds its maximum of {LOCAL_TXNS_MAX} transactions")]
    Full,
    #[error("a business effect of {bytes} bytes exceeds {EFFECT_BYTES_MAX}")]
    EffectTooLarge { bytes: usize },
}

pub struct LocalTxnStore {
    disk: Disk,
    dir: PathBuf,
    log: Log,
    entries: BTreeMap<String, LocalState>,
}

fn log_options() -> LogOptions {
    LogOptions {
        segment_bytes_max: SEGMENT_BYTES,
        fsync: FsyncPolicy::Always,
    }
}

impl LocalTxnStore {
    /// Opens (or creates) the store in `dir` under `disk` and reads back every entry.
    pub fn open(disk: &Disk, dir: &Path) -> Result<LocalTxnStore, TxnStoreError> {
        let log = Log::open(disk, dir, log_options())?;
        let mut entries = BTreeMap::new();
        for batch in log.batches()? {
            for record in &batch.records {
                match postcard::from_bytes::<Entry>(&record.value) {
                    Ok(Entry::Begun { txn_id }) => {
                        entries.entry(txn_id).or_insert(LocalState::Begun);
                    }
                    Ok(Entry::Done {
                        txn_id,
                        outcome,
                        effect,
                    }) => {
                        entries.insert(txn_id, LocalState::Done { outcome, effect });
                    }
                    Err(error) => tracing::warn!(%error, "skipping an unreadable local txn entry"),
                }
            }
        }
        Ok(LocalTxnStore {
            disk: disk.clone(),
            dir: dir.to_path_buf(),
            log,
            entries,
        })
    }

    /// Reopens from the disk after a failed write: recovers exactly what reached it.
    pub fn reopen(&mut self) -> Result<(), TxnStoreError> {
        *self = LocalTxnStore::open(&self.disk, &self.dir)?;
        Ok(())
    }

    pub fn state(&self, txn_id: &str) -> Option<&LocalState> {
        self.entries.get(txn_id)
    }

    /// Every transaction and its state, by id: the producer's ground truth at the end of a run.
    pub fn entries(&self) -> impl Iterator<Item = (&String, &LocalState)> {
        self.entries.iter()
    }

    fn append(&mut self, entry: &Entry) -> Result<(), TxnStoreError> {
        // Serialising this plain enum into a Vec cannot fail.
        let value = postcard::to_allocvec(entry).unwrap_or_default();
        self.log
            .append(BatchMeta::default(), vec![Record::value(value)])?;
        // FsyncPolicy::Always: the append synced before returning Ok.
        assert_eq!(
            self.log.synced_end(),
            self.log.end(),
            "local entries are synced"
        );
        Ok(())
    }

    /// Durably notes that the transaction is about to send its half message.
    pub fn begin(&mut self, txn_id: &str) -> Result<(), TxnStoreError> {
        if self.entries.contains_key(txn_id) {
            return Err(TxnStoreError::Exists {
                txn_id: txn_id.to_string(),
            });
        }
        if self.entries.len() >= LOCAL_TXNS_MAX {
            return Err(TxnStoreError::Full);
        }
        self.append(&Entry::Begun {
            txn_id: txn_id.to_string(),
        })?;
        self.entries.insert(txn_id.to_string(), LocalState::Begun);
        Ok(())
    }

    /// Durably records the local outcome with its business effect, in one synced write.
    pub fn finish(
        &mut self,
        txn_id: &str,
        outcome: LocalOutcome,
        effect: Vec<u8>,
    ) -> Result<(), TxnStoreError> {
        if self.entries.get(txn_id) != Some(&LocalState::Begun) {
            return Err(TxnStoreError::NotBegun {
                txn_id: txn_id.to_string(),
            });
        }
        if effect.len() > EFFECT_BYTES_MAX {
            return Err(TxnStoreError::EffectTooLarge {
                bytes: effect.len(),
            });
        }
        let entry = Entry::Done {
            txn_id: txn_id.to_string(),
            outcome,
            effect,
        };
        self.append(&entry)?;
        if let Entry::Done {
            txn_id,
            outcome,
            effect,
        } = entry
        {
            self.entries
                .insert(txn_id, LocalState::Done { outcome, effect });
        }
        Ok(())
    }
}
