//! How the history's keys map onto JetStream: each `topic/partition` key is one stream (named
//! `topic_partition`, since stream names may not hold `/` or `.`) with one subject
//! (`topic.partition`), replicated as the topic says. A message's payload is its value in
//! decimal, its `Nats-Msg-Id` the same value: values are unique per run, so the stream's
//! duplicate window turns a retried publish into the idempotent producer's resend. A send's
//! offset is the stream sequence in its PubAck.

use crate::scenario::{PartitionRef, Scenario};
use async_nats::jetstream::stream::{Config, StorageType};
use serde_json::{json, Value};

/// One history key and where it lives in JetStream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamKey {
    /// The history's key, `topic/partition`.
    pub key: String,
    pub stream: String,
    pub subject: String,
    pub replicas: u32,
}

impl StreamKey {
    pub fn new(topic: &str, partition: u32, replicas: u32) -> StreamKey {
        StreamKey {
            key: format!("{topic}/{partition}"),
            stream: format!("{topic}_{partition}"),
            subject: format!("{topic}.{partition}"),
            replicas,
        }
    }

    /// File storage, the replicas asked for, everything else NATS's default (limits
    /// retention, a 2-minute duplicate window).
    pub fn config(&self) -> Config {
        Config {
            name: self.stream.clone(),
            subjects: vec![self.subject.clone()],
            num_replicas: self.replicas as usize,
            storage: StorageType::File,
            ..Config::default()
        }
    }
}

/// Every partition of every topic, in the cluster's topic order.
pub fn stream_keys(scenario: &Scenario) -> Vec<StreamKey> {
    scenario
        .cluster
        .topics
        .iter()
        .flat_map(|topic| {
            (0..topic.partitions).map(|p| StreamKey::new(&topic.name, p, topic.replication))
        })
        .collect()
}

/// The partitions of the named topics.
pub fn stream_keys_of(scenario: &Scenario, topics: &[String]) -> Vec<StreamKey> {
    stream_keys(scenario)
        .into_iter()
        .filter(|k| topics.iter().any(|t| k.key.starts_with(&format!("{t}/"))))
        .collect()
}

/// The stream a `leader(topic/p)` or `follower(topic/p)` target names.
pub fn stream_of(reference: &PartitionRef) -> String {
    format!("{}_{}", reference.topic, reference.partition)
}

pub fn payload_of(value: i64) -> bytes::Bytes {
    bytes::Bytes::from(value.to_string())
}

/// A payload's value; `None` when it is not one of ours (e.g. damaged on disk).
pub fn value_of(payload: &[u8]) -> Option<i64> {
    std::str::from_utf8(payload).ok()?.parse().ok()
}

/// What became of one publish.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Published {
    /// PubAck'd at this stream sequence.
    Acked { sequence: u64 },
    /// Surely not stored: no server had the stream's subject (no responders).
    NotStored,
    /// Maybe stored: the PubAck did not come in time, or an error came instead.
    Unknown,
}

/// A send op's completion: its type and its micro-ops, as faultline's producer records them
/// (`[key, [offset, value]]` once acknowledged, `[key, value]` otherwise).
pub fn send_completion(sends: &[(String, i64, Published)]) -> (crate::history::OpType, Value) {
    use crate::history::OpType;
    let mops: Vec<Value> = sends
        .iter()
        .map(|(key, value, published)| match published {
            Published::Acked { sequence } => json!(["send", key, [sequence, value]]),
            _ => json!(["send", key, value]),
        })
        .collect();
    let kind = if sends
        .iter()
        .all(|(_, _, p)| matches!(p, Published::Acked { .. }))
    {
        OpType::Ok
    } else if sends.iter().all(|(_, _, p)| *p == Published::NotStored) {
        OpType::Fail
    } else {
        OpType::Info
    };
    (kind, Value::Array(mops))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::OpType;

    #[test]
    fn a_key_is_one_stream_with_one_subject() {
        let key = StreamKey::new("orders", 1, 3);
        assert_eq!(key.key, "orders/1");
        assert_eq!(key.stream, "orders_1");
        assert_eq!(key.subject, "orders.1");
        let config = key.config();
        assert_eq!(config.num_replicas, 3);
        assert_eq!(config.subjects, vec!["orders.1".to_owned()]);
        assert_eq!(config.storage, StorageType::File);
    }

    #[test]
    fn an_acked_send_records_the_stream_sequence_as_its_offset() {
        let sends = [("orders/0".to_owned(), 17, Published::Acked { sequence: 5 })];
        let (kind, value) = send_completion(&sends);
        assert_eq!(kind, OpType::Ok);
        assert_eq!(value, json!([["send", "orders/0", [5, 17]]]));
    }

    #[test]
    fn an_unknown_outcome_is_info_and_no_responders_is_fail() {
        let unknown = [
            ("orders/0".to_owned(), 1, Published::Acked { sequence: 1 }),
            ("orders/1".to_owned(), 2, Published::Unknown),
        ];
        let (kind, value) = send_completion(&unknown);
        assert_eq!(kind, OpType::Info);
        assert_eq!(
            value,
            json!([["send", "orders/0", [1, 1]], ["send", "orders/1", 2]])
        );
        let refused = [("orders/0".to_owned(), 3, Published::NotStored)];
        assert_eq!(send_completion(&refused).0, OpType::Fail);
    }

    #[test]
    fn payloads_carry_the_value_in_decimal() {
        assert_eq!(value_of(&payload_of(-42)), Some(-42));
        assert_eq!(value_of(b"\xff1"), None);
    }
}
