//! A gateway of a token bucket: requests arrive at the scenario's rate while demand is busy
//! (none while it is idle), and each is admitted only if the gateway takes a token first. A
//! take reads the token at the bucket's head, then deletes exactly that record with a
//! compare-and-set on the head (`DeleteRecords { before: o + 1, expected_head: o }`), which the
//! leader acknowledges only once every in-sync replica has the new head — so an admitted token
//! can never be taken again, whatever leader comes next. Two gateways racing for one token:
//! one wins, the other reads the next.
//!
//! The gateway reads the token before it records anything, then invokes an `admit` op naming
//! it, so a gateway that crashes mid-take leaves the read in the history. The op ends `ok`
//! (taken, admitted), `fail` (the request was rejected and the token not consumed: the bucket
//! was empty, or another gateway took that token first — then it tries the next one as a new
//! request id), or `info` when the delete's outcome is unknown — the request is rejected, the
//! token may be gone.

use crate::history::{OpType, F};
use crate::run::context::RunContext;
use crate::systems::faultline::nodes::{bootstrap, net};
use crate::systems::faultline::producer::values_from;
use crate::systems::faultline::token_generator::bucket_key;
use engine::broker::protocol::TopicPartition;
use engine::broker::BrokerError;
use engine::client::{ClusterClient, ClusterClientOptions, ClusterError};
use serde_json::{json, Value};
use std::rc::Rc;
use std::time::Duration;
use tokio::time::Instant; // The simulated clock (design.md section 4).

/// Reads and compare-and-sets per request before the gateway gives up (other gateways kept
/// taking the token it read).
const TAKE_ATTEMPTS_MAX: usize = 4;

/// Reads the token at the bucket's head: `None` when the bucket is empty or unreachable.
async fn read_token(
    cluster: &mut ClusterClient,
    tp: &TopicPartition,
    head: &mut u64,
) -> Option<(u64, i64)> {
    for _ in 0..TAKE_ATTEMPTS_MAX {
        match cluster.fetch(tp, *head).await {
            Ok(fetched) if fetched.log_start > *head => *head = fetched.log_start,
            Ok(fetched) => return values_from(&fetched.batches, *head).0.first().copied(),
            Err(ClusterError::Broker(BrokerError::OffsetOutOfRange { start, .. })) => *head = start,
            Err(_) => return None,
        }
    }
    None
}

fn admit_value(key: &str, request: i64, token: Option<(u64, i64)>) -> Value {
    match token {
        Some((offset, value)) => json!({"key": key, "request": request, "token": [offset, value]}),
        None => json!({"key": key, "request": request}),
    }
}

/// One request: read the token at the head, then take exactly it. Each take attempt is one
/// `admit` op naming the token it read (a request whose token another gateway took first tries
/// again as a new request id); a request that finds no token is one `admit` that fails.
async fn serve_request(
    ctx: &RunContext,
    cluster: &mut ClusterClient,
    tp: &TopicPartition,
    head: &mut u64,
    process: &mut u64,
) {
    let key = tp.to_string();
    for _ in 0..TAKE_ATTEMPTS_MAX {
        let request = ctx.fresh_value();
        let Some((offset, value)) = read_token(cluster, tp, head).await else {
            ctx.invoke(*process, F::Admit, admit_value(&key, request, None));
            ctx.complete(
                *process,
                OpType::Fail,
                F::Admit,
                admit_value(&key, request, None),
            );
            return;
        };
        let token = Some((offset, value));
        ctx.invoke(*process, F::Admit, admit_value(&key, request, token));
        let kind = match cluster.delete_records(tp, offset + 1, Some(offset)).await {
            Ok(new_head) => {
                *head = new_head;
                OpType::Ok
            }
            Err(ClusterError::Broker(BrokerError::HeadMoved { head: moved })) => {
                // Another gateway took it (or our view was stale): read again.
                *head = moved;
                ctx.complete(
                    *process,
                    OpType::Fail,
                    F::Admit,
                    admit_value(&key, request, token),
                );
                continue;
            }
            Err(error) if error.surely_not_written() => OpType::Fail,
            Err(_) => OpType::Info,
        };
        ctx.complete(*process, kind, F::Admit, admit_value(&key, request, token));
        if kind == OpType::Info {
            *process = ctx.fresh_process();
        }
        return;
    }
}

/// Runs gateway `client-{client}` until the drain.
pub async fn run(ctx: Rc<RunContext>, client: u32) {
    let (Some(tokens), Some(gateways)) = (
        ctx.scenario.workload.tokens.clone(),
        ctx.scenario.workload.gateways.clone(),
    ) else {
        return;
    };
    let tp = bucket_key(&tokens);
    let mut process = ctx.fresh_process_for_incarnation(client);
    // No long poll: a gateway answers its caller at once when the bucket is empty.
    let options = ClusterClientOptions {
        fetch_max_wait: Duration::ZERO,
        ..ClusterClientOptions::default()
    };
    let mut cluster = ClusterClient::new(net(&ctx), bootstrap(&ctx), options);
    ctx.until_workload_starts().await;
    let period = Duration::from_nanos(1_000_000_000u64.div_ceil(gateways.rate_per_s.max(1)));
    let mut head = 0;
    let mut next = Instant::now();
    while ctx.workload_running() && !ctx.recovered_enough() {
        tokio::time::sleep_until(next).await;
        // Requests that would have arrived while the last one was served are not queued.
        next = (next + period).max(Instant::now());
        if !ctx.workload_running() {
            break;
        }
        if !gateways.busy_at(ctx.workload_elapsed_ms()) {
            continue;
        }
        serve_request(&ctx, &mut cluster, &tp, &mut head, &mut process).await;
    }
    ctx.client_done(client);
}
