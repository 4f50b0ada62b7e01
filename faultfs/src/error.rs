//! Errors of the durability model and of the control channel. A model error is what a file
//! system call would fail with, so each one maps to exactly one errno for the FUSE adapter.

use std::ffi::OsString;
use std::path::PathBuf;

/// Why a file-system operation on the model was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FsError {
    #[error("no inode {ino} (it was removed, or lost at the last power loss)")]
    Stale { ino: u64 },
    #[error("no entry {name:?} in directory inode {parent}")]
    NotFound { parent: u64, name: OsString },
    #[error("entry {name:?} already exists in directory inode {parent}")]
    Exists { parent: u64, name: OsString },
    #[error("inode {ino} is not a directory")]
    NotDir { ino: u64 },
    #[error("inode {ino} is a directory")]
    IsDir { ino: u64 },
    #[error("directory inode {ino} is not empty")]
    NotEmpty { ino: u64 },
    #[error("renaming directory inode {ino} across parents is not modelled (rename it in place)")]
    CrossDirectoryRename { ino: u64 },
    #[error("name {name:?} is reserved or invalid")]
    InvalidName { name: OsString },
    #[error("{what} limit of {limit} reached")]
    Limit { what: &'static str, limit: u64 },
}

impl FsError {
    /// The errno a system call gets for this error.
    pub fn errno(&self) -> i32 {
        match self {
            FsError::Stale { .. } => libc::ESTALE,
            FsError::NotFound { .. } => libc::ENOENT,
            FsError::Exists { .. } => libc::EEXIST,
            FsError::NotDir { .. } => libc::ENOTDIR,
            FsError::IsDir { .. } => libc::EISDIR,
            FsError::NotEmpty { .. } => libc::ENOTEMPTY,
            FsError::CrossDirectoryRename { .. } => libc::EXDEV,
            FsError::InvalidName { .. } => libc::EINVAL,
            FsError::Limit { .. } => libc::ENOSPC,
        }
    }
}

/// Why a control command failed; the reply line carries the message.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("unknown command {got:?} (known: {known})")]
    UnknownCommand { got: String, known: &'static str },
    #[error("command {command:?}: {problem} (usage: {usage})")]
    Usage {
        command: &'static str,
        problem: String,
        usage: &'static str,
    },
    #[error("bitflip: {path}: {problem}")]
    Bitflip { path: PathBuf, problem: String },
    // `cause`, not `source`: the message carries it already, and anyhow's chain in main
    // would print it twice.
    #[error("backing directory I/O failed during {during}: {cause}")]
    Backing {
        during: &'static str,
        cause: std::io::Error,
    },
    #[error("control socket {path}: {cause}")]
    Socket {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("control line longer than {limit} bytes")]
    LineTooLong { limit: usize },
}
