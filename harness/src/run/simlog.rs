//! `sim.log`: every node's and client's tracing output for one run, each line stamped with
//! simulated time, collected in memory on the run's thread (so parallel runs never mix).

pub use crate::run::log_buffer::{LogBuffer, LOG_BYTES_MAX};
use crate::run::simlog_subscriber::SimLogSubscriber;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::EnvFilter;

/// The default filter: harness and nodes at info, so sim.log shows the node events a reader
/// needs to see why (elections, epoch changes, truncations, ISR and controller changes, group
/// generations, check-backs; design.md section 10).
pub const DEFAULT_FILTER: &str = "harness=info,engine=info,turmoil=warn,turmoil::sim=info";

/// Runs `work` with a subscriber that writes into `buffer` at `filter` (or the default).
pub fn capture<T>(buffer: &LogBuffer, filter: Option<&str>, work: impl FnOnce() -> T) -> T {
    let filter = EnvFilter::try_new(filter.unwrap_or(DEFAULT_FILTER))
        .unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let subscriber = SimLogSubscriber::new(buffer.clone()).with(filter);
    tracing::subscriber::with_default(subscriber, work)
}
