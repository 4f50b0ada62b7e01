//! Limits a server puts on its peers, beyond one frame's size. Fault model: a hostile client
//! opens many connections and sends each frame one byte at a time (slow-loris), or starts many
//! large frames and never finishes them, to hold the server's connection slots and memory.
//! Invariants: one peer address holds at most `connections_per_peer_max` connections, so it
//! cannot take every slot of [`super::CONNECTIONS_MAX`]; a frame whose first byte arrived must
//! be complete within `frame_deadline`, or its connection is closed; and the bytes of frames
//! not yet complete, over all connections, never exceed `partial_frame_bytes_max` — a
//! connection that needs more waits (and stops reading, pushing back on its peer through
//! TCP) until its own frame deadline, then is closed.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Semaphore;

/// Connections one peer address may hold at once.
pub const CONNECTIONS_PER_PEER_MAX: usize = 64;
/// Time to finish a frame once its first byte arrived.
pub const FRAME_DEADLINE: Duration = Duration::from_secs(10);
/// Bytes of unfinished frames held over all connections.
pub const PARTIAL_FRAME_BYTES_MAX: usize = 64 * 1024 * 1024;

const _: () = assert!(PARTIAL_FRAME_BYTES_MAX >= super::FRAME_BYTES_MAX + 4);

/// The limits as a value, so tests (and small deployments) can lower them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WireLimits {
    pub connections_per_peer_max: usize,
    pub frame_deadline: Duration,
    pub partial_frame_bytes_max: usize,
}

impl Default for WireLimits {
    fn default() -> WireLimits {
        WireLimits {
            connections_per_peer_max: CONNECTIONS_PER_PEER_MAX,
            frame_deadline: FRAME_DEADLINE,
            partial_frame_bytes_max: PARTIAL_FRAME_BYTES_MAX,
        }
    }
}

/// The address part of a peer name (`10.0.0.2:4711` -> `10.0.0.2`, `[::1]:80` -> `[::1]`):
/// one client opens its connections from many ports, so the port is not the peer.
pub fn peer_address(peer: &str) -> &str {
    match peer.rsplit_once(':') {
        Some((address, port))
            if !address.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) =>
        {
            address
        }
        _ => peer,
    }
}

/// Open connections per peer address, shared by the accept loop and the connections.
#[derive(Clone, Debug)]
pub struct PeerCounts {
    max: usize,
    counts: Arc<Mutex<BTreeMap<String, usize>>>,
}

/// One counted connection; uncounted when dropped (however the connection ends).
#[derive(Debug)]
pub struct PeerSlot {
    address: String,
    counts: Arc<Mutex<BTreeMap<String, usize>>>,
}

impl PeerCounts {
    pub fn new(max: usize) -> PeerCounts {
        assert!(max > 0, "a peer must be allowed one connection");
        PeerCounts {
            max,
            counts: Arc::default(),
        }
    }

    /// A slot for one more connection from `peer`, or `None` when it holds `max` already.
    pub fn admit(&self, peer: &str) -> Option<PeerSlot> {
        let address = peer_address(peer);
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let count = counts.entry(address.to_owned()).or_insert(0);
        if *count >= self.max {
            return None;
        }
        *count += 1;
        Some(PeerSlot {
            address: address.to_owned(),
            counts: self.counts.clone(),
        })
    }

    /// Connections `peer`'s address holds now.
    pub fn count(&self, peer: &str) -> usize {
        let counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        counts.get(peer_address(peer)).copied().unwrap_or(0)
    }
}

impl Drop for PeerSlot {
    fn drop(&mut self) {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let count = counts
            .get_mut(&self.address)
            .expect("a slot's address is counted");
        assert!(*count > 0);
        *count -= 1;
        if *count == 0 {
            // The map holds only peers with open connections: its size is bounded by them.
            counts.remove(&self.address);
        }
    }
}

/// The shared budget of unfinished-frame bytes, as semaphore permits (one per byte).
#[derive(Clone, Debug)]
pub struct FrameBudget {
    permits: Arc<Semaphore>,
    max: usize,
}

/// One connection's share of the budget; returned when dropped.
#[derive(Debug)]
pub struct FrameBytes {
    permits: Arc<Semaphore>,
    held: usize,
}

impl FrameBudget {
    pub fn new(max: usize) -> FrameBudget {
        assert!(max <= Semaphore::MAX_PERMITS);
        FrameBudget {
            permits: Arc::new(Semaphore::new(max)),
            max,
        }
    }

    /// A connection's share, holding nothing yet.
    pub fn share(&self) -> FrameBytes {
        FrameBytes {
            permits: self.permits.clone(),
            held: 0,
        }
    }

    /// Bytes not held by any connection.
    pub fn available(&self) -> usize {
        self.permits.available_permits()
    }

    pub fn max(&self) -> usize {
        self.max
    }
}

impl FrameBytes {
    pub fn held(&self) -> usize {
        self.held
    }

    /// Grows the share to `bytes`, waiting for other connections to return theirs.
    pub async fn grow_to(&mut self, bytes: usize) {
        if bytes <= self.held {
            return;
        }
        let more = u32::try_from(bytes - self.held).expect("a read chunk fits in u32");
        let permit = self
            .permits
            .acquire_many(more)
            .await
            .expect("the budget is never closed");
        permit.forget();
        self.held = bytes;
    }

    /// Shrinks the share to `bytes` (what the connection still holds), returning the rest.
    pub fn shrink_to(&mut self, bytes: usize) {
        if bytes < self.held {
            self.permits.add_permits(self.held - bytes);
            self.held = bytes;
        }
    }
}

impl Drop for FrameBytes {
    fn drop(&mut self) {
        self.shrink_to(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_are_counted_by_address_and_uncounted_on_drop() {
        assert_eq!(peer_address("10.0.0.2:4711"), "10.0.0.2");
        assert_eq!(peer_address("[::1]:80"), "[::1]");
        assert_eq!(peer_address("client"), "client");
        let counts = PeerCounts::new(2);
        let first = counts.admit("10.0.0.2:1").expect("first");
        let second = counts.admit("10.0.0.2:2").expect("second");
        assert!(counts.admit("10.0.0.2:3").is_none());
        assert!(
            counts.admit("10.0.0.3:3").is_some(),
            "another peer is not affected"
        );
        drop(first);
        assert_eq!(counts.count("10.0.0.2:9"), 1);
        let _third = counts.admit("10.0.0.2:3").expect("a slot was freed");
        drop(second);
    }

    #[tokio::test]
    async fn frame_bytes_return_to_the_budget() {
        let budget = FrameBudget::new(100);
        let mut a = budget.share();
        a.grow_to(60).await;
        assert_eq!((a.held(), budget.available()), (60, 40));
        let mut b = budget.share();
        // b cannot have 50 until a gives some back.
        let waiting = tokio::time::timeout(Duration::from_millis(10), b.grow_to(50)).await;
        assert!(waiting.is_err());
        assert_eq!(budget.available(), 40, "a cancelled wait takes nothing");
        a.shrink_to(10);
        b.grow_to(50).await;
        assert_eq!(budget.available(), 40);
        drop(a);
        drop(b);
        assert_eq!(budget.available(), budget.max());
    }
}
