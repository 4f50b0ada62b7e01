//! One server-side connection: a reader that splits frames and spawns a task per request, and a
//! writer task that sends the responses back, in completion order, tagged with request ids.
//!
//! Fault model: the peer is untrusted. A bad length, a foreign version or an undecodable payload
//! closes this connection at once (with a warning naming the peer); in-flight requests of that
//! connection are abandoned. Bounds: at most [`INFLIGHT_REQUESTS_MAX`] requests of one connection
//! are being handled or waiting to be written at once; past that the reader stops reading, which
//! pushes back on the peer through TCP.

use crate::env::Stream;
use crate::wire::frame::{decode_payload, encode_frame, write_frame, FrameDecoder};
use crate::wire::message::{Envelope, ErrorCode, ErrorResponse, Request, Response};
use crate::wire::server::ServeOptions;
use crate::wire::WireError;
use std::future::Future;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, ReadHalf, WriteHalf};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;

/// Requests of one connection being handled or queued for writing.
pub const INFLIGHT_REQUESTS_MAX: usize = 64;
/// Bytes read from the socket at a time; bounds what the decoder holds beyond one frame.
const READ_CHUNK_BYTES: usize = 16 * 1024;

/// How the reader stopped without a protocol error.
#[derive(Debug)]
enum ReadEnd {
    /// The peer closed its side; answer what is in flight, then close.
    Eof,
    /// Nothing arrived for `idle_timeout` and nothing was in flight (turmoil never sends a FIN
    /// for a stream cut by a partition, so silence is the only sign the peer is gone).
    Idle,
    /// The writer stopped (the peer stopped reading or reset), so answers cannot be delivered.
    WriterGone,
}

/// Serves one connection until it ends. Never returns an error: how it ended is logged here.
pub(crate) async fn serve_connection<H, Fut>(
    stream: Stream,
    peer: &str,
    handler: H,
    options: ServeOptions,
) where
    H: Fn(Request) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response> + Send + 'static,
{
    let (reader, writer) = tokio::io::split(stream);
    let (responses, queue) = mpsc::channel(INFLIGHT_REQUESTS_MAX);
    let mut writer_task =
        crate::env::spawn(write_responses(writer, queue, peer.to_string(), options));
    let mut handlers = JoinSet::new();
    let end = read_requests(reader, peer, &responses, &mut handlers, handler, options).await;
    drop(responses);
    match end {
        Ok(ReadEnd::Eof) | Ok(ReadEnd::Idle) => {
            tracing::debug!(%peer, ?end, "connection ending; answering requests in flight");
            while let Some(joined) = handlers.join_next().await {
                log_handler_end(peer, joined);
            }
            // The writer ends once every handler has dropped its sender and the queue is empty.
            if let Err(error) = (&mut writer_task).await {
                tracing::warn!(%peer, %error, "response writer failed");
            }
        }
        Ok(ReadEnd::WriterGone) => {
            tracing::debug!(%peer, "connection closed: peer stopped accepting responses");
            handlers.abort_all();
        }
        Err(error) => {
            if error.is_retriable() {
                tracing::debug!(%peer, %error, "connection closed");
            } else {
                tracing::warn!(%peer, %error, "closing connection: malformed frame");
            }
            handlers.abort_all();
            writer_task.abort();
        }
    }
}

/// Reads frames and spawns a handler per request until the stream ends or breaks the protocol.
async fn read_requests<H, Fut>(
    mut reader: ReadHalf<Stream>,
    peer: &str,
    responses: &mpsc::Sender<Vec<u8>>,
    handlers: &mut JoinSet<()>,
    handler: H,
    options: ServeOptions,
) -> Result<ReadEnd, WireError>
where
    H: Fn(Request) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response> + Send + 'static,
{
    let inflight = Arc::new(Semaphore::new(INFLIGHT_REQUESTS_MAX));
    let mut decoder = FrameDecoder::new();
    let mut chunk = vec![0; READ_CHUNK_BYTES];
    loop {
        while let Some(body) = decoder.next_frame()? {
            let request: Envelope<Request> = decode_payload(&body)?;
            let permit = inflight.clone().acquire_owned().await;
            let permit = permit.expect("the in-flight semaphore is never closed");
            handlers.spawn(handle(handler.clone(), request, responses.clone(), permit));
            while let Some(joined) = handlers.try_join_next() {
                log_handler_end(peer, joined);
            }
        }
        // `read` is cancel-safe and partial frames live in the decoder, so the timeout and the
        // writer-gone branch lose no bytes.
        let read = tokio::select! {
            biased;
            () = responses.closed() => return Ok(ReadEnd::WriterGone),
            read = tokio::time::timeout(options.idle_timeout, reader.read(&mut chunk)) => read,
        };
        match read {
            Err(_idle) => {
                while let Some(joined) = handlers.try_join_next() {
                    log_handler_end(peer, joined);
                }
                // A frame cut off for this long is as dead as silence: a partition mid-frame.
                if handlers.is_empty() {
                    return Ok(ReadEnd::Idle);
                }
            }
            Ok(Ok(0)) => return Ok(ReadEnd::Eof),
            Ok(Ok(read)) => decoder.push(&chunk[..read]),
            Ok(Err(error)) => return Err(error.into()),
        }
    }
}

/// Runs one request and queues its response frame. The permit is held until the response is
/// queued, so queued responses count against [`INFLIGHT_REQUESTS_MAX`] too.
async fn handle<H, Fut>(
    handler: H,
    request: Envelope<Request>,
    responses: mpsc::Sender<Vec<u8>>,
    permit: OwnedSemaphorePermit,
) where
    H: Fn(Request) -> Fut,
    Fut: Future<Output = Response>,
{
    let id = request.id;
    let kind = request.body.kind();
    let response = handler(request.body).await;
    let envelope = Envelope {
        id,
        body: &response,
    };
    let frame = match encode_frame(&envelope) {
        Ok(frame) => frame,
        Err(error) => {
            tracing::warn!(id, kind, %error, "response cannot be encoded; answering with an error");
            let message = format!("the {kind} response cannot be encoded: {error}");
            let body = Response::Error(ErrorResponse::new(ErrorCode::Internal, message, false));
            match encode_frame(&Envelope { id, body }) {
                Ok(frame) => frame,
                Err(error) => {
                    tracing::warn!(id, kind, %error, "error response cannot be encoded either");
                    return;
                }
            }
        }
    };
    // A send error means the connection is closing; the response has nowhere to go.
    let _ = responses.send(frame).await;
    drop(permit);
}

/// Writes queued response frames until every sender is gone or the stream fails. A write that
/// does not finish within `idle_timeout` means the peer stopped reading; the stream is dropped.
async fn write_responses(
    mut writer: WriteHalf<Stream>,
    mut queue: mpsc::Receiver<Vec<u8>>,
    peer: String,
    options: ServeOptions,
) {
    while let Some(frame) = queue.recv().await {
        let write = write_frame(&mut writer, &frame);
        match tokio::time::timeout(options.idle_timeout, write).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                tracing::debug!(%peer, %error, "cannot write response; closing");
                return;
            }
            Err(_) => {
                let after = options.idle_timeout;
                tracing::debug!(%peer, "response not written within {after:?}; closing");
                return;
            }
        }
    }
}

fn log_handler_end(peer: &str, joined: Result<(), tokio::task::JoinError>) {
    if let Err(error) = joined {
        if error.is_panic() {
            tracing::warn!(%peer, %error, "request handler panicked");
        }
    }
}
