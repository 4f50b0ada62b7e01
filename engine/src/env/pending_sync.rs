//! A file sync taken out from under whatever lock guards the file: [`DiskFile::begin_sync`]
//! returns one, and [`PendingSync::finish`] (or [`PendingSync::finish_all`]) waits for it. A
//! broker's group commit begins its syncs under the broker's state mutex and waits for them
//! after releasing it, so appends go on while the disk flushes.
//!
//! Real files are synced through a duplicate of the file's descriptor when the wait runs (on a
//! blocking thread of the caller's choosing): an fsync makes durable everything written to the
//! file before it, so a sync begun at one end covers at least that end, whatever is appended or
//! cut meanwhile — what counts as synced is the end the caller noted when it began. Simulated
//! files are synced at once, when the sync begins, on the simulation's thread (the simulation
//! runs no threads), and the wait only hands back that outcome. An injected fsync error is read
//! when the sync runs, as the fault would strike the real call.

use crate::env::disk_error::{DiskError, DiskOp};
use crate::env::disk_faults::DiskFaults;
use crate::env::disk_file::{DiskFile, FileInner};
use std::path::PathBuf;

/// The most threads [`PendingSync::finish_all`] syncs on at once: enough for the files of a
/// busy broker's group to reach the disk together, bounded however many partitions it hosts.
pub const SYNC_THREADS_MAX: usize = 16;

/// A sync that has begun; its outcome once [`PendingSync::finish`] returns.
pub struct PendingSync(Pending);

enum Pending {
    /// Simulated (or refused by an injected fault): already done.
    Done(Result<(), DiskError>),
    /// A real file's sync, run by `finish`.
    Real {
        file: std::fs::File,
        path: PathBuf,
        faults: DiskFaults,
    },
}

impl DiskFile {
    /// Begins a sync of everything written to this file so far (see the module header).
    pub fn begin_sync(&self) -> PendingSync {
        let pending = match &self.inner {
            FileInner::Sim(_) => Pending::Done(self.sync()),
            FileInner::Real(file) => match file.try_clone() {
                Ok(file) => Pending::Real {
                    file,
                    path: self.path.clone(),
                    faults: self.faults.clone(),
                },
                Err(error) => Pending::Done(Err(DiskError::io(DiskOp::Sync, &self.path, error))),
            },
        };
        PendingSync(pending)
    }
}

impl PendingSync {
    /// Whether waiting for this sync blocks (a real file's fsync): the caller then waits on a
    /// thread that may block, not on an async task's.
    pub fn blocks(&self) -> bool {
        matches!(self.0, Pending::Real { .. })
    }

    /// Waits for the sync: `Ok` once everything written before it began is durable.
    pub fn finish(self) -> Result<(), DiskError> {
        match self.0 {
            Pending::Done(outcome) => outcome,
            Pending::Real { file, path, faults } => {
                if faults.snapshot().fsync_error {
                    return Err(DiskError::injected(DiskOp::Sync, &path));
                }
                file.sync_all()
                    .map_err(|error| DiskError::io(DiskOp::Sync, &path, error))
            }
        }
    }

    /// Waits for every sync, the blocking ones side by side on up to [`SYNC_THREADS_MAX`]
    /// threads (on one disk the file system folds concurrent fsyncs into fewer journal
    /// commits), and returns their outcomes in order.
    pub fn finish_all(syncs: Vec<PendingSync>) -> Vec<Result<(), DiskError>> {
        if syncs.iter().filter(|sync| sync.blocks()).count() <= 1 {
            return syncs.into_iter().map(PendingSync::finish).collect();
        }
        let chunk = syncs.len().div_ceil(SYNC_THREADS_MAX);
        let mut chunks: Vec<Vec<PendingSync>> = Vec::new();
        let mut syncs = syncs.into_iter().peekable();
        while syncs.peek().is_some() {
            chunks.push(syncs.by_ref().take(chunk).collect());
        }
        assert!(chunks.len() <= SYNC_THREADS_MAX);
        std::thread::scope(|scope| {
            // Only real files' syncs get here (`blocks`): the simulation spawns no thread.
            let threads: Vec<_> = chunks
                .into_iter()
                .map(|chunk| {
                    let count = chunk.len();
                    let thread = scope.spawn(move || {
                        chunk
                            .into_iter()
                            .map(PendingSync::finish)
                            .collect::<Vec<_>>()
                    });
                    (count, thread)
                })
                .collect();
            threads
                .into_iter()
                .flat_map(|(count, thread)| {
                    // A panicking fsync is a bug, not an outcome: it goes on up.
                    let outcomes = thread
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                    assert_eq!(outcomes.len(), count);
                    outcomes
                })
                .collect()
        })
    }
}
