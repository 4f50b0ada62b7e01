//! Topic administration and producer ids: both are coordinator writes made on a client's
//! behalf.

use crate::broker::node::shared::Shared;
use crate::broker::session;
use crate::broker::znodes::{self, TopicAssignment};
use crate::bugs::Bug;
use crate::coordinator::{ClientError, CoordError, CreateMode};
use crate::wire::broker_protocol::{
    BrokerError, BrokerId, BrokerResponse, CreateTopicRequest, CAPACITY_MAX,
};
use std::sync::Arc;

/// The most partitions a topic may have, and the most replicas per partition.
pub const TOPIC_PARTITIONS_MAX: u32 = 1024;

pub(crate) async fn create_topic(
    shared: &Arc<Shared>,
    request: CreateTopicRequest,
) -> Result<BrokerResponse, BrokerError> {
    let invalid = |reason: String| Err(BrokerError::InvalidRequest { reason });
    if request.name.is_empty() || request.name.contains(['/', '\0']) || request.name.len() > 200 {
        return invalid(format!("bad topic name {:?}", request.name));
    }
    if request.partitions == 0 || request.partitions > TOPIC_PARTITIONS_MAX {
        return invalid(format!("partitions must be in 1..={TOPIC_PARTITIONS_MAX}"));
    }
    if request.min_insync == 0 || request.min_insync > request.replication {
        return invalid("min_insync must be in 1..=replication".into());
    }
    if request
        .capacity
        .is_some_and(|capacity| capacity == 0 || capacity > CAPACITY_MAX)
    {
        return invalid(format!("capacity must be in 1..={CAPACITY_MAX} records"));
    }
    let live: Vec<BrokerId> = shared.lock().view.brokers.keys().copied().collect();
    if request.replication == 0 || request.replication as usize > live.len() {
        return invalid(format!(
            "replication {} but {} live brokers",
            request.replication,
            live.len()
        ));
    }
    // Round-robin: partition p's replicas start at live broker p, preferred leader first.
    let replicas = (0..request.partitions as usize)
        .map(|p| {
            (0..request.replication as usize)
                .map(|i| live[(p + i) % live.len()])
                .collect()
        })
        .collect();
    let assignment = TopicAssignment {
        replicas,
        min_insync: request.min_insync,
        capacity: request.capacity,
        overflow: request.overflow,
    };
    let Some(registered) = shared.session.get() else {
        return Err(BrokerError::CoordinatorUnavailable);
    };
    match registered
        .client
        .create(
            &znodes::topic_path(&request.name),
            znodes::encode(&assignment),
            CreateMode::Persistent,
        )
        .await
    {
        Ok(_) => Ok(BrokerResponse::TopicCreated),
        Err(ClientError::Coord(CoordError::NodeExists { .. })) => Err(BrokerError::TopicExists),
        Err(_) => Err(BrokerError::CoordinatorUnavailable),
    }
}

/// Allocates a producer id from a sequential znode: the coordinator's sequence counter is
/// durable, so ids never repeat across broker or coordinator restarts.
pub(crate) async fn init_producer_id(shared: &Arc<Shared>) -> Result<BrokerResponse, BrokerError> {
    if shared.options.bugs.has(Bug::ProducerIdNotPersisted) {
        // Planted bug: a counter of this broker's own, which starts again from zero when the
        // broker does and which no other broker sees.
        let producer_id = {
            let mut state = shared.lock();
            state.producer_ids_granted += 1;
            state.producer_ids_granted - 1
        };
        return Ok(BrokerResponse::ProducerId {
            producer_id,
            producer_epoch: 0,
        });
    }
    let Some(registered) = shared.session.get() else {
        return Err(BrokerError::CoordinatorUnavailable);
    };
    let client = &registered.client;
    session::ensure_path(client, znodes::PRODUCER_IDS)
        .await
        .map_err(|_| BrokerError::CoordinatorUnavailable)?;
    let prefix = format!("{}/id-", znodes::PRODUCER_IDS);
    let path = client
        .create(&prefix, Vec::new(), CreateMode::PersistentSequential)
        .await
        .map_err(|_| BrokerError::CoordinatorUnavailable)?;
    let producer_id = path
        .strip_prefix(&prefix)
        .and_then(|suffix| suffix.parse::<u64>().ok())
        .ok_or_else(|| BrokerError::InvalidRequest {
            reason: format!("odd sequential path {path}"),
        })?;
    Ok(BrokerResponse::ProducerId {
        producer_id,
        producer_epoch: 0,
    })
}
