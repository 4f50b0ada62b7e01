//! The run's conductor, a simulation client of its own: sets the cluster up, starts the
//! workload, plays the fault schedule, heals, waits for recovery and for the workload to stop,
//! then drains. Its end is the run's end.

use crate::history::values::FinalStateRecord;
use crate::history::{OpType, Process, F};
use crate::run::context::{now_ns, Phase, RunContext};
use crate::run::nemesis::Nemesis;
use crate::run::nodes::bootstrap;
use crate::run::{drain, token_generator};
use crate::scenario::{FaultSchedule, Overflow};
use engine::broker::protocol::Strategy;
use engine::broker::BrokerError;
use engine::client::group_member::GroupMember;
use engine::client::{ClusterClient, ClusterClientOptions, ClusterError};
use engine::env::rng::rng_for;
use engine::env::Net;
use serde_json::json;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

/// Setup attempts (topic creation, leader election) before the run is declared broken.
const SETUP_ATTEMPTS_MAX: usize = 600;
const SETUP_PAUSE: Duration = Duration::from_millis(50);
/// How long the conductor waits for every workload client to stop before draining anyway.
const CLIENT_STOP_WAIT: Duration = Duration::from_secs(30);
/// The drain's time budget.
const DRAIN_BUDGET: Duration = Duration::from_secs(60);
/// Attempts to read each group's committed offsets at the end.
const FINAL_READ_ATTEMPTS: usize = 100;

#[derive(Debug, thiserror::Error)]
#[error("setup failed: {0}")]
pub struct SetupError(String);

async fn setup(ctx: &RunContext, cluster: &mut ClusterClient) -> Result<(), SetupError> {
    let bucket = ctx
        .scenario
        .workload
        .tokens
        .as_ref()
        .map(|t| t.topic.as_str());
    for topic in &ctx.scenario.cluster.topics {
        let request = if Some(topic.name.as_str()) == bucket {
            // The token generator declares its own bucket.
            token_generator::bucket_request(ctx, topic)
        } else {
            topic.create_request()
        };
        let mut created = false;
        for _ in 0..SETUP_ATTEMPTS_MAX {
            match cluster.create_topic(request.clone()).await {
                Ok(()) | Err(ClusterError::Broker(BrokerError::TopicExists)) => {
                    created = true;
                    break;
                }
                Err(_) => tokio::time::sleep(SETUP_PAUSE).await,
            }
        }
        if !created {
            return Err(SetupError(format!(
                "topic {} could not be created",
                topic.name
            )));
        }
        cluster
            .await_leaders(&topic.name, SETUP_ATTEMPTS_MAX, SETUP_PAUSE)
            .await
            .map_err(|_| SetupError(format!("topic {} got no leaders", topic.name)))?;
    }
    Ok(())
}

/// Sleeps until `at_ms` after the workload started.
async fn sleep_until_ms(ctx: &RunContext, at_ms: u64) {
    let now = ctx.workload_elapsed_ms();
    if at_ms > now {
        tokio::time::sleep(Duration::from_millis(at_ms - now)).await;
    }
}

/// Records the ground truth at the end: the transactional producers' local records, each
/// consumer group's business state and committed offsets, the token bucket as specified, and
/// the heads of `drop-oldest` queues (below which records may have been dropped by design).
async fn final_state(ctx: &RunContext, heads: &BTreeMap<String, u64>) {
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
    let keys = crate::run::producer::keys(ctx);
    let mut cluster = ClusterClient::new(
        Net::Sim,
        bootstrap(&ctx.scenario),
        ClusterClientOptions::default(),
    );
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
            bootstrap(&ctx.scenario),
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

/// Conducts the whole run.
pub async fn run(ctx: Rc<RunContext>, schedule: FaultSchedule) -> Result<(), SetupError> {
    let mut cluster = ClusterClient::new(
        Net::Sim,
        bootstrap(&ctx.scenario),
        ClusterClientOptions::default(),
    );
    setup(&ctx, &mut cluster).await?;
    ctx.workload_started_ns.set(now_ns());
    ctx.phase.set(Phase::Faulty);
    let duration_ms = ctx.scenario.workload.duration_ms;
    let mut nemesis = Nemesis::new(&ctx, rng_for(ctx.seed, "nemesis"), cluster);
    let mut events = schedule.0.iter().peekable();
    // Each pass starts or lifts at least one fault, or ends the faulty phase.
    loop {
        let next_event = events.peek().map(|event| event.at_ms);
        let next_lift = nemesis.next_lift_ms();
        let next = [next_event, next_lift]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(duration_ms)
            .min(duration_ms);
        sleep_until_ms(&ctx, next).await;
        let now = ctx.workload_elapsed_ms();
        nemesis.lift_due(now);
        if now >= duration_ms {
            break;
        }
        while let Some(event) = events.next_if(|event| event.at_ms <= now) {
            nemesis.start(event, now).await;
        }
    }
    nemesis.heal();
    ctx.phase.set(Phase::Healing);
    let heal_ns = now_ns();
    let recovery = Duration::from_millis(ctx.scenario.recovery_ms);
    while Duration::from_nanos(now_ns() - heal_ns) < recovery
        && ctx.ok_after_heal.get() < crate::run::producer::OKS_AFTER_HEAL_ENOUGH
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    ctx.phase.set(Phase::Drain);
    let stop_wait_ns = now_ns();
    while !ctx.all_clients_done()
        && Duration::from_nanos(now_ns() - stop_wait_ns) < CLIENT_STOP_WAIT
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if !ctx.all_clients_done() {
        ctx.nemesis(F::Other("clients-still-running".into()), json!(null));
    }
    let heads = drain::run(&ctx, DRAIN_BUDGET).await;
    final_state(&ctx, &heads).await;
    ctx.phase.set(Phase::Done);
    Ok(())
}
