//! Bounded partitions and `DeleteRecords` in a simulated cluster: a `reject` queue refuses
//! produces at capacity until records are deleted (an idempotent producer carries on), a
//! `drop-oldest` queue moves its head and consumers see the jump as a reset, compare-and-set
//! deletes race with exactly one winner, and acknowledged deletes survive the leader's power
//! loss, the broker's own restart, and a disk returning damaged reads.

use super::cluster_sim::{bootstrap, broker_name, cluster_client, ClusterSpec, SimCluster};
use engine::broker::protocol::{CreateTopicRequest, Overflow, TopicPartition};
use engine::broker::{Acks, BrokerError};
use engine::client::{
    ClusterClient, ClusterClientOptions, ClusterError, Consumer, ConsumerOptions, PositionReset,
    Producer, ProducerOptions, SendError,
};
use engine::env::{DiskFault, DiskFaultKind, Net};
use engine::storage::{FsyncPolicy, Record};
use std::time::Duration;

/// Attempts a test makes at most while waiting for the cluster to answer.
const ATTEMPTS_MAX: usize = 400;
const PAUSE: Duration = Duration::from_millis(50);

fn cluster(seed: u64, torn_block_bytes: Option<u64>) -> SimCluster {
    SimCluster::new(ClusterSpec {
        seed,
        brokers: 3,
        fsync: FsyncPolicy::Always,
        torn_block_bytes,
    })
}

struct Topic {
    name: &'static str,
    replication: u32,
    min_insync: u32,
    capacity: Option<u64>,
    overflow: Overflow,
}

async fn create(client: &mut ClusterClient, topic: &Topic) -> TopicPartition {
    for _ in 0..ATTEMPTS_MAX {
        let request = CreateTopicRequest {
            name: topic.name.into(),
            partitions: 1,
            replication: topic.replication,
            min_insync: topic.min_insync,
            capacity: topic.capacity,
            overflow: topic.overflow,
        };
        match client.create_topic(request).await {
            Ok(()) | Err(ClusterError::Broker(BrokerError::TopicExists)) => break,
            Err(_) => tokio::time::sleep(PAUSE).await,
        }
    }
    client
        .await_leaders(topic.name, ATTEMPTS_MAX, PAUSE)
        .await
        .expect("leaders elected");
    TopicPartition::new(topic.name, 0)
}

fn record(value: u32) -> Vec<Record> {
    vec![Record::value(value.to_be_bytes())]
}

/// Produces one record (acks=all), retrying retriable failures; returns its offset, or the
/// error that is not worth retrying.
async fn produce(
    client: &mut ClusterClient,
    tp: &TopicPartition,
    value: u32,
) -> Result<u64, ClusterError> {
    let mut last = ClusterError::NoMetadata;
    for _ in 0..ATTEMPTS_MAX {
        match client.produce(tp, record(value), Acks::All, None).await {
            Ok(response) => return Ok(response.base_offset),
            Err(ClusterError::Broker(error)) if !error.is_retriable() => return Err(error.into()),
            Err(error) => last = error,
        }
        tokio::time::sleep(PAUSE).await;
    }
    Err(last)
}

/// A `DeleteRecords` retried while the cluster cannot answer (no leader, transport errors);
/// returns the first answer that is not worth retrying.
async fn delete(
    client: &mut ClusterClient,
    tp: &TopicPartition,
    before: u64,
    expected_head: Option<u64>,
) -> Result<u64, BrokerError> {
    for _ in 0..ATTEMPTS_MAX {
        match client.delete_records(tp, before, expected_head).await {
            Ok(head) => return Ok(head),
            Err(ClusterError::Broker(error)) if !error.is_retriable() => return Err(error),
            Err(_) => tokio::time::sleep(PAUSE).await,
        }
    }
    panic!("no leader answered DeleteRecords for {tp}");
}

/// One consumer fetch at offset 0: the partition's head and log end as the leader says, or
/// `None` if no leader answered.
async fn try_bounds(client: &mut ClusterClient, tp: &TopicPartition) -> Option<(u64, u64)> {
    match client.fetch(tp, 0).await {
        Ok(response) => Some((response.log_start, response.log_end)),
        Err(ClusterError::Broker(BrokerError::OffsetOutOfRange { start, end, .. })) => {
            Some((start, end))
        }
        Err(_) => None,
    }
}

async fn bounds(client: &mut ClusterClient, tp: &TopicPartition) -> (u64, u64) {
    for _ in 0..ATTEMPTS_MAX {
        if let Some(bounds) = try_bounds(client, tp).await {
            return bounds;
        }
        tokio::time::sleep(PAUSE).await;
    }
    panic!("no leader answered a fetch of {tp}");
}

fn queue_full(error: &ClusterError) -> bool {
    matches!(error, ClusterError::Broker(BrokerError::QueueFull { .. }))
}

#[test]
fn a_full_reject_partition_refuses_until_records_are_deleted() {
    let mut cluster = cluster(31, None);
    cluster.sim.client("client", async move {
        let mut client = cluster_client(3);
        let topic = Topic {
            name: "bucket",
            replication: 3,
            min_insync: 2,
            capacity: Some(5),
            overflow: Overflow::Reject,
        };
        let tp = create(&mut client, &topic).await;
        let metadata = client.refresh_metadata().await?.clone();
        let described = metadata.topics.iter().find(|t| t.name == "bucket");
        assert_eq!(
            described.map(|t| (t.capacity, t.overflow)),
            Some((Some(5), Overflow::Reject))
        );
        for value in 0..5 {
            assert_eq!(produce(&mut client, &tp, value).await?, u64::from(value));
        }
        let refused = produce(&mut client, &tp, 5).await;
        assert!(
            matches!(&refused, Err(error) if queue_full(error)),
            "{refused:?}"
        );
        // Followers hear of the head at once (their long polls answer early), so the delete
        // is replicated in a few round trips, not in a long poll (100 ms).
        let started = tokio::time::Instant::now();
        assert_eq!(delete(&mut client, &tp, 2, Some(0)).await, Ok(2));
        let took = started.elapsed();
        assert!(took < Duration::from_millis(50), "the delete took {took:?}");
        assert_eq!(produce(&mut client, &tp, 6).await?, 5);
        assert_eq!(produce(&mut client, &tp, 7).await?, 6);
        assert!(produce(&mut client, &tp, 8)
            .await
            .is_err_and(|e| queue_full(&e)));
        assert_eq!(bounds(&mut client, &tp).await, (2, 7));

        // An idempotent producer: a refusal is a definite failure that leaves its sequence
        // usable, so its next batch after a delete is accepted (no OutOfOrderSequence).
        let options = ProducerOptions {
            idempotent: true,
            ..ProducerOptions::default()
        };
        let producer = Producer::new(Net::Sim, bootstrap(3), options, Vec::new());
        let refused = producer
            .send(&tp, Record::value(100u32.to_be_bytes()))
            .await;
        assert!(
            matches!(&refused, Err(SendError::Failed(reason)) if reason.contains("full")),
            "{refused:?}"
        );
        assert_eq!(delete(&mut client, &tp, 7, Some(2)).await, Ok(7));
        for (i, value) in (101u32..106).enumerate() {
            let sent = producer.send(&tp, Record::value(value.to_be_bytes())).await;
            assert_eq!(sent.map(|m| m.offset), Ok(Some(7 + i as u64)));
        }
        let refused = producer
            .send(&tp, Record::value(106u32.to_be_bytes()))
            .await;
        assert!(matches!(refused, Err(SendError::Failed(_))), "{refused:?}");
        assert_eq!(delete(&mut client, &tp, 10, None).await, Ok(10));
        let sent = producer
            .send(&tp, Record::value(107u32.to_be_bytes()))
            .await;
        assert_eq!(sent.map(|m| m.offset), Ok(Some(12)));
        assert_eq!(bounds(&mut client, &tp).await, (10, 13));
        Ok(())
    });
    cluster.run();
}

#[test]
fn a_drop_oldest_partition_moves_its_head_and_consumers_see_the_reset() {
    const CAPACITY: u64 = 10;
    let mut cluster = cluster(32, None);
    cluster.sim.client("client", async move {
        let mut client = cluster_client(3);
        let topic = Topic {
            name: "ring",
            replication: 3,
            min_insync: 2,
            capacity: Some(CAPACITY),
            overflow: Overflow::DropOldest,
        };
        let tp = create(&mut client, &topic).await;
        for value in 0..25 {
            assert_eq!(produce(&mut client, &tp, value).await?, u64::from(value));
            let (head, end) = bounds(&mut client, &tp).await;
            assert!(
                end - head <= CAPACITY,
                "{head}..{end} holds more than {CAPACITY}"
            );
        }
        assert_eq!(bounds(&mut client, &tp).await, (15, 25));

        let mut consumer = Consumer::new(
            Net::Sim,
            bootstrap(3),
            ConsumerOptions::default(),
            Vec::new(),
        );
        consumer.assign(vec![tp.clone()])?;
        let (mut resets, mut offsets) = (Vec::new(), Vec::new());
        for _ in 0..ATTEMPTS_MAX {
            let polled = consumer.poll().await?;
            resets.extend(polled.resets);
            offsets.extend(polled.records.iter().map(|r| r.offset));
            if offsets.last() == Some(&24) {
                break;
            }
        }
        assert_eq!(
            offsets,
            (15..25).collect::<Vec<u64>>(),
            "nothing below the head is served"
        );
        assert_eq!(
            resets,
            vec![PositionReset {
                tp: tp.clone(),
                from: 0,
                to: 15
            }]
        );

        // The consumer sits at 25 while the head passes it.
        for value in 25..45 {
            produce(&mut client, &tp, value).await?;
        }
        let (mut resets, mut offsets) = (Vec::new(), Vec::new());
        for _ in 0..ATTEMPTS_MAX {
            let polled = consumer.poll().await?;
            resets.extend(polled.resets);
            offsets.extend(polled.records.iter().map(|r| r.offset));
            if offsets.last() == Some(&44) {
                break;
            }
        }
        assert_eq!(
            resets,
            vec![PositionReset {
                tp: tp.clone(),
                from: 25,
                to: 35
            }]
        );
        assert_eq!(offsets, (35..45).collect::<Vec<u64>>());
        Ok(())
    });
    cluster.run();
}

#[test]
fn of_two_compare_and_set_deletes_on_one_head_exactly_one_wins() {
    let mut cluster = cluster(33, None);
    cluster.sim.client("client", async move {
        let mut client = cluster_client(3);
        let topic = Topic {
            name: "cas",
            replication: 3,
            min_insync: 2,
            capacity: None,
            overflow: Overflow::Reject,
        };
        let tp = create(&mut client, &topic).await;
        for value in 0..10 {
            produce(&mut client, &tp, value).await?;
        }
        let mut other = cluster_client(3);
        other.refresh_metadata().await?;
        let (a, b) = tokio::join!(
            client.delete_records(&tp, 3, Some(0)),
            other.delete_records(&tp, 6, Some(0)),
        );
        let (won, lost) = match (a, b) {
            (Ok(head), Err(lost)) | (Err(lost), Ok(head)) => (head, lost),
            (a, b) => panic!("exactly one delete wins: {a:?}, {b:?}"),
        };
        assert!(won == 3 || won == 6);
        assert!(
            matches!(lost, ClusterError::Broker(BrokerError::HeadMoved { head }) if head == won),
            "{lost:?}"
        );
        assert_eq!(bounds(&mut client, &tp).await.0, won);
        Ok(())
    });
    cluster.run();
}

/// The token-bucket case. Deletes acknowledged by the leader, then one more that its followers
/// cannot hear of (they are cut off while it waits), then the leader loses power. The new
/// leader's head must cover every acknowledged delete: a compare-and-set at the head before
/// the last acknowledged delete must fail with `HeadMoved`, and nothing below it is served.
fn deletes_survive_the_leaders_power_loss(seed: u64) {
    const CAPACITY: u64 = 40;
    let mut cluster = cluster(seed, Some(64));
    let control = cluster.control.clone();
    cluster.sim.client("client", async move {
        let mut client = cluster_client(3);
        let topic = Topic {
            name: "tokens",
            replication: 3,
            min_insync: 2,
            capacity: Some(CAPACITY),
            overflow: Overflow::Reject,
        };
        let tp = create(&mut client, &topic).await;
        for value in 0..CAPACITY as u32 {
            produce(&mut client, &tp, value).await?;
        }
        assert!(produce(&mut client, &tp, 99)
            .await
            .is_err_and(|e| queue_full(&e)));
        // (head before, head after) of the last acknowledged delete.
        let mut acked = (0, 0);
        for before in (5..=35).step_by(5) {
            let head = delete(&mut client, &tp, before, Some(acked.1)).await;
            assert_eq!(
                head,
                Ok(before),
                "seed {seed}: an undisturbed delete succeeds"
            );
            acked = (acked.1, before);
        }
        let leader = client.leader(&tp).expect("a leader").0;
        let followers: Vec<String> = (1..=3)
            .filter(|id| *id != leader)
            .map(broker_name)
            .collect();
        let leader = broker_name(leader);
        for follower in &followers {
            turmoil::partition(leader.as_str(), follower.as_str());
        }
        let options = ClusterClientOptions {
            produce_timeout: Duration::from_millis(300),
            ..ClusterClientOptions::default()
        };
        let mut hasty = ClusterClient::new(Net::Sim, bootstrap(3), options);
        hasty.refresh_metadata().await?;
        match hasty.delete_records(&tp, 40, Some(acked.1)).await {
            Ok(head) => acked = (acked.1, head),
            Err(error) => tracing::info!(seed, %error, "the cut-off delete was not acknowledged"),
        }
        control.borrow_mut().crash.push(leader.clone());
        tokio::time::sleep(Duration::from_millis(10)).await;
        for follower in &followers {
            turmoil::repair(leader.as_str(), follower.as_str());
        }
        let cas = delete(&mut client, &tp, 0, Some(acked.0)).await;
        assert!(
            matches!(cas, Err(BrokerError::HeadMoved { head }) if head >= acked.1),
            "seed {seed}: the new leader lost an acknowledged delete to {}: {cas:?}",
            acked.1
        );
        let (head, end) = bounds(&mut client, &tp).await;
        assert!(
            head >= acked.1,
            "seed {seed}: head {head} < acknowledged {}",
            acked.1
        );
        assert!(end - head <= CAPACITY);
        control.borrow_mut().bounce.push(leader);
        // The bucket refills to its capacity on the new leader, and no further.
        let mut value = 1000;
        loop {
            match produce(&mut client, &tp, value).await {
                Ok(_) => value += 1,
                Err(error) if queue_full(&error) => break,
                Err(error) => panic!("seed {seed}: {error}"),
            }
            assert!(
                value < 1000 + CAPACITY as u32,
                "seed {seed}: the bucket overfills"
            );
        }
        let (head, end) = bounds(&mut client, &tp).await;
        assert!(end - head <= CAPACITY, "seed {seed}: {head}..{end}");
        Ok(())
    });
    cluster.run();
}

#[test]
fn acknowledged_deletes_survive_the_leaders_power_loss() {
    for seed in 1..=3 {
        deletes_survive_the_leaders_power_loss(seed);
    }
}

/// A partition with one replica: its head comes back after the broker loses power, and while
/// the broker's disk returns damaged reads the partition stays closed — it never serves from a
/// head read as 0.
#[test]
fn the_head_survives_a_restart_and_a_damaged_head_is_never_read_as_zero() {
    let mut cluster = cluster(35, Some(64));
    let control = cluster.control.clone();
    let faults = cluster.faults.clone();
    cluster.sim.client("client", async move {
        let mut client = cluster_client(3);
        let topic = Topic {
            name: "kept",
            replication: 1,
            min_insync: 1,
            capacity: None,
            overflow: Overflow::Reject,
        };
        let tp = create(&mut client, &topic).await;
        for value in 0..10 {
            produce(&mut client, &tp, value).await?;
        }
        assert_eq!(delete(&mut client, &tp, 6, Some(0)).await, Ok(6));
        let host = broker_name(client.leader(&tp).expect("a leader").0);
        {
            let mut control = control.borrow_mut();
            control.crash.push(host.clone());
            control.bounce.push(host.clone());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert_eq!(
            bounds(&mut client, &tp).await,
            (6, 10),
            "the head outlived the power loss"
        );

        let disk = faults.get(&host).expect("the broker's disk faults").clone();
        disk.inject(DiskFault::ReadCorruption);
        {
            let mut control = control.borrow_mut();
            control.crash.push(host.clone());
            control.bounce.push(host.clone());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        let mut answered = 0;
        for _ in 0..40 {
            if let Some((head, _)) = try_bounds(&mut client, &tp).await {
                answered += 1;
                assert_eq!(head, 6, "a damaged head file was read as {head}");
            }
            tokio::time::sleep(PAUSE).await;
        }
        assert_eq!(
            answered, 0,
            "the partition stays closed while its head cannot be read"
        );
        disk.lift(DiskFaultKind::ReadCorruption);
        assert_eq!(
            bounds(&mut client, &tp).await,
            (6, 10),
            "the head is back once reads heal"
        );
        Ok(())
    });
    cluster.run();
}
