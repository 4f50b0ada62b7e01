//! The producer workload: each producer client sends unique integer values at the scenario's
//! rate to seeded-random partitions and records every send as a history op — `ok` with the
//! offset, `fail` when surely not written, `info` when the outcome is unknown (and then goes
//! on as a new process). `sync` mode sends one value per op; `async` mode puts several
//! concurrent sends in one op. With `expiry`, each message carries its deadline (simulated ns
//! since the run began) in a record header and in its micro-op: consumers discard it after.

use crate::history::{OpType, F};
use crate::run::context::{now_ns, RunContext, StampOutcome};
use crate::scenario::{Acks, ProducerMode, Producers};
use crate::systems::faultline::nodes::{bootstrap, net};
use engine::broker::protocol::TopicPartition;
use engine::broker::Acks as WireAcks;
use engine::bugs::Bugs;
use engine::client::{
    Producer, ProducerInterceptor, ProducerOptions, SendError, SequenceStamper, Stamp,
};
use engine::env::rng::rng_for;
use engine::env::NodeEvents;
use engine::storage::{Record, RecordBatch};
use rand::Rng;
use serde_json::{json, Value};
use std::rc::Rc;
use std::time::Duration;

/// Sends per op in async mode.
const ASYNC_SENDS_PER_OP: usize = 4;
/// How long a send may take, retries included, before its outcome is recorded as unknown.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(4);
/// The record header that carries a message's deadline: simulated ns since the run began,
/// big-endian (the workload's own clock, like op times).
pub const DEADLINE_HEADER: &str = "deadline-ns";

pub fn record_of(value: i64) -> Record {
    Record::value(value.to_be_bytes())
}

pub fn value_of(record: &Record) -> Option<i64> {
    let bytes: [u8; 8] = record.value.as_slice().try_into().ok()?;
    Some(i64::from_be_bytes(bytes))
}

/// The values in fetched batches at offsets from `from` on, in order, and where the next read
/// starts. A batch that fails its checksum is skipped (the reader fetches it again).
pub fn values_from(batches: &[Vec<u8>], from: u64) -> (Vec<(u64, i64)>, u64) {
    let mut values = Vec::new();
    let mut next = from;
    for bytes in batches {
        let Ok(batch) = RecordBatch::decode(bytes) else {
            continue;
        };
        for (offset, record) in batch.offsets() {
            if offset >= next {
                if let Some(value) = value_of(record) {
                    values.push((offset, value));
                }
            }
        }
        next = next.max(batch.next_offset());
    }
    (values, next)
}

/// A message's deadline, if it carries one.
pub fn deadline_of(record: &Record) -> Option<u64> {
    let (_, bytes) = record
        .headers
        .iter()
        .find(|(name, _)| name == DEADLINE_HEADER)?;
    let bytes: [u8; 8] = bytes.as_slice().try_into().ok()?;
    Some(u64::from_be_bytes(bytes))
}

/// Every partition of the topics `keep` accepts, in the cluster's topic order.
fn keys_where(ctx: &RunContext, keep: impl Fn(&str) -> bool) -> Vec<TopicPartition> {
    let mut keys = Vec::new();
    for topic in ctx.scenario.cluster.topics.iter().filter(|t| keep(&t.name)) {
        for partition in 0..topic.partitions {
            keys.push(TopicPartition::new(topic.name.clone(), partition));
        }
    }
    keys
}

/// Every partition of every topic.
pub fn keys(ctx: &RunContext) -> Vec<TopicPartition> {
    keys_where(ctx, |_| true)
}

/// Every partition of the named topics.
pub fn keys_of(ctx: &RunContext, topics: &[String]) -> Vec<TopicPartition> {
    keys_where(ctx, |name| topics.iter().any(|topic| topic == name))
}

/// The token bucket's topic, if the workload has one.
pub fn bucket_topic(ctx: &RunContext) -> Option<&str> {
    ctx.scenario
        .workload
        .tokens
        .as_ref()
        .map(|t| t.topic.as_str())
}

/// Every partition of the topics that carry messages (all but a token bucket's).
pub fn data_keys(ctx: &RunContext) -> Vec<TopicPartition> {
    let bucket = bucket_topic(ctx);
    keys_where(ctx, |name| Some(name) != bucket)
}

fn options(producers: &Producers, bugs: Bugs) -> ProducerOptions {
    let acks = match producers.acks {
        Acks::Zero => WireAcks::None,
        Acks::One => WireAcks::Leader,
        Acks::All => WireAcks::All,
    };
    ProducerOptions {
        acks,
        idempotent: producers.idempotent,
        linger: match producers.mode {
            ProducerMode::Sync => Duration::ZERO,
            ProducerMode::Async => Duration::from_millis(2),
        },
        delivery_timeout: DELIVERY_TIMEOUT,
        bugs,
        ..ProducerOptions::default()
    }
}

/// Runs one producer client (`client-{client}`) until the drain.
pub async fn run(ctx: Rc<RunContext>, client: u32, bugs: Bugs, events: NodeEvents) {
    let Some(producers) = ctx.scenario.workload.producers.clone() else {
        return;
    };
    let mut rng = rng_for(ctx.seed, &format!("client-{client}"));
    let mut process = ctx.fresh_process_for_incarnation(client);
    // The loss detector's stamper runs here, in op order, so the run knows which stamp each
    // value carries (and can tell a gap of acknowledged sends from one of failed sends).
    let stamper = SequenceStamper::new(u64::from(client));
    let producer = Producer::new(
        net(&ctx),
        bootstrap(&ctx),
        ProducerOptions {
            events: events.for_node(&format!("client-{client}")),
            ..options(&producers, bugs)
        },
        Vec::new(),
    );
    let keys = keys_of(&ctx, &producers.topics);
    let interval = Duration::from_millis(1000 / producers.rate_per_s.max(1));
    ctx.until_workload_starts().await;
    let per_op = match producers.mode {
        ProducerMode::Sync => 1,
        ProducerMode::Async => ASYNC_SENDS_PER_OP,
    };
    while ctx.workload_running() && !ctx.recovered_enough() {
        let started_ns = now_ns();
        let sends: Vec<(TopicPartition, i64)> = (0..per_op)
            .map(|_| {
                (
                    keys[rng.random_range(0..keys.len())].clone(),
                    ctx.fresh_value(),
                )
            })
            .collect();
        let deadline = producers
            .expiry_ms
            .map(|ms| ctx.stamp_ns().saturating_add(ms.saturating_mul(1_000_000)));
        let mop = |parts: Vec<Value>| -> Value {
            let mut parts = parts;
            if let Some(deadline) = deadline {
                parts.push(json!({"deadline": deadline}));
            }
            Value::Array(parts)
        };
        let invoke: Vec<Value> = sends
            .iter()
            .map(|(tp, v)| mop(vec![json!("send"), json!(tp.to_string()), json!(v)]))
            .collect();
        ctx.invoke(process, F::Send, json!(invoke));
        let mut waiting = Vec::new();
        let mut stamps = Vec::new();
        for (tp, value) in &sends {
            let mut record = record_of(*value);
            if let Some(deadline) = deadline {
                record
                    .headers
                    .push((DEADLINE_HEADER.to_owned(), deadline.to_be_bytes().to_vec()));
            }
            stamper.on_send(tp, &mut record);
            let stamp = Stamp::of(&record).map(|s| (s.producer, tp.to_string(), s.sequence));
            if let Some(stamp) = &stamp {
                ctx.stamps
                    .borrow_mut()
                    .insert(stamp.clone(), StampOutcome::Pending);
            }
            stamps.push(stamp);
            let producer = producer.clone();
            let tp = tp.clone();
            waiting.push(engine::env::spawn(async move {
                producer.send(&tp, record).await
            }));
        }
        let mut results = Vec::new();
        for handle in waiting {
            results.push(
                handle
                    .await
                    .unwrap_or_else(|_| Err(SendError::Unknown("send task lost".into()))),
            );
        }
        for (stamp, result) in stamps.iter().zip(&results) {
            let outcome = match result {
                Ok(_) => StampOutcome::Acknowledged,
                Err(SendError::Failed(_)) => StampOutcome::NotWritten,
                Err(SendError::Unknown(_)) => StampOutcome::Unknown,
            };
            if let Some(stamp) = stamp {
                ctx.stamps.borrow_mut().insert(stamp.clone(), outcome);
            }
        }
        let completion: Vec<Value> = sends
            .iter()
            .zip(&results)
            .map(|((tp, value), result)| match result {
                Ok(metadata) => mop(vec![
                    json!("send"),
                    json!(tp.to_string()),
                    json!([metadata.offset, value]),
                ]),
                Err(_) => mop(vec![json!("send"), json!(tp.to_string()), json!(value)]),
            })
            .collect();
        let kind = if results.iter().all(Result::is_ok) {
            OpType::Ok
        } else if results
            .iter()
            .all(|r| matches!(r, Err(SendError::Failed(_))))
        {
            OpType::Fail
        } else {
            OpType::Info
        };
        ctx.complete(process, kind, F::Send, json!(completion));
        if kind == OpType::Info {
            process = ctx.fresh_process();
        }
        let elapsed = Duration::from_nanos(now_ns().saturating_sub(started_ns));
        tokio::time::sleep(interval.saturating_sub(elapsed)).await;
    }
    ctx.client_done(client);
}
