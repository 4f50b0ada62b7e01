//! An open file on the seam: real, or turmoil's with its unsynced data in the machine's page
//! cache until `sync` (see `disk` for the durability model).

use crate::env::disk_error::{DiskError, DiskOp};
use crate::env::disk_faults::DiskFaults;
use crate::env::page_cache::PAGE_CACHE_BYTES_MAX;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use turmoil::fs::shim::std::fs as sim_fs;

pub(crate) enum FileInner {
    Real(std::fs::File),
    Sim(sim_fs::File),
}

/// An open file, read and appended through the seam. Tracks its own length, so appends never
/// ask the file system where the end is.
pub struct DiskFile {
    pub(crate) inner: FileInner,
    pub(crate) path: PathBuf,
    pub(crate) len: u64,
    pub(crate) faults: DiskFaults,
}

impl DiskFile {
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends all of `bytes` at the end. On error nothing is reported written; the file's end
    /// is left where it was as far as this handle is concerned.
    pub fn append(&mut self, bytes: &[u8]) -> Result<(), DiskError> {
        let state = self.faults.snapshot();
        if state.write_error {
            return Err(DiskError::injected(DiskOp::Write, &self.path));
        }
        let grow = bytes.len() as u64;
        if let Err((capacity_bytes, used_bytes)) = self.faults.reserve(grow) {
            return Err(DiskError::Full {
                path: self.path.clone(),
                needed_bytes: grow,
                used_bytes,
                capacity_bytes,
            });
        }
        let result = match &self.inner {
            FileInner::Real(file) => file.write_all_at(bytes, self.len),
            FileInner::Sim(_) => self.cache_write(bytes),
        };
        match result {
            Ok(()) => {
                self.len += grow;
                Ok(())
            }
            Err(error) => {
                self.faults.release(grow);
                Err(DiskError::io(DiskOp::Write, &self.path, error))
            }
        }
    }

    /// Fills `buf` from `offset`. Under read corruption the bytes come back with bits flipped,
    /// as a failing disk would return them: callers must verify checksums.
    pub fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> Result<(), DiskError> {
        let end = offset.saturating_add(buf.len() as u64);
        if end > self.len {
            return Err(DiskError::ShortRead {
                path: self.path.clone(),
                offset,
                wanted: buf.len(),
                len: self.len,
            });
        }
        let result = match &self.inner {
            FileInner::Real(file) => file.read_exact_at(buf, offset),
            FileInner::Sim(file) => {
                // turmoil's part (zeros past its end), then the page cache's over it.
                buf.fill(0);
                file.read_at(buf, offset).map(|_| {
                    self.faults.machine().cache.overlay(&self.path, offset, buf);
                })
            }
        };
        result.map_err(|error| DiskError::io(DiskOp::Read, &self.path, error))?;
        if self.faults.snapshot().read_corruption && !buf.is_empty() {
            let middle = buf.len() / 2;
            buf[middle] ^= 0xff;
        }
        Ok(())
    }

    /// Makes everything written so far durable, or fails with the data's durability unknown.
    pub fn sync(&self) -> Result<(), DiskError> {
        if self.faults.snapshot().fsync_error {
            return Err(DiskError::injected(DiskOp::Sync, &self.path));
        }
        let result = match &self.inner {
            FileInner::Real(file) => file.sync_all(),
            FileInner::Sim(file) => {
                let extents = self.faults.machine().cache.take(&self.path);
                write_extents(file, &extents).and_then(|()| file.sync_all())
            }
        };
        result.map_err(|error| DiskError::io(DiskOp::Sync, &self.path, error))
    }

    /// Cuts the file to `len` bytes (never grows it). Durable after `sync`.
    pub fn truncate(&mut self, len: u64) -> Result<(), DiskError> {
        if len >= self.len {
            return Ok(());
        }
        if self.faults.snapshot().write_error {
            return Err(DiskError::injected(DiskOp::Truncate, &self.path));
        }
        let result = match &self.inner {
            FileInner::Real(file) => file.set_len(len),
            FileInner::Sim(file) => {
                // turmoil only holds what was synced: cut it there if the cut reaches it.
                self.faults.machine().cache.truncate(&self.path, len);
                file.metadata().and_then(|m| {
                    if len < m.len() {
                        file.set_len(len)
                    } else {
                        Ok(())
                    }
                })
            }
        };
        result.map_err(|error| DiskError::io(DiskOp::Truncate, &self.path, error))?;
        self.faults.release(self.len - len);
        self.len = len;
        Ok(())
    }
}

impl DiskFile {
    /// Appends into the machine's page cache. Past [`PAGE_CACHE_BYTES_MAX`] dirty bytes the
    /// machine writes every dirty file back (durably), as a kernel under memory pressure would:
    /// never a spurious failure, and never an unbounded cache.
    fn cache_write(&self, bytes: &[u8]) -> io::Result<()> {
        let over = {
            let mut machine = self.faults.machine();
            machine.cache.write(&self.path, self.len, bytes);
            machine.cache.dirty_bytes() > PAGE_CACHE_BYTES_MAX
        };
        if over {
            let paths = self.faults.machine().cache.paths();
            for path in paths {
                let extents = self.faults.machine().cache.take(&path);
                write_back(&path, &extents).map_err(|error| match error {
                    DiskError::Io { source, .. } => source,
                    other => io::Error::other(other.to_string()),
                })?;
            }
            assert_eq!(self.faults.machine().cache.dirty_bytes(), 0);
        }
        Ok(())
    }
}

/// Writes `extents` to turmoil's file (its unsynced list, briefly).
fn write_extents(file: &sim_fs::File, extents: &[(u64, Vec<u8>)]) -> io::Result<()> {
    for (offset, bytes) in extents {
        file.write_all_at(bytes, *offset)?;
    }
    Ok(())
}

/// Makes `extents` of the simulated file at `path` durable in turmoil.
pub(super) fn write_back(path: &Path, extents: &[(u64, Vec<u8>)]) -> Result<(), DiskError> {
    if extents.is_empty() {
        return Ok(());
    }
    let file = sim_fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|error| DiskError::io(DiskOp::Open, path, error))?;
    write_extents(&file, extents)
        .and_then(|()| file.sync_all())
        .map_err(|error| DiskError::io(DiskOp::Sync, path, error))
}
