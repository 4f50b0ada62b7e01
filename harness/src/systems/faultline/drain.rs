//! The drain: after the workload stopped, a fresh reader reads every partition from its head
//! (offset 0, or where a bounded queue's head has moved) to its high watermark, once that has
//! caught up with the leader's log end (retrying across leader changes) and records what it read as `poll` ops. A key that was read to its
//! end gets a final empty read (`"orders/0":[]`) — the proof the checkers need that something
//! never read was really absent. The heads it found go into the final state, so the checks
//! know which records a `drop-oldest` queue may have dropped.

use crate::history::{OpType, F};
use crate::run::context::RunContext;
use crate::systems::faultline::nodes::{bootstrap, net};
use crate::systems::faultline::producer::{keys, values_from};
use engine::broker::BrokerError;
use engine::client::{ClusterClient, ClusterClientOptions, ClusterError};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::time::Instant; // The simulated clock (design.md section 4).

/// Fetches per partition before the drain gives up on it.
const FETCHES_MAX: usize = 10_000;
const RETRY_PAUSE: Duration = Duration::from_millis(100);

/// What the drain read from one partition.
struct Drained {
    records: Vec<(u64, i64)>,
    /// Read to the high watermark.
    complete: bool,
    /// The partition's head as the leader last reported it.
    head: u64,
}

/// Reads one partition from its head to its end, or as far as it gets by `deadline`.
async fn read_to_end(
    cluster: &mut ClusterClient,
    tp: &engine::broker::protocol::TopicPartition,
    deadline: Instant,
) -> Drained {
    let mut records = Vec::new();
    let mut offset = 0;
    let mut head = 0;
    for _ in 0..FETCHES_MAX {
        if Instant::now() >= deadline {
            break;
        }
        match cluster.fetch(tp, offset).await {
            Err(ClusterError::Broker(BrokerError::OffsetOutOfRange { start, .. }))
                if start > offset =>
            {
                // Below a bounded queue's head: what lies there was consumed or dropped.
                offset = start;
                head = head.max(start);
            }
            Ok(response) => {
                head = head.max(response.log_start);
                let (values, next) = values_from(&response.batches, offset);
                records.extend(values);
                offset = next;
                if response.batches.is_empty() && offset >= response.high_watermark {
                    // The end is the high watermark only once it has caught up with the
                    // leader's log: a leader elected during the heal holds every acknowledged
                    // record but may start with a lower high watermark than its predecessor
                    // had, until its followers fetch again. Stopping there reported
                    // acknowledged records as unseen (network swarm seeds 1716087744 and
                    // 1716088347). Nothing is written during the drain, so it converges.
                    if response.high_watermark >= response.log_end {
                        return Drained {
                            records,
                            complete: true,
                            head,
                        };
                    }
                    tokio::time::sleep(RETRY_PAUSE).await;
                }
            }
            Err(_) => tokio::time::sleep(RETRY_PAUSE).await,
        }
    }
    Drained {
        records,
        complete: false,
        head,
    }
}

/// Reads every partition; each read is one `poll` op of a fresh process. Returns each
/// partition's head (keyed `topic/partition`).
pub async fn run(ctx: &RunContext, budget: Duration) -> BTreeMap<String, u64> {
    ctx.nemesis(F::Drain, json!(null));
    let mut cluster = ClusterClient::new(net(ctx), bootstrap(ctx), ClusterClientOptions::default());
    let deadline = Instant::now() + budget;
    let mut drained = Map::new();
    let mut heads = BTreeMap::new();
    for tp in keys(ctx) {
        let process = ctx.fresh_process();
        ctx.invoke(process, F::Poll, json!([["poll"]]));
        let read = read_to_end(&mut cluster, &tp, deadline).await;
        let reads: Vec<Value> = read.records.iter().map(|(o, v)| json!([o, v])).collect();
        let mut keyed = Map::new();
        keyed.insert(tp.to_string(), json!(reads));
        ctx.complete(process, OpType::Ok, F::Poll, json!([["poll", keyed]]));
        heads.insert(tp.to_string(), read.head);
        if read.complete {
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
    heads
}
