//! The durable log of one partition (or of one coordinator's write-ahead log): record batches
//! with CRC32C checksums in size-limited segments, each with an offset index.
//!
//! Fault model: a crash loses unsynced writes and may tear the last ones at block boundaries;
//! a disk may fail fsync, fail writes, fill up, or return flipped bits on read. Invariants:
//! offsets are contiguous from the log start; recovery keeps the longest prefix of intact
//! batches and drops everything after the first damaged one — but never below the log's
//! durable recovery point, since damage there is a failing disk, not a torn tail; a read never
//! returns a batch whose checksum fails; the log never reports an offset synced unless its sync
//! succeeded.

pub mod batch;
pub mod byte_string;
pub mod error;
pub mod fsync_policy;
pub mod head;
pub mod index;
pub mod log;
pub mod recovery_point;
pub mod segment;

pub use batch::{BatchMeta, Record, RecordBatch, BATCH_BYTES_MAX, BATCH_HEADER_BYTES};
pub use error::StorageError;
pub use fsync_policy::FsyncPolicy;
pub use head::HeadFile;
pub use log::{AppendInfo, GroupSync, Log, LogOptions};
