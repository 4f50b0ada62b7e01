//! The scenario file as written: serde structs that mirror the YAML of design.md §11 key for
//! key, with no defaults and no interpretation. Every struct denies unknown keys, so a typo is
//! an error with a line and column instead of a silently ignored setting. Values that carry a
//! unit or a grammar (`30s`, `1ms..5ms`, `200/s`, `leader(orders/0)`) stay strings here;
//! [`crate::scenario::resolve`] turns them into typed values and reports where they are wrong.
//!
//! The same structs serialise back, so a resolved [`crate::scenario::Scenario`] (or a shrunk
//! fault schedule) can be written as YAML that loads to the same scenario.

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// The whole file.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    pub cluster: RawCluster,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<RawNetwork>,
    pub workload: RawWorkload,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub faults: Option<RawFaults>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checks: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seeds: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<RawExpect>,
}

/// `cluster:`
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawCluster {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coordinators: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brokers: Option<u64>,
    pub topics: Vec<RawTopic>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broker: Option<RawBroker>,
}

/// One entry of `cluster.topics`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawTopic {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partitions: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replication: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_insync: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overflow: Option<String>,
}

/// `cluster.broker:` settings shared by every broker.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawBroker {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fsync: Option<String>,
}

/// `network:`
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawNetwork {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tick: Option<String>,
}

/// `workload:`
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawWorkload {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub producers: Option<RawProducers>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transactions: Option<RawTransactions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumers: Option<RawConsumers>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<RawTokens>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateways: Option<RawGateways>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coordinator: Option<RawCoordinatorClients>,
}

/// `workload.coordinator:` clients of the coordinator's own znode API.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawCoordinatorClients {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clients: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub znodes_per_client: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<String>,
}

/// `workload.producers:`
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawProducers {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acks: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotent: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topics: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry: Option<String>,
}

/// `workload.transactions:`
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawTransactions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_ratio: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unknown_ratio: Option<f64>,
}

/// `workload.consumers:`
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawConsumers {
    pub groups: Vec<RawGroup>,
}

/// One entry of `workload.consumers.groups`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawGroup {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub members: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apply: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topics: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_out: Option<RawScaleOut>,
}

/// `scale_out: {at: 8s, to: 4}`: the group grows to `to` members at `at`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawScaleOut {
    pub at: String,
    pub to: u64,
}

/// `workload.tokens:` the token generator of a token bucket.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawTokens {
    pub topic: String,
    pub rate: String,
}

/// `workload.gateways:` clients that take a token before admitting each request.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawGateways {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub busy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle: Option<String>,
}

/// `faults:` — exactly one of `schedule` or `random` (checked in resolve, so the error can
/// point at the second key).
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawFaults {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<Vec<RawFaultEvent>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub random: Option<RawRandom>,
}

/// One entry of `faults.schedule`: `at`, exactly one fault key, and its duration (`for`, or
/// `restart_after` for crashes). Every fault key is optional here so that a misspelt or
/// doubled fault is reported by resolve with its position, not as "no variant matched".
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawFaultEvent {
    pub at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<RawPartition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clog: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss: Option<RawLoss>,
    #[serde(
        default,
        rename = "latency-spike",
        skip_serializing_if = "Option::is_none"
    )]
    pub latency_spike: Option<RawLatencySpike>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk: Option<RawDisk>,
    #[serde(
        default,
        rename = "producer-crash",
        skip_serializing_if = "Option::is_none"
    )]
    pub producer_crash: Option<String>,
    #[serde(
        default,
        rename = "consumer-crash",
        skip_serializing_if = "Option::is_none"
    )]
    pub consumer_crash: Option<String>,
    #[serde(default, rename = "for", skip_serializing_if = "Option::is_none")]
    pub for_: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_after: Option<String>,
}

/// `partition:` — exactly one shape key. The shapes without an argument are written as bare
/// keys in a flow map (`{halves}`), which YAML reads as a key with a null value.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawPartition {
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub halves: Option<Flag>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub isolate: Option<String>,
    #[serde(
        default,
        rename = "majority-ring",
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub majority_ring: Option<Flag>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub bridge: Option<Flag>,
    #[serde(default, rename = "one-way", skip_serializing_if = "Option::is_none")]
    pub one_way: Option<RawOneWay>,
}

/// `one-way: {from: target, to: target}`: traffic from `from` to `to` is dropped.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawOneWay {
    pub from: String,
    pub to: String,
}

/// `loss: {rate: 0.1}`
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawLoss {
    pub rate: f64,
}

/// `latency-spike: {latency: 100ms..500ms}`
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawLatencySpike {
    pub latency: String,
}

/// `disk: {fault: fsync-error, node: broker-2}`
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawDisk {
    pub fault: String,
    pub node: String,
}

/// `faults.random:` — swarm testing: the nemesis draws events from the seed.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawRandom {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kinds: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
}

/// `expect: valid` or `expect: {invalid: [lost-write, ...]}`.
#[derive(Clone, Debug, PartialEq)]
pub enum RawExpect {
    /// A bare word; resolve accepts only `valid`.
    Word(String),
    /// `{invalid: [...]}`
    Invalid(RawInvalid),
}

/// The map form of `expect`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawInvalid {
    pub invalid: Vec<String>,
}

impl<'de> Deserialize<'de> for RawExpect {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ExpectVisitor;

        impl<'de> Visitor<'de> for ExpectVisitor {
            type Value = RawExpect;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("`valid` or `{invalid: [anomaly, ...]}`")
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<RawExpect, E> {
                Ok(RawExpect::Word(value.to_owned()))
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawExpect, A::Error> {
                RawInvalid::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(RawExpect::Invalid)
            }
        }

        deserializer.deserialize_any(ExpectVisitor)
    }
}

impl Serialize for RawExpect {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            RawExpect::Word(word) => serializer.serialize_str(word),
            RawExpect::Invalid(invalid) => invalid.serialize(serializer),
        }
    }
}

/// The value of a key that is present with no argument (`{halves}`); `true` is accepted too.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flag;

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FlagVisitor;

        impl<'de> Visitor<'de> for FlagVisitor {
            type Value = Flag;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("no value (write the key alone, as in `{halves}`)")
            }

            fn visit_unit<E: de::Error>(self) -> Result<Flag, E> {
                Ok(Flag)
            }

            fn visit_none<E: de::Error>(self) -> Result<Flag, E> {
                Ok(Flag)
            }

            fn visit_bool<E: de::Error>(self, value: bool) -> Result<Flag, E> {
                if value {
                    Ok(Flag)
                } else {
                    Err(E::invalid_value(de::Unexpected::Bool(false), &self))
                }
            }
        }

        deserializer.deserialize_any(FlagVisitor)
    }
}

impl Serialize for Flag {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_unit()
    }
}

/// serde treats a null value of an `Option` field as absent; for a [`Flag`] the key's
/// presence is the whole point, so the field is `Some` whenever the key appears.
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Flag>, D::Error> {
    Flag::deserialize(deserializer).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_partition_shapes_are_present() {
        let raw: RawPartition = yaml_serde::from_str("{halves}").expect("parses");
        assert_eq!(raw.halves, Some(Flag));
        assert_eq!(raw.bridge, None);
        let raw: RawPartition = yaml_serde::from_str("majority-ring:").expect("parses");
        assert_eq!(raw.majority_ring, Some(Flag));
    }

    #[test]
    fn expect_has_two_forms() {
        let word: RawExpect = yaml_serde::from_str("valid").expect("parses");
        assert_eq!(word, RawExpect::Word("valid".into()));
        let map: RawExpect = yaml_serde::from_str("{invalid: [lost-write]}").expect("parses");
        assert_eq!(
            map,
            RawExpect::Invalid(RawInvalid {
                invalid: vec!["lost-write".into()]
            })
        );
        let error = yaml_serde::from_str::<RawExpect>("{invalidd: []}").expect_err("typo");
        assert!(
            error.to_string().contains("unknown field `invalidd`"),
            "{error}"
        );
    }

    #[test]
    fn fault_event_denies_unknown_keys() {
        let error =
            yaml_serde::from_str::<RawFaultEvent>("{at: 1s, crsh: broker-1}").expect_err("typo");
        assert!(
            error.to_string().contains("unknown field `crsh`"),
            "{error}"
        );
    }
}
