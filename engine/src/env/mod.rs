//! The seam between node code and the world. Every node receives an [`Env`] at start and reaches
//! the network, the disk, time and randomness only through it, so one build serves real TCP and
//! files and also runs inside turmoil, where a run is a pure function of (scenario, seed, code).
//!
//! Fault model: the simulated network (partitions, holds, loss, crashes) is turmoil's; the disk
//! carries its own per-node [`DiskFaults`] injector because turmoil's disk faults are global and
//! fixed when the simulation is built (design.md section 5).

pub mod addr;
pub mod clock;
pub mod disk;
pub mod disk_error;
pub mod disk_faults;
pub mod disk_file;
pub mod net;
pub mod node_events;
pub mod page_cache;
mod pending_sync;
pub mod power_loss;
pub mod rng;
pub mod spawn;

pub use addr::NodeAddr;
pub use clock::Clock;
pub use disk::Disk;
pub use disk_error::{DiskError, DiskOp};
pub use disk_faults::{DiskFault, DiskFaultKind, DiskFaults};
pub use disk_file::DiskFile;
pub use net::{Listener, Net, Stream};
pub use node_events::{NodeEvent, NodeEventRecord, NodeEvents};
pub use pending_sync::{PendingSync, SYNC_THREADS_MAX};
pub use power_loss::{Keep, PowerLoss, POWER_LOSS_BLOCK_BYTES};
pub use rng::{derive_seed, NodeRng};
pub use spawn::spawn;

use std::path::PathBuf;

/// Which world a node lives in. Chosen once, when the node starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Real tokio TCP sockets and the real file system.
    Real,
    /// turmoil's simulated TCP and its file-system shim; must run inside a turmoil host.
    Sim,
}

/// Everything a node may use to touch the outside world.
pub struct Env {
    pub mode: Mode,
    pub net: Net,
    pub disk: Disk,
    pub clock: Clock,
    pub rng: NodeRng,
}

/// How to build an [`Env`].
pub struct EnvOptions {
    pub mode: Mode,
    /// The node's data directory: a real path, or a path inside the host's simulated disk.
    pub data_dir: PathBuf,
    /// The node's seed, derived from the run's master seed with [`derive_seed`].
    pub seed: u64,
    /// The injector the harness flips at run time. Real nodes get a fresh, quiet one.
    pub disk_faults: DiskFaults,
}

impl Env {
    /// Opens the data directory (creating it durably) and wires the seam for `options.mode`.
    pub fn open(options: EnvOptions) -> Result<Env, DiskError> {
        let net = match options.mode {
            Mode::Real => Net::Real,
            Mode::Sim => Net::Sim,
        };
        let disk = Disk::open(options.mode, options.data_dir, options.disk_faults)?;
        Ok(Env {
            mode: options.mode,
            net,
            disk,
            clock: Clock::new(),
            rng: rand::SeedableRng::seed_from_u64(options.seed),
        })
    }
}
