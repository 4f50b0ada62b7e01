//! Internal topics (`__consumer_offsets`, `__txn_half`): replicated like any topic, created on
//! demand by the first request that needs one, and each partition's leader coordinates what
//! maps to that partition (consumer groups, transactions).

use crate::broker::node::admin;
use crate::broker::node::shared::Shared;
use crate::broker::offsets_topic::replication_for;
use crate::wire::broker_protocol::{
    BrokerError, BrokerResponse, CreateTopicRequest, Overflow, TopicPartition,
};
use std::sync::Arc;

#[derive(Clone, Copy, Debug)]
pub struct InternalTopic {
    pub name: &'static str,
    pub partitions: u32,
}

/// Names the leader of `partition` of `topic`, creating the topic if it is missing. Answers
/// `unavailable` (retriable) while the topic is being created or the partition has no leader.
pub async fn coordinator(
    shared: &Arc<Shared>,
    topic: InternalTopic,
    partition: u32,
    unavailable: BrokerError,
) -> Result<BrokerResponse, BrokerError> {
    let (exists, leader, live) = {
        let state = shared.lock();
        let view = &state.view;
        let leader = view
            .states
            .get(&TopicPartition::new(topic.name, partition))
            .and_then(|entry| entry.state.leader)
            .and_then(|id| {
                view.brokers
                    .get(&id)
                    .map(|b| (id, b.registration.addr.clone()))
            });
        (
            view.topics.contains_key(topic.name),
            leader,
            view.brokers.len() as u32,
        )
    };
    if !exists {
        if live == 0 {
            return Err(unavailable);
        }
        let (replication, min_insync) = replication_for(live);
        let request = CreateTopicRequest {
            name: topic.name.to_string(),
            partitions: topic.partitions,
            replication,
            min_insync,
            capacity: None,
            overflow: Overflow::Reject,
        };
        match admin::create_topic(shared, request).await {
            Ok(_) | Err(BrokerError::TopicExists) => {}
            Err(error) => return Err(error),
        }
        return Err(unavailable);
    }
    match leader {
        Some((broker, addr)) => Ok(BrokerResponse::Coordinator { broker, addr }),
        None => Err(unavailable),
    }
}
