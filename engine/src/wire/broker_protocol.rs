//! The broker's requests, responses and errors, carried by `wire::Request::Broker` and
//! `wire::Response::Broker`. Append-only enums (postcard encodes variant indexes).

use crate::env::NodeAddr;
use crate::storage::Record;
use serde::{Deserialize, Serialize};
use std::fmt;

pub type BrokerId = u32;

/// A partition of a topic; written `topic/partition` everywhere (history keys, logs, paths).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TopicPartition {
    pub topic: String,
    pub partition: u32,
}

impl TopicPartition {
    pub fn new(topic: impl Into<String>, partition: u32) -> TopicPartition {
        TopicPartition {
            topic: topic.into(),
            partition,
        }
    }

    /// The directory of this partition's log on a broker's disk.
    pub fn dir_name(&self) -> String {
        format!("{}-{}", self.topic, self.partition)
    }
}

impl fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.topic, self.partition)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Acks {
    /// The producer does not wait (the broker still answers; the client ignores it).
    None,
    /// The leader answers after its own append (synced per its fsync policy).
    Leader,
    /// The leader answers once every in-sync replica has the records and the ISR has at least
    /// `min_insync` members.
    All,
}

/// Idempotent-producer fields of a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProducerStamp {
    pub producer_id: u64,
    pub producer_epoch: u32,
    pub base_sequence: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProduceRequest {
    pub tp: TopicPartition,
    pub acks: Acks,
    /// How long the leader may wait for replication before answering `RequestTimedOut`.
    pub timeout_ms: u64,
    pub records: Vec<Record>,
    pub producer: Option<ProducerStamp>,
    pub flags: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProduceResponse {
    pub base_offset: u64,
    pub last_offset: u64,
    pub leader_epoch: u64,
}

/// Present when a follower fetches: who it is and which leader epoch it follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicaFetch {
    pub broker: BrokerId,
    pub leader_epoch: u64,
    /// The follower's own durable head: the leader counts it towards the replicated head.
    pub log_start: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchRequest {
    pub tp: TopicPartition,
    pub offset: u64,
    pub max_bytes: u64,
    /// How long the leader may wait for data when there is none.
    pub max_wait_ms: u64,
    pub replica: Option<ReplicaFetch>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchResponse {
    pub high_watermark: u64,
    /// The partition's head: the first offset a consumer may still read (records below it were
    /// consumed, purged or dropped). Followers take it as their own head.
    pub log_start: u64,
    pub log_end: u64,
    pub leader_epoch: u64,
    /// Encoded record batches, checksums included, so a follower verifies them end to end.
    /// Consumers get only records below the high watermark.
    #[serde(with = "crate::storage::byte_string::list")]
    pub batches: Vec<Vec<u8>>,
}

/// A follower asks where the leader's log ends for an epoch (KIP-101 / KIP-279).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpochEndRequest {
    pub tp: TopicPartition,
    pub epoch: u64,
    /// The leader epoch the follower believes is current, for fencing.
    pub current_leader_epoch: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpochEndResponse {
    /// The largest epoch at or below the requested one that the leader knows, if any.
    pub epoch: Option<u64>,
    /// Where that epoch's records end on the leader.
    pub end_offset: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerInfo {
    pub id: BrokerId,
    pub addr: NodeAddr,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionMetadata {
    pub partition: u32,
    pub leader: Option<BrokerId>,
    pub leader_epoch: u64,
    pub replicas: Vec<BrokerId>,
    pub isr: Vec<BrokerId>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicMetadata {
    pub name: String,
    pub min_insync: u32,
    pub partitions: Vec<PartitionMetadata>,
    /// Records each partition holds at most between its head and its end; `None`: unbounded.
    pub capacity: Option<u64>,
    pub overflow: Overflow,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetadataResponse {
    pub brokers: Vec<BrokerInfo>,
    pub controller: Option<BrokerId>,
    pub topics: Vec<TopicMetadata>,
}

/// The most records a bounded partition may be created to hold.
pub const CAPACITY_MAX: u64 = 10_000_000;

/// What a bounded partition does with a produce that does not fit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Overflow {
    /// Refuse it with `QueueFull`; nothing is written.
    #[default]
    Reject,
    /// Move the head past the oldest records to make room (never past the high watermark:
    /// uncommitted records are not dropped); refuse with `QueueFull` if even that is not enough.
    DropOldest,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateTopicRequest {
    pub name: String,
    pub partitions: u32,
    pub replication: u32,
    pub min_insync: u32,
    /// Records each partition holds at most between its head and its end, in
    /// `1..=CAPACITY_MAX`; `None`: unbounded.
    pub capacity: Option<u64>,
    pub overflow: Overflow,
}

/// How a group's coordinator spreads partitions over its members. Both are deterministic over
/// sorted member ids and sorted partitions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Strategy {
    /// Per topic, contiguous ranges of partitions; the first members get one extra.
    Range,
    /// Every subscribed partition in order, dealt to the members in turn.
    RoundRobin,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinGroupRequest {
    pub group: String,
    /// `None` for a new member; the coordinator names it.
    pub member_id: Option<String>,
    pub topics: Vec<String>,
    pub strategy: Strategy,
    pub session_timeout_ms: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OffsetCommitRequest {
    pub group: String,
    /// Both `None`: a consumer with manually assigned partitions, allowed only while the group
    /// has no members (Kafka's "simple consumer").
    pub member_id: Option<String>,
    pub generation: Option<u64>,
    /// The next offset to read, per partition.
    pub offsets: Vec<(TopicPartition, u64)>,
}

/// A transaction's decision (RocketMQ's commit / rollback of a half message).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Decision {
    /// The message becomes visible in its target partition, exactly once.
    Commit,
    /// The message never becomes visible.
    Rollback,
}

/// Why a transaction was decided; recorded with the decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DecisionReason {
    /// The producer sent `EndTxn`.
    Producer,
    /// A producer of the group answered a check-back from its local transaction record.
    CheckBack,
    /// `unknowns` check-backs in a row were answered unknown (the half's `check_max`).
    CheckMaxExceeded { unknowns: u32 },
}

/// A producer's local transaction record: what its local transaction did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LocalOutcome {
    Commit,
    Rollback,
    /// Not known (yet): the coordinator asks again later.
    Unknown,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendHalfRequest {
    /// Unique in the cluster; routes the transaction to `__txn_half` partition
    /// `txn_topic::partition_for(txn_id)`.
    pub txn_id: String,
    /// Producers of this group answer the transaction's check-backs.
    pub producer_group: String,
    /// Where the message becomes visible on commit.
    pub target: TopicPartition,
    pub record: Record,
    /// How long the transaction may stay undecided before (and between) check-backs.
    pub check_after_ms: u64,
    /// Unknown answers to check-backs after which the transaction is rolled back.
    pub check_max: u32,
}

/// A transaction as its coordinator knows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TxnStatus {
    /// No decision yet; `unknowns` check-backs were answered unknown (since this coordinator
    /// loaded the transaction: the count is not durable).
    Undecided { unknowns: u32 },
    Decided {
        decision: Decision,
        reason: DecisionReason,
        /// The message's offset in its target partition once it is visible (commits only).
        published: Option<u64>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BrokerRequest {
    Produce(ProduceRequest),
    Fetch(FetchRequest),
    EpochEnd(EpochEndRequest),
    /// `None`: every topic.
    Metadata {
        topics: Option<Vec<String>>,
    },
    CreateTopic(CreateTopicRequest),
    /// This broker's own copy of a partition, whatever its role (diagnostics and ground truth).
    DumpLog {
        tp: TopicPartition,
        offset: u64,
        max_bytes: u64,
    },
    /// Allocates a producer id, unique in the cluster across restarts.
    InitProducerId,
    /// Which broker coordinates `group` (the leader of its `__consumer_offsets` partition).
    /// Any broker answers; the first ask creates the offsets topic.
    FindCoordinator {
        group: String,
    },
    JoinGroup(JoinGroupRequest),
    Heartbeat {
        group: String,
        member_id: String,
        generation: u64,
    },
    LeaveGroup {
        group: String,
        member_id: String,
    },
    /// Answered once the commit is replicated (acks=all on the offsets partition).
    OffsetCommit(OffsetCommitRequest),
    OffsetFetch {
        group: String,
        partitions: Vec<TopicPartition>,
    },
    /// Which broker coordinates the transactions of `__txn_half` partition `partition` (its
    /// leader). Any broker answers, with `Coordinator`; the first ask creates the topic.
    FindTxnCoordinator {
        partition: u32,
    },
    /// Stores a half message (invisible) on the transaction's coordinator; answered once it is
    /// replicated. Repeating it for the same `txn_id` answers the original offset.
    SendHalf(SendHalfRequest),
    /// The producer's decision. Answered once the decision is replicated (and, for a commit,
    /// once the message is visible, if that happens within the request's time). A transaction
    /// already decided answers its recorded decision, whatever this request says.
    EndTxn {
        txn_id: String,
        decision: Decision,
    },
    /// Long-polls for the undecided transactions of `producer_group` on this `__txn_half`
    /// partition that are due for a check-back; answered with `CheckBacks` (maybe empty).
    PollCheckBacks {
        producer_group: String,
        partition: u32,
        max_wait_ms: u64,
    },
    /// A producer's answer to a check-back, read from its local transaction record.
    CheckBackAnswer {
        txn_id: String,
        local: LocalOutcome,
    },
    /// The transaction's status as its coordinator knows it (replicated state only).
    DescribeTxn {
        txn_id: String,
    },
    /// Moves the partition's head to at least `before` (KIP-107's DeleteRecords): records below
    /// it are never served to consumers again. With `expected_head`, a compare-and-set: nothing
    /// changes unless the leader's head is exactly that. Answered with `RecordsDeleted` once
    /// every in-sync replica holds the new head durably, so it survives any leader change.
    DeleteRecords {
        tp: TopicPartition,
        before: u64,
        expected_head: Option<u64>,
        timeout_ms: u64,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BrokerResponse {
    Produced(ProduceResponse),
    Fetched(FetchResponse),
    EpochEnd(EpochEndResponse),
    Metadata(MetadataResponse),
    TopicCreated,
    Error(BrokerError),
    Log(LogDump),
    ProducerId {
        producer_id: u64,
        producer_epoch: u32,
    },
    Coordinator {
        broker: BrokerId,
        addr: NodeAddr,
    },
    Joined {
        member_id: String,
        generation: u64,
        assignment: Vec<TopicPartition>,
    },
    HeartbeatAccepted,
    Left,
    OffsetsCommitted,
    /// The committed offset of each requested partition, `None` where nothing was committed.
    OffsetsFetched {
        offsets: Vec<(TopicPartition, Option<u64>)>,
    },
    /// The half message is stored and replicated at this offset of its `__txn_half` partition.
    HalfStored {
        offset: u64,
    },
    /// Answers `EndTxn`, `CheckBackAnswer` and `DescribeTxn`.
    Txn(TxnStatus),
    /// Transactions to check back, at most `txn::CHECK_BACKS_PER_POLL_MAX`.
    CheckBacks {
        txn_ids: Vec<String>,
    },
    /// Answers `DeleteRecords`: the head that delete left (at least its `before`), replicated.
    RecordsDeleted {
        head: u64,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogDump {
    pub log_end: u64,
    pub high_watermark: u64,
    pub leader_epoch: Option<u64>,
    #[serde(with = "crate::storage::byte_string::list")]
    pub batches: Vec<Vec<u8>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum BrokerError {
    #[error("this broker does not lead the partition (leader hint: {leader_hint:?})")]
    NotLeader { leader_hint: Option<BrokerId> },
    #[error("the in-sync replicas {isr} are fewer than min_insync {min_insync}")]
    NotEnoughReplicas { isr: u32, min_insync: u32 },
    /// Written on the leader but the ISR shrank below min_insync before it was replicated:
    /// the outcome is unknown to the producer.
    #[error("appended, but the in-sync replicas fell below min_insync before it replicated")]
    NotEnoughReplicasAfterAppend,
    #[error("unknown topic or partition")]
    UnknownTopicOrPartition,
    /// Written on the leader but not acknowledged in time: the outcome is unknown.
    #[error("timed out waiting for replication")]
    RequestTimedOut,
    #[error("corrupt record: {reason}")]
    CorruptRecord { reason: String },
    #[error("storage failed; the partition is offline on this broker: {reason}")]
    StorageError { reason: String },
    #[error("the request's leader epoch is older than the current {current}")]
    FencedLeaderEpoch { current: u64 },
    #[error("the request's leader epoch is newer than this broker knows")]
    UnknownLeaderEpoch,
    #[error("offset {offset} is outside [{start}, {end}]")]
    OffsetOutOfRange { offset: u64, start: u64, end: u64 },
    #[error("topic already exists")]
    TopicExists,
    #[error("invalid request: {reason}")]
    InvalidRequest { reason: String },
    #[error("out of order sequence: expected {expected}, got {got}")]
    OutOfOrderSequence { expected: u32, got: u32 },
    #[error("the coordinator is unavailable")]
    CoordinatorUnavailable,
    /// This broker does not coordinate the group (it does not lead the group's offsets
    /// partition, or its leadership is unconfirmed): find the coordinator again.
    #[error("this broker is not the group's coordinator; find the coordinator again")]
    NotCoordinator,
    /// The coordinator is replaying its offsets partition after becoming its leader.
    #[error("the group coordinator is loading its groups from the log; retry shortly")]
    CoordinatorLoading,
    #[error("unknown member id: join the group again as a new member")]
    UnknownMemberId,
    /// The request's generation is not the group's: the member missed a rebalance.
    #[error("illegal generation (current {current}): join the group again")]
    IllegalGeneration { current: u64 },
    /// The group moved to `generation`; the member keeps its id but must join again to learn
    /// its new assignment.
    #[error("the group rebalanced to generation {generation}: join again")]
    RebalanceInProgress { generation: u64 },
    /// The group's offsets partition has no leader yet (or the offsets topic is being created).
    #[error("no group coordinator is available yet; retry shortly")]
    GroupCoordinatorNotAvailable,
    /// The coordinator knows no transaction of this id (never stored, or forgotten long after
    /// it was decided).
    #[error("unknown transaction id")]
    UnknownTransaction,
    /// The coordinator's partition holds its maximum of transactions; retry later.
    #[error("too many open transactions on this coordinator; retry later")]
    TooManyTransactions,
    /// The transaction's `__txn_half` partition has no leader yet (or the topic is being
    /// created); retry shortly.
    #[error("no transaction coordinator is available yet; retry shortly")]
    TxnCoordinatorNotAvailable,
    /// A bounded partition refused the produce: it holds its capacity (counted from the
    /// replicated head). Definitely not written; retry after its records are deleted.
    #[error("the partition is full (capacity {capacity} records); nothing was written")]
    QueueFull { capacity: u64 },
    /// A compare-and-set `DeleteRecords` expected another head; nothing was deleted.
    #[error("the partition's head is {head}, not the expected one; nothing was deleted")]
    HeadMoved { head: u64 },
    /// The request took effect on this broker (a record appended, a head moved, a group or
    /// transaction record written) and was waiting for its replication when the replica lost
    /// its leadership or went offline (`reason`). It may survive on another replica or vanish:
    /// the outcome is unknown, never a refusal. Retry (an idempotent retry finds its original
    /// offsets) or report it as unknown.
    #[error("applied on this broker, then {reason} before it replicated; the outcome is unknown")]
    OutcomeUnknown { reason: String },
}

impl BrokerError {
    /// Whether the client should refresh metadata and/or retry. For consumer groups: retriable
    /// errors leave the member's identity valid — retry after finding the coordinator again
    /// (`NotCoordinator`, `GroupCoordinatorNotAvailable`), after a pause (`CoordinatorLoading`),
    /// or after rejoining under the same member id (`RebalanceInProgress`). `UnknownMemberId` and
    /// `IllegalGeneration` are not: the member's id or generation is void, so the request is
    /// never retried as is — the member joins again (as a new member after `UnknownMemberId`).
    pub fn is_retriable(&self) -> bool {
        matches!(
            self,
            BrokerError::NotLeader { .. }
                | BrokerError::NotEnoughReplicas { .. }
                | BrokerError::NotEnoughReplicasAfterAppend
                | BrokerError::UnknownTopicOrPartition
                | BrokerError::RequestTimedOut
                | BrokerError::StorageError { .. }
                | BrokerError::FencedLeaderEpoch { .. }
                | BrokerError::UnknownLeaderEpoch
                | BrokerError::CoordinatorUnavailable
                | BrokerError::NotCoordinator
                | BrokerError::CoordinatorLoading
                | BrokerError::RebalanceInProgress { .. }
                | BrokerError::GroupCoordinatorNotAvailable
                | BrokerError::TooManyTransactions
                | BrokerError::TxnCoordinatorNotAvailable
                | BrokerError::OutcomeUnknown { .. }
        )
    }

    /// Whether a produce (or delete) that failed this way may still have been written (and be
    /// read later). Conservative by construction: only the refusals a broker gives *before* it
    /// touches the log are definite; every other error — a storage or corruption error, a
    /// timeout, a waiter failed after the append — may have been written. A definite answer
    /// for a write that happened is an aborted read waiting to be found (queue swarm seed
    /// 1066); an unknown answer for a refused one costs only a fresh producer id.
    pub fn may_have_been_written(&self) -> bool {
        !matches!(
            self,
            BrokerError::NotLeader { .. }
                | BrokerError::NotEnoughReplicas { .. }
                | BrokerError::UnknownTopicOrPartition
                | BrokerError::FencedLeaderEpoch { .. }
                | BrokerError::UnknownLeaderEpoch
                | BrokerError::OffsetOutOfRange { .. }
                | BrokerError::InvalidRequest { .. }
                | BrokerError::OutOfOrderSequence { .. }
                | BrokerError::QueueFull { .. }
                | BrokerError::HeadMoved { .. }
        )
    }
}
