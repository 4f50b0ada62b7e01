//! `bench produce` against faultline's own broker: a local cluster (one coordinator, three
//! brokers, fsync always), a topic with RF 3 and min-insync 2, and `producers` engine
//! producers (acks=all, idempotent), each with `in_flight` sends outstanding; a producer's
//! per-partition sender batches what is queued, up to `batch_records` per request. Then every
//! partition is read back to its high watermark.

use crate::bench_load::{send_in_flight, Measured, ProduceBench, RecordId};
use anyhow::Context;
use engine::broker::protocol::{CreateTopicRequest, Overflow, TopicPartition};
use engine::broker::Acks;
use engine::client::producer::{Producer, ProducerOptions};
use engine::client::{ClusterClient, ClusterClientOptions};
use engine::env::{Net, NodeAddr};
use engine::storage::{Record, RecordBatch};
use harness::interrupt::Interrupts;
use harness::local_cluster::LocalCluster;
use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

const BROKERS: u32 = 3;
/// Fetches one partition's read-back may take (each returns at least one batch or ends it).
const READ_BACK_FETCHES_MAX: usize = 100_000;

pub fn run(
    bench: &ProduceBench,
    dir: &Path,
    interrupts: &Interrupts,
    runtime: &tokio::runtime::Runtime,
) -> anyhow::Result<Measured> {
    std::fs::create_dir_all(dir)?;
    let exe = std::env::current_exe().context("cannot find the faultline binary")?;
    let cluster = LocalCluster::start(&exe, dir, BROKERS, "always")?;
    interrupts.kill_group_on_signal(cluster.process_group());
    println!(
        "faultline: 1 coordinator + {BROKERS} brokers in process group {}",
        cluster.process_group()
    );
    let bootstrap = cluster.bootstrap();
    let mut measured = runtime.block_on(produce(bench.clone(), bootstrap.clone()))?;
    measured.missing = runtime.block_on(read_back(bench, bootstrap, &measured.acked))?;
    drop(cluster);
    Ok(measured)
}

fn options() -> ClusterClientOptions {
    ClusterClientOptions {
        request_timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(1),
        produce_timeout: Duration::from_secs(5),
        ..ClusterClientOptions::default()
    }
}

async fn create_topic(bench: &ProduceBench, bootstrap: Vec<NodeAddr>) -> anyhow::Result<()> {
    let mut admin = ClusterClient::new(Net::Real, bootstrap, options());
    let request = CreateTopicRequest {
        name: "bench".into(),
        partitions: bench.partitions,
        replication: BROKERS,
        min_insync: 2,
        capacity: None,
        overflow: Overflow::Reject,
    };
    let mut created = false;
    for _ in 0..100 {
        if admin.create_topic(request.clone()).await.is_ok() {
            created = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::ensure!(created, "could not create the benchmark topic");
    admin
        .await_leaders("bench", 100, Duration::from_millis(100))
        .await
        .context("no leaders for the benchmark topic")?;
    Ok(())
}

async fn produce(bench: ProduceBench, bootstrap: Vec<NodeAddr>) -> anyhow::Result<Measured> {
    create_topic(&bench, bootstrap.clone()).await?;
    let per_producer = bench.records / u64::from(bench.producers);
    // Real-mode measurement: the wall clock is the point.
    #[allow(clippy::disallowed_methods)]
    let started = std::time::Instant::now();
    let mut tasks = Vec::new();
    for producer in 0..bench.producers {
        let options = ProducerOptions {
            acks: Acks::All,
            idempotent: true,
            batch_max_records: bench.batch_records as usize,
            linger: Duration::from_millis(bench.linger_ms),
            delivery_timeout: Duration::from_secs(30),
            cluster: options(),
            ..ProducerOptions::default()
        };
        let client = Producer::new(Net::Real, bootstrap.clone(), options, Vec::new());
        let (partitions, in_flight) = (bench.partitions, bench.in_flight as usize);
        tasks.push(tokio::spawn(async move {
            send_in_flight(producer, per_producer, in_flight, |id| {
                let partition = id.partition(partitions);
                let client = client.clone();
                async move {
                    let tp = TopicPartition::new("bench", partition);
                    // Real processes over real TCP: the wall-clock latency is what is measured.
                    #[allow(clippy::disallowed_methods)]
                    let sent = std::time::Instant::now();
                    match client.send(&tp, Record::value(id.value())).await {
                        Ok(_) => Some((partition, id, sent.elapsed().as_micros() as u64)),
                        Err(error) => {
                            tracing::debug!(%error, "bench send failed");
                            None
                        }
                    }
                }
            })
            .await
        }));
    }
    Measured::gather(tasks, started).await
}

/// Reads every partition of the benchmark topic to its high watermark and returns the
/// acknowledged records that were not there, with their partitions.
async fn read_back(
    bench: &ProduceBench,
    bootstrap: Vec<NodeAddr>,
    acked: &[(u32, RecordId)],
) -> anyhow::Result<Vec<(u32, RecordId)>> {
    let mut client = ClusterClient::new(Net::Real, bootstrap, options());
    let mut read = BTreeSet::new();
    for partition in 0..bench.partitions {
        let tp = TopicPartition::new("bench", partition);
        let mut offset = 0;
        let mut fetches = 0;
        loop {
            fetches += 1;
            anyhow::ensure!(
                fetches <= READ_BACK_FETCHES_MAX,
                "could not read {tp} to its end in {READ_BACK_FETCHES_MAX} fetches"
            );
            let response = match client.fetch(&tp, offset).await {
                Ok(response) => response,
                Err(error) => {
                    tracing::debug!(%error, "read-back fetch failed; retrying");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            for bytes in &response.batches {
                let batch = RecordBatch::decode(bytes)
                    .map_err(|error| anyhow::anyhow!("{tp}: undecodable batch: {error}"))?;
                for (at, record) in batch.offsets() {
                    if at >= offset {
                        read.extend(RecordId::of(&record.value).map(|id| (partition, id)));
                    }
                }
                offset = offset.max(batch.next_offset());
            }
            if response.batches.is_empty() && offset >= response.high_watermark {
                break;
            }
        }
    }
    Ok(acked
        .iter()
        .filter(|entry| !read.contains(*entry))
        .copied()
        .collect())
}
