//! Time for nodes. Only `tokio::time` is used: turmoil drives it in simulation, the OS in real
//! mode. Wall clocks (`Instant::now`, `SystemTime::now`) are forbidden in engine code because
//! they would make a simulated run depend on the machine it ran on.

use std::future::Future;
use std::time::Duration;
use tokio::time::Instant; // The simulated clock (design.md section 4).

/// A node's clock; `elapsed` counts from the node's start (its restart, after a bounce).
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    start: Instant,
}

/// A deadline passed before the work finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("timed out after {after:?}")]
pub struct Elapsed {
    pub after: Duration,
}

impl Clock {
    pub fn new() -> Clock {
        Clock {
            start: Instant::now(),
        }
    }

    pub fn now(&self) -> Instant {
        Instant::now()
    }

    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    pub async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await
    }

    pub async fn timeout<F: Future>(&self, after: Duration, work: F) -> Result<F::Output, Elapsed> {
        tokio::time::timeout(after, work)
            .await
            .map_err(|_| Elapsed { after })
    }
}

impl Default for Clock {
    fn default() -> Clock {
        Clock::new()
    }
}

/// Simulated time since the start of the run when inside turmoil, for log lines; `None` outside
/// a simulation (real mode logs carry the OS time from the subscriber instead).
pub fn sim_elapsed() -> Option<Duration> {
    turmoil::sim_elapsed()
}
