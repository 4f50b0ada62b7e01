//! The consumer workload against JetStream: each member of a group fetches batches from the
//! group's durable pull consumers on its keys (`durable`), records each fetch as a `poll` op
//! whose offsets are stream sequences, applies every message with the group's strategy (the
//! same `systems::business::apply` faultline's consumer uses, so findings compare), and once
//! the fetch's messages are applied acknowledges each — the explicit ack after processing is
//! the commit. Acks are double acks
//! (the server confirms them), so a member knows when an ack may not have taken effect.
//!
//! Unknown outcomes follow the history's rule (design.md §8): a fetch that ends in an error
//! may have delivered messages the member never saw, and an unconfirmed ack leaves the message
//! to be redelivered; either way the member goes on as a new process whose history starts
//! with its membership. A crash between apply and ack (the task is aborted) leaves the message
//! unacknowledged: JetStream redelivers it after `ack_wait`, and the apply strategy decides
//! whether it takes effect twice.

use crate::history::{values, OpType, F};
use crate::run::context::RunContext;
use crate::scenario::Group;
use crate::systems::business::apply;
use crate::systems::nats::client::connect;
use crate::systems::nats::durable::{assigned, group_keys};
use crate::systems::nats::streams::{value_of, StreamKey};
use async_nats::jetstream::{self, consumer::PullConsumer};
use futures_util::StreamExt;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

const POLL_INTERVAL: Duration = Duration::from_millis(50);
const RETRY_PAUSE: Duration = Duration::from_millis(100);
/// How long one fetch waits for messages on the server.
const FETCH_EXPIRES: Duration = Duration::from_millis(500);
/// How long a fetch may take on our side before its outcome is unknown (the server answers
/// within `FETCH_EXPIRES`; the rest covers a slow link).
const FETCH_BUDGET: Duration = Duration::from_secs(2);
/// How long an ack's confirmation is awaited.
const ACK_BUDGET: Duration = Duration::from_secs(1);
/// Messages per fetch when processing takes no time.
const FETCH_RECORDS_MAX: usize = 100;
/// A fetch holds at most this much work, well within `ack_wait`, so that a slow member's
/// messages are not redelivered while it works through them.
const FETCH_WORK_MAX: Duration = Duration::from_millis(500);

/// Messages one fetch asks for, for a member that takes `process_ms` per message.
fn records_per_fetch(process_ms: u64) -> usize {
    match process_ms {
        0 => FETCH_RECORDS_MAX,
        ms => usize::try_from(FETCH_WORK_MAX.as_millis() as u64 / ms)
            .unwrap_or(1)
            .clamp(1, FETCH_RECORDS_MAX),
    }
}

/// One fetched message: its stream sequence and value, and the handle to ack it with.
struct Fetched {
    sequence: u64,
    value: i64,
    message: jetstream::Message,
}

/// What one fetch brought.
struct Fetch {
    messages: Vec<Fetched>,
    /// An error ended it: messages may have been delivered to us that we never saw.
    unknown: bool,
}

async fn fetch(consumer: &PullConsumer, records: usize) -> Fetch {
    let mut fetch = Fetch {
        messages: Vec::new(),
        unknown: false,
    };
    let read = async {
        let mut batch = match consumer
            .batch()
            .max_messages(records)
            .expires(FETCH_EXPIRES)
            .messages()
            .await
        {
            Ok(batch) => batch,
            Err(error) => {
                tracing::debug!(%error, "fetch request");
                fetch.unknown = true;
                return;
            }
        };
        // Bounded: the server sends at most `records` messages per batch.
        while let Some(item) = batch.next().await {
            match item {
                Ok(message) => {
                    let sequence = match message.info() {
                        Ok(info) => info.stream_sequence,
                        Err(error) => {
                            tracing::warn!(%error, "a message without its stream sequence");
                            continue;
                        }
                    };
                    match value_of(&message.payload) {
                        Some(value) => fetch.messages.push(Fetched {
                            sequence,
                            value,
                            message,
                        }),
                        None => tracing::warn!(sequence, "a message that is not one of ours"),
                    }
                }
                Err(error) => {
                    tracing::debug!(%error, "fetch");
                    fetch.unknown = true;
                    return;
                }
            }
        }
    };
    if tokio::time::timeout(FETCH_BUDGET, read).await.is_err() {
        fetch.unknown = true;
    }
    fetch
}

/// Records a membership for a fresh process: its reads no longer continue the earlier ones.
fn restate_membership(ctx: &RunContext, process: &mut u64, group: &str, keys: &[StreamKey]) {
    *process = ctx.fresh_process();
    let names: Vec<&str> = keys.iter().map(|k| k.key.as_str()).collect();
    let membership = values::membership(Some(group), &names, None);
    ctx.invoke(*process, F::Subscribe, membership.clone());
    ctx.complete(*process, OpType::Ok, F::Subscribe, membership);
}

/// The group's durable consumer on `key`, from the cache or asked of the stream.
async fn consumer_for<'a>(
    js: &jetstream::Context,
    cache: &'a mut BTreeMap<String, PullConsumer>,
    key: &StreamKey,
    group: &str,
) -> Option<&'a PullConsumer> {
    if !cache.contains_key(&key.key) {
        let stream = js.get_stream_no_info(&key.stream).await.ok()?;
        match stream
            .get_consumer::<async_nats::jetstream::consumer::pull::Config>(group)
            .await
        {
            Ok(consumer) => {
                cache.insert(key.key.clone(), consumer);
            }
            Err(error) => {
                tracing::debug!(%error, stream = %key.stream, group, "get consumer");
                return None;
            }
        }
    }
    cache.get(&key.key)
}

/// Runs member `member` (`client-{client}`) of group `group` until the drain.
pub async fn run(ctx: Rc<RunContext>, client: u32, group: usize, member: u32) {
    let Some(spec) = ctx.scenario.workload.consumer_group(group).cloned() else {
        ctx.client_done(client);
        return;
    };
    let keys = assigned(&group_keys(&ctx, &spec), member, spec.members);
    let mut process = ctx.fresh_process_for_incarnation(client);
    let Some(js) = connect(&ctx).await else {
        ctx.client_done(client);
        return;
    };
    ctx.until_workload_starts().await;
    let names: Vec<&str> = keys.iter().map(|k| k.key.as_str()).collect();
    let membership = values::membership(Some(&spec.name), &names, None);
    ctx.invoke(process, F::Subscribe, membership.clone());
    ctx.complete(process, OpType::Ok, F::Subscribe, membership);
    let records = records_per_fetch(spec.process_ms);
    let mut consumers = BTreeMap::new();
    let mut turn = 0usize;
    while ctx.workload_running() && !keys.is_empty() {
        let key = &keys[turn % keys.len()];
        turn = turn.wrapping_add(1);
        ctx.invoke(process, F::Poll, values::poll_invoke());
        let Some(consumer) = consumer_for(&js, &mut consumers, key, &spec.name).await else {
            // No request for messages was made: nothing can have been delivered.
            ctx.complete(process, OpType::Fail, F::Poll, values::poll_invoke());
            tokio::time::sleep(RETRY_PAUSE).await;
            continue;
        };
        let fetched = fetch(consumer, records).await;
        if fetched.unknown && fetched.messages.is_empty() {
            consumers.remove(&key.key);
            ctx.complete(process, OpType::Info, F::Poll, values::poll_invoke());
            restate_membership(&ctx, &mut process, &spec.name, &keys);
            tokio::time::sleep(RETRY_PAUSE).await;
            continue;
        }
        let reads: Vec<(u64, i64)> = fetched
            .messages
            .iter()
            .map(|m| (m.sequence, m.value))
            .collect();
        ctx.complete(
            process,
            OpType::Ok,
            F::Poll,
            values::poll_complete(&[(key.key.as_str(), reads.as_slice())]),
        );
        let mut unknown = fetched.unknown;
        if process_and_ack(&ctx, process, &spec, key, &fetched.messages).await {
            unknown = true;
        }
        if unknown {
            restate_membership(&ctx, &mut process, &spec.name, &keys);
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
    ctx.client_done(client);
}

/// Applies each fetched message in order (one `apply` op each, `fail` when the strategy skipped
/// it), taking `process_ms` per message, then acknowledges them — as faultline's consumer
/// commits once a poll's records are processed, so a crash hits the same window between apply
/// and commit on both systems. Returns whether some ack was not confirmed.
async fn process_and_ack(
    ctx: &RunContext,
    process: u64,
    spec: &Group,
    key: &StreamKey,
    messages: &[Fetched],
) -> bool {
    let mut unconfirmed = false;
    for fetched in messages {
        let op = values::apply(&key.key, fetched.value, Some(fetched.sequence));
        ctx.invoke(process, F::Apply, op.clone());
        let applied = apply(
            ctx,
            &spec.name,
            spec.apply,
            &key.key,
            fetched.sequence,
            fetched.value,
        );
        let kind = if applied { OpType::Ok } else { OpType::Fail };
        ctx.complete(process, kind, F::Apply, op);
        if spec.process_ms > 0 {
            tokio::time::sleep(Duration::from_millis(spec.process_ms)).await;
        }
    }
    for fetched in messages {
        match tokio::time::timeout(ACK_BUDGET, fetched.message.double_ack()).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                tracing::debug!(%error, key = %key.key, sequence = fetched.sequence, "ack");
                unconfirmed = true;
            }
            Err(_) => {
                tracing::debug!(key = %key.key, sequence = fetched.sequence, "ack timed out");
                unconfirmed = true;
            }
        }
    }
    unconfirmed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slow_member_fetches_no_more_than_it_can_process_within_ack_wait() {
        assert_eq!(records_per_fetch(0), FETCH_RECORDS_MAX);
        assert_eq!(records_per_fetch(50), 10);
        assert_eq!(records_per_fetch(1_000), 1);
        assert!(FETCH_WORK_MAX < crate::systems::nats::durable::ACK_WAIT);
    }
}
