//! The coordinator's assignors: who in a group reads which partition. Pure functions of the
//! members' subscriptions (sorted by member id) and the topics' partition counts, so every
//! coordinator that holds the same membership computes the same assignment.
//!
//! Invariant: every partition of every subscribed topic goes to exactly one member subscribed
//! to that topic; partitions of topics nobody subscribes to go to nobody.

/// Re-exported: the strategies this file implements.
pub use crate::wire::broker_protocol::Strategy;
use crate::wire::broker_protocol::TopicPartition;
use std::collections::{BTreeMap, BTreeSet};

/// Each member's assignment, for every member (an empty list when it gets nothing). Topics with
/// no entry in `partition_counts` have no partitions (yet).
pub fn assign(
    strategy: Strategy,
    subscriptions: &BTreeMap<String, Vec<String>>,
    partition_counts: &BTreeMap<String, u32>,
) -> BTreeMap<String, Vec<TopicPartition>> {
    let mut assignment: BTreeMap<String, Vec<TopicPartition>> = subscriptions
        .keys()
        .map(|member| (member.clone(), Vec::new()))
        .collect();
    let topics: BTreeSet<&String> = subscriptions.values().flatten().collect();
    let subscribers = |topic: &String| -> Vec<&String> {
        subscriptions
            .iter()
            .filter(|(_, topics)| topics.contains(topic))
            .map(|(member, _)| member)
            .collect()
    };
    match strategy {
        Strategy::Range => {
            for topic in topics {
                let count = partition_counts.get(topic).copied().unwrap_or(0);
                let members = subscribers(topic);
                let share = count / members.len() as u32;
                let extra = count % members.len() as u32;
                let mut next = 0;
                for (i, member) in members.iter().enumerate() {
                    let take = share + u32::from((i as u32) < extra);
                    let list = assignment.entry((*member).clone()).or_default();
                    list.extend((next..next + take).map(|p| TopicPartition::new(topic.clone(), p)));
                    next += take;
                }
            }
        }
        Strategy::RoundRobin => {
            let members: Vec<&String> = subscriptions.keys().collect();
            let mut turn = 0usize;
            for topic in topics {
                let count = partition_counts.get(topic).copied().unwrap_or(0);
                for partition in 0..count {
                    // The next member in turn that subscribes to the topic; one exists, since
                    // the topic came from some member's subscription.
                    for _ in 0..members.len() {
                        let member = members[turn % members.len()];
                        turn += 1;
                        if subscriptions[member].contains(topic) {
                            let list = assignment.entry(member.clone()).or_default();
                            list.push(TopicPartition::new(topic.clone(), partition));
                            break;
                        }
                    }
                }
            }
        }
    }
    assignment
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subscriptions(entries: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
        entries
            .iter()
            .map(|(m, ts)| (m.to_string(), ts.iter().map(|t| t.to_string()).collect()))
            .collect()
    }

    fn names(list: &[TopicPartition]) -> Vec<String> {
        list.iter().map(|tp| tp.to_string()).collect()
    }

    #[test]
    fn range_gives_contiguous_runs_and_the_first_members_the_extra() {
        let subs = subscriptions(&[("a", &["t"]), ("b", &["t"]), ("c", &["t", "u"])]);
        let counts = BTreeMap::from([("t".to_string(), 5), ("u".to_string(), 1)]);
        let out = assign(Strategy::Range, &subs, &counts);
        assert_eq!(names(&out["a"]), ["t/0", "t/1"]);
        assert_eq!(names(&out["b"]), ["t/2", "t/3"]);
        assert_eq!(names(&out["c"]), ["t/4", "u/0"]);
    }

    #[test]
    fn round_robin_deals_in_turn_and_skips_non_subscribers() {
        let subs = subscriptions(&[("a", &["t"]), ("b", &["t", "u"])]);
        let counts = BTreeMap::from([("t".to_string(), 3), ("u".to_string(), 2)]);
        let out = assign(Strategy::RoundRobin, &subs, &counts);
        assert_eq!(names(&out["a"]), ["t/0", "t/2"]);
        assert_eq!(names(&out["b"]), ["t/1", "u/0", "u/1"]);
    }

    #[test]
    fn every_partition_goes_to_exactly_one_member() {
        let subs = subscriptions(&[("a", &["t"]), ("b", &["t"]), ("c", &["t"])]);
        for strategy in [Strategy::Range, Strategy::RoundRobin] {
            for count in 0..8 {
                let counts = BTreeMap::from([("t".to_string(), count)]);
                let out = assign(strategy, &subs, &counts);
                let mut all: Vec<_> = out.values().flatten().cloned().collect();
                all.sort();
                let want: Vec<_> = (0..count).map(|p| TopicPartition::new("t", p)).collect();
                assert_eq!(all, want, "{strategy:?} with {count} partitions");
            }
        }
    }
}
