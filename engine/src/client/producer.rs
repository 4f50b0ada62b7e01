//! The producer: `send` queues a record for its partition and returns a delivery future; one
//! sender task per partition batches records (by count and linger), sends each batch to the
//! leader, and retries retriable failures with backoff until the delivery timeout.
//!
//! Idempotence: the producer gets a producer id from the cluster and numbers each partition's
//! batches; a retried batch keeps its sequence, so the broker answers a duplicate with the
//! original offsets. A batch that fails for good after an attempt whose outcome is unknown
//! leaves the broker's sequence state unknown too, so that partition's sender takes a fresh
//! producer id before its next batch (the role Kafka's epoch bump plays).
//!
//! Outcomes: `Ok` carries the offset (none under `acks=0`); `SendError::Failed` means surely not
//! written; `SendError::Unknown` means it may have been written — the history records it as
//! `info`.

use crate::client::cluster::{ClusterClient, ClusterClientOptions, ClusterError};
use crate::client::interceptor::ProducerInterceptor;
use crate::env::{Net, NodeAddr, NodeEvent, NodeEvents};
use crate::storage::Record;
use crate::wire::broker_protocol::{
    Acks, BrokerError, BrokerRequest, BrokerResponse, ProducerStamp, TopicPartition,
};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

/// Records queued per partition before `send` waits for room.
pub const QUEUED_PER_PARTITION_MAX: usize = 1024;

#[derive(Clone, Debug)]
pub struct ProducerOptions {
    pub acks: Acks,
    pub idempotent: bool,
    pub batch_max_records: usize,
    /// How long a partial batch waits for more records.
    pub linger: Duration,
    pub retry_backoff: Duration,
    /// How long a record may take from `send` to acknowledgement, retries included.
    pub delivery_timeout: Duration,
    pub cluster: ClusterClientOptions,
    /// Planted bugs (none unless a run asks for them).
    pub bugs: crate::bugs::Bugs,
    /// Where the producer records the producer ids it is given (a node event named after the
    /// client); off unless a simulated run collects them.
    pub events: NodeEvents,
}

impl Default for ProducerOptions {
    fn default() -> ProducerOptions {
        ProducerOptions {
            acks: Acks::All,
            idempotent: true,
            batch_max_records: 16,
            linger: Duration::ZERO,
            retry_backoff: Duration::from_millis(100),
            delivery_timeout: Duration::from_secs(10),
            cluster: ClusterClientOptions::default(),
            bugs: crate::bugs::Bugs::none(),
            events: NodeEvents::off(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordMetadata {
    pub tp: TopicPartition,
    /// `None` under `acks=0`.
    pub offset: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error("not written: {0}")]
    Failed(String),
    #[error("outcome unknown: {0}")]
    Unknown(String),
}

struct Pending {
    record: Record,
    done: oneshot::Sender<Result<RecordMetadata, SendError>>,
}

struct Config {
    net: Net,
    bootstrap: Vec<NodeAddr>,
    options: ProducerOptions,
}

#[derive(Clone)]
pub struct Producer {
    config: Arc<Config>,
    interceptors: Arc<Vec<Arc<dyn ProducerInterceptor>>>,
    senders: Arc<Mutex<BTreeMap<TopicPartition, mpsc::Sender<Pending>>>>,
}

impl Producer {
    pub fn new(
        net: Net,
        bootstrap: Vec<NodeAddr>,
        options: ProducerOptions,
        interceptors: Vec<Arc<dyn ProducerInterceptor>>,
    ) -> Producer {
        Producer {
            config: Arc::new(Config {
                net,
                bootstrap,
                options,
            }),
            interceptors: Arc::new(interceptors),
            senders: Arc::new(Mutex::new(BTreeMap::new())),
        }
    }

    /// Queues `record` for `tp` (interceptors run now, in call order) and returns a future
    /// that resolves when it is acknowledged or given up on.
    pub async fn send(
        &self,
        tp: &TopicPartition,
        mut record: Record,
    ) -> Result<RecordMetadata, SendError> {
        for interceptor in self.interceptors.iter() {
            interceptor.on_send(tp, &mut record);
        }
        let (done, delivered) = oneshot::channel();
        let sender = {
            let mut senders = self.senders.lock().unwrap_or_else(|p| p.into_inner());
            senders
                .entry(tp.clone())
                .or_insert_with(|| {
                    let (sender, receiver) = mpsc::channel(QUEUED_PER_PARTITION_MAX);
                    crate::env::spawn(partition_sender(self.config.clone(), tp.clone(), receiver));
                    sender
                })
                .clone()
        };
        if sender.send(Pending { record, done }).await.is_err() {
            return Err(SendError::Failed("the partition sender stopped".into()));
        }
        delivered
            .await
            .unwrap_or_else(|_| Err(SendError::Unknown("the partition sender stopped".into())))
    }
}

/// This partition's idempotence identity: producer id, epoch and next sequence.
struct Identity {
    stamp: Option<ProducerStamp>,
}

async fn init_producer_id(
    cluster: &mut ClusterClient,
    deadline: Instant,
    options: &ProducerOptions,
    tp: &TopicPartition,
) -> Option<ProducerStamp> {
    let backoff = options.retry_backoff;
    while Instant::now() < deadline {
        if cluster.refresh_metadata().await.is_ok() {
            let brokers: Vec<NodeAddr> = cluster
                .metadata()
                .map(|m| m.brokers.iter().map(|b| b.addr.clone()).collect())
                .unwrap_or_default();
            for addr in brokers {
                if let Ok(BrokerResponse::ProducerId {
                    producer_id,
                    producer_epoch,
                }) = cluster
                    .call_broker(&addr, BrokerRequest::InitProducerId)
                    .await
                {
                    options.events.record(NodeEvent::ProducerIdAssigned {
                        producer_id,
                        tp: tp.to_string(),
                    });
                    return Some(ProducerStamp {
                        producer_id,
                        producer_epoch,
                        base_sequence: 0,
                    });
                }
            }
        }
        tokio::time::sleep(backoff).await;
    }
    None
}

async fn partition_sender(
    config: Arc<Config>,
    tp: TopicPartition,
    mut queue: mpsc::Receiver<Pending>,
) {
    let options = &config.options;
    let mut cluster = ClusterClient::new(
        config.net,
        config.bootstrap.clone(),
        options.cluster.clone(),
    );
    let mut identity = Identity { stamp: None };
    let batch_max = options.batch_max_records.max(1);
    while let Some(first) = queue.recv().await {
        let mut batch = vec![first];
        let linger_until = Instant::now() + options.linger;
        while batch.len() < batch_max {
            match tokio::time::timeout_at(linger_until, queue.recv()).await {
                Ok(Some(pending)) => batch.push(pending),
                _ => break,
            }
        }
        send_batch(&config, &mut cluster, &tp, batch, &mut identity).await;
    }
}

async fn send_batch(
    config: &Config,
    cluster: &mut ClusterClient,
    tp: &TopicPartition,
    batch: Vec<Pending>,
    identity: &mut Identity,
) {
    let options = &config.options;
    let deadline = Instant::now() + options.delivery_timeout;
    let records: Vec<Record> = batch.iter().map(|pending| pending.record.clone()).collect();
    let count = records.len() as u32;
    if options.acks == Acks::None {
        // Fire and forget: the producer does not learn the outcome.
        let _ = cluster.produce(tp, records, Acks::None, None).await;
        for pending in batch {
            let _ = pending.done.send(Ok(RecordMetadata {
                tp: tp.clone(),
                offset: None,
            }));
        }
        return;
    }
    if options.idempotent && identity.stamp.is_none() {
        identity.stamp = init_producer_id(cluster, deadline, options, tp).await;
        if identity.stamp.is_none() {
            fail(
                batch,
                SendError::Failed("no producer id could be allocated".into()),
            );
            return;
        }
    }
    let mut maybe_written = false;
    let mut last_error = String::new();
    while Instant::now() < deadline {
        match cluster
            .produce(tp, records.clone(), options.acks, identity.stamp)
            .await
        {
            Ok(response) => {
                if let Some(stamp) = &mut identity.stamp {
                    stamp.base_sequence = stamp.base_sequence.wrapping_add(count);
                }
                for (i, pending) in batch.into_iter().enumerate() {
                    let offset = Some(response.base_offset + i as u64);
                    let _ = pending.done.send(Ok(RecordMetadata {
                        tp: tp.clone(),
                        offset,
                    }));
                }
                return;
            }
            Err(error) => {
                maybe_written |= !error.surely_not_written();
                last_error = error.to_string();
                let retriable = match &error {
                    ClusterError::Broker(BrokerError::OutOfOrderSequence { .. }) => false,
                    ClusterError::Broker(error) => error.is_retriable(),
                    _ => true,
                };
                if !retriable {
                    break;
                }
            }
        }
        tokio::time::sleep(options.retry_backoff).await;
        if options.bugs.has(crate::bugs::Bug::ProducerIdResetOnRetry) && options.idempotent {
            // Planted bug: every retry goes out under a fresh producer id, so the broker cannot
            // recognise a batch it already wrote.
            identity.stamp = init_producer_id(cluster, deadline, options, tp).await;
        }
    }
    if maybe_written {
        // The broker may hold this batch under its sequence: start a fresh identity.
        identity.stamp = None;
        fail(batch, SendError::Unknown(last_error));
    } else {
        fail(batch, SendError::Failed(last_error));
    }
}

fn fail(batch: Vec<Pending>, error: SendError) {
    for pending in batch {
        let _ = pending.done.send(Err(error.clone()));
    }
}
