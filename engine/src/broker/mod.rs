//! The Kafka-like broker (design.md section 6): replicated partitions with an ISR and a high
//! watermark, leader epochs and epoch-based truncation, a controller elected through the
//! coordinator, and produce with `acks` 0 / 1 / all.
//!
//! Fault model: brokers crash (power loss), restart, pause and get partitioned; disks fail.
//! Invariants: an `acks=all` write acknowledged with `min_insync` replicas and `fsync: always`
//! survives any single broker's loss; leaders come from the ISR only; a replica never keeps
//! records that diverge from the leader of a newer epoch; a stale controller cannot write.

pub mod controller;
pub mod epoch_cache;
pub mod fetcher;
pub mod options;
pub mod producer_state;
pub mod protocol;
pub mod replica;
pub mod server;
pub mod session;
pub mod view;
pub mod znodes;

pub use options::BrokerOptions;
pub use protocol::{Acks, BrokerError, BrokerId, BrokerRequest, BrokerResponse, TopicPartition};
pub use server::Broker;
