//! Group commit at the replica: an acks=all write under `fsync: always` is answered only after
//! a group sync that covers it succeeded, one sync covers every write appended before it, and a
//! failed group sync answers the writes it would have covered "outcome unknown".

use super::*;
use crate::env::{DiskFault, DiskFaults, Mode};
use crate::storage::{GroupSync, LogOptions, Record};
use crate::wire::broker_protocol::{Acks, ProduceRequest};

const EXPIRY: Duration = Duration::from_secs(3600);

/// A leader alone in its ISR (so only its own durability holds the high watermark back).
fn lone_leader(grouped: bool) -> (tempfile::TempDir, DiskFaults, Replica, Arc<Notify>) {
    let root = tempfile::tempdir().expect("temporary directory");
    let faults = DiskFaults::new();
    let disk = Disk::open(Mode::Real, root.path().to_path_buf(), faults.clone()).expect("disk");
    let now = Instant::now();
    let tp = TopicPartition::new("orders", 0);
    let mut replica = Replica::open(&disk, tp, 1, LogOptions::default(), now).expect("open");
    let wanted = Arc::new(Notify::new());
    if grouped {
        replica.join_group_commit(wanted.clone());
    }
    replica.set_replicas(vec![1]);
    replica.set_min_insync(1);
    replica.become_leader(1, &[1], 0, Instant::now());
    (root, faults, replica, wanted)
}

fn produce(replica: &mut Replica, acks: Acks, value: u8) -> Produced {
    let request = ProduceRequest {
        tp: replica.tp.clone(),
        acks,
        timeout_ms: 0,
        records: vec![Record::value(vec![value])],
        producer: None,
        flags: 0,
    };
    replica
        .produce(request, Instant::now(), EXPIRY)
        .expect("appended")
}

fn waiting(produced: Produced) -> Waiter {
    match produced {
        Produced::Wait(_, waiter) => waiter,
        Produced::Done(_) => panic!("an unsynced acks=all write must wait for its group sync"),
    }
}

#[test]
fn writes_wait_for_the_one_sync_that_covers_them_all() {
    let (_root, _faults, mut replica, wanted) = lone_leader(true);
    let mut waiters: Vec<Waiter> = (0..3)
        .map(|value| waiting(produce(&mut replica, Acks::All, value)))
        .collect();
    assert_eq!((replica.synced_end(), replica.log_end()), (0, 3));
    assert_eq!(
        replica.high_watermark(),
        0,
        "nothing unsynced is acknowledged"
    );
    for waiter in &mut waiters {
        assert!(waiter.try_recv().is_err(), "answered before its sync");
    }
    // The appends woke the loop (a kept permit).
    let woken = wanted.notified();
    tokio::pin!(woken);
    assert!(woken.as_mut().enable(), "the appends ask for a sync");
    let lagging = replica.sync_group();
    assert_eq!((replica.synced_end(), replica.high_watermark()), (3, 3));
    for mut waiter in waiters {
        assert!(
            matches!(waiter.try_recv(), Ok(Ok(()))),
            "answered by the sync"
        );
    }
    // The recovery point rode on the sync with the previous end (0); idle, it catches up.
    assert!(lagging, "the recovery point trails by one group");
    assert!(!replica.sync_group(), "caught up once nothing is pending");
}

#[test]
fn a_failed_group_sync_answers_its_writes_outcome_unknown() {
    let (_root, faults, mut replica, _wanted) = lone_leader(true);
    let mut waiter = waiting(produce(&mut replica, Acks::All, 1));
    faults.inject(DiskFault::FsyncError);
    assert!(!replica.sync_group());
    assert!(replica.is_offline());
    assert_eq!(replica.high_watermark(), 0);
    match waiter.try_recv() {
        Ok(Err(error)) => assert!(error.may_have_been_written(), "got {error:?}"),
        other => panic!("the write must be answered outcome unknown, got {other:?}"),
    }
}

#[test]
fn acks_one_and_brokers_without_the_loop_sync_before_answering() {
    let (_root, _faults, mut grouped, _wanted) = lone_leader(true);
    assert!(matches!(
        produce(&mut grouped, Acks::Leader, 1),
        Produced::Done(_)
    ));
    assert_eq!(
        grouped.synced_end(),
        1,
        "acks=1 is synced before its answer"
    );
    let (_root, _faults, mut alone, _wanted) = lone_leader(false);
    assert!(matches!(
        produce(&mut alone, Acks::All, 1),
        Produced::Done(_)
    ));
    assert_eq!(
        alone.synced_end(),
        1,
        "without group commit each append syncs"
    );
    assert!(
        !alone.sync_group(),
        "the loop leaves a replica outside it alone"
    );
}

#[test]
fn a_former_leader_waits_for_its_pending_group_before_it_fetches_as_a_follower() {
    let (_root, _faults, mut replica, _wanted) = lone_leader(true);
    let _waiter = waiting(produce(&mut replica, Acks::All, 1));
    replica.become_follower(Some(2), 2, Instant::now());
    assert_eq!(replica.synced_end(), 0, "the loop has not run yet");
    assert!(
        matches!(replica.fetch_from(), FetchFrom::AfterSync(_)),
        "the fetch offset is durable before it is sent"
    );
    replica.sync_group();
    assert!(matches!(replica.fetch_from(), FetchFrom::Offset(1)));
}

#[test]
fn writes_appended_while_a_group_syncs_wait_for_the_next_group() {
    let (_root, _faults, mut replica, _wanted) = lone_leader(true);
    let mut first = waiting(produce(&mut replica, Acks::All, 1));
    let mut group = [replica.begin_group_sync().expect("something to sync")];
    // The broker's lock is released here: another write comes in before the sync ends.
    let mut second = waiting(produce(&mut replica, Acks::All, 2));
    GroupSync::finish_all(&mut group);
    let [group] = group;
    replica.finish_group_sync(group);
    assert_eq!((replica.synced_end(), replica.log_end()), (1, 2));
    assert_eq!(replica.high_watermark(), 1, "only what the sync covered");
    assert!(matches!(first.try_recv(), Ok(Ok(()))));
    assert!(
        second.try_recv().is_err(),
        "not covered: waits for the next group"
    );
    replica.sync_group();
    assert_eq!(replica.high_watermark(), 2);
    assert!(matches!(second.try_recv(), Ok(Ok(()))));
}

#[test]
fn a_sync_failing_after_the_lock_was_released_answers_every_write_it_covered_outcome_unknown() {
    let (_root, faults, mut replica, _wanted) = lone_leader(true);
    let mut waiters: Vec<Waiter> = (0..2)
        .map(|value| waiting(produce(&mut replica, Acks::All, value)))
        .collect();
    let mut group = [replica.begin_group_sync().expect("something to sync")];
    faults.inject(DiskFault::FsyncError);
    GroupSync::finish_all(&mut group);
    let [group] = group;
    assert!(!replica.finish_group_sync(group));
    assert!(replica.is_offline());
    assert_eq!((replica.synced_end(), replica.high_watermark()), (0, 0));
    for mut waiter in waiters.drain(..) {
        match waiter.try_recv() {
            Ok(Err(error)) => assert!(error.may_have_been_written(), "got {error:?}"),
            other => panic!("the write must be answered outcome unknown, got {other:?}"),
        }
    }
}
