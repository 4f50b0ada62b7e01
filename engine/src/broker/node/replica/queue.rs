//! The replica as a bounded queue, as the node runs it: the head file, `DeleteRecords` and
//! the head a follower takes from its leader. The rules (and their invariants: the head only
//! moves forward and only once durable, deletes acknowledged once the replicated head covers
//! them, the bound on produce) are the core's (`broker::core::head`).

pub use crate::broker::core::DELETE_WAITERS_MAX;

use crate::broker::core::{DeleteStep, Effect};
use crate::broker::node::replica::{Replica, Waiter};
use crate::wire::broker_protocol::{BrokerError, Overflow, ReplicaFetch};
use std::time::Duration;
use tokio::time::Instant;

/// What a `DeleteRecords` needs next: nothing, or waiting for its head to replicate.
pub enum Deleted {
    /// The head this delete left, already replicated.
    Done(u64),
    Wait(u64, Waiter),
}

/// Whether a follower's fetch carries news about the head, so a long poll answers at once:
/// the leader's head is past the one the follower reported, and the follower can take some
/// of it (its head may not pass its own log end, which is the fetch offset).
pub fn head_news(replica: Option<&ReplicaFetch>, fetch_offset: u64, leader_head: u64) -> bool {
    replica.is_some_and(|replica| leader_head.min(fetch_offset) > replica.log_start)
}

impl Replica {
    /// The first offset consumers may read: the head, or the log's physical start if later.
    pub fn head(&self) -> u64 {
        self.core.head(self.facts())
    }

    /// Takes the topic's bound from the cluster view.
    pub fn set_bound(&mut self, capacity: Option<u64>, overflow: Overflow) {
        self.core.set_bound(capacity, overflow);
    }

    /// Makes `head` durable, then uses it. A failed write takes the replica offline: the file
    /// holds the old head or the new one, and neither may be reported.
    pub(super) fn store_head(
        &mut self,
        head: u64,
        effects: &mut Vec<Effect>,
    ) -> Result<(), BrokerError> {
        let log = self.facts();
        self.core.check_head_move(head, log);
        if let Err(error) = self.head_file.store(head) {
            let error = BrokerError::StorageError {
                reason: format!("storing the head: {error}"),
            };
            self.take_offline(&error, effects);
            return Err(error);
        }
        self.core.set_head(head, log, effects);
        Ok(())
    }

    /// The smallest durable head among the replicas a controller may elect (the leader's own
    /// included); see the core.
    pub fn replicated_head(&self) -> u64 {
        self.core.replicated_head()
    }

    /// Follower: takes the leader's head (from a fetch response), up to its own log end, and
    /// stores it before its next fetch reports it.
    pub fn adopt_head(&mut self, leader_head: u64) -> Result<(), BrokerError> {
        let Some(head) = self.core.adopt_head(leader_head, self.facts())? else {
            return Ok(());
        };
        let mut effects = Vec::new();
        let stored = self.store_head(head, &mut effects);
        self.run(effects);
        stored
    }

    /// Moves the head to at least `before` (leader only), compare-and-set on `expected_head`.
    /// Checked in order: leadership, ISR size, expected head, `before` within the high watermark.
    pub fn delete_records(
        &mut self,
        before: u64,
        expected_head: Option<u64>,
        now: Instant,
        expiry: Duration,
    ) -> Result<Deleted, BrokerError> {
        let mut effects = Vec::new();
        let result = self.delete_with(before, expected_head, now, expiry, &mut effects);
        let deleted = result.map(|step| match step {
            DeleteStep::Done(head) => Deleted::Done(head),
            DeleteStep::Wait(head, id) => Deleted::Wait(head, self.waiter(id)),
        });
        self.run(effects);
        deleted
    }

    fn delete_with(
        &mut self,
        before: u64,
        expected_head: Option<u64>,
        now: Instant,
        expiry: Duration,
        effects: &mut Vec<Effect>,
    ) -> Result<DeleteStep, BrokerError> {
        let log = self.facts();
        let admission = self
            .core
            .admit_delete(before, expected_head, log, now, expiry, effects)?;
        if admission.moves {
            self.store_head(admission.head, effects)?;
        }
        Ok(self.core.delete_step(before, admission.head, effects))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::node::replica::Produced;
    use crate::env::{Disk, DiskFault, DiskFaults, Mode};
    use crate::storage::{LogOptions, Record};
    use crate::wire::broker_protocol::TopicPartition;
    use crate::wire::broker_protocol::{Acks, FetchRequest, ProduceRequest};

    const EXPIRY: Duration = Duration::from_secs(3600);

    fn disk(root: &std::path::Path) -> (Disk, DiskFaults) {
        let faults = DiskFaults::new();
        let disk = Disk::open(Mode::Real, root.to_path_buf(), faults.clone()).expect("disk");
        (disk, faults)
    }

    /// A leader alone in its ISR (`min_insync` 1), so the high watermark follows its appends.
    fn leader(disk: &Disk, capacity: Option<u64>, overflow: Overflow) -> Replica {
        let now = Instant::now();
        let tp = TopicPartition::new("q", 0);
        let mut replica = Replica::open(disk, tp, 1, LogOptions::default(), now).expect("open");
        replica.set_replicas(vec![1]);
        replica.set_bound(capacity, overflow);
        replica.become_leader(1, &[1], 0, now);
        replica
    }

    fn produce(replica: &mut Replica, count: usize) -> Result<u64, BrokerError> {
        let request = ProduceRequest {
            tp: replica.tp.clone(),
            acks: Acks::Leader,
            timeout_ms: 0,
            records: (0..count).map(|i| Record::value(vec![i as u8])).collect(),
            producer: None,
            flags: 0,
        };
        match replica.produce(request, Instant::now(), EXPIRY)? {
            Produced::Done(response) | Produced::Wait(response, _) => Ok(response.base_offset),
        }
    }

    fn delete(
        replica: &mut Replica,
        before: u64,
        expected: Option<u64>,
    ) -> Result<u64, BrokerError> {
        match replica.delete_records(before, expected, Instant::now(), EXPIRY)? {
            Deleted::Done(head) => Ok(head),
            Deleted::Wait(..) => panic!("a leader alone in its ISR answers at once"),
        }
    }

    fn consumer_fetch(replica: &mut Replica, offset: u64) -> Result<u64, BrokerError> {
        let request = FetchRequest {
            tp: replica.tp.clone(),
            offset,
            max_bytes: u64::MAX,
            max_wait_ms: 0,
            replica: None,
        };
        Ok(replica.fetch(&request, Instant::now(), EXPIRY)?.log_start)
    }

    #[test]
    fn reject_refuses_at_capacity_and_accepts_after_a_delete() {
        let root = tempfile::tempdir().expect("temporary directory");
        let (disk, _) = disk(root.path());
        let mut replica = leader(&disk, Some(3), Overflow::Reject);
        assert_eq!(produce(&mut replica, 2), Ok(0));
        assert_eq!(
            produce(&mut replica, 2),
            Err(BrokerError::QueueFull { capacity: 3 })
        );
        assert_eq!(produce(&mut replica, 1), Ok(2));
        assert_eq!(replica.log_end(), 3, "the refused batch was not written");
        assert_eq!(delete(&mut replica, 2, Some(0)), Ok(2));
        assert_eq!(produce(&mut replica, 2), Ok(3));
        assert_eq!(
            consumer_fetch(&mut replica, 1),
            Err(BrokerError::OffsetOutOfRange {
                offset: 1,
                start: 2,
                end: 5
            })
        );
        assert_eq!(consumer_fetch(&mut replica, 2), Ok(2));
    }

    #[test]
    fn compare_and_set_lets_exactly_one_of_two_deletes_win() {
        let root = tempfile::tempdir().expect("temporary directory");
        let (disk, _) = disk(root.path());
        let mut replica = leader(&disk, None, Overflow::Reject);
        produce(&mut replica, 10).expect("produce");
        assert_eq!(delete(&mut replica, 4, Some(0)), Ok(4));
        assert_eq!(
            delete(&mut replica, 5, Some(0)),
            Err(BrokerError::HeadMoved { head: 4 })
        );
        assert_eq!(
            delete(&mut replica, 2, None),
            Ok(4),
            "the head never goes back"
        );
        assert!(matches!(
            delete(&mut replica, 11, None),
            Err(BrokerError::OffsetOutOfRange { offset: 11, .. })
        ));
    }

    #[test]
    fn drop_oldest_moves_the_head_and_never_past_the_high_watermark() {
        let root = tempfile::tempdir().expect("temporary directory");
        let (disk, _) = disk(root.path());
        let mut replica = leader(&disk, Some(4), Overflow::DropOldest);
        produce(&mut replica, 4).expect("produce");
        assert_eq!(produce(&mut replica, 3), Ok(4));
        assert_eq!(replica.head(), 3);
        assert_eq!(replica.log_end() - replica.head(), 4);
        assert_eq!(
            produce(&mut replica, 5),
            Err(BrokerError::QueueFull { capacity: 4 }),
            "a batch larger than the capacity never fits"
        );
        assert_eq!(replica.head(), 3, "a refused produce drops nothing");
    }

    #[test]
    fn the_head_survives_reopening_and_a_failed_store_takes_the_replica_offline() {
        let root = tempfile::tempdir().expect("temporary directory");
        let (disk, faults) = disk(root.path());
        let mut replica = leader(&disk, None, Overflow::Reject);
        produce(&mut replica, 10).expect("produce");
        assert_eq!(delete(&mut replica, 6, None), Ok(6));
        let reopened = leader(&disk, None, Overflow::Reject);
        assert_eq!(reopened.head(), 6);
        faults.inject(DiskFault::FsyncError);
        assert!(matches!(
            delete(&mut replica, 8, None),
            Err(BrokerError::StorageError { .. })
        ));
        assert!(replica.is_offline());
    }

    /// A follower's fetch at `offset`, reporting `head`.
    fn follower_fetch(replica: &mut Replica, offset: u64, head: u64) -> u64 {
        let request = FetchRequest {
            tp: replica.tp.clone(),
            offset,
            max_bytes: u64::MAX,
            max_wait_ms: 0,
            replica: Some(ReplicaFetch {
                broker: 2,
                leader_epoch: 1,
                log_start: head,
            }),
        };
        let response = replica
            .fetch(&request, Instant::now(), EXPIRY)
            .expect("fetch");
        response.log_start
    }

    /// A leader with one follower (broker 2) in its ISR, `min_insync` 2.
    fn leader_with_follower(disk: &Disk, capacity: Option<u64>, overflow: Overflow) -> Replica {
        let now = Instant::now();
        let tp = TopicPartition::new("q", 0);
        let mut replica = Replica::open(disk, tp, 1, LogOptions::default(), now).expect("open");
        replica.set_replicas(vec![1, 2]);
        replica.set_min_insync(2);
        replica.set_bound(capacity, overflow);
        replica.become_leader(1, &[1, 2], 0, now);
        replica
    }

    #[test]
    fn a_delete_is_acknowledged_once_the_follower_reports_the_head() {
        let root = tempfile::tempdir().expect("temporary directory");
        let (disk, _) = disk(root.path());
        let mut replica = leader_with_follower(&disk, Some(6), Overflow::Reject);
        produce(&mut replica, 6).expect("produce");
        follower_fetch(&mut replica, 6, 0);
        assert_eq!(replica.high_watermark(), 6);
        let Ok(Deleted::Wait(4, mut waiter)) =
            replica.delete_records(4, Some(0), Instant::now(), EXPIRY)
        else {
            panic!("the delete waits for the follower");
        };
        assert!(
            waiter.try_recv().is_err(),
            "not acknowledged before replication"
        );
        assert_eq!(
            produce(&mut replica, 1),
            Err(BrokerError::QueueFull { capacity: 6 }),
            "room counts from the replicated head, not the leader's own"
        );
        let leader_head = follower_fetch(&mut replica, 6, 0);
        assert_eq!(leader_head, 4, "the fetch response carries the head");
        assert!(
            waiter.try_recv().is_err(),
            "the follower has not stored it yet"
        );
        follower_fetch(&mut replica, 6, 3);
        assert!(waiter.try_recv().is_err(), "3 does not cover 4");
        follower_fetch(&mut replica, 6, 4);
        assert_eq!(waiter.try_recv(), Ok(Ok(())));
        assert_eq!(replica.replicated_head(), 4);
        assert_eq!(produce(&mut replica, 4), Ok(6));
    }

    #[test]
    fn drop_oldest_refuses_rather_than_drop_uncommitted_records() {
        let root = tempfile::tempdir().expect("temporary directory");
        let (disk, _) = disk(root.path());
        let mut replica = leader_with_follower(&disk, Some(4), Overflow::DropOldest);
        produce(&mut replica, 4).expect("produce");
        assert_eq!(
            replica.high_watermark(),
            0,
            "the follower has fetched nothing"
        );
        assert_eq!(
            produce(&mut replica, 1),
            Err(BrokerError::QueueFull { capacity: 4 })
        );
        assert_eq!(replica.head(), 0);
        follower_fetch(&mut replica, 4, 0);
        assert_eq!(produce(&mut replica, 1), Ok(4));
        assert_eq!(replica.head(), 1);
    }

    #[test]
    fn a_dropping_produce_is_acknowledged_once_its_head_is_replicated() {
        let root = tempfile::tempdir().expect("temporary directory");
        let (disk, _) = disk(root.path());
        let mut replica = leader_with_follower(&disk, Some(4), Overflow::DropOldest);
        produce(&mut replica, 4).expect("produce");
        follower_fetch(&mut replica, 4, 0);
        let request = ProduceRequest {
            tp: replica.tp.clone(),
            acks: Acks::All,
            timeout_ms: 0,
            records: vec![Record::value(vec![4])],
            producer: None,
            flags: 0,
        };
        let Ok(Produced::Wait(_, mut waiter)) = replica.produce(request, Instant::now(), EXPIRY)
        else {
            panic!("an acks=all produce waits for its follower");
        };
        assert_eq!(replica.head(), 1);
        follower_fetch(&mut replica, 5, 0);
        assert_eq!(replica.high_watermark(), 5);
        assert!(
            waiter.try_recv().is_err(),
            "the record is replicated, the drop is not"
        );
        follower_fetch(&mut replica, 5, 1);
        assert_eq!(waiter.try_recv(), Ok(Ok(())));
    }

    #[test]
    fn a_follower_joins_the_isr_only_holding_the_replicated_head() {
        let root = tempfile::tempdir().expect("temporary directory");
        let (disk, _) = disk(root.path());
        let now = Instant::now();
        let tp = TopicPartition::new("q", 0);
        let mut replica = Replica::open(&disk, tp, 1, LogOptions::default(), now).expect("open");
        replica.set_replicas(vec![1, 2]);
        replica.become_leader(1, &[1], 0, now);
        produce(&mut replica, 5).expect("produce");
        delete(&mut replica, 3, None).expect("delete");
        follower_fetch(&mut replica, 5, 0);
        assert_eq!(
            replica.isr_proposal(Instant::now(), Duration::from_secs(1)),
            None,
            "caught up on the log but not on the head"
        );
        follower_fetch(&mut replica, 5, 3);
        let proposal = replica.isr_proposal(Instant::now(), Duration::from_secs(1));
        assert_eq!(proposal.map(|p| p.isr), Some(vec![1, 2]));
    }

    #[test]
    fn a_follower_takes_the_leaders_head_up_to_its_own_end() {
        let root = tempfile::tempdir().expect("temporary directory");
        let (disk, _) = disk(root.path());
        let mut replica = leader(&disk, None, Overflow::Reject);
        produce(&mut replica, 5).expect("produce");
        replica.become_follower(Some(2), 2, Instant::now());
        replica.adopt_head(9).expect("adopt");
        assert_eq!(replica.head(), 5, "at most the follower's own log end");
        replica.adopt_head(3).expect("adopt");
        assert_eq!(replica.head(), 5, "the head never goes back");
        assert!(head_news(
            Some(&ReplicaFetch {
                broker: 2,
                leader_epoch: 2,
                log_start: 3
            }),
            5,
            9
        ));
        assert!(!head_news(
            Some(&ReplicaFetch {
                broker: 2,
                leader_epoch: 2,
                log_start: 5
            }),
            5,
            9
        ));
    }
}
