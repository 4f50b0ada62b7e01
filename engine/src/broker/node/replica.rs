//! One replica of one partition on one broker, as the node runs it: its log and head file on
//! the disk seam, the answers of requests waiting for replication (one-shot channels keyed by
//! the core's waiter ids), and the wake-ups of long polls. The rules — produce, high
//! watermark, ISR, truncation, the bounded head, the role after a view — are the replica core's
//! (`broker::core`); this file feeds it the log's facts, runs the log I/O it decides, and runs
//! the effects it emits, in order. No network I/O here: the broker's server and fetcher move
//! bytes and coordinator writes.
//!
//! Fault model: a log or head-file write that leaves its state unknown, a failed sync, or a
//! read returning damaged bytes takes the replica offline (the core then fails every waiting
//! request "outcome unknown"); the server reopens it from disk later.

mod follower;
mod group_commit;
#[cfg(test)]
mod group_commit_tests;
#[cfg(test)]
mod isr_tests;
pub mod queue;
#[cfg(test)]
mod waiter_tests;

pub use group_commit::FetchFrom;

pub use crate::broker::core::{
    Followership, IsrProposal, Leadership, PartitionView, Progress, Role, ViewStep, WAITERS_MAX,
};

use crate::broker::core::{
    Acknowledgement, CoreOptions, Effect, LogFacts, ProduceAdmission, ReplicaCore, WaiterId,
    DELETE_WAITERS_MAX,
};
use crate::broker::epoch_cache::EpochCache;
use crate::bugs::{Bug, Bugs};
use crate::env::{Disk, NodeEvents};
use crate::storage::{HeadFile, Log, LogOptions, Record, RecordBatch, StorageError};
use crate::wire::broker_protocol::{
    Acks, BrokerError, BrokerId, EpochEndRequest, EpochEndResponse, FetchRequest, FetchResponse,
    LogDump, ProduceRequest, ProduceResponse, TopicPartition,
};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{oneshot, Notify};
use tokio::time::Instant;

pub type Waiter = oneshot::Receiver<Result<(), BrokerError>>;

/// Waits up to `timeout` for what a [`Waiter`] promises (replication of a write, a head, a
/// generation): its error if it failed, `RequestTimedOut` if the time ran out or the replica
/// dropped it — either way the outcome is unknown to the caller.
pub async fn acknowledged(waiter: Waiter, timeout: Duration) -> Result<(), BrokerError> {
    match tokio::time::timeout(timeout, waiter).await {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(_)) | Err(_) => Err(BrokerError::RequestTimedOut),
    }
}
/// The sending side of a [`Waiter`].
pub type Ack = oneshot::Sender<Result<(), BrokerError>>;

/// What a produce needs next: nothing, or waiting for the high watermark.
pub enum Produced {
    Done(ProduceResponse),
    Wait(ProduceResponse, Waiter),
}

pub struct Replica {
    pub tp: TopicPartition,
    log: Log,
    head_file: HeadFile,
    core: ReplicaCore,
    /// Woken on every append and high-watermark change.
    pub changed: Arc<Notify>,
    /// Woken (a permit kept) when a group sync ended: the follower's fetcher waits on it.
    synced: Arc<Notify>,
    /// The answers of waiting requests, by the core's waiter id.
    acks: BTreeMap<WaiterId, Ack>,
    /// The broker's group-commit wake-up, once it runs one (see `group_commit`): until then
    /// every append syncs at once per the policy.
    sync_wanted: Option<Arc<Notify>>,
}

pub(crate) fn storage_error(error: StorageError) -> BrokerError {
    match error {
        StorageError::Corrupt { .. } => BrokerError::CorruptRecord {
            reason: error.to_string(),
        },
        other => BrokerError::StorageError {
            reason: other.to_string(),
        },
    }
}

impl Replica {
    /// Opens the partition's log and rebuilds the epoch cache from its batches.
    pub fn open(
        disk: &Disk,
        tp: TopicPartition,
        me: BrokerId,
        options: LogOptions,
        now: Instant,
    ) -> Result<Replica, StorageError> {
        Replica::reopen(disk, tp, me, options, now, 0)
    }

    /// Opens the log again after this replica went offline, refusing while recovery would cut
    /// offsets below `synced_end` (they were synced; a read that says otherwise is failing).
    pub fn reopen(
        disk: &Disk,
        tp: TopicPartition,
        me: BrokerId,
        options: LogOptions,
        now: Instant,
        synced_end: u64,
    ) -> Result<Replica, StorageError> {
        Replica::reopen_with(disk, tp, me, options, now, synced_end, Bugs::none())
    }

    /// [`Replica::reopen`] with the broker's planted bugs switched on from the start (log
    /// recovery reads them too).
    pub fn reopen_with(
        disk: &Disk,
        tp: TopicPartition,
        me: BrokerId,
        options: LogOptions,
        now: Instant,
        synced_end: u64,
        bugs: Bugs,
    ) -> Result<Replica, StorageError> {
        let dir = tp.dir_name();
        // The head first: a disk returning damaged reads fails here, before log recovery could
        // mistake the damage for a torn tail and cut records the head had covered.
        let head_file = HeadFile::new(disk, Path::new(&dir));
        let head = head_file.load()?;
        let log = Log::open_keeping_with(disk, Path::new(&dir), options, synced_end, bugs)?;
        let core_options = CoreOptions {
            tp: tp.clone(),
            me,
            fsync: options.fsync,
            bugs,
        };
        let mut core = ReplicaCore::new(core_options, head, log.end(), now);
        for batch in log.batches()? {
            core.replay(&batch);
        }
        Ok(Replica {
            tp,
            log,
            head_file,
            core,
            changed: Arc::new(Notify::new()),
            synced: Arc::new(Notify::new()),
            acks: BTreeMap::new(),
            sync_wanted: None,
        })
    }

    /// Where the replica records its node events (off until the broker sets its handle).
    pub fn set_events(&mut self, events: NodeEvents) {
        self.core.set_events(events);
    }

    /// The log's facts the core decides with, as they stand now.
    fn facts(&self) -> LogFacts {
        LogFacts {
            start: self.log.start(),
            end: self.log.end(),
            synced_end: self.log.synced_end(),
        }
    }

    /// Runs the core's effects in the order it emitted them.
    fn run(&mut self, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::NotifyChanged => self.changed.notify_waiters(),
                Effect::CompleteWaiter { id, outcome } => {
                    if let Some(sender) = self.acks.remove(&id) {
                        let _ = sender.send(outcome);
                    }
                }
            }
        }
        assert!(self.acks.len() <= WAITERS_MAX + DELETE_WAITERS_MAX);
        assert_eq!(
            self.acks.len(),
            self.core.waiting(),
            "{}: one answer per waiter",
            self.tp
        );
    }

    /// The receiving side of the answer of the core's waiter `id`.
    fn waiter(&mut self, id: WaiterId) -> Waiter {
        let (sender, receiver) = oneshot::channel();
        self.acks.insert(id, sender);
        receiver
    }

    /// Takes the replica offline after `error` and runs what that ends.
    fn take_offline(&mut self, error: &BrokerError, effects: &mut Vec<Effect>) {
        self.core.take_offline(error, effects);
    }

    pub fn core(&self) -> &ReplicaCore {
        &self.core
    }

    pub fn role(&self) -> &Role {
        self.core.role()
    }

    pub fn confirmed_at(&self) -> Instant {
        self.core.confirmed_at()
    }

    pub fn replicas(&self) -> &[BrokerId] {
        self.core.replicas()
    }

    pub fn set_replicas(&mut self, replicas: Vec<BrokerId>) {
        self.core.set_replicas(replicas);
    }

    pub fn set_min_insync(&mut self, min_insync: u32) {
        self.core.set_min_insync(min_insync);
    }

    pub fn synced_end(&self) -> u64 {
        self.log.synced_end()
    }

    pub fn log_end(&self) -> u64 {
        self.log.end()
    }

    pub fn high_watermark(&self) -> u64 {
        self.core.high_watermark()
    }

    pub fn epochs(&self) -> &EpochCache {
        self.core.epochs()
    }

    pub fn is_offline(&self) -> bool {
        self.core.is_offline()
    }

    pub fn leader_epoch(&self) -> Option<u64> {
        self.core.leader_epoch()
    }

    /// This replica's own log from `offset`, whatever its role (diagnostics, ground truth).
    pub fn dump(&self, offset: u64, max_bytes: u64) -> Result<LogDump, BrokerError> {
        self.core.check_online()?;
        let offset = offset.min(self.log.end());
        let batches = self.log.read(offset, max_bytes).map_err(storage_error)?;
        let mut encoded = Vec::with_capacity(batches.len());
        for batch in batches {
            encoded.push(
                batch
                    .encode()
                    .map_err(|reason| BrokerError::CorruptRecord { reason })?,
            );
        }
        Ok(LogDump {
            log_end: self.log.end(),
            high_watermark: self.core.high_watermark(),
            leader_epoch: self.leader_epoch(),
            batches: encoded,
        })
    }

    pub fn become_leader(
        &mut self,
        epoch: u64,
        isr: &[BrokerId],
        state_version: u64,
        now: Instant,
    ) {
        let mut effects = Vec::new();
        let log = self.facts();
        self.core
            .become_leader(epoch, isr, state_version, log, now, &mut effects);
        self.run(effects);
    }

    pub fn become_follower(&mut self, leader: Option<BrokerId>, epoch: u64, now: Instant) {
        let mut effects = Vec::new();
        let log = self.facts();
        self.core
            .become_follower(leader, epoch, log, now, &mut effects);
        self.run(effects);
    }

    /// Applies the cluster view's state of this partition (replicas, bound, role).
    pub fn apply_view(&mut self, view: &PartitionView<'_>, now: Instant) -> ViewStep {
        let mut effects = Vec::new();
        let log = self.facts();
        let step = self.core.on_view(view, log, now, &mut effects);
        self.run(effects);
        step
    }

    pub fn produce(
        &mut self,
        request: ProduceRequest,
        now: Instant,
        expiry: Duration,
    ) -> Result<Produced, BrokerError> {
        let mut effects = Vec::new();
        let result = self.produce_with(request, now, expiry, &mut effects);
        let produced = result.map(|acknowledgement| match acknowledgement {
            Acknowledgement::Now(response) => Produced::Done(response),
            Acknowledgement::Later(response, id) => Produced::Wait(response, self.waiter(id)),
        });
        self.run(effects);
        produced
    }

    fn produce_with(
        &mut self,
        request: ProduceRequest,
        now: Instant,
        expiry: Duration,
        effects: &mut Vec<Effect>,
    ) -> Result<Acknowledgement, BrokerError> {
        let log = self.facts();
        let admission = self
            .core
            .admit_produce(&request, log, now, expiry, effects)?;
        let meta = match admission {
            ProduceAdmission::Duplicate(response) => {
                return Ok(self.core.acknowledge(request.acks, response, effects))
            }
            ProduceAdmission::Append { meta, head } => {
                if let Some(head) = head {
                    self.store_head(head, effects)?;
                }
                meta
            }
        };
        let count = request.records.len() as u32;
        // Only acks=all can wait for a group's fsync: acks=1 answers before any replication,
        // so under `fsync: always` its append is synced before the answer, as ever.
        let deferred = request.acks == Acks::All && self.defers_syncs();
        let appended = if deferred {
            self.log.append_unsynced(meta, request.records)
        } else {
            self.log.append(meta, request.records)
        };
        if deferred && appended.is_ok() {
            self.want_sync();
        }
        let info = match appended {
            Ok(info) => info,
            Err(StorageError::InvalidBatch { reason }) => {
                return Err(BrokerError::InvalidRequest { reason })
            }
            Err(error) => {
                let error = storage_error(error);
                // A refused write (disk full, write error) leaves the log usable; anything that
                // leaves its state unknown takes the partition offline.
                if self.log.offline_reason().is_some() {
                    self.take_offline(&error, effects);
                }
                return Err(error);
            }
        };
        let log = self.facts();
        Ok(self.core.on_appended(
            request.acks,
            request.producer.as_ref(),
            count,
            info,
            log,
            effects,
        ))
    }

    /// Appends records the broker itself writes as leader (a group coordinator's offsets and
    /// generations), with `acks=all` semantics: the checks, and the waiter, of a produce.
    pub fn append_internal(
        &mut self,
        records: Vec<Record>,
        now: Instant,
        expiry: Duration,
    ) -> Result<Produced, BrokerError> {
        let request = ProduceRequest {
            tp: self.tp.clone(),
            acks: Acks::All,
            timeout_ms: 0,
            records,
            producer: None,
            flags: 0,
        };
        self.produce(request, now, expiry)
    }

    /// Moves the high watermark if it can (a leader alone in its ISR has no follower fetch to
    /// move it) and returns it.
    pub fn refresh_high_watermark(&mut self) -> u64 {
        let mut effects = Vec::new();
        let log = self.facts();
        self.core.advance_hw(log, &mut effects);
        self.run(effects);
        self.core.high_watermark()
    }

    /// A waiter that resolves, like an `acks=all` produce's, once the high watermark reaches
    /// `required`; `None` when it already has.
    pub fn high_watermark_waiter(&mut self, required: u64) -> Option<Waiter> {
        let mut effects = Vec::new();
        let log = self.facts();
        let id = self.core.high_watermark_waiter(required, log, &mut effects);
        let waiter = id.map(|id| self.waiter(id));
        self.run(effects);
        waiter
    }

    /// This replica's own batches from `offset` (clamped to the log start), whatever its role:
    /// how a new group coordinator reads its offsets partition back.
    pub fn read_local(&self, offset: u64, max_bytes: u64) -> Result<Vec<RecordBatch>, BrokerError> {
        self.core.check_online()?;
        let offset = offset.max(self.head()).min(self.log.end());
        self.log.read(offset, max_bytes).map_err(storage_error)
    }

    /// Under `fsync: interval`, syncs when due, and moves the high watermark with it.
    pub fn sync_if_due(&mut self) {
        if self.core.is_offline() {
            return;
        }
        let mut effects = Vec::new();
        if let Err(error) = self.log.sync_if_due() {
            let error = storage_error(error);
            self.take_offline(&error, &mut effects);
        }
        let log = self.facts();
        self.core.advance_hw(log, &mut effects);
        self.run(effects);
    }

    /// Serves a fetch from a consumer (records below the high watermark) or a follower
    /// (everything; its position also counts towards the high watermark and the ISR).
    /// An empty response means "no data yet": the caller may wait on `changed` and ask again.
    pub fn fetch(
        &mut self,
        request: &FetchRequest,
        now: Instant,
        expiry: Duration,
    ) -> Result<FetchResponse, BrokerError> {
        let mut effects = Vec::new();
        let result = self.fetch_with(request, now, expiry, &mut effects);
        self.run(effects);
        result
    }

    fn fetch_with(
        &mut self,
        request: &FetchRequest,
        now: Instant,
        expiry: Duration,
        effects: &mut Vec<Effect>,
    ) -> Result<FetchResponse, BrokerError> {
        self.core.check_online()?;
        let epoch = self.core.leadership(now, expiry)?.epoch;
        let log = self.facts();
        let log_end = log.end;
        if let Some(replica) = request.replica {
            // Planted bug: a follower that missed an election is served as if current.
            let fence = !self.core.bugs().has(Bug::StaleEpochFetchNotFenced);
            if replica.leader_epoch < epoch && fence {
                return Err(BrokerError::FencedLeaderEpoch { current: epoch });
            }
            if replica.leader_epoch > epoch {
                return Err(BrokerError::UnknownLeaderEpoch);
            }
            if request.offset > log_end {
                return Err(BrokerError::OffsetOutOfRange {
                    offset: request.offset,
                    start: log.start,
                    end: log_end,
                });
            }
            // Before `record_follower`, whose high-watermark pass also settles deletes.
            self.core
                .note_follower_head(replica.broker, replica.log_start);
            self.core
                .record_follower(replica.broker, request.offset, log, now, effects);
        } else if request.offset > log_end || request.offset < self.head() {
            return Err(BrokerError::OffsetOutOfRange {
                offset: request.offset,
                start: self.head(),
                end: log_end,
            });
        }
        let hw = self.core.high_watermark();
        let limit = if request.replica.is_some() || self.core.bugs().has(Bug::ReadUncommitted) {
            log_end
        } else {
            hw
        };
        let mut response = FetchResponse {
            high_watermark: hw,
            log_start: self.head(),
            log_end,
            leader_epoch: epoch,
            batches: Vec::new(),
        };
        if request.offset >= limit {
            return Ok(response);
        }
        let batches = match self.log.read(request.offset, request.max_bytes) {
            Ok(batches) => batches,
            Err(error) => {
                let error = storage_error(error);
                self.take_offline(&error, effects);
                return Err(error);
            }
        };
        for batch in batches {
            if batch.next_offset() > limit {
                break;
            }
            let bytes = batch
                .encode()
                .map_err(|reason| BrokerError::CorruptRecord { reason })?;
            response.batches.push(bytes);
        }
        Ok(response)
    }

    /// An ISR change the leader wants: drop members that lag past `lag_max`, add followers
    /// that caught up to the high watermark within the current epoch.
    pub fn isr_proposal(&self, now: Instant, lag_max: Duration) -> Option<IsrProposal> {
        self.core.isr_proposal(self.facts(), now, lag_max)
    }

    /// The ISR change could not be written, or its outcome is unknown (see the core).
    pub fn isr_change_failed(&mut self) {
        self.core.isr_change_failed();
    }

    /// The coordinator's state for this leader's epoch, as the metadata loop read it.
    pub fn reconcile_isr(&mut self, isr: &[BrokerId], version: u64, now: Instant) {
        let mut effects = Vec::new();
        let log = self.facts();
        self.core
            .reconcile_isr(isr, version, log, now, &mut effects);
        self.run(effects);
    }

    /// The proposal is being written: until the coordinator answers, the controller may elect
    /// from either ISR.
    pub fn propose_isr(&mut self, proposal: &IsrProposal) {
        self.core.propose_isr(proposal);
    }

    /// The coordinator accepted an ISR change at `new_version`.
    pub fn apply_isr(&mut self, epoch: u64, isr: &[BrokerId], new_version: u64, now: Instant) {
        let mut effects = Vec::new();
        let log = self.facts();
        self.core
            .apply_isr(epoch, isr, new_version, log, now, &mut effects);
        self.run(effects);
    }

    pub fn epoch_end(
        &self,
        request: &EpochEndRequest,
        now: Instant,
        expiry: Duration,
    ) -> Result<EpochEndResponse, BrokerError> {
        self.core.epoch_end(request, self.log.end(), now, expiry)
    }
}
