//! A client of the coordinator's own znode API (`workload.coordinator`): it owns its znodes
//! (`/zk-client-<n>-<k>`), creates them, reads them (data and version) and sets them on the
//! version it last saw, recording each as a `zk-create` / `zk-read` / `zk-write` op. Data is a
//! unique integer per write (8 bytes, big-endian), so every read names the write it saw.
//!
//! What the client believes of each znode drives its next op: unknown -> read; absent ->
//! create; at version v -> read or write expecting v. A refusal (`NodeExists`, `BadVersion`,
//! `NoNode`) is a `fail` that makes the belief unknown again, so the next op reads. After an
//! `info` (timeout, transport error, WAL failure) the client goes on as a new process. A session
//! that expires is replaced by a new one; the znodes are persistent, so they outlive it.

use crate::history::{OpType, F};
use crate::run::context::{now_ns, RunContext};
use crate::systems::faultline::nodes::{net, COORDINATOR, COORDINATOR_PORT};
use engine::coordinator::{ClientError, CoordError, CoordinatorClient, CoordinatorClientOptions};
use engine::env::rng::rng_for;
use engine::env::NodeAddr;
use engine::wire::coordinator_protocol::CreateMode;
use rand::Rng;
use serde_json::{json, Value};
use std::rc::Rc;
use std::time::Duration;

/// How long one op may take before its outcome is recorded as unknown; longer than the
/// client's own request timeout, so this bound only catches a stuck connection.
const OP_TIMEOUT: Duration = Duration::from_secs(5);
/// How long opening a session may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Share of ops on a znode of known version that are writes (the rest are reads).
const WRITE_RATIO: f64 = 0.5;
/// The data a read returns when it is not one of ours (8 bytes): no write wrote it, so the
/// check reports the read.
const DATA_NOT_OURS: i64 = i64::MIN;

/// What the client believes of one znode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Belief {
    Unknown,
    Absent,
    At(u64),
}

enum Outcome {
    Ok(Value),
    Fail,
    Info,
}

/// The znode paths client `client` owns.
pub fn paths_of(client: u32, znodes: u32) -> Vec<String> {
    (0..znodes)
        .map(|k| format!("/zk-client-{client}-{k}"))
        .collect()
}

fn data_of(bytes: &[u8]) -> i64 {
    bytes
        .try_into()
        .map(i64::from_be_bytes)
        .unwrap_or(DATA_NOT_OURS)
}

/// `fail` when the request surely did not take effect, `info` when it may have.
fn refused_or_unknown(error: &ClientError) -> Outcome {
    if error.is_definite() {
        Outcome::Fail
    } else {
        Outcome::Info
    }
}

/// Runs one coordinator client (`client-{client}`) until the drain.
pub async fn run(ctx: Rc<RunContext>, client: u32) {
    let Some(spec) = ctx.scenario.workload.coordinator.clone() else {
        ctx.client_done(client);
        return;
    };
    let mut rng = rng_for(ctx.seed, &format!("client-{client}"));
    let mut process = ctx.fresh_process_for_incarnation(client);
    let paths = paths_of(client, spec.znodes_per_client);
    let mut beliefs = vec![Belief::Unknown; paths.len()];
    let interval = Duration::from_millis(1000 / spec.rate_per_s.max(1));
    let addr = NodeAddr::new(ctx.address_of(COORDINATOR), COORDINATOR_PORT);
    let mut session: Option<CoordinatorClient> = None;
    ctx.until_workload_starts().await;
    while ctx.workload_running() && !ctx.recovered_enough() {
        let started_ns = now_ns();
        if session.as_ref().is_none_or(CoordinatorClient::is_expired) {
            let connect = CoordinatorClient::connect(
                net(&ctx),
                addr.clone(),
                CoordinatorClientOptions::default(),
            );
            session = tokio::time::timeout(CONNECT_TIMEOUT, connect)
                .await
                .ok()
                .and_then(Result::ok);
        }
        if let Some(coordinator) = &session {
            let k = rng.random_range(0..paths.len());
            let write = rng.random_bool(WRITE_RATIO);
            let kind = one_op(
                &ctx,
                coordinator,
                process,
                &paths[k],
                &mut beliefs[k],
                write,
            )
            .await;
            if kind == OpType::Info {
                process = ctx.fresh_process();
            }
        }
        let elapsed = Duration::from_nanos(now_ns().saturating_sub(started_ns));
        tokio::time::sleep(interval.saturating_sub(elapsed)).await;
    }
    ctx.client_done(client);
}

/// One op on `path`, chosen from the belief about it; records it and updates the belief.
async fn one_op(
    ctx: &RunContext,
    coordinator: &CoordinatorClient,
    process: u64,
    path: &str,
    belief: &mut Belief,
    write: bool,
) -> OpType {
    let (f, invoke, outcome) = match *belief {
        Belief::Absent => {
            let data = ctx.fresh_value();
            let invoke = json!({"path": path, "data": data});
            ctx.invoke(process, F::ZkCreate, invoke.clone());
            let call =
                coordinator.create(path, data.to_be_bytes().to_vec(), CreateMode::Persistent);
            let outcome = match tokio::time::timeout(OP_TIMEOUT, call).await {
                Ok(Ok(_)) => {
                    *belief = Belief::At(0);
                    Outcome::Ok(json!({"path": path, "data": data, "version": 0}))
                }
                Ok(Err(error)) => refused_or_unknown(&error),
                Err(_) => Outcome::Info,
            };
            (F::ZkCreate, invoke, outcome)
        }
        Belief::At(expected) if write => {
            let data = ctx.fresh_value();
            let invoke = json!({"path": path, "data": data, "expected": expected});
            ctx.invoke(process, F::ZkWrite, invoke.clone());
            let call = coordinator.set(path, data.to_be_bytes().to_vec(), Some(expected));
            let outcome = match tokio::time::timeout(OP_TIMEOUT, call).await {
                Ok(Ok(stat)) => {
                    *belief = Belief::At(stat.version);
                    Outcome::Ok(json!({
                        "path": path, "data": data, "expected": expected, "version": stat.version
                    }))
                }
                Ok(Err(error)) => refused_or_unknown(&error),
                Err(_) => Outcome::Info,
            };
            (F::ZkWrite, invoke, outcome)
        }
        Belief::Unknown | Belief::At(_) => {
            let invoke = json!({"path": path});
            ctx.invoke(process, F::ZkRead, invoke.clone());
            let outcome = match tokio::time::timeout(OP_TIMEOUT, coordinator.get(path)).await {
                Ok(Ok((data, stat))) => {
                    *belief = Belief::At(stat.version);
                    Outcome::Ok(json!({
                        "path": path, "data": data_of(&data), "version": stat.version
                    }))
                }
                Ok(Err(ClientError::Coord(CoordError::NoNode { .. }))) => {
                    *belief = Belief::Absent;
                    Outcome::Ok(json!({"path": path, "data": null, "version": null}))
                }
                Ok(Err(error)) => refused_or_unknown(&error),
                Err(_) => Outcome::Info,
            };
            (F::ZkRead, invoke, outcome)
        }
    };
    let kind = match outcome {
        Outcome::Ok(value) => {
            ctx.complete(process, OpType::Ok, f, value);
            return OpType::Ok;
        }
        Outcome::Fail => OpType::Fail,
        Outcome::Info => OpType::Info,
    };
    // Refused or unknown: what the znode holds is no longer known.
    if f != F::ZkRead {
        *belief = Belief::Unknown;
    }
    ctx.complete(process, kind, f, invoke);
    kind
}
