//! The fabric: how the nemesis acts on the world. In simulation it is turmoil's links and the
//! driver's crash/bounce (`sim_fabric`); in real mode it is iptables in network namespaces,
//! signals to processes and our FUSE file system (`crate::real`). The nemesis decides *what*
//! to do and records it; the fabric only does it, so both modes play the same schedule.

use crate::scenario::DiskFault;
use std::time::Duration;

/// An ordered pair of hosts: traffic from the first to the second.
pub type Link = (String, String);

/// What a power loss keeps of the data a server wrote but did not sync.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unsynced {
    /// Nothing (`lose-unsynced`).
    LoseAll,
    /// A drawn crash state per file (`crash`, `torn-writes`).
    Torn,
}

/// What happens to a stopped server's largest data file (design.md §13: file corruption).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Corruption {
    /// The second half is cut off.
    TruncateHalf,
    /// The byte in the middle is inverted.
    BitflipMiddle,
}

/// A disk fault that stays in force until lifted (power losses are one-shot: [`Fabric::crash`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum DiskSwitch {
    FsyncError,
    WriteError,
    ReadCorruption,
    Full,
}

impl DiskSwitch {
    /// The switch a scenario's disk fault flips; `None` for the power losses.
    pub fn of(fault: DiskFault) -> Option<DiskSwitch> {
        match fault {
            DiskFault::FsyncError => Some(DiskSwitch::FsyncError),
            DiskFault::WriteError => Some(DiskSwitch::WriteError),
            DiskFault::ReadCorruption => Some(DiskSwitch::ReadCorruption),
            DiskFault::DiskFull => Some(DiskSwitch::Full),
            DiskFault::TornWrites
            | DiskFault::LoseUnsynced
            | DiskFault::TruncateFile
            | DiskFault::BitflipFile => None,
        }
    }
}

/// Every method acts at once and returns; a failure to act is logged by the fabric and the run
/// goes on (the history records what the nemesis meant to do; `sim.log` what happened).
pub trait Fabric {
    /// Drops traffic both ways on each pair (a partition).
    fn cut(&self, pairs: &[Link]);
    /// Drops traffic from the first host to the second only.
    fn cut_one_way(&self, pairs: &[Link]);
    fn mend(&self, pairs: &[Link]);
    fn mend_one_way(&self, pairs: &[Link]);
    /// Holds every link between `host` and `others` both ways (a clog): what is sent meanwhile
    /// is delivered when it lifts.
    fn clog(&self, host: &str, others: &[String]);
    fn unclog(&self, host: &str, others: &[String]);
    /// Stops a process without killing it; `others` are every other host (the simulation
    /// models a pause as a clog of all its links).
    fn pause(&self, host: &str, others: &[String]);
    fn resume(&self, host: &str, others: &[String]);
    /// Kills a host at once (a process crash in real mode; in simulation the whole machine
    /// goes, and its unsynced writes survive as a drawn crash state).
    fn crash(&self, host: &str);
    /// Cuts a server's power: the process dies and its unsynced writes are lost as `unsynced`
    /// says. It stays down until restarted.
    fn power_off(&self, host: &str, unsynced: Unsynced);
    /// Damages the largest data file of a stopped server (real mode only: refused before a
    /// simulation starts).
    fn corrupt(&self, host: &str, corruption: Corruption);
    /// Starts a crashed host again on its data (or restarts a running one).
    fn restart(&self, host: &str);
    /// Share of messages lost on every link from now on.
    fn set_loss(&self, rate: f64);
    /// Largest per-message latency from now on.
    fn set_latency_max(&self, latency: Duration);
    /// Turns a disk fault on for a server; a full disk is full at what it holds now.
    fn disk_on(&self, host: &str, switch: DiskSwitch);
    fn disk_off(&self, host: &str, switch: DiskSwitch);
    /// Every disk fault off, on every server (the heal).
    fn disks_all_off(&self);
}
