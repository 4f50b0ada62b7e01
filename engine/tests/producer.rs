//! The idempotent producer when produce responses are lost: a one-way partition from the
//! partition leader to the producer drops the acknowledgement of a write the leader made, so
//! the producer times out and sends the batch again. With idempotence the broker recognises the
//! retry and the partition holds one copy of every value; without it, duplicates appear.

use super::cluster_sim::{bootstrap, cluster_client};
use super::consumer::{cluster, create_topic, value_of};
use engine::broker::protocol::TopicPartition;
use engine::broker::Acks;
use engine::client::{Consumer, ConsumerOptions, Producer, ProducerOptions};
use engine::env::Net;
use engine::storage::Record;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// The producer's host in the simulation.
const PRODUCER_HOST: &str = "client";
const VALUES: u32 = 30;
/// Sends before the responses start to vanish.
const SENDS_BEFORE_CUT: u32 = 10;
/// How long the leader's responses to the producer are dropped.
const CUT_FOR: Duration = Duration::from_millis(300);
/// Empty polls in a row that mean the partition has been read to its end.
const EMPTY_POLLS_AT_END: usize = 5;

struct Outcome {
    /// Copies of each value in the partition.
    copies: BTreeMap<u32, usize>,
    acked: Vec<u32>,
    /// The slowest acknowledged send: above the RPC timeout means a response was lost.
    slowest: Duration,
}

fn lost_responses(seed: u64, idempotent: bool) -> Outcome {
    let mut cluster = cluster(seed);
    let outcome = Arc::new(Mutex::new(None));
    let reported = outcome.clone();
    cluster.sim.client(PRODUCER_HOST, async move {
        let mut client = cluster_client(3);
        create_topic(&mut client, "dedup", 1).await;
        let tp = TopicPartition::new("dedup", 0);
        let leader = super::cluster_sim::broker_name(client.leader(&tp).expect("a leader").0);
        let options = ProducerOptions {
            acks: Acks::All,
            idempotent,
            retry_backoff: Duration::from_millis(50),
            delivery_timeout: Duration::from_secs(30),
            ..ProducerOptions::default()
        };
        let producer = Producer::new(Net::Sim, bootstrap(3), options, vec![]);
        let mut acked = Vec::new();
        let mut slowest = Duration::ZERO;
        for value in 0..VALUES {
            if value == SENDS_BEFORE_CUT {
                turmoil::partition_oneway(leader.as_str(), PRODUCER_HOST);
                let leader = leader.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(CUT_FOR).await;
                    turmoil::repair_oneway(leader.as_str(), PRODUCER_HOST);
                });
            }
            let started = Instant::now();
            let sent = producer.send(&tp, Record::value(value.to_be_bytes())).await;
            if sent.is_ok() {
                acked.push(value);
                slowest = slowest.max(started.elapsed());
            }
        }
        let mut consumer =
            Consumer::new(Net::Sim, bootstrap(3), ConsumerOptions::default(), vec![]);
        consumer.assign(vec![tp.clone()])?;
        let mut copies = BTreeMap::new();
        let mut empty = 0;
        for _ in 0..1000 {
            let records = consumer.poll().await.map(|r| r.records).unwrap_or_default();
            if records.is_empty() {
                empty += 1;
                if empty >= EMPTY_POLLS_AT_END {
                    break;
                }
                continue;
            }
            empty = 0;
            for record in &records {
                *copies.entry(value_of(record)).or_insert(0) += 1;
            }
        }
        *reported.lock().unwrap_or_else(|p| p.into_inner()) = Some(Outcome {
            copies,
            acked,
            slowest,
        });
        Ok(())
    });
    cluster.run();
    let outcome = outcome.lock().unwrap_or_else(|p| p.into_inner()).take();
    outcome.expect("the client reported")
}

const SEEDS: std::ops::RangeInclusive<u64> = 1..=4;

#[test]
fn lost_produce_responses_leave_one_copy_with_an_idempotent_producer() {
    for seed in SEEDS {
        let outcome = lost_responses(seed, true);
        assert_eq!(
            outcome.acked,
            (0..VALUES).collect::<Vec<_>>(),
            "seed {seed}: every send acknowledged"
        );
        assert!(
            outcome.slowest >= Duration::from_secs(1),
            "seed {seed}: a response was lost and the batch retried ({:?})",
            outcome.slowest
        );
        let extra: Vec<_> = outcome.copies.iter().filter(|(_, n)| **n != 1).collect();
        assert!(
            extra.is_empty(),
            "seed {seed}: values not exactly once: {extra:?}"
        );
        assert_eq!(outcome.copies.len(), VALUES as usize, "seed {seed}");
    }
}

#[test]
fn lost_produce_responses_can_duplicate_without_idempotence() {
    let mut duplicated = Vec::new();
    for seed in SEEDS {
        let outcome = lost_responses(seed, false);
        assert_eq!(outcome.acked.len(), VALUES as usize, "seed {seed}");
        for value in &outcome.acked {
            assert!(
                outcome.copies.get(value).is_some_and(|n| *n >= 1),
                "seed {seed}: acknowledged {value} lost"
            );
        }
        if outcome.copies.values().any(|n| *n > 1) {
            duplicated.push(seed);
        }
    }
    assert!(
        !duplicated.is_empty(),
        "a retried non-idempotent batch leaves a duplicate for some seed in {SEEDS:?}"
    );
}
