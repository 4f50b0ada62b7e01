//! The accept loop. Each accepted connection gets its own task (see `connection`); a connection
//! that misbehaves is closed alone while the loop and every other connection keep serving.
//!
//! Bounds: at most [`CONNECTIONS_MAX`] connections at once, and at most
//! [`WireLimits::connections_per_peer_max`] from one peer address (more are closed on accept,
//! with a warning), so one client cannot take every slot; an accept error costs
//! [`ACCEPT_ERROR_BACKOFF`] of sleep, so a failing listener (e.g. out of file descriptors)
//! cannot spin the loop. The other limits on peers are in [`super::limits`].

use crate::env::Listener;
use crate::wire::connection::serve_connection;
use crate::wire::limits::{FrameBudget, PeerCounts};
use crate::wire::message::{Request, Response};
pub use crate::wire::serve_options::ServeOptions;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// Connections served at once.
pub const CONNECTIONS_MAX: usize = 1024;
/// Pause after a failed accept.
pub const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(100);

/// Serves `handler` on every connection `listener` accepts. Runs until the task is dropped
/// (in simulation: until the host crashes or the run ends).
pub async fn serve<H, Fut>(listener: Listener, handler: H, options: ServeOptions)
where
    H: Fn(Request) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response> + Send + 'static,
{
    let connections = Arc::new(Semaphore::new(CONNECTIONS_MAX));
    let peers = PeerCounts::new(options.limits.connections_per_peer_max);
    let budget = FrameBudget::new(options.limits.partial_frame_bytes_max);
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
        let Some(slot) = peers.admit(&peer) else {
            let max = options.limits.connections_per_peer_max;
            tracing::warn!(%peer, "closing new connection: its address holds {max} connections already");
            drop(stream);
            continue;
        };
        let handler = handler.clone();
        let frame_bytes = budget.share();
        crate::env::spawn(async move {
            serve_connection(stream, &peer, handler, options, frame_bytes).await;
            drop(slot);
            drop(permit);
        });
    }
}
