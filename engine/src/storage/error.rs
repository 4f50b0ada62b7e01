//! Storage errors, typed so a node can tell "take this partition offline" from "retry".

use crate::env::DiskError;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The disk failed; the data's state is unknown beyond what was already synced.
    #[error("disk: {0}")]
    Disk(#[from] DiskError),
    /// A stored batch failed its checksum or framing check when read.
    #[error("corrupt batch in {segment} at byte {position}: {reason}")]
    Corrupt {
        segment: String,
        position: u64,
        reason: String,
    },
    /// An earlier sync failed, so what the OS holds for this log can no longer be trusted
    /// (the fsyncgate lesson); reopening the log recovers from what is on disk.
    #[error("log is offline after an earlier failure: {reason}")]
    Offline { reason: String },
    /// The offset is outside [log start, log end].
    #[error("offset {offset} out of range [{start}, {end}]")]
    OffsetOutOfRange { offset: u64, start: u64, end: u64 },
    /// A replicated batch did not start where the log ends.
    #[error("batch starts at {got}, the log ends at {expected}")]
    NonContiguous { expected: u64, got: u64 },
    /// A partition's head file failed its checksum or framing check when read.
    #[error("corrupt head file {path}: {reason}")]
    CorruptHead { path: String, reason: String },
    /// Both files of a log's recovery point failed their checks when read.
    #[error("corrupt recovery point in {path}: {reason}")]
    CorruptRecoveryPoint { path: String, reason: String },
    /// The batch is empty or larger than `BATCH_BYTES_MAX`.
    #[error("invalid batch: {reason}")]
    InvalidBatch { reason: String },
}

impl StorageError {
    /// Whether the log is still usable after this error (the request failed, nothing more).
    pub fn is_fatal_for_log(&self) -> bool {
        matches!(
            self,
            StorageError::Offline { .. } | StorageError::Corrupt { .. }
        )
    }
}
