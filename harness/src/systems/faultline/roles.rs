//! Fault targets resolved to hosts when the fault fires (design.md section 7): the leader of
//! `orders/0` *now*, the controller *now*, a seeded pick of a minority, and so on.

use crate::run::context::client_host;
use crate::scenario::{Scenario, Target};
use crate::systems::faultline::nodes::{broker_host, COORDINATOR};
use engine::broker::protocol::{MetadataResponse, TopicPartition};
use rand::seq::{IndexedRandom, SliceRandom};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// The hosts `target` names now; empty when it names nobody at the moment (e.g. a partition
/// without a leader), in which case the fault is skipped and recorded as such.
pub fn resolve(
    target: &Target,
    scenario: &Scenario,
    metadata: Option<&MetadataResponse>,
    rng: &mut ChaCha8Rng,
) -> Vec<String> {
    let brokers: Vec<String> = (1..=scenario.cluster.brokers).map(broker_host).collect();
    let partition = |reference: &crate::scenario::PartitionRef| {
        let tp = TopicPartition::new(reference.topic.clone(), reference.partition);
        metadata
            .and_then(|m| m.topics.iter().find(|t| t.name == tp.topic))
            .and_then(|t| t.partitions.get(tp.partition as usize))
            .cloned()
    };
    match target {
        Target::Broker(n) => vec![broker_host(*n)],
        Target::Coordinator | Target::CoordinatorNode(_) => vec![COORDINATOR.to_string()],
        Target::Client(n) => vec![client_host(*n)],
        Target::Leader(reference) => partition(reference)
            .and_then(|p| p.leader)
            .map(broker_host)
            .into_iter()
            .collect(),
        Target::Follower(reference) => {
            let Some(p) = partition(reference) else {
                return Vec::new();
            };
            let mut followers: Vec<u32> = p
                .isr
                .iter()
                .copied()
                .filter(|id| Some(*id) != p.leader)
                .collect();
            if followers.is_empty() {
                followers = p
                    .replicas
                    .iter()
                    .copied()
                    .filter(|id| Some(*id) != p.leader)
                    .collect();
            }
            followers
                .choose(rng)
                .map(|id| broker_host(*id))
                .into_iter()
                .collect()
        }
        Target::Controller => metadata
            .and_then(|m| m.controller)
            .map(broker_host)
            .into_iter()
            .collect(),
        Target::Minority | Target::Majority => {
            let mut shuffled = brokers.clone();
            shuffled.shuffle(rng);
            let count = if *target == Target::Minority {
                (brokers.len().saturating_sub(1) / 2).max(1)
            } else {
                brokers.len() / 2 + 1
            };
            shuffled.truncate(count.min(brokers.len()));
            shuffled.sort();
            shuffled
        }
        Target::Random => {
            let mut all = brokers;
            all.push(COORDINATOR.to_string());
            let pick = rng.random_range(0..all.len());
            vec![all[pick].clone()]
        }
    }
}
