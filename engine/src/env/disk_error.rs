//! What a disk operation failed on, and how: disk full, an I/O error (real, or injected by the
//! node's [`DiskFaults`](crate::env::DiskFaults)), or a short read.

use std::io;
use std::path::{Path, PathBuf};

/// `errno` of a full disk.
const ENOSPC: i32 = 28;
/// `errno` of an I/O error, as the fault injector reports one.
const EIO: i32 = 5;

/// What the disk was doing when it failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiskOp {
    Create,
    Open,
    Write,
    Read,
    Sync,
    SyncDir,
    Truncate,
    Rename,
    Remove,
    List,
}

#[derive(Debug, thiserror::Error)]
pub enum DiskError {
    #[error("disk full writing {path}: {needed_bytes} more bytes do not fit ({used_bytes} of {capacity_bytes} used)")]
    Full {
        path: PathBuf,
        needed_bytes: u64,
        used_bytes: u64,
        capacity_bytes: u64,
    },
    #[error("{op:?} failed on {path}: {source}")]
    Io {
        op: DiskOp,
        path: PathBuf,
        source: io::Error,
    },
    #[error("short read on {path}: wanted {wanted} bytes at {offset}, the file has {len}")]
    ShortRead {
        path: PathBuf,
        offset: u64,
        wanted: usize,
        len: u64,
    },
}

impl DiskError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, DiskError::Io { source, .. } if source.kind() == io::ErrorKind::NotFound)
    }

    pub(crate) fn io(op: DiskOp, path: &Path, source: io::Error) -> DiskError {
        if source.raw_os_error() == Some(ENOSPC) {
            return DiskError::Full {
                path: path.to_path_buf(),
                needed_bytes: 0,
                used_bytes: 0,
                capacity_bytes: 0,
            };
        }
        DiskError::Io {
            op,
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn injected(op: DiskOp, path: &Path) -> DiskError {
        DiskError::Io {
            op,
            path: path.to_path_buf(),
            source: io::Error::from_raw_os_error(EIO),
        }
    }
}
