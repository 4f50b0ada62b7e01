//! Three `faultline serve broker` processes and one `serve coordinator` on 127.0.0.1: produce
//! and fetch over real TCP, then SIGKILL the partition leader and keep every acknowledged write.

use engine::broker::protocol::{CreateTopicRequest, Overflow, TopicPartition};
use engine::broker::Acks;
use engine::client::{ClusterClient, ClusterClientOptions};
use engine::env::Net;
use engine::storage::{Record, RecordBatch};
use harness::local_cluster::LocalCluster;
use std::path::Path;
use std::time::Duration;

fn options() -> ClusterClientOptions {
    ClusterClientOptions {
        request_timeout: Duration::from_secs(3),
        connect_timeout: Duration::from_secs(1),
        produce_timeout: Duration::from_secs(3),
        ..ClusterClientOptions::default()
    }
}

async fn produce(
    client: &mut ClusterClient,
    tp: &TopicPartition,
    values: std::ops::Range<u32>,
) -> Vec<u32> {
    let mut acked = Vec::new();
    for value in values {
        for _ in 0..100 {
            match client
                .produce(
                    tp,
                    vec![Record::value(value.to_be_bytes())],
                    Acks::All,
                    None,
                )
                .await
            {
                Ok(_) => {
                    acked.push(value);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }
    acked
}

async fn read_all(client: &mut ClusterClient, tp: &TopicPartition) -> Vec<u32> {
    let mut values = Vec::new();
    let mut offset = 0;
    for _ in 0..1000 {
        match client.fetch(tp, offset).await {
            Ok(response) => {
                for bytes in &response.batches {
                    let batch = RecordBatch::decode(bytes).expect("verified batch");
                    for (o, record) in batch.offsets() {
                        if o >= offset {
                            let mut raw = [0u8; 4];
                            raw.copy_from_slice(&record.value);
                            values.push(u32::from_be_bytes(raw));
                        }
                    }
                    offset = batch.next_offset();
                }
                if response.batches.is_empty() && offset >= response.high_watermark {
                    return values;
                }
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    panic!("could not read {tp} to its end");
}

#[test]
fn real_cluster_produces_fetches_and_survives_a_leader_kill() {
    let exe = Path::new(env!("CARGO_BIN_EXE_faultline"));
    let root = tempfile::tempdir().expect("tempdir");
    let mut cluster = LocalCluster::start(exe, root.path(), 3, "always").expect("cluster");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let tp = TopicPartition::new("orders", 0);
    let (mut acked, leader) = runtime.block_on(async {
        tokio::time::timeout(Duration::from_secs(60), async {
            let mut client = ClusterClient::new(Net::Real, cluster.bootstrap(), options());
            let request = CreateTopicRequest {
                name: "orders".into(),
                partitions: 1,
                replication: 3,
                min_insync: 2,
                capacity: None,
                overflow: Overflow::Reject,
            };
            for _ in 0..100 {
                if client.create_topic(request.clone()).await.is_ok() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            client
                .await_leaders("orders", 100, Duration::from_millis(100))
                .await
                .expect("leader");
            let acked = produce(&mut client, &tp, 0..100).await;
            assert_eq!(acked.len(), 100);
            assert_eq!(
                read_all(&mut client, &tp).await,
                acked,
                "fetched in produce order"
            );
            let leader = client.leader(&tp).expect("leader").0;
            (acked, leader)
        })
        .await
        .expect("first phase in time")
    });
    cluster.brokers[(leader - 1) as usize].kill();
    runtime.block_on(async {
        tokio::time::timeout(Duration::from_secs(90), async {
            let mut client = ClusterClient::new(Net::Real, cluster.bootstrap(), options());
            acked.extend(produce(&mut client, &tp, 100..150).await);
            assert!(
                acked.len() >= 140,
                "a new leader took writes: {}",
                acked.len()
            );
            let read = read_all(&mut client, &tp).await;
            for value in &acked {
                assert!(read.contains(value), "acknowledged {value} lost");
            }
        })
        .await
        .expect("second phase in time")
    });
    cluster.brokers[(leader - 1) as usize]
        .restart(exe)
        .expect("restart");
}
