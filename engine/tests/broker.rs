//! The replicated broker under leader crashes, partitions and a paused controller.

use super::cluster_sim::{broker_name, cluster_client, ClusterSpec, SimCluster};
use engine::broker::protocol::{CreateTopicRequest, Overflow, TopicPartition};
use engine::broker::Acks;
use engine::client::ClusterClient;
use engine::storage::{FsyncPolicy, Record};
use std::time::Duration;

async fn create(
    client: &mut ClusterClient,
    name: &str,
    partitions: u32,
    replication: u32,
    min_insync: u32,
) {
    for _ in 0..200 {
        let request = CreateTopicRequest {
            name: name.into(),
            partitions,
            replication,
            min_insync,
            capacity: None,
            overflow: Overflow::Reject,
        };
        match client.create_topic(request).await {
            Ok(())
            | Err(engine::client::ClusterError::Broker(engine::broker::BrokerError::TopicExists)) => {
                break
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    client
        .await_leaders(name, 200, Duration::from_millis(50))
        .await
        .expect("leaders elected");
}

/// Reads every record below the high watermark from the current leader, retrying.
async fn drain(client: &mut ClusterClient, tp: &TopicPartition) -> Vec<(u64, Vec<u8>)> {
    let mut records = Vec::new();
    let mut offset = 0;
    for _ in 0..2000 {
        match client.fetch(tp, offset).await {
            Ok(response) => {
                for bytes in &response.batches {
                    let batch =
                        engine::storage::RecordBatch::decode(bytes).expect("verified batch");
                    for (o, record) in batch.offsets() {
                        if o >= offset {
                            records.push((o, record.value.clone()));
                        }
                    }
                    offset = batch.next_offset();
                }
                if response.batches.is_empty() && offset >= response.high_watermark {
                    return records;
                }
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    panic!("drain of {tp} did not finish");
}

#[test]
fn produce_and_fetch_through_a_healthy_cluster() {
    let mut cluster = SimCluster::new(ClusterSpec {
        seed: 1,
        brokers: 3,
        fsync: FsyncPolicy::Always,
        torn_block_bytes: None,
    });
    cluster.sim.client("client", async move {
        let mut client = cluster_client(3);
        create(&mut client, "orders", 2, 3, 2).await;
        let tp = TopicPartition::new("orders", 1);
        for i in 0..50u32 {
            let response = client
                .produce(&tp, vec![Record::value(i.to_be_bytes())], Acks::All, None)
                .await?;
            assert_eq!(response.base_offset, u64::from(i));
        }
        let read = drain(&mut client, &tp).await;
        assert_eq!(read.len(), 50);
        assert_eq!(read[49], (49, 49u32.to_be_bytes().to_vec()));
        Ok(())
    });
    cluster.run();
}

/// Produces `count` records valued `first..first+count`, each retried until acknowledged or
/// `attempts` fail; returns the acknowledged values.
async fn produce_all(
    client: &mut ClusterClient,
    tp: &TopicPartition,
    values: std::ops::Range<u32>,
    acks: Acks,
) -> Vec<u32> {
    let mut acked = Vec::new();
    for value in values {
        for _ in 0..40 {
            match client
                .produce(tp, vec![Record::value(value.to_be_bytes())], acks, None)
                .await
            {
                Ok(_) => {
                    acked.push(value);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }
    acked
}

fn values(records: &[(u64, Vec<u8>)]) -> Vec<u32> {
    records
        .iter()
        .map(|(_, bytes)| {
            let mut raw = [0u8; 4];
            raw.copy_from_slice(bytes);
            u32::from_be_bytes(raw)
        })
        .collect()
}

/// One broker's own copy of a partition, retried until it answers.
async fn dump(host: &str, tp: &TopicPartition) -> Vec<(u64, Vec<u8>)> {
    use engine::broker::{BrokerRequest, BrokerResponse};
    use engine::wire::{Request, Response, RpcClient, RpcOptions};
    let addr = engine::env::NodeAddr::new(host, super::cluster_sim::BROKER_PORT);
    let mut rpc = RpcClient::new(engine::env::Net::Sim, addr, RpcOptions::default());
    let request = Request::Broker(BrokerRequest::DumpLog {
        tp: tp.clone(),
        offset: 0,
        max_bytes: u64::MAX,
    });
    for _ in 0..100 {
        if let Ok(Response::Broker(BrokerResponse::Log(dump))) = rpc.call(&request).await {
            return dump
                .batches
                .iter()
                .flat_map(|bytes| {
                    let batch =
                        engine::storage::RecordBatch::decode(bytes).expect("verified batch");
                    batch
                        .offsets()
                        .map(|(o, r)| (o, r.value.clone()))
                        .collect::<Vec<_>>()
                })
                .collect();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{host} did not dump {tp}");
}

fn leader_name(client: &ClusterClient, tp: &TopicPartition) -> String {
    broker_name(client.leader(tp).expect("a leader").0)
}

fn leader_power_loss(seed: u64) {
    let mut cluster = SimCluster::new(ClusterSpec {
        seed,
        brokers: 3,
        fsync: FsyncPolicy::Always,
        torn_block_bytes: Some(64),
    });
    let control = cluster.control.clone();
    cluster.sim.client("client", async move {
        let mut client = cluster_client(3);
        create(&mut client, "orders", 1, 3, 2).await;
        let tp = TopicPartition::new("orders", 0);
        let mut acked = produce_all(&mut client, &tp, 0..40, Acks::All).await;
        let leader = leader_name(&client, &tp);
        control.borrow_mut().crash.push(leader.clone());
        acked.extend(produce_all(&mut client, &tp, 40..80, Acks::All).await);
        control.borrow_mut().bounce.push(leader);
        acked.extend(produce_all(&mut client, &tp, 80..120, Acks::All).await);
        assert!(
            acked.len() >= 100,
            "seed {seed}: the cluster kept taking writes: {}",
            acked.len()
        );
        let read = values(&drain(&mut client, &tp).await);
        for value in &acked {
            assert!(
                read.contains(value),
                "seed {seed}: acknowledged {value} lost"
            );
        }
        Ok(())
    });
    cluster.run();
}

#[test]
fn acks_all_records_survive_the_leaders_power_loss() {
    for seed in 1..=3 {
        leader_power_loss(seed);
    }
}

/// KIP-101: the leader takes acks=1 writes its followers never see, then loses power; a
/// follower leads a new epoch and takes other writes at the same offsets. When the old leader
/// returns, it must drop its divergent records: all replicas end with the same log.
#[test]
fn a_returning_leader_drops_its_divergent_records() {
    let mut cluster = SimCluster::new(ClusterSpec {
        seed: 11,
        brokers: 3,
        fsync: FsyncPolicy::Always,
        torn_block_bytes: None,
    });
    let control = cluster.control.clone();
    cluster.sim.client("client", async move {
        let tp = TopicPartition::new("kip101", 0);
        let mut client = cluster_client(3);
        create(&mut client, "kip101", 1, 3, 1).await;
        let common = produce_all(&mut client, &tp, 0..20, Acks::All).await;
        assert_eq!(common.len(), 20);
        let old_leader = leader_name(&client, &tp);
        for id in 1..=3 {
            let name = broker_name(id);
            if name != old_leader {
                turmoil::partition(old_leader.as_str(), name.as_str());
            }
        }
        let divergent = produce_all(&mut client, &tp, 1000..1010, Acks::Leader).await;
        assert_eq!(
            divergent.len(),
            10,
            "the cut-off leader still takes acks=1 writes"
        );
        control.borrow_mut().crash.push(old_leader.clone());
        tokio::time::sleep(Duration::from_millis(20)).await;
        for id in 1..=3 {
            turmoil::repair(old_leader.as_str(), broker_name(id).as_str());
        }
        let after = produce_all(&mut client, &tp, 2000..2020, Acks::All).await;
        assert_eq!(after.len(), 20);
        assert_ne!(leader_name(&client, &tp), old_leader);
        control.borrow_mut().bounce.push(old_leader);
        tokio::time::sleep(Duration::from_secs(6)).await;
        let read = values(&drain(&mut client, &tp).await);
        assert!(
            divergent.iter().all(|v| !read.contains(v)),
            "acks=1 writes to a cut-off leader are lost"
        );
        let mut logs = Vec::new();
        for id in 1..=3 {
            logs.push(dump(&broker_name(id), &tp).await);
        }
        assert_eq!(logs[0].len(), 40, "20 common + 20 after the election");
        assert_eq!(logs[0], logs[1], "replicas agree");
        assert_eq!(logs[1], logs[2], "replicas agree");
        Ok(())
    });
    cluster.run();
}

#[test]
fn a_partitioned_follower_leaves_the_isr_and_acks_all_fails_below_min_insync() {
    let mut cluster = SimCluster::new(ClusterSpec {
        seed: 5,
        brokers: 3,
        fsync: FsyncPolicy::Always,
        torn_block_bytes: None,
    });
    cluster.sim.client("client", async move {
        let mut client = cluster_client(3);
        create(&mut client, "strict", 1, 3, 3).await;
        let tp = TopicPartition::new("strict", 0);
        assert_eq!(
            produce_all(&mut client, &tp, 0..10, Acks::All).await.len(),
            10
        );
        let (leader, _) = client.leader(&tp).expect("leader");
        let follower = (1..=3).find(|id| *id != leader).expect("a follower");
        turmoil::partition(broker_name(leader).as_str(), broker_name(follower).as_str());
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let metadata = client.refresh_metadata().await?.clone();
        let isr = &metadata.topics[0].partitions[0].isr;
        assert_eq!(isr.len(), 2, "the cut-off follower left the ISR: {isr:?}");
        assert!(!isr.contains(&follower));
        let refused = client
            .produce(&tp, vec![Record::value(b"x".to_vec())], Acks::All, None)
            .await;
        assert!(
            matches!(
                refused,
                Err(engine::client::ClusterError::Broker(
                    engine::broker::BrokerError::NotEnoughReplicas {
                        isr: 2,
                        min_insync: 3
                    }
                ))
            ),
            "{refused:?}"
        );
        client
            .produce(&tp, vec![Record::value(b"y".to_vec())], Acks::Leader, None)
            .await?;
        turmoil::repair(broker_name(leader).as_str(), broker_name(follower).as_str());
        let mut rejoined = false;
        for _ in 0..100 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let metadata = client.refresh_metadata().await?;
            if metadata.topics[0].partitions[0].isr.len() == 3 {
                rejoined = true;
                break;
            }
        }
        assert!(
            rejoined,
            "the follower rejoins the ISR after the partition heals"
        );
        client
            .produce(&tp, vec![Record::value(b"z".to_vec())], Acks::All, None)
            .await?;
        Ok(())
    });
    cluster.run();
}

/// The controller is paused (all its links held) past its session timeout; another broker takes
/// over with a higher epoch. A write carrying the old controller's epoch is refused, and when
/// the old controller resumes it does not take control back.
#[test]
fn a_stale_controller_cannot_overwrite_partition_state() {
    use engine::broker::controller::{fenced_write, Outcome};
    use engine::broker::znodes::{self, PartitionState};
    use engine::coordinator::{CoordinatorClient, CoordinatorClientOptions, Op};
    use engine::env::{Net, NodeAddr};

    let mut cluster = SimCluster::new(ClusterSpec {
        seed: 21,
        brokers: 3,
        fsync: FsyncPolicy::Always,
        torn_block_bytes: None,
    });
    cluster.sim.client("client", async move {
        let mut client = cluster_client(3);
        create(&mut client, "fenced", 1, 3, 1).await;
        let coordinator = NodeAddr::new("coordinator", super::cluster_sim::COORDINATOR_PORT);
        let coord =
            CoordinatorClient::connect(Net::Sim, coordinator, CoordinatorClientOptions::default())
                .await?;
        let (data, before) = coord.get(znodes::CONTROLLER_EPOCH).await?;
        let epoch_before: u64 = znodes::decode(&data).expect("epoch");
        let stale = client
            .refresh_metadata()
            .await?
            .controller
            .expect("a controller");
        let stale_host = broker_name(stale);
        let others: Vec<String> = (1..=3)
            .map(broker_name)
            .filter(|name| *name != stale_host)
            .chain(["coordinator".to_string()])
            .collect();
        for other in &others {
            turmoil::hold(stale_host.as_str(), other.as_str());
        }
        tokio::time::sleep(Duration::from_secs(4)).await;
        let (data, after) = coord.get(znodes::CONTROLLER_EPOCH).await?;
        let epoch_after: u64 = znodes::decode(&data).expect("epoch");
        assert!(
            epoch_after > epoch_before,
            "a new controller bumped the epoch"
        );
        assert_ne!(after.version, before.version);

        let path = znodes::state_path(&TopicPartition::new("fenced", 0));
        let (_, state_stat) = coord.get(&path).await?;
        let forged = PartitionState {
            leader: Some(stale),
            leader_epoch: 999,
            isr: vec![stale],
            controller_epoch: epoch_before,
        };
        let write = Op::SetData {
            path: path.clone(),
            data: znodes::encode(&forged),
            expected_version: Some(state_stat.version),
        };
        let refused = fenced_write(&coord, before.version, vec![write]).await;
        assert_eq!(
            refused,
            Err(Outcome::Fenced),
            "the old controller's epoch no longer writes"
        );

        for other in &others {
            turmoil::release(stale_host.as_str(), other.as_str());
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
        let (data, _) = coord.get(&path).await?;
        let state: PartitionState = znodes::decode(&data).expect("state");
        assert!(state.leader_epoch < 999);
        let metadata = client.refresh_metadata().await?;
        assert_ne!(
            metadata.controller,
            Some(stale),
            "the resumed controller does not take control back"
        );
        assert!(metadata.controller.is_some());
        Ok(())
    });
    cluster.run();
}
