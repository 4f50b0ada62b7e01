//! The transaction coordinator's glue (RocketMQ model, design.md section 6): serves
//! FindTxnCoordinator, SendHalf, EndTxn, PollCheckBacks, CheckBackAnswer and DescribeTxn by
//! moving requests into the broker's [`TxnTable`] and the records it asks for into the
//! `__txn_half` replica; publishes committed messages to their target partitions; and runs the
//! tick that finishes publications a crash or a slow target left undone. The broker coordinates
//! a transaction while it leads the transaction's `__txn_half` partition.
//!
//! Fault model: the coordinator crashes, is cut off, or loses leadership mid-request — also
//! between publishing a message and recording that it did; target partitions are unavailable;
//! producers repeat commits, answer check-backs late, or die. Invariants: a half is
//! acknowledged only once replicated (acks=all with `min_insync`); a decision is reported only
//! once replicated; a message is published only after its commit decision is replicated, and
//! always with its transaction's publish stamp, so however many coordinators publish it, how
//! often, and in whatever race, the target partition's idempotent-producer dedup keeps exactly
//! one copy (order: decision -> publish -> `Published` record). Rollbacks never publish.
//! Every table change and every append happen under the broker's one lock.

use crate::broker::internal_topic::{self, InternalTopic};
use crate::broker::node::replica::{acknowledged, Produced, Replica, Role, Waiter};
use crate::broker::node::shared::{BrokerState, Shared};
use crate::broker::txn_table::{DecideStep, HalfStep, PublishJob, TxnTable};
use crate::broker::txn_topic::{
    partition_for, txn_tp, TxnRecord, TXN_ID_BYTES_MAX, TXN_PARTITIONS, TXN_TOPIC,
};
use crate::client::cluster::{ClusterClient, ClusterClientOptions, ClusterError};
use crate::env::NodeAddr;
use crate::wire::broker_protocol::{
    Acks, BrokerError, BrokerResponse, Decision, DecisionReason, LocalOutcome, ProduceRequest,
    SendHalfRequest, TxnStatus,
};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
// tokio's clock, which turmoil drives in simulation; never the wall clock (design.md section 4).
use tokio::time::Instant; // The simulated clock (design.md section 4).

/// How often pending publications are looked for (and partitions loaded).
pub const TXN_TICK: Duration = Duration::from_millis(100);
/// Bounds on a half's `check_after`.
pub const CHECK_AFTER_MS_MIN: u64 = 10;
pub const CHECK_AFTER_MS_MAX: u64 = 3_600_000;
/// The largest `check_max` a half may ask for.
pub const CHECK_MAX_MAX: u32 = 1000;
/// The longest a check-back poll waits.
pub const CHECK_POLL_WAIT_MAX: Duration = Duration::from_secs(5);
/// How often a waiting check-back poll looks again.
const CHECK_POLL_TICK: Duration = Duration::from_millis(50);
/// How long `EndTxn` waits for its message to be published before answering without it (the
/// tick finishes the publication).
pub const PUBLISH_INLINE_TIMEOUT: Duration = Duration::from_millis(1000);
/// Produce attempts of one publication.
pub const PUBLISH_ATTEMPTS_MAX: usize = 20;
/// Background publications under way on one broker.
pub const PUBLISHES_IN_FLIGHT_MAX: usize = 64;
/// Bytes read per step while replaying a `__txn_half` partition.
const LOAD_READ_BYTES: u64 = 1024 * 1024;
/// Bound on replay steps (each reads at least one batch).
const LOAD_STEPS_MAX: usize = 1_000_000;

fn check_name(what: &str, name: &str) -> Result<(), BrokerError> {
    if name.is_empty() || name.len() > TXN_ID_BYTES_MAX {
        return Err(BrokerError::InvalidRequest {
            reason: format!("a {what} has 1..={TXN_ID_BYTES_MAX} bytes"),
        });
    }
    Ok(())
}

fn check_partition(partition: u32) -> Result<(), BrokerError> {
    if partition >= TXN_PARTITIONS {
        return Err(BrokerError::InvalidRequest {
            reason: format!("{TXN_TOPIC} has partitions 0..{TXN_PARTITIONS}"),
        });
    }
    Ok(())
}

/// A deposed leader's errors, as a producer should read them.
fn as_coordinator_error(error: BrokerError) -> BrokerError {
    match error {
        BrokerError::NotLeader { .. } => BrokerError::NotCoordinator,
        other => other,
    }
}

/// Brings the table in line with this broker's role for the partition and finishes a load
/// that the high watermark allows.
fn ready(state: &mut BrokerState, partition: u32, now: Instant, expiry: Duration) {
    let BrokerState { replicas, txns, .. } = state;
    let replica = replicas.get_mut(&txn_tp(partition));
    let leading = replica.as_ref().and_then(|replica| match replica.role() {
        Role::Leader(leadership)
            if !replica.is_offline() && now.duration_since(replica.confirmed_at()) <= expiry =>
        {
            Some((leadership.epoch, replica.log_end()))
        }
        _ => None,
    });
    txns.observe(partition, leading);
    let (Some(replica), Some(_)) = (replica, leading) else {
        return;
    };
    let Some(load_end) = txns.load_end(partition) else {
        return;
    };
    if replica.refresh_high_watermark() < load_end {
        return;
    }
    match replay(replica, load_end) {
        Ok(records) => txns.load(partition, records, now),
        Err(error) => tracing::warn!(partition, %error, "cannot replay the __txn_half partition"),
    }
}

/// Every transaction record in `[log start, load_end)` with its offset, in log order.
fn replay(replica: &Replica, load_end: u64) -> Result<Vec<(u64, TxnRecord)>, BrokerError> {
    let mut records = Vec::new();
    let mut offset = 0;
    for _ in 0..LOAD_STEPS_MAX {
        if offset >= load_end {
            return Ok(records);
        }
        let batches = replica.read_local(offset, LOAD_READ_BYTES)?;
        let Some(last) = batches.last() else {
            return Ok(records);
        };
        let next = last.next_offset();
        assert!(next > offset, "replay makes progress");
        for batch in &batches {
            for (at, record) in batch.offsets() {
                if at < offset || at >= load_end {
                    continue;
                }
                match TxnRecord::from_record(record) {
                    Some(txn_record) => records.push((at, txn_record)),
                    None => tracing::warn!(%replica.tp, at, "skipping an unreadable txn record"),
                }
            }
        }
        offset = next;
    }
    panic!(
        "replaying {} took more than {LOAD_STEPS_MAX} steps",
        replica.tp
    );
}

/// The partition's high watermark, moved if it can be.
fn high_watermark(state: &mut BrokerState, partition: u32) -> Result<u64, BrokerError> {
    state
        .replicas
        .get_mut(&txn_tp(partition))
        .map(Replica::refresh_high_watermark)
        .ok_or(BrokerError::NotCoordinator)
}

/// Appends one record (acks=all) to the partition; returns its offset and the waiter.
fn append(
    state: &mut BrokerState,
    partition: u32,
    record: &TxnRecord,
    now: Instant,
    expiry: Duration,
) -> Result<(u64, Option<Waiter>), BrokerError> {
    let tp = txn_tp(partition);
    let replica = state
        .replicas
        .get_mut(&tp)
        .ok_or(BrokerError::NotCoordinator)?;
    let request = ProduceRequest {
        tp,
        acks: Acks::All,
        timeout_ms: 0,
        records: vec![record.to_record()],
        producer: None,
        flags: record.flags(),
    };
    match replica.produce(request, now, expiry) {
        Ok(Produced::Done(response)) => Ok((response.base_offset, None)),
        Ok(Produced::Wait(response, waiter)) => Ok((response.base_offset, Some(waiter))),
        Err(error) => Err(as_coordinator_error(error)),
    }
}

/// A waiter for the partition's high watermark to reach `required`.
fn covered(
    state: &mut BrokerState,
    partition: u32,
    required: u64,
) -> Result<Option<Waiter>, BrokerError> {
    let replica = state
        .replicas
        .get_mut(&txn_tp(partition))
        .ok_or(BrokerError::NotCoordinator)?;
    Ok(replica.high_watermark_waiter(required))
}

async fn wait(shared: &Shared, waiter: Option<Waiter>) -> Result<(), BrokerError> {
    let Some(waiter) = waiter else {
        return Ok(());
    };
    acknowledged(waiter, shared.options.request_timeout)
        .await
        .map_err(as_coordinator_error)
}

/// Names the leader of a `__txn_half` partition; creates the topic if missing.
pub async fn find_coordinator(
    shared: &Arc<Shared>,
    partition: u32,
) -> Result<BrokerResponse, BrokerError> {
    check_partition(partition)?;
    internal_topic::coordinator(
        shared,
        InternalTopic {
            name: TXN_TOPIC,
            partitions: TXN_PARTITIONS,
        },
        partition,
        BrokerError::TxnCoordinatorNotAvailable,
    )
    .await
}

/// Stores a half message (or finds the one stored before under its id) and answers once the
/// high watermark covers it.
pub async fn send_half(
    shared: &Arc<Shared>,
    request: SendHalfRequest,
) -> Result<BrokerResponse, BrokerError> {
    check_name("transaction id", &request.txn_id)?;
    check_name("producer group", &request.producer_group)?;
    if request.target.topic.starts_with("__") {
        return Err(BrokerError::InvalidRequest {
            reason: format!("{} is internal: no transactional messages", request.target),
        });
    }
    if !(CHECK_AFTER_MS_MIN..=CHECK_AFTER_MS_MAX).contains(&request.check_after_ms)
        || !(1..=CHECK_MAX_MAX).contains(&request.check_max)
    {
        return Err(BrokerError::InvalidRequest {
            reason: format!(
                "check_after_ms must be in {CHECK_AFTER_MS_MIN}..={CHECK_AFTER_MS_MAX} and \
                 check_max in 1..={CHECK_MAX_MAX}"
            ),
        });
    }
    let partition = partition_for(&request.txn_id);
    let (now, expiry) = (Instant::now(), shared.options.metadata_expiry);
    let (offset, waiter) = {
        let mut state = shared.lock();
        if !state.view.states.contains_key(&request.target) {
            return Err(BrokerError::UnknownTopicOrPartition);
        }
        ready(&mut state, partition, now, expiry);
        match state.txns.half(partition, &request)? {
            HalfStep::Stored { offset } => (offset, covered(&mut state, partition, offset + 1)?),
            HalfStep::Write(record) => {
                let (offset, waiter) = append(&mut state, partition, &record, now, expiry)?;
                state.txns.half_written(partition, record, offset, now);
                (offset, waiter)
            }
        }
    };
    wait(shared, waiter).await?;
    Ok(BrokerResponse::HalfStored { offset })
}

/// The producer's decision; a decided transaction answers its recorded decision.
pub async fn end_txn(
    shared: &Arc<Shared>,
    txn_id: String,
    decision: Decision,
) -> Result<BrokerResponse, BrokerError> {
    check_name("transaction id", &txn_id)?;
    let partition = partition_for(&txn_id);
    let status = settle(shared, partition, &txn_id, |table| {
        table.decide(partition, &txn_id, decision, DecisionReason::Producer)
    })
    .await?;
    Ok(BrokerResponse::Txn(status))
}

/// A producer's check-back answer.
pub async fn check_back_answer(
    shared: &Arc<Shared>,
    txn_id: String,
    local: LocalOutcome,
) -> Result<BrokerResponse, BrokerError> {
    check_name("transaction id", &txn_id)?;
    let partition = partition_for(&txn_id);
    let now = Instant::now();
    let status = settle(shared, partition, &txn_id, |table| {
        table.answer(partition, &txn_id, local, now)
    })
    .await?;
    Ok(BrokerResponse::Txn(status))
}

/// Takes the step `step_of` asks for (write a decision, or nothing), waits until the decision
/// is replicated, and publishes a commit if it is not yet.
async fn settle(
    shared: &Arc<Shared>,
    partition: u32,
    txn_id: &str,
    step_of: impl FnOnce(&mut TxnTable) -> Result<DecideStep, BrokerError>,
) -> Result<TxnStatus, BrokerError> {
    let (now, expiry) = (Instant::now(), shared.options.metadata_expiry);
    let waiter = {
        let mut state = shared.lock();
        ready(&mut state, partition, now, expiry);
        match step_of(&mut state.txns)? {
            DecideStep::Undecided(status) => return Ok(status),
            DecideStep::Decided { offset } => covered(&mut state, partition, offset + 1)?,
            DecideStep::Write(record) => {
                let (offset, waiter) = append(&mut state, partition, &record, now, expiry)?;
                state.txns.decision_written(partition, record, offset);
                waiter
            }
        }
    };
    wait(shared, waiter).await?;
    let job = {
        let mut state = shared.lock();
        let hw = high_watermark(&mut state, partition)?;
        state.txns.publish_job(partition, txn_id, hw)?
    };
    if let Some(job) = job {
        match tokio::time::timeout(PUBLISH_INLINE_TIMEOUT, publish(shared, &job)).await {
            Ok(Ok(offset)) => published(shared, &job, offset).await,
            Ok(Err(error)) => tracing::info!(txn_id, %error, "publish failed; the tick retries"),
            Err(_) => tracing::info!(txn_id, "publish is slow; the tick retries"),
        }
    }
    let mut state = shared.lock();
    ready(&mut state, partition, Instant::now(), expiry);
    let hw = high_watermark(&mut state, partition)?;
    state.txns.status(partition, txn_id, hw)
}

/// Writes the committed message to its target partition under the transaction's publish stamp;
/// returns its offset there (the original one when it was published before).
async fn publish(shared: &Arc<Shared>, job: &PublishJob) -> Result<u64, BrokerError> {
    let bootstrap: Vec<NodeAddr> = shared
        .lock()
        .view
        .brokers
        .values()
        .map(|live| live.registration.addr.clone())
        .collect();
    let options = ClusterClientOptions {
        request_timeout: shared.options.request_timeout,
        ..ClusterClientOptions::default()
    };
    let mut cluster = ClusterClient::new(shared.net, bootstrap, options);
    let mut last = BrokerError::RequestTimedOut;
    for _ in 0..PUBLISH_ATTEMPTS_MAX {
        let produced = cluster
            .produce(
                &job.target,
                vec![job.record.clone()],
                Acks::All,
                // Planted bug: publish without the stamp, so a repeat is written again.
                (!shared
                    .options
                    .bugs
                    .has(crate::bugs::Bug::TxnPublishNotIdempotent))
                .then_some(job.stamp),
            )
            .await;
        match produced {
            Ok(response) => return Ok(response.base_offset),
            Err(ClusterError::Broker(error)) if !error.is_retriable() => return Err(error),
            Err(ClusterError::Broker(error)) => last = error,
            Err(error) => tracing::debug!(txn_id = job.txn_id, %error, "publish attempt failed"),
        }
        tokio::time::sleep(shared.options.retry_backoff).await;
    }
    Err(last)
}

/// The message is visible at `offset`: note it, and record it in the log (without waiting: a
/// lost `Published` record only costs a later coordinator a deduplicated publish).
async fn published(shared: &Arc<Shared>, job: &PublishJob, offset: u64) {
    if let Some(stop) = &shared.options.txn_stop_after_publish {
        if stop.reach(shared.options.id) {
            std::future::pending::<()>().await;
        }
    }
    let (now, expiry) = (Instant::now(), shared.options.metadata_expiry);
    let mut state = shared.lock();
    if let Some(record) = state.txns.published(job.partition, &job.txn_id, offset) {
        if let Err(error) = append(&mut state, job.partition, &record, now, expiry) {
            tracing::info!(txn_id = job.txn_id, %error, "cannot record the publication");
        }
    }
}

/// Long-polls for check-backs due for `group` on `partition`.
pub async fn poll_check_backs(
    shared: &Arc<Shared>,
    group: String,
    partition: u32,
    max_wait_ms: u64,
) -> Result<BrokerResponse, BrokerError> {
    check_name("producer group", &group)?;
    check_partition(partition)?;
    let expiry = shared.options.metadata_expiry;
    let deadline = Instant::now() + Duration::from_millis(max_wait_ms).min(CHECK_POLL_WAIT_MAX);
    loop {
        {
            let now = Instant::now();
            let mut state = shared.lock();
            ready(&mut state, partition, now, expiry);
            let hw = high_watermark(&mut state, partition)?;
            let txn_ids = state.txns.due_check_backs(partition, &group, now, hw)?;
            if !txn_ids.is_empty() || now >= deadline {
                return Ok(BrokerResponse::CheckBacks { txn_ids });
            }
        }
        tokio::time::sleep(CHECK_POLL_TICK).await;
    }
}

/// The transaction's replicated status.
pub fn describe(shared: &Arc<Shared>, txn_id: &str) -> Result<BrokerResponse, BrokerError> {
    check_name("transaction id", txn_id)?;
    let partition = partition_for(txn_id);
    let mut state = shared.lock();
    ready(
        &mut state,
        partition,
        Instant::now(),
        shared.options.metadata_expiry,
    );
    let hw = high_watermark(&mut state, partition)?;
    Ok(BrokerResponse::Txn(
        state.txns.status(partition, txn_id, hw)?,
    ))
}

/// Loads partitions whose leadership this broker gained and finishes the publications of
/// replicated commits — after a coordinator change, a crash between publishing and recording
/// it, or a target partition that was unavailable.
pub async fn run(shared: Arc<Shared>) {
    let expiry = shared.options.metadata_expiry;
    let in_flight = Arc::new(AtomicUsize::new(0));
    loop {
        tokio::time::sleep(TXN_TICK).await;
        let jobs = {
            let now = Instant::now();
            let mut state = shared.lock();
            let mut jobs = Vec::new();
            for partition in 0..TXN_PARTITIONS {
                ready(&mut state, partition, now, expiry);
                let room = PUBLISHES_IN_FLIGHT_MAX
                    .saturating_sub(in_flight.load(Ordering::SeqCst) + jobs.len());
                if let Ok(hw) = high_watermark(&mut state, partition) {
                    jobs.extend(state.txns.pending_publishes(partition, hw, room));
                }
            }
            jobs
        };
        for job in jobs {
            in_flight.fetch_add(1, Ordering::SeqCst);
            let (shared, in_flight) = (shared.clone(), in_flight.clone());
            crate::env::spawn(async move {
                match publish(&shared, &job).await {
                    Ok(offset) => published(&shared, &job, offset).await,
                    Err(error) => tracing::info!(txn_id = job.txn_id, %error, "publish failed"),
                }
                shared.lock().txns.publish_done(job.partition, &job.txn_id);
                in_flight.fetch_sub(1, Ordering::SeqCst);
            });
        }
    }
}
