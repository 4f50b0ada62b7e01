//! Files over the seam: the real file system or turmoil's per-host file-system shim, with the
//! node's [`DiskFaults`] injector consulted on every operation.
//!
//! Durability model (both sides): written data is durable only after [`DiskFile::sync`]; a new,
//! renamed or removed directory entry only after [`Disk::sync_dir`] of its parent. turmoil
//! enforces this for directory entries and truncations on `crash`, so code that forgets a sync
//! loses data in simulation. All paths given to a `Disk` are relative to its root, the node's
//! data directory.
//!
//! File *data* in simulation does not go to turmoil until it is synced: appends land in the
//! machine's [`PageCache`](crate::env::page_cache::PageCache) (held by [`DiskFaults`], which
//! outlives the node's processes), reads merge it over turmoil's file, and `sync` writes the
//! file's cached extents to turmoil and syncs them there. turmoil scans its whole list of
//! unsynced operations on every read, so left to it a run that rarely syncs costs quadratic
//! time (issue 20); with the cache its list holds only directory operations and truncations.
//!
//! Power loss in simulation: the disk cannot see `sim.crash`, so it asks turmoil. On opening,
//! it looks for a marker file it created, unsynced, the last time the machine powered on; turmoil
//! drops such a file on a crash and keeps it across a clean restart. A missing marker means the
//! power went out: the machine's page cache draws what each file kept
//! ([`power_loss`](crate::env::power_loss)), the disk writes those blocks durably (holes read as
//! zeros) and drops the rest, before anything reads. Real mode is untouched by all of this.

pub use crate::env::disk_error::{DiskError, DiskOp};
use crate::env::disk_faults::DiskFaults;
pub use crate::env::disk_file::DiskFile;
use crate::env::disk_file::{write_back, FileInner};
use crate::env::Mode;
use std::io;
use std::path::{Path, PathBuf};
use turmoil::fs::shim::std::fs as sim_fs;

/// Errors that mention a raw OS code for "no space left on device".
/// Bound on directory nesting when measuring usage, so a symlink loop cannot spin forever.
const DIR_DEPTH_MAX: usize = 16;
/// Where the power markers live on each simulated machine, outside every node's data directory.
const POWER_MARKER_DIR: &str = "/.faultline-power";

/// One node's disk: a root directory on one side of the seam, plus its fault injector.
#[derive(Clone, Debug)]
pub struct Disk {
    mode: Mode,
    root: PathBuf,
    faults: DiskFaults,
}

impl Disk {
    /// Opens (and durably creates, if needed) the root directory and measures what it holds,
    /// so a disk-full fault counts the node's existing files.
    pub fn open(mode: Mode, root: PathBuf, faults: DiskFaults) -> Result<Disk, DiskError> {
        let disk = Disk { mode, root, faults };
        disk.create_root()?;
        if mode == Mode::Sim {
            disk.power_on()?;
        }
        let used_bytes = disk.measure(&disk.root.clone(), 0)?;
        disk.faults.set_used_bytes(used_bytes);
        Ok(disk)
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn faults(&self) -> &DiskFaults {
        &self.faults
    }

    /// A disk rooted at a subdirectory, sharing this disk's injector. Creates it durably.
    pub fn subdir(&self, rel: &Path) -> Result<Disk, DiskError> {
        self.create_dir_all(rel)?;
        Ok(Disk {
            mode: self.mode,
            root: self.root.join(rel),
            faults: self.faults.clone(),
        })
    }

    fn full_path(&self, rel: &Path) -> PathBuf {
        self.root.join(rel)
    }

    fn check_write(&self, op: DiskOp, path: &Path) -> Result<(), DiskError> {
        if self.faults.snapshot().write_error {
            return Err(DiskError::injected(op, path));
        }
        Ok(())
    }

    fn create_root(&self) -> Result<(), DiskError> {
        let root = self.root.clone();
        let mut missing = Vec::new();
        let mut cursor = Some(root.as_path());
        while let Some(dir) = cursor {
            if self.path_exists(dir) {
                break;
            }
            missing.push(dir.to_path_buf());
            cursor = dir.parent();
        }
        for dir in missing.iter().rev() {
            self.check_write(DiskOp::Create, dir)?;
            let result = match self.mode {
                Mode::Real => std::fs::create_dir(dir),
                Mode::Sim => sim_fs::create_dir(dir),
            };
            match result {
                Ok(()) => {}
                Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {}
                Err(error) => return Err(DiskError::io(DiskOp::Create, dir, error)),
            }
            if let Some(parent) = dir.parent() {
                self.sync_dir_abs(parent)?;
            }
        }
        Ok(())
    }

    /// Detects a power loss since this root was last opened (its marker is gone) and, if there
    /// was one, makes durable what the machine's page cache kept of each file.
    fn power_on(&self) -> Result<(), DiskError> {
        let dir = Path::new(POWER_MARKER_DIR);
        if !sim_fs::exists(dir) {
            sim_fs::create_dir(dir).map_err(|e| DiskError::io(DiskOp::Create, dir, e))?;
            let top = Path::new("/");
            sim_fs::sync_dir(top).map_err(|e| DiskError::io(DiskOp::SyncDir, top, e))?;
        }
        let name: String = self
            .root
            .to_string_lossy()
            .chars()
            .map(|c| if c == '/' { '_' } else { c })
            .collect();
        let marker = dir.join(name);
        if sim_fs::exists(&marker) {
            return Ok(());
        }
        for survivor in self.faults.lose_power() {
            // A file whose directory entry did not survive keeps nothing.
            if !sim_fs::exists(&survivor.path) {
                continue;
            }
            tracing::debug!(
                path = %survivor.path.display(),
                state = ?survivor.state,
                extents = survivor.extents.len(),
                "power loss kept unsynced blocks"
            );
            write_back(&survivor.path, &survivor.extents)?;
        }
        // Never synced, so a crash removes it and a clean restart keeps it.
        sim_fs::File::create(&marker).map_err(|e| DiskError::io(DiskOp::Create, &marker, e))?;
        Ok(())
    }

    fn path_exists(&self, path: &Path) -> bool {
        match self.mode {
            Mode::Real => path.exists(),
            Mode::Sim => sim_fs::exists(path),
        }
    }

    /// Creates `rel` and its missing parents, syncing each parent so the entries survive a crash.
    pub fn create_dir_all(&self, rel: &Path) -> Result<(), DiskError> {
        let mut prefix = PathBuf::new();
        for component in rel.components() {
            prefix.push(component);
            let full = self.full_path(&prefix);
            if self.path_exists(&full) {
                continue;
            }
            self.check_write(DiskOp::Create, &full)?;
            let result = match self.mode {
                Mode::Real => std::fs::create_dir(&full),
                Mode::Sim => sim_fs::create_dir(&full),
            };
            result.map_err(|error| DiskError::io(DiskOp::Create, &full, error))?;
            let parent = full.parent().unwrap_or(&self.root).to_path_buf();
            self.sync_dir_abs(&parent)?;
        }
        Ok(())
    }

    pub fn exists(&self, rel: &Path) -> bool {
        self.path_exists(&self.full_path(rel))
    }

    /// Creates (or truncates) a file and syncs its directory, so the empty file survives a crash.
    pub fn create(&self, rel: &Path) -> Result<DiskFile, DiskError> {
        let path = self.full_path(rel);
        self.check_write(DiskOp::Create, &path)?;
        let inner = match self.mode {
            Mode::Real => std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(&path)
                .map(FileInner::Real),
            Mode::Sim => sim_fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(&path)
                .map(FileInner::Sim),
        }
        .map_err(|error| DiskError::io(DiskOp::Create, &path, error))?;
        if self.mode == Mode::Sim {
            self.faults.machine().cache.remove(&path);
        }
        let parent = path.parent().unwrap_or(&self.root).to_path_buf();
        self.sync_dir_abs(&parent)?;
        Ok(DiskFile {
            inner,
            path,
            len: 0,
            faults: self.faults.clone(),
        })
    }

    /// Opens an existing file for reading and appending.
    pub fn open_file(&self, rel: &Path) -> Result<DiskFile, DiskError> {
        let path = self.full_path(rel);
        let inner = match self.mode {
            Mode::Real => std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(&path)
                .map(FileInner::Real),
            Mode::Sim => sim_fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(&path)
                .map(FileInner::Sim),
        }
        .map_err(|error| DiskError::io(DiskOp::Open, &path, error))?;
        let len = match &inner {
            FileInner::Real(file) => file.metadata().map(|m| m.len()),
            FileInner::Sim(file) => file.metadata().map(|m| {
                let cached_end = self.faults.machine().cache.end(&path);
                m.len().max(cached_end.unwrap_or(0))
            }),
        }
        .map_err(|error| DiskError::io(DiskOp::Open, &path, error))?;
        Ok(DiskFile {
            inner,
            path,
            len,
            faults: self.faults.clone(),
        })
    }

    /// Reads a whole file (subject to read corruption, like every read).
    pub fn read(&self, rel: &Path) -> Result<Vec<u8>, DiskError> {
        let file = self.open_file(rel)?;
        let mut bytes = vec![0; usize::try_from(file.len()).unwrap_or(usize::MAX)];
        file.read_exact_at(&mut bytes, 0)?;
        Ok(bytes)
    }

    /// Replaces `rel` atomically and durably: write a temporary file, sync it, rename it over
    /// the target, sync the directory. A crash leaves either the old or the new contents.
    pub fn write_atomic(&self, rel: &Path, bytes: &[u8]) -> Result<(), DiskError> {
        let mut temporary = rel.as_os_str().to_owned();
        temporary.push(".tmp");
        let temporary = PathBuf::from(temporary);
        let mut file = self.create(&temporary)?;
        file.append(bytes)?;
        file.sync()?;
        drop(file);
        self.rename(&temporary, rel)?;
        let parent = rel.parent().unwrap_or(Path::new(""));
        self.sync_dir(parent)
    }

    /// Makes the directory's entries (creations, renames, removals) durable.
    pub fn sync_dir(&self, rel: &Path) -> Result<(), DiskError> {
        let full = self.full_path(rel);
        self.sync_dir_abs(&full)
    }

    fn sync_dir_abs(&self, full: &Path) -> Result<(), DiskError> {
        if self.faults.snapshot().fsync_error {
            return Err(DiskError::injected(DiskOp::SyncDir, full));
        }
        let result = match self.mode {
            Mode::Real => std::fs::File::open(full).and_then(|dir| dir.sync_all()),
            Mode::Sim => sim_fs::sync_dir(full),
        };
        result.map_err(|error| DiskError::io(DiskOp::SyncDir, full, error))
    }

    /// Renames a file. Durable only after `sync_dir` of both parents.
    pub fn rename(&self, from: &Path, to: &Path) -> Result<(), DiskError> {
        let (source, target) = (self.full_path(from), self.full_path(to));
        self.check_write(DiskOp::Rename, &source)?;
        // A file renamed over another frees the other's bytes; without this, every
        // `write_atomic` of the same file would count its size again towards a disk-full fault.
        let replaced = self.file_len(&target).unwrap_or(0);
        if self.mode == Mode::Sim {
            // Data renamed over another file is written back first (as ext4 does for a
            // replace-by-rename), so the cache never holds data under a name that a crash can
            // take back.
            let extents = self.faults.machine().cache.take(&source);
            write_back(&source, &extents)?;
        }
        let result = match self.mode {
            Mode::Real => std::fs::rename(&source, &target),
            Mode::Sim => sim_fs::rename(&source, &target),
        };
        result.map_err(|error| DiskError::io(DiskOp::Rename, &source, error))?;
        if self.mode == Mode::Sim {
            self.faults.machine().cache.rename(&source, &target);
        }
        self.faults.release(replaced);
        Ok(())
    }

    /// Removes a file. Durable only after `sync_dir` of its parent.
    pub fn remove(&self, rel: &Path) -> Result<(), DiskError> {
        let path = self.full_path(rel);
        self.check_write(DiskOp::Remove, &path)?;
        let len = self.file_len(&path).unwrap_or(0);
        let result = match self.mode {
            Mode::Real => std::fs::remove_file(&path),
            Mode::Sim => sim_fs::remove_file(&path),
        };
        result.map_err(|error| DiskError::io(DiskOp::Remove, &path, error))?;
        if self.mode == Mode::Sim {
            self.faults.machine().cache.remove(&path);
        }
        self.faults.release(len);
        Ok(())
    }

    /// The names in a directory, sorted (never in the file system's own order).
    pub fn list(&self, rel: &Path) -> Result<Vec<String>, DiskError> {
        let full = self.full_path(rel);
        let mut names = self.list_abs(&full)?;
        names.sort();
        Ok(names)
    }

    fn list_abs(&self, full: &Path) -> Result<Vec<String>, DiskError> {
        let to_error = |error| DiskError::io(DiskOp::List, full, error);
        let mut names = Vec::new();
        match self.mode {
            Mode::Real => {
                for entry in std::fs::read_dir(full).map_err(to_error)? {
                    names.push(
                        entry
                            .map_err(to_error)?
                            .file_name()
                            .to_string_lossy()
                            .into_owned(),
                    );
                }
            }
            Mode::Sim => {
                for entry in sim_fs::read_dir(full).map_err(to_error)? {
                    names.push(
                        entry
                            .map_err(to_error)?
                            .file_name()
                            .to_string_lossy()
                            .into_owned(),
                    );
                }
            }
        }
        Ok(names)
    }

    fn is_dir(&self, full: &Path) -> bool {
        match self.mode {
            Mode::Real => std::fs::metadata(full).map(|m| m.is_dir()).unwrap_or(false),
            Mode::Sim => sim_fs::metadata(full).map(|m| m.is_dir()).unwrap_or(false),
        }
    }

    fn file_len(&self, full: &Path) -> Option<u64> {
        match self.mode {
            Mode::Real => std::fs::metadata(full).map(|m| m.len()).ok(),
            Mode::Sim => {
                let durable = sim_fs::metadata(full).map(|m| m.len()).ok()?;
                let cached_end = self.faults.machine().cache.end(full);
                Some(durable.max(cached_end.unwrap_or(0)))
            }
        }
    }

    /// Bytes held under `full`, recursively.
    fn measure(&self, full: &Path, depth: usize) -> Result<u64, DiskError> {
        if depth > DIR_DEPTH_MAX {
            return Ok(0);
        }
        let mut total = 0u64;
        for name in self.list_abs(full)? {
            let child = full.join(name);
            if self.is_dir(&child) {
                total = total.saturating_add(self.measure(&child, depth + 1)?);
            } else {
                total = total.saturating_add(self.file_len(&child).unwrap_or(0));
            }
        }
        Ok(total)
    }

    /// Every file under the root with its contents, in path order: the byte-exact disk image used
    /// by determinism checks.
    pub fn image(&self) -> Result<Vec<(PathBuf, Vec<u8>)>, DiskError> {
        let mut files = Vec::new();
        let mut pending = vec![(PathBuf::new(), 0usize)];
        while let Some((rel, depth)) = pending.pop() {
            let full = self.full_path(&rel);
            for name in self.list_abs(&full)? {
                let child_rel = rel.join(&name);
                let child = self.full_path(&child_rel);
                if self.is_dir(&child) {
                    if depth < DIR_DEPTH_MAX {
                        pending.push((child_rel, depth + 1));
                    }
                } else {
                    let bytes = match self.mode {
                        Mode::Real => std::fs::read(&child),
                        Mode::Sim => sim_fs::read(&child).map(|mut bytes| {
                            let machine = self.faults.machine();
                            let end = machine.cache.end(&child).unwrap_or(0) as usize;
                            if end > bytes.len() {
                                bytes.resize(end, 0);
                            }
                            machine.cache.overlay(&child, 0, &mut bytes);
                            bytes
                        }),
                    }
                    .map_err(|error| DiskError::io(DiskOp::Read, &child, error))?;
                    files.push((child_rel, bytes));
                }
            }
        }
        files.sort();
        Ok(files)
    }
}
