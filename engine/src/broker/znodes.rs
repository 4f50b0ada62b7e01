//! Where the cluster keeps its state in the coordinator (design.md section 6), and the data each
//! znode holds (postcard-encoded).
//!
//! ```text
//! /brokers/ids/<id>                               ephemeral: BrokerRegistration
//! /controller                                     ephemeral: ControllerInfo
//! /controller_epoch                               persistent: u64; its version fences controllers
//! /brokers/topics/<t>                             persistent: TopicAssignment
//! /brokers/topics/<t>/partitions/<p>/state        persistent: PartitionState
//! ```

use crate::env::NodeAddr;
use crate::wire::broker_protocol::{BrokerId, Overflow, TopicPartition};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub const BROKERS: &str = "/brokers";
pub const BROKER_IDS: &str = "/brokers/ids";
pub const TOPICS: &str = "/brokers/topics";
pub const CONTROLLER: &str = "/controller";
pub const CONTROLLER_EPOCH: &str = "/controller_epoch";
/// Parent of the sequential nodes that number idempotent producers.
pub const PRODUCER_IDS: &str = "/producer_ids";

pub fn broker_path(id: BrokerId) -> String {
    format!("{BROKER_IDS}/{id}")
}

pub fn topic_path(topic: &str) -> String {
    format!("{TOPICS}/{topic}")
}

pub fn partitions_path(topic: &str) -> String {
    format!("{TOPICS}/{topic}/partitions")
}

pub fn partition_path(tp: &TopicPartition) -> String {
    format!("{TOPICS}/{}/partitions/{}", tp.topic, tp.partition)
}

pub fn state_path(tp: &TopicPartition) -> String {
    format!("{}/state", partition_path(tp))
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerRegistration {
    pub id: BrokerId,
    pub addr: NodeAddr,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControllerInfo {
    pub broker: BrokerId,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicAssignment {
    /// Replicas of each partition, preferred leader first.
    pub replicas: Vec<Vec<BrokerId>>,
    pub min_insync: u32,
    /// Records each partition holds at most between its head and its end; `None`: unbounded.
    pub capacity: Option<u64>,
    pub overflow: Overflow,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionState {
    pub leader: Option<BrokerId>,
    pub leader_epoch: u64,
    pub isr: Vec<BrokerId>,
    pub controller_epoch: u64,
}

pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Serialising these plain structs into a Vec cannot fail.
    postcard::to_allocvec(value).unwrap_or_default()
}

pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    postcard::from_bytes(bytes).ok()
}
