//! What the FUSE adapter and the control channel share: the model, the backing directory, the
//! fault switches and the seeded generator for torn writes. It applies the model's effects and
//! turns every failure into an errno, logging the cause (a failed backing write means the
//! backing directory no longer mirrors the model, which the log must say).

use std::path::Path;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::backing::{Backing, ScanError};
use crate::effect::Effect;
use crate::error::FsError;
use crate::faults::Faults;
use crate::model::file::Piece;
use crate::model::{Ino, Model, PowerLoss};

/// An errno for the FUSE reply.
pub type Errno = i32;

#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Seeds the generator that picks torn-write cut points.
    pub seed: u64,
    pub pending_bytes_max: u64,
    /// Also fsync the backing files and directories when the model makes them durable.
    pub sync_backing: bool,
}

#[derive(Debug)]
pub struct State {
    pub model: Model,
    pub backing: Backing,
    pub faults: Faults,
    rng: ChaCha8Rng,
    /// Bumped at each power loss; file handles carry it, so a handle opened before the power
    /// loss fails with EIO instead of touching the file that replaced its inode.
    pub generation: u64,
}

impl State {
    pub fn open(backing_dir: &Path, options: Options) -> Result<State, ScanError> {
        let io_error = |cause| ScanError::Io {
            path: backing_dir.to_owned(),
            cause,
        };
        let backing = Backing::new(backing_dir, options.sync_backing).map_err(io_error)?;
        backing.reset_staging().map_err(io_error)?;
        let mut model = Model::new(options.pending_bytes_max);
        backing.scan(&mut model)?;
        let rng = ChaCha8Rng::seed_from_u64(options.seed);
        Ok(State {
            model,
            backing,
            faults: Faults::default(),
            rng,
            generation: 1,
        })
    }

    /// Runs a model operation and applies its effects.
    pub fn run<T>(
        &mut self,
        op: impl FnOnce(&mut Model) -> Result<(T, Vec<Effect>), FsError>,
    ) -> Result<T, Errno> {
        let (value, effects) = op(&mut self.model).map_err(|error| error.errno())?;
        self.apply(&effects)?;
        Ok(value)
    }

    pub fn apply(&self, effects: &[Effect]) -> Result<(), Errno> {
        self.backing.apply(effects).map_err(|error| {
            eprintln!(
                "faultfs: backing directory write failed, it no longer mirrors the model: {error}"
            );
            libc::EIO
        })
    }

    pub fn read(&self, ino: Ino, offset: u64, size: u64) -> Result<Vec<u8>, Errno> {
        let plan = self
            .model
            .read(ino, offset, size)
            .map_err(|error| error.errno())?;
        let mut bytes = Vec::with_capacity(size.min(1 << 20) as usize);
        for piece in plan.pieces {
            match piece {
                Piece::Bytes(data) => bytes.extend_from_slice(&data),
                Piece::Zeros { len } => bytes.resize(bytes.len() + len as usize, 0),
                Piece::Durable { offset, len } => {
                    let home = plan.home.as_deref().ok_or(libc::EIO)?;
                    let durable = self.backing.read(home, offset, len).map_err(|error| {
                        eprintln!("faultfs: reading {}: {error}", home.display());
                        libc::EIO
                    })?;
                    bytes.extend_from_slice(&durable);
                }
            }
        }
        Ok(bytes)
    }

    /// True when the fsync-eio fault covers this inode's path.
    pub fn fsync_fails(&self, ino: Ino) -> bool {
        let path = self.model.live_path(ino).or_else(|| self.model.home(ino));
        let path = path
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        self.faults.fsync_fails(&path)
    }

    pub fn power_loss(&mut self, torn_block_bytes: Option<u64>) -> Result<PowerLoss, Errno> {
        let tear = torn_block_bytes.map(|block_bytes| (block_bytes, &mut self.rng));
        let report = self.model.power_loss(tear);
        self.generation += 1;
        self.apply(&report.effects)?;
        Ok(report)
    }
}
