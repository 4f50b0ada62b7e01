//! One server-side connection: a reader that splits frames and spawns a task per request, and a
//! writer task that sends the responses back, in completion order, tagged with request ids.
//!
//! Fault model: the peer is untrusted. A bad length, a foreign version or an undecodable payload
//! closes this connection at once (with a warning naming the peer); in-flight requests of that
//! connection are abandoned. Bounds: at most [`INFLIGHT_REQUESTS_MAX`] requests of one connection
//! are being handled or waiting to be written at once; past that the reader stops reading, which
//! pushes back on the peer through TCP. A frame must be complete within the frame deadline of
//! its first byte (slow-loris), and the bytes of an unfinished frame are held against the
//! server's shared budget; a reader that cannot get budget stops reading until it can, or until
//! its frame deadline closes the connection (see `limits`).

use crate::env::Stream;
use crate::wire::frame::{decode_payload, encode_frame, write_frame, FrameDecoder};
use crate::wire::limits::FrameBytes;
use crate::wire::message::{Envelope, ErrorCode, ErrorResponse, Request, Response};
use crate::wire::serve_options::ServeOptions;
use crate::wire::WireError;
use std::future::Future;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, ReadHalf, WriteHalf};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;

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
    /// A frame was not complete within the frame deadline of its first byte (a slow or
    /// stalled sender, or one that could not get budget for its bytes).
    FrameDeadline,
}

/// Serves one connection until it ends. Never returns an error: how it ended is logged here.
pub(crate) async fn serve_connection<H, Fut>(
    stream: Stream,
    peer: &str,
    handler: H,
    options: ServeOptions,
    frame_bytes: FrameBytes,
) where
    H: Fn(Request) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response> + Send + 'static,
{
    let (reader, writer) = tokio::io::split(stream);
    let (responses, queue) = mpsc::channel(INFLIGHT_REQUESTS_MAX);
    let mut writer_task =
        crate::env::spawn(write_responses(writer, queue, peer.to_string(), options));
    let mut handlers = JoinSet::new();
    let connection = Reading {
        peer,
        responses: &responses,
        options,
    };
    let end = read_requests(reader, &connection, &mut handlers, handler, frame_bytes).await;
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
        Ok(ReadEnd::FrameDeadline) => {
            let deadline = options.limits.frame_deadline;
            tracing::warn!(%peer, "closing connection: a frame was not complete within {deadline:?}");
            handlers.abort_all();
            writer_task.abort();
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

/// What the reader of one connection needs besides the stream.
struct Reading<'a> {
    peer: &'a str,
    responses: &'a mpsc::Sender<Vec<u8>>,
    options: ServeOptions,
}

/// Reads frames and spawns a handler per request until the stream ends or breaks the protocol.
/// `frame_bytes` always covers what the decoder holds.
async fn read_requests<H, Fut>(
    mut reader: ReadHalf<Stream>,
    connection: &Reading<'_>,
    handlers: &mut JoinSet<()>,
    handler: H,
    mut frame_bytes: FrameBytes,
) -> Result<ReadEnd, WireError>
where
    H: Fn(Request) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response> + Send + 'static,
{
    let Reading {
        peer,
        responses,
        options,
    } = *connection;
    let inflight = Arc::new(Semaphore::new(INFLIGHT_REQUESTS_MAX));
    let mut decoder = FrameDecoder::new();
    let mut chunk = vec![0; READ_CHUNK_BYTES];
    // When the first byte of the frame being read arrived; `None` between frames.
    let mut frame_started: Option<Instant> = None;
    loop {
        while let Some(body) = decoder.next_frame()? {
            // Leftover bytes begin the next frame now.
            frame_started = None;
            let request: Envelope<Request> = decode_payload(&body)?;
            let permit = inflight.clone().acquire_owned().await;
            let permit = permit.expect("the in-flight semaphore is never closed");
            handlers.spawn(handle(handler.clone(), request, responses.clone(), permit));
            while let Some(joined) = handlers.try_join_next() {
                log_handler_end(peer, joined);
            }
        }
        frame_bytes.shrink_to(decoder.buffered_len());
        if decoder.buffered_len() > 0 && frame_started.is_none() {
            frame_started = Some(Instant::now());
        }
        assert!(frame_bytes.held() == decoder.buffered_len());
        let frame_deadline = frame_started.map(|started| started + options.limits.frame_deadline);
        let wait = match frame_deadline {
            Some(deadline) => options
                .idle_timeout
                .min(deadline.saturating_duration_since(Instant::now())),
            None => options.idle_timeout,
        };
        // `read` is cancel-safe and partial frames live in the decoder, so the timeout and the
        // writer-gone branch lose no bytes.
        let read = tokio::select! {
            biased;
            () = responses.closed() => return Ok(ReadEnd::WriterGone),
            read = tokio::time::timeout(wait, reader.read(&mut chunk)) => read,
        };
        match read {
            Err(_elapsed) if frame_deadline.is_some_and(|deadline| Instant::now() >= deadline) => {
                return Ok(ReadEnd::FrameDeadline);
            }
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
            Ok(Ok(read)) => {
                if frame_started.is_none() {
                    frame_started = Some(Instant::now());
                }
                let deadline = frame_started.map_or_else(Instant::now, |started| {
                    started + options.limits.frame_deadline
                });
                // Hold budget for the new bytes before keeping them; while we wait we read
                // nothing more, which pushes back on the peer.
                let wanted = decoder.buffered_len() + read;
                let grown = tokio::time::timeout_at(deadline, frame_bytes.grow_to(wanted)).await;
                if grown.is_err() {
                    return Ok(ReadEnd::FrameDeadline);
                }
                decoder.push(&chunk[..read]);
            }
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
