//! Fault targets resolved to NATS servers when the fault fires: `leader(topic/p)` is the
//! stream's Raft leader as the stream's info reports it now, `follower(topic/p)` a current
//! replica the seed picks, `broker-N` is server `nN`. NATS has no controller or coordinator
//! node (scenario keys that need one are refused before the run).

use crate::run::context::client_host;
use crate::scenario::Target;
use crate::systems::nats::config::node_host;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// A stream's Raft group as its info reports it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StreamGroup {
    pub leader: Option<String>,
    /// The other replicas that are current.
    pub current_followers: Vec<String>,
}

/// The hosts `target` names now; empty when it names nobody at the moment.
pub fn resolve(
    target: &Target,
    hosts: &[String],
    group: Option<&StreamGroup>,
    rng: &mut ChaCha8Rng,
) -> Vec<String> {
    match target {
        Target::Broker(n) => vec![node_host(*n)],
        Target::Client(n) => vec![client_host(*n)],
        Target::Leader(_) => group.and_then(|g| g.leader.clone()).into_iter().collect(),
        Target::Follower(_) => group
            .and_then(|g| g.current_followers.choose(rng).cloned())
            .into_iter()
            .collect(),
        Target::Minority | Target::Majority => {
            let mut shuffled = hosts.to_vec();
            shuffled.shuffle(rng);
            let count = if *target == Target::Minority {
                (hosts.len().saturating_sub(1) / 2).max(1)
            } else {
                hosts.len() / 2 + 1
            };
            shuffled.truncate(count.min(hosts.len()));
            shuffled.sort();
            shuffled
        }
        Target::Random => {
            if hosts.is_empty() {
                return Vec::new();
            }
            vec![hosts[rng.random_range(0..hosts.len())].clone()]
        }
        Target::Controller | Target::Coordinator | Target::CoordinatorNode(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::PartitionRef;
    use rand::SeedableRng;

    fn hosts() -> Vec<String> {
        (1..=5).map(node_host).collect()
    }

    #[test]
    fn the_leader_is_the_streams_raft_leader_and_broker_n_is_server_n() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let group = StreamGroup {
            leader: Some("n3".into()),
            current_followers: vec!["n1".into(), "n2".into()],
        };
        let leader = Target::Leader(PartitionRef {
            topic: "orders".into(),
            partition: 0,
        });
        assert_eq!(resolve(&leader, &hosts(), Some(&group), &mut rng), ["n3"]);
        assert_eq!(
            resolve(&leader, &hosts(), None, &mut rng),
            Vec::<String>::new()
        );
        assert_eq!(
            resolve(&Target::Broker(4), &hosts(), None, &mut rng),
            ["n4"]
        );
        let majority = resolve(&Target::Majority, &hosts(), None, &mut rng);
        assert_eq!(majority.len(), 3);
    }
}
