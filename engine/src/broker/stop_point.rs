//! A one-shot fault point for tests: armed by a test, it stops the first broker that reaches it
//! — that broker's tasks hang there, then and every later time they reach it, as if it froze at
//! that point — and names that broker, so the test can crash it at exactly that moment and then
//! release the point (so the restarted broker runs normally). Plain data in
//! [`crate::broker::BrokerOptions`]; unarmed, it does nothing.

use crate::wire::broker_protocol::BrokerId;
use std::sync::Mutex;

#[derive(Debug, Default)]
struct Inner {
    armed: bool,
    /// The broker that reached the point first.
    stopped: Option<BrokerId>,
    /// Whether that broker is still held there.
    holding: bool,
}

#[derive(Debug, Default)]
pub struct StopPoint {
    inner: Mutex<Inner>,
}

impl StopPoint {
    /// An armed point.
    pub fn armed() -> StopPoint {
        StopPoint {
            inner: Mutex::new(Inner {
                armed: true,
                ..Inner::default()
            }),
        }
    }

    /// Whether `broker` must stop here: the first to reach the armed point, and then that
    /// broker every time until [`StopPoint::release`].
    pub fn reach(&self, broker: BrokerId) -> bool {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if inner.holding && inner.stopped == Some(broker) {
            return true;
        }
        if !inner.armed {
            return false;
        }
        inner.armed = false;
        inner.stopped = Some(broker);
        inner.holding = true;
        tracing::warn!(broker, "stopped at a test's stop point");
        true
    }

    /// The broker that stopped here, once one did.
    pub fn stopped(&self) -> Option<BrokerId> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).stopped
    }

    /// Lets every broker pass from now on (the stopped one was crashed).
    pub fn release(&self) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.armed = false;
        inner.holding = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_the_first_broker_until_released() {
        let point = StopPoint::armed();
        assert!(point.reach(2));
        assert!(!point.reach(1), "one broker only");
        assert!(point.reach(2), "held until released");
        assert_eq!(point.stopped(), Some(2));
        point.release();
        assert!(!point.reach(2));
        assert!(!StopPoint::default().reach(1), "unarmed does nothing");
    }
}
