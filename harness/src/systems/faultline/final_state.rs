//! The end of a run: the drain's heads and the ground truth only the run knows — the
//! transactional producers' local records, each consumer group's business state and committed
//! offsets, the token bucket as specified, and the heads of `drop-oldest` queues.

use crate::history::values::FinalStateRecord;
use crate::history::{OpType, Process, F};
use crate::run::context::RunContext;
use crate::scenario::Overflow;
use crate::systems::faultline::nodes::{bootstrap, net};
use crate::systems::faultline::setup::SETUP_PAUSE;
use crate::systems::faultline::token_generator;
use engine::broker::protocol::Strategy;
use engine::client::group_member::GroupMember;
use engine::client::{ClusterClient, ClusterClientOptions};
use std::collections::BTreeMap;
use std::time::Duration;

/// Attempts to read each group's committed offsets at the end.
const FINAL_READ_ATTEMPTS: usize = 100;

/// Records the ground truth at the end: the transactional producers' local records, each
/// consumer group's business state and committed offsets, the token bucket as specified, and
/// the heads of `drop-oldest` queues (below which records may have been dropped by design).
pub async fn record(ctx: &RunContext, heads: &BTreeMap<String, u64>) {
    let txns = ctx.scenario.workload.transactions.is_some();
    let groups = match &ctx.scenario.workload.consumers {
        Some(consumers) => Some(group_truth(ctx, consumers).await),
        None => None,
    };
    let token_buckets = ctx.scenario.workload.tokens.as_ref().map(|tokens| {
        let key = token_generator::bucket_key(tokens).to_string();
        BTreeMap::from([(key, (tokens.rate_per_s, tokens.capacity))])
    });
    let dropped_below: BTreeMap<String, u64> = ctx
        .scenario
        .cluster
        .topics
        .iter()
        .filter(|topic| topic.capacity.is_some() && topic.overflow == Overflow::DropOldest)
        .flat_map(|topic| (0..topic.partitions).map(|p| format!("{}/{p}", topic.name)))
        .filter_map(|key| heads.get(&key).map(|head| (key, *head)))
        .collect();
    let dropped_below = (!dropped_below.is_empty()).then_some(dropped_below);
    if !txns && groups.is_none() && token_buckets.is_none() && dropped_below.is_none() {
        return;
    }
    let (applied, committed_offsets) = groups.unzip();
    let record = FinalStateRecord {
        txn_local: txns.then(|| ctx.txn_local.borrow().clone()),
        applied,
        committed_offsets,
        token_buckets,
        dropped_below,
    };
    ctx.event(
        Process::Nemesis,
        OpType::Ok,
        F::FinalState,
        record.to_value(),
    );
}

type ByGroup<T> = BTreeMap<String, BTreeMap<String, T>>;

/// Each group's business state, and its committed offsets as the group coordinator reports them.
async fn group_truth(
    ctx: &RunContext,
    consumers: &crate::scenario::Consumers,
) -> (ByGroup<Vec<i64>>, ByGroup<u64>) {
    let keys = crate::systems::faultline::producer::keys(ctx);
    let mut cluster = ClusterClient::new(net(ctx), bootstrap(ctx), ClusterClientOptions::default());
    let mut applied = BTreeMap::new();
    let mut committed = BTreeMap::new();
    for group in &consumers.groups {
        let state = ctx
            .business
            .borrow()
            .get(&group.name)
            .cloned()
            .unwrap_or_default();
        applied.insert(group.name.clone(), state.applied);
        let mut member = GroupMember::new(
            group.name.clone(),
            Strategy::Range,
            Duration::from_secs(3),
            Duration::from_millis(300),
            bootstrap(ctx),
        );
        let mut offsets = None;
        for _ in 0..FINAL_READ_ATTEMPTS {
            match member.committed(&mut cluster, keys.clone()).await {
                Ok(found) => {
                    offsets = Some(found);
                    break;
                }
                Err(_) => tokio::time::sleep(SETUP_PAUSE).await,
            }
        }
        match offsets {
            Some(found) => {
                let by_key: BTreeMap<String, u64> = found
                    .into_iter()
                    .filter_map(|(tp, o)| o.map(|o| (tp.to_string(), o)))
                    .collect();
                committed.insert(group.name.clone(), by_key);
            }
            None => {
                tracing::warn!(group = %group.name, "committed offsets could not be read at the end")
            }
        }
    }
    (applied, committed)
}
