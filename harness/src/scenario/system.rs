//! `system:` which system under test a scenario drives (design.md §12). faultline's own broker
//! is the default; a system that cannot honour a key rejects it with a hint rather than
//! silently ignoring it.

use super::names::Keyword;

/// The systems faultline can drive.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SystemName {
    /// faultline's own broker and coordinator (`faultline serve`).
    #[default]
    Faultline,
    /// NATS JetStream (`nats-server` from the PATH): real mode only.
    Nats,
}

impl Keyword for SystemName {
    const ALL: &'static [Self] = &[SystemName::Faultline, SystemName::Nats];
    const WHAT: &'static str = "system";

    fn as_str(&self) -> &'static str {
        match self {
            SystemName::Faultline => "faultline",
            SystemName::Nats => "nats",
        }
    }
}

/// The JetStream stream replica counts NATS allows.
pub const NATS_REPLICAS_MAX: u64 = 5;

/// A key the scenario's system cannot honour: where it is, what is wrong, what to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnsupportedKey {
    /// The YAML path, as keys from the root.
    pub keys: Vec<&'static str>,
    pub message: String,
    pub hint: String,
}

impl SystemName {
    /// The first key of `raw` (after resolve's own checks) the system cannot honour. faultline
    /// honours every key; NATS maps topics (one stream per `topic/partition`), `replication`
    /// (stream replicas), `brokers` (servers), `cluster.broker.fsync` (JetStream's
    /// `sync_interval`), plain producers and consumer groups (durable pull consumers, without
    /// `scale_out`), and refuses the rest rather than ignore it.
    pub fn unsupported_key(&self, raw: &super::raw::RawScenario) -> Option<UnsupportedKey> {
        match self {
            SystemName::Faultline => None,
            SystemName::Nats => nats_unsupported_key(raw),
        }
    }
}

fn nats_unsupported_key(raw: &super::raw::RawScenario) -> Option<UnsupportedKey> {
    let refuse = |keys: Vec<&'static str>, message: &str, hint: &str| {
        Some(UnsupportedKey {
            keys,
            message: format!("system: nats does not support {message}"),
            hint: hint.to_owned(),
        })
    };
    let cluster = &raw.cluster;
    if cluster.coordinators.is_some() {
        return refuse(
            vec!["cluster", "coordinators"],
            "cluster.coordinators",
            "NATS has no coordinator node (JetStream's meta group runs on the servers): remove \
             the key",
        );
    }
    let fsync = cluster.broker.as_ref().and_then(|b| b.fsync.as_deref());
    if fsync.is_none() {
        return refuse(
            vec!["cluster"],
            "an implicit fsync policy",
            "say cluster.broker.fsync: `never` for NATS's default (sync_interval unset: a sync \
             every 2 min), `always` for sync_interval: always, or `interval:<dur>`",
        );
    }
    for topic in &cluster.topics {
        if topic.capacity.is_some() || topic.overflow.is_some() {
            return refuse(
                vec!["cluster", "topics"],
                "topic capacity or overflow",
                "bounded streams (max_msgs, discard policy) are not mapped yet: remove capacity \
                 and overflow",
            );
        }
        if topic.min_insync.is_some() {
            return refuse(
                vec!["cluster", "topics"],
                "min_insync",
                "a JetStream stream acknowledges once a majority of its replicas stored a \
                 message; there is no min-insync: remove it",
            );
        }
        if topic.replication.is_some_and(|r| r > NATS_REPLICAS_MAX) {
            return refuse(
                vec!["cluster", "topics"],
                "more than 5 replicas",
                "JetStream streams have 1 to 5 replicas: use replication: 3 or 5",
            );
        }
    }
    let workload = &raw.workload;
    let unmapped: [(bool, &'static str, &str); 4] = [
        (
            workload.transactions.is_some(),
            "transactions",
            "workload.transactions (JetStream has atomic batch publish, not mapped yet): remove it",
        ),
        (
            workload.tokens.is_some(),
            "tokens",
            "workload.tokens: remove it",
        ),
        (
            workload.gateways.is_some(),
            "gateways",
            "workload.gateways: remove it",
        ),
        (
            workload.coordinator.is_some(),
            "coordinator",
            "workload.coordinator (NATS has no znode API): remove it",
        ),
    ];
    for (present, key, hint) in unmapped {
        if present {
            return refuse(vec!["workload", key], &format!("workload.{key}"), hint);
        }
    }
    let scaled = workload
        .consumers
        .as_ref()
        .is_some_and(|c| c.groups.iter().any(|g| g.scale_out.is_some()));
    if scaled {
        return refuse(
            vec!["workload", "consumers", "groups"],
            "scale_out",
            "a group's members fetch from fixed keys (JetStream has no group membership to \
             rebalance): remove scale_out",
        );
    }
    if let Some(producers) = &workload.producers {
        if producers.acks.as_deref().is_some_and(|a| a.trim() != "all") {
            return refuse(
                vec!["workload", "producers", "acks"],
                "acks other than all",
                "a PubAck comes once a majority of the stream's replicas stored the message: use \
                 acks: all",
            );
        }
        if producers.expiry.is_some() {
            return refuse(
                vec!["workload", "producers", "expiry"],
                "message expiry",
                "remove expiry (per-message TTLs are not mapped yet)",
            );
        }
    }
    None
}

#[cfg(test)]
mod tests {
    const NATS: &str =
        "name: n\nsystem: nats\ncluster:\n  brokers: 3\n  broker: {fsync: never}\n  \
                        topics:\n    - {name: orders, partitions: 1, replication: 3}\n\
                        workload:\n  duration: 5s\n  producers: {count: 1, rate: 10/s}\n";

    #[test]
    fn a_nats_scenario_with_mapped_keys_loads() {
        let scenario = super::super::load_str(NATS, "n.yaml").expect("loads");
        assert_eq!(scenario.system, super::SystemName::Nats);
    }

    #[test]
    fn keys_nats_cannot_honour_are_refused_with_a_hint() {
        let consumers = NATS.replace(
            "  producers: {count: 1, rate: 10/s}\n",
            "  producers: {count: 1, rate: 10/s}\n  consumers: {groups: [{name: g, members: 1}]}\n",
        );
        super::super::load_str(&consumers, "n.yaml").expect("consumer groups are mapped");
        let scaled = consumers.replace("members: 1}", "members: 1, scale_out: {at: 2s, to: 2}}");
        let error = super::super::load_str(&scaled, "n.yaml").unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains("system: nats does not support scale_out"),
            "{text}"
        );
        let implicit_fsync = NATS.replace("  broker: {fsync: never}\n", "");
        let text = super::super::load_str(&implicit_fsync, "n.yaml")
            .unwrap_err()
            .to_string();
        assert!(text.contains("sync_interval"), "{text}");
    }
}
