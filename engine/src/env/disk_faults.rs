//! The per-node disk fault injector. turmoil's own disk faults are global and fixed when the
//! simulation is built, and its `sync_all` never fails (design.md section 5), so the harness flips
//! these switches at run time instead. The same injector works on a real disk, which lets one
//! test body exercise fault handling on both sides of the seam.
//!
//! Invariant the engine keeps under every fault here: data whose sync failed is never reported
//! durable, and a write that failed is never acknowledged.

use std::sync::{Arc, Mutex, MutexGuard};

/// One disk fault, with its parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiskFault {
    /// `sync` and directory sync fail with EIO.
    FsyncError,
    /// Writes (and truncations, creations, renames) fail with EIO before touching the disk.
    WriteError,
    /// Reads succeed but return data with flipped bits.
    ReadCorruption,
    /// The disk holds at most this many bytes; growing past it fails with ENOSPC.
    Full { capacity_bytes: u64 },
}

/// The name of a fault without its parameters, for lifting it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum DiskFaultKind {
    FsyncError,
    WriteError,
    ReadCorruption,
    Full,
}

impl DiskFault {
    pub fn kind(&self) -> DiskFaultKind {
        match self {
            DiskFault::FsyncError => DiskFaultKind::FsyncError,
            DiskFault::WriteError => DiskFaultKind::WriteError,
            DiskFault::ReadCorruption => DiskFaultKind::ReadCorruption,
            DiskFault::Full { .. } => DiskFaultKind::Full,
        }
    }
}

/// The switches, as read by the disk on each operation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DiskFaultState {
    pub fsync_error: bool,
    pub write_error: bool,
    pub read_corruption: bool,
    pub capacity_bytes: Option<u64>,
    /// Bytes the node's files occupy, as tracked by its `Disk`; compared against the capacity.
    pub used_bytes: u64,
}

/// A shared handle to one node's switches. The harness keeps a clone across the node's crashes
/// and restarts; the node's `Disk` reads it on every operation.
#[derive(Clone, Debug, Default)]
pub struct DiskFaults {
    state: Arc<Mutex<DiskFaultState>>,
}

impl DiskFaults {
    /// A quiet injector: no faults.
    pub fn new() -> DiskFaults {
        DiskFaults::default()
    }

    pub fn inject(&self, fault: DiskFault) {
        let mut state = self.lock();
        match fault {
            DiskFault::FsyncError => state.fsync_error = true,
            DiskFault::WriteError => state.write_error = true,
            DiskFault::ReadCorruption => state.read_corruption = true,
            DiskFault::Full { capacity_bytes } => state.capacity_bytes = Some(capacity_bytes),
        }
    }

    pub fn lift(&self, kind: DiskFaultKind) {
        let mut state = self.lock();
        match kind {
            DiskFaultKind::FsyncError => state.fsync_error = false,
            DiskFaultKind::WriteError => state.write_error = false,
            DiskFaultKind::ReadCorruption => state.read_corruption = false,
            DiskFaultKind::Full => state.capacity_bytes = None,
        }
    }

    pub fn lift_all(&self) {
        for kind in [
            DiskFaultKind::FsyncError,
            DiskFaultKind::WriteError,
            DiskFaultKind::ReadCorruption,
            DiskFaultKind::Full,
        ] {
            self.lift(kind);
        }
    }

    pub fn snapshot(&self) -> DiskFaultState {
        *self.lock()
    }

    pub(crate) fn set_used_bytes(&self, used_bytes: u64) {
        self.lock().used_bytes = used_bytes;
    }

    /// Reserves `grow_bytes` more space, or reports the capacity and usage when it does not fit.
    pub(crate) fn reserve(&self, grow_bytes: u64) -> Result<(), (u64, u64)> {
        let mut state = self.lock();
        if let Some(capacity) = state.capacity_bytes {
            if state.used_bytes.saturating_add(grow_bytes) > capacity {
                return Err((capacity, state.used_bytes));
            }
        }
        state.used_bytes = state.used_bytes.saturating_add(grow_bytes);
        Ok(())
    }

    pub(crate) fn release(&self, shrink_bytes: u64) {
        let mut state = self.lock();
        state.used_bytes = state.used_bytes.saturating_sub(shrink_bytes);
    }

    fn lock(&self) -> MutexGuard<'_, DiskFaultState> {
        // A poisoned lock only means a panicking thread held it; the switches are plain data.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
