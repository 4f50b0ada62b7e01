//! Answers to writes that wait for replication. A write that took effect on the leader and is
//! waiting for its followers may survive whatever ends the wait — a new leader that already
//! fetched it — so the wait ends "outcome unknown", never with a refusal the producer would
//! take as "not written" (queue swarm seed 1066: a read's `CorruptRecord` reached a waiting
//! produce, the producer reused its sequence, and the next record was acknowledged at the
//! written one's offset).

use super::*;
use crate::env::{DiskFault, DiskFaults, Mode};
use crate::storage::{LogOptions, Record};
use crate::wire::broker_protocol::{Acks, FetchRequest, ProduceRequest, ReplicaFetch};

const EXPIRY: Duration = Duration::from_secs(3600);

fn leader_with_a_waiting_write() -> (tempfile::TempDir, DiskFaults, Replica, Waiter) {
    let root = tempfile::tempdir().expect("temporary directory");
    let faults = DiskFaults::new();
    let disk = Disk::open(Mode::Real, root.path().to_path_buf(), faults.clone()).expect("disk");
    let now = Instant::now();
    let tp = TopicPartition::new("orders", 0);
    let mut replica =
        Replica::open(&disk, tp.clone(), 1, LogOptions::default(), now).expect("open");
    replica.set_replicas(vec![1, 2, 3]);
    replica.set_min_insync(2);
    replica.become_leader(1, &[1, 2, 3], 0, now);
    let request = ProduceRequest {
        tp,
        acks: Acks::All,
        timeout_ms: 0,
        records: vec![Record::value(vec![7])],
        producer: None,
        flags: 0,
    };
    let waiter = match replica.produce(request, now, EXPIRY).expect("appended") {
        Produced::Wait(response, waiter) => {
            assert_eq!(response.base_offset, 0);
            waiter
        }
        Produced::Done(_) => panic!("acks=all with two followers behind must wait"),
    };
    (root, faults, replica, waiter)
}

fn answer(mut waiter: Waiter) -> BrokerError {
    match waiter.try_recv() {
        Ok(Err(error)) => error,
        other => panic!("the waiter should have been failed, got {other:?}"),
    }
}

#[test]
fn a_write_waiting_when_the_replica_goes_offline_has_an_unknown_outcome() {
    let (_root, faults, mut replica, waiter) = leader_with_a_waiting_write();
    // A follower fetches what is there (the written record) while reads are corrupted: the
    // leader's read fails and takes the replica offline.
    faults.inject(DiskFault::ReadCorruption);
    let fetch = FetchRequest {
        tp: replica.tp.clone(),
        offset: 0,
        max_bytes: u64::MAX,
        max_wait_ms: 0,
        replica: Some(ReplicaFetch {
            broker: 2,
            leader_epoch: 1,
            log_start: 0,
        }),
    };
    assert!(replica.fetch(&fetch, Instant::now(), EXPIRY).is_err());
    assert!(replica.is_offline());
    let error = answer(waiter);
    assert!(
        matches!(error, BrokerError::OutcomeUnknown { .. }),
        "got {error:?}"
    );
    assert!(error.may_have_been_written() && error.is_retriable());
}

#[test]
fn a_write_waiting_when_leadership_moves_has_an_unknown_outcome() {
    let (_root, _faults, mut replica, waiter) = leader_with_a_waiting_write();
    replica.become_follower(Some(2), 2, Instant::now());
    let error = answer(waiter);
    assert!(
        matches!(error, BrokerError::OutcomeUnknown { .. }),
        "got {error:?}"
    );
    assert!(error.may_have_been_written());
}

#[test]
fn only_refusals_before_the_append_say_not_written() {
    let refusals = [
        BrokerError::NotLeader { leader_hint: None },
        BrokerError::NotEnoughReplicas {
            isr: 1,
            min_insync: 2,
        },
        BrokerError::QueueFull { capacity: 3 },
        BrokerError::OutOfOrderSequence {
            expected: 1,
            got: 2,
        },
    ];
    for refusal in refusals {
        assert!(!refusal.may_have_been_written(), "{refusal:?}");
    }
    let unknowns = [
        BrokerError::CorruptRecord {
            reason: "checksum".into(),
        },
        BrokerError::StorageError {
            reason: "EIO".into(),
        },
        BrokerError::RequestTimedOut,
        BrokerError::NotEnoughReplicasAfterAppend,
        BrokerError::OutcomeUnknown {
            reason: "the replica went offline".into(),
        },
    ];
    for unknown in unknowns {
        assert!(unknown.may_have_been_written(), "{unknown:?}");
    }
}
