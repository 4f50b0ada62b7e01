//! Planted bugs: known mistakes from the field's history that `faultline run --bug NAME`
//! switches on, so the suite can show it catches them (a checker that never fires proves
//! nothing). Off by default; when off each costs one branch on a plain flag set. The set is
//! passed to nodes and clients through their options — never a global — so parallel runs and
//! replays stay independent.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Bug {
    /// The broker acknowledges records before they are fsynced (its log never syncs).
    AckBeforeFsync,
    /// With no in-sync replica alive, the controller elects any live replica.
    UncleanLeaderElection,
    /// The leader's high watermark ignores its followers: acks=all means "the leader has it".
    AcksAllWithoutReplication,
    /// The leader shrinks its ISR without recording the change in the coordinator.
    IsrShrinkUnrecorded,
    /// The broker ignores idempotent-producer sequence numbers (no dedup of retries).
    IdempotenceIgnored,
    /// Followers do not keep producer state, so a new leader cannot dedup retries.
    ProducerStateNotReplicated,
    /// Consumers may read records above the high watermark.
    ReadUncommitted,
    /// The consumer moves its position one past the end of every batch it reads.
    ConsumerOffByOne,
    /// The producer takes a fresh producer id for every retry.
    ProducerIdResetOnRetry,
    /// The transaction coordinator publishes a committed message without its idempotence
    /// stamp, so a repeated or resumed publication writes it again.
    TxnPublishNotIdempotent,
    /// The consumer commits its position before it processes what it polled.
    CommitBeforeProcessing,
    /// The token generator declares its bucket's topic without the capacity bound, so tokens
    /// pile up while demand is idle.
    TokenBucketUnbounded,
    /// The group coordinator accepts a commit from a current member whatever generation it
    /// names: no generation fencing.
    GenerationNotFenced,
    /// Log recovery trusts each batch's length prefix past the recovery point and skips its
    /// checksum, so a batch whose later blocks a power loss dropped (zeros) is kept.
    RecoveryTrustsLengths,
    /// The coordinator acknowledges a write before its WAL record is fsynced (its WAL never
    /// syncs), so a power loss takes acknowledged writes with it.
    CoordinatorAckBeforeWalSync,
    /// The controller keeps the partition's leader epoch when it elects a new leader, so two
    /// brokers lead one partition in one epoch and epoch fencing cannot tell them apart.
    LeaderEpochReused,
    /// The leader serves a fetch from a follower that names an older leader epoch instead of
    /// fencing it, so a follower that missed an election replicates without truncating first.
    StaleEpochFetchNotFenced,
    /// The broker grants producer ids from a counter it keeps in memory, from zero at every
    /// start, instead of the coordinator's durable sequence, so a restarted broker (or another
    /// broker) grants an id a producer already holds.
    ProducerIdNotPersisted,
    /// A new controller bumps the epoch it remembers (the last one it ruled in, zero after a
    /// start) instead of the persisted `/controller_epoch`, so a broker that rules for the
    /// first time, or again after a restart, takes an epoch an earlier controller held.
    ControllerEpochFromMemory,
}

impl Bug {
    pub const ALL: [Bug; 19] = [
        Bug::AckBeforeFsync,
        Bug::UncleanLeaderElection,
        Bug::AcksAllWithoutReplication,
        Bug::IsrShrinkUnrecorded,
        Bug::IdempotenceIgnored,
        Bug::ProducerStateNotReplicated,
        Bug::ReadUncommitted,
        Bug::CommitBeforeProcessing,
        Bug::ConsumerOffByOne,
        Bug::ProducerIdResetOnRetry,
        Bug::TxnPublishNotIdempotent,
        Bug::TokenBucketUnbounded,
        Bug::GenerationNotFenced,
        Bug::RecoveryTrustsLengths,
        Bug::CoordinatorAckBeforeWalSync,
        Bug::LeaderEpochReused,
        Bug::StaleEpochFetchNotFenced,
        Bug::ProducerIdNotPersisted,
        Bug::ControllerEpochFromMemory,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Bug::AckBeforeFsync => "ack-before-fsync",
            Bug::UncleanLeaderElection => "unclean-leader-election",
            Bug::AcksAllWithoutReplication => "acks-all-without-replication",
            Bug::IsrShrinkUnrecorded => "isr-shrink-unrecorded",
            Bug::IdempotenceIgnored => "idempotence-ignored",
            Bug::ProducerStateNotReplicated => "producer-state-not-replicated",
            Bug::ReadUncommitted => "read-uncommitted",
            Bug::CommitBeforeProcessing => "commit-before-processing",
            Bug::ConsumerOffByOne => "consumer-off-by-one",
            Bug::ProducerIdResetOnRetry => "producer-id-reset-on-retry",
            Bug::TxnPublishNotIdempotent => "txn-publish-not-idempotent",
            Bug::TokenBucketUnbounded => "token-bucket-unbounded",
            Bug::GenerationNotFenced => "generation-not-fenced",
            Bug::RecoveryTrustsLengths => "recovery-trusts-lengths",
            Bug::CoordinatorAckBeforeWalSync => "coordinator-ack-before-wal-sync",
            Bug::LeaderEpochReused => "leader-epoch-reused",
            Bug::StaleEpochFetchNotFenced => "stale-epoch-fetch-not-fenced",
            Bug::ProducerIdNotPersisted => "producer-id-not-persisted",
            Bug::ControllerEpochFromMemory => "controller-epoch-from-memory",
        }
    }

    /// What it breaks, in one sentence.
    pub fn breaks(self) -> &'static str {
        match self {
            Bug::AckBeforeFsync => "acknowledged records vanish when every replica loses power",
            Bug::UncleanLeaderElection => "a stale replica leads and acknowledged records are lost",
            Bug::AcksAllWithoutReplication => "acks=all records are lost when the leader fails",
            Bug::IsrShrinkUnrecorded => {
                "the controller elects a replica the leader already counted out; acknowledged records are lost"
            }
            Bug::IdempotenceIgnored => "retried sends are written twice",
            Bug::ProducerStateNotReplicated => "retries across a leader change are written twice",
            Bug::ReadUncommitted => "consumers read records a leader change later replaces",
            Bug::CommitBeforeProcessing => "a consumer crash skips messages it committed but never applied",
            Bug::ConsumerOffByOne => "consumers skip the first record of every batch after the first",
            Bug::ProducerIdResetOnRetry => "retried sends are written twice despite idempotence",
            Bug::TxnPublishNotIdempotent => "a committed transactional message becomes visible twice",
            Bug::TokenBucketUnbounded => {
                "the token bucket banks tokens beyond its capacity; a burst admits more than rate x window + capacity"
            }
            Bug::GenerationNotFenced => {
                "a member one generation behind commits offsets of partitions it no longer owns"
            }
            Bug::RecoveryTrustsLengths => {
                "after a power loss a replica keeps a batch with lost blocks, claims its offsets, and can never serve them"
            }
            Bug::CoordinatorAckBeforeWalSync => {
                "acknowledged znode writes vanish when the coordinator loses power; it restarts at an older state"
            }
            Bug::LeaderEpochReused => {
                "two brokers lead one partition in one leader epoch; a deposed leader's records pass as the new leader's"
            }
            Bug::StaleEpochFetchNotFenced => {
                "a follower that missed an election replicates from the new leader on top of its divergent tail"
            }
            Bug::ProducerIdNotPersisted => {
                "two producer identities share one producer id; the broker takes one's records for the other's retries"
            }
            Bug::ControllerEpochFromMemory => {
                "a new controller rules in an epoch an earlier one held; its partition-state writes pass as its predecessor's"
            }
        }
    }

    pub fn parse(name: &str) -> Option<Bug> {
        Bug::ALL.into_iter().find(|bug| bug.name() == name)
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

impl fmt::Display for Bug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of planted bugs; empty by default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Bugs(u32);

impl Bugs {
    pub const fn none() -> Bugs {
        Bugs(0)
    }

    pub fn with(self, bug: Bug) -> Bugs {
        Bugs(self.0 | bug.bit())
    }

    pub fn has(self, bug: Bug) -> bool {
        self.0 & bug.bit() != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Bug> {
        Bug::ALL.into_iter().filter(move |bug| self.has(*bug))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_sets_hold_what_was_added() {
        for bug in Bug::ALL {
            assert_eq!(Bug::parse(bug.name()), Some(bug));
        }
        let bugs = Bugs::none().with(Bug::ReadUncommitted);
        assert!(bugs.has(Bug::ReadUncommitted));
        assert!(!bugs.has(Bug::AckBeforeFsync));
        assert_eq!(bugs.iter().collect::<Vec<_>>(), vec![Bug::ReadUncommitted]);
    }
}
