//! The nemesis's plan (design.md §7): either a fixed [`FaultSchedule`] — plain data that can be
//! printed, saved, replayed, and shrunk by deleting events — or [`RandomFaults`], bounds from
//! which the nemesis draws a schedule per seed (swarm testing: the fault mix itself is drawn).
//!
//! Every fault is lifted in the heal phase. A fault with a duration is lifted earlier, when it
//! runs out; a crashed node restarts after `restart_after`, or at heal when none is given. A
//! fault must start during the faulty phase (`at` < `workload.duration`), because a fault that
//! starts at heal would be lifted before it could do anything.

use super::duration;
use super::names::Keyword;
use super::range;
use super::raw::{Flag, RawDisk, RawFaultEvent, RawLatencySpike, RawLoss, RawOneWay, RawPartition};
use super::target::{Roster, Target};
use super::workload::Workload;
use serde::{Serialize, Serializer};

/// A fixed list of fault events, sorted by `at_ms` (stable: equal times keep file order).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FaultSchedule(pub Vec<FaultEvent>);

/// One event: start `fault` at `at_ms`, lift it after `duration_ms`.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultEvent {
    /// Simulated milliseconds since the faulty phase began; `< workload.duration_ms`.
    pub at_ms: u64,
    pub fault: Fault,
    /// `for` (or `restart_after` for crashes). `None`: until the heal phase. Always `None`
    /// for `restart`, which is instantaneous.
    pub duration_ms: Option<u64>,
}

/// What goes wrong.
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// A network partition of the given shape.
    Partition(PartitionShape),
    /// Hold and delay every link of the target (messages are delivered late, not dropped).
    Clog(Target),
    /// Drop this share of all messages, in (0, 1].
    Loss { rate: f64 },
    /// Raise every link's latency to a value drawn from this range.
    LatencySpike { latency_ms: (u64, u64) },
    /// Power loss: unsynced writes are gone; restarts after the event's duration.
    Crash(Target),
    /// Clean process restart (turmoil `bounce`): nothing is lost.
    Restart(Target),
    /// The process stops (all its links held) and resumes when lifted.
    Pause(Target),
    /// A disk fault on a node, from `engine::env::disk`'s injector.
    Disk { fault: DiskFault, node: Target },
    /// A producer dies (mid-transaction, if it is transactional).
    ProducerCrash(Target),
    /// A consumer dies between processing and committing.
    ConsumerCrash(Target),
}

/// The shape of a network partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PartitionShape {
    /// Nodes split into two random halves.
    Halves,
    /// One target cut off from everyone.
    Isolate(Target),
    /// Every node sees a majority, but no two nodes see the same one.
    MajorityRing,
    /// Two halves joined by a single bridge node.
    Bridge,
    /// Messages from `from` to `to` are dropped; the reverse direction works.
    OneWay { from: Target, to: Target },
}

/// Disk faults (design.md §5, §7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiskFault {
    /// `sync_all` returns EIO.
    FsyncError,
    /// Writes return EIO.
    WriteError,
    /// Reads return flipped bytes.
    ReadCorruption,
    /// Writes fail with "no space".
    DiskFull,
    /// Unsynced writes are torn at block boundaries on power loss.
    TornWrites,
    /// Unsynced writes are lost on power loss.
    LoseUnsynced,
    /// Real mode: the node is killed, its largest data file (the system names the kind, e.g.
    /// NATS's `*.blk`) loses its second half, and the node starts again.
    TruncateFile,
    /// Real mode: the node is killed, one byte in the middle of its largest data file is
    /// inverted, and the node starts again.
    BitflipFile,
}

impl Keyword for DiskFault {
    const ALL: &'static [Self] = &[
        DiskFault::FsyncError,
        DiskFault::WriteError,
        DiskFault::ReadCorruption,
        DiskFault::DiskFull,
        DiskFault::TornWrites,
        DiskFault::LoseUnsynced,
        DiskFault::TruncateFile,
        DiskFault::BitflipFile,
    ];
    const WHAT: &'static str = "disk fault";

    fn as_str(&self) -> &'static str {
        match self {
            DiskFault::FsyncError => "fsync-error",
            DiskFault::WriteError => "write-error",
            DiskFault::ReadCorruption => "read-corruption",
            DiskFault::DiskFull => "disk-full",
            DiskFault::TornWrites => "torn-writes",
            DiskFault::LoseUnsynced => "lose-unsynced",
            DiskFault::TruncateFile => "truncate-file",
            DiskFault::BitflipFile => "bitflip-file",
        }
    }
}

/// The kinds of fault, as written in a schedule entry and in `random.kinds`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum FaultKind {
    Partition,
    Clog,
    Loss,
    LatencySpike,
    Crash,
    Restart,
    Pause,
    Disk,
    ProducerCrash,
    ConsumerCrash,
}

impl Keyword for FaultKind {
    const ALL: &'static [Self] = &[
        FaultKind::Partition,
        FaultKind::Clog,
        FaultKind::Loss,
        FaultKind::LatencySpike,
        FaultKind::Crash,
        FaultKind::Restart,
        FaultKind::Pause,
        FaultKind::Disk,
        FaultKind::ProducerCrash,
        FaultKind::ConsumerCrash,
    ];
    const WHAT: &'static str = "fault kind";

    fn as_str(&self) -> &'static str {
        match self {
            FaultKind::Partition => "partition",
            FaultKind::Clog => "clog",
            FaultKind::Loss => "loss",
            FaultKind::LatencySpike => "latency-spike",
            FaultKind::Crash => "crash",
            FaultKind::Restart => "restart",
            FaultKind::Pause => "pause",
            FaultKind::Disk => "disk",
            FaultKind::ProducerCrash => "producer-crash",
            FaultKind::ConsumerCrash => "consumer-crash",
        }
    }
}

impl FaultKind {
    /// Crashes take `restart_after` instead of `for`.
    pub fn restarts(self) -> bool {
        matches!(
            self,
            FaultKind::Crash | FaultKind::ProducerCrash | FaultKind::ConsumerCrash
        )
    }
}

impl Fault {
    pub fn kind(&self) -> FaultKind {
        match self {
            Fault::Partition(_) => FaultKind::Partition,
            Fault::Clog(_) => FaultKind::Clog,
            Fault::Loss { .. } => FaultKind::Loss,
            Fault::LatencySpike { .. } => FaultKind::LatencySpike,
            Fault::Crash(_) => FaultKind::Crash,
            Fault::Restart(_) => FaultKind::Restart,
            Fault::Pause(_) => FaultKind::Pause,
            Fault::Disk { .. } => FaultKind::Disk,
            Fault::ProducerCrash(_) => FaultKind::ProducerCrash,
            Fault::ConsumerCrash(_) => FaultKind::ConsumerCrash,
        }
    }
}

/// Everything a fault entry may refer to.
pub struct FaultContext<'a> {
    pub roster: Roster<'a>,
    pub workload: &'a Workload,
}

/// "partition, clog, ..." for hints.
pub(super) fn kinds_list() -> String {
    let names: Vec<&str> = FaultKind::ALL.iter().map(Keyword::as_str).collect();
    names.join(", ")
}

impl FaultEvent {
    /// The raw entry, as it would be written in a scenario file.
    pub fn to_raw(&self) -> RawFaultEvent {
        let mut raw = RawFaultEvent {
            at: duration::format_ms(self.at_ms),
            ..RawFaultEvent::default()
        };
        let duration = self.duration_ms.map(duration::format_ms);
        if self.fault.kind().restarts() {
            raw.restart_after = duration;
        } else {
            raw.for_ = duration;
        }
        match &self.fault {
            Fault::Partition(shape) => raw.partition = Some(shape_to_raw(shape)),
            Fault::Clog(target) => raw.clog = Some(target.to_string()),
            Fault::Loss { rate } => raw.loss = Some(RawLoss { rate: *rate }),
            Fault::LatencySpike { latency_ms } => {
                raw.latency_spike = Some(RawLatencySpike {
                    latency: range::format_ms(*latency_ms),
                })
            }
            Fault::Crash(target) => raw.crash = Some(target.to_string()),
            Fault::Restart(target) => raw.restart = Some(target.to_string()),
            Fault::Pause(target) => raw.pause = Some(target.to_string()),
            Fault::Disk { fault, node } => {
                raw.disk = Some(RawDisk {
                    fault: fault.as_str().to_owned(),
                    node: node.to_string(),
                })
            }
            Fault::ProducerCrash(target) => raw.producer_crash = Some(target.to_string()),
            Fault::ConsumerCrash(target) => raw.consumer_crash = Some(target.to_string()),
        }
        raw
    }
}

fn shape_to_raw(shape: &PartitionShape) -> RawPartition {
    let mut raw = RawPartition::default();
    match shape {
        PartitionShape::Halves => raw.halves = Some(Flag),
        PartitionShape::Isolate(target) => raw.isolate = Some(target.to_string()),
        PartitionShape::MajorityRing => raw.majority_ring = Some(Flag),
        PartitionShape::Bridge => raw.bridge = Some(Flag),
        PartitionShape::OneWay { from, to } => {
            raw.one_way = Some(RawOneWay {
                from: from.to_string(),
                to: to.to_string(),
            })
        }
    }
    raw
}

impl FaultSchedule {
    /// The raw entries, in schedule order.
    pub fn to_raw(&self) -> Vec<RawFaultEvent> {
        self.0.iter().map(FaultEvent::to_raw).collect()
    }
}

/// A schedule serialises as the list under `faults.schedule`, in the syntax it was read in.
impl Serialize for FaultSchedule {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_raw().serialize(serializer)
    }
}
