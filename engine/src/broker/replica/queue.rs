//! The replica as a bounded queue: its head (the first offset consumers may read, Kafka's
//! logStartOffset of KIP-107), the head's replication, `DeleteRecords` with compare-and-set,
//! and the capacity check on produce. No I/O but the head file; the server moves the bytes.
//!
//! Fault model: leaders lose power, followers lag or leave the ISR, leadership moves; the head
//! file's writes fail or its reads come back damaged. Invariants:
//! - The head only moves forward, and only after it is durable here (a failed write takes the
//!   replica offline, like a failed log write). A follower's head is at most its own log end.
//! - The *replicated head* is the smallest durable head among the ISR (the leader's own
//!   included; while an ISR change is being written, among the old and the proposed ISR, since
//!   the controller may elect from either). A `DeleteRecords` is acknowledged only once the
//!   replicated head covers it, so every replica a controller may elect already holds it: an
//!   acknowledged delete survives any leader change. A follower joins the ISR only with a head
//!   at least the replicated head, which keeps that true as the ISR grows.
//! - A `reject` partition counts its records from the replicated head, never the leader's own:
//!   deletes the leader made but never got acknowledged may be lost with it, and counting them
//!   could overfill the queue. A `drop-oldest` partition moves its head to make room, never past
//!   the high watermark, so no uncommitted record is dropped; its `acks=all` produces are
//!   acknowledged once the head they moved is replicated too.
//! - Consumers are served from the leader's own head. A delete (or drop) not yet replicated is
//!   visible at once on its leader, and may be undone if that leader is lost before it
//!   replicates — as a timed-out produce may be lost. Acknowledged ones never are.

use crate::broker::protocol::{BrokerError, BrokerId, Overflow, ReplicaFetch, TopicPartition};
use crate::broker::replica::{Ack, Replica, Role, Waiter};
use crate::storage::{HeadFile, StorageError};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::time::Instant;

/// `DeleteRecords` requests waiting for their head to replicate, per replica.
pub const DELETE_WAITERS_MAX: usize = 1_000;

/// The queue side of one replica.
#[derive(Debug)]
pub struct Queue {
    file: HeadFile,
    /// The head as stored durably in `file` (possibly clamped down to the log end).
    head: u64,
    /// Records held at most between the head and the log end; `None`: unbounded.
    pub capacity: Option<u64>,
    pub overflow: Overflow,
    /// Deletes waiting for the replicated head to reach the key.
    deletes: BTreeMap<u64, Vec<Ack>>,
    delete_count: usize,
}

impl Queue {
    /// The queue state of a replica whose head file is `file`; unbounded until the cluster
    /// view says otherwise.
    pub fn load(file: HeadFile) -> Result<Queue, StorageError> {
        let head = file.load()?;
        Ok(Queue {
            file,
            head,
            capacity: None,
            overflow: Overflow::Reject,
            deletes: BTreeMap::new(),
            delete_count: 0,
        })
    }

    /// Clamps the head to the log's end once the log is open.
    pub fn fit(&mut self, log_end: u64, tp: &TopicPartition) {
        if self.head > log_end {
            // The log lost records its head had covered (unsynced writes under a relaxed fsync
            // policy): the head cannot be past the end. A follower gets it back by fetching.
            tracing::warn!(%tp, head = self.head, log_end, "head beyond the log end; clamped");
            self.head = log_end;
        }
    }
}

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
        self.queue.head.max(self.log.start())
    }

    /// Takes the topic's bound from the cluster view.
    pub fn set_bound(&mut self, capacity: Option<u64>, overflow: Overflow) {
        self.queue.capacity = capacity;
        self.queue.overflow = overflow;
    }

    /// Makes `head` durable, then uses it. A failed write takes the replica offline: the file
    /// holds the old head or the new one, and neither may be reported.
    fn store_head(&mut self, head: u64) -> Result<(), BrokerError> {
        assert!(head >= self.queue.head, "the head only moves forward");
        assert!(head <= self.log.end(), "the head never passes the log end");
        if let Err(error) = self.queue.file.store(head) {
            let error = BrokerError::StorageError {
                reason: format!("storing the head: {error}"),
            };
            self.take_offline(&error);
            return Err(error);
        }
        self.queue.head = head;
        self.changed.notify_waiters();
        Ok(())
    }

    /// The smallest durable head among the replicas a controller may elect (the leader's own
    /// included); a follower that has not reported one yet counts as 0. Only a leader knows it;
    /// any other role answers its own head.
    pub fn replicated_head(&self) -> u64 {
        let Role::Leader(leadership) = &self.role else {
            return self.queue.head;
        };
        let mut head = self.queue.head;
        for member in leadership.electable() {
            if member == self.me {
                continue;
            }
            let reported = leadership.followers.get(&member).map_or(0, |p| p.head);
            head = head.min(reported);
        }
        head
    }

    /// Leader: a follower's fetch reported its durable head. Taken as is, even when lower than
    /// before (a restarted follower may have clamped it): the truth, not the best seen.
    pub(super) fn note_follower_head(&mut self, follower: BrokerId, head: u64) {
        if let Role::Leader(leadership) = &mut self.role {
            if let Some(progress) = leadership.followers.get_mut(&follower) {
                progress.head = head;
            }
        }
    }

    /// Follower: takes the leader's head (from a fetch response), up to its own log end, and
    /// stores it before its next fetch reports it.
    pub fn adopt_head(&mut self, leader_head: u64) -> Result<(), BrokerError> {
        self.check_online()?;
        let head = leader_head.min(self.log.end());
        if head <= self.queue.head {
            return Ok(());
        }
        self.store_head(head)
    }

    /// After truncation to `end`: a head past the end is clamped. A correct run never gets
    /// here (heads only cover committed records, and those are never truncated).
    pub(super) fn clamp_head(&mut self, end: u64) {
        if self.queue.head > end {
            tracing::warn!(tp = %self.tp, head = self.queue.head, end, "truncated below the head; clamped");
            self.queue.head = end;
        }
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
        self.check_online()?;
        let isr = self.leadership(now, expiry)?.isr.len() as u32;
        if isr < self.min_insync {
            return Err(BrokerError::NotEnoughReplicas {
                isr,
                min_insync: self.min_insync,
            });
        }
        let head = self.head();
        if expected_head.is_some_and(|expected| expected != head) {
            return Err(BrokerError::HeadMoved { head });
        }
        self.advance_hw();
        if before > self.hw {
            return Err(BrokerError::OffsetOutOfRange {
                offset: before,
                start: head,
                end: self.hw,
            });
        }
        let head = head.max(before);
        if head > self.queue.head {
            self.store_head(head)?;
        }
        if self.replicated_head() >= before {
            return Ok(Deleted::Done(head));
        }
        Ok(Deleted::Wait(head, self.delete_waiter(before)))
    }

    /// Resolves once the replicated head reaches `required`.
    fn delete_waiter(&mut self, required: u64) -> Waiter {
        let (sender, receiver) = oneshot::channel();
        if self.queue.delete_count >= DELETE_WAITERS_MAX {
            let _ = sender.send(Err(BrokerError::RequestTimedOut));
            return receiver;
        }
        self.queue.deletes.entry(required).or_default().push(sender);
        self.queue.delete_count += 1;
        assert!(self.queue.delete_count <= DELETE_WAITERS_MAX);
        receiver
    }

    /// Completes the deletes the replicated head now covers (as a produce's waiter, with
    /// `NotEnoughReplicasAfterAppend` if the ISR fell below `min_insync` meanwhile).
    pub(super) fn settle_deletes(&mut self) {
        if self.queue.deletes.is_empty() {
            return;
        }
        let Role::Leader(leadership) = &self.role else {
            return;
        };
        let enough = leadership.isr.len() as u32 >= self.min_insync;
        let replicated = self.replicated_head();
        let waiting = self.queue.deletes.split_off(&(replicated + 1));
        let done = std::mem::replace(&mut self.queue.deletes, waiting);
        for (_, senders) in done {
            for sender in senders {
                self.queue.delete_count -= 1;
                let outcome = if enough {
                    Ok(())
                } else {
                    Err(BrokerError::NotEnoughReplicasAfterAppend)
                };
                let _ = sender.send(outcome);
            }
        }
    }

    /// Fails every waiting delete (leadership lost, replica offline).
    pub(super) fn fail_deletes(&mut self, error: &BrokerError) {
        for (_, senders) in std::mem::take(&mut self.queue.deletes) {
            for sender in senders {
                let _ = sender.send(Err(error.clone()));
            }
        }
        self.queue.delete_count = 0;
    }

    /// The replicated head an `acks=all` produce waits for besides the high watermark: under
    /// `drop-oldest`, the head as it stands, so a record acknowledged behind a drop never comes
    /// back for consumers after a leader change; elsewhere none (produces move no head).
    pub(super) fn head_required(&self) -> u64 {
        match (self.queue.capacity, self.queue.overflow) {
            (Some(_), Overflow::DropOldest) => self.queue.head,
            _ => 0,
        }
    }

    /// Before appending `count` records as leader: refuses them (`QueueFull`) or, under
    /// `drop-oldest`, moves the head (durably) to make room.
    pub(super) fn make_room(&mut self, count: u64) -> Result<(), BrokerError> {
        let Some(capacity) = self.queue.capacity else {
            return Ok(());
        };
        let end = self.log.end() + count;
        let full = BrokerError::QueueFull { capacity };
        match self.queue.overflow {
            Overflow::Reject => {
                if end.saturating_sub(self.replicated_head()) > capacity {
                    return Err(full);
                }
                Ok(())
            }
            Overflow::DropOldest => {
                let needed = end.saturating_sub(capacity);
                if needed <= self.head() {
                    return Ok(());
                }
                self.advance_hw();
                if needed > self.hw {
                    // Making room would drop uncommitted records.
                    return Err(full);
                }
                self.store_head(needed)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::protocol::{Acks, FetchRequest, ProduceRequest};
    use crate::broker::replica::Produced;
    use crate::env::{Disk, DiskFault, DiskFaults, Mode};
    use crate::storage::{LogOptions, Record};

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
        replica.replicas = vec![1];
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
        replica.replicas = vec![1, 2];
        replica.min_insync = 2;
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
        replica.replicas = vec![1, 2];
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
