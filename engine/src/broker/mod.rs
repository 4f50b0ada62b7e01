//! The Kafka-like broker (design.md section 6): replicated partitions with an ISR and a high
//! watermark, leader epochs and epoch-based truncation, a controller elected through the
//! coordinator, produce with `acks` 0 / 1 / all, and consumer groups whose coordinator keeps
//! committed offsets in the replicated `__consumer_offsets` topic, and transactional messages
//! (RocketMQ model) whose half messages and decisions live in the replicated `__txn_half` topic.
//! A topic may be bounded: each partition is a queue of at most `capacity` records between its
//! head and its end (`reject` or `drop-oldest` on overflow), and `DeleteRecords` moves the head
//! (optionally compare-and-set) once every in-sync replica holds it (`replica::queue`).
//!
//! Fault model: brokers crash (power loss), restart, pause and get partitioned; disks fail.
//! Invariants: an `acks=all` write acknowledged with `min_insync` replicas and `fsync: always`
//! survives any single broker's loss; leaders come from the ISR only; a replica never keeps
//! records that diverge from the leader of a newer epoch; a stale controller cannot write.

pub mod controller;
pub mod core;
pub mod epoch_cache;
pub mod group;
pub mod group_assignor;
pub mod group_coordinator;
pub mod group_table;
pub mod internal_topic;
pub mod node;
pub mod offsets_topic;
pub mod options;
pub mod producer_state;
pub mod protocol;
pub mod server;
pub mod session;
pub mod stop_point;
pub mod txn_coordinator;
pub mod txn_table;
pub mod txn_topic;
pub mod view;
pub mod znodes;

pub use node::{delete_records, fetcher, replica};
pub use options::BrokerOptions;
pub use protocol::{
    Acks, BrokerError, BrokerId, BrokerRequest, BrokerResponse, Decision, DecisionReason,
    LocalOutcome, Overflow, Strategy, TopicPartition, TxnStatus,
};
pub use server::Broker;
