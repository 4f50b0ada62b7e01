//! The backing directory: performs the model's effects and reads durable bytes. It is the only
//! code that writes there, so after each effect list it holds exactly the model's durable tree
//! (see `model`'s invariant). A failed effect leaves the two apart; the caller reports EIO.

use std::collections::BTreeMap;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, FileExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use crate::effect::Effect;
use crate::error::{ControlError, FsError};
use crate::model::{Ino, Model, INODES_MAX, ROOT_INO, STAGING_DIR};

#[derive(Debug, Clone)]
pub struct Backing {
    root: PathBuf,
    /// fsync the backing files too. Off by default: the power loss faultfs simulates is the
    /// model's, and the host keeps its page cache when a tested process dies, so a real fsync
    /// per simulated one only slows the test (a few ms each on a disk).
    sync: bool,
}

/// Why the backing directory could not be loaded at mount.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("backing directory {path}: {cause}")]
    Io { path: PathBuf, cause: io::Error },
    #[error("backing directory {path}: {cause}")]
    Model { path: PathBuf, cause: FsError },
}

impl Backing {
    pub fn new(root: &Path, sync: bool) -> io::Result<Backing> {
        let root = root.canonicalize()?;
        if !root.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                "backing path is not a directory",
            ));
        }
        Ok(Backing { root, sync })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn path(&self, relative: &Path) -> PathBuf {
        self.root.join(relative)
    }

    /// Empties the staging directory (creating it if needed): staged inodes are orphans after
    /// a power loss, and after a previous faultfs that did not unmount cleanly.
    pub fn reset_staging(&self) -> io::Result<()> {
        let staging = self.root.join(STAGING_DIR);
        if staging.exists() {
            fs::remove_dir_all(&staging)?;
        }
        fs::create_dir(&staging)
    }

    /// Loads the backing tree into a fresh model: everything there is durable. Files that are
    /// hard links of each other become one inode; symlinks and special files are skipped.
    pub fn scan(&self, model: &mut Model) -> Result<u64, ScanError> {
        let mut by_device_inode: BTreeMap<(u64, u64), Ino> = BTreeMap::new();
        let mut stack = vec![(ROOT_INO, self.root.clone())];
        let mut loaded = 0u64;
        while let Some((parent, dir)) = stack.pop() {
            let io_error = |cause| ScanError::Io {
                path: dir.clone(),
                cause,
            };
            let mut entries: Vec<_> = fs::read_dir(&dir)
                .map_err(io_error)?
                .collect::<Result<_, _>>()
                .map_err(io_error)?;
            entries.sort_by_key(|entry| entry.file_name());
            for entry in entries {
                let name = entry.file_name();
                if parent == ROOT_INO && name == STAGING_DIR {
                    continue;
                }
                let path = entry.path();
                let meta = fs::symlink_metadata(&path).map_err(|cause| ScanError::Io {
                    path: path.clone(),
                    cause,
                })?;
                let model_error = |cause| ScanError::Model {
                    path: path.clone(),
                    cause,
                };
                let mode = meta.mode() & 0o7777;
                if meta.is_dir() {
                    let ino = model.load(parent, &name, None, mode).map_err(model_error)?;
                    stack.push((ino, path.clone()));
                } else if meta.is_file() {
                    match by_device_inode.get(&(meta.dev(), meta.ino())) {
                        Some(ino) => model.load_link(parent, &name, *ino).map_err(model_error)?,
                        None => {
                            let ino = model
                                .load(parent, &name, Some(meta.len()), mode)
                                .map_err(model_error)?;
                            by_device_inode.insert((meta.dev(), meta.ino()), ino);
                        }
                    }
                } else {
                    eprintln!(
                        "faultfs: skipping {} (only files and directories are modelled)",
                        path.display()
                    );
                    continue;
                }
                loaded += 1;
                assert!(
                    loaded as usize <= INODES_MAX,
                    "scan loaded more than INODES_MAX entries"
                );
            }
        }
        Ok(loaded)
    }

    pub fn apply(&self, effects: &[Effect]) -> io::Result<()> {
        for effect in effects {
            self.apply_one(effect)
                .map_err(|error| io::Error::new(error.kind(), format!("{effect:?}: {error}")))?;
        }
        Ok(())
    }

    fn apply_one(&self, effect: &Effect) -> io::Result<()> {
        match effect {
            Effect::CreateFile { path, mode } => {
                OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(*mode)
                    .open(self.path(path))?;
            }
            Effect::MakeDir { path, mode } => {
                DirBuilder::new().mode(*mode).create(self.path(path))?
            }
            Effect::WriteData { path, plan } => {
                let file = OpenOptions::new().write(true).open(self.path(path))?;
                if let Some(len) = plan.truncate_to {
                    file.set_len(len)?;
                }
                for (offset, bytes) in &plan.writes {
                    file.write_all_at(bytes, *offset)?;
                }
                if let Some(len) = plan.len {
                    file.set_len(len)?;
                }
                if self.sync {
                    file.sync_all()?;
                }
            }
            Effect::Link { from, to } => fs::hard_link(self.path(from), self.path(to))?,
            Effect::Rename { from, to } => fs::rename(self.path(from), self.path(to))?,
            Effect::RemoveFile { path } => fs::remove_file(self.path(path))?,
            Effect::RemoveTree { path } => fs::remove_dir_all(self.path(path))?,
            Effect::SetMode { path, mode } => {
                fs::set_permissions(self.path(path), fs::Permissions::from_mode(*mode))?
            }
            Effect::SyncDir { path } if self.sync => File::open(self.path(path))?.sync_all()?,
            Effect::SyncDir { .. } => {}
            Effect::ClearStaging => self.reset_staging()?,
        }
        Ok(())
    }

    /// `len` durable bytes at `offset`; bytes past the backing file's end read as zeros (a
    /// bit-flipped or externally cut file must not make reads fail).
    pub fn read(&self, home: &Path, offset: u64, len: u64) -> io::Result<Vec<u8>> {
        let file = File::open(self.path(home))?;
        let mut bytes = vec![0u8; len as usize];
        let mut filled = 0usize;
        while filled < bytes.len() {
            let read = file.read_at(&mut bytes[filled..], offset + filled as u64)?;
            if read == 0 {
                break;
            }
            filled += read;
        }
        Ok(bytes)
    }

    /// Flips bit `bit` of the byte at `offset` of the durable file `relative` (a path under the
    /// mount, which is the same path under the backing root for a durable file).
    pub fn bitflip(&self, relative: &Path, offset: u64, bit: u8) -> Result<(), ControlError> {
        let problem = |problem: String| ControlError::Bitflip {
            path: relative.to_owned(),
            problem,
        };
        let plain = relative
            .components()
            .all(|c| matches!(c, Component::Normal(_)));
        if !plain || relative.as_os_str().is_empty() || relative.starts_with(STAGING_DIR) {
            return Err(problem(
                "give a relative path without '..' inside the mount".into(),
            ));
        }
        if bit > 7 {
            return Err(problem(format!("bit {bit} is not in 0..=7")));
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(self.path(relative))
            .map_err(|e| {
                problem(format!(
                    "{e} (only a durable file can be corrupted: fsync it and its directory)"
                ))
            })?;
        let mut byte = [0u8; 1];
        if file
            .read_at(&mut byte, offset)
            .map_err(|e| problem(e.to_string()))?
            != 1
        {
            let len = file.metadata().map(|m| m.len()).unwrap_or(0);
            return Err(problem(format!(
                "offset {offset} is past the durable length {len}"
            )));
        }
        byte[0] ^= 1 << bit;
        file.write_all_at(&byte, offset)
            .and_then(|()| file.sync_all())
            .map_err(|e| problem(e.to_string()))
    }

    /// (total, free) bytes of the file system holding the backing directory.
    pub fn space(&self) -> io::Result<(u64, u64)> {
        let stat = nix::sys::statvfs::statvfs(&self.root).map_err(io::Error::from)?;
        let fragment = stat.fragment_size() as u64;
        Ok((
            stat.blocks() as u64 * fragment,
            stat.blocks_available() as u64 * fragment,
        ))
    }
}
