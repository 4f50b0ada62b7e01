//! The consumer workload: each member of a consumer group subscribes to the group's topics,
//! polls, applies each record to the group's business state with the group's apply strategy
//! (design.md section 11), taking `process` per message, then commits its position — recording
//! poll, apply and commit-offsets ops, rebalances and position resets as `subscribe` ops, and
//! the loss detector's gaps of acknowledged sends as `sequence-gap` events. A crash between
//! apply and commit makes the next member read those records again; the strategy decides
//! whether they are applied twice.
//!
//! A message whose deadline has passed when its turn comes is discarded, not applied, and
//! recorded as `expired`. After each commit, the member purges what it committed from bounded
//! topics (`DeleteRecords` up to the committed offset), so a bounded queue counts only the
//! backlog, as Kafka Streams purges its repartition topics. Members beyond the group's initial
//! size wait for `scale_out.at` before they subscribe.

use crate::history::values;
use crate::history::{OpType, Process, F};
use crate::run::context::{RunContext, StampOutcome};
use crate::scenario::Group;
use crate::systems::business::apply;
use crate::systems::faultline::nodes::{bootstrap, net};
use crate::systems::faultline::producer::{deadline_of, value_of};
use engine::broker::protocol::TopicPartition;
use engine::bugs::{Bug, Bugs};
use engine::client::consumer::{Consumer, ConsumerOptions, ConsumerRecord};
use engine::client::{ClusterClient, ClusterClientOptions};
use engine::client::{SequenceChecker, SequenceEvent};
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

const POLL_INTERVAL: Duration = Duration::from_millis(50);
const RETRY_PAUSE: Duration = Duration::from_millis(100);
/// A slow member's poll holds at most this much work, so it polls again (and heartbeats) well
/// within its session timeout.
const POLL_WORK_MAX: Duration = Duration::from_millis(500);

/// Whether a gap in the stamps is real: some missing send was acknowledged.
fn gap_matters(ctx: &RunContext, event: &SequenceEvent) -> bool {
    let stamps = ctx.stamps.borrow();
    let key = event.tp.to_string();
    (event.expected..event.got).any(|sequence| {
        stamps.get(&(event.producer, key.clone(), sequence)) == Some(&StampOutcome::Acknowledged)
    })
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

/// Records one poll may return for a member that takes `process_ms` per message.
fn records_per_poll(process_ms: u64) -> usize {
    match process_ms {
        0 => engine::client::consumer::POLL_RECORDS_MAX,
        ms => usize::try_from(POLL_WORK_MAX.as_millis() as u64 / ms)
            .unwrap_or(1)
            .max(1),
    }
}

/// Records a new membership for a fresh process: after a rebalance, an unknown commit, or a
/// position reset, the process's reads no longer continue its earlier ones.
fn restate_membership(ctx: &RunContext, consumer: &Consumer, process: &mut u64, group: &str) {
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

/// Runs member `member` (`client-{client}`) of group `group` until the drain, with the run's
/// planted client bugs.
pub async fn run(ctx: Rc<RunContext>, client: u32, (group, member): (usize, u32), bugs: Bugs) {
    let Some(spec) = ctx.scenario.workload.consumer_group(group).cloned() else {
        return;
    };
    let mut process = ctx.fresh_process_for_incarnation(client);
    let checker = Arc::new(SequenceChecker::default());
    let options = ConsumerOptions {
        group: Some(spec.name.clone()),
        bugs,
        max_poll_records: records_per_poll(spec.process_ms),
        ..ConsumerOptions::default()
    };
    let mut consumer = Consumer::new(net(&ctx), bootstrap(&ctx), options, vec![checker]);
    let mut purger =
        ClusterClient::new(net(&ctx), bootstrap(&ctx), ClusterClientOptions::default());
    ctx.until_workload_starts().await;
    // A late member sleeps until its moment (always within the workload: resolve checks it).
    let joins_in_ms = spec
        .joins_at_ms(member)
        .saturating_sub(ctx.workload_elapsed_ms());
    tokio::time::sleep(Duration::from_millis(joins_in_ms)).await;
    if !ctx.workload_running() {
        ctx.client_done(client);
        return;
    }
    let topics = spec.topics.clone();
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
        if !result.resets.is_empty() && result.rebalanced.is_none() {
            // The position fell below the partition's head (records were purged or dropped by
            // a bounded queue's overflow) and jumped forward: like a reassignment, not a skip.
            for reset in &result.resets {
                tracing::info!(tp = %reset.tp, from = reset.from, to = reset.to, client, "position reset");
            }
            ctx.complete(process, OpType::Ok, F::Poll, poll_value(&BTreeMap::new()));
            restate_membership(&ctx, &consumer, &mut process, &spec.name);
            ctx.invoke(process, F::Poll, values::poll_invoke());
        }
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
        let commit_first = bugs.has(Bug::CommitBeforeProcessing);
        if commit_first && !result.records.is_empty() {
            // Planted bug: the position is committed before the records are processed.
            let committed = commit(&ctx, &mut consumer, &mut process, &spec.name).await;
            purge(&ctx, &mut purger, &committed).await;
        }
        process_records(&ctx, process, &spec, &result.records).await;
        if !commit_first && !result.records.is_empty() {
            let committed = commit(&ctx, &mut consumer, &mut process, &spec.name).await;
            purge(&ctx, &mut purger, &committed).await;
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
    let _ = consumer.close().await;
    ctx.client_done(client);
}

/// Processes every record polled, in order: one `apply` op each (`fail` when the strategy
/// skipped it), taking `process_ms` per message; a message whose deadline passed before its
/// turn is discarded and recorded as `expired` instead.
async fn process_records(ctx: &RunContext, process: u64, spec: &Group, records: &[ConsumerRecord]) {
    for record in records {
        let Some(value) = value_of(&record.record) else {
            continue;
        };
        let key = record.tp.to_string();
        let op = values::apply(&key, value, Some(record.offset));
        // The decision and the op share one timestamp, so the history shows exactly what the
        // consumer compared against the deadline.
        let now_ns = ctx.stamp_ns();
        if deadline_of(&record.record).is_some_and(|deadline| now_ns > deadline) {
            ctx.event(Process::Client(process), OpType::Ok, F::Expired, op);
            continue;
        }
        ctx.invoke(process, F::Apply, op.clone());
        let kind = if apply(ctx, &spec.name, spec.apply, &key, record.offset, value) {
            OpType::Ok
        } else {
            OpType::Fail
        };
        ctx.complete(process, kind, F::Apply, op);
        if spec.process_ms > 0 {
            tokio::time::sleep(Duration::from_millis(spec.process_ms)).await;
        }
    }
}

/// Removes what the group committed from bounded topics: a bounded queue holds the backlog,
/// not what was consumed. Best effort — a purge that fails is retried by the next commit's.
async fn purge(ctx: &RunContext, purger: &mut ClusterClient, committed: &[(TopicPartition, u64)]) {
    for (tp, offset) in committed {
        let bounded = ctx
            .scenario
            .cluster
            .topics
            .iter()
            .any(|topic| topic.name == tp.topic && topic.capacity.is_some());
        if bounded {
            if let Err(error) = purger.delete_records(tp, *offset, None).await {
                tracing::debug!(%tp, offset, %error, "purge failed; the next commit retries");
            }
        }
    }
}

/// Commits the consumer's positions as one `commit-offsets` op; returns them if the commit
/// surely took effect.
async fn commit(
    ctx: &RunContext,
    consumer: &mut Consumer,
    process: &mut u64,
    group: &str,
) -> Vec<(TopicPartition, u64)> {
    let committed: Vec<(TopicPartition, u64)> = consumer
        .assignment()
        .iter()
        .filter_map(|tp| consumer.position(tp).map(|offset| (tp.clone(), offset)))
        .collect();
    let positions: Vec<(String, u64)> = committed
        .iter()
        .map(|(tp, offset)| (tp.to_string(), *offset))
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
    match kind {
        OpType::Ok => committed,
        OpType::Info => {
            // Go on as a new process; its history starts with the membership it still holds,
            // so its later ops are attributed to this group.
            restate_membership(ctx, consumer, process, group);
            Vec::new()
        }
        _ => Vec::new(),
    }
}
