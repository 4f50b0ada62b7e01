//! The durability model: a pure state machine of what a process sees (the live tree) and what
//! would survive a power loss now (the durable tree, mirrored by the backing directory). It
//! does no I/O: operations return `Effect`s for `backing.rs` to perform. The model, as in
//! POSIX and ext4 without its journal's extra ordering (no auto_da_alloc, no global commit):
//!
//! * A file's data (writes, truncations, its length) is durable only after fsync or fdatasync
//!   of that file. Unsynced data lives in memory (`file.rs`); reads see it.
//! * A name (create, mkdir, unlink, rmdir, both sides of a rename) is durable only after fsync
//!   of the directory that holds it. Each directory is synced on its own: after a rename across
//!   directories, syncing only the target leaves the file durably named twice (a hard link in
//!   the backing directory), syncing only the source leaves it durably unnamed.
//! * Rename makes nothing durable: neither the source's data nor the target's old contents.
//!   Renaming a directory across parents is refused with EXDEV (it would need the same
//!   directory durably linked twice); renaming it within its parent is modelled.
//! * A synced inode with no durable name (fsynced before its directory was) keeps its data in
//!   the staging directory `.faultfs-staging/<ino>` of the backing root, hidden from the mount.
//!   A directory sync that names it moves it into place. A power loss empties staging, as
//!   ext4's orphan cleanup frees unnamed inodes.
//! * A power loss drops every unsynced write, truncation and name; the live tree becomes the
//!   durable tree. With tearing, a dirty file instead keeps its live bytes up to a random block
//!   boundary at or after its first dirty byte (`FileData::tear`).
//! * Mode changes pass straight through to a file that has a backing copy (metadata is not
//!   part of the model); owners and times are not modelled.
//!
//! Invariant: after every operation's effects are applied, the backing directory holds exactly
//! the durable tree, plus the staged inodes.

pub mod file;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::{OsStr, OsString};
use std::path::PathBuf;

use rand::Rng;

use crate::effect::Effect;
use crate::error::FsError;
use file::{FileData, Piece};

pub type Ino = u64;
pub const ROOT_INO: Ino = 1;
/// The backing root's folder for synced but unnamed inodes; hidden from the mount.
pub const STAGING_DIR: &str = ".faultfs-staging";
pub const INODES_MAX: usize = 1 << 20;
pub const NAME_BYTES_MAX: usize = 255;
/// Deeper paths are refused, so path building and tree walks stay bounded.
pub const DEPTH_MAX: usize = 512;
/// Unsynced bytes kept in memory before the largest dirty file is written back, as the
/// kernel's flusher would: a bound on memory, not a fault.
pub const PENDING_BYTES_MAX_DEFAULT: u64 = 256 << 20;

type Link = (Ino, OsString);

#[derive(Debug, Clone, Default)]
pub struct DirData {
    live: BTreeMap<OsString, Ino>,
    durable: BTreeMap<OsString, Ino>,
}

#[derive(Debug, Clone)]
enum Kind {
    File(FileData),
    Dir(DirData),
}

#[derive(Debug, Clone)]
struct Inode {
    kind: Kind,
    mode: u32,
    live_links: BTreeSet<Link>,
    durable_links: BTreeSet<Link>,
    /// The inode's backing copy is `STAGING_DIR/<ino>`; implies no durable links.
    staged: bool,
    open_count: u32,
}

impl Inode {
    fn new(kind: Kind, mode: u32) -> Inode {
        let (live_links, durable_links) = (BTreeSet::new(), BTreeSet::new());
        Inode {
            kind,
            mode,
            live_links,
            durable_links,
            staged: false,
            open_count: 0,
        }
    }

    fn is_live(&self) -> bool {
        !self.live_links.is_empty() || self.open_count > 0
    }

    fn pending_bytes(&self) -> u64 {
        match &self.kind {
            Kind::File(file) => file.pending_bytes(),
            Kind::Dir(_) => 0,
        }
    }
}

/// What a stat call reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attr {
    pub ino: Ino,
    pub is_dir: bool,
    pub size: u64,
    pub mode: u32,
    pub nlink: u32,
}

/// A read: the pieces, and the backing file that `Piece::Durable` refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadPlan {
    pub home: Option<PathBuf>,
    pub pieces: Vec<Piece>,
}

/// What a power loss did, for the control reply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PowerLoss {
    pub effects: Vec<Effect>,
    pub files_reverted: u64,
    pub files_torn: u64,
    pub inodes_dropped: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub inodes: u64,
    pub files_dirty: u64,
    pub dirs_dirty: u64,
    pub pending_bytes: u64,
}

#[derive(Debug, Clone)]
pub struct Model {
    inodes: BTreeMap<Ino, Inode>,
    ino_next: Ino,
    pending_bytes: u64,
    pending_bytes_max: u64,
}

pub fn staging_path(ino: Ino) -> PathBuf {
    PathBuf::from(STAGING_DIR).join(ino.to_string())
}

impl Model {
    /// A model whose live and durable trees are an empty root directory.
    pub fn new(pending_bytes_max: u64) -> Model {
        let root = Inode::new(Kind::Dir(DirData::default()), 0o755);
        let inodes = BTreeMap::from([(ROOT_INO, root)]);
        Model {
            inodes,
            ino_next: ROOT_INO + 1,
            pending_bytes: 0,
            pending_bytes_max,
        }
    }

    /// Records an entry found in the backing directory at mount: durable and live at once.
    /// `len` is `None` for a directory.
    pub fn load(
        &mut self,
        parent: Ino,
        name: &OsStr,
        len: Option<u64>,
        mode: u32,
    ) -> Result<Ino, FsError> {
        let kind = match len {
            Some(len) => Kind::File(FileData::durable(len)),
            None => Kind::Dir(DirData::default()),
        };
        let ino = self.add(parent, name, kind, mode)?;
        self.link_durable(parent, name, ino)?;
        Ok(ino)
    }

    /// Records a second backing name of a file loaded before (a hard link in the backing dir).
    pub fn load_link(&mut self, parent: Ino, name: &OsStr, ino: Ino) -> Result<(), FsError> {
        self.check_name(parent, name)?;
        self.link_live(parent, name, ino)?;
        self.link_durable(parent, name, ino)
    }

    pub fn lookup(&self, parent: Ino, name: &OsStr) -> Result<Ino, FsError> {
        let not_found = || FsError::NotFound {
            parent,
            name: name.to_owned(),
        };
        self.dir(parent)?
            .live
            .get(name)
            .copied()
            .ok_or_else(not_found)
    }

    pub fn attr(&self, ino: Ino) -> Result<Attr, FsError> {
        let node = self.node(ino)?;
        // A directory's link count is 2 plus its subdirectories, as tools like find expect.
        let (is_dir, size, nlink) = match &node.kind {
            Kind::File(file) => (false, file.live_len(), node.live_links.len() as u32),
            Kind::Dir(dir) => {
                let is_subdir = |child: &&Ino| {
                    matches!(self.inodes.get(child).map(|n| &n.kind), Some(Kind::Dir(_)))
                };
                let subdirs = dir.live.values().filter(is_subdir).count() as u32;
                (true, dir.live.len() as u64, 2 + subdirs)
            }
        };
        Ok(Attr {
            ino,
            is_dir,
            size,
            mode: node.mode,
            nlink,
        })
    }

    /// (name, inode, is a directory) of a directory's live entries, in name order.
    pub fn entries(&self, ino: Ino) -> Result<Vec<(OsString, Ino, bool)>, FsError> {
        let dir = self.dir(ino)?;
        let is_dir =
            |child: &Ino| matches!(self.inodes.get(child).map(|n| &n.kind), Some(Kind::Dir(_)));
        Ok(dir
            .live
            .iter()
            .map(|(name, child)| (name.clone(), *child, is_dir(child)))
            .collect())
    }

    pub fn create_file(&mut self, parent: Ino, name: &OsStr, mode: u32) -> Result<Ino, FsError> {
        self.add(parent, name, Kind::File(FileData::default()), mode)
    }

    pub fn make_dir(&mut self, parent: Ino, name: &OsStr, mode: u32) -> Result<Ino, FsError> {
        self.add(parent, name, Kind::Dir(DirData::default()), mode)
    }

    /// unlink (`is_dir` false) or rmdir (`is_dir` true).
    pub fn remove(
        &mut self,
        parent: Ino,
        name: &OsStr,
        is_dir: bool,
    ) -> Result<Vec<Effect>, FsError> {
        let ino = self.lookup(parent, name)?;
        match (&self.node(ino)?.kind, is_dir) {
            (Kind::Dir(_), false) => return Err(FsError::IsDir { ino }),
            (Kind::File(_), true) => return Err(FsError::NotDir { ino }),
            (Kind::Dir(dir), true) if !dir.live.is_empty() => {
                return Err(FsError::NotEmpty { ino })
            }
            _ => {}
        }
        self.unlink_live(parent, name, ino)?;
        Ok(self.drop_if_unused(ino))
    }

    pub fn rename(
        &mut self,
        source: (Ino, &OsStr),
        target: (Ino, &OsStr),
        no_replace: bool,
    ) -> Result<Vec<Effect>, FsError> {
        let ino = self.lookup(source.0, source.1)?;
        self.check_name(target.0, target.1)?;
        let is_dir = matches!(self.node(ino)?.kind, Kind::Dir(_));
        if is_dir && source.0 != target.0 {
            return Err(FsError::CrossDirectoryRename { ino });
        }
        if source.0 == target.0 && source.1 == target.1 {
            return Ok(Vec::new());
        }
        let mut effects = Vec::new();
        if let Ok(replaced) = self.lookup(target.0, target.1) {
            if replaced == ino {
                // Two names of one file: rename(2) does nothing (the kernel already checks).
                return Ok(Vec::new());
            }
            if no_replace {
                return Err(FsError::Exists {
                    parent: target.0,
                    name: target.1.to_owned(),
                });
            }
            match (&self.node(replaced)?.kind, is_dir) {
                (Kind::File(_), true) => return Err(FsError::NotDir { ino: replaced }),
                (Kind::Dir(_), false) => return Err(FsError::IsDir { ino: replaced }),
                (Kind::Dir(dir), true) if !dir.live.is_empty() => {
                    return Err(FsError::NotEmpty { ino: replaced })
                }
                _ => {}
            }
            self.unlink_live(target.0, target.1, replaced)?;
            effects.extend(self.drop_if_unused(replaced));
        }
        self.unlink_live(source.0, source.1, ino)?;
        self.link_live(target.0, target.1, ino)?;
        Ok(effects)
    }

    pub fn open(&mut self, ino: Ino) -> Result<(), FsError> {
        let node = self.node_mut(ino)?;
        node.open_count = node.open_count.checked_add(1).ok_or(FsError::Limit {
            what: "open handles per inode",
            limit: u32::MAX.into(),
        })?;
        Ok(())
    }

    pub fn release(&mut self, ino: Ino) -> Vec<Effect> {
        let Some(node) = self.inodes.get_mut(&ino) else {
            return Vec::new();
        };
        node.open_count = node.open_count.saturating_sub(1);
        self.drop_if_unused(ino)
    }

    pub fn write(&mut self, ino: Ino, offset: u64, data: &[u8]) -> Result<Vec<Effect>, FsError> {
        self.change_file(ino, |file| file.write(offset, data))?;
        self.write_back_if_over_budget()
    }

    pub fn truncate(&mut self, ino: Ino, len: u64) -> Result<Vec<Effect>, FsError> {
        self.change_file(ino, |file| file.truncate(len))?;
        self.write_back_if_over_budget()
    }

    pub fn read(&self, ino: Ino, offset: u64, size: u64) -> Result<ReadPlan, FsError> {
        match &self.node(ino)?.kind {
            Kind::File(file) => Ok(ReadPlan {
                home: self.home(ino),
                pieces: file.read(offset, size),
            }),
            Kind::Dir(_) => Err(FsError::IsDir { ino }),
        }
    }

    pub fn set_mode(&mut self, ino: Ino, mode: u32) -> Result<Vec<Effect>, FsError> {
        self.node_mut(ino)?.mode = mode;
        Ok(self
            .home(ino)
            .map(|path| Effect::SetMode { path, mode })
            .into_iter()
            .collect())
    }

    /// fsync or fdatasync: the file's data becomes durable (its name does not).
    pub fn sync_file(&mut self, ino: Ino) -> Result<Vec<Effect>, FsError> {
        let node = self.node(ino)?;
        let dirty = match &node.kind {
            Kind::Dir(_) => return self.sync_dir(ino),
            Kind::File(file) => file.is_dirty(),
        };
        if !dirty {
            return Ok(Vec::new());
        }
        let mut effects = self.ensure_home(ino)?;
        let path = self.home(ino).expect("ensure_home gave it one");
        let before = node_pending(self, ino);
        let Kind::File(file) = &mut self.node_mut(ino)?.kind else {
            unreachable!("checked above")
        };
        let plan = file.sync();
        self.pending_bytes -= before;
        effects.push(Effect::WriteData { path, plan });
        Ok(effects)
    }

    /// fsync of a directory: its live entries become its durable entries.
    pub fn sync_dir(&mut self, dir: Ino) -> Result<Vec<Effect>, FsError> {
        let (live, durable) = {
            let data = self.dir(dir)?;
            (data.live.clone(), data.durable.clone())
        };
        let mut effects = self.ensure_home(dir)?;
        let home = self.home(dir).expect("ensure_home gave it one");
        // First take every name that goes away or changes out of the way, so the targets of
        // the second pass are free in the backing directory.
        for (name, old) in &durable {
            if live.get(name) == Some(old) {
                continue;
            }
            let path = home.join(name);
            let node = self.node_mut(*old)?;
            node.durable_links.remove(&(dir, name.clone()));
            if !node.durable_links.is_empty() {
                effects.push(Effect::RemoveFile { path });
            } else if node.is_live() {
                node.staged = true;
                effects.push(Effect::Rename {
                    from: path,
                    to: staging_path(*old),
                });
            } else {
                effects.extend(self.forget_tree(*old, path));
            }
        }
        for (name, new) in &live {
            if durable.get(name) == Some(new) {
                continue;
            }
            let target = home.join(name);
            let source = self.home(*new);
            let node = self.node_mut(*new)?;
            effects.push(match (source, &node.kind) {
                (Some(from), _) if node.staged => Effect::Rename { from, to: target },
                (Some(from), Kind::File(_)) => Effect::Link { from, to: target },
                (None, Kind::File(_)) => Effect::CreateFile {
                    path: target,
                    mode: node.mode,
                },
                (None, Kind::Dir(_)) => Effect::MakeDir {
                    path: target,
                    mode: node.mode,
                },
                (Some(_), Kind::Dir(_)) => unreachable!("a directory is never durably named twice"),
            });
            node.staged = false;
            node.durable_links.insert((dir, name.clone()));
        }
        self.dir_mut(dir)?.durable = live;
        effects.push(Effect::SyncDir { path: home });
        Ok(effects)
    }

    /// Power loss: the live tree becomes the durable tree; `tear` = (block bytes, rng) keeps a
    /// random block-aligned prefix of each dirty file's live bytes.
    pub fn power_loss<R: Rng>(&mut self, mut tear: Option<(u64, &mut R)>) -> PowerLoss {
        let mut report = PowerLoss::default();
        let reachable = self.durably_reachable();
        let inos: Vec<Ino> = self.inodes.keys().copied().collect();
        for ino in &inos {
            if !reachable.contains(ino) {
                self.inodes.remove(ino);
                report.inodes_dropped += 1;
                continue;
            }
            let node = self.inodes.get_mut(ino).expect("listed above");
            node.durable_links
                .retain(|(parent, _)| reachable.contains(parent));
            node.live_links = node.durable_links.clone();
            node.staged = false;
            node.open_count = 0;
            if let Kind::Dir(dir) = &mut node.kind {
                dir.live = dir.durable.clone();
            }
        }
        for ino in inos.iter().filter(|ino| reachable.contains(ino)) {
            let path = self.home(*ino);
            let Some(Kind::File(file)) = self.inodes.get_mut(ino).map(|n| &mut n.kind) else {
                continue;
            };
            let Some(dirty_from) = file.dirty_from() else {
                continue;
            };
            report.files_reverted += 1;
            let Some((block_bytes, rng)) = tear.as_mut() else {
                file.lose();
                continue;
            };
            let block_first = dirty_from / *block_bytes;
            let block_last = file.live_len().div_ceil(*block_bytes);
            let cut = rng.random_range(block_first..=block_last) * *block_bytes;
            let plan = file.tear(cut);
            if !plan.writes.is_empty() {
                report.files_torn += 1;
                let path = path.expect("a durably reachable file has a backing copy");
                report.effects.push(Effect::WriteData { path, plan });
            }
        }
        report.effects.push(Effect::ClearStaging);
        self.pending_bytes = 0;
        report
    }

    /// The inode's first live path, for matching fault globs.
    pub fn live_path(&self, ino: Ino) -> Option<PathBuf> {
        self.path_by(ino, |node| node.live_links.iter().next())
    }

    /// Where the inode's backing copy is, if it has one.
    pub fn home(&self, ino: Ino) -> Option<PathBuf> {
        // Walk up durable entries to the root or to a staged directory: a file durably named
        // in a directory that is itself only staged (its own name not yet synced, e.g. a new
        // store's `a/b/c` after `fsync(c)` alone) lives under that directory's staging home.
        let mut names = Vec::new();
        let mut at = ino;
        let base = loop {
            let node = self.inodes.get(&at)?;
            if node.staged {
                break staging_path(at);
            }
            if at == ROOT_INO {
                break PathBuf::new();
            }
            if names.len() >= DEPTH_MAX {
                return None;
            }
            let (parent, name) = node.durable_links.iter().next()?;
            names.push(name.as_os_str());
            at = *parent;
        };
        Some(names.iter().rev().fold(base, |path, name| path.join(name)))
    }

    pub fn stats(&self) -> Stats {
        let mut stats = Stats {
            inodes: self.inodes.len() as u64,
            pending_bytes: self.pending_bytes,
            ..Stats::default()
        };
        for node in self.inodes.values() {
            match &node.kind {
                Kind::File(file) if file.is_dirty() => stats.files_dirty += 1,
                Kind::Dir(dir) if dir.live != dir.durable => stats.dirs_dirty += 1,
                _ => {}
            }
        }
        stats
    }
}

fn node_pending(model: &Model, ino: Ino) -> u64 {
    model.inodes.get(&ino).map_or(0, Inode::pending_bytes)
}

mod internal;
