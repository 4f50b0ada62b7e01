//! The drain: after the workload stopped, a fresh reader reads every partition from offset 0 to
//! its high watermark (retrying across leader changes) and records what it read as `poll` ops.
//! A key that was read to its end gets a final empty read (`"orders/0":[]`) — the proof the
//! checkers need that something never read was really absent.

use crate::history::{OpType, F};
use crate::run::context::RunContext;
use crate::run::nodes::bootstrap;
use crate::run::producer::{keys, value_of};
use engine::client::{ClusterClient, ClusterClientOptions};
use engine::env::Net;
use engine::storage::RecordBatch;
use serde_json::{json, Map, Value};
use std::time::Duration;
use tokio::time::Instant;

/// Fetches per partition before the drain gives up on it.
const FETCHES_MAX: usize = 10_000;
const RETRY_PAUSE: Duration = Duration::from_millis(100);

/// Reads one partition to its end; `None` if it could not be read to the end by `deadline`.
async fn read_to_end(
    cluster: &mut ClusterClient,
    tp: &engine::broker::protocol::TopicPartition,
    deadline: Instant,
) -> (Vec<(u64, i64)>, bool) {
    let mut records = Vec::new();
    let mut offset = 0;
    for _ in 0..FETCHES_MAX {
        if Instant::now() >= deadline {
            break;
        }
        match cluster.fetch(tp, offset).await {
            Ok(response) => {
                for bytes in &response.batches {
                    let Ok(batch) = RecordBatch::decode(bytes) else {
                        continue;
                    };
                    for (o, record) in batch.offsets() {
                        if o >= offset {
                            if let Some(value) = value_of(record) {
                                records.push((o, value));
                            }
                        }
                    }
                    offset = offset.max(batch.next_offset());
                }
                if response.batches.is_empty() && offset >= response.high_watermark {
                    return (records, true);
                }
            }
            Err(_) => tokio::time::sleep(RETRY_PAUSE).await,
        }
    }
    (records, false)
}

/// Reads every partition; each read is one `poll` op of a fresh process.
pub async fn run(ctx: &RunContext, budget: Duration) {
    ctx.nemesis(F::Drain, json!(null));
    let mut cluster = ClusterClient::new(
        Net::Sim,
        bootstrap(&ctx.scenario),
        ClusterClientOptions::default(),
    );
    let deadline = Instant::now() + budget;
    let mut drained = Map::new();
    for tp in keys(ctx) {
        let process = ctx.fresh_process();
        ctx.invoke(process, F::Poll, json!([["poll"]]));
        let (records, complete) = read_to_end(&mut cluster, &tp, deadline).await;
        let reads: Vec<Value> = records.iter().map(|(o, v)| json!([o, v])).collect();
        let mut keyed = Map::new();
        keyed.insert(tp.to_string(), json!(reads));
        ctx.complete(process, OpType::Ok, F::Poll, json!([["poll", keyed]]));
        if complete {
            drained.insert(tp.to_string(), json!([]));
        } else {
            tracing::warn!(%tp, "the drain could not read this partition to its end");
        }
    }
    if !drained.is_empty() {
        let process = ctx.fresh_process();
        ctx.invoke(process, F::Poll, json!([["poll"]]));
        ctx.complete(process, OpType::Ok, F::Poll, json!([["poll", drained]]));
    }
}
