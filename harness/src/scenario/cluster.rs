//! The cluster a scenario runs: how many coordinators and brokers, which topics, and the
//! brokers' fsync policy. Replication is checked against the broker count here because a
//! partition's replicas live on distinct brokers (design.md §6): `replication: 5` on three
//! brokers cannot be placed, and `min_insync` above `replication` would refuse every
//! `acks: all` write.

use super::duration;
use super::error::{Invalid, Problem};
use super::field_readers::{count, duration_at, keyword_at};
use super::locate::YamlPath;
use super::names::Keyword;
use super::raw::{RawBroker, RawCluster, RawTopic};
use std::collections::BTreeSet;

/// Largest coordinator ensemble (1, 3, 5 or 7 are the useful sizes).
pub const COORDINATORS_MAX: u32 = 7;
/// Most brokers one simulation runs; each is a turmoil host with its own disk.
pub const BROKERS_MAX: u32 = 16;
/// Most topics in one scenario.
pub const TOPICS_MAX: usize = 32;
/// Most partitions per topic.
pub const PARTITIONS_MAX: u32 = 64;
/// Longest topic name (Kafka's limit).
pub const TOPIC_NAME_LEN_MAX: usize = 249;

/// Default `cluster.coordinators`: one coordinator, as in the design's example.
pub const COORDINATORS_DEFAULT: u32 = 1;
/// Default `cluster.brokers`: three, the smallest cluster that survives one failure with
/// `min_insync: 2`.
pub const BROKERS_DEFAULT: u32 = 3;
/// Default `partitions` of a topic.
pub const PARTITIONS_DEFAULT: u32 = 1;
/// Default `replication` of a topic: this many, or every broker when there are fewer.
pub const REPLICATION_DEFAULT: u32 = 3;

/// `cluster:`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cluster {
    pub coordinators: u32,
    pub brokers: u32,
    /// Non-empty, unique names, in file order.
    pub topics: Vec<Topic>,
    pub broker: BrokerConfig,
}

/// One topic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Topic {
    pub name: String,
    /// 1..=PARTITIONS_MAX.
    pub partitions: u32,
    /// 1..=brokers.
    pub replication: u32,
    /// 1..=replication. Default: a majority of the replicas (`replication / 2 + 1`).
    pub min_insync: u32,
    /// Most records a partition holds; `None` (the default) is unbounded.
    pub capacity: Option<u64>,
    /// What a full partition does; only meaningful with `capacity`. Default: reject.
    pub overflow: Overflow,
}

/// What a partition at `capacity` does with one more record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overflow {
    /// Refuse the produce request (back-pressure): the send fails, nothing is lost.
    Reject,
    /// Delete the oldest records (retention): reads of them are gone by design.
    DropOldest,
}

impl Keyword for Overflow {
    const ALL: &'static [Self] = &[Overflow::Reject, Overflow::DropOldest];
    const WHAT: &'static str = "overflow policy";

    fn as_str(&self) -> &'static str {
        match self {
            Overflow::Reject => "reject",
            Overflow::DropOldest => "drop-oldest",
        }
    }
}

/// `cluster.broker:`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerConfig {
    /// Default: `always`, the only policy under which `acks: all` survives power loss.
    pub fsync: FsyncPolicySpec,
}

/// `always | interval:<dur> | never`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FsyncPolicySpec {
    Always,
    Interval { interval_ms: u64 },
    Never,
}

impl FsyncPolicySpec {
    /// The YAML spelling.
    pub fn to_text(self) -> String {
        match self {
            FsyncPolicySpec::Always => "always".to_owned(),
            FsyncPolicySpec::Interval { interval_ms } => {
                format!("interval:{}", duration::format_ms(interval_ms))
            }
            FsyncPolicySpec::Never => "never".to_owned(),
        }
    }
}

const FSYNC_HINT: &str = "write always, never, or interval:<duration> such as interval:10ms";

fn resolve_fsync(text: &str, path: &YamlPath) -> Result<FsyncPolicySpec, Invalid> {
    match text.trim() {
        "always" => return Ok(FsyncPolicySpec::Always),
        "never" => return Ok(FsyncPolicySpec::Never),
        _ => {}
    }
    let Some(interval) = text.trim().strip_prefix("interval:") else {
        let problem = Problem::UnknownName {
            what: "fsync policy",
            text: text.to_owned(),
        };
        return Err(Invalid::new(path, problem, FSYNC_HINT));
    };
    let interval_ms = duration_at(interval, path)?;
    if interval_ms == 0 {
        let problem = Problem::OutOfRange {
            field: "the fsync interval".to_owned(),
            value: "0s".to_owned(),
            allowed: "at least 1ms".to_owned(),
        };
        return Err(Invalid::new(
            path,
            problem,
            "for a sync on every append write always",
        ));
    }
    Ok(FsyncPolicySpec::Interval { interval_ms })
}

/// Applies the defaults above and checks every bound.
pub fn resolve(raw: &RawCluster, path: &YamlPath) -> Result<Cluster, Invalid> {
    let coordinators = match raw.coordinators {
        None => COORDINATORS_DEFAULT,
        Some(value) => count(
            value,
            &path.key("coordinators"),
            "cluster.coordinators",
            1,
            COORDINATORS_MAX,
            "an ensemble of 1, 3, 5 or 7 coordinators",
        )?,
    };
    let brokers = match raw.brokers {
        None => BROKERS_DEFAULT,
        Some(value) => count(
            value,
            &path.key("brokers"),
            "cluster.brokers",
            1,
            BROKERS_MAX,
            "a simulation runs 1 to 16 brokers",
        )?,
    };
    let topics_path = path.key("topics");
    if raw.topics.is_empty() {
        let problem = Problem::Conflict {
            message: "cluster.topics is empty".to_owned(),
        };
        let hint = "add a topic, e.g. - {name: orders, partitions: 3, replication: 3}";
        return Err(Invalid::new(&topics_path, problem, hint));
    }
    if raw.topics.len() > TOPICS_MAX {
        let problem = Problem::OutOfRange {
            field: "the number of topics".to_owned(),
            value: raw.topics.len().to_string(),
            allowed: format!("1..={TOPICS_MAX}"),
        };
        let hint = "a scenario runs at most 32 topics";
        return Err(Invalid::new(&topics_path.index(TOPICS_MAX), problem, hint));
    }
    let mut names = BTreeSet::new();
    let mut topics = Vec::with_capacity(raw.topics.len());
    for (index, raw_topic) in raw.topics.iter().enumerate() {
        let topic_path = topics_path.index(index);
        let topic = resolve_topic(raw_topic, brokers, &topic_path)?;
        if !names.insert(topic.name.clone()) {
            let problem = Problem::Conflict {
                message: format!("topic \"{}\" is declared twice", topic.name),
            };
            let hint = "give each topic its own name";
            return Err(Invalid::new(&topic_path.key("name"), problem, hint));
        }
        topics.push(topic);
    }
    let fsync = match raw
        .broker
        .as_ref()
        .and_then(|broker| broker.fsync.as_deref())
    {
        None => FsyncPolicySpec::Always,
        Some(text) => resolve_fsync(text, &path.key("broker").key("fsync"))?,
    };
    Ok(Cluster {
        coordinators,
        brokers,
        topics,
        broker: BrokerConfig { fsync },
    })
}

fn resolve_topic(raw: &RawTopic, brokers: u32, path: &YamlPath) -> Result<Topic, Invalid> {
    let name_ok = !raw.name.is_empty()
        && raw.name.len() <= TOPIC_NAME_LEN_MAX
        && raw
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !name_ok {
        let problem = Problem::Conflict {
            message: format!("\"{}\" is not a valid topic name", raw.name),
        };
        let hint = "use 1 to 249 letters, digits, '.', '_' or '-' (no '/': targets say topic/p)";
        return Err(Invalid::new(&path.key("name"), problem, hint));
    }
    let partitions = match raw.partitions {
        None => PARTITIONS_DEFAULT,
        Some(value) => count(
            value,
            &path.key("partitions"),
            "partitions",
            1,
            PARTITIONS_MAX,
            "a topic has 1 to 64 partitions",
        )?,
    };
    let replication = match raw.replication {
        None => REPLICATION_DEFAULT.min(brokers),
        Some(value) => count(
            value,
            &path.key("replication"),
            "replication",
            1,
            brokers,
            &format!("replicas live on distinct brokers and the cluster has {brokers}"),
        )?,
    };
    let min_insync = match raw.min_insync {
        None => replication / 2 + 1,
        Some(value) => count(
            value,
            &path.key("min_insync"),
            "min_insync",
            1,
            replication,
            &format!("min_insync cannot exceed replication ({replication})"),
        )?,
    };
    let capacity = match raw.capacity {
        None => None,
        Some(0) => {
            let problem = Problem::OutOfRange {
                field: "capacity".to_owned(),
                value: "0".to_owned(),
                allowed: "at least 1".to_owned(),
            };
            let hint = "remove capacity for an unbounded partition";
            return Err(Invalid::new(&path.key("capacity"), problem, hint));
        }
        Some(value) => Some(value),
    };
    let overflow = match (&raw.overflow, capacity) {
        (None, _) => Overflow::Reject,
        (Some(_), None) => {
            let problem = Problem::Conflict {
                message: "overflow is set but capacity is not".to_owned(),
            };
            let hint = "set capacity (records per partition) or remove overflow";
            return Err(Invalid::new(&path.key_itself("overflow"), problem, hint));
        }
        (Some(text), Some(_)) => keyword_at(text, &path.key("overflow"))?,
    };
    Ok(Topic {
        name: raw.name.clone(),
        partitions,
        replication,
        min_insync,
        capacity,
        overflow,
    })
}

/// The raw form, every default written out.
pub fn to_raw(cluster: &Cluster) -> RawCluster {
    RawCluster {
        coordinators: Some(u64::from(cluster.coordinators)),
        brokers: Some(u64::from(cluster.brokers)),
        topics: cluster
            .topics
            .iter()
            .map(|topic| RawTopic {
                name: topic.name.clone(),
                partitions: Some(u64::from(topic.partitions)),
                replication: Some(u64::from(topic.replication)),
                min_insync: Some(u64::from(topic.min_insync)),
                capacity: topic.capacity,
                overflow: topic.capacity.map(|_| topic.overflow.as_str().to_owned()),
            })
            .collect(),
        broker: Some(RawBroker {
            fsync: Some(cluster.broker.fsync.to_text()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topic(yaml: &str) -> RawTopic {
        yaml_serde::from_str(yaml).expect("raw topic")
    }

    #[test]
    fn topic_defaults_follow_the_broker_count() {
        let resolved = resolve_topic(&topic("{name: t}"), 3, &YamlPath::root()).expect("ok");
        assert_eq!(
            (
                resolved.partitions,
                resolved.replication,
                resolved.min_insync
            ),
            (1, 3, 2)
        );
        let resolved = resolve_topic(&topic("{name: t}"), 1, &YamlPath::root()).expect("ok");
        assert_eq!((resolved.replication, resolved.min_insync), (1, 1));
        let resolved = resolve_topic(&topic("{name: t, replication: 5}"), 5, &YamlPath::root());
        assert_eq!(resolved.map(|t| t.min_insync), Ok(3));
    }

    #[test]
    fn replication_and_min_insync_are_bounded() {
        let root = YamlPath::root();
        let bad = resolve_topic(&topic("{name: t, replication: 4}"), 3, &root).expect_err("rf");
        assert_eq!(bad.path, root.key("replication"));
        assert!(bad.hint.contains("has 3"), "{}", bad.hint);
        let bad = resolve_topic(&topic("{name: t, replication: 2, min_insync: 3}"), 3, &root)
            .expect_err("isr");
        assert_eq!(bad.path, root.key("min_insync"));
        let bad = resolve_topic(&topic("{name: t, partitions: 0}"), 3, &root).expect_err("p");
        assert_eq!(bad.path, root.key("partitions"));
        let bad = resolve_topic(&topic("{name: a/b}"), 3, &root).expect_err("name");
        assert_eq!(bad.path, root.key("name"));
    }

    #[test]
    fn fsync_policies() {
        let root = YamlPath::root();
        assert_eq!(resolve_fsync("always", &root), Ok(FsyncPolicySpec::Always));
        assert_eq!(resolve_fsync("never", &root), Ok(FsyncPolicySpec::Never));
        assert_eq!(
            resolve_fsync("interval:10ms", &root),
            Ok(FsyncPolicySpec::Interval { interval_ms: 10 })
        );
        assert_eq!(
            FsyncPolicySpec::Interval { interval_ms: 1_000 }.to_text(),
            "interval:1s"
        );
        assert!(resolve_fsync("interval:0ms", &root).is_err());
        assert!(resolve_fsync("interval:10", &root).is_err());
        assert!(resolve_fsync("sometimes", &root).is_err());
    }

    #[test]
    fn overflow_needs_capacity() {
        let root = YamlPath::root();
        let bad = resolve_topic(&topic("{name: t, overflow: reject}"), 3, &root).expect_err("o");
        assert_eq!(bad.path, root.key_itself("overflow"));
        let ok = resolve_topic(
            &topic("{name: t, capacity: 10, overflow: drop-oldest}"),
            3,
            &root,
        );
        assert_eq!(ok.map(|t| t.overflow), Ok(Overflow::DropOldest));
    }
}
