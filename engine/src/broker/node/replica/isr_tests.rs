//! The high watermark while an ISR change is in flight: a member being added counts for
//! acknowledgements from the moment it is proposed until the coordinator's answer (or a read of
//! its state) settles the change, because the controller may already elect it.

use super::*;
use crate::env::{Disk, DiskFaults, Mode};
use crate::storage::{LogOptions, Record};
use crate::wire::broker_protocol::{Acks, FetchRequest, ProduceRequest, ReplicaFetch};

const EXPIRY: Duration = Duration::from_secs(3600);

fn produce(replica: &mut Replica, count: usize) {
    let request = ProduceRequest {
        tp: replica.tp.clone(),
        acks: Acks::Leader,
        timeout_ms: 0,
        records: (0..count).map(|i| Record::value(vec![i as u8])).collect(),
        producer: None,
        flags: 0,
    };
    replica
        .produce(request, Instant::now(), EXPIRY)
        .expect("produce");
}

fn follower_fetch(replica: &mut Replica, broker: BrokerId, offset: u64) {
    let request = FetchRequest {
        tp: replica.tp.clone(),
        offset,
        max_bytes: u64::MAX,
        max_wait_ms: 0,
        replica: Some(ReplicaFetch {
            broker,
            leader_epoch: 1,
            log_start: 0,
        }),
    };
    replica
        .fetch(&request, Instant::now(), EXPIRY)
        .expect("fetch");
}

#[test]
fn a_member_being_added_holds_the_high_watermark_until_the_change_settles() {
    let root = tempfile::tempdir().expect("temporary directory");
    let disk = Disk::open(Mode::Real, root.path().to_path_buf(), DiskFaults::new()).expect("disk");
    let now = Instant::now();
    let tp = TopicPartition::new("orders", 0);
    let mut replica =
        Replica::open(&disk, tp.clone(), 1, LogOptions::default(), now).expect("open");
    replica.set_replicas(vec![1, 2, 3]);
    replica.set_min_insync(2);
    replica.become_leader(1, &[1, 2], 0, now);
    produce(&mut replica, 5);
    follower_fetch(&mut replica, 2, 5);
    follower_fetch(&mut replica, 3, 5);
    assert_eq!(replica.high_watermark(), 5);

    replica.propose_isr(&IsrProposal {
        tp: tp.clone(),
        epoch: 1,
        expected_version: 0,
        isr: vec![1, 2, 3],
    });
    produce(&mut replica, 3);
    follower_fetch(&mut replica, 2, 8);
    assert_eq!(
        replica.high_watermark(),
        5,
        "broker 3 may be elected as soon as the change lands: it must hold what is acknowledged"
    );
    replica.isr_change_failed();
    follower_fetch(&mut replica, 2, 8);
    assert_eq!(
        replica.high_watermark(),
        5,
        "an unknown outcome still counts broker 3"
    );

    // The coordinator's state, read back: the write did not land (same version).
    replica.reconcile_isr(&[1, 2], 0, Instant::now());
    assert_eq!(replica.high_watermark(), 8);

    // A later write whose answer was lost did land: the leader takes the coordinator's ISR.
    replica.reconcile_isr(&[1, 2, 3], 1, Instant::now());
    produce(&mut replica, 1);
    follower_fetch(&mut replica, 2, 9);
    assert_eq!(replica.high_watermark(), 8, "broker 3 is in the ISR now");
    follower_fetch(&mut replica, 3, 9);
    assert_eq!(replica.high_watermark(), 9);
}
