//! The transactional producer (RocketMQ model, design.md section 6). `send_in_transaction`
//! durably begins the transaction in the local store, sends the half message (invisible) to the
//! transaction's coordinator, runs the local transaction once the half is acknowledged, records
//! its outcome together with its business effect in one fsynced write, and sends commit or
//! rollback. Check-back responders (see `check_back`) answer the coordinator from the same
//! store, so a producer that dies anywhere in between is settled by its local record — also by
//! a new instance of the group that opens the same store after a restart.
//!
//! Outcomes: once the local outcome is durable, it decides the message's fate: commit makes it
//! visible exactly once, rollback never — whether the decision gets through now or a check-back
//! applies it later. The one exception is the RocketMQ rule that `check_max` unknown answers
//! (while the local transaction was still running, or said unknown) roll back; a commit that
//! arrives after that gets `RolledBack { reason: CheckMaxExceeded }`.
//!
//! Fault model: coordinators crash, move and answer late; the producer process loses power at
//! any point ([`CrashPoint`] lets a test stop it at each one). Every step is retried until
//! `step_timeout`, and only where a retry is harmless: the coordinator deduplicates halves by
//! transaction id, and a repeated decision gets the recorded one back.

use crate::client::check_back::Responder;
use crate::client::cluster::{ClusterClientOptions, ClusterError};
use crate::client::local_txns::LocalTxns;
use crate::client::txn_caller::TxnCaller;
use crate::client::txn_store::{LocalState, LocalTxnStore, TxnStoreError};
use crate::env::{Net, NodeAddr};
use crate::storage::Record;
use crate::wire::broker_protocol::{
    BrokerError, BrokerRequest, BrokerResponse, Decision, DecisionReason, LocalOutcome,
    SendHalfRequest, TopicPartition, TxnStatus,
};
use crate::wire::txn_partition::{partition_for, TXN_ID_BYTES_MAX, TXN_PARTITIONS};
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Idle coordinator connections kept for reuse.
const CALLERS_POOLED_MAX: usize = 8;

/// Where a test stops the producer (it returns [`TxnError::Stopped`] there and does nothing
/// more, as if it lost power; the test then crashes its host).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrashPoint {
    /// The half was stored by the coordinator, but its acknowledgement is never processed.
    BeforeHalfAck,
    /// The half was acknowledged; the local transaction never ran.
    BeforeLocalCommit,
    /// The local outcome is durable; the decision was never sent.
    BeforeDecision,
    /// The decision was sent and recorded by the coordinator; its answer is never processed.
    BeforeDecisionAck,
}

#[derive(Clone, Debug)]
pub struct TxnProducerOptions {
    /// Producers of the group answer each other's check-backs (they share the local store).
    pub producer_group: String,
    /// How long a transaction may stay undecided before (and between) check-backs.
    pub check_after: Duration,
    /// Unknown check-back answers after which the coordinator rolls back.
    pub check_max: u32,
    /// How long one step (the half, the decision) is retried.
    pub step_timeout: Duration,
    pub retry_backoff: Duration,
    /// How long a check-back poll waits on a coordinator.
    pub check_poll_wait: Duration,
    /// Tests only: stop at this point of every transaction.
    pub crash_point: Option<CrashPoint>,
    pub cluster: ClusterClientOptions,
}

impl Default for TxnProducerOptions {
    fn default() -> TxnProducerOptions {
        TxnProducerOptions {
            producer_group: "txn-producers".into(),
            check_after: Duration::from_secs(2),
            check_max: 5,
            step_timeout: Duration::from_secs(10),
            retry_backoff: Duration::from_millis(100),
            check_poll_wait: Duration::from_millis(500),
            crash_point: None,
            cluster: ClusterClientOptions {
                // Room on the RPC timeout for EndTxn: replication, then the publication.
                produce_timeout: Duration::from_secs(2),
                ..ClusterClientOptions::default()
            },
        }
    }
}

/// What the local transaction did: its outcome and its business effect (stored with it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalTxn {
    pub outcome: LocalOutcome,
    pub effect: Vec<u8>,
}

/// A transaction's end as the coordinator recorded it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxnOutcome {
    /// Committed: the message is visible exactly once in its target partition, at `offset`
    /// (`None`: the commit is durable and the publication still under way).
    Committed { offset: Option<u64> },
    /// Rolled back: the message never becomes visible.
    RolledBack { reason: DecisionReason },
    /// The local transaction answered unknown; no decision was sent. Check-backs settle it:
    /// the store keeps answering unknown, so after `check_max` of them it is rolled back.
    Unknown,
}

#[derive(Debug, thiserror::Error)]
pub enum TxnError {
    #[error("bad transaction id {txn_id:?}: {reason}")]
    InvalidTxnId { txn_id: String, reason: String },
    /// The half was not acknowledged; the local transaction did not run and is recorded as
    /// rolled back. `maybe_stored`: the half may be on the coordinator, which then checks back
    /// and gets rollback. Never visible.
    #[error("half message not acknowledged (maybe stored: {maybe_stored}): {reason}")]
    HalfFailed { maybe_stored: bool, reason: String },
    /// The local outcome is durable but the decision was not confirmed: a check-back will apply
    /// `local` (visible exactly once iff it is commit).
    #[error("decision {local:?} not confirmed: {reason}")]
    DecisionUnknown { local: LocalOutcome, reason: String },
    /// The local store failed: whether the local outcome reached the disk is unknown; no
    /// decision was sent, and check-backs answer from whatever the store recovers.
    #[error(transparent)]
    Store(#[from] TxnStoreError),
    /// The coordinator refused the request for good.
    #[error("refused: {0}")]
    Refused(BrokerError),
    /// No coordinator answered within `step_timeout` (a query; nothing was changed).
    #[error("no coordinator answered in time: {0}")]
    Unavailable(String),
    /// A test's crash point was reached; the producer did nothing more.
    #[error("stopped at {0:?}")]
    Stopped(CrashPoint),
}

pub struct TxnProducer {
    net: Net,
    bootstrap: Vec<NodeAddr>,
    options: TxnProducerOptions,
    local: LocalTxns,
    callers: Mutex<Vec<TxnCaller>>,
    responders: Vec<JoinHandle<()>>,
}

impl Drop for TxnProducer {
    fn drop(&mut self) {
        for responder in &self.responders {
            responder.abort();
        }
    }
}

/// How one step's attempts went.
enum Step {
    Answered(BrokerResponse),
    Refused(BrokerError),
    /// Out of time; `maybe_done` when some attempt may have reached the coordinator.
    TimedOut {
        maybe_done: bool,
        last: String,
    },
}

impl TxnProducer {
    /// Starts the producer and its check-back responders (one per `__txn_half` partition),
    /// which answer from `store` — also for transactions a previous instance began.
    pub fn new(
        net: Net,
        bootstrap: Vec<NodeAddr>,
        options: TxnProducerOptions,
        store: LocalTxnStore,
    ) -> TxnProducer {
        let local = LocalTxns::new(store);
        let responders = (0..TXN_PARTITIONS)
            .map(|partition| {
                let responder = Responder {
                    net,
                    bootstrap: bootstrap.clone(),
                    cluster: options.cluster.clone(),
                    producer_group: options.producer_group.clone(),
                    partition,
                    poll_wait: options.check_poll_wait,
                    retry_backoff: options.retry_backoff,
                    local: local.clone(),
                };
                crate::env::spawn(responder.run())
            })
            .collect();
        TxnProducer {
            net,
            bootstrap,
            options,
            local,
            callers: Mutex::new(Vec::new()),
            responders,
        }
    }

    pub fn options(&self) -> &TxnProducerOptions {
        &self.options
    }

    /// The local store's state of one transaction.
    pub fn local_state(&self, txn_id: &str) -> Option<LocalState> {
        self.local.state(txn_id)
    }

    /// Every transaction in the local store: the ground truth a run reports at its end.
    pub fn local_entries(&self) -> Vec<(String, LocalState)> {
        self.local.entries()
    }

    fn caller(&self) -> TxnCaller {
        let pooled = self.callers.lock().unwrap_or_else(|p| p.into_inner()).pop();
        pooled.unwrap_or_else(|| {
            TxnCaller::new(
                self.net,
                self.bootstrap.clone(),
                self.options.cluster.clone(),
            )
        })
    }

    fn give_back(&self, caller: TxnCaller) {
        let mut callers = self.callers.lock().unwrap_or_else(|p| p.into_inner());
        if callers.len() < CALLERS_POOLED_MAX {
            callers.push(caller);
        }
    }

    /// Sends `request` to the coordinator of `partition` until it answers, refuses for good,
    /// or `step_timeout` passes.
    async fn step(&self, partition: u32, request: BrokerRequest) -> Step {
        let deadline = Instant::now() + self.options.step_timeout;
        let mut caller = self.caller();
        let mut maybe_done = false;
        let step = loop {
            match caller.call(partition, request.clone()).await {
                Ok(response) => break Step::Answered(response),
                Err(ClusterError::Broker(error)) if !error.is_retriable() => {
                    break Step::Refused(error)
                }
                Err(error) => {
                    maybe_done |= !error.surely_not_written();
                    if Instant::now() + self.options.retry_backoff >= deadline {
                        let last = error.to_string();
                        break Step::TimedOut { maybe_done, last };
                    }
                }
            }
            tokio::time::sleep(self.options.retry_backoff).await;
        };
        self.give_back(caller);
        step
    }

    /// Sends `record` to `tp` in transaction `txn_id` (unique in the cluster) with the local
    /// transaction `local_txn`, which runs only once the half message is stored.
    pub async fn send_in_transaction<F, Fut>(
        &self,
        txn_id: &str,
        tp: &TopicPartition,
        record: Record,
        local_txn: F,
    ) -> Result<TxnOutcome, TxnError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = LocalTxn>,
    {
        if txn_id.is_empty() || txn_id.len() > TXN_ID_BYTES_MAX {
            return Err(TxnError::InvalidTxnId {
                txn_id: txn_id.to_string(),
                reason: format!("an id has 1..={TXN_ID_BYTES_MAX} bytes"),
            });
        }
        let crash_at = |point: CrashPoint| self.options.crash_point == Some(point);
        let partition = partition_for(txn_id);
        let running = self.local.begin(txn_id)?;
        let half = BrokerRequest::SendHalf(SendHalfRequest {
            txn_id: txn_id.to_string(),
            producer_group: self.options.producer_group.clone(),
            target: tp.clone(),
            record,
            check_after_ms: self.options.check_after.as_millis() as u64,
            check_max: self.options.check_max,
        });
        let refusal = match self.step(partition, half).await {
            Step::Answered(BrokerResponse::HalfStored { .. }) => None,
            Step::Answered(other) => Some((true, format!("unexpected answer {other:?}"))),
            Step::Refused(error) => Some((false, error.to_string())),
            Step::TimedOut { maybe_done, last } => Some((maybe_done, last)),
        };
        if crash_at(CrashPoint::BeforeHalfAck) {
            return Err(TxnError::Stopped(CrashPoint::BeforeHalfAck));
        }
        if let Some((maybe_stored, reason)) = refusal {
            // The local transaction never runs: record that, so check-backs answer rollback.
            self.local
                .finish(txn_id, LocalOutcome::Rollback, Vec::new())?;
            drop(running);
            if maybe_stored {
                let end = BrokerRequest::EndTxn {
                    txn_id: txn_id.to_string(),
                    decision: Decision::Rollback,
                };
                let _ = self.step(partition, end).await;
            }
            return Err(TxnError::HalfFailed {
                maybe_stored,
                reason,
            });
        }
        if crash_at(CrashPoint::BeforeLocalCommit) {
            return Err(TxnError::Stopped(CrashPoint::BeforeLocalCommit));
        }
        let LocalTxn { outcome, effect } = local_txn().await;
        self.local.finish(txn_id, outcome, effect)?;
        drop(running);
        if crash_at(CrashPoint::BeforeDecision) {
            return Err(TxnError::Stopped(CrashPoint::BeforeDecision));
        }
        let decision = match outcome {
            LocalOutcome::Commit => Decision::Commit,
            LocalOutcome::Rollback => Decision::Rollback,
            LocalOutcome::Unknown => return Ok(TxnOutcome::Unknown),
        };
        let end = BrokerRequest::EndTxn {
            txn_id: txn_id.to_string(),
            decision,
        };
        let answered = self.step(partition, end).await;
        if crash_at(CrashPoint::BeforeDecisionAck) {
            return Err(TxnError::Stopped(CrashPoint::BeforeDecisionAck));
        }
        match answered {
            Step::Answered(BrokerResponse::Txn(status)) => outcome_of(status, outcome),
            Step::Answered(other) => Err(TxnError::DecisionUnknown {
                local: outcome,
                reason: format!("unexpected answer {other:?}"),
            }),
            Step::Refused(error) => Err(TxnError::Refused(error)),
            Step::TimedOut { last, .. } => Err(TxnError::DecisionUnknown {
                local: outcome,
                reason: last,
            }),
        }
    }

    /// The transaction's status as its coordinator reports it (replicated state only).
    pub async fn describe(&self, txn_id: &str) -> Result<TxnStatus, TxnError> {
        let request = BrokerRequest::DescribeTxn {
            txn_id: txn_id.to_string(),
        };
        match self.step(partition_for(txn_id), request).await {
            Step::Answered(BrokerResponse::Txn(status)) => Ok(status),
            Step::Answered(other) => Err(TxnError::Unavailable(format!(
                "unexpected answer {other:?}"
            ))),
            Step::Refused(error) => Err(TxnError::Refused(error)),
            Step::TimedOut { last, .. } => Err(TxnError::Unavailable(last)),
        }
    }
}

fn outcome_of(status: TxnStatus, local: LocalOutcome) -> Result<TxnOutcome, TxnError> {
    match status {
        TxnStatus::Decided {
            decision: Decision::Commit,
            published,
            ..
        } => Ok(TxnOutcome::Committed { offset: published }),
        TxnStatus::Decided {
            decision: Decision::Rollback,
            reason,
            ..
        } => Ok(TxnOutcome::RolledBack { reason }),
        TxnStatus::Undecided { .. } => Err(TxnError::DecisionUnknown {
            local,
            reason: "the coordinator answered undecided".into(),
        }),
    }
}
