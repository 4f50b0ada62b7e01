//! The consumer workload: each member of a consumer group subscribes to every topic, polls,
//! applies each record to the group's business state with the group's apply strategy
//! (design.md section 11), then commits its position — recording poll, apply and
//! commit-offsets ops, rebalances as `subscribe` ops, and the loss detector's gaps of
//! acknowledged sends as `sequence-gap` events. A crash between apply and commit makes the next
//! member read those records again; the strategy decides whether they are applied twice.

use crate::history::values;
use crate::history::{OpType, Process, F};
use crate::run::context::{Phase, RunContext, StampOutcome};
use crate::run::nodes::bootstrap;
use crate::run::producer::value_of;
use crate::scenario::ApplyStrategy;
use engine::bugs::Bug;
use engine::client::consumer::{Consumer, ConsumerOptions, ConsumerRecord};
use engine::client::{SequenceChecker, SequenceEvent};
use engine::env::Net;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

const POLL_INTERVAL: Duration = Duration::from_millis(50);
const RETRY_PAUSE: Duration = Duration::from_millis(100);

/// Whether a gap in the stamps is real: some missing send was acknowledged.
fn gap_matters(ctx: &RunContext, event: &SequenceEvent) -> bool {
    let stamps = ctx.stamps.borrow();
    let key = event.tp.to_string();
    (event.expected..event.got).any(|sequence| {
        stamps.get(&(event.producer, key.clone(), sequence)) == Some(&StampOutcome::Acknowledged)
    })
}

/// Applies one record to the group's state; `true` if its effect was applied.
fn apply(
    ctx: &RunContext,
    group: &str,
    strategy: ApplyStrategy,
    key: &str,
    offset: u64,
    value: i64,
) -> bool {
    let mut business = ctx.business.borrow_mut();
    let state = business.entry(group.to_string()).or_default();
    let apply = match strategy {
        ApplyStrategy::None => true,
        // A unique constraint on the message id; record-and-check writes the id in the same
        // durable write as the effect — in this model both are one atomic step.
        ApplyStrategy::UniqueKey | ApplyStrategy::RecordAndCheck => state.seen.insert(value),
        ApplyStrategy::Versioned => {
            let version = state.versions.entry(key.to_string()).or_insert(0);
            if offset >= *version {
                *version = offset + 1;
                true
            } else {
                false
            }
        }
    };
    if apply {
        state
            .applied
            .entry(key.to_string())
            .or_default()
            .push(value);
    }
    apply
}

fn reads(records: &[ConsumerRecord]) -> BTreeMap<String, Vec<(u64, i64)>> {
    let mut reads: BTreeMap<String, Vec<(u64, i64)>> = BTreeMap::new();
    for record in records {
        if let Some(value) = value_of(&record.record) {
            reads
                .entry(record.tp.to_string())
                .or_default()
                .push((record.offset, value));
        }
    }
    reads
}

fn poll_value(reads: &BTreeMap<String, Vec<(u64, i64)>>) -> serde_json::Value {
    let pairs: Vec<(&str, &[(u64, i64)])> = reads
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_slice()))
        .collect();
    values::poll_complete(&pairs)
}

/// Runs one member (`client-{client}`) of group `group` until the drain.
pub async fn run(ctx: Rc<RunContext>, client: u32, group: usize) {
    let Some(spec) = ctx
        .scenario
        .workload
        .consumers
        .as_ref()
        .and_then(|c| c.groups.get(group))
        .cloned()
    else {
        return;
    };
    let mut process = ctx.fresh_process_for_incarnation(client);
    let checker = Arc::new(SequenceChecker::default());
    let options = ConsumerOptions {
        group: Some(spec.name.clone()),
        bugs: ctx.bugs.get(),
        ..ConsumerOptions::default()
    };
    let mut consumer = Consumer::new(Net::Sim, bootstrap(&ctx.scenario), options, vec![checker]);
    while ctx.phase.get() == Phase::Setup {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let topics: Vec<String> = ctx
        .scenario
        .cluster
        .topics
        .iter()
        .map(|t| t.name.clone())
        .collect();
    ctx.invoke(
        process,
        F::Subscribe,
        values::membership(Some(&spec.name), &[], None),
    );
    let subscribed = consumer.subscribe(topics);
    let kind = if subscribed.is_ok() {
        OpType::Ok
    } else {
        OpType::Fail
    };
    ctx.complete(
        process,
        kind,
        F::Subscribe,
        values::membership(Some(&spec.name), &[], None),
    );
    while ctx.workload_running() {
        ctx.invoke(process, F::Poll, values::poll_invoke());
        let polled = consumer.poll().await;
        let result = match polled {
            Ok(result) => result,
            Err(error) => {
                tracing::debug!(%error, client, "poll failed");
                ctx.complete(process, OpType::Fail, F::Poll, values::poll_invoke());
                tokio::time::sleep(RETRY_PAUSE).await;
                continue;
            }
        };
        let reads = reads(&result.records);
        if let Some((generation, assigned)) = &result.rebalanced {
            // The records came after the rebalance: close this process's poll empty and go on
            // as a new process whose history starts with its new assignment.
            ctx.complete(process, OpType::Ok, F::Poll, poll_value(&BTreeMap::new()));
            process = ctx.fresh_process();
            let keys: Vec<String> = assigned.iter().map(ToString::to_string).collect();
            let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
            let membership = values::membership(Some(&spec.name), &keys, Some(*generation));
            ctx.invoke(process, F::Subscribe, membership.clone());
            ctx.complete(process, OpType::Ok, F::Subscribe, membership);
            ctx.invoke(process, F::Poll, values::poll_invoke());
        }
        ctx.complete(process, OpType::Ok, F::Poll, poll_value(&reads));
        for event in result
            .events
            .iter()
            .filter(|e| e.is_gap() && gap_matters(&ctx, e))
        {
            let gap = values::sequence_gap(
                &event.tp.to_string(),
                event.producer,
                event.expected,
                event.got,
            );
            ctx.event(Process::Client(process), OpType::Info, F::SequenceGap, gap);
        }
        let commit_first = ctx.bugs.get().has(Bug::CommitBeforeProcessing);
        if commit_first && !result.records.is_empty() {
            // Planted bug: the position is committed before the records are processed.
            commit(&ctx, &mut consumer, &mut process, &spec.name).await;
        }
        apply_reads(&ctx, process, &spec.name, spec.apply, &reads);
        if !commit_first && !result.records.is_empty() {
            commit(&ctx, &mut consumer, &mut process, &spec.name).await;
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
    let _ = consumer.close().await;
    ctx.client_done(client);
}

/// Applies every record read, one `apply` op each (`fail` when the strategy skipped it).
fn apply_reads(
    ctx: &RunContext,
    process: u64,
    group: &str,
    strategy: ApplyStrategy,
    reads: &BTreeMap<String, Vec<(u64, i64)>>,
) {
    for (key, records) in reads {
        for (offset, value) in records {
            let op = values::apply(key, *value, Some(*offset));
            ctx.invoke(process, F::Apply, op.clone());
            let kind = if apply(ctx, group, strategy, key, *offset, *value) {
                OpType::Ok
            } else {
                OpType::Fail
            };
            ctx.complete(process, kind, F::Apply, op);
        }
    }
}

/// Commits the consumer's positions as one `commit-offsets` op.
async fn commit(ctx: &RunContext, consumer: &mut Consumer, process: &mut u64, group: &str) {
    let positions: Vec<(String, u64)> = consumer
        .assignment()
        .iter()
        .filter_map(|tp| consumer.position(tp).map(|offset| (tp.to_string(), offset)))
        .collect();
    let pairs: Vec<(&str, u64)> = positions.iter().map(|(k, o)| (k.as_str(), *o)).collect();
    ctx.invoke(*process, F::CommitOffsets, values::commit_offsets(&pairs));
    let kind = match consumer.commit_position().await {
        Ok(()) => OpType::Ok,
        Err(error) if error.refusal().is_some() => OpType::Fail,
        Err(_) => OpType::Info,
    };
    ctx.complete(
        *process,
        kind,
        F::CommitOffsets,
        values::commit_offsets(&pairs),
    );
    if kind == OpType::Info {
        // Go on as a new process; its history starts with the membership it still holds, so
        // its later ops are attributed to this group.
        *process = ctx.fresh_process();
        let keys: Vec<String> = consumer
            .assignment()
            .iter()
            .map(ToString::to_string)
            .collect();
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let membership = values::membership(Some(group), &keys, consumer.generation());
        ctx.invoke(*process, F::Subscribe, membership.clone());
        ctx.complete(*process, OpType::Ok, F::Subscribe, membership);
    }
}
