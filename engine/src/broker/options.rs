//! A broker's settings. Defaults suit the simulation (seconds, not Kafka's minutes), so faults
//! of a few seconds exercise expiry, ISR shrink and leader election.

use crate::broker::stop_point::StopPoint;
use crate::bugs::Bugs;
use crate::env::{NodeAddr, NodeEvents};
use crate::storage::LogOptions;
use crate::wire::broker_protocol::BrokerId;
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct BrokerOptions {
    pub id: BrokerId,
    /// Where this broker listens.
    pub listen: NodeAddr,
    /// Where others reach it (registered in the coordinator).
    pub advertised: NodeAddr,
    pub coordinator: NodeAddr,
    pub log: LogOptions,
    pub session_timeout: Duration,
    /// A follower not caught up for this long leaves the ISR.
    pub replica_lag_max: Duration,
    /// How often metadata is re-read even without a watch firing.
    pub metadata_refresh: Duration,
    /// A role not confirmed by the coordinator for this long is not acted on: a leader cut off
    /// from the coordinator stops acknowledging writes.
    pub metadata_expiry: Duration,
    pub fetch_max_wait: Duration,
    pub fetch_max_bytes: u64,
    pub request_timeout: Duration,
    /// Pause after a failed step in a background loop.
    pub retry_backoff: Duration,
    /// Planted bugs switched on (none unless a run asks for them).
    pub bugs: Bugs,
    /// Where the broker records its node events (elections, truncations, ISR changes); off
    /// unless a simulated run collects them.
    pub events: NodeEvents,
    /// Tests only: the transaction coordinator that first publishes a committed message stops
    /// there, before it records the publication (a crash window). `None` in real use.
    pub txn_stop_after_publish: Option<Arc<StopPoint>>,
}

impl BrokerOptions {
    pub fn new(
        id: BrokerId,
        listen: NodeAddr,
        advertised: NodeAddr,
        coordinator: NodeAddr,
    ) -> BrokerOptions {
        let session_timeout = Duration::from_millis(1500);
        BrokerOptions {
            id,
            listen,
            advertised,
            coordinator,
            log: LogOptions::default(),
            session_timeout,
            replica_lag_max: Duration::from_millis(1000),
            metadata_refresh: Duration::from_millis(300),
            metadata_expiry: session_timeout,
            fetch_max_wait: Duration::from_millis(100),
            fetch_max_bytes: 1024 * 1024,
            request_timeout: Duration::from_millis(1000),
            retry_backoff: Duration::from_millis(50),
            bugs: Bugs::none(),
            events: NodeEvents::off(),
            txn_stop_after_publish: None,
        }
    }
}
