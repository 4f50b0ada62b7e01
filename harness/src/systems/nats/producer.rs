//! The producer workload against JetStream: each producer client publishes unique integer
//! values at the scenario's rate to seeded-random streams, each with its value as
//! `Nats-Msg-Id`, and awaits the PubAck. A publish is retried with the same id until its
//! delivery timeout (the duplicate window makes the retry idempotent, as Kafka's idempotent
//! producer is); the PubAck's stream sequence is the offset. An op is `ok` when every send was
//! acknowledged, `fail` when no server had the subject (no responders) for any, and `info`
//! otherwise — and then the client goes on as a new process.

use crate::history::{OpType, F};
use crate::run::context::{now_ns, RunContext};
use crate::scenario::ProducerMode;
use crate::systems::nats::client::connect;
use crate::systems::nats::streams::{
    payload_of, send_completion, stream_keys_of, Published, StreamKey,
};
use async_nats::jetstream::{self, context::PublishErrorKind};
use engine::env::rng::rng_for;
use rand::Rng;
use serde_json::{json, Value};
use std::rc::Rc;
use std::time::Duration;

/// Sends per op in async mode (concurrent publishes, as faultline's producer).
const ASYNC_SENDS_PER_OP: usize = 4;
/// How long a send may take, retries included, before its outcome is recorded as unknown.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(4);
/// Pause between publish attempts of one send.
const RETRY_PAUSE: Duration = Duration::from_millis(200);

/// Publishes one value, retrying with the same message id until acknowledged, refused, or
/// out of time.
pub async fn publish(js: &jetstream::Context, key: &StreamKey, value: i64) -> Published {
    let deadline = tokio::time::Instant::now() + DELIVERY_TIMEOUT;
    // Once an attempt may have reached the stream, a later refusal no longer proves the
    // message absent.
    let mut maybe_stored = false;
    loop {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(
            async_nats::header::NATS_MESSAGE_ID,
            value.to_string().as_str(),
        );
        let attempt = match js
            .publish_with_headers(key.subject.clone(), headers, payload_of(value))
            .await
        {
            Ok(ack) => ack.await,
            Err(error) => Err(error),
        };
        match attempt {
            Ok(ack) => {
                return Published::Acked {
                    sequence: ack.sequence,
                }
            }
            Err(error) if error.kind() == PublishErrorKind::StreamNotFound => {
                tracing::debug!(%error, key = %key.key, value, "publish refused");
            }
            Err(error) => {
                tracing::debug!(%error, key = %key.key, value, "publish outcome unknown");
                maybe_stored = true;
            }
        }
        if tokio::time::Instant::now() + RETRY_PAUSE >= deadline {
            return if maybe_stored {
                Published::Unknown
            } else {
                Published::NotStored
            };
        }
        tokio::time::sleep(RETRY_PAUSE).await;
    }
}

/// Runs one producer client (`client-{client}`) until the drain.
pub async fn run(ctx: Rc<RunContext>, client: u32) {
    let Some(producers) = ctx.scenario.workload.producers.clone() else {
        return;
    };
    let Some(js) = connect(&ctx).await else {
        ctx.client_done(client);
        return;
    };
    let mut rng = rng_for(ctx.seed, &format!("client-{client}"));
    let mut process = ctx.fresh_process_for_incarnation(client);
    let keys = stream_keys_of(&ctx.scenario, &producers.topics);
    let interval = Duration::from_millis(1000 / producers.rate_per_s.max(1));
    let per_op = match producers.mode {
        ProducerMode::Sync => 1,
        ProducerMode::Async => ASYNC_SENDS_PER_OP,
    };
    ctx.until_workload_starts().await;
    while ctx.workload_running() && !ctx.recovered_enough() {
        let started_ns = now_ns();
        let sends: Vec<(StreamKey, i64)> = (0..per_op)
            .map(|_| {
                (
                    keys[rng.random_range(0..keys.len())].clone(),
                    ctx.fresh_value(),
                )
            })
            .collect();
        let invoke: Vec<Value> = sends
            .iter()
            .map(|(key, value)| json!(["send", key.key, value]))
            .collect();
        ctx.invoke(process, F::Send, json!(invoke));
        let waiting: Vec<_> = sends
            .iter()
            .map(|(key, value)| {
                let (js, key, value) = (js.clone(), key.clone(), *value);
                tokio::task::spawn_local(async move { publish(&js, &key, value).await })
            })
            .collect();
        let mut outcomes = Vec::new();
        for ((key, value), handle) in sends.iter().zip(waiting) {
            let published = handle.await.unwrap_or(Published::Unknown);
            outcomes.push((key.key.clone(), *value, published));
        }
        let (kind, completion) = send_completion(&outcomes);
        ctx.complete(process, kind, F::Send, completion);
        if kind == OpType::Info {
            process = ctx.fresh_process();
        }
        let elapsed = Duration::from_nanos(now_ns().saturating_sub(started_ns));
        tokio::time::sleep(interval.saturating_sub(elapsed)).await;
    }
    ctx.client_done(client);
}
