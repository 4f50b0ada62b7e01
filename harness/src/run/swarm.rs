//! Swarm testing (design.md section 7): a random fault schedule drawn from the run's seed within
//! the scenario's bounds, so the mix of faults itself varies from seed to seed. The drawn
//! schedule is an ordinary `FaultSchedule`: it can be printed, replayed and shrunk.

use crate::scenario::{
    DiskFault, Fault, FaultEvent, FaultKind, FaultSchedule, PartitionShape, RandomFaults, Scenario,
    Target,
};
use rand::seq::IndexedRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Drawn events per run, at most.
const EVENTS_MAX: usize = 200;

fn node_target(scenario: &Scenario, rng: &mut ChaCha8Rng) -> Target {
    let mut choices = vec![Target::Controller, Target::Random, Target::Coordinator];
    for topic in &scenario.cluster.topics {
        for partition in 0..topic.partitions {
            let reference = crate::scenario::PartitionRef {
                topic: topic.name.clone(),
                partition,
            };
            choices.push(Target::Leader(reference.clone()));
            choices.push(Target::Follower(reference));
        }
    }
    choices.push(Target::Broker(
        rng.random_range(1..=scenario.cluster.brokers.max(1)),
    ));
    choices.choose(rng).cloned().unwrap_or(Target::Random)
}

fn draw_fault(kind: FaultKind, scenario: &Scenario, rng: &mut ChaCha8Rng) -> Option<Fault> {
    let fault = match kind {
        FaultKind::Partition => {
            let shapes = [
                PartitionShape::Halves,
                PartitionShape::Isolate(node_target(scenario, rng)),
                PartitionShape::MajorityRing,
                PartitionShape::Bridge,
            ];
            Fault::Partition(shapes.choose(rng).cloned()?)
        }
        FaultKind::Clog => Fault::Clog(node_target(scenario, rng)),
        FaultKind::Loss => Fault::Loss {
            rate: rng.random_range(0.05..0.3),
        },
        FaultKind::LatencySpike => {
            let low = rng.random_range(20..200);
            Fault::LatencySpike {
                latency_ms: (low, low * 2),
            }
        }
        FaultKind::Crash => Fault::Crash(node_target(scenario, rng)),
        FaultKind::Restart => Fault::Restart(node_target(scenario, rng)),
        FaultKind::Pause => Fault::Pause(node_target(scenario, rng)),
        FaultKind::Disk => {
            let faults = [
                DiskFault::FsyncError,
                DiskFault::WriteError,
                DiskFault::ReadCorruption,
                DiskFault::DiskFull,
                DiskFault::TornWrites,
            ];
            Fault::Disk {
                fault: *faults.choose(rng)?,
                node: node_target(scenario, rng),
            }
        }
        FaultKind::ProducerCrash | FaultKind::ConsumerCrash => {
            let roles = scenario.workload.client_roles();
            let wanted: Vec<u32> = roles
                .iter()
                .enumerate()
                .filter(|(_, role)| role.reads() == (kind == FaultKind::ConsumerCrash))
                .map(|(i, _)| i as u32 + 1)
                .collect();
            let client = *wanted.choose(rng)?;
            if kind == FaultKind::ProducerCrash {
                Fault::ProducerCrash(Target::Client(client))
            } else {
                Fault::ConsumerCrash(Target::Client(client))
            }
        }
    };
    Some(fault)
}

/// A schedule for this seed within `random`'s bounds, inside the workload's duration.
pub fn draw(random: &RandomFaults, scenario: &Scenario, rng: &mut ChaCha8Rng) -> FaultSchedule {
    let mut events = Vec::new();
    let mut at_ms = rng.random_range(random.every_ms.0..=random.every_ms.1);
    while at_ms < scenario.workload.duration_ms && events.len() < EVENTS_MAX {
        if let Some(kind) = random.kinds.choose(rng) {
            if let Some(fault) = draw_fault(*kind, scenario, rng) {
                let duration_ms = match fault {
                    Fault::Restart(_) => None,
                    _ => Some(rng.random_range(random.duration_ms.0..=random.duration_ms.1)),
                };
                events.push(FaultEvent {
                    at_ms,
                    fault,
                    duration_ms,
                });
            }
        }
        at_ms += rng.random_range(random.every_ms.0..=random.every_ms.1);
    }
    FaultSchedule(events)
}
