//! Consumer groups with durable, replicated offset commits: redelivery after a consumer dies
//! between processing and commit (and the record-and-check strategy that applies once anyway),
//! fencing of an old generation's commits, commits that outlive the coordinator's broker, and
//! the sequence checker's view of a lost record.

use super::cluster_sim::{bootstrap, broker_name, cluster_client, ClusterSpec, SimCluster};
use engine::broker::offsets_topic::partition_for;
use engine::broker::protocol::{CreateTopicRequest, Overflow, TopicPartition};
use engine::broker::{Acks, BrokerError, BrokerRequest, BrokerResponse};
use engine::client::{
    ClusterClient, ClusterError, Consumer, ConsumerInterceptor, ConsumerOptions, ConsumerRecord,
    Producer, ProducerInterceptor, ProducerOptions, SequenceChecker, SequenceEvent,
    SequenceStamper,
};
use engine::env::Net;
use engine::storage::{FsyncPolicy, Record};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

/// Polls a test makes at most while waiting for something.
const POLLS_MAX: usize = 400;

pub fn cluster(seed: u64) -> SimCluster {
    SimCluster::new(ClusterSpec {
        seed,
        brokers: 3,
        fsync: FsyncPolicy::Always,
        torn_block_bytes: None,
    })
}

/// Creates a topic (replication 3, min_insync 2) and waits for its leaders.
pub async fn create_topic(client: &mut ClusterClient, name: &str, partitions: u32) {
    for _ in 0..200 {
        let request = CreateTopicRequest {
            name: name.into(),
            partitions,
            replication: 3,
            min_insync: 2,
            capacity: None,
            overflow: Overflow::Reject,
        };
        match client.create_topic(request).await {
            Ok(()) | Err(ClusterError::Broker(BrokerError::TopicExists)) => break,
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    client
        .await_leaders(name, 200, Duration::from_millis(50))
        .await
        .expect("leaders elected");
}

/// Produces `values` to `tp` one by one (acks=all), each retried until acknowledged.
async fn produce(client: &mut ClusterClient, tp: &TopicPartition, values: std::ops::Range<u32>) {
    for value in values {
        let mut acked = false;
        for _ in 0..40 {
            let record = Record::value(value.to_be_bytes());
            if client
                .produce(tp, vec![record], Acks::All, None)
                .await
                .is_ok()
            {
                acked = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(acked, "value {value} acknowledged");
    }
}

pub fn value_of(record: &ConsumerRecord) -> u32 {
    let mut raw = [0u8; 4];
    raw.copy_from_slice(&record.record.value[..4]);
    u32::from_be_bytes(raw)
}

pub fn group_consumer(group: &str, interceptors: Vec<Arc<dyn ConsumerInterceptor>>) -> Consumer {
    let options = ConsumerOptions {
        group: Some(group.to_string()),
        session_timeout: Duration::from_millis(1000),
        heartbeat_interval: Duration::from_millis(100),
        ..ConsumerOptions::default()
    };
    Consumer::new(Net::Sim, bootstrap(3), options, interceptors)
}

/// Polls until `enough` says so, ignoring failed polls (the cluster may be electing).
async fn poll_until(
    consumer: &mut Consumer,
    mut enough: impl FnMut(&[ConsumerRecord]) -> bool,
) -> Vec<ConsumerRecord> {
    let mut records = Vec::new();
    for _ in 0..POLLS_MAX {
        match consumer.poll().await {
            Ok(result) => records.extend(result.records),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
        if enough(&records) {
            return records;
        }
    }
    panic!(
        "gave up polling after {POLLS_MAX} polls with {} records",
        records.len()
    );
}

/// The business state of the record-and-check strategy: each message id is recorded in the same
/// (here: one struct, standing for one durable write) as its effect, and an id already recorded
/// is skipped.
#[derive(Default)]
struct Ledger {
    applied: BTreeSet<u32>,
    sum: u64,
}

impl Ledger {
    fn apply(&mut self, id: u32) {
        if self.applied.insert(id) {
            self.sum += u64::from(id);
        }
    }
}

/// Consumer 1 processes offsets 0..5 and commits its position; it then processes 5..12 and
/// dies before committing again. Consumer 2 (same group) gets the partition once consumer 1's
/// session lapses and reads 5..12 again: at least once. A naive apply counts them twice;
/// record-and-check applies every id exactly once.
#[test]
fn a_consumer_killed_between_processing_and_commit_is_redelivered_and_record_and_check_applies_once(
) {
    let mut cluster = cluster(3);
    cluster.sim.client("client", async move {
        let mut client = cluster_client(3);
        create_topic(&mut client, "orders", 1).await;
        let tp = TopicPartition::new("orders", 0);
        let mut naive: Vec<u32> = Vec::new();
        let mut ledger = Ledger::default();
        let mut process = |records: &[ConsumerRecord]| {
            for record in records {
                naive.push(value_of(record));
                ledger.apply(value_of(record));
            }
        };

        let mut first = group_consumer("billing", vec![]);
        first.subscribe(vec!["orders".into()])?;
        produce(&mut client, &tp, 0..5).await;
        let read = poll_until(&mut first, |r| r.len() >= 5).await;
        process(&read);
        first.commit_position().await?;
        assert_eq!(first.position(&tp), Some(5));
        produce(&mut client, &tp, 5..12).await;
        let read = poll_until(&mut first, |r| r.len() >= 7).await;
        process(&read);
        drop(first); // crashed after processing 5..12: no commit, no LeaveGroup
        produce(&mut client, &tp, 12..20).await;

        let mut second = group_consumer("billing", vec![]);
        second.subscribe(vec!["orders".into()])?;
        let reread = poll_until(&mut second, |r| r.iter().any(|r| r.offset == 19)).await;
        process(&reread);
        assert_eq!(
            reread.first().map(|r| r.offset),
            Some(5),
            "the second consumer resumes from the committed offset"
        );
        let redelivered: Vec<u32> = reread
            .iter()
            .map(value_of)
            .filter(|v| (5..12).contains(v))
            .collect();
        assert_eq!(
            redelivered,
            (5..12).collect::<Vec<_>>(),
            "processed but uncommitted records come again (at least once)"
        );
        let twice = naive.iter().filter(|v| (5..12).contains(*v)).count();
        assert_eq!(
            twice, 14,
            "a naive apply applies the redelivered records twice"
        );
        assert_eq!(ledger.applied, (0..20).collect::<BTreeSet<_>>());
        assert_eq!(
            ledger.sum,
            (0..20u64).sum::<u64>(),
            "record-and-check applies once"
        );
        Ok(())
    });
    cluster.run();
}

/// Member A joins (generation 1); member B joins (generation 2). A, not yet told, commits
/// with generation 1 and is refused; after it rejoins, its commit goes through.
#[test]
fn a_member_of_an_old_generation_cannot_commit_after_a_rebalance() {
    let mut cluster = cluster(4);
    cluster.sim.client("client", async move {
        let mut client = cluster_client(3);
        create_topic(&mut client, "ledger", 2).await;
        let tp0 = TopicPartition::new("ledger", 0);
        let mut a = group_consumer("fence", vec![]);
        a.subscribe(vec!["ledger".into()])?;
        let joined_a = poll_rebalance(&mut a).await;
        assert_eq!(joined_a.1.len(), 2, "alone, A reads both partitions");
        let mut b = group_consumer("fence", vec![]);
        b.subscribe(vec!["ledger".into()])?;
        let joined_b = poll_rebalance(&mut b).await;
        assert_eq!(joined_b.0, joined_a.0 + 1, "B's join bumped the generation");

        let stale = a.commit(vec![(tp0.clone(), 7)]).await;
        let refusal = stale.as_ref().err().and_then(|e| e.refusal()).cloned();
        assert_eq!(
            refusal,
            Some(BrokerError::IllegalGeneration {
                current: joined_b.0
            }),
            "{stale:?}"
        );
        assert_eq!(committed(&mut client, "fence", &tp0).await, None);

        let rejoined = poll_rebalance(&mut a).await;
        assert_eq!(rejoined.0, joined_b.0, "rejoining changes nothing");
        assert_eq!(rejoined.1, vec![tp0.clone()], "range: A keeps ledger/0");
        a.commit(vec![(tp0.clone(), 7)]).await?;
        assert_eq!(committed(&mut client, "fence", &tp0).await, Some(7));
        Ok(())
    });
    cluster.run();
}

async fn poll_rebalance(consumer: &mut Consumer) -> (u64, Vec<TopicPartition>) {
    for _ in 0..POLLS_MAX {
        match consumer.poll().await {
            Ok(result) => {
                if let Some(rebalanced) = result.rebalanced {
                    return rebalanced;
                }
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    panic!("no rebalance within {POLLS_MAX} polls");
}

/// The group's coordinator as any broker names it, retried.
async fn coordinator(client: &mut ClusterClient, group: &str) -> (u32, engine::env::NodeAddr) {
    for _ in 0..100 {
        for addr in bootstrap(3) {
            let request = BrokerRequest::FindCoordinator {
                group: group.to_string(),
            };
            if let Ok(BrokerResponse::Coordinator { broker, addr }) =
                client.call_broker(&addr, request).await
            {
                return (broker, addr);
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no coordinator for {group}");
}

/// The group's committed offset for `tp`, read from its coordinator.
async fn committed(client: &mut ClusterClient, group: &str, tp: &TopicPartition) -> Option<u64> {
    for _ in 0..100 {
        let (_, addr) = coordinator(client, group).await;
        let request = BrokerRequest::OffsetFetch {
            group: group.to_string(),
            partitions: vec![tp.clone()],
        };
        if let Ok(BrokerResponse::OffsetsFetched { offsets }) =
            client.call_broker(&addr, request).await
        {
            return offsets
                .into_iter()
                .find(|(t, _)| t == tp)
                .and_then(|(_, o)| o);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no offsets for {group}");
}

/// A consumer commits offset 10 and its group's coordinator (the leader of the group's
/// `__consumer_offsets` partition) loses power. Another broker takes over the partition, loads
/// the group from the replicated log, and a new consumer resumes at 10.
#[test]
fn committed_offsets_survive_the_group_coordinators_crash() {
    for seed in [5, 6] {
        coordinator_crash(seed);
    }
}

fn coordinator_crash(seed: u64) {
    let mut cluster = cluster(seed);
    let control = cluster.control.clone();
    cluster.sim.client("client", async move {
        let mut client = cluster_client(3);
        create_topic(&mut client, "events", 1).await;
        let tp = TopicPartition::new("events", 0);
        produce(&mut client, &tp, 0..20).await;
        let mut first = group_consumer("audit", vec![]);
        first.subscribe(vec!["events".into()])?;
        poll_until(&mut first, |r| r.len() >= 10).await;
        first.commit(vec![(tp.clone(), 10)]).await?;
        let (leader, _) = coordinator(&mut client, "audit").await;
        let metadata = client.refresh_metadata().await?.clone();
        let offsets = metadata
            .topics
            .iter()
            .find(|t| t.name == "__consumer_offsets")
            .expect("the offsets topic exists");
        let partition = &offsets.partitions[partition_for("audit") as usize];
        assert_eq!(partition.leader, Some(leader));
        assert_eq!(partition.replicas.len(), 3, "replicated to every broker");
        control.borrow_mut().crash.push(broker_name(leader));
        drop(first);

        let mut second = group_consumer("audit", vec![]);
        second.subscribe(vec!["events".into()])?;
        let read = poll_until(&mut second, |r| r.iter().any(|r| r.offset == 19)).await;
        let offsets: Vec<u64> = read.iter().map(|r| r.offset).collect();
        assert_eq!(
            offsets,
            (10..20).collect::<Vec<_>>(),
            "seed {seed}: resumed at the committed offset"
        );
        let (successor, _) = coordinator(&mut client, "audit").await;
        assert_ne!(successor, leader, "seed {seed}: another broker coordinates");
        Ok(())
    });
    cluster.run();
}

/// A producer stamps every record with its sequence; one stamped record never reaches the
/// broker. The consumer's sequence checker reports exactly that gap, once.
#[test]
fn the_sequence_checker_reports_a_planted_gap() {
    let mut cluster = cluster(7);
    cluster.sim.client("client", async move {
        let mut client = cluster_client(3);
        create_topic(&mut client, "stamped", 1).await;
        let tp = TopicPartition::new("stamped", 0);
        let stamper = Arc::new(SequenceStamper::new(42));
        let interceptors: Vec<Arc<dyn ProducerInterceptor>> = vec![stamper.clone()];
        let producer = Producer::new(
            Net::Sim,
            bootstrap(3),
            ProducerOptions::default(),
            interceptors,
        );
        for value in 0..10u32 {
            if value == 5 {
                // Stamped with sequence 5, then lost before it was ever sent.
                let mut lost = Record::value(value.to_be_bytes());
                stamper.on_send(&tp, &mut lost);
                continue;
            }
            producer
                .send(&tp, Record::value(value.to_be_bytes()))
                .await
                .expect("acknowledged");
        }
        let checker = Arc::new(SequenceChecker::default());
        let options = ConsumerOptions::default();
        let mut consumer = Consumer::new(Net::Sim, bootstrap(3), options, vec![checker]);
        consumer.assign(vec![tp.clone()])?;
        let mut events = Vec::new();
        let mut records = Vec::new();
        for _ in 0..POLLS_MAX {
            if let Ok(result) = consumer.poll().await {
                records.extend(result.records);
                events.extend(result.events);
            }
            if records.len() >= 9 {
                break;
            }
        }
        assert_eq!(records.len(), 9);
        assert_eq!(
            events,
            vec![SequenceEvent {
                tp: tp.clone(),
                offset: 5,
                producer: 42,
                expected: 5,
                got: 6,
            }]
        );
        assert!(events[0].is_gap());
        Ok(())
    });
    cluster.run();
}
