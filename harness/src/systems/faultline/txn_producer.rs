//! The transactional workload (RocketMQ model): each transactional producer sends messages in
//! transactions whose local outcome is drawn from the scenario's ratios — commit, rollback, or
//! unknown (left for check-backs, rolled back after `check_max`) — with the outcome stored on
//! the producer's own disk in the same fsynced write as its business effect. Every attempt is a
//! `txn-send` op whose completion carries the local outcome; at the end each producer reports
//! its local transaction records, the `txn-local` ground truth of the final state.

use crate::history::values;
use crate::history::{Local, OpType, F};
use crate::run::context::{now_ns, RunContext};
use crate::systems::faultline::nodes::{bootstrap, net};
use crate::systems::faultline::producer::{data_keys, record_of};
use engine::broker::protocol::LocalOutcome;
use engine::client::txn_producer::{
    LocalTxn, TxnError, TxnOutcome, TxnProducer, TxnProducerOptions,
};
use engine::client::txn_store::{LocalState, LocalTxnStore};
use engine::env::rng::rng_for;
use engine::env::{Disk, DiskFaults, Mode};
use rand::Rng;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

const CHECK_AFTER: Duration = Duration::from_millis(1000);
const CHECK_MAX: u32 = 3;
/// After the workload stops, how long a producer stays up to answer check-backs, so every
/// undecided transaction is settled before the drain.
const SETTLE: Duration = Duration::from_millis(6000);

fn local_of(outcome: LocalOutcome) -> Local {
    match outcome {
        LocalOutcome::Commit => Local::Commit,
        LocalOutcome::Rollback => Local::Rollback,
        LocalOutcome::Unknown => Local::Unknown,
    }
}

/// Runs transactional producer `client-{client}` until the drain.
pub async fn run(ctx: Rc<RunContext>, client: u32) {
    let Some(spec) = ctx.scenario.workload.transactions.clone() else {
        return;
    };
    let mut process = ctx.fresh_process_for_incarnation(client);
    let mut rng = rng_for(ctx.seed, &format!("client-{client}-incarnation-{process}"));
    // The producer's own disk: the local transaction store survives its crashes.
    let store = Disk::open(Mode::Sim, PathBuf::from("/data"), DiskFaults::new())
        .map_err(|e| e.to_string())
        .and_then(|disk| {
            LocalTxnStore::open(&disk, Path::new("txn-store")).map_err(|e| e.to_string())
        });
    let store = match store {
        Ok(store) => store,
        Err(error) => {
            tracing::error!(client, %error, "the local transaction store cannot open");
            ctx.client_done(client);
            return;
        }
    };
    let options = TxnProducerOptions {
        producer_group: format!("txn-client-{client}"),
        check_after: CHECK_AFTER,
        check_max: CHECK_MAX,
        ..TxnProducerOptions::default()
    };
    let producer = TxnProducer::new(net(&ctx), bootstrap(&ctx), options, store);
    let keys = data_keys(&ctx);
    let interval = Duration::from_millis(1000 / spec.rate_per_s.max(1));
    ctx.until_workload_starts().await;
    while ctx.workload_running() && !ctx.recovered_enough() {
        let started_ns = now_ns();
        let value = ctx.fresh_value();
        let tp = keys[rng.random_range(0..keys.len())].clone();
        let key = tp.to_string();
        let txn = format!("c{client}-{value}");
        let draw: f64 = rng.random();
        let outcome = if draw < spec.rollback_ratio {
            LocalOutcome::Rollback
        } else if draw < spec.rollback_ratio + spec.unknown_ratio {
            LocalOutcome::Unknown
        } else {
            LocalOutcome::Commit
        };
        ctx.invoke(
            process,
            F::TxnSend,
            values::txn_send(&txn, &key, value, None),
        );
        let effect = value.to_be_bytes().to_vec();
        let result = producer
            .send_in_transaction(&txn, &tp, record_of(value), move || async move {
                LocalTxn { outcome, effect }
            })
            .await;
        let (kind, local) = match &result {
            Ok(TxnOutcome::Committed { .. }) => (OpType::Ok, Local::Commit),
            Ok(TxnOutcome::RolledBack { .. }) => (OpType::Ok, local_of(outcome)),
            Ok(TxnOutcome::Unknown) => (OpType::Ok, Local::Unknown),
            Err(TxnError::HalfFailed { .. }) => (OpType::Fail, Local::Rollback),
            Err(TxnError::DecisionUnknown { local, .. }) => (OpType::Info, local_of(*local)),
            Err(_) => (OpType::Info, Local::Unknown),
        };
        ctx.complete(
            process,
            kind,
            F::TxnSend,
            values::txn_send(&txn, &key, value, Some(local)),
        );
        if kind == OpType::Info {
            process = ctx.fresh_process();
        }
        let elapsed = Duration::from_nanos(now_ns().saturating_sub(started_ns));
        tokio::time::sleep(interval.saturating_sub(elapsed)).await;
    }
    // Stay to answer check-backs until every transaction is settled, then report the truth.
    tokio::time::sleep(SETTLE).await;
    let mut local = ctx.txn_local.borrow_mut();
    for (txn, state) in producer.local_entries() {
        let outcome = match state {
            LocalState::Done { outcome, .. } => local_of(outcome),
            // Begun but never finished: the check-back answer is rollback.
            LocalState::Begun => Local::Rollback,
        };
        local.insert(txn, outcome);
    }
    drop(local);
    ctx.client_done(client);
}
