//! The consumer: reads assigned partitions from their leaders, one `poll` at a time, and commits
//! offsets after processing. Partitions come from `assign` (manual) or from the group
//! coordinator after `subscribe`; each newly assigned partition resumes from the group's
//! committed offset, or from `auto_offset_reset` when nothing was committed.
//!
//! Delivery is at-least-once: a consumer that processes records and dies before committing
//! leaves them to the next owner of the partition, which reads them again. A member that missed
//! a rebalance learns of it at its next heartbeat (in `poll`) and joins again; its commits are
//! refused until then (`IllegalGeneration`), so it can never move a partition's committed
//! offset after the partition moved on. Heartbeats happen only inside `poll`: a consumer that
//! stops polling for its session timeout leaves the group.
//!
//! Fault model: leaders and the coordinator move, crash and answer late. A fetch that fails is
//! skipped until the next poll; nothing the cluster sends is trusted before its checksum.

use crate::client::cluster::{ClusterClient, ClusterClientOptions, ClusterError};
use crate::client::group_member::{Beat, GroupError, GroupMember};
use crate::client::interceptor::{ConsumerInterceptor, SequenceEvent};
use crate::env::{Net, NodeAddr};
use crate::storage::batch::FLAG_CONTROL;
use crate::storage::{Record, RecordBatch};
use crate::wire::broker_protocol::{BrokerError, Strategy, TopicPartition};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Records one poll returns at most (it stops fetching further partitions past this).
pub const POLL_RECORDS_MAX: usize = 1000;
/// Partitions one consumer reads at most.
pub const ASSIGNED_PARTITIONS_MAX: usize = 1024;

/// Where to start a partition nothing was committed for (or whose position fell off the log).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OffsetReset {
    Earliest,
    Latest,
}

#[derive(Clone, Debug)]
pub struct ConsumerOptions {
    /// Needed for `subscribe` and for commits; `None` reads manually assigned partitions only.
    pub group: Option<String>,
    pub session_timeout: Duration,
    pub heartbeat_interval: Duration,
    pub strategy: Strategy,
    pub cluster: ClusterClientOptions,
    pub auto_offset_reset: OffsetReset,
    /// Records one poll returns at most (capped by `POLL_RECORDS_MAX`). A consumer that
    /// processes slowly takes fewer, so it polls — and heartbeats — within its session timeout.
    pub max_poll_records: usize,
    /// Planted bugs (none unless a run asks for them).
    pub bugs: crate::bugs::Bugs,
}

impl Default for ConsumerOptions {
    fn default() -> ConsumerOptions {
        ConsumerOptions {
            group: None,
            session_timeout: Duration::from_millis(3000),
            heartbeat_interval: Duration::from_millis(300),
            strategy: Strategy::Range,
            cluster: ClusterClientOptions::default(),
            auto_offset_reset: OffsetReset::Earliest,
            max_poll_records: POLL_RECORDS_MAX,
            bugs: crate::bugs::Bugs::none(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumerRecord {
    pub tp: TopicPartition,
    pub offset: u64,
    pub record: Record,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PollResult {
    pub records: Vec<ConsumerRecord>,
    /// What the interceptors reported about these records.
    pub events: Vec<SequenceEvent>,
    /// Set when this poll joined the group: the generation and this consumer's partitions.
    pub rebalanced: Option<(u64, Vec<TopicPartition>)>,
    /// Positions this poll moved because the leader answered `OffsetOutOfRange` (the records
    /// below a partition's head were deleted or dropped, or the log is shorter than the
    /// position): a jump the consumer did not read its way through, like a rebalance.
    pub resets: Vec<PositionReset>,
}

/// A position the consumer moved from `from` (the offset it asked for) to `to` after
/// `OffsetOutOfRange`, per `auto_offset_reset`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PositionReset {
    pub tp: TopicPartition,
    pub from: u64,
    pub to: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ConsumerError {
    #[error("no group is configured: set ConsumerOptions::group to subscribe or commit")]
    NoGroup,
    #[error("the consumer has not joined its group yet: poll first")]
    NotJoined,
    #[error("{count} partitions exceed ASSIGNED_PARTITIONS_MAX ({ASSIGNED_PARTITIONS_MAX})")]
    TooManyPartitions { count: usize },
    #[error(transparent)]
    Group(#[from] GroupError),
    #[error("cluster: {0}")]
    Cluster(#[from] ClusterError),
}

impl ConsumerError {
    /// The broker's refusal, if the group refused (e.g. `IllegalGeneration`).
    pub fn refusal(&self) -> Option<&BrokerError> {
        match self {
            ConsumerError::Group(GroupError::Refused { error, .. }) => Some(error),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Position {
    /// Newly assigned: the group's committed offset, else `auto_offset_reset`.
    Unresolved,
    Reset(OffsetReset),
    At(u64),
}

enum Subscription {
    None,
    Manual,
    Topics(Vec<String>),
}

pub struct Consumer {
    cluster: ClusterClient,
    options: ConsumerOptions,
    interceptors: Vec<Arc<dyn ConsumerInterceptor>>,
    member: Option<GroupMember>,
    subscription: Subscription,
    /// The assigned partitions, sorted, with where to read next.
    positions: BTreeMap<TopicPartition, Position>,
    /// A join this consumer has not reported yet (a poll that failed after joining).
    rebalanced: Option<(u64, Vec<TopicPartition>)>,
    /// Rotates which partition a poll fetches first.
    turn: usize,
}

impl Consumer {
    pub fn new(
        net: Net,
        bootstrap: Vec<NodeAddr>,
        options: ConsumerOptions,
        interceptors: Vec<Arc<dyn ConsumerInterceptor>>,
    ) -> Consumer {
        let member = options.group.clone().map(|group| {
            GroupMember::new(
                group,
                options.strategy,
                options.session_timeout,
                options.heartbeat_interval,
                bootstrap.clone(),
            )
        });
        Consumer {
            cluster: ClusterClient::new(net, bootstrap, options.cluster.clone()),
            options,
            interceptors,
            member,
            subscription: Subscription::None,
            positions: BTreeMap::new(),
            rebalanced: None,
            turn: 0,
        }
    }

    /// Reads exactly these partitions, without group membership (commits, if a group is set,
    /// are member-less and accepted only while the group has no members).
    pub fn assign(&mut self, partitions: Vec<TopicPartition>) -> Result<(), ConsumerError> {
        if partitions.len() > ASSIGNED_PARTITIONS_MAX {
            return Err(ConsumerError::TooManyPartitions {
                count: partitions.len(),
            });
        }
        self.subscription = Subscription::Manual;
        self.reassign(partitions);
        Ok(())
    }

    /// Joins the group on the next poll and reads what its coordinator assigns.
    pub fn subscribe(&mut self, topics: Vec<String>) -> Result<(), ConsumerError> {
        let member = self.member.as_mut().ok_or(ConsumerError::NoGroup)?;
        // A changed subscription must reach the coordinator.
        member.mark_stale();
        self.subscription = Subscription::Topics(topics);
        Ok(())
    }

    /// The next offset this consumer reads from `tp`, once known.
    pub fn position(&self, tp: &TopicPartition) -> Option<u64> {
        match self.positions.get(tp)? {
            Position::At(offset) => Some(*offset),
            _ => None,
        }
    }

    pub fn assignment(&self) -> Vec<TopicPartition> {
        self.positions.keys().cloned().collect()
    }

    pub fn member_id(&self) -> Option<&str> {
        let identity = self.member.as_ref()?.identity()?;
        Some(&identity.member_id)
    }

    pub fn generation(&self) -> Option<u64> {
        Some(self.member.as_ref()?.identity()?.generation)
    }

    /// Reads `tp` from its first offset again.
    pub fn seek_to_beginning(&mut self, tp: &TopicPartition) {
        if let Some(position) = self.positions.get_mut(tp) {
            *position = Position::Reset(OffsetReset::Earliest);
        }
    }

    /// Keeps the positions of partitions still assigned; new ones start unresolved.
    fn reassign(&mut self, mut partitions: Vec<TopicPartition>) {
        partitions.sort();
        partitions.dedup();
        let old = std::mem::take(&mut self.positions);
        for tp in partitions {
            let position = old.get(&tp).copied().unwrap_or(Position::Unresolved);
            self.positions.insert(tp, position);
        }
    }

    /// Heartbeats if due, joins if needed, resolves new partitions' positions, fetches from
    /// the leaders and runs the interceptors.
    pub async fn poll(&mut self) -> Result<PollResult, ConsumerError> {
        self.keep_membership().await?;
        self.resolve_positions().await?;
        let mut result = PollResult {
            rebalanced: self.rebalanced.take(),
            ..PollResult::default()
        };
        let partitions: Vec<TopicPartition> = self.positions.keys().cloned().collect();
        let count = partitions.len();
        if count == 0 {
            // Nothing to fetch: wait as a long poll would, so a polling loop lets time pass.
            tokio::time::sleep(self.options.cluster.fetch_max_wait).await;
        }
        for i in 0..count {
            if result.records.len() >= self.records_max() {
                break;
            }
            let tp = &partitions[(self.turn + i) % count];
            self.fetch_one(tp, &mut result).await;
        }
        self.turn = self.turn.wrapping_add(1);
        Ok(result)
    }

    fn records_max(&self) -> usize {
        self.options.max_poll_records.clamp(1, POLL_RECORDS_MAX)
    }

    async fn keep_membership(&mut self) -> Result<(), ConsumerError> {
        let Subscription::Topics(topics) = &self.subscription else {
            return Ok(());
        };
        let topics = topics.clone();
        let Some(member) = self.member.as_mut() else {
            return Err(ConsumerError::NoGroup);
        };
        if member.heartbeat_if_due(&mut self.cluster).await == Beat::Current {
            return Ok(());
        }
        let previous = member.identity().map(|identity| identity.generation);
        let (generation, assignment) = member.join(&mut self.cluster, &topics).await?;
        if assignment.len() > ASSIGNED_PARTITIONS_MAX {
            return Err(ConsumerError::TooManyPartitions {
                count: assignment.len(),
            });
        }
        // A partition kept from the generation just before was nobody else's in between, so
        // its position stands. A member that missed a generation (it was expired, or joined
        // anew) cannot know who read the partition meanwhile: it resumes from the committed
        // offset, or it would commit its stale position over a newer owner's.
        let continuous = previous.is_some_and(|previous| previous + 1 == generation);
        if !continuous {
            self.positions.clear();
        }
        self.reassign(assignment.clone());
        self.rebalanced = Some((generation, assignment));
        Ok(())
    }

    /// Turns unresolved positions into offsets: the group's committed offset, else the reset
    /// policy. Reports each new position to the interceptors.
    async fn resolve_positions(&mut self) -> Result<(), ConsumerError> {
        let unresolved: Vec<TopicPartition> = self
            .positions
            .iter()
            .filter(|(_, p)| **p == Position::Unresolved)
            .map(|(tp, _)| tp.clone())
            .collect();
        if unresolved.is_empty() {
            return Ok(());
        }
        let committed = match self.member.as_mut() {
            Some(member) => member.committed(&mut self.cluster, unresolved).await?,
            None => unresolved.into_iter().map(|tp| (tp, None)).collect(),
        };
        for (tp, offset) in committed {
            let Some(position) = self.positions.get_mut(&tp) else {
                continue;
            };
            *position = match offset {
                Some(offset) => Position::At(offset),
                None => Position::Reset(self.options.auto_offset_reset),
            };
            if let Position::At(offset) = *position {
                self.interceptors
                    .iter()
                    .for_each(|i| i.on_reset(&tp, offset));
            }
        }
        Ok(())
    }

    fn set_position(&mut self, tp: &TopicPartition, offset: u64) {
        if let Some(position) = self.positions.get_mut(tp) {
            *position = Position::At(offset);
        }
        self.interceptors
            .iter()
            .for_each(|i| i.on_reset(tp, offset));
    }

    /// One fetch of `tp`; failures leave the position alone until the next poll.
    async fn fetch_one(&mut self, tp: &TopicPartition, result: &mut PollResult) {
        let offset = match self.positions.get(tp) {
            Some(Position::At(offset)) => *offset,
            Some(Position::Reset(_)) => 0,
            _ => return,
        };
        let response = match self.cluster.fetch(tp, offset).await {
            Ok(response) => response,
            Err(ClusterError::Broker(BrokerError::OffsetOutOfRange { start, end, .. })) => {
                let reset = match self.positions.get(tp) {
                    Some(Position::Reset(reset)) => *reset,
                    _ => self.options.auto_offset_reset,
                };
                let to = match reset {
                    OffsetReset::Earliest => start,
                    OffsetReset::Latest => end,
                };
                self.set_position(tp, to);
                result.resets.push(PositionReset {
                    tp: tp.clone(),
                    from: offset,
                    to,
                });
                return;
            }
            Err(error) => {
                tracing::debug!(%tp, %error, "fetch failed; retrying next poll");
                return;
            }
        };
        if let Some(Position::Reset(reset)) = self.positions.get(tp).copied() {
            match reset {
                OffsetReset::Earliest => self.set_position(tp, response.log_start),
                OffsetReset::Latest => {
                    self.set_position(tp, response.high_watermark);
                    return;
                }
            }
        }
        let mut next = match self.positions.get(tp) {
            Some(Position::At(offset)) => *offset,
            _ => return,
        };
        let records_max = self.records_max();
        'batches: for bytes in &response.batches {
            let batch = match RecordBatch::decode(bytes) {
                Ok(batch) => batch,
                Err(reason) => {
                    tracing::warn!(%tp, %reason, "a fetched batch failed its check; refetching");
                    break;
                }
            };
            if batch.next_offset() <= next {
                continue;
            }
            if batch.base_offset > next {
                tracing::warn!(%tp, expected = next, got = batch.base_offset, "fetched batches skip offsets");
                break;
            }
            if batch.meta.flags & FLAG_CONTROL == 0 {
                for (offset, record) in batch.offsets() {
                    if offset < next {
                        continue;
                    }
                    if result.records.len() >= records_max {
                        // The poll is full: the next one resumes at this record.
                        next = offset;
                        break 'batches;
                    }
                    for interceptor in &self.interceptors {
                        if let Some(event) = interceptor.on_consume(tp, offset, record) {
                            result.events.push(event);
                        }
                    }
                    result.records.push(ConsumerRecord {
                        tp: tp.clone(),
                        offset,
                        record: record.clone(),
                    });
                }
            }
            next = batch.next_offset();
            if self.options.bugs.has(crate::bugs::Bug::ConsumerOffByOne) {
                // Planted bug: the position moves one past the end of each batch.
                next += 1;
            }
        }
        if let Some(position) = self.positions.get_mut(tp) {
            *position = Position::At(next);
        }
    }

    /// Commits `offsets` (the next offset to read, per partition) as the current member, or
    /// member-less after `assign`; answers once the commit is replicated.
    pub async fn commit(
        &mut self,
        offsets: Vec<(TopicPartition, u64)>,
    ) -> Result<(), ConsumerError> {
        let as_member = match self.subscription {
            Subscription::Topics(_) => true,
            Subscription::Manual | Subscription::None => false,
        };
        let member = self.member.as_mut().ok_or(ConsumerError::NoGroup)?;
        if as_member && member.needs_join() && member.identity().is_none() {
            return Err(ConsumerError::NotJoined);
        }
        member
            .commit(&mut self.cluster, offsets, as_member)
            .await
            .map_err(ConsumerError::from)
    }

    /// Commits the current position of every assigned partition that has one.
    pub async fn commit_position(&mut self) -> Result<(), ConsumerError> {
        let offsets = self
            .positions
            .iter()
            .filter_map(|(tp, position)| match position {
                Position::At(offset) => Some((tp.clone(), *offset)),
                _ => None,
            })
            .collect();
        self.commit(offsets).await
    }

    /// Leaves the group (its partitions move to the others at once) and drops the assignment.
    pub async fn close(&mut self) -> Result<(), ConsumerError> {
        self.positions.clear();
        self.subscription = Subscription::None;
        if let Some(member) = self.member.as_mut() {
            member.leave(&mut self.cluster).await?;
        }
        Ok(())
    }
}
