//! A follower's replication loop for one partition under one leader epoch: truncate by epoch
//! first, then fetch from the leader and append. It ends as soon as the replica's role changes;
//! the broker starts a new one for the new leader or epoch.
//!
//! Fault model: the leader vanishes, restarts with a shorter log, or is deposed mid-fetch;
//! fetched bytes may be damaged. Responses are checked (epoch, contiguity, checksums) before
//! anything is appended. The leader's head comes with each response; the follower stores its
//! own (up to its log end) and reports it in the next fetch.

use crate::broker::node::replica::{FetchFrom, Role};
use crate::broker::node::shared::Shared;
use crate::env::{NodeAddr, NodeEvent};
use crate::wire::broker_protocol::{
    BrokerError, BrokerId, BrokerRequest, BrokerResponse, EpochEndRequest, FetchRequest,
    ReplicaFetch, TopicPartition,
};
use crate::wire::{Request, Response, RpcClient, RpcOptions};
use std::sync::Arc;
use tokio::sync::Notify;

enum Step {
    Truncate {
        epoch: Option<u64>,
    },
    /// The log holds appends the group-commit loop has not synced yet.
    AwaitSync(Arc<Notify>),
    Fetch {
        offset: u64,
        head: u64,
    },
}

/// Replicates `tp` from `leader` while this broker follows it at `epoch`.
pub async fn run(
    shared: Arc<Shared>,
    tp: TopicPartition,
    leader: BrokerId,
    leader_addr: NodeAddr,
    epoch: u64,
) {
    let options = shared.options.clone();
    let rpc_options = RpcOptions {
        request_timeout: options.request_timeout + options.fetch_max_wait,
        connect_timeout: options.request_timeout / 2,
        ..RpcOptions::default()
    };
    let mut rpc = RpcClient::new(shared.net, leader_addr, rpc_options);
    // The leader epoch of the last fetch answer, to record the first and every change.
    let mut served_epoch: Option<u64> = None;
    loop {
        let step = {
            let mut state = shared.lock();
            let Some(replica) = state.replicas.get_mut(&tp) else {
                return;
            };
            match replica.role() {
                Role::Follower(f) if f.leader == Some(leader) && f.epoch == epoch => {}
                _ => return,
            }
            if replica.is_offline() {
                return;
            }
            match replica.role() {
                Role::Follower(f) if f.needs_truncation => Step::Truncate {
                    epoch: replica.epochs().latest_epoch(),
                },
                _ => match replica.fetch_from() {
                    FetchFrom::Offset(offset) => Step::Fetch {
                        offset,
                        head: replica.head(),
                    },
                    FetchFrom::AfterSync(synced) => Step::AwaitSync(synced),
                },
            }
        };
        let request = match step {
            Step::Truncate { epoch: None } => {
                // Nothing in our log carries an epoch: there is nothing to truncate.
                clear_truncation(&shared, &tp);
                continue;
            }
            Step::AwaitSync(synced) => {
                // Bounded: should the replica be reopened meanwhile, the new one's syncs wake
                // another notify, and the next look under the lock finds that out.
                let _ = tokio::time::timeout(options.fetch_max_wait, synced.notified()).await;
                continue;
            }
            Step::Truncate { epoch: Some(ours) } => BrokerRequest::EpochEnd(EpochEndRequest {
                tp: tp.clone(),
                epoch: ours,
                current_leader_epoch: epoch,
            }),
            Step::Fetch { offset, head } => BrokerRequest::Fetch(FetchRequest {
                tp: tp.clone(),
                offset,
                max_bytes: options.fetch_max_bytes,
                max_wait_ms: options.fetch_max_wait.as_millis() as u64,
                replica: Some(ReplicaFetch {
                    broker: options.id,
                    leader_epoch: epoch,
                    log_start: head,
                }),
            }),
        };
        let response = rpc.call(&Request::Broker(request)).await;
        let outcome = {
            let mut state = shared.lock();
            let Some(replica) = state.replicas.get_mut(&tp) else {
                return;
            };
            match replica.role() {
                Role::Follower(f) if f.leader == Some(leader) && f.epoch == epoch => {}
                _ => return,
            }
            let outcome = match response {
                Ok(Response::Broker(BrokerResponse::EpochEnd(answer))) => {
                    let point = replica.truncation_point(&answer);
                    replica.truncate_to(point).map(|_| ())
                }
                Ok(Response::Broker(BrokerResponse::Fetched(fetched))) => {
                    if served_epoch != Some(fetched.leader_epoch) {
                        served_epoch = Some(fetched.leader_epoch);
                        options.events.record(NodeEvent::ReplicaFetched {
                            tp: tp.to_string(),
                            broker: options.id,
                            leader,
                            epoch,
                            leader_epoch: fetched.leader_epoch,
                        });
                    }
                    replica
                        .append_replicated(&fetched.batches, fetched.high_watermark)
                        // Stored before the next fetch reports it to the leader.
                        .and_then(|()| replica.adopt_head(fetched.log_start))
                }
                Ok(Response::Broker(BrokerResponse::Error(BrokerError::OffsetOutOfRange {
                    ..
                }))) => {
                    // The leader's log is shorter than ours: truncate by epoch again.
                    replica.mark_needs_truncation();
                    Ok(())
                }
                Ok(Response::Broker(BrokerResponse::Error(error))) => Err(error),
                Ok(other) => Err(BrokerError::InvalidRequest {
                    reason: format!("unexpected {other:?}"),
                }),
                Err(error) => Err(BrokerError::InvalidRequest {
                    reason: error.to_string(),
                }),
            };
            outcome
        };
        if let Err(error) = outcome {
            tracing::debug!(%tp, leader, epoch, %error, "fetch from leader failed");
            tokio::time::sleep(options.retry_backoff).await;
        }
    }
}

fn clear_truncation(shared: &Shared, tp: &TopicPartition) {
    let mut state = shared.lock();
    if let Some(replica) = state.replicas.get_mut(tp) {
        replica.mark_truncated();
    }
}
