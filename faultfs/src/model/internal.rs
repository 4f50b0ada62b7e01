//! The model's private helpers: lookups, link bookkeeping, and the two walks (paths upward,
//! reachability downward), each bounded by `DEPTH_MAX` or `INODES_MAX`.

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::path::PathBuf;

use super::{
    file::FileData, node_pending, staging_path, DirData, Ino, Inode, Kind, Link, Model, DEPTH_MAX,
    INODES_MAX, NAME_BYTES_MAX, ROOT_INO, STAGING_DIR,
};
use crate::effect::Effect;
use crate::error::FsError;

impl Model {
    pub(super) fn node(&self, ino: Ino) -> Result<&Inode, FsError> {
        self.inodes.get(&ino).ok_or(FsError::Stale { ino })
    }

    pub(super) fn node_mut(&mut self, ino: Ino) -> Result<&mut Inode, FsError> {
        self.inodes.get_mut(&ino).ok_or(FsError::Stale { ino })
    }

    pub(super) fn dir(&self, ino: Ino) -> Result<&DirData, FsError> {
        match &self.node(ino)?.kind {
            Kind::Dir(dir) => Ok(dir),
            Kind::File(_) => Err(FsError::NotDir { ino }),
        }
    }

    pub(super) fn dir_mut(&mut self, ino: Ino) -> Result<&mut DirData, FsError> {
        match &mut self.node_mut(ino)?.kind {
            Kind::Dir(dir) => Ok(dir),
            Kind::File(_) => Err(FsError::NotDir { ino }),
        }
    }

    pub(super) fn check_name(&self, parent: Ino, name: &OsStr) -> Result<(), FsError> {
        let bytes = name.as_encoded_bytes();
        let reserved = parent == ROOT_INO && name == STAGING_DIR;
        if bytes.is_empty() || bytes.contains(&b'/') || name == "." || name == ".." || reserved {
            return Err(FsError::InvalidName {
                name: name.to_owned(),
            });
        }
        if bytes.len() > NAME_BYTES_MAX {
            return Err(FsError::Limit {
                what: "name bytes",
                limit: NAME_BYTES_MAX as u64,
            });
        }
        self.dir(parent).map(|_| ())
    }

    /// A new inode, live-linked as `parent/name` (not durable anywhere yet).
    pub(super) fn add(
        &mut self,
        parent: Ino,
        name: &OsStr,
        kind: Kind,
        mode: u32,
    ) -> Result<Ino, FsError> {
        self.check_name(parent, name)?;
        if self.dir(parent)?.live.contains_key(name) {
            return Err(FsError::Exists {
                parent,
                name: name.to_owned(),
            });
        }
        if self.inodes.len() >= INODES_MAX {
            return Err(FsError::Limit {
                what: "inodes",
                limit: INODES_MAX as u64,
            });
        }
        if self
            .path_by(parent, |node| node.live_links.iter().next())
            .is_none()
        {
            return Err(FsError::Limit {
                what: "directory depth",
                limit: DEPTH_MAX as u64,
            });
        }
        let ino = self.ino_next;
        self.ino_next += 1;
        self.inodes.insert(ino, Inode::new(kind, mode));
        self.link_live(parent, name, ino)?;
        Ok(ino)
    }

    pub(super) fn link_live(&mut self, parent: Ino, name: &OsStr, ino: Ino) -> Result<(), FsError> {
        self.node_mut(ino)?
            .live_links
            .insert((parent, name.to_owned()));
        self.dir_mut(parent)?.live.insert(name.to_owned(), ino);
        Ok(())
    }

    pub(super) fn unlink_live(
        &mut self,
        parent: Ino,
        name: &OsStr,
        ino: Ino,
    ) -> Result<(), FsError> {
        self.node_mut(ino)?
            .live_links
            .remove(&(parent, name.to_owned()));
        self.dir_mut(parent)?.live.remove(name);
        Ok(())
    }

    pub(super) fn link_durable(
        &mut self,
        parent: Ino,
        name: &OsStr,
        ino: Ino,
    ) -> Result<(), FsError> {
        self.node_mut(ino)?
            .durable_links
            .insert((parent, name.to_owned()));
        self.dir_mut(parent)?.durable.insert(name.to_owned(), ino);
        Ok(())
    }

    /// Forgets an inode nobody can reach any more: no live name, no open handle, no durable
    /// name. A staged copy is deleted with it.
    pub(super) fn drop_if_unused(&mut self, ino: Ino) -> Vec<Effect> {
        let Some(node) = self.inodes.get(&ino) else {
            return Vec::new();
        };
        if ino == ROOT_INO || node.is_live() || !node.durable_links.is_empty() {
            return Vec::new();
        }
        if node.staged {
            return self.forget_tree(ino, staging_path(ino));
        }
        self.pending_bytes -= node.pending_bytes();
        self.inodes.remove(&ino);
        Vec::new()
    }

    /// Removes an inode that lost its last durable name (or its staged copy) at `path`. A
    /// directory's durable children go with it, except those still live elsewhere (renamed
    /// out, or open): their backing copies move to staging first.
    pub(super) fn forget_tree(&mut self, ino: Ino, path: PathBuf) -> Vec<Effect> {
        let mut effects = Vec::new();
        let mut stack = vec![(ino, path.clone())];
        let mut is_dir = false;
        let mut visited = 0usize;
        while let Some((ino, path)) = stack.pop() {
            visited += 1;
            assert!(
                visited <= INODES_MAX,
                "forget_tree walked more than INODES_MAX inodes"
            );
            self.pending_bytes -= node_pending(self, ino);
            let Some(node) = self.inodes.remove(&ino) else {
                continue;
            };
            let Kind::Dir(dir) = node.kind else { continue };
            is_dir |= visited == 1;
            for (name, child) in dir.durable {
                let child_path = path.join(&name);
                let Some(child_node) = self.inodes.get_mut(&child) else {
                    continue;
                };
                child_node.durable_links.remove(&(ino, name));
                if !child_node.durable_links.is_empty() {
                    continue;
                }
                if child_node.is_live() {
                    child_node.staged = true;
                    effects.push(Effect::Rename {
                        from: child_path,
                        to: staging_path(child),
                    });
                } else {
                    stack.push((child, child_path));
                }
            }
        }
        effects.push(if is_dir {
            Effect::RemoveTree { path }
        } else {
            Effect::RemoveFile { path }
        });
        effects
    }

    /// Gives an inode a backing copy in staging if it has none, so a sync has a place to go.
    pub(super) fn ensure_home(&mut self, ino: Ino) -> Result<Vec<Effect>, FsError> {
        if self.home(ino).is_some() {
            return Ok(Vec::new());
        }
        let node = self.node_mut(ino)?;
        node.staged = true;
        let (path, mode) = (staging_path(ino), node.mode);
        Ok(vec![match node.kind {
            Kind::File(_) => Effect::CreateFile { path, mode },
            Kind::Dir(_) => Effect::MakeDir { path, mode },
        }])
    }

    pub(super) fn change_file(
        &mut self,
        ino: Ino,
        change: impl FnOnce(&mut FileData),
    ) -> Result<(), FsError> {
        let before = node_pending(self, ino);
        match &mut self.node_mut(ino)?.kind {
            Kind::File(file) => change(file),
            Kind::Dir(_) => return Err(FsError::IsDir { ino }),
        }
        self.pending_bytes = self.pending_bytes - before + node_pending(self, ino);
        Ok(())
    }

    /// Over budget, sync the files holding the most unsynced bytes: a kernel may write dirty
    /// pages back at any time, so this stays within the model; it only makes data durable early.
    pub(super) fn write_back_if_over_budget(&mut self) -> Result<Vec<Effect>, FsError> {
        let mut effects = Vec::new();
        while self.pending_bytes > self.pending_bytes_max {
            let largest = self
                .inodes
                .iter()
                .max_by_key(|(_, node)| node.pending_bytes());
            let Some((ino, _)) = largest else { break };
            let before = self.pending_bytes;
            effects.extend(self.sync_file(*ino)?);
            assert!(
                self.pending_bytes < before,
                "write-back must shrink the pending bytes"
            );
        }
        Ok(effects)
    }

    /// The path of `ino` following `link` upward to the root; `None` when a step has no link
    /// or the path is deeper than `DEPTH_MAX`.
    pub(super) fn path_by(
        &self,
        ino: Ino,
        link: impl Fn(&Inode) -> Option<&Link>,
    ) -> Option<PathBuf> {
        let mut names = Vec::new();
        let mut at = ino;
        while at != ROOT_INO {
            if names.len() >= DEPTH_MAX {
                return None;
            }
            let (parent, name) = link(self.inodes.get(&at)?)?;
            names.push(name.as_os_str());
            at = *parent;
        }
        Some(names.iter().rev().collect())
    }

    /// Inodes a power loss keeps: those reachable from the root through durable entries.
    pub(super) fn durably_reachable(&self) -> BTreeSet<Ino> {
        let mut reachable = BTreeSet::from([ROOT_INO]);
        let mut stack = vec![ROOT_INO];
        while let Some(ino) = stack.pop() {
            assert!(
                reachable.len() <= INODES_MAX,
                "more reachable inodes than INODES_MAX"
            );
            if let Some(Inode {
                kind: Kind::Dir(dir),
                ..
            }) = self.inodes.get(&ino)
            {
                for child in dir.durable.values() {
                    if reachable.insert(*child) {
                        stack.push(*child);
                    }
                }
            }
        }
        reachable
    }
}
