//! The broker node: serves produce, fetch, epoch-end, metadata, create-topic and (through
//! `delete_records`) delete-records requests (and
//! hands consumer-group requests to `group_coordinator`), and runs its background loops — the coordinator session, the metadata watcher that turns
//! partition states into leader and follower roles, the controller candidacy, ISR maintenance,
//! interval syncs, and one fetcher per followed partition.
//!
//! Fault model and invariants: see `replica` (data path), `controller` (elections) and
//! `session`. One mutex orders every change to this broker's replicas; no lock is held across
//! a network call.

use crate::broker::controller;
use crate::broker::delete_records;
use crate::broker::fetcher;
use crate::broker::group_coordinator;
use crate::broker::group_table::GroupTable;
use crate::broker::options::BrokerOptions;
use crate::broker::protocol::{
    BrokerError, BrokerId, BrokerInfo, BrokerRequest, BrokerResponse, CreateTopicRequest,
    FetchRequest, MetadataResponse, Overflow, PartitionMetadata, ProduceRequest, TopicMetadata,
    TopicPartition, CAPACITY_MAX,
};
use crate::broker::replica::{acknowledged, queue, PartitionView, Produced, Replica, ViewStep};
use crate::broker::session::{self, SessionSlot};
use crate::broker::txn_coordinator;
use crate::broker::txn_table::TxnTable;
use crate::broker::view::{self, ClusterView, WatchSet};
use crate::broker::znodes::{self, PartitionState, TopicAssignment};
use crate::bugs::Bug;
use crate::coordinator::{ClientError, CoordError, CreateMode};
use crate::env::{Disk, Env, Listener, Net};
use crate::storage::{FsyncPolicy, LogOptions};
use crate::wire::{serve, ErrorCode, ErrorResponse, Request, Response};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::time::Instant; // The simulated clock (design.md section 4).

/// The most partitions one broker hosts.
pub const REPLICAS_MAX: usize = 10_000;
/// The most partitions a topic may have, and the most replicas per partition.
pub const TOPIC_PARTITIONS_MAX: u32 = 1024;

pub struct BrokerState {
    pub replicas: BTreeMap<TopicPartition, Replica>,
    pub view: ClusterView,
    /// The consumer groups this broker coordinates.
    pub groups: GroupTable,
    /// The transactions this broker coordinates.
    pub txns: TxnTable,
    /// The zxid of this incarnation's registration, once registered.
    registration_zxid: Option<u64>,
}

/// What every task and handler of one broker shares.
pub struct Shared {
    pub options: BrokerOptions,
    pub net: Net,
    disk: Disk,
    session: SessionSlot,
    state: Mutex<BrokerState>,
}

impl Shared {
    /// Log options for this broker's replicas (a planted `ack-before-fsync` never syncs).
    fn log_options(&self) -> LogOptions {
        let mut options = self.options.log;
        if self.options.bugs.has(Bug::AckBeforeFsync) {
            options.fsync = FsyncPolicy::Never;
        }
        options
    }

    pub fn lock(&self) -> MutexGuard<'_, BrokerState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

pub struct Broker {
    shared: Arc<Shared>,
    listener: Listener,
}

#[derive(Debug, thiserror::Error)]
#[error("broker cannot listen on {addr}: {source}")]
pub struct BrokerStartError {
    addr: crate::env::NodeAddr,
    source: std::io::Error,
}

impl Broker {
    /// Binds the listener. An advertised port of 0 becomes the bound port (real mode with
    /// `--listen host:0`).
    pub async fn start(env: &Env, mut options: BrokerOptions) -> Result<Broker, BrokerStartError> {
        let addr = options.listen.clone();
        let error = |source| BrokerStartError {
            addr: addr.clone(),
            source,
        };
        let listener = env.net.bind(&options.listen).await.map_err(error)?;
        if options.advertised.port == 0 {
            options.advertised.port = listener.local_port().map_err(error)?;
        }
        let state = BrokerState {
            replicas: BTreeMap::new(),
            view: ClusterView::default(),
            groups: GroupTable::default(),
            txns: TxnTable::default(),
            registration_zxid: None,
        };
        let shared = Arc::new(Shared {
            options,
            net: env.net,
            disk: env.disk.clone(),
            session: SessionSlot::default(),
            state: Mutex::new(state),
        });
        Ok(Broker { shared, listener })
    }

    pub fn local_port(&self) -> std::io::Result<u16> {
        self.listener.local_port()
    }

    pub fn shared(&self) -> Arc<Shared> {
        self.shared.clone()
    }

    /// Runs every loop and serves requests until the task is dropped.
    pub async fn serve(self) {
        let shared = self.shared;
        let options = shared.options.clone();
        crate::env::spawn(session::run(
            shared.net,
            options.clone(),
            shared.session.clone(),
        ));
        crate::env::spawn(controller::run(options.clone(), shared.session.clone()));
        crate::env::spawn(metadata_loop(shared.clone()));
        crate::env::spawn(isr_loop(shared.clone()));
        crate::env::spawn(repair_loop(shared.clone()));
        crate::env::spawn(group_coordinator::run(shared.clone()));
        crate::env::spawn(txn_coordinator::run(shared.clone()));
        if let FsyncPolicy::Interval(every) = options.log.fsync {
            crate::env::spawn(sync_loop(shared.clone(), every));
        }
        let handler_shared = shared.clone();
        let handler = move |request: Request| {
            let shared = handler_shared.clone();
            async move {
                match request {
                    Request::Broker(request) => Response::Broker(handle(&shared, request).await),
                    other => Response::Error(ErrorResponse::new(
                        ErrorCode::Unsupported,
                        format!("a broker does not serve {}", other.kind()),
                        false,
                    )),
                }
            }
        };
        serve(self.listener, handler, Default::default()).await
    }
}

async fn handle(shared: &Arc<Shared>, request: BrokerRequest) -> BrokerResponse {
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
        BrokerRequest::CreateTopic(request) => create_topic(shared, request).await,
        BrokerRequest::InitProducerId => init_producer_id(shared).await,
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

pub(crate) fn unknown_or_not_leader(view: &ClusterView, tp: &TopicPartition) -> BrokerError {
    match view.states.get(tp) {
        Some(entry) => BrokerError::NotLeader {
            leader_hint: entry.state.leader,
        },
        None => BrokerError::UnknownTopicOrPartition,
    }
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
async fn init_producer_id(shared: &Arc<Shared>) -> Result<BrokerResponse, BrokerError> {
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

/// Re-reads the cluster view whenever a watch fires (or every `metadata_refresh`) and turns
/// partition states into roles.
async fn metadata_loop(shared: Arc<Shared>) {
    let options = shared.options.clone();
    let (watches, mut changed) = WatchSet::new();
    let mut session_changes = shared.session.subscribe();
    let mut session_seen = 0;
    loop {
        let generation = *session_changes.borrow_and_update();
        if generation != session_seen {
            watches.reset();
            session_seen = generation;
        }
        if let Some(registered) = shared.session.get() {
            match view::read(&registered.client, &watches).await {
                Ok(view) => apply_view(&shared, view, registered.zxid),
                Err(error) => tracing::debug!(broker = options.id, %error, "metadata read failed"),
            }
        }
        let _ = tokio::time::timeout(options.metadata_refresh, changed.recv()).await;
    }
}

fn apply_view(shared: &Arc<Shared>, view: ClusterView, registration_zxid: u64) {
    let me = shared.options.id;
    let now = Instant::now();
    let mut fetchers = Vec::new();
    let mut state = shared.lock();
    state.registration_zxid = Some(registration_zxid);
    for tp in view.partitions() {
        let (Some(replicas), Some(entry)) = (view.replicas(&tp), view.states.get(&tp)) else {
            continue;
        };
        if !replicas.contains(&me) {
            continue;
        }
        if !state.replicas.contains_key(&tp) {
            if state.replicas.len() >= REPLICAS_MAX {
                continue;
            }
            let (options, bugs) = (shared.log_options(), shared.options.bugs);
            match Replica::reopen_with(&shared.disk, tp.clone(), me, options, now, 0, bugs) {
                Ok(replica) => {
                    state.replicas.insert(tp.clone(), replica);
                }
                Err(error) => {
                    tracing::error!(%tp, %error, "cannot open the partition log");
                    continue;
                }
            }
        }
        let Some(replica) = state.replicas.get_mut(&tp) else {
            continue;
        };
        let assignment = view.topics.get(&tp.topic);
        let partition: &PartitionState = &entry.state;
        let partition_view = PartitionView {
            replicas,
            min_insync: assignment.map_or(1, |a| a.min_insync),
            capacity: assignment.and_then(|a| a.capacity),
            overflow: assignment.map_or(Overflow::Reject, |a| a.overflow),
            leader: partition.leader,
            leader_epoch: partition.leader_epoch,
            isr: &partition.isr,
            version: entry.version,
            mzxid: entry.mzxid,
            registration_zxid,
        };
        if let ViewStep::Followed {
            leader: Some(leader),
            epoch,
        } = replica.apply_view(&partition_view, now)
        {
            if let Some(live) = view.brokers.get(&leader) {
                fetchers.push((tp.clone(), leader, live.registration.addr.clone(), epoch));
            }
        }
    }
    state.view = view;
    drop(state);
    for (tp, leader, addr, epoch) in fetchers {
        crate::env::spawn(fetcher::run(shared.clone(), tp, leader, addr, epoch));
    }
}

/// Shrinks and expands ISRs, writing each change to the coordinator before using it.
async fn isr_loop(shared: Arc<Shared>) {
    let options = shared.options.clone();
    let tick = options.replica_lag_max / 4;
    loop {
        tokio::time::sleep(tick).await;
        let proposals = {
            let mut state = shared.lock();
            let now = Instant::now();
            let proposals: Vec<_> = state
                .replicas
                .values()
                .filter_map(|replica| replica.isr_proposal(now, options.replica_lag_max))
                .collect();
            for proposal in &proposals {
                if let Some(replica) = state.replicas.get_mut(&proposal.tp) {
                    replica.propose_isr(proposal);
                }
            }
            proposals
        };
        for proposal in proposals {
            let controller_epoch = shared
                .lock()
                .view
                .states
                .get(&proposal.tp)
                .map_or(0, |entry| entry.state.controller_epoch);
            let state = PartitionState {
                leader: Some(options.id),
                leader_epoch: proposal.epoch,
                isr: proposal.isr.clone(),
                controller_epoch,
            };
            let unrecorded = shared.options.bugs.has(Bug::IsrShrinkUnrecorded);
            let written = match shared.session.get() {
                // Planted bug: use the new ISR without recording it in the coordinator.
                Some(_) if unrecorded => Some(crate::coordinator::Stat {
                    version: proposal.expected_version,
                    cversion: 0,
                    czxid: 0,
                    mzxid: 0,
                    ephemeral_owner: None,
                    data_bytes: 0,
                    children: 0,
                }),
                Some(registered) => registered
                    .client
                    .set(
                        &znodes::state_path(&proposal.tp),
                        znodes::encode(&state),
                        Some(proposal.expected_version),
                    )
                    .await
                    .ok(),
                None => None,
            };
            let mut guard = shared.lock();
            if let Some(replica) = guard.replicas.get_mut(&proposal.tp) {
                match written {
                    Some(stat) => replica.apply_isr(
                        proposal.epoch,
                        &proposal.isr,
                        stat.version,
                        Instant::now(),
                    ),
                    // Lost a race, or the coordinator is away and the write may have landed: the
                    // metadata loop re-reads the state and reconciles.
                    None => replica.isr_change_failed(),
                }
            }
        }
    }
}

/// How often offline replicas are looked after.
const REPAIR_INTERVAL: Duration = Duration::from_millis(500);

/// Looks after replicas a disk fault took offline: a leader resigns (writes its partition's
/// state without a leader and without itself in the ISR, version-conditioned, so the controller
/// elects another in-sync replica with a new epoch), and every offline replica is reopened from
/// its disk — recovery keeps what survived — once the disk lets it. A reopened replica has no
/// role until the metadata loop gives it one, and the state it may lead on must be newer than
/// its resignation, so it never leads on with a log it could not trust.
async fn repair_loop(shared: Arc<Shared>) {
    let me = shared.options.id;
    loop {
        tokio::time::sleep(REPAIR_INTERVAL).await;
        let (offline, resignations) = {
            let state = shared.lock();
            let offline: Vec<TopicPartition> = state
                .replicas
                .iter()
                .filter(|(_, r)| r.is_offline())
                .map(|(tp, _)| tp.clone())
                .collect();
            let resignations: Vec<(TopicPartition, PartitionState, u64)> = offline
                .iter()
                .filter_map(|tp| {
                    let entry = state.view.states.get(tp)?;
                    if entry.state.leader != Some(me) {
                        return None;
                    }
                    let isr: Vec<BrokerId> = entry
                        .state
                        .isr
                        .iter()
                        .copied()
                        .filter(|id| *id != me)
                        .collect();
                    let resigned = PartitionState {
                        leader: None,
                        isr,
                        ..entry.state.clone()
                    };
                    Some((tp.clone(), resigned, entry.version))
                })
                .collect();
            (offline, resignations)
        };
        if offline.is_empty() {
            continue;
        }
        if let Some(registered) = shared.session.get() {
            for (tp, resigned, version) in resignations {
                if resigned.isr.is_empty() {
                    continue; // Nobody else could take over: stay, and recover in place.
                }
                let written = registered
                    .client
                    .set(
                        &znodes::state_path(&tp),
                        znodes::encode(&resigned),
                        Some(version),
                    )
                    .await;
                tracing::warn!(%tp, ok = written.is_ok(), "leader with an offline replica resigns");
            }
        }
        let now = Instant::now();
        let mut state = shared.lock();
        for tp in offline {
            let synced_end = state.replicas.get(&tp).map_or(0, Replica::synced_end);
            match Replica::reopen_with(
                &shared.disk,
                tp.clone(),
                me,
                shared.log_options(),
                now,
                synced_end,
                shared.options.bugs,
            ) {
                Ok(replica) => {
                    tracing::info!(%tp, log_end = replica.log_end(), "offline replica reopened from disk");
                    state.replicas.insert(tp, replica);
                }
                Err(error) => tracing::debug!(%tp, %error, "offline replica cannot reopen yet"),
            }
        }
    }
}

async fn sync_loop(shared: Arc<Shared>, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        let mut state = shared.lock();
        for replica in state.replicas.values_mut() {
            replica.sync_if_due();
        }
    }
}
