//! The drain against JetStream: after the workload stopped, the conductor reads every stream
//! from its first sequence to its last, one `STREAM.MSG.GET` per sequence (the API the stream
//! leader answers, so the read is the leader's committed log), and records what it read as
//! `poll` ops, as faultline's drain does. A stream read to the last sequence its leader still
//! reports afterwards gets the final empty read (`"orders/0":[]`) — the proof the checkers need
//! that something never read is really absent. A sequence the stream does not have (deleted,
//! or lost) is skipped: the gap is the finding, not the reader's. A stream the cluster keeps
//! saying does not exist is read as empty (see [`bounds`]).

use crate::history::{OpType, F};
use crate::run::context::RunContext;
use crate::systems::nats::streams::{stream_keys, value_of, StreamKey};
use async_nats::jetstream::{
    self, context::GetStreamErrorKind, stream::RawMessageErrorKind, ErrorCode,
};
use serde_json::{json, Map, Value};
use std::time::Duration;
use tokio::time::Instant;

/// Message reads per stream before the drain gives up on it (bounds a runaway read).
const READS_MAX: usize = 1_000_000;
const RETRY_PAUSE: Duration = Duration::from_millis(200);
/// How long the cluster must keep saying a stream does not exist before the drain believes it
/// (a meta leader elected a moment ago may not know every stream yet).
const NOT_FOUND_PROOF: Duration = Duration::from_secs(5);

/// What the drain read from one stream.
struct Drained {
    records: Vec<(u64, i64)>,
    /// Read to the last sequence, and the stream still ended there.
    complete: bool,
}

/// The stream's first and last sequence as its leader reports them now. A stream the meta
/// group keeps answering "not found" for [`NOT_FOUND_PROOF`] is read as empty (`(1, 0)`):
/// after a power loss of every server the streams themselves may be gone (their directories
/// never synced), and then every message in them is lost — the checkers must see that, not a
/// drain that could not finish.
async fn bounds(js: &jetstream::Context, key: &StreamKey, deadline: Instant) -> Option<(u64, u64)> {
    let mut not_found_since: Option<Instant> = None;
    while Instant::now() < deadline {
        match js.get_stream(&key.stream).await {
            Ok(stream) => {
                let state = &stream.cached_info().state;
                return Some((state.first_sequence, state.last_sequence));
            }
            Err(error) => {
                let not_found = matches!(
                    error.kind(),
                    GetStreamErrorKind::JetStream(e) if e.error_code() == ErrorCode::STREAM_NOT_FOUND
                );
                if not_found {
                    let since = *not_found_since.get_or_insert_with(Instant::now);
                    if since.elapsed() >= NOT_FOUND_PROOF {
                        tracing::warn!(stream = %key.stream, "the stream no longer exists");
                        return Some((1, 0));
                    }
                } else {
                    not_found_since = None;
                }
                tracing::debug!(%error, stream = %key.stream, "get stream");
            }
        }
        tokio::time::sleep(RETRY_PAUSE).await;
    }
    None
}

async fn read_to_end(js: &jetstream::Context, key: &StreamKey, deadline: Instant) -> Drained {
    let mut records = Vec::new();
    let Some((first, mut last)) = bounds(js, key, deadline).await else {
        return Drained {
            records,
            complete: false,
        };
    };
    let mut sequence = first.max(1);
    let mut reads = 0;
    loop {
        while sequence <= last {
            if Instant::now() >= deadline || reads >= READS_MAX {
                return Drained {
                    records,
                    complete: false,
                };
            }
            reads += 1;
            let Ok(stream) = js.get_stream_no_info(&key.stream).await else {
                tokio::time::sleep(RETRY_PAUSE).await;
                continue;
            };
            match stream.get_raw_message(sequence).await {
                Ok(message) => {
                    match value_of(&message.payload) {
                        Some(value) => records.push((message.sequence, value)),
                        None => tracing::warn!(
                            stream = %key.stream, sequence, "a message that is not one of ours"
                        ),
                    }
                    sequence += 1;
                }
                Err(error) if error.kind() == RawMessageErrorKind::NoMessageFound => {
                    sequence += 1;
                }
                Err(error) => {
                    tracing::debug!(%error, stream = %key.stream, sequence, "message read");
                    tokio::time::sleep(RETRY_PAUSE).await;
                }
            }
        }
        // Nothing is written during the drain: the end holds unless a leader change moved it.
        match bounds(js, key, deadline).await {
            Some((_, now_last)) if now_last <= last => {
                return Drained {
                    records,
                    complete: true,
                }
            }
            Some((_, now_last)) => last = now_last,
            None => {
                return Drained {
                    records,
                    complete: false,
                }
            }
        }
    }
}

/// Reads every stream; each read is one `poll` op of a fresh process.
pub async fn run(ctx: &RunContext, js: &jetstream::Context, budget: Duration) {
    ctx.nemesis(F::Drain, json!(null));
    let deadline = Instant::now() + budget;
    let mut drained = Map::new();
    for key in stream_keys(&ctx.scenario) {
        let process = ctx.fresh_process();
        ctx.invoke(process, F::Poll, json!([["poll"]]));
        let read = read_to_end(js, &key, deadline).await;
        let reads: Vec<Value> = read.records.iter().map(|(o, v)| json!([o, v])).collect();
        let mut keyed = Map::new();
        keyed.insert(key.key.clone(), json!(reads));
        ctx.complete(process, OpType::Ok, F::Poll, json!([["poll", keyed]]));
        if read.complete {
            drained.insert(key.key.clone(), json!([]));
        } else {
            tracing::warn!(key = %key.key, "the drain could not read this stream to its end");
        }
    }
    if !drained.is_empty() {
        let process = ctx.fresh_process();
        ctx.invoke(process, F::Poll, json!([["poll"]]));
        ctx.complete(process, OpType::Ok, F::Poll, json!([["poll", drained]]));
    }
}
