//! What the replica core asks its node to do. The core never touches a channel: a request
//! that waits (an `acks=all` produce, a `DeleteRecords`) is named by a [`WaiterId`], and the
//! node keeps the sending half of its answer in a map keyed by that id. The node runs the
//! effects in the order the core emitted them (wake-ups are ordered by that, and the
//! simulation's schedule with them).

use crate::wire::broker_protocol::BrokerError;

/// Names one waiting request of one replica; never reused within the replica.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct WaiterId(pub u64);

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Wake every task waiting for news of this replica (an append, the high watermark, the
    /// head, a role change).
    NotifyChanged,
    /// Answer the request waiting as `id`.
    CompleteWaiter {
        id: WaiterId,
        outcome: Result<(), BrokerError>,
    },
}
