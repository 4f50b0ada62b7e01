//! The per-node disk fault injector. turmoil's own disk faults are global and fixed when the
//! simulation is built, and its `sync_all` never fails (design.md section 5), so the harness flips
//! these switches at run time instead. The same injector works on a real disk, which lets one
//! test body exercise fault handling on both sides of the seam.
//!
//! Invariant the engine keeps under every fault here: data whose sync failed is never reported
//! durable, and a write that failed is never acknowledged.
//!
//! The handle is also the simulated *machine*, which outlives the node's processes: it holds the
//! machine's [`PageCache`] (unsynced file data, kept across a clean restart and lost to a power
//! loss) and how the next power loss is drawn, from a seed the harness derives from the run's.

use crate::env::page_cache::{PageCache, Survivor};
use crate::env::power_loss::PowerLoss;
use crate::env::rng::rng_for;
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
    machine: Arc<Mutex<Machine>>,
}

/// What survives a process restart on one simulated machine.
#[derive(Debug, Default)]
pub(crate) struct Machine {
    pub(crate) cache: PageCache,
    /// Seeds the crash-state draws; each power loss derives its own stream from it.
    seed: u64,
    power_losses: u64,
    /// How the next power loss is drawn; `None`: [`PowerLoss::default`].
    armed: Option<PowerLoss>,
}

impl DiskFaults {
    /// A quiet injector: no faults; power losses drawn from seed 0.
    pub fn new() -> DiskFaults {
        DiskFaults::default()
    }

    /// A quiet injector whose power losses draw their crash states from `seed`.
    pub fn with_seed(seed: u64) -> DiskFaults {
        let faults = DiskFaults::default();
        faults.machine().seed = seed;
        faults
    }

    /// Sets how the machine's next power loss treats unsynced data (the nemesis calls this
    /// just before it cuts the power). Used once, then back to the default.
    pub fn arm_power_loss(&self, spec: PowerLoss) {
        self.machine().armed = Some(spec);
    }

    /// Unsynced bytes in the machine's page cache.
    pub fn dirty_bytes(&self) -> u64 {
        self.machine().cache.dirty_bytes()
    }

    /// The power went out: empties the page cache and returns what each file kept.
    pub(crate) fn lose_power(&self) -> Vec<Survivor> {
        let mut machine = self.machine();
        machine.power_losses += 1;
        let spec = machine.armed.take().unwrap_or_default();
        let label = format!("power-loss-{}", machine.power_losses);
        let mut rng = rng_for(machine.seed, &label);
        machine.cache.lose_power(spec, &mut rng)
    }

    pub(crate) fn machine(&self) -> MutexGuard<'_, Machine> {
        // A poisoned lock only means a panicking thread held it; the cache stays consistent
        // because every change to it completes without unwinding.
        self.machine
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
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
