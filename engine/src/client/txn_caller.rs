//! A producer's line to transaction coordinators: finds the coordinator of a `__txn_half`
//! partition (asking known brokers, then the bootstrap list) and sends it one request. One
//! attempt per call; retrying, and deciding what a failure means, is the caller's business.
//!
//! Fault model: coordinators crash, move, load, or answer too late. A failure that says the
//! coordinator moved (or that the transport broke) forgets it, so the next call finds it again.

use crate::client::cluster::{ClusterClient, ClusterClientOptions, ClusterError};
use crate::env::{Net, NodeAddr};
use crate::wire::broker_protocol::{BrokerError, BrokerRequest, BrokerResponse};
use std::collections::BTreeMap;

pub struct TxnCaller {
    cluster: ClusterClient,
    bootstrap: Vec<NodeAddr>,
    /// The coordinator found for each partition.
    coordinators: BTreeMap<u32, NodeAddr>,
}

impl TxnCaller {
    pub fn new(net: Net, bootstrap: Vec<NodeAddr>, options: ClusterClientOptions) -> TxnCaller {
        TxnCaller {
            cluster: ClusterClient::new(net, bootstrap.clone(), options),
            bootstrap,
            coordinators: BTreeMap::new(),
        }
    }

    async fn find(&mut self, partition: u32) -> Result<NodeAddr, ClusterError> {
        if let Some(addr) = self.coordinators.get(&partition) {
            return Ok(addr.clone());
        }
        let mut candidates: Vec<NodeAddr> = self
            .cluster
            .metadata()
            .map(|m| m.brokers.iter().map(|b| b.addr.clone()).collect())
            .unwrap_or_default();
        candidates.extend(self.bootstrap.iter().cloned());
        let mut last = ClusterError::NoMetadata;
        for addr in candidates {
            let request = BrokerRequest::FindTxnCoordinator { partition };
            match self.cluster.call_broker(&addr, request).await {
                Ok(BrokerResponse::Coordinator { addr, .. }) => {
                    self.coordinators.insert(partition, addr.clone());
                    return Ok(addr);
                }
                Ok(other) => last = ClusterError::Unexpected(format!("{other:?}")),
                Err(error) => last = error,
            }
        }
        Err(last)
    }

    /// Sends `request` once to the coordinator of `partition`.
    pub async fn call(
        &mut self,
        partition: u32,
        request: BrokerRequest,
    ) -> Result<BrokerResponse, ClusterError> {
        let addr = self.find(partition).await?;
        let result = self.cluster.call_broker(&addr, request).await;
        let moved = match &result {
            Ok(_) => false,
            Err(ClusterError::Broker(error)) => matches!(
                error,
                BrokerError::NotCoordinator
                    | BrokerError::NotLeader { .. }
                    | BrokerError::TxnCoordinatorNotAvailable
                    | BrokerError::RequestTimedOut
                    | BrokerError::NotEnoughReplicas { .. }
                    | BrokerError::NotEnoughReplicasAfterAppend
                    | BrokerError::StorageError { .. }
                    | BrokerError::OutcomeUnknown { .. }
            ),
            Err(_) => true,
        };
        if moved {
            self.coordinators.remove(&partition);
        }
        result
    }
}
