//! The accept loop. Each accepted connection gets its own task (see `connection`); a connection
//! that misbehaves is closed alone while the loop and every other connection keep serving.
//!
//! Bounds: at most [`CONNECTIONS_MAX`] connections at once (more are closed on accept, with a
//! warning), and an accept error costs [`ACCEPT_ERROR_BACKOFF`] of sleep, so a failing listener
//! (e.g. out of file descriptors) cannot spin the loop.

use crate::env::Listener;
use crate::wire::connection::serve_connection;
use crate::wire::message::{Request, Response};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// Connections served at once.
pub const CONNECTIONS_MAX: usize = 1024;
/// Pause after a failed accept.
pub const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(100);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServeOptions {
    /// A connection with no request in flight and no bytes received for this long is closed,
    /// so streams abandoned in a partition (which never see a FIN) do not pile up; a response
    /// that cannot be written for this long closes it too.
    pub idle_timeout: Duration,
}

impl Default for ServeOptions {
    fn default() -> ServeOptions {
        ServeOptions {
            idle_timeout: Duration::from_secs(60),
        }
    }
}

/// Serves `handler` on every connection `listener` accepts. Runs until the task is dropped
/// (in simulation: until the host crashes or the run ends).
pub async fn serve<H, Fut>(listener: Listener, handler: H, options: ServeOptions)
where
    H: Fn(Request) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response> + Send + 'static,
{
    let connections = Arc::new(Semaphore::new(CONNECTIONS_MAX));
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(%error, "accept failed; retrying after {ACCEPT_ERROR_BACKOFF:?}");
                tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
                continue;
            }
        };
        let Ok(permit) = connections.clone().try_acquire_owned() else {
            tracing::warn!(%peer, "closing new connection: {CONNECTIONS_MAX} connections already open");
            drop(stream);
            continue;
        };
        let handler = handler.clone();
        crate::env::spawn(async move {
            serve_connection(stream, &peer, handler, options).await;
            drop(permit);
        });
    }
}
