//! Request dispatch: every broker request goes to its handler — produce, fetch and epoch-end
//! to the replica, group requests to `group_coordinator`, transactional ones to
//! `txn_coordinator`, delete-records to `delete_records`, topic administration to `admin`.

use crate::broker::group_coordinator;
use crate::broker::node::admin;
use crate::broker::node::delete_records;
use crate::broker::node::replica::{acknowledged, queue, Produced};
use crate::broker::node::shared::{unknown_or_not_leader, Shared};
use crate::broker::txn_coordinator;
use crate::broker::view::ClusterView;
use crate::wire::broker_protocol::{
    BrokerError, BrokerInfo, BrokerRequest, BrokerResponse, FetchRequest, MetadataResponse,
    PartitionMetadata, ProduceRequest, TopicMetadata, TopicPartition,
};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant; // The simulated clock (design.md section 4).

pub async fn handle(shared: &Arc<Shared>, request: BrokerRequest) -> BrokerResponse {
    let result = match request {
        BrokerRequest::Produce(request) => produce(shared, request).await,
        BrokerRequest::Fetch(request) => fetch(shared, request).await,
        BrokerRequest::EpochEnd(request) => {
            let state = shared.lock();
            match state.replicas.get(&request.tp) {
                Some(replica) => replica
                    .epoch_end(&request, Instant::now(), shared.options.metadata_expiry)
                    .map(BrokerResponse::EpochEnd),
                None => Err(BrokerError::UnknownTopicOrPartition),
            }
        }
        BrokerRequest::Metadata { topics } => Ok(BrokerResponse::Metadata(metadata(
            &shared.lock().view,
            topics,
        ))),
        BrokerRequest::CreateTopic(request) => admin::create_topic(shared, request).await,
        BrokerRequest::InitProducerId => admin::init_producer_id(shared).await,
        BrokerRequest::DumpLog {
            tp,
            offset,
            max_bytes,
        } => match shared.lock().replicas.get(&tp) {
            Some(replica) => replica.dump(offset, max_bytes).map(BrokerResponse::Log),
            None => Err(BrokerError::UnknownTopicOrPartition),
        },
        BrokerRequest::FindCoordinator { group } => {
            group_coordinator::find_coordinator(shared, group).await
        }
        BrokerRequest::JoinGroup(request) => group_coordinator::join_group(shared, request).await,
        BrokerRequest::Heartbeat {
            group,
            member_id,
            generation,
        } => group_coordinator::heartbeat(shared, &group, &member_id, generation),
        BrokerRequest::LeaveGroup { group, member_id } => {
            group_coordinator::leave_group(shared, &group, &member_id)
        }
        BrokerRequest::OffsetCommit(request) => {
            group_coordinator::offset_commit(shared, request).await
        }
        BrokerRequest::OffsetFetch { group, partitions } => {
            group_coordinator::offset_fetch(shared, &group, partitions)
        }
        BrokerRequest::FindTxnCoordinator { partition } => {
            txn_coordinator::find_coordinator(shared, partition).await
        }
        BrokerRequest::SendHalf(request) => txn_coordinator::send_half(shared, request).await,
        BrokerRequest::EndTxn { txn_id, decision } => {
            txn_coordinator::end_txn(shared, txn_id, decision).await
        }
        BrokerRequest::PollCheckBacks {
            producer_group,
            partition,
            max_wait_ms,
        } => {
            txn_coordinator::poll_check_backs(shared, producer_group, partition, max_wait_ms).await
        }
        BrokerRequest::CheckBackAnswer { txn_id, local } => {
            txn_coordinator::check_back_answer(shared, txn_id, local).await
        }
        BrokerRequest::DescribeTxn { txn_id } => txn_coordinator::describe(shared, &txn_id),
        BrokerRequest::DeleteRecords {
            tp,
            before,
            expected_head,
            timeout_ms,
        } => delete_records::delete_records(shared, tp, before, expected_head, timeout_ms).await,
    };
    result.unwrap_or_else(BrokerResponse::Error)
}

async fn produce(
    shared: &Arc<Shared>,
    request: ProduceRequest,
) -> Result<BrokerResponse, BrokerError> {
    let timeout = Duration::from_millis(request.timeout_ms);
    let produced = {
        let mut state = shared.lock();
        let tp = request.tp.clone();
        match state.replicas.get_mut(&tp) {
            Some(replica) => {
                replica.produce(request, Instant::now(), shared.options.metadata_expiry)?
            }
            None => return Err(unknown_or_not_leader(&state.view, &tp)),
        }
    };
    match produced {
        Produced::Done(response) => Ok(BrokerResponse::Produced(response)),
        Produced::Wait(response, waiter) => {
            acknowledged(waiter, timeout).await?;
            Ok(BrokerResponse::Produced(response))
        }
    }
}

/// Long-polls: answers at once when there is data, else waits up to `max_wait_ms` for some.
async fn fetch(shared: &Arc<Shared>, request: FetchRequest) -> Result<BrokerResponse, BrokerError> {
    let deadline = Instant::now() + Duration::from_millis(request.max_wait_ms);
    loop {
        let changed = {
            let state = shared.lock();
            match state.replicas.get(&request.tp) {
                Some(replica) => replica.changed.clone(),
                None => return Err(unknown_or_not_leader(&state.view, &request.tp)),
            }
        };
        // Listen before looking: an append between the look and the wait still wakes us.
        let notified = changed.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        {
            let mut state = shared.lock();
            let Some(replica) = state.replicas.get_mut(&request.tp) else {
                return Err(unknown_or_not_leader(&state.view, &request.tp));
            };
            let response =
                replica.fetch(&request, Instant::now(), shared.options.metadata_expiry)?;
            // A follower behind on the head hears of it at once, so a delete replicates in
            // about one round trip rather than one long poll.
            let head_news =
                queue::head_news(request.replica.as_ref(), request.offset, response.log_start);
            if !response.batches.is_empty() || head_news || Instant::now() >= deadline {
                return Ok(BrokerResponse::Fetched(response));
            }
        }
        let _ = tokio::time::timeout_at(deadline, notified).await;
    }
}

fn metadata(view: &ClusterView, topics: Option<Vec<String>>) -> MetadataResponse {
    let brokers = view
        .brokers
        .iter()
        .map(|(id, live)| BrokerInfo {
            id: *id,
            addr: live.registration.addr.clone(),
        })
        .collect();
    let topics = view
        .topics
        .iter()
        .filter(|(name, _)| topics.as_ref().is_none_or(|wanted| wanted.contains(name)))
        .map(|(name, assignment)| TopicMetadata {
            name: name.clone(),
            min_insync: assignment.min_insync,
            capacity: assignment.capacity,
            overflow: assignment.overflow,
            partitions: assignment
                .replicas
                .iter()
                .enumerate()
                .map(|(partition, replicas)| {
                    let tp = TopicPartition::new(name.clone(), partition as u32);
                    let state = view.states.get(&tp).map(|entry| &entry.state);
                    PartitionMetadata {
                        partition: partition as u32,
                        leader: state.and_then(|s| s.leader),
                        leader_epoch: state.map_or(0, |s| s.leader_epoch),
                        replicas: replicas.clone(),
                        isr: state.map_or_else(Vec::new, |s| s.isr.clone()),
                    }
                })
                .collect(),
        })
        .collect();
    MetadataResponse {
        brokers,
        controller: view.controller,
        topics,
    }
}
