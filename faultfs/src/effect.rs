//! The I/O the durability model asks for. The model never touches the disk: it returns these
//! values, in order, and `backing.rs` performs them on the backing directory. Every path is
//! relative to the backing root; the empty path is the root itself.

use std::path::PathBuf;

use crate::model::file::DataPlan;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Create an empty regular file (it must not exist).
    CreateFile { path: PathBuf, mode: u32 },
    /// Create an empty directory (it must not exist).
    MakeDir { path: PathBuf, mode: u32 },
    /// Apply a data plan to an existing regular file, then fsync it.
    WriteData { path: PathBuf, plan: DataPlan },
    /// Hard-link an existing file under a second name (a file durably named twice).
    Link { from: PathBuf, to: PathBuf },
    /// Move a file or directory; the target must not exist.
    Rename { from: PathBuf, to: PathBuf },
    /// Remove one name of a regular file.
    RemoveFile { path: PathBuf },
    /// Remove a directory and everything under it.
    RemoveTree { path: PathBuf },
    /// Change permission bits (metadata is not part of the power-loss model).
    SetMode { path: PathBuf, mode: u32 },
    /// fsync a directory, so the backing disk keeps what the model just made durable.
    SyncDir { path: PathBuf },
    /// Empty the staging directory: unnamed inodes do not survive a power loss.
    ClearStaging,
}
