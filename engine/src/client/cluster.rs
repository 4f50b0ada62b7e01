//! A connection to the cluster: bootstrap addresses, cached metadata, one RPC connection per
//! broker, and routing to partition leaders.
//!
//! Fault model: brokers die, move leadership, and answer with stale metadata. A request that
//! fails with a retriable error refreshes metadata; the caller decides whether to retry (a
//! produce whose outcome is unknown must be recorded as such, not silently retried).

use crate::env::{Net, NodeAddr};
use crate::storage::Record;
use crate::wire::broker_protocol::{
    Acks, BrokerError, BrokerId, BrokerRequest, BrokerResponse, CreateTopicRequest, FetchRequest,
    FetchResponse, MetadataResponse, ProduceRequest, ProduceResponse, ProducerStamp,
    TopicPartition,
};
use crate::wire::{Request, Response, RpcClient, RpcOptions, WireError};
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct ClusterClientOptions {
    pub request_timeout: Duration,
    pub connect_timeout: Duration,
    /// How long a produce may wait on the leader for replication.
    pub produce_timeout: Duration,
    pub fetch_max_wait: Duration,
    pub fetch_max_bytes: u64,
}

impl Default for ClusterClientOptions {
    fn default() -> ClusterClientOptions {
        ClusterClientOptions {
            request_timeout: Duration::from_millis(1500),
            connect_timeout: Duration::from_millis(300),
            produce_timeout: Duration::from_millis(1000),
            fetch_max_wait: Duration::from_millis(100),
            fetch_max_bytes: 1024 * 1024,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("broker: {0}")]
    Broker(#[from] BrokerError),
    /// The request may or may not have reached the broker.
    #[error("transport: {0}")]
    Transport(#[from] WireError),
    #[error("no leader known for {0}")]
    NoLeader(TopicPartition),
    #[error("no broker answered for metadata")]
    NoMetadata,
    #[error("unexpected response: {0}")]
    Unexpected(String),
}

impl ClusterError {
    /// Whether a produce that failed this way surely was not written.
    pub fn surely_not_written(&self) -> bool {
        match self {
            ClusterError::Broker(error) => !error.may_have_been_written(),
            ClusterError::Transport(WireError::Connect { .. }) => true,
            ClusterError::Transport(_) | ClusterError::Unexpected(_) => false,
            ClusterError::NoLeader(_) | ClusterError::NoMetadata => true,
        }
    }
}

pub struct ClusterClient {
    net: Net,
    bootstrap: Vec<NodeAddr>,
    options: ClusterClientOptions,
    metadata: Option<MetadataResponse>,
    connections: BTreeMap<NodeAddr, RpcClient>,
    bootstrap_next: usize,
}

impl ClusterClient {
    pub fn new(net: Net, bootstrap: Vec<NodeAddr>, options: ClusterClientOptions) -> ClusterClient {
        ClusterClient {
            net,
            bootstrap,
            options,
            metadata: None,
            connections: BTreeMap::new(),
            bootstrap_next: 0,
        }
    }

    pub fn options(&self) -> &ClusterClientOptions {
        &self.options
    }

    pub fn metadata(&self) -> Option<&MetadataResponse> {
        self.metadata.as_ref()
    }

    fn rpc_options(&self, extra: Duration) -> RpcOptions {
        RpcOptions {
            request_timeout: self.options.request_timeout + extra,
            connect_timeout: self.options.connect_timeout,
            ..RpcOptions::default()
        }
    }

    async fn call(
        &mut self,
        addr: &NodeAddr,
        request: BrokerRequest,
        extra: Duration,
    ) -> Result<BrokerResponse, ClusterError> {
        // One connection per broker serves every kind of request, so it must allow the longest
        // wait any of them may need (a produce waiting for replication, a long-polling fetch).
        let longest = extra
            .max(self.options.produce_timeout)
            .max(self.options.fetch_max_wait);
        let options = self.rpc_options(longest);
        let rpc = self
            .connections
            .entry(addr.clone())
            .or_insert_with(|| RpcClient::new(self.net, addr.clone(), options));
        match rpc.call(&Request::Broker(request)).await? {
            Response::Broker(BrokerResponse::Error(error)) => Err(error.into()),
            Response::Broker(response) => Ok(response),
            other => Err(ClusterError::Unexpected(format!("{other:?}"))),
        }
    }

    /// Sends one request to a specific broker.
    pub async fn call_broker(
        &mut self,
        addr: &NodeAddr,
        request: BrokerRequest,
    ) -> Result<BrokerResponse, ClusterError> {
        self.call(addr, request, Duration::ZERO).await
    }

    /// Asks brokers (known ones first, then the bootstrap list, round-robin) for metadata.
    pub async fn refresh_metadata(&mut self) -> Result<&MetadataResponse, ClusterError> {
        let mut candidates: Vec<NodeAddr> = self
            .metadata
            .iter()
            .flat_map(|metadata| metadata.brokers.iter().map(|b| b.addr.clone()))
            .collect();
        for i in 0..self.bootstrap.len() {
            candidates
                .push(self.bootstrap[(self.bootstrap_next + i) % self.bootstrap.len()].clone());
        }
        self.bootstrap_next = self.bootstrap_next.wrapping_add(1);
        for addr in candidates {
            if let Ok(BrokerResponse::Metadata(metadata)) = self
                .call(
                    &addr,
                    BrokerRequest::Metadata { topics: None },
                    Duration::ZERO,
                )
                .await
            {
                if !metadata.brokers.is_empty() {
                    self.metadata = Some(metadata);
                    return self.metadata.as_ref().ok_or(ClusterError::NoMetadata);
                }
            }
        }
        Err(ClusterError::NoMetadata)
    }

    /// The leader's id and address as the cached metadata has it.
    pub fn leader(&self, tp: &TopicPartition) -> Option<(BrokerId, NodeAddr)> {
        let metadata = self.metadata.as_ref()?;
        let topic = metadata.topics.iter().find(|t| t.name == tp.topic)?;
        let leader = topic.partitions.get(tp.partition as usize)?.leader?;
        let broker = metadata.brokers.iter().find(|b| b.id == leader)?;
        Some((leader, broker.addr.clone()))
    }

    pub fn partition_count(&self, topic: &str) -> Option<u32> {
        let metadata = self.metadata.as_ref()?;
        metadata
            .topics
            .iter()
            .find(|t| t.name == topic)
            .map(|t| t.partitions.len() as u32)
    }

    async fn leader_addr(&mut self, tp: &TopicPartition) -> Result<NodeAddr, ClusterError> {
        if self.leader(tp).is_none() {
            self.refresh_metadata().await?;
        }
        self.leader(tp)
            .map(|(_, addr)| addr)
            .ok_or_else(|| ClusterError::NoLeader(tp.clone()))
    }

    /// Sends one request to the partition's leader; refreshes metadata when the answer says the
    /// cache is stale. One attempt: retrying is the caller's decision.
    pub async fn to_leader(
        &mut self,
        tp: &TopicPartition,
        request: BrokerRequest,
        extra: Duration,
    ) -> Result<BrokerResponse, ClusterError> {
        let addr = self.leader_addr(tp).await?;
        let result = self.call(&addr, request, extra).await;
        if let Err(error) = &result {
            let stale = match error {
                ClusterError::Broker(error) => error.is_retriable(),
                _ => true,
            };
            if stale {
                let _ = self.refresh_metadata().await;
            }
        }
        result
    }

    /// One produce attempt to the current leader.
    pub async fn produce(
        &mut self,
        tp: &TopicPartition,
        records: Vec<Record>,
        acks: Acks,
        producer: Option<ProducerStamp>,
    ) -> Result<ProduceResponse, ClusterError> {
        let timeout = self.options.produce_timeout;
        let request = BrokerRequest::Produce(ProduceRequest {
            tp: tp.clone(),
            acks,
            timeout_ms: timeout.as_millis() as u64,
            records,
            producer,
            flags: 0,
        });
        match self.to_leader(tp, request, timeout).await? {
            BrokerResponse::Produced(response) => Ok(response),
            other => Err(ClusterError::Unexpected(format!("{other:?}"))),
        }
    }

    /// One `DeleteRecords` attempt to the current leader: moves the partition's head to at least
    /// `before` (a compare-and-set when `expected_head` is given) and returns the head it left,
    /// once every in-sync replica holds it. A timeout or transport error leaves it unknown.
    pub async fn delete_records(
        &mut self,
        tp: &TopicPartition,
        before: u64,
        expected_head: Option<u64>,
    ) -> Result<u64, ClusterError> {
        let timeout = self.options.produce_timeout;
        let request = BrokerRequest::DeleteRecords {
            tp: tp.clone(),
            before,
            expected_head,
            timeout_ms: timeout.as_millis() as u64,
        };
        match self.to_leader(tp, request, timeout).await? {
            BrokerResponse::RecordsDeleted { head } => Ok(head),
            other => Err(ClusterError::Unexpected(format!("{other:?}"))),
        }
    }

    /// One fetch (as a consumer: records below the high watermark) from the current leader.
    pub async fn fetch(
        &mut self,
        tp: &TopicPartition,
        offset: u64,
    ) -> Result<FetchResponse, ClusterError> {
        let wait = self.options.fetch_max_wait;
        let request = BrokerRequest::Fetch(FetchRequest {
            tp: tp.clone(),
            offset,
            max_bytes: self.options.fetch_max_bytes,
            max_wait_ms: wait.as_millis() as u64,
            replica: None,
        });
        match self.to_leader(tp, request, wait).await? {
            BrokerResponse::Fetched(response) => Ok(response),
            other => Err(ClusterError::Unexpected(format!("{other:?}"))),
        }
    }

    /// Creates a topic through any broker.
    pub async fn create_topic(&mut self, request: CreateTopicRequest) -> Result<(), ClusterError> {
        let mut last = ClusterError::NoMetadata;
        for i in 0..self.bootstrap.len() {
            let addr = self.bootstrap[(self.bootstrap_next + i) % self.bootstrap.len()].clone();
            match self
                .call(
                    &addr,
                    BrokerRequest::CreateTopic(request.clone()),
                    Duration::ZERO,
                )
                .await
            {
                Ok(_) => return Ok(()),
                Err(ClusterError::Broker(BrokerError::TopicExists)) => {
                    return Err(BrokerError::TopicExists.into())
                }
                Err(error) => last = error,
            }
        }
        Err(last)
    }

    /// Waits until every partition of `topic` has a leader in the metadata, or `attempts` run out.
    pub async fn await_leaders(
        &mut self,
        topic: &str,
        attempts: usize,
        pause: Duration,
    ) -> Result<(), ClusterError> {
        for _ in 0..attempts {
            if let Ok(metadata) = self.refresh_metadata().await {
                if let Some(t) = metadata.topics.iter().find(|t| t.name == topic) {
                    if !t.partitions.is_empty() && t.partitions.iter().all(|p| p.leader.is_some()) {
                        return Ok(());
                    }
                }
            }
            tokio::time::sleep(pause).await;
        }
        Err(ClusterError::NoMetadata)
    }
}
