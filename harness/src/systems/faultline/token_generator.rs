//! The token generator of a token bucket: it declares the bucket — a one-partition topic whose
//! capacity is the bucket's size, so a token that finds it full is refused (`QueueFull`) and
//! dropped — and sends one token per tick at the scenario's rate, recorded as ordinary `send`
//! ops. Ticks are on a fixed schedule and the generator is synchronous (one send in flight, an
//! idempotent producer so retries never add a token twice); ticks that passed while a send was
//! in flight are skipped, never made up in a burst. These are the properties the `rate-bound`
//! check's tolerance relies on.

use crate::history::{OpType, F};
use crate::run::context::RunContext;
use crate::scenario::{Tokens, Topic};
use crate::systems::faultline::nodes::{bootstrap, net};
use crate::systems::faultline::producer::{record_of, DELIVERY_TIMEOUT};
use engine::broker::protocol::{CreateTopicRequest, TopicPartition};
use engine::broker::Acks;
use engine::bugs::{Bug, Bugs};
use engine::client::{Producer, ProducerOptions, SendError};
use serde_json::json;
use std::rc::Rc;
use std::time::Duration;
use tokio::time::Instant; // The simulated clock (design.md section 4).

/// The bucket's topic as the generator declares it. A planted `token-bucket-unbounded`
/// declares it without its capacity: tokens then pile up while demand is idle.
pub fn bucket_request(topic: &Topic, bugs: Bugs) -> CreateTopicRequest {
    let mut request = crate::systems::faultline::engine_terms::create_request(topic);
    if bugs.has(Bug::TokenBucketUnbounded) {
        request.capacity = None;
    }
    request
}

/// The bucket's only key.
pub fn bucket_key(tokens: &Tokens) -> TopicPartition {
    TopicPartition::new(tokens.topic.clone(), 0)
}

/// Runs the token generator (`client-{client}`) until the drain.
pub async fn run(ctx: Rc<RunContext>, client: u32, bugs: Bugs) {
    let Some(tokens) = ctx.scenario.workload.tokens.clone() else {
        return;
    };
    let tp = bucket_key(&tokens);
    let key = tp.to_string();
    let mut process = ctx.fresh_process_for_incarnation(client);
    let options = ProducerOptions {
        acks: Acks::All,
        idempotent: true,
        linger: Duration::ZERO,
        delivery_timeout: DELIVERY_TIMEOUT,
        bugs,
        ..ProducerOptions::default()
    };
    let producer = Producer::new(net(&ctx), bootstrap(&ctx), options, Vec::new());
    ctx.until_workload_starts().await;
    // Rounded up, so the generator never ticks faster than the rate.
    let period_ns = 1_000_000_000u64.div_ceil(tokens.rate_per_s.max(1));
    let start = Instant::now();
    let mut tick: u64 = 0;
    while ctx.workload_running() && !ctx.recovered_enough() {
        tokio::time::sleep_until(start + Duration::from_nanos(period_ns.saturating_mul(tick)))
            .await;
        if !ctx.workload_running() {
            break;
        }
        let value = ctx.fresh_value();
        ctx.invoke(process, F::Send, json!([["send", key, value]]));
        let result = producer.send(&tp, record_of(value)).await;
        let (kind, completion) = match &result {
            Ok(metadata) => (OpType::Ok, json!([["send", key, [metadata.offset, value]]])),
            // QueueFull: the bucket was full and this token is dropped.
            Err(SendError::Failed(_)) => (OpType::Fail, json!([["send", key, value]])),
            Err(SendError::Unknown(_)) => (OpType::Info, json!([["send", key, value]])),
        };
        ctx.complete(process, kind, F::Send, completion);
        if kind == OpType::Info {
            process = ctx.fresh_process();
        }
        let elapsed_ns = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        tick = (tick + 1).max(elapsed_ns.div_ceil(period_ns));
    }
    ctx.client_done(client);
}
