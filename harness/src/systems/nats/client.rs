//! A connection to the NATS cluster of a run, as the workload's clients and the conductor make
//! it: every server's client address, reconnecting forever, pinging every second so that a
//! connection to an isolated or paused server is given up in seconds rather than minutes.

use crate::run::context::RunContext;
use crate::systems::nats::config::{server_hosts, CLIENT_PORT};
use async_nats::jetstream;
use std::time::Duration;

/// How often the client pings its server; two unanswered pings drop the connection.
const PING_INTERVAL: Duration = Duration::from_secs(1);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// How long one JetStream API request or PubAck is awaited.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(1);

/// Every server's client URL.
pub fn server_urls(ctx: &RunContext) -> Vec<String> {
    server_hosts(&ctx.scenario)
        .iter()
        .map(|host| format!("nats://{}:{CLIENT_PORT}", ctx.address_of(host)))
        .collect()
}

/// A JetStream context over a new connection; `None` if the URLs do not parse or the client
/// cannot be made (it retries the servers in the background otherwise).
pub async fn connect(ctx: &RunContext) -> Option<jetstream::Context> {
    let urls: Vec<async_nats::ServerAddr> = server_urls(ctx)
        .iter()
        .filter_map(|url| url.parse().ok())
        .collect();
    let client = async_nats::ConnectOptions::new()
        .retry_on_initial_connect()
        .max_reconnects(None)
        .ping_interval(PING_INTERVAL)
        .connection_timeout(CONNECT_TIMEOUT)
        .request_timeout(Some(REQUEST_TIMEOUT))
        .connect(urls)
        .await;
    match client {
        Ok(client) => {
            let mut context = jetstream::new(client);
            context.set_timeout(REQUEST_TIMEOUT);
            Some(context)
        }
        Err(error) => {
            tracing::warn!(%error, "cannot make a NATS client");
            None
        }
    }
}
