//! One replica of one partition on one broker: its log, its leader-epoch cache, its high
//! watermark, and its role. No network I/O here: the broker's server and fetcher move bytes and
//! coordinator writes; this file decides.
//!
//! Invariants: the leader acknowledges an `acks=all` write only once the write is durable on
//! the leader per its fsync policy, every ISR member has it, and the ISR has at least
//! `min_insync` members. The high watermark is the smallest log end among the ISR and never
//! goes down while this broker leads. The ISR used for acknowledgements changes only after the
//! coordinator accepted the change (so the controller never elects a replica the leader already
//! counted out). A follower truncates by leader epoch, never to its high watermark.
//! The head (what consumers may still read) and its replication live in `queue`.
//!
//! Fault model for answers: between appending a write and acknowledging it, the leader can
//! lose its leadership (a new epoch elected elsewhere), or the replica can go offline because
//! an unrelated read or sync failed (a disk returning flipped bits, fsync EIO). By then the
//! write may already sit in a follower's log, and that follower may lead next. So every
//! request that took effect here and waits for replication is answered "outcome unknown"
//! (`OutcomeUnknown`, as `NotEnoughReplicasAfterAppend` and `RequestTimedOut` are), never with
//! a refusal: a refusal tells an idempotent producer its sequence number is free, and its next
//! record then reuses it — the broker's duplicate check acknowledges that new record at the old
//! record's offset (queue swarm seeds 1066, 1492, 2069, 2167, 2355: aborted-read, lost-write,
//! inconsistent-offsets and sequence-gap at once).

#[cfg(test)]
mod isr_tests;
pub mod queue;
#[cfg(test)]
mod waiter_tests;

use crate::broker::epoch_cache::EpochCache;
use crate::broker::producer_state::{Admission, ProducerState};
use crate::broker::protocol::{
    Acks, BrokerError, BrokerId, EpochEndRequest, EpochEndResponse, FetchRequest, FetchResponse,
    LogDump, ProduceRequest, ProduceResponse, TopicPartition,
};
use crate::bugs::{Bug, Bugs};
use crate::env::Disk;
use crate::storage::{
    BatchMeta, FsyncPolicy, HeadFile, Log, LogOptions, Record, RecordBatch, StorageError,
};
use queue::Queue;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{oneshot, Notify};
use tokio::time::Instant;

/// Produce requests waiting for replication, per replica.
pub const WAITERS_MAX: usize = 10_000;

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

#[derive(Clone, Debug)]
pub struct Progress {
    pub log_end: u64,
    /// The follower's durable head, as its last fetch reported it.
    pub head: u64,
    pub caught_up_at: Instant,
    last_fetch_at: Instant,
    leader_end_at_last_fetch: u64,
}

#[derive(Debug)]
pub struct Leadership {
    pub epoch: u64,
    pub isr: BTreeSet<BrokerId>,
    /// The version of the partition's state znode that holds `isr`.
    pub state_version: u64,
    pub followers: BTreeMap<BrokerId, Progress>,
    /// An ISR change is being written to the coordinator.
    pub isr_change_pending: bool,
    /// The ISR last proposed, until the coordinator's answer or a read of its state settles
    /// it (empty once settled).
    pub isr_proposed: BTreeSet<BrokerId>,
}

impl Leadership {
    /// The replicas a controller may elect: the ISR, plus the proposed one while a change is
    /// being written or its outcome is unknown (`isr_proposed` is cleared once it settles).
    pub fn electable(&self) -> impl Iterator<Item = BrokerId> + '_ {
        self.isr.union(&self.isr_proposed).copied()
    }
}

#[derive(Debug)]
pub struct Followership {
    pub leader: Option<BrokerId>,
    pub epoch: u64,
    /// Set on becoming follower: the fetcher must truncate by epoch before fetching.
    pub needs_truncation: bool,
}

#[derive(Debug)]
pub enum Role {
    /// Not yet told anything by the controller.
    None,
    Leader(Leadership),
    Follower(Followership),
}

/// An ISR change the leader wants written (version-conditioned) to the coordinator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IsrProposal {
    pub tp: TopicPartition,
    pub epoch: u64,
    pub expected_version: u64,
    pub isr: Vec<BrokerId>,
}

/// What a produce needs next: nothing, or waiting for the high watermark.
pub enum Produced {
    Done(ProduceResponse),
    Wait(ProduceResponse, Waiter),
}

pub struct Replica {
    pub tp: TopicPartition,
    me: BrokerId,
    log: Log,
    epochs: EpochCache,
    producers: ProducerState,
    hw: u64,
    pub role: Role,
    pub replicas: Vec<BrokerId>,
    /// Planted bugs (none unless a run asks for them).
    pub bugs: Bugs,
    pub min_insync: u32,
    /// When the coordinator last confirmed this replica's role.
    pub confirmed_at: Instant,
    offline: Option<String>,
    /// Woken on every append and high-watermark change.
    pub changed: Arc<Notify>,
    /// Keyed by the high watermark each waits for; with the replicated head it also needs.
    waiters: BTreeMap<u64, Vec<(u64, Ack)>>,
    waiter_count: usize,
    queue: Queue,
}

fn storage_error(error: StorageError) -> BrokerError {
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
        let mut queue = Queue::load(HeadFile::new(disk, Path::new(&dir)))?;
        let log = Log::open_keeping_with(disk, Path::new(&dir), options, synced_end, bugs)?;
        queue.fit(log.end(), &tp);
        let mut epochs = EpochCache::default();
        let mut producers = ProducerState::default();
        for batch in log.batches()? {
            epochs.assign(batch.meta.leader_epoch, batch.base_offset);
            producers.replay(&batch);
        }
        Ok(Replica {
            tp,
            me,
            log,
            epochs,
            producers,
            hw: 0,
            role: Role::None,
            replicas: Vec::new(),
            bugs,
            min_insync: 1,
            confirmed_at: now,
            offline: None,
            changed: Arc::new(Notify::new()),
            waiters: BTreeMap::new(),
            waiter_count: 0,
            queue,
        })
    }

    pub fn synced_end(&self) -> u64 {
        self.log.synced_end()
    }

    pub fn log_end(&self) -> u64 {
        self.log.end()
    }

    pub fn high_watermark(&self) -> u64 {
        self.hw
    }

    pub fn epochs(&self) -> &EpochCache {
        &self.epochs
    }

    pub fn is_offline(&self) -> bool {
        self.offline.is_some()
    }

    pub fn leader_epoch(&self) -> Option<u64> {
        match &self.role {
            Role::Leader(leadership) => Some(leadership.epoch),
            Role::Follower(followership) => Some(followership.epoch),
            Role::None => None,
        }
    }

    /// This replica's own log from `offset`, whatever its role (diagnostics, ground truth).
    pub fn dump(&self, offset: u64, max_bytes: u64) -> Result<LogDump, BrokerError> {
        self.check_online()?;
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
            high_watermark: self.hw,
            leader_epoch: self.leader_epoch(),
            batches: encoded,
        })
    }

    fn take_offline(&mut self, error: &BrokerError) {
        if self.offline.is_none() {
            tracing::error!(tp = %self.tp, %error, "replica goes offline after a disk fault");
            self.offline = Some(error.to_string());
        }
        self.fail_waiters(error.clone());
    }

    fn check_online(&self) -> Result<(), BrokerError> {
        match &self.offline {
            Some(reason) => Err(BrokerError::StorageError {
                reason: reason.clone(),
            }),
            None => Ok(()),
        }
    }

    /// The end of what is durable here per the fsync policy.
    fn durable_end(&self) -> u64 {
        if self.bugs.has(Bug::AckBeforeFsync) {
            return self.log.end();
        }
        match self.log.options().fsync {
            FsyncPolicy::Always => self.log.synced_end(),
            FsyncPolicy::Interval(_) | FsyncPolicy::Never => self.log.end(),
        }
    }

    pub fn become_leader(
        &mut self,
        epoch: u64,
        isr: &[BrokerId],
        state_version: u64,
        now: Instant,
    ) {
        self.epochs.assign(epoch, self.log.end());
        let followers = self
            .replicas
            .iter()
            .filter(|id| **id != self.me)
            .map(|id| {
                let progress = Progress {
                    log_end: 0,
                    head: 0,
                    caught_up_at: now,
                    last_fetch_at: now,
                    leader_end_at_last_fetch: 0,
                };
                (*id, progress)
            })
            .collect();
        self.hw = self.hw.min(self.log.end());
        self.role = Role::Leader(Leadership {
            epoch,
            isr: isr.iter().copied().collect(),
            state_version,
            followers,
            isr_change_pending: false,
            isr_proposed: BTreeSet::new(),
        });
        self.confirmed_at = now;
        tracing::info!(tp = %self.tp, epoch, ?isr, log_end = self.log.end(), "became leader");
        self.changed.notify_waiters();
    }

    pub fn become_follower(&mut self, leader: Option<BrokerId>, epoch: u64, now: Instant) {
        self.fail_waiters(BrokerError::NotLeader {
            leader_hint: leader,
        });
        self.role = Role::Follower(Followership {
            leader,
            epoch,
            needs_truncation: true,
        });
        self.confirmed_at = now;
        tracing::info!(tp = %self.tp, epoch, ?leader, log_end = self.log.end(), "became follower");
        self.changed.notify_waiters();
    }

    /// Fails every request waiting for replication. Each of them already took effect here
    /// (appended, head moved), so whatever ended the wait — a leadership change, a disk fault
    /// on an unrelated read — their outcome is unknown, never a refusal: the records may live
    /// on in a follower that becomes leader. Answering `NotLeader` or a read's `CorruptRecord`
    /// here made producers count written records as failed and reuse their sequence numbers
    /// (queue swarm seeds 1066, 1492, 2069, 2167, 2355: aborted-read, then a new record
    /// acknowledged at the old one's offset by the duplicate check).
    fn fail_waiters(&mut self, cause: BrokerError) {
        let error = match cause {
            unknown @ BrokerError::OutcomeUnknown { .. } => unknown,
            cause => BrokerError::OutcomeUnknown {
                reason: cause.to_string(),
            },
        };
        assert!(error.may_have_been_written() && error.is_retriable());
        self.fail_deletes(&error);
        for (_, senders) in std::mem::take(&mut self.waiters) {
            for (_, sender) in senders {
                let _ = sender.send(Err(error.clone()));
            }
        }
        self.waiter_count = 0;
    }

    /// Checks that this broker leads with a role confirmed within `expiry`.
    fn leadership(&self, now: Instant, expiry: Duration) -> Result<&Leadership, BrokerError> {
        match &self.role {
            Role::Leader(leadership) if now.duration_since(self.confirmed_at) <= expiry => {
                Ok(leadership)
            }
            Role::Leader(_) | Role::None => Err(BrokerError::NotLeader { leader_hint: None }),
            Role::Follower(followership) => Err(BrokerError::NotLeader {
                leader_hint: followership.leader,
            }),
        }
    }

    pub fn produce(
        &mut self,
        request: ProduceRequest,
        now: Instant,
        expiry: Duration,
    ) -> Result<Produced, BrokerError> {
        self.check_online()?;
        let leadership = self.leadership(now, expiry)?;
        let epoch = leadership.epoch;
        let isr = leadership.isr.len() as u32;
        if request.acks == Acks::All && isr < self.min_insync {
            return Err(BrokerError::NotEnoughReplicas {
                isr,
                min_insync: self.min_insync,
            });
        }
        if request.records.is_empty() {
            return Err(BrokerError::InvalidRequest {
                reason: "no records".into(),
            });
        }
        let mut meta = BatchMeta {
            leader_epoch: epoch,
            flags: request.flags,
            ..BatchMeta::default()
        };
        if let Some(stamp) = request.producer {
            meta.producer_id = stamp.producer_id;
            meta.producer_epoch = stamp.producer_epoch;
            meta.base_sequence = stamp.base_sequence;
        }
        meta.max_timestamp_ms = request
            .records
            .iter()
            .map(|r| r.timestamp_ms)
            .max()
            .unwrap_or(0);
        let count = request.records.len() as u32;
        let dedup = !self.bugs.has(Bug::IdempotenceIgnored);
        if let Some(stamp) = request.producer.as_ref().filter(|_| dedup) {
            if let Admission::Duplicate {
                first_offset,
                last_offset,
            } = self.producers.admit(stamp, count)?
            {
                // Written before (a retry): answer with the original offsets, write nothing.
                let response = ProduceResponse {
                    base_offset: first_offset,
                    last_offset,
                    leader_epoch: epoch,
                };
                return Ok(self.acknowledge(request.acks, response));
            }
        }
        // After the duplicate check (a retry of a written batch still gets its offsets) and
        // before anything is recorded for the producer (a refused batch leaves its sequence
        // free for the next one).
        self.make_room(u64::from(count))?;
        let info = match self.log.append(meta, request.records) {
            Ok(info) => info,
            Err(StorageError::InvalidBatch { reason }) => {
                return Err(BrokerError::InvalidRequest { reason })
            }
            Err(error) => {
                let error = storage_error(error);
                // A refused write (disk full, write error) leaves the log usable; anything that
                // leaves its state unknown takes the partition offline.
                if self.log.offline_reason().is_some() {
                    self.take_offline(&error);
                }
                return Err(error);
            }
        };
        if let Some(stamp) = &request.producer {
            self.producers.record(stamp, count, info.base_offset);
        }
        let response = ProduceResponse {
            base_offset: info.base_offset,
            last_offset: info.last_offset,
            leader_epoch: epoch,
        };
        self.advance_hw();
        self.changed.notify_waiters();
        Ok(self.acknowledge(request.acks, response))
    }

    /// Answers now, or once the high watermark covers the write (`acks=all`) — and, where
    /// the write moved the head (`drop-oldest`), once the replicated head covers that too.
    fn acknowledge(&mut self, acks: Acks, response: ProduceResponse) -> Produced {
        let required = response.last_offset + 1;
        let head_required = self.head_required();
        let replicated = self.hw >= required && self.replicated_head() >= head_required;
        if acks != Acks::All || replicated {
            return Produced::Done(response);
        }
        Produced::Wait(response, self.waiter(required, head_required))
    }

    /// Resolves once the high watermark reaches `required` and the replicated head
    /// `head_required`.
    fn waiter(&mut self, required: u64, head_required: u64) -> Waiter {
        let (sender, receiver) = oneshot::channel();
        if self.waiter_count >= WAITERS_MAX {
            let _ = sender.send(Err(BrokerError::RequestTimedOut));
            return receiver;
        }
        self.waiters
            .entry(required)
            .or_default()
            .push((head_required, sender));
        self.waiter_count += 1;
        receiver
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
        self.advance_hw();
        self.hw
    }

    /// A waiter that resolves, like an `acks=all` produce's, once the high watermark reaches
    /// `required`; `None` when it already has.
    pub fn high_watermark_waiter(&mut self, required: u64) -> Option<Waiter> {
        if self.refresh_high_watermark() >= required {
            return None;
        }
        Some(self.waiter(required, 0))
    }

    /// This replica's own batches from `offset` (clamped to the log start), whatever its role:
    /// how a new group coordinator reads its offsets partition back.
    pub fn read_local(&self, offset: u64, max_bytes: u64) -> Result<Vec<RecordBatch>, BrokerError> {
        self.check_online()?;
        let offset = offset.max(self.head()).min(self.log.end());
        self.log.read(offset, max_bytes).map_err(storage_error)
    }

    /// Moves the high watermark to the smallest durable log end among the ISR and completes
    /// the produce requests it covers.
    fn advance_hw(&mut self) {
        self.settle_deletes();
        let durable_end = self.durable_end();
        let Role::Leader(leadership) = &self.role else {
            return;
        };
        let mut candidate = durable_end;
        let replicated = !self.bugs.has(Bug::AcksAllWithoutReplication);
        // An acknowledged write must be on every replica the controller may elect, or a member
        // being added could be elected without it (Kafka's "maximal ISR", KIP-497).
        for member in leadership.electable() {
            if member == self.me || !replicated {
                continue;
            }
            let end = leadership
                .followers
                .get(&member)
                .map_or(0, |progress| progress.log_end);
            candidate = candidate.min(end);
        }
        let enough = leadership.isr.len() as u32 >= self.min_insync;
        if candidate > self.hw {
            self.hw = candidate;
            self.changed.notify_waiters();
        }
        if self.waiters.is_empty() {
            return;
        }
        let replicated_head = self.replicated_head();
        let still_waiting = self.waiters.split_off(&(self.hw + 1));
        let done = std::mem::replace(&mut self.waiters, still_waiting);
        for (required, senders) in done {
            for (head_required, sender) in senders {
                if head_required > replicated_head {
                    // Replicated, but the head it moved is not yet: keep waiting.
                    let entry = self.waiters.entry(required).or_default();
                    entry.push((head_required, sender));
                    continue;
                }
                self.waiter_count -= 1;
                let outcome = if enough {
                    Ok(())
                } else {
                    Err(BrokerError::NotEnoughReplicasAfterAppend)
                };
                let _ = sender.send(outcome);
            }
        }
    }

    /// Under `fsync: interval`, syncs when due; returns whether the durable end moved.
    pub fn sync_if_due(&mut self) {
        if self.offline.is_some() {
            return;
        }
        if let Err(error) = self.log.sync_if_due() {
            let error = storage_error(error);
            self.take_offline(&error);
        }
        self.advance_hw();
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
        self.check_online()?;
        let leadership = self.leadership(now, expiry)?;
        let epoch = leadership.epoch;
        let log_end = self.log.end();
        if let Some(replica) = request.replica {
            if replica.leader_epoch < epoch {
                return Err(BrokerError::FencedLeaderEpoch { current: epoch });
            }
            if replica.leader_epoch > epoch {
                return Err(BrokerError::UnknownLeaderEpoch);
            }
            if request.offset > log_end {
                return Err(BrokerError::OffsetOutOfRange {
                    offset: request.offset,
                    start: self.log.start(),
                    end: log_end,
                });
            }
            // Before `record_follower`, whose high-watermark pass also settles deletes.
            self.note_follower_head(replica.broker, replica.log_start);
            self.record_follower(replica.broker, request.offset, now);
        } else if request.offset > log_end || request.offset < self.head() {
            return Err(BrokerError::OffsetOutOfRange {
                offset: request.offset,
                start: self.head(),
                end: log_end,
            });
        }
        let limit = if request.replica.is_some() || self.bugs.has(Bug::ReadUncommitted) {
            log_end
        } else {
            self.hw
        };
        let mut response = FetchResponse {
            high_watermark: self.hw,
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
                self.take_offline(&error);
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

    fn record_follower(&mut self, follower: BrokerId, fetch_offset: u64, now: Instant) {
        let leader_end = self.log.end();
        let Role::Leader(leadership) = &mut self.role else {
            return;
        };
        let Some(progress) = leadership.followers.get_mut(&follower) else {
            return;
        };
        // Kafka's rule: caught up if it reached the leader's end now, or reached the end the
        // leader had at its previous fetch (then it was caught up as of that fetch).
        if fetch_offset >= leader_end {
            progress.caught_up_at = now;
        } else if fetch_offset >= progress.leader_end_at_last_fetch {
            progress.caught_up_at = progress.last_fetch_at;
        }
        progress.log_end = fetch_offset;
        progress.last_fetch_at = now;
        progress.leader_end_at_last_fetch = leader_end;
        self.advance_hw();
    }

    /// An ISR change the leader wants: drop members that lag past `lag_max`, add followers
    /// that caught up to the high watermark within the current epoch.
    pub fn isr_proposal(&self, now: Instant, lag_max: Duration) -> Option<IsrProposal> {
        let Role::Leader(leadership) = &self.role else {
            return None;
        };
        if leadership.isr_change_pending || self.offline.is_some() {
            return None;
        }
        // A follower rejoins only once it holds this epoch's start (it truncated correctly).
        let epoch_start = self
            .epochs
            .entries()
            .iter()
            .find(|(epoch, _)| *epoch == leadership.epoch)
            .map_or(self.log.end(), |(_, start)| *start);
        let mut isr = leadership.isr.clone();
        // A joining follower must hold the replicated head, or an acknowledged delete could be
        // lost by electing it.
        let replicated_head = self.replicated_head();
        for (id, progress) in &leadership.followers {
            let lagging = now.duration_since(progress.caught_up_at) > lag_max;
            if isr.contains(id) && lagging {
                isr.remove(id);
            } else if !isr.contains(id)
                && !lagging
                && progress.log_end >= self.hw
                && progress.log_end >= epoch_start
                && progress.head >= replicated_head
            {
                isr.insert(*id);
            }
        }
        isr.insert(self.me);
        if isr == leadership.isr {
            return None;
        }
        Some(IsrProposal {
            tp: self.tp.clone(),
            epoch: leadership.epoch,
            expected_version: leadership.state_version,
            isr: isr.into_iter().collect(),
        })
    }

    /// The ISR change could not be written, or its outcome is unknown. A new proposal may
    /// follow, but the proposed members keep counting for acknowledgements until a read of
    /// the coordinator's state shows whether the write landed (`reconcile_isr`).
    pub fn isr_change_failed(&mut self) {
        if let Role::Leader(leadership) = &mut self.role {
            leadership.isr_change_pending = false;
        }
    }

    /// The coordinator's state for this leader's epoch, as the metadata loop read it: a newer
    /// version means a write of ours landed after all (its answer was lost), so its ISR is the
    /// one the controller elects from; the same version means it did not land.
    pub fn reconcile_isr(&mut self, isr: &[BrokerId], version: u64, now: Instant) {
        let Role::Leader(leadership) = &mut self.role else {
            return;
        };
        self.confirmed_at = now;
        if leadership.isr_change_pending {
            return; // A write is in flight: its answer decides.
        }
        if version > leadership.state_version {
            tracing::info!(tp = %self.tp, ?isr, version, "ISR read back from the coordinator");
            leadership.isr = isr.iter().copied().collect();
            leadership.state_version = version;
        }
        leadership.isr_proposed.clear();
        self.advance_hw();
    }

    /// The proposal is being written: until the coordinator answers, the controller may elect
    /// from either ISR.
    pub fn propose_isr(&mut self, proposal: &IsrProposal) {
        if let Role::Leader(leadership) = &mut self.role {
            leadership.isr_change_pending = true;
            leadership.isr_proposed = proposal.isr.iter().copied().collect();
        }
    }

    /// The coordinator accepted an ISR change at `new_version`.
    pub fn apply_isr(&mut self, epoch: u64, isr: &[BrokerId], new_version: u64, now: Instant) {
        if let Role::Leader(leadership) = &mut self.role {
            if leadership.epoch == epoch {
                tracing::info!(tp = %self.tp, epoch, ?isr, "ISR changed");
                leadership.isr = isr.iter().copied().collect();
                leadership.state_version = new_version;
                leadership.isr_change_pending = false;
                leadership.isr_proposed.clear();
                self.confirmed_at = now;
            }
        }
        self.advance_hw();
    }

    pub fn epoch_end(
        &self,
        request: &EpochEndRequest,
        now: Instant,
        expiry: Duration,
    ) -> Result<EpochEndResponse, BrokerError> {
        self.check_online()?;
        let leadership = self.leadership(now, expiry)?;
        if request.current_leader_epoch < leadership.epoch {
            return Err(BrokerError::FencedLeaderEpoch {
                current: leadership.epoch,
            });
        }
        if request.current_leader_epoch > leadership.epoch {
            return Err(BrokerError::UnknownLeaderEpoch);
        }
        let (epoch, end_offset) = self.epochs.end_of(request.epoch, self.log.end());
        Ok(EpochEndResponse { epoch, end_offset })
    }

    /// Follower side of KIP-279: given the leader's answer for our latest epoch, where to cut.
    pub fn truncation_point(&self, answer: &EpochEndResponse) -> u64 {
        let ours = match answer.epoch {
            Some(epoch) => self.epochs.end_of(epoch, self.log.end()).1,
            None => answer.end_offset,
        };
        answer.end_offset.min(ours).min(self.log.end())
    }

    /// Cuts the log (durably) and the epoch cache; the follower may then fetch.
    pub fn truncate_to(&mut self, offset: u64) -> Result<u64, BrokerError> {
        self.check_online()?;
        let end = match self.log.truncate_to(offset) {
            Ok(end) => end,
            Err(error) => {
                let error = storage_error(error);
                self.take_offline(&error);
                return Err(error);
            }
        };
        self.epochs.truncate_from(end);
        self.hw = self.hw.min(end);
        self.clamp_head(end);
        // Forget batches that are gone: rebuild the producer table from what remains.
        self.producers = ProducerState::default();
        match self.log.batches() {
            Ok(batches) => batches
                .iter()
                .for_each(|batch| self.producers.replay(batch)),
            Err(error) => {
                let error = storage_error(error);
                self.take_offline(&error);
                return Err(error);
            }
        }
        if let Role::Follower(followership) = &mut self.role {
            followership.needs_truncation = false;
        }
        tracing::info!(tp = %self.tp, end, "truncated by leader epoch");
        Ok(end)
    }

    /// Appends batches fetched from the leader (each verified by its checksum) and takes the
    /// leader's high watermark, capped by what this replica holds.
    pub fn append_replicated(
        &mut self,
        batches: &[Vec<u8>],
        leader_hw: u64,
    ) -> Result<(), BrokerError> {
        self.check_online()?;
        for bytes in batches {
            let batch = RecordBatch::decode(bytes)
                .map_err(|reason| BrokerError::CorruptRecord { reason })?;
            if batch.next_offset() <= self.log.end() {
                continue;
            }
            if let Err(error) = self.log.append_batch(&batch) {
                let error = storage_error(error);
                if self.log.offline_reason().is_some() {
                    self.take_offline(&error);
                }
                return Err(error);
            }
            self.epochs
                .assign(batch.meta.leader_epoch, batch.base_offset);
            if !self.bugs.has(Bug::ProducerStateNotReplicated) {
                self.producers.replay(&batch);
            }
        }
        self.hw = self.hw.max(leader_hw.min(self.durable_end()));
        self.changed.notify_waiters();
        Ok(())
    }
}
