//! The time stamp of a `sim.log` line: simulated time, so a log reads on the history's clock.

use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;

/// Simulated time, or `-` outside a simulation.
pub struct SimTime;

impl FormatTime for SimTime {
    fn format_time(&self, w: &mut Writer<'_>) -> std::fmt::Result {
        match turmoil::sim_elapsed() {
            Some(elapsed) => write!(w, "{:>10.3}s", elapsed.as_secs_f64()),
            None => write!(w, "{:>11}", "-"),
        }
    }
}
