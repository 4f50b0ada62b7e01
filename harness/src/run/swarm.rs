//! Swarm testing (design.md section 7): a random fault schedule drawn from the run's seed within
//! the scenario's bounds. Following Groce et al.'s swarm testing, the *mix* is drawn first, per
//! seed — which of the scenario's fault kinds take part at all, how much weight each gets, how
//! often faults start and how long they last within the scenario's ranges — and only then the
//! events. A schedule that always mixes every kind evenly never shows what one kind does when
//! it is alone and frequent (a crash loop, a storm of disk faults on one leader); a per-seed
//! mix does. The drawn schedule is an ordinary `FaultSchedule`: printed, replayed and shrunk.

use crate::scenario::{
    DiskFault, Fault, FaultEvent, FaultKind, FaultSchedule, PartitionRef, PartitionShape,
    RandomFaults, Scenario, Target,
};
use rand::seq::IndexedRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Drawn events per run, at most.
const EVENTS_MAX: usize = 200;
/// A kind drawn into the mix gets a weight in 1..=KIND_WEIGHT_MAX.
const KIND_WEIGHT_MAX: u32 = 4;

/// This seed's mix: the kinds that take part with their weights, and the sub-ranges of the
/// scenario's `every` and `duration` it draws from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mix {
    pub kinds: Vec<(FaultKind, u32)>,
    pub every_ms: (u64, u64),
    pub duration_ms: (u64, u64),
}

/// A sub-range of `range`, drawn: both ends inside it, low ≤ high.
fn sub_range(range: (u64, u64), rng: &mut ChaCha8Rng) -> (u64, u64) {
    let a = rng.random_range(range.0..=range.1);
    let b = rng.random_range(range.0..=range.1);
    (a.min(b), a.max(b))
}

/// Draws this seed's mix: each kind takes part with probability 1/2 (at least one does).
pub fn draw_mix(random: &RandomFaults, rng: &mut ChaCha8Rng) -> Mix {
    assert!(
        !random.kinds.is_empty(),
        "random.kinds is validated non-empty"
    );
    let mut kinds: Vec<(FaultKind, u32)> = Vec::with_capacity(random.kinds.len());
    for kind in &random.kinds {
        // Both draws happen for every kind, so one kind's fate does not shift the others'.
        let included = rng.random_bool(0.5);
        let weight = rng.random_range(1..=KIND_WEIGHT_MAX);
        if included {
            kinds.push((*kind, weight));
        }
    }
    if kinds.is_empty() {
        let kind = *random.kinds.choose(rng).expect("non-empty");
        kinds.push((kind, 1));
    }
    Mix {
        kinds,
        every_ms: sub_range(random.every_ms, rng),
        duration_ms: sub_range(random.duration_ms, rng),
    }
}

fn partitions(scenario: &Scenario) -> Vec<PartitionRef> {
    let mut refs = Vec::new();
    for topic in &scenario.cluster.topics {
        for partition in 0..topic.partitions {
            refs.push(PartitionRef {
                topic: topic.name.clone(),
                partition,
            });
        }
    }
    refs
}

/// A node by role: a partition's leader or follower, the controller, the coordinator, one
/// broker, a minority or majority of brokers (a majority losing power at once is what finds an
/// acknowledgement that ran ahead of fsync), or a random node.
fn node_target(scenario: &Scenario, rng: &mut ChaCha8Rng) -> Target {
    let mut choices = vec![
        Target::Controller,
        Target::Random,
        Target::Coordinator,
        Target::Minority,
        Target::Majority,
    ];
    for reference in partitions(scenario) {
        choices.push(Target::Leader(reference.clone()));
        choices.push(Target::Follower(reference));
    }
    choices.push(Target::Broker(
        rng.random_range(1..=scenario.cluster.brokers.max(1)),
    ));
    choices.choose(rng).cloned().unwrap_or(Target::Random)
}

/// A network target: a node by role, or now and then a client (a clogged consumer, a producer
/// cut off from the cluster).
fn link_target(scenario: &Scenario, rng: &mut ChaCha8Rng) -> Target {
    let clients = scenario.workload.client_roles().len() as u32;
    if clients > 0 && rng.random_bool(0.2) {
        return Target::Client(rng.random_range(1..=clients));
    }
    node_target(scenario, rng)
}

/// A one-way cut between two roles of one partition (leader → follower or back), or between
/// a broker and the coordinator or controller.
fn one_way(scenario: &Scenario, rng: &mut ChaCha8Rng) -> PartitionShape {
    let refs = partitions(scenario);
    if let Some(reference) = refs.choose(rng) {
        if rng.random_bool(0.6) {
            let (from, to) = (
                Target::Leader(reference.clone()),
                Target::Follower(reference.clone()),
            );
            return if rng.random_bool(0.5) {
                PartitionShape::OneWay { from, to }
            } else {
                PartitionShape::OneWay { from: to, to: from }
            };
        }
    }
    let broker = Target::Broker(rng.random_range(1..=scenario.cluster.brokers.max(1)));
    let other = [Target::Coordinator, Target::Controller]
        .choose(rng)
        .cloned()
        .unwrap_or(Target::Coordinator);
    if rng.random_bool(0.5) {
        PartitionShape::OneWay {
            from: broker,
            to: other,
        }
    } else {
        PartitionShape::OneWay {
            from: other,
            to: broker,
        }
    }
}

fn draw_fault(kind: FaultKind, scenario: &Scenario, rng: &mut ChaCha8Rng) -> Option<Fault> {
    let fault = match kind {
        FaultKind::Partition => {
            let shape = match rng.random_range(0..5) {
                0 => PartitionShape::Halves,
                1 => PartitionShape::Isolate(link_target(scenario, rng)),
                2 => PartitionShape::MajorityRing,
                3 => PartitionShape::Bridge,
                _ => one_way(scenario, rng),
            };
            Fault::Partition(shape)
        }
        FaultKind::Clog => Fault::Clog(link_target(scenario, rng)),
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
                DiskFault::LoseUnsynced,
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

/// A schedule for this seed within `random`'s bounds, inside the workload's duration: first
/// the seed's [`Mix`], then events drawn from it.
pub fn draw(random: &RandomFaults, scenario: &Scenario, rng: &mut ChaCha8Rng) -> FaultSchedule {
    let mix = draw_mix(random, rng);
    let weight_total: u32 = mix.kinds.iter().map(|(_, weight)| weight).sum();
    let mut events = Vec::new();
    let mut at_ms = rng.random_range(mix.every_ms.0..=mix.every_ms.1);
    while at_ms < scenario.workload.duration_ms && events.len() < EVENTS_MAX {
        let mut pick = rng.random_range(0..weight_total);
        let kind = mix
            .kinds
            .iter()
            .find(|(_, weight)| {
                let hit = pick < *weight;
                pick = pick.saturating_sub(*weight);
                hit
            })
            .map(|(kind, _)| *kind)
            .expect("pick < weight_total");
        if let Some(fault) = draw_fault(kind, scenario, rng) {
            let duration_ms = match fault {
                Fault::Restart(_) => None,
                _ => Some(rng.random_range(mix.duration_ms.0..=mix.duration_ms.1)),
            };
            events.push(FaultEvent {
                at_ms,
                fault,
                duration_ms,
            });
        }
        at_ms += rng.random_range(mix.every_ms.0..=mix.every_ms.1);
    }
    assert!(events.len() <= EVENTS_MAX);
    FaultSchedule(events)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::random::RANDOM_KINDS_DEFAULT;
    use rand::SeedableRng;
    use std::collections::BTreeSet;

    fn random() -> RandomFaults {
        RandomFaults {
            every_ms: (1_000, 4_000),
            kinds: RANDOM_KINDS_DEFAULT.to_vec(),
            duration_ms: (500, 3_000),
        }
    }

    #[test]
    fn the_mix_itself_varies_across_seeds_within_the_bounds() {
        let random = random();
        let mut kind_sets = BTreeSet::new();
        for seed in 0..64 {
            let mix = draw_mix(&random, &mut ChaCha8Rng::seed_from_u64(seed));
            assert!(!mix.kinds.is_empty());
            for (kind, weight) in &mix.kinds {
                assert!(random.kinds.contains(kind));
                assert!((1..=KIND_WEIGHT_MAX).contains(weight));
            }
            assert!(random.every_ms.0 <= mix.every_ms.0 && mix.every_ms.1 <= random.every_ms.1);
            assert!(mix.every_ms.0 <= mix.every_ms.1);
            assert!(random.duration_ms.0 <= mix.duration_ms.0);
            assert!(mix.duration_ms.1 <= random.duration_ms.1);
            kind_sets.insert(mix.kinds.iter().map(|(kind, _)| *kind).collect::<Vec<_>>());
        }
        // 64 seeds over 31 possible non-empty subsets of 5 kinds: many distinct mixes, some
        // with one kind alone.
        assert!(kind_sets.len() >= 12, "only {} mixes", kind_sets.len());
        assert!(kind_sets.iter().any(|kinds| kinds.len() == 1));
        assert!(kind_sets
            .iter()
            .any(|kinds| kinds.len() == RANDOM_KINDS_DEFAULT.len()));
    }

    #[test]
    fn the_same_seed_draws_the_same_mix() {
        let random = random();
        let a = draw_mix(&random, &mut ChaCha8Rng::seed_from_u64(7));
        let b = draw_mix(&random, &mut ChaCha8Rng::seed_from_u64(7));
        assert_eq!(a, b);
    }
}
