//! The scenario's words in the engine's terms: the only place a scenario's cluster declaration
//! becomes engine requests and policies, so `scenario/` stays free of any one system.

use crate::scenario::{FsyncPolicySpec, Overflow, Topic};
use engine::broker::protocol::CreateTopicRequest;
use engine::storage::FsyncPolicy;

/// The engine's spelling of a full partition's policy.
pub fn overflow(overflow: Overflow) -> engine::broker::Overflow {
    match overflow {
        Overflow::Reject => engine::broker::Overflow::Reject,
        Overflow::DropOldest => engine::broker::Overflow::DropOldest,
    }
}

/// The request that creates `topic` as declared.
pub fn create_request(topic: &Topic) -> CreateTopicRequest {
    CreateTopicRequest {
        name: topic.name.clone(),
        partitions: topic.partitions,
        replication: topic.replication,
        min_insync: topic.min_insync,
        capacity: topic.capacity,
        overflow: overflow(topic.overflow),
    }
}

/// The broker's fsync policy.
pub fn fsync_policy(spec: FsyncPolicySpec) -> FsyncPolicy {
    match spec {
        FsyncPolicySpec::Always => FsyncPolicy::Always,
        FsyncPolicySpec::Interval { interval_ms } => {
            FsyncPolicy::Interval(std::time::Duration::from_millis(interval_ms))
        }
        FsyncPolicySpec::Never => FsyncPolicy::Never,
    }
}
