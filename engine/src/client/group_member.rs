//! A consumer's side of its group: finding the group coordinator, joining, heartbeating,
//! committing and fetching offsets, leaving. Every call goes to the coordinator it found and
//! finds it again when that broker stops coordinating.
//!
//! Fault model: the coordinator crashes, moves, is loading, or answers too late. Calls are
//! retried a bounded number of times, and only where a retry is harmless: a repeated commit
//! writes the same offsets, a repeated heartbeat or fetch changes nothing, a repeated join of a
//! new member leaves an orphan that times out. `UnknownMemberId` and `IllegalGeneration` are
//! never retried as is: the member joins again.

use crate::client::cluster::{ClusterClient, ClusterError};
use crate::env::NodeAddr;
use crate::wire::broker_protocol::{
    BrokerError, BrokerRequest, BrokerResponse, JoinGroupRequest, OffsetCommitRequest, Strategy,
    TopicPartition,
};
use std::time::Duration;
use tokio::time::Instant;

/// Attempts of one group call (each may first find the coordinator).
pub const CALL_ATTEMPTS_MAX: usize = 20;
/// Pause between attempts.
pub const RETRY_BACKOFF: Duration = Duration::from_millis(100);

#[derive(Debug, thiserror::Error)]
pub enum GroupError {
    /// No coordinator answered within the attempts.
    #[error("group {group}: no coordinator answered after {attempts} attempts: {last}")]
    CoordinatorUnavailable {
        group: String,
        attempts: usize,
        last: String,
    },
    /// The coordinator refused; the member's id or generation may be void.
    #[error("group {group}: {error}")]
    Refused { group: String, error: BrokerError },
    #[error("group {group}: unexpected answer {answer}")]
    Unexpected { group: String, answer: String },
}

/// The member's identity once joined.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub member_id: String,
    pub generation: u64,
}

/// What a heartbeat says the member must do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Beat {
    /// Nothing: the member is current (or no heartbeat was due).
    Current,
    /// Join again to learn the new assignment.
    Rejoin,
}

pub struct GroupMember {
    pub group: String,
    pub strategy: Strategy,
    pub session_timeout: Duration,
    pub heartbeat_interval: Duration,
    bootstrap: Vec<NodeAddr>,
    coordinator: Option<NodeAddr>,
    identity: Option<Identity>,
    /// Known to be out of date: the next poll joins before anything else.
    stale: bool,
    heartbeat_next: Instant,
}

impl GroupMember {
    pub fn new(
        group: String,
        strategy: Strategy,
        session_timeout: Duration,
        heartbeat_interval: Duration,
        bootstrap: Vec<NodeAddr>,
    ) -> GroupMember {
        GroupMember {
            group,
            strategy,
            session_timeout,
            heartbeat_interval,
            bootstrap,
            coordinator: None,
            identity: None,
            stale: true,
            heartbeat_next: Instant::now(),
        }
    }

    pub fn identity(&self) -> Option<&Identity> {
        self.identity.as_ref()
    }

    /// Whether the member must join (again) before it may fetch or commit as a member.
    pub fn needs_join(&self) -> bool {
        self.stale || self.identity.is_none()
    }

    /// The next poll joins again (under the current id), e.g. after a new subscription.
    pub fn mark_stale(&mut self) {
        self.stale = true;
    }

    /// Takes note of a refusal that voids the membership.
    pub fn observe(&mut self, error: &GroupError) {
        if let GroupError::Refused { error, .. } = error {
            match error {
                BrokerError::UnknownMemberId => {
                    self.identity = None;
                    self.stale = true;
                }
                BrokerError::IllegalGeneration { .. } | BrokerError::RebalanceInProgress { .. } => {
                    self.stale = true
                }
                _ => {}
            }
        }
    }

    fn refused(&self, error: BrokerError) -> GroupError {
        GroupError::Refused {
            group: self.group.clone(),
            error,
        }
    }

    fn unexpected(&self, answer: BrokerResponse) -> GroupError {
        GroupError::Unexpected {
            group: self.group.clone(),
            answer: format!("{answer:?}"),
        }
    }

    /// Asks known brokers, then the bootstrap list, who coordinates the group.
    async fn find(&mut self, cluster: &mut ClusterClient) -> Result<NodeAddr, String> {
        if let Some(addr) = &self.coordinator {
            return Ok(addr.clone());
        }
        let mut candidates: Vec<NodeAddr> = cluster
            .metadata()
            .map(|m| m.brokers.iter().map(|b| b.addr.clone()).collect())
            .unwrap_or_default();
        candidates.extend(self.bootstrap.iter().cloned());
        let mut last = String::from("no broker to ask");
        for addr in candidates {
            let request = BrokerRequest::FindCoordinator {
                group: self.group.clone(),
            };
            match cluster.call_broker(&addr, request).await {
                Ok(BrokerResponse::Coordinator { addr, .. }) => {
                    self.coordinator = Some(addr.clone());
                    return Ok(addr);
                }
                Ok(other) => last = format!("unexpected {other:?}"),
                Err(error) => last = error.to_string(),
            }
        }
        Err(last)
    }

    /// Sends `request` to the coordinator, retrying where the coordinator is missing, moving
    /// or loading.
    async fn call(
        &mut self,
        cluster: &mut ClusterClient,
        request: BrokerRequest,
    ) -> Result<BrokerResponse, GroupError> {
        let mut last = String::new();
        for attempt in 0..CALL_ATTEMPTS_MAX {
            if attempt > 0 {
                tokio::time::sleep(RETRY_BACKOFF).await;
            }
            let addr = match self.find(cluster).await {
                Ok(addr) => addr,
                Err(reason) => {
                    last = reason;
                    continue;
                }
            };
            match cluster.call_broker(&addr, request.clone()).await {
                Ok(response) => return Ok(response),
                Err(ClusterError::Broker(BrokerError::CoordinatorLoading)) => {
                    last = BrokerError::CoordinatorLoading.to_string();
                }
                Err(ClusterError::Broker(
                    error @ (BrokerError::NotCoordinator
                    | BrokerError::GroupCoordinatorNotAvailable
                    | BrokerError::RequestTimedOut
                    | BrokerError::NotEnoughReplicas { .. }
                    | BrokerError::NotEnoughReplicasAfterAppend
                    | BrokerError::StorageError { .. }
                    | BrokerError::OutcomeUnknown { .. }),
                )) => {
                    last = error.to_string();
                    self.coordinator = None;
                }
                Err(ClusterError::Broker(error)) => return Err(self.refused(error)),
                Err(error) => {
                    last = error.to_string();
                    self.coordinator = None;
                }
            }
        }
        Err(GroupError::CoordinatorUnavailable {
            group: self.group.clone(),
            attempts: CALL_ATTEMPTS_MAX,
            last,
        })
    }

    /// Joins (again, under the current id if there is one); returns the generation and this
    /// member's assignment.
    pub async fn join(
        &mut self,
        cluster: &mut ClusterClient,
        topics: &[String],
    ) -> Result<(u64, Vec<TopicPartition>), GroupError> {
        // At most twice: once more as a new member if the coordinator forgot this one.
        for _ in 0..2 {
            let request = BrokerRequest::JoinGroup(JoinGroupRequest {
                group: self.group.clone(),
                member_id: self.identity.as_ref().map(|i| i.member_id.clone()),
                topics: topics.to_vec(),
                strategy: self.strategy,
                session_timeout_ms: self.session_timeout.as_millis() as u64,
            });
            match self.call(cluster, request).await {
                Ok(BrokerResponse::Joined {
                    member_id,
                    generation,
                    assignment,
                }) => {
                    tracing::debug!(group = %self.group, %member_id, generation, ?assignment, "joined");
                    self.identity = Some(Identity {
                        member_id,
                        generation,
                    });
                    self.stale = false;
                    self.heartbeat_next = Instant::now() + self.heartbeat_interval;
                    return Ok((generation, assignment));
                }
                Ok(other) => return Err(self.unexpected(other)),
                Err(error) => {
                    let forgotten = matches!(
                        &error,
                        GroupError::Refused {
                            error: BrokerError::UnknownMemberId,
                            ..
                        }
                    );
                    self.observe(&error);
                    if !forgotten {
                        return Err(error);
                    }
                }
            }
        }
        Err(self.refused(BrokerError::UnknownMemberId))
    }

    /// Heartbeats if one is due. A transport failure is not a verdict: the member carries on
    /// until the coordinator says otherwise or its session lapses there.
    pub async fn heartbeat_if_due(&mut self, cluster: &mut ClusterClient) -> Beat {
        if self.needs_join() {
            return Beat::Rejoin;
        }
        if Instant::now() < self.heartbeat_next {
            return Beat::Current;
        }
        let Some(identity) = self.identity.clone() else {
            return Beat::Rejoin;
        };
        let request = BrokerRequest::Heartbeat {
            group: self.group.clone(),
            member_id: identity.member_id,
            generation: identity.generation,
        };
        let Some(addr) = self.find(cluster).await.ok() else {
            return Beat::Current;
        };
        self.heartbeat_next = Instant::now() + self.heartbeat_interval;
        match cluster.call_broker(&addr, request).await {
            Ok(_) => Beat::Current,
            Err(ClusterError::Broker(error)) => {
                let error = self.refused(error);
                self.observe(&error);
                if let GroupError::Refused { error, .. } = &error {
                    if error.is_retriable()
                        && !matches!(error, BrokerError::RebalanceInProgress { .. })
                    {
                        self.coordinator = None;
                    }
                }
                if self.needs_join() {
                    Beat::Rejoin
                } else {
                    Beat::Current
                }
            }
            Err(_) => {
                self.coordinator = None;
                Beat::Current
            }
        }
    }

    /// Commits as the current member (`as_member`), or member-less for manually assigned
    /// partitions. Answers once the commit is replicated.
    pub async fn commit(
        &mut self,
        cluster: &mut ClusterClient,
        offsets: Vec<(TopicPartition, u64)>,
        as_member: bool,
    ) -> Result<(), GroupError> {
        let (member_id, generation) = match (&self.identity, as_member) {
            (Some(identity), true) => (Some(identity.member_id.clone()), Some(identity.generation)),
            (None, true) => return Err(self.refused(BrokerError::UnknownMemberId)),
            (_, false) => (None, None),
        };
        let request = BrokerRequest::OffsetCommit(OffsetCommitRequest {
            group: self.group.clone(),
            member_id,
            generation,
            offsets,
        });
        match self.call(cluster, request).await {
            Ok(BrokerResponse::OffsetsCommitted) => Ok(()),
            Ok(other) => Err(self.unexpected(other)),
            Err(error) => {
                self.observe(&error);
                Err(error)
            }
        }
    }

    pub async fn committed(
        &mut self,
        cluster: &mut ClusterClient,
        partitions: Vec<TopicPartition>,
    ) -> Result<Vec<(TopicPartition, Option<u64>)>, GroupError> {
        let request = BrokerRequest::OffsetFetch {
            group: self.group.clone(),
            partitions,
        };
        match self.call(cluster, request).await? {
            BrokerResponse::OffsetsFetched { offsets } => Ok(offsets),
            other => Err(self.unexpected(other)),
        }
    }

    /// Leaves the group (bounded attempts; the session timeout covers a lost answer).
    pub async fn leave(&mut self, cluster: &mut ClusterClient) -> Result<(), GroupError> {
        let Some(identity) = self.identity.take() else {
            return Ok(());
        };
        self.stale = true;
        let request = BrokerRequest::LeaveGroup {
            group: self.group.clone(),
            member_id: identity.member_id,
        };
        match self.call(cluster, request).await {
            Ok(_) => Ok(()),
            Err(GroupError::Refused {
                error: BrokerError::UnknownMemberId,
                ..
            }) => Ok(()),
            Err(error) => Err(error),
        }
    }
}
