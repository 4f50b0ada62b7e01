//! The client side of a connection: one request at a time over one lazily opened stream.
//!
//! Fault model (design.md section 5): in turmoil a partition silently drops in-flight data and
//! the stream never recovers, so every call is bounded by `request_timeout`, and a call that
//! times out or fails in any way drops its stream; the next call reconnects. The stream is taken
//! out of the client for the duration of a call, so a call future that the caller drops also
//! drops the stream, and a late response can never be read as the answer to a later request.
//! The client never retries: whether a request may be sent twice is the caller's decision.

use crate::env::{Net, NodeAddr, Stream};
use crate::wire::frame::{decode_payload, encode_frame, read_frame, write_frame};
use crate::wire::message::{Envelope, Request, Response};
use crate::wire::WireError;
use std::time::Duration;
use tokio::time::Instant;

/// Responses for other request ids a call skips before giving up on the stream.
const RESPONSES_SKIPPED_MAX: usize = 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RpcOptions {
    /// Bound on a whole call, connecting included.
    pub request_timeout: Duration,
    /// Bound on opening a connection (a crashed turmoil host never answers a connect).
    pub connect_timeout: Duration,
    /// A stream unused for this long is dropped before the next call instead of reused. Keep it
    /// below the server's `ServeOptions::idle_timeout` minus `request_timeout`, so the client
    /// never sends on a stream the server has already closed for idleness.
    pub idle_timeout: Duration,
}

impl Default for RpcOptions {
    fn default() -> RpcOptions {
        RpcOptions {
            request_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(1),
            idle_timeout: Duration::from_secs(30),
        }
    }
}

/// A connection to one node, opened on first use and reopened after any failure.
pub struct RpcClient {
    net: Net,
    target: NodeAddr,
    options: RpcOptions,
    stream: Option<Stream>,
    used_last: Option<Instant>,
    id_next: u64,
}

impl RpcClient {
    pub fn new(net: Net, target: NodeAddr, options: RpcOptions) -> RpcClient {
        RpcClient {
            net,
            target,
            options,
            stream: None,
            used_last: None,
            id_next: 1,
        }
    }

    pub fn target(&self) -> &NodeAddr {
        &self.target
    }

    pub fn is_connected(&self) -> bool {
        self.stream.is_some()
    }

    /// Drops the stream; the next call reconnects.
    pub fn disconnect(&mut self) {
        self.stream = None;
    }

    /// Sends `request` and waits for its response. `Connect` errors mean the request was not
    /// sent; any other error leaves its outcome unknown.
    pub async fn call(&mut self, request: &Request) -> Result<Response, WireError> {
        let id = self.id_next;
        self.id_next = self.id_next.wrapping_add(1);
        let frame = encode_frame(&Envelope { id, body: request })?;
        let deadline = Instant::now() + self.options.request_timeout;
        let stream = match self.stream.take() {
            Some(stream) if !self.is_idle() => stream,
            _ => self.connect(deadline).await?,
        };
        let exchange = exchange(stream, id, &frame);
        match tokio::time::timeout_at(deadline, exchange).await {
            Ok(Ok((stream, response))) => {
                self.stream = Some(stream);
                self.used_last = Some(Instant::now());
                Ok(response)
            }
            Ok(Err(error)) => Err(error),
            Err(_) => Err(WireError::Timeout {
                after: self.options.request_timeout,
            }),
        }
    }

    fn is_idle(&self) -> bool {
        self.used_last
            .is_none_or(|used| used.elapsed() >= self.options.idle_timeout)
    }

    async fn connect(&self, deadline: Instant) -> Result<Stream, WireError> {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let after = self.options.connect_timeout.min(remaining);
        let error = |reason: String| WireError::Connect {
            addr: self.target.clone(),
            reason,
        };
        match tokio::time::timeout(after, self.net.connect(&self.target)).await {
            Ok(Ok(stream)) => Ok(stream),
            Ok(Err(io)) => Err(error(io.to_string())),
            Err(_) => Err(error(format!("no answer within {after:?}"))),
        }
    }
}

/// Writes one request frame and reads until the response with the same id.
async fn exchange(
    mut stream: Stream,
    id: u64,
    frame: &[u8],
) -> Result<(Stream, Response), WireError> {
    write_frame(&mut stream, frame).await?;
    for _ in 0..RESPONSES_SKIPPED_MAX {
        let body = read_frame(&mut stream).await?;
        let envelope: Envelope<Response> = decode_payload(&body)?;
        if envelope.id == id {
            return Ok((stream, envelope.body));
        }
        tracing::debug!(
            expected = id,
            got = envelope.id,
            "skipping a response for another request"
        );
    }
    Err(WireError::Malformed(format!(
        "{RESPONSES_SKIPPED_MAX} responses for other requests while waiting for request {id}"
    )))
}
