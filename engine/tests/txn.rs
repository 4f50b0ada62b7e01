//! Transactional messages (RocketMQ model): a producer that crashes at each point of a
//! transaction ends with the message visible exactly when its local record says commit; a
//! repeated or racing commit keeps one copy; a coordinator that crashes between publishing a
//! message and recording it does not duplicate or lose it; a half survives its coordinator's
//! crash; unknown check-back answers roll back after `check_max`.

use super::cluster_sim::{bootstrap, broker_name, cluster_client, ClusterSpec, SimCluster};
use super::consumer::{cluster, create_topic};
use engine::broker::protocol::SendHalfRequest;
use engine::broker::stop_point::StopPoint;
use engine::broker::txn_topic::partition_for;
use engine::broker::{
    BrokerRequest, BrokerResponse, Decision, DecisionReason, LocalOutcome, TopicPartition,
    TxnStatus,
};
use engine::client::txn_caller::TxnCaller;
use engine::client::{
    ClusterClient, ClusterClientOptions, CrashPoint, LocalState, LocalTxn, LocalTxnStore, TxnError,
    TxnOutcome, TxnProducer, TxnProducerOptions,
};
use engine::env::{derive_seed, DiskFaults, Env, EnvOptions, Mode, Net};
use engine::storage::batch::FLAG_CONTROL;
use engine::storage::{FsyncPolicy, Record, RecordBatch};
use std::cell::{Cell, RefCell};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

const PRODUCER_HOST: &str = "producer";
const STORE_DIR: &str = "txn-store";
/// Bound on the waits of a test (each pass sleeps `WAIT_PAUSE`).
const WAIT_PASSES_MAX: usize = 600;
const WAIT_PAUSE: Duration = Duration::from_millis(100);

fn orders() -> TopicPartition {
    TopicPartition::new("orders", 0)
}

fn txn_options() -> TxnProducerOptions {
    TxnProducerOptions {
        producer_group: "shop".into(),
        check_after: Duration::from_secs(2),
        check_max: 3,
        step_timeout: Duration::from_secs(20),
        ..TxnProducerOptions::default()
    }
}

fn order(txn_id: &str) -> Record {
    Record {
        key: Some(txn_id.as_bytes().to_vec()),
        value: format!("order {txn_id}").into_bytes(),
        headers: Vec::new(),
        timestamp_ms: 0,
    }
}

async fn local(outcome: LocalOutcome) -> LocalTxn {
    LocalTxn {
        outcome,
        effect: b"order row".to_vec(),
    }
}

/// Copies of `record` in `tp` below its high watermark, read from the leader like a consumer.
async fn copies(client: &mut ClusterClient, tp: &TopicPartition, record: &Record) -> usize {
    for _ in 0..WAIT_PASSES_MAX {
        if let Some(count) = try_copies(client, tp, record).await {
            return count;
        }
        tokio::time::sleep(WAIT_PAUSE).await;
    }
    panic!("{tp} could not be read");
}

async fn try_copies(
    client: &mut ClusterClient,
    tp: &TopicPartition,
    record: &Record,
) -> Option<usize> {
    let mut count = 0;
    let mut offset = 0;
    loop {
        let response = client.fetch(tp, offset).await.ok()?;
        if offset >= response.high_watermark {
            return Some(count);
        }
        if response.batches.is_empty() {
            return None;
        }
        for bytes in &response.batches {
            let batch = RecordBatch::decode(bytes).ok()?;
            if batch.meta.flags & FLAG_CONTROL == 0 {
                count += batch
                    .offsets()
                    .filter(|(at, r)| *at >= offset && *r == record)
                    .count();
            }
            offset = batch.next_offset();
        }
    }
}

fn caller() -> TxnCaller {
    TxnCaller::new(
        Net::Sim,
        bootstrap(3),
        ClusterClientOptions {
            produce_timeout: Duration::from_secs(2),
            ..ClusterClientOptions::default()
        },
    )
}

/// Sends one transaction request until a coordinator answers it (not an error).
async fn call(caller: &mut TxnCaller, txn_id: &str, request: BrokerRequest) -> BrokerResponse {
    for _ in 0..WAIT_PASSES_MAX {
        match caller.call(partition_for(txn_id), request.clone()).await {
            Ok(response) => return response,
            Err(error) => tracing::debug!(%error, "retrying"),
        }
        tokio::time::sleep(WAIT_PAUSE).await;
    }
    panic!("no coordinator answered {request:?}");
}

async fn describe(caller: &mut TxnCaller, txn_id: &str) -> TxnStatus {
    let request = BrokerRequest::DescribeTxn {
        txn_id: txn_id.into(),
    };
    match call(caller, txn_id, request).await {
        BrokerResponse::Txn(status) => status,
        other => panic!("unexpected {other:?}"),
    }
}

/// Waits until the transaction is decided and, if committed, published.
async fn settled(caller: &mut TxnCaller, txn_id: &str) -> TxnStatus {
    for _ in 0..WAIT_PASSES_MAX {
        let status = describe(caller, txn_id).await;
        match status {
            TxnStatus::Decided {
                decision: Decision::Rollback,
                ..
            }
            | TxnStatus::Decided {
                published: Some(_), ..
            } => return status,
            _ => tokio::time::sleep(WAIT_PAUSE).await,
        }
    }
    panic!("{txn_id} was never settled");
}

fn open_store(seed: u64) -> Result<LocalTxnStore, Box<dyn std::error::Error>> {
    let env = Env::open(EnvOptions {
        mode: Mode::Sim,
        data_dir: PathBuf::from("/data"),
        seed: derive_seed(seed, PRODUCER_HOST),
        disk_faults: DiskFaults::new(),
    })?;
    Ok(LocalTxnStore::open(&env.disk, Path::new(STORE_DIR))?)
}

/// What the producer host and the checking client share (one thread: the simulation's).
#[derive(Default)]
struct Shared {
    topic_ready: Cell<bool>,
    stopped: Cell<bool>,
    incarnations: Cell<u32>,
    /// The restarted producer's local record of the transaction: the ground truth.
    local: RefCell<Option<LocalState>>,
}

/// The producer (a host, so it can crash) runs one transaction whose local transaction ends
/// `outcome`, and stops at `point`; the test crashes and restarts it. The new instance opens the
/// same store and answers check-backs. Once the coordinator settled the transaction, the order
/// is visible exactly once if the producer's store says commit, and never otherwise.
fn crash_at(seed: u64, point: CrashPoint, outcome: LocalOutcome) {
    const TXN: &str = "txn-1";
    let mut cluster = cluster(seed);
    let control = cluster.control.clone();
    let shared = Rc::new(Shared::default());
    let host_shared = shared.clone();
    let host_control = control.clone();
    cluster.sim.host(PRODUCER_HOST, move || {
        let (shared, control) = (host_shared.clone(), host_control.clone());
        async move {
            let store = open_store(seed)?;
            let incarnation = shared.incarnations.get();
            shared.incarnations.set(incarnation + 1);
            if incarnation == 0 {
                while !shared.topic_ready.get() {
                    tokio::time::sleep(WAIT_PAUSE).await;
                }
                let options = TxnProducerOptions {
                    crash_point: Some(point),
                    ..txn_options()
                };
                let producer = TxnProducer::new(Net::Sim, bootstrap(3), options, store);
                let result = producer
                    .send_in_transaction(TXN, &orders(), order(TXN), || local(outcome))
                    .await;
                assert!(
                    matches!(result, Err(TxnError::Stopped(p)) if p == point),
                    "{result:?}"
                );
                shared.stopped.set(true);
                control.borrow_mut().crash.push(PRODUCER_HOST.into());
                return std::future::pending().await;
            }
            let producer = TxnProducer::new(Net::Sim, bootstrap(3), txn_options(), store);
            loop {
                *shared.local.borrow_mut() = producer.local_state(TXN);
                tokio::time::sleep(WAIT_PAUSE).await;
            }
        }
    });
    cluster.sim.client("checker", async move {
        let mut client = cluster_client(3);
        create_topic(&mut client, "orders", 1).await;
        shared.topic_ready.set(true);
        while !shared.stopped.get() {
            tokio::time::sleep(WAIT_PAUSE).await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        control.borrow_mut().bounce.push(PRODUCER_HOST.into());
        let mut caller = caller();
        let status = settled(&mut caller, TXN).await;
        // Let anything late land before counting.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let visible = copies(&mut client, &orders(), &order(TXN)).await;
        let local = shared.local.borrow().clone();
        let case = format!("seed {seed}, {point:?}, local {outcome:?}: {status:?}, {local:?}");
        let committed = matches!(
            local,
            Some(LocalState::Done {
                outcome: LocalOutcome::Commit,
                ..
            })
        );
        assert_eq!(visible, usize::from(committed), "{case}");
        let expected_local = match point {
            // The local transaction never ran: the new instance records the abandoned one as
            // rolled back (without a business effect) when the coordinator checks back.
            CrashPoint::BeforeHalfAck | CrashPoint::BeforeLocalCommit => LocalState::Done {
                outcome: LocalOutcome::Rollback,
                effect: Vec::new(),
            },
            CrashPoint::BeforeDecision | CrashPoint::BeforeDecisionAck => LocalState::Done {
                outcome,
                effect: b"order row".to_vec(),
            },
        };
        assert_eq!(local, Some(expected_local), "{case}");
        let (decision, reason) = match status {
            TxnStatus::Decided {
                decision, reason, ..
            } => (decision, reason),
            TxnStatus::Undecided { .. } => unreachable!(),
        };
        let expected_reason = match point {
            CrashPoint::BeforeDecisionAck => DecisionReason::Producer,
            _ => DecisionReason::CheckBack,
        };
        assert_eq!(reason, expected_reason, "{case}");
        assert_eq!(decision == Decision::Commit, committed, "{case}");
        Ok(())
    });
    cluster.run();
}

#[test]
fn a_producer_crash_before_the_half_ack_rolls_back() {
    crash_at(21, CrashPoint::BeforeHalfAck, LocalOutcome::Commit);
}

#[test]
fn a_producer_crash_after_the_half_ack_before_the_local_commit_rolls_back() {
    crash_at(22, CrashPoint::BeforeLocalCommit, LocalOutcome::Commit);
}

#[test]
fn a_producer_crash_after_the_local_outcome_before_the_decision_applies_the_local_outcome() {
    crash_at(23, CrashPoint::BeforeDecision, LocalOutcome::Commit);
    crash_at(24, CrashPoint::BeforeDecision, LocalOutcome::Rollback);
}

#[test]
fn a_producer_crash_after_the_decision_before_its_ack_keeps_the_decision() {
    crash_at(25, CrashPoint::BeforeDecisionAck, LocalOutcome::Commit);
    crash_at(26, CrashPoint::BeforeDecisionAck, LocalOutcome::Rollback);
}

/// A half is stored; then the producer's commit is sent three times at once while a check-back
/// answer says commit too, and later once more, plus a rollback and a rollback check-back
/// answer. Every answer is the one commit with one offset, and the order is visible once.
#[test]
fn a_duplicated_or_racing_commit_does_not_duplicate_the_message() {
    for seed in [31, 32] {
        duplicated_commit(seed);
    }
}

fn duplicated_commit(seed: u64) {
    const TXN: &str = "txn-dup";
    let mut cluster = cluster(seed);
    cluster.sim.client("client", async move {
        let mut client = cluster_client(3);
        create_topic(&mut client, "orders", 1).await;
        let mut callers: Vec<TxnCaller> = (0..4).map(|_| caller()).collect();
        let half = BrokerRequest::SendHalf(SendHalfRequest {
            txn_id: TXN.into(),
            producer_group: "shop".into(),
            target: orders(),
            record: order(TXN),
            check_after_ms: 60_000,
            check_max: 3,
        });
        let stored = call(&mut callers[0], TXN, half.clone()).await;
        assert!(matches!(stored, BrokerResponse::HalfStored { .. }));
        assert_eq!(
            call(&mut callers[1], TXN, half).await,
            stored,
            "a repeated half is the same half"
        );
        assert_eq!(
            copies(&mut client, &orders(), &order(TXN)).await,
            0,
            "a half is invisible"
        );
        let commit = || BrokerRequest::EndTxn {
            txn_id: TXN.into(),
            decision: Decision::Commit,
        };
        let check_back = BrokerRequest::CheckBackAnswer {
            txn_id: TXN.into(),
            local: LocalOutcome::Commit,
        };
        let [a, b, c, d] = &mut callers[..] else {
            unreachable!()
        };
        let answers = tokio::join!(
            call(a, TXN, commit()),
            call(b, TXN, commit()),
            call(c, TXN, check_back),
            call(d, TXN, commit()),
        );
        let mut answers = vec![answers.0, answers.1, answers.2, answers.3];
        for late in [
            commit(),
            BrokerRequest::EndTxn {
                txn_id: TXN.into(),
                decision: Decision::Rollback,
            },
            BrokerRequest::CheckBackAnswer {
                txn_id: TXN.into(),
                local: LocalOutcome::Rollback,
            },
        ] {
            answers.push(call(&mut callers[0], TXN, late).await);
        }
        let status = settled(&mut callers[0], TXN).await;
        let TxnStatus::Decided {
            decision: Decision::Commit,
            published: Some(offset),
            reason,
        } = status
        else {
            panic!("committed and published: {status:?}");
        };
        for answer in &answers {
            match answer {
                BrokerResponse::Txn(TxnStatus::Decided {
                    decision: Decision::Commit,
                    reason: answered_reason,
                    published,
                }) => {
                    assert_eq!(*answered_reason, reason);
                    assert!(published.is_none_or(|p| p == offset), "{answers:?}");
                }
                other => panic!("every answer is the commit: {other:?}"),
            }
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(copies(&mut client, &orders(), &order(TXN)).await, 1);
        Ok(())
    });
    cluster.run();
}

/// The coordinator publishes a committed order and stops before recording that it did (a
/// test stop point); the test crashes it there. Another broker takes over the `__txn_half`
/// partition, finds the replicated commit without its publication, and publishes again under
/// the same stamp: the target keeps one copy, at the offset of the first, and the producer's
/// commit (retried) reports that offset.
#[test]
fn a_coordinator_crash_between_the_visible_write_and_its_record_keeps_one_copy() {
    for seed in [41, 42] {
        coordinator_crash_after_publish(seed);
    }
}

fn coordinator_crash_after_publish(seed: u64) {
    const TXN: &str = "txn-crash";
    let stop = Arc::new(StopPoint::armed());
    let tweak_stop = stop.clone();
    let spec = ClusterSpec {
        seed,
        brokers: 3,
        fsync: FsyncPolicy::Always,
        torn_block_bytes: None,
    };
    let mut cluster = SimCluster::with_broker_options(
        spec,
        Rc::new(move |options| options.txn_stop_after_publish = Some(tweak_stop.clone())),
    );
    let control = cluster.control.clone();
    cluster.sim.client("client", async move {
        let mut client = cluster_client(3);
        create_topic(&mut client, "orders", 1).await;
        let env = Env::open(EnvOptions {
            mode: Mode::Sim,
            data_dir: PathBuf::from("/data"),
            seed,
            disk_faults: DiskFaults::new(),
        })?;
        let store = LocalTxnStore::open(&env.disk, Path::new(STORE_DIR))?;
        let producer = TxnProducer::new(Net::Sim, bootstrap(3), txn_options(), store);
        let target = orders();
        let send =
            producer.send_in_transaction(TXN, &target, order(TXN), || local(LocalOutcome::Commit));
        let crash = async {
            let mut passes = 0;
            let stopped = loop {
                if let Some(broker) = stop.stopped() {
                    break broker;
                }
                passes += 1;
                assert!(passes < 100_000, "the stop point was never reached");
                tokio::time::sleep(Duration::from_millis(1)).await;
            };
            control.borrow_mut().crash.push(broker_name(stopped));
            let mut client = cluster_client(3);
            let visible = copies(&mut client, &orders(), &order(TXN)).await;
            assert_eq!(visible, 1, "seed {seed}: published before the crash");
            tokio::time::sleep(Duration::from_secs(1)).await;
            stop.release();
            control.borrow_mut().bounce.push(broker_name(stopped));
            stopped
        };
        let (outcome, stopped) = tokio::join!(send, crash);
        let outcome = outcome?;
        let mut caller = caller();
        let status = settled(&mut caller, TXN).await;
        let TxnStatus::Decided {
            decision: Decision::Commit,
            published: Some(offset),
            ..
        } = status
        else {
            panic!("seed {seed}: committed and published: {status:?}");
        };
        assert!(
            matches!(
                outcome,
                TxnOutcome::Committed { offset: None } | TxnOutcome::Committed { offset: Some(_) }
            ),
            "seed {seed}: {outcome:?}"
        );
        if let TxnOutcome::Committed {
            offset: Some(answered),
        } = outcome
        {
            assert_eq!(answered, offset, "seed {seed}: the original offset");
        }
        let coordinator = match call(
            &mut caller,
            TXN,
            BrokerRequest::FindTxnCoordinator {
                partition: partition_for(TXN),
            },
        )
        .await
        {
            BrokerResponse::Coordinator { broker, .. } => broker,
            other => panic!("{other:?}"),
        };
        assert_ne!(
            coordinator, stopped,
            "seed {seed}: another broker took over"
        );
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(
            copies(&mut client, &orders(), &order(TXN)).await,
            1,
            "seed {seed}: one copy after the takeover and the restart"
        );
        Ok(())
    });
    cluster.run();
}

/// A half is acknowledged, and the broker that coordinates it loses power. The half was
/// replicated: the new coordinator has it, and a commit makes it visible once.
#[test]
fn a_half_message_survives_its_coordinators_crash() {
    for seed in [51, 52] {
        half_survives(seed);
    }
}

fn half_survives(seed: u64) {
    const TXN: &str = "txn-survivor";
    let mut cluster = cluster(seed);
    let control = cluster.control.clone();
    cluster.sim.client("client", async move {
        let mut client = cluster_client(3);
        create_topic(&mut client, "orders", 1).await;
        let mut caller = caller();
        let half = BrokerRequest::SendHalf(SendHalfRequest {
            txn_id: TXN.into(),
            producer_group: "shop".into(),
            target: orders(),
            record: order(TXN),
            check_after_ms: 60_000,
            check_max: 3,
        });
        assert!(matches!(
            call(&mut caller, TXN, half).await,
            BrokerResponse::HalfStored { .. }
        ));
        let find = BrokerRequest::FindTxnCoordinator {
            partition: partition_for(TXN),
        };
        let BrokerResponse::Coordinator { broker, .. } = call(&mut caller, TXN, find.clone()).await
        else {
            panic!("a coordinator");
        };
        control.borrow_mut().crash.push(broker_name(broker));
        let commit = BrokerRequest::EndTxn {
            txn_id: TXN.into(),
            decision: Decision::Commit,
        };
        let answer = call(&mut caller, TXN, commit).await;
        assert!(
            matches!(
                answer,
                BrokerResponse::Txn(TxnStatus::Decided {
                    decision: Decision::Commit,
                    reason: DecisionReason::Producer,
                    ..
                })
            ),
            "{answer:?}"
        );
        let BrokerResponse::Coordinator {
            broker: successor, ..
        } = call(&mut caller, TXN, find).await
        else {
            panic!("a coordinator");
        };
        assert_ne!(successor, broker);
        settled(&mut caller, TXN).await;
        assert_eq!(copies(&mut client, &orders(), &order(TXN)).await, 1);
        Ok(())
    });
    cluster.run();
}

/// The local transaction answers unknown, and so does every check-back (the store keeps
/// unknown). The coordinator asks again after each `check_after` and rolls back at the
/// `check_max`-th unknown, recording why; the order never becomes visible.
#[test]
fn unknown_answers_roll_back_after_check_max() {
    unknowns_roll_back(61);
}

fn unknowns_roll_back(seed: u64) {
    const TXN: &str = "txn-unknown";
    let mut cluster = cluster(seed);
    cluster.sim.client("client", async move {
        let mut client = cluster_client(3);
        create_topic(&mut client, "orders", 1).await;
        let env = Env::open(EnvOptions {
            mode: Mode::Sim,
            data_dir: PathBuf::from("/data"),
            seed,
            disk_faults: DiskFaults::new(),
        })?;
        let store = LocalTxnStore::open(&env.disk, Path::new(STORE_DIR))?;
        let options = TxnProducerOptions {
            check_after: Duration::from_millis(500),
            check_max: 3,
            ..txn_options()
        };
        let producer = TxnProducer::new(Net::Sim, bootstrap(3), options, store);
        let started = tokio::time::Instant::now();
        let outcome = producer
            .send_in_transaction(TXN, &orders(), order(TXN), || local(LocalOutcome::Unknown))
            .await?;
        assert_eq!(outcome, TxnOutcome::Unknown);
        let mut caller = caller();
        let mut unknowns_seen = Vec::new();
        let status = loop {
            let status = describe(&mut caller, TXN).await;
            match status {
                TxnStatus::Undecided { unknowns } => {
                    if unknowns_seen.last() != Some(&unknowns) {
                        unknowns_seen.push(unknowns);
                    }
                }
                decided => break decided,
            }
            assert!(started.elapsed() < Duration::from_secs(60), "never decided");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(
            status,
            TxnStatus::Decided {
                decision: Decision::Rollback,
                reason: DecisionReason::CheckMaxExceeded { unknowns: 3 },
                published: None,
            }
        );
        assert_eq!(
            unknowns_seen,
            vec![0, 1, 2],
            "asked again after each unknown"
        );
        assert!(
            started.elapsed() >= Duration::from_millis(1500),
            "three check-backs, check_after apart"
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(copies(&mut client, &orders(), &order(TXN)).await, 0);
        Ok(())
    });
    cluster.run();
}
