//! File corruption of a stopped server (design.md §13): the largest data file of the system's
//! kind (NATS: a stream's `*.blk` message block) is cut to half its length or has its middle byte inverted. The server
//! is killed first, and the change goes through its data directory — through our FUSE file
//! system when it is mounted, so the file system's view and the backing files stay one — and is
//! synced, as if the disk had been damaged while the machine was off. The largest file is the
//! one most likely to hold acknowledged messages; the damage names the file and the offset.

use crate::run::fabric::Corruption;
use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Directory levels searched below a data directory (NATS: `jetstream/$G/streams/<s>/msgs`).
const DEPTH_MAX: usize = 8;

/// Which files may be damaged.
#[derive(Clone, Copy, Debug)]
pub struct FileKind<'a> {
    /// A directory name on the file's path below the data directory; empty: anywhere.
    pub under: &'a str,
    pub suffix: &'a str,
}

#[derive(Debug, thiserror::Error)]
pub enum CorruptionError {
    #[error("no non-empty *{suffix} file under {dir}")]
    NoFile { dir: String, suffix: String },
    #[error("cannot change {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// What was done, for the run's log.
#[derive(Debug, PartialEq)]
pub struct Damage {
    pub file: PathBuf,
    pub length_bytes: u64,
    pub corruption: Corruption,
    /// Truncation: the new length; bit flip: the inverted byte's offset.
    pub offset: u64,
}

impl std::fmt::Display for Damage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match self.corruption {
            Corruption::TruncateHalf => "truncated to",
            Corruption::BitflipMiddle => "byte inverted at",
        };
        write!(
            f,
            "{} ({} bytes) {what} {}",
            self.file.display(),
            self.length_bytes,
            self.offset
        )
    }
}

/// The largest non-empty file of `kind` under `dir` (ties: the last path).
pub fn largest_file(dir: &Path, kind: &FileKind<'_>) -> Option<(PathBuf, u64)> {
    let mut best: Option<(PathBuf, u64)> = None;
    let mut stack = vec![(dir.to_path_buf(), 0)];
    while let Some((path, depth)) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&path) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(meta) = entry.metadata() else {
                continue;
            };
            let path = entry.path();
            if meta.is_dir() && depth < DEPTH_MAX {
                stack.push((path, depth + 1));
            } else if meta.is_file()
                && meta.len() > 0
                && path.to_string_lossy().ends_with(kind.suffix)
                && (kind.under.is_empty()
                    || path
                        .strip_prefix(dir)
                        .is_ok_and(|p| p.iter().any(|c| c == kind.under)))
            {
                let better = best
                    .as_ref()
                    .is_none_or(|(p, len)| (meta.len(), &path) > (*len, p));
                if better {
                    best = Some((path, meta.len()));
                }
            }
        }
    }
    best
}

/// Damages the largest file of `kind` under `dir`.
pub fn damage(
    dir: &Path,
    kind: &FileKind<'_>,
    corruption: Corruption,
) -> Result<Damage, CorruptionError> {
    let (file, length_bytes) = largest_file(dir, kind).ok_or_else(|| CorruptionError::NoFile {
        dir: dir.join(kind.under).display().to_string(),
        suffix: kind.suffix.to_owned(),
    })?;
    let io = |source| CorruptionError::Io {
        path: file.display().to_string(),
        source,
    };
    let mut handle = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&file)
        .map_err(io)?;
    let offset = length_bytes / 2;
    match corruption {
        Corruption::TruncateHalf => handle.set_len(offset).map_err(io)?,
        Corruption::BitflipMiddle => {
            let mut byte = [0u8; 1];
            handle.seek(SeekFrom::Start(offset)).map_err(io)?;
            handle.read_exact(&mut byte).map_err(io)?;
            byte[0] = !byte[0];
            handle.seek(SeekFrom::Start(offset)).map_err(io)?;
            handle.write_all(&byte).map_err(io)?;
        }
    }
    handle.sync_all().map_err(io)?;
    Ok(Damage {
        file,
        length_bytes,
        corruption,
        offset,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BLK_IN_STREAMS: FileKind<'static> = FileKind {
        under: "streams",
        suffix: ".blk",
    };

    #[test]
    fn truncation_halves_the_largest_file_of_the_kind() {
        let dir = tempfile::tempdir().unwrap();
        let msgs = dir.path().join("jetstream/streams/s/msgs");
        let raft = dir.path().join("jetstream/_js_/S-R3/msgs");
        std::fs::create_dir_all(&msgs).unwrap();
        std::fs::create_dir_all(&raft).unwrap();
        std::fs::write(msgs.join("1.blk"), [1u8; 10]).unwrap();
        std::fs::write(msgs.join("2.blk"), [2u8; 100]).unwrap();
        std::fs::write(msgs.join("big.idx"), [3u8; 1000]).unwrap();
        std::fs::write(raft.join("1.blk"), [4u8; 1000]).unwrap();
        let damage = damage(dir.path(), &BLK_IN_STREAMS, Corruption::TruncateHalf).unwrap();
        assert_eq!(damage.file, msgs.join("2.blk"));
        assert_eq!(std::fs::metadata(msgs.join("2.blk")).unwrap().len(), 50);
        assert_eq!(std::fs::metadata(msgs.join("1.blk")).unwrap().len(), 10);
    }

    #[test]
    fn bitflip_inverts_only_the_middle_byte() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("1.blk"), [0u8; 9]).unwrap();
        let anywhere = FileKind {
            under: "",
            suffix: ".blk",
        };
        let damage = damage(dir.path(), &anywhere, Corruption::BitflipMiddle).unwrap();
        assert_eq!(damage.offset, 4);
        let bytes = std::fs::read(dir.path().join("1.blk")).unwrap();
        assert_eq!(bytes, [0, 0, 0, 0, 0xff, 0, 0, 0, 0]);
    }

    #[test]
    fn no_file_of_the_kind_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            damage(dir.path(), &BLK_IN_STREAMS, Corruption::TruncateHalf),
            Err(CorruptionError::NoFile { .. })
        ));
    }
}
