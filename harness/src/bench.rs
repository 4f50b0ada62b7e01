//! `faultline bench produce`: acknowledgement throughput and latency of a real cluster — one
//! `serve coordinator` and three `serve broker` processes on 127.0.0.1 — with acks=all,
//! fsync always and 1 KiB records. Real-mode entry point: wall-clock time is what it measures.
//!
//! A benchmark of a queue that loses acknowledged records measures nothing, so at the end it
//! reads every partition back and reports each acknowledged record it did not find (exit 1).
//! The nodes and their temporary directory go on every exit path: a normal return or an error
//! (the cluster's and the directory's `Drop`), SIGINT or SIGTERM (`interrupt`), and our own
//! death (the nodes' parent-death signal, see `local_cluster`).

use anyhow::Context;
use engine::broker::protocol::{CreateTopicRequest, Overflow, TopicPartition};
use engine::broker::Acks;
use engine::client::{ClusterClient, ClusterClientOptions};
use engine::env::{Net, NodeAddr};
use engine::storage::{Record, RecordBatch};
use harness::interrupt::Interrupts;
use harness::local_cluster::LocalCluster;
use std::collections::BTreeSet;
use std::process::ExitCode;
use std::time::Duration;

const RECORD_BYTES: usize = 1024;
const BROKERS: u32 = 3;
/// Bytes at the start of a record's value that name it: producer (u32) and sequence (u64).
const RECORD_ID_BYTES: usize = 12;
/// Fetches one partition's read-back may take (each returns at least one batch or ends it).
const READ_BACK_FETCHES_MAX: usize = 100_000;
/// Missing records listed by name; the rest are counted.
const MISSING_LISTED_MAX: usize = 10;

#[derive(Clone, Debug, clap::Args)]
pub struct ProduceBench {
    /// Records to produce in total.
    #[arg(long, default_value_t = 5000)]
    pub records: u64,
    /// Concurrent producers (each sends one record at a time). All connect from 127.0.0.1, and
    /// a broker takes at most 64 connections from one address.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=32))]
    pub producers: u32,
    /// Partitions of the benchmark topic.
    #[arg(long, default_value_t = 3)]
    pub partitions: u32,
}

pub fn run(bench: ProduceBench) -> anyhow::Result<ExitCode> {
    // First, before the runtime starts its threads: they must inherit the signal mask.
    let interrupts = Interrupts::install().context("cannot take over SIGINT and SIGTERM")?;
    let root = tempfile::Builder::new()
        .prefix("faultline-bench-")
        .tempdir()?;
    interrupts.remove_dir_on_signal(root.path().to_path_buf());
    let exe = std::env::current_exe().context("cannot find the faultline binary")?;
    let cluster = LocalCluster::start(&exe, root.path(), BROKERS, "always")?;
    interrupts.kill_group_on_signal(cluster.process_group());
    println!(
        "faultline bench produce: nodes in process group {}, data in {}",
        cluster.process_group(),
        root.path().display()
    );
    let bootstrap = cluster.bootstrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let measured = runtime.block_on(produce(bench.clone(), bootstrap.clone()))?;
    let missing = runtime.block_on(read_back(&bench, bootstrap, &measured.acked))?;
    drop(runtime);
    drop(cluster);
    root.close()
        .context("cannot remove the benchmark's data directory")?;
    let lost = !missing.is_empty();
    report(&bench, measured, &missing);
    Ok(if lost {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// A record's name: which producer sent it, and its sequence number there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct RecordId {
    producer: u32,
    sequence: u64,
}

impl RecordId {
    fn record(self) -> Record {
        let mut value = Vec::with_capacity(RECORD_BYTES);
        value.extend_from_slice(&self.producer.to_be_bytes());
        value.extend_from_slice(&self.sequence.to_be_bytes());
        value.resize(RECORD_BYTES, (self.sequence % 251) as u8);
        Record::value(value)
    }

    fn of(record: &Record) -> Option<RecordId> {
        let head = record.value.get(..RECORD_ID_BYTES)?;
        let (producer, sequence) = head.split_at(4);
        Some(RecordId {
            producer: u32::from_be_bytes(producer.try_into().ok()?),
            sequence: u64::from_be_bytes(sequence.try_into().ok()?),
        })
    }
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
                        read.extend(RecordId::of(record).map(|id| (partition, id)));
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

fn options() -> ClusterClientOptions {
    ClusterClientOptions {
        request_timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(1),
        produce_timeout: Duration::from_secs(5),
        ..ClusterClientOptions::default()
    }
}

struct Measured {
    latencies_us: Vec<u64>,
    elapsed: Duration,
    failed: u64,
    /// Every acknowledged record and its partition.
    acked: Vec<(u32, RecordId)>,
}

async fn produce(bench: ProduceBench, bootstrap: Vec<NodeAddr>) -> anyhow::Result<Measured> {
    let mut admin = ClusterClient::new(Net::Real, bootstrap.clone(), options());
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
    let per_producer = bench.records / u64::from(bench.producers.max(1));
    // Real-mode measurement: the wall clock is the point.
    #[allow(clippy::disallowed_methods)]
    let started = std::time::Instant::now();
    let mut tasks = Vec::new();
    for producer in 0..bench.producers {
        let bootstrap = bootstrap.clone();
        let partitions = bench.partitions;
        tasks.push(tokio::spawn(async move {
            let mut client = ClusterClient::new(Net::Real, bootstrap, options());
            let mut latencies = Vec::with_capacity(per_producer as usize);
            let mut acked = Vec::with_capacity(per_producer as usize);
            let mut failed = 0;
            for i in 0..per_producer {
                let partition = (u64::from(producer) + i) as u32 % partitions;
                let tp = TopicPartition::new("bench", partition);
                let id = RecordId {
                    producer,
                    sequence: i,
                };
                // Real processes over real TCP (bench produce never runs under turmoil): the
                // wall-clock latency of each send is what the bench measures.
                #[allow(clippy::disallowed_methods)]
                let sent = std::time::Instant::now();
                match client
                    .produce(&tp, vec![id.record()], Acks::All, None)
                    .await
                {
                    Ok(_) => {
                        latencies.push(sent.elapsed().as_micros() as u64);
                        acked.push((partition, id));
                    }
                    Err(error) => {
                        if failed == 0 {
                            eprintln!("producer {producer}: first failure: {error}");
                        }
                        failed += 1;
                    }
                }
            }
            (latencies, acked, failed)
        }));
    }
    let mut latencies_us = Vec::new();
    let mut all_acked = Vec::new();
    let mut failed = 0;
    for task in tasks {
        let (latencies, acked, failures) = task.await?;
        latencies_us.extend(latencies);
        all_acked.extend(acked);
        failed += failures;
    }
    Ok(Measured {
        latencies_us,
        elapsed: started.elapsed(),
        failed,
        acked: all_acked,
    })
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)] as f64 / 1000.0
}

fn report(bench: &ProduceBench, mut measured: Measured, missing: &[(u32, RecordId)]) {
    measured.latencies_us.sort_unstable();
    let acked = measured.latencies_us.len();
    let seconds = measured.elapsed.as_secs_f64();
    println!("faultline bench produce: 1 coordinator + {BROKERS} brokers on 127.0.0.1, acks=all, fsync=always, {RECORD_BYTES} B records");
    println!();
    println!("| producers | partitions | records acked | failed | missing | seconds | records/s | p50 ms | p99 ms |");
    println!("|---|---|---|---|---|---|---|---|---|");
    println!(
        "| {} | {} | {} | {} | {} | {:.2} | {:.0} | {:.2} | {:.2} |",
        bench.producers,
        bench.partitions,
        acked,
        measured.failed,
        missing.len(),
        seconds,
        acked as f64 / seconds.max(1e-9),
        percentile(&measured.latencies_us, 0.50),
        percentile(&measured.latencies_us, 0.99),
    );
    println!();
    if missing.is_empty() {
        println!("Read back: every acknowledged record is in the log (missing 0).");
    } else {
        println!(
            "Read back: {} acknowledged records are missing (the first {} listed):",
            missing.len(),
            missing.len().min(MISSING_LISTED_MAX)
        );
        for (partition, id) in missing.iter().take(MISSING_LISTED_MAX) {
            println!(
                "- bench/{partition}: producer {} record {}",
                id.producer, id.sequence
            );
        }
    }
}
