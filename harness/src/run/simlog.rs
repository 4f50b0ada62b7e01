//! `sim.log`: every node's and client's tracing output for one run, each line stamped with
//! simulated time, collected in memory on the run's thread (so parallel runs never mix).

use crate::run::simlog_subscriber::SimLogSubscriber;
use std::io::Write;
use std::sync::{Arc, Mutex};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::EnvFilter;

/// The default filter: harness and nodes at info, so sim.log shows the node events a reader
/// needs to see why (elections, epoch changes, truncations, ISR and controller changes, group
/// generations, check-backs; design.md section 10).
pub const DEFAULT_FILTER: &str = "harness=info,engine=info,turmoil=warn,turmoil::sim=info";
/// A run's log is cut beyond this many bytes (the cut is noted at the end).
pub const LOG_BYTES_MAX: usize = 64 * 1024 * 1024;

/// Simulated time, or `-` outside a simulation.
pub(crate) struct SimTime;

impl FormatTime for SimTime {
    fn format_time(&self, w: &mut Writer<'_>) -> std::fmt::Result {
        match turmoil::sim_elapsed() {
            Some(elapsed) => write!(w, "{:>10.3}s", elapsed.as_secs_f64()),
            None => write!(w, "{:>11}", "-"),
        }
    }
}

#[derive(Clone, Default)]
pub struct LogBuffer {
    bytes: Arc<Mutex<Vec<u8>>>,
}

impl LogBuffer {
    pub fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.bytes.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl Write for LogBuffer {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let mut bytes = self.bytes.lock().unwrap_or_else(|p| p.into_inner());
        if bytes.len() < LOG_BYTES_MAX {
            bytes.extend_from_slice(data);
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs `work` with a subscriber that writes into `buffer` at `filter` (or the default).
pub fn capture<T>(buffer: &LogBuffer, filter: Option<&str>, work: impl FnOnce() -> T) -> T {
    let filter = EnvFilter::try_new(filter.unwrap_or(DEFAULT_FILTER))
        .unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let subscriber = SimLogSubscriber::new(buffer.clone()).with(filter);
    tracing::subscriber::with_default(subscriber, work)
}
