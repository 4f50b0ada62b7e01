//! A transactional producer's check-back responder (the pull design): one task per `__txn_half`
//! partition long-polls that partition's coordinator for the group's transactions that are due
//! for a check-back, and answers each from the producer's [`LocalTxns`]. Producers listen on no
//! port; any live producer of the group may answer from its store; a transaction its store never
//! saw is left unanswered for the instance that owns it; a producer that stops polling (crashed,
//! cut off) simply answers nothing, and its transactions wait for another or a restarted one.
//!
//! Fault model: coordinators crash or move mid-poll; answers get lost. Both are harmless: a
//! transaction not answered is handed out again after its `check_after`, and an answer for a
//! decided transaction changes nothing.

use crate::client::cluster::ClusterClientOptions;
use crate::client::local_txns::LocalTxns;
use crate::client::txn_caller::TxnCaller;
use crate::env::{Net, NodeAddr};
use crate::wire::broker_protocol::{BrokerRequest, BrokerResponse};
use std::time::Duration;

/// What one responder needs.
pub struct Responder {
    pub net: Net,
    pub bootstrap: Vec<NodeAddr>,
    pub cluster: ClusterClientOptions,
    pub producer_group: String,
    pub partition: u32,
    /// How long one poll waits on the coordinator.
    pub poll_wait: Duration,
    /// Pause after a failed poll.
    pub retry_backoff: Duration,
    pub local: LocalTxns,
}

impl Responder {
    /// Polls and answers until the task is aborted (the producer is dropped or the host dies).
    pub async fn run(self) {
        let mut caller = TxnCaller::new(self.net, self.bootstrap.clone(), self.cluster.clone());
        loop {
            let request = BrokerRequest::PollCheckBacks {
                producer_group: self.producer_group.clone(),
                partition: self.partition,
                max_wait_ms: self.poll_wait.as_millis() as u64,
            };
            let txn_ids = match caller.call(self.partition, request).await {
                Ok(BrokerResponse::CheckBacks { txn_ids }) => txn_ids,
                Ok(other) => {
                    tracing::warn!(?other, "unexpected answer to a check-back poll");
                    Vec::new()
                }
                Err(error) => {
                    tracing::debug!(partition = self.partition, %error, "check-back poll failed");
                    tokio::time::sleep(self.retry_backoff).await;
                    continue;
                }
            };
            for txn_id in txn_ids {
                let Some(local) = self.local.answer(&txn_id) else {
                    tracing::debug!(txn_id, "not in this producer's store; left to its owner");
                    continue;
                };
                tracing::info!(txn_id, ?local, "answering a check-back");
                let request = BrokerRequest::CheckBackAnswer { txn_id, local };
                if let Err(error) = caller.call(self.partition, request).await {
                    tracing::debug!(%error, "check-back answer failed; it will be asked again");
                }
            }
        }
    }
}
