//! A fault in words, for the report's reader: "one-way cut from the leader of orders/0 to a
//! follower of orders/0", "read corruption on broker-2". The nemesis records these words in the
//! history (the `detail` of a `start-*` op), and the reports show them as they are, so the
//! wording lives once, here, next to the faults it describes.

use super::fault::{DiskFault, Fault, PartitionShape};
use super::target::Target;

/// The fault in words. `nodes` are the hosts it hit, resolved when it started (for a bridge:
/// the bridge node).
pub fn describe(fault: &Fault, nodes: &[String]) -> String {
    match fault {
        Fault::Partition(shape) => partition(shape, nodes),
        Fault::Clog(target) => format!(
            "clog: every link of {} held and delivered late",
            role(target)
        ),
        Fault::Loss { rate } => format!("{}% of all messages dropped", percent(*rate)),
        Fault::LatencySpike { latency_ms } => format!(
            "latency spike: every link {}..{} ms",
            latency_ms.0, latency_ms.1
        ),
        Fault::Crash(target) => format!(
            "power loss on {}: unsynced writes lost, then a restart",
            role(target)
        ),
        Fault::Restart(target) => format!("clean restart of {} (nothing lost)", role(target)),
        Fault::Pause(target) => format!(
            "{} paused: all its links held until it resumes",
            role(target)
        ),
        Fault::Disk { fault, node } => disk(*fault, &role(node)),
        Fault::ProducerCrash(target) => format!(
            "producer {} crashes (mid-transaction, if it is in one)",
            role(target)
        ),
        Fault::ConsumerCrash(target) => format!(
            "consumer {} crashes between processing and committing",
            role(target)
        ),
    }
}

/// The fault in words for a real-mode run, where some faults have other mechanisms
/// (design.md §13); the rest read as in simulation.
pub fn describe_real(fault: &Fault, nodes: &[String]) -> String {
    match fault {
        Fault::Crash(target) => format!(
            "{} killed with SIGKILL (its page cache survives), then a restart",
            role(target)
        ),
        Fault::Pause(target) => format!("{} stopped with SIGSTOP until SIGCONT", role(target)),
        Fault::Clog(target) => format!(
            "clog: every link of {} dropped by iptables; TCP delivers it late once lifted",
            role(target)
        ),
        other => describe(other, nodes),
    }
}

fn partition(shape: &PartitionShape, nodes: &[String]) -> String {
    match shape {
        PartitionShape::Halves => "split into two halves that cannot reach each other".to_owned(),
        PartitionShape::Isolate(target) => {
            format!("isolate {} from every other node", role(target))
        }
        PartitionShape::MajorityRing => {
            "majority ring: every node sees a majority, no two the same one".to_owned()
        }
        PartitionShape::Bridge => match nodes {
            [bridge] => format!("bridge: {bridge} joins two halves that cannot reach each other"),
            _ => "bridge: one node joins two halves that cannot reach each other".to_owned(),
        },
        PartitionShape::OneWay { from, to } => format!(
            "one-way cut from {} to {} (the reverse direction works)",
            role(from),
            role(to)
        ),
    }
}

fn disk(fault: DiskFault, node: &str) -> String {
    match fault {
        DiskFault::FsyncError => format!("fsync fails (EIO) on {node}"),
        DiskFault::WriteError => format!("writes fail (EIO) on {node}"),
        DiskFault::ReadCorruption => {
            format!("read corruption on {node}: reads return flipped bytes")
        }
        DiskFault::DiskFull => format!("disk full on {node}"),
        DiskFault::TornWrites => {
            format!(
                "power loss on {node}: unsynced writes torn at block boundaries, then a restart"
            )
        }
        DiskFault::LoseUnsynced => {
            format!("power loss on {node}: unsynced writes lost, then a restart")
        }
        DiskFault::TruncateFile => {
            format!("{node} killed, its largest data file cut to half its length, then a restart")
        }
        DiskFault::BitflipFile => {
            format!("{node} killed, a byte in the middle of its largest data file inverted, then a restart")
        }
    }
}

/// A target as a role in a sentence: "the leader of orders/0", "broker-2".
fn role(target: &Target) -> String {
    match target {
        Target::Leader(partition) => format!("the leader of {partition}"),
        Target::Follower(partition) => format!("a follower of {partition}"),
        Target::Controller => "the controller".to_owned(),
        Target::Coordinator => "the coordinator".to_owned(),
        Target::Minority => "a minority of the brokers".to_owned(),
        Target::Majority => "a majority of the brokers".to_owned(),
        Target::Random => "a random node".to_owned(),
        Target::Broker(_) | Target::CoordinatorNode(_) | Target::Client(_) => target.to_string(),
    }
}

/// `0.25` as `25`, `0.005` as `0.5`.
fn percent(rate: f64) -> String {
    let percent = (rate * 1000.0).round() / 10.0;
    if percent.fract() == 0.0 {
        format!("{percent:.0}")
    } else {
        format!("{percent}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::PartitionRef;

    fn orders0() -> PartitionRef {
        PartitionRef {
            topic: "orders".to_owned(),
            partition: 0,
        }
    }

    #[test]
    fn faults_read_as_sentences() {
        let one_way = Fault::Partition(PartitionShape::OneWay {
            from: Target::Leader(orders0()),
            to: Target::Follower(orders0()),
        });
        assert_eq!(
            describe(&one_way, &["broker-1".to_owned()]),
            "one-way cut from the leader of orders/0 to a follower of orders/0 (the reverse \
             direction works)"
        );
        let isolate = Fault::Partition(PartitionShape::Isolate(Target::Broker(2)));
        assert_eq!(
            describe(&isolate, &[]),
            "isolate broker-2 from every other node"
        );
        let bridge = Fault::Partition(PartitionShape::Bridge);
        assert_eq!(
            describe(&bridge, &["broker-1".to_owned()]),
            "bridge: broker-1 joins two halves that cannot reach each other"
        );
        let corrupt = Fault::Disk {
            fault: DiskFault::ReadCorruption,
            node: Target::Broker(2),
        };
        assert_eq!(
            describe(&corrupt, &[]),
            "read corruption on broker-2: reads return flipped bytes"
        );
        assert_eq!(
            describe(&Fault::Loss { rate: 0.05 }, &[]),
            "5% of all messages dropped"
        );
        assert_eq!(
            describe(&Fault::Loss { rate: 0.005 }, &[]),
            "0.5% of all messages dropped"
        );
        assert_eq!(
            describe(&Fault::Crash(Target::Controller), &[]),
            "power loss on the controller: unsynced writes lost, then a restart"
        );
    }

    #[test]
    fn no_description_reads_like_rust_debug_output() {
        let target = Target::Leader(orders0());
        let faults = [
            Fault::Partition(PartitionShape::Halves),
            Fault::Partition(PartitionShape::MajorityRing),
            Fault::Clog(target.clone()),
            Fault::LatencySpike {
                latency_ms: (50, 200),
            },
            Fault::Restart(target.clone()),
            Fault::Pause(target.clone()),
            Fault::ProducerCrash(Target::Client(1)),
            Fault::ConsumerCrash(Target::Client(2)),
        ];
        for fault in &faults {
            let words = describe(fault, &[]);
            assert!(
                !words.contains('{') && !words.contains("partitionref"),
                "{words}"
            );
            assert!(words.len() < 120, "{words}");
        }
    }
}
