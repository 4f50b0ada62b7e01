//! Fault targets (design.md §7): who a fault hits, named by role so a scenario stays correct
//! whichever broker the seed made leader. Role targets (`leader(orders/0)`, `controller`,
//! `minority`, `random`, ...) are resolved by the nemesis against the live cluster at the
//! moment the fault starts; numbered targets (`broker-2`) are checked here against the
//! cluster's size, so `broker-7` in a three-broker cluster is a load error, not a no-op.

use super::cluster::Topic;
use super::error::{Invalid, Problem};
use super::locate::YamlPath;
use super::names::did_you_mean;
use std::fmt;

/// A topic partition named in a target, `orders/0`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct PartitionRef {
    pub topic: String,
    pub partition: u32,
}

impl fmt::Display for PartitionRef {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}/{}", self.topic, self.partition)
    }
}

/// Who a fault hits.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Target {
    /// `leader(topic/p)`: the broker leading that partition when the fault starts.
    Leader(PartitionRef),
    /// `follower(topic/p)`: one in-sync follower of that partition (the nemesis picks by seed).
    Follower(PartitionRef),
    /// `controller`: the broker that holds `/controller` when the fault starts.
    Controller,
    /// `coordinator`: the coordinator (the ensemble's leader when there are several).
    Coordinator,
    /// `broker-N`, 1-based, N ≤ `cluster.brokers`.
    Broker(u32),
    /// `coordinator-N`, 1-based, N ≤ `cluster.coordinators`.
    CoordinatorNode(u32),
    /// `client-N`, 1-based over all clients in the order of [`super::workload::ClientRole`].
    Client(u32),
    /// `minority`: fewer than half of the brokers (the nemesis picks which by seed).
    Minority,
    /// `majority`: more than half of the brokers.
    Majority,
    /// `random`: one node (broker or coordinator) picked by seed.
    Random,
}

impl Target {
    /// A client rather than a node: only network faults and client crashes apply.
    pub fn is_client(&self) -> bool {
        matches!(self, Target::Client(_))
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Target::Leader(partition) => write!(f, "leader({partition})"),
            Target::Follower(partition) => write!(f, "follower({partition})"),
            Target::Controller => f.write_str("controller"),
            Target::Coordinator => f.write_str("coordinator"),
            Target::Broker(n) => write!(f, "broker-{n}"),
            Target::CoordinatorNode(n) => write!(f, "coordinator-{n}"),
            Target::Client(n) => write!(f, "client-{n}"),
            Target::Minority => f.write_str("minority"),
            Target::Majority => f.write_str("majority"),
            Target::Random => f.write_str("random"),
        }
    }
}

/// What exists in this scenario, for checking targets.
#[derive(Clone, Copy, Debug)]
pub struct Roster<'a> {
    pub brokers: u32,
    pub coordinators: u32,
    pub clients: u32,
    pub topics: &'a [Topic],
}

impl Roster<'_> {
    /// "known targets: broker-1..3, coordinator-1, client-1..4, controller, ...".
    pub fn known(&self) -> String {
        let mut known = Vec::new();
        for (prefix, count) in [
            ("broker", self.brokers),
            ("coordinator", self.coordinators),
            ("client", self.clients),
        ] {
            match count {
                0 => {}
                1 => known.push(format!("{prefix}-1")),
                n => known.push(format!("{prefix}-1..{n}")),
            }
        }
        for word in [
            "controller",
            "coordinator",
            "leader(topic/p)",
            "follower(topic/p)",
        ] {
            known.push(word.to_owned());
        }
        for word in ["minority", "majority", "random"] {
            known.push(word.to_owned());
        }
        format!("known targets: {}", known.join(", "))
    }

    /// Every concrete spelling, for "did you mean".
    fn spellings(&self) -> Vec<String> {
        let mut all: Vec<String> = [
            "controller",
            "coordinator",
            "minority",
            "majority",
            "random",
        ]
        .iter()
        .map(|word| (*word).to_owned())
        .collect();
        all.extend((1..=self.brokers).map(|n| format!("broker-{n}")));
        all.extend((1..=self.coordinators).map(|n| format!("coordinator-{n}")));
        all.extend((1..=self.clients).map(|n| format!("client-{n}")));
        for topic in self.topics {
            all.push(format!("leader({}/0)", topic.name));
            all.push(format!("follower({}/0)", topic.name));
        }
        all
    }

    fn unknown(&self, text: &str, path: &YamlPath) -> Invalid {
        let spellings = self.spellings();
        let hint = match did_you_mean(text, spellings.iter().map(String::as_str)) {
            Some(close) => format!("did you mean \"{close}\"? {}", self.known()),
            None => self.known(),
        };
        let problem = Problem::UnknownTarget {
            text: text.to_owned(),
        };
        Invalid::new(path, problem, hint)
    }
}

/// Parses and checks a target against the roster.
pub fn parse(text: &str, roster: &Roster, path: &YamlPath) -> Result<Target, Invalid> {
    let text = text.trim();
    match text {
        "controller" => return Ok(Target::Controller),
        "coordinator" => return Ok(Target::Coordinator),
        "minority" => return Ok(Target::Minority),
        "majority" => return Ok(Target::Majority),
        "random" => return Ok(Target::Random),
        _ => {}
    }
    for (prefix, count, make) in [
        (
            "broker-",
            roster.brokers,
            Target::Broker as fn(u32) -> Target,
        ),
        ("coordinator-", roster.coordinators, Target::CoordinatorNode),
        ("client-", roster.clients, Target::Client),
    ] {
        if let Some(number) = text.strip_prefix(prefix) {
            return match parse_index(number) {
                Some(n) if (1..=count).contains(&n) => Ok(make(n)),
                _ => Err(roster.unknown(text, path)),
            };
        }
    }
    for (role, make) in [
        ("leader", Target::Leader as fn(PartitionRef) -> Target),
        ("follower", Target::Follower),
    ] {
        let inner = text
            .strip_prefix(role)
            .and_then(|rest| rest.strip_prefix('('))
            .and_then(|rest| rest.strip_suffix(')'));
        if let Some(inner) = inner {
            return parse_partition(text, inner, roster, path).map(make);
        }
    }
    Err(roster.unknown(text, path))
}

/// `topic/p` inside `leader(...)`: the topic must exist and `p` be one of its partitions.
fn parse_partition(
    text: &str,
    inner: &str,
    roster: &Roster,
    path: &YamlPath,
) -> Result<PartitionRef, Invalid> {
    let Some((topic_name, partition)) = inner.rsplit_once('/') else {
        return Err(roster.unknown(text, path));
    };
    let Some(topic) = roster.topics.iter().find(|topic| topic.name == topic_name) else {
        let names: Vec<&str> = roster.topics.iter().map(|t| t.name.as_str()).collect();
        let hint = match did_you_mean(topic_name, names.iter().copied()) {
            Some(close) => format!(
                "did you mean topic \"{close}\"? topics: {}",
                names.join(", ")
            ),
            None => format!(
                "no topic \"{topic_name}\" in cluster.topics: {}",
                names.join(", ")
            ),
        };
        let problem = Problem::UnknownTarget {
            text: text.to_owned(),
        };
        return Err(Invalid::new(path, problem, hint));
    };
    let Some(index) = parse_partition_index(partition) else {
        return Err(roster.unknown(text, path));
    };
    if index >= topic.partitions {
        let problem = Problem::OutOfRange {
            field: format!("the partition in \"{text}\""),
            value: index.to_string(),
            allowed: format!("0..={}", topic.partitions.saturating_sub(1)),
        };
        let hint = format!(
            "topic \"{}\" has {} partition(s), numbered from 0",
            topic.name, topic.partitions
        );
        return Err(Invalid::new(path, problem, hint));
    }
    Ok(PartitionRef {
        topic: topic.name.clone(),
        partition: index,
    })
}

/// A 1-based node or client number, written without sign or leading zeros.
fn parse_index(text: &str) -> Option<u32> {
    if text.starts_with('0') {
        return None;
    }
    parse_partition_index(text)
}

/// A 0-based partition number, written without sign.
fn parse_partition_index(text: &str) -> Option<u32> {
    if text.is_empty() || !text.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::cluster::Overflow;

    fn topics() -> Vec<Topic> {
        vec![Topic {
            name: "orders".into(),
            partitions: 3,
            replication: 3,
            min_insync: 2,
            capacity: None,
            overflow: Overflow::Reject,
        }]
    }

    fn parse_in(text: &str) -> Result<Target, Invalid> {
        let topics = topics();
        let roster = Roster {
            brokers: 3,
            coordinators: 1,
            clients: 4,
            topics: &topics,
        };
        parse(text, &roster, &YamlPath::root())
    }

    #[test]
    fn every_spelling_round_trips() {
        for text in [
            "leader(orders/0)",
            "follower(orders/2)",
            "controller",
            "coordinator",
            "broker-3",
            "coordinator-1",
            "client-4",
            "minority",
            "majority",
            "random",
        ] {
            let target = parse_in(text).expect(text);
            assert_eq!(target.to_string(), text);
        }
    }

    #[test]
    fn unknown_targets_list_what_exists() {
        let bad = parse_in("brokr-2").expect_err("typo");
        assert_eq!(
            bad.problem,
            Problem::UnknownTarget {
                text: "brokr-2".into()
            }
        );
        assert!(
            bad.hint.starts_with("did you mean \"broker-2\"?"),
            "{}",
            bad.hint
        );
        assert!(bad.hint.contains("broker-1..3"), "{}", bad.hint);
        for text in [
            "broker-7",
            "broker-0",
            "broker-01",
            "coordinator-2",
            "client-5",
            "leader",
        ] {
            assert!(parse_in(text).is_err(), "{text}");
        }
    }

    #[test]
    fn partitions_must_exist() {
        let bad = parse_in("leader(payments/0)").expect_err("topic");
        assert!(bad.hint.contains("topics: orders"), "{}", bad.hint);
        let bad = parse_in("leader(orders/3)").expect_err("index");
        assert!(matches!(bad.problem, Problem::OutOfRange { .. }), "{bad:?}");
        assert!(parse_in("follower(orders/-1)").is_err());
        assert!(parse_in("leader(orders)").is_err());
    }
}
