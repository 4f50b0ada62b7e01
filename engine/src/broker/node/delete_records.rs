//! Serves `DeleteRecords`: moves a partition's head on its leader (`replica::queue` decides),
//! then waits, like an `acks=all` produce, until every in-sync replica holds the new head.
//!
//! Fault model: the leader is deposed, loses its disk or its followers while the delete waits.
//! Invariant: `RecordsDeleted` is sent only after the replicated head covers the delete; every
//! other outcome (`NotLeader`, `StorageError`, `RequestTimedOut`, ...) promises nothing, and a
//! timed-out delete may still take effect.

use crate::broker::node::replica::acknowledged;
use crate::broker::node::replica::queue::Deleted;
use crate::broker::node::shared::{unknown_or_not_leader, Shared};
use crate::wire::broker_protocol::{BrokerError, BrokerResponse, TopicPartition};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant; // The simulated clock (design.md section 4).

pub async fn delete_records(
    shared: &Arc<Shared>,
    tp: TopicPartition,
    before: u64,
    expected_head: Option<u64>,
    timeout_ms: u64,
) -> Result<BrokerResponse, BrokerError> {
    let timeout = Duration::from_millis(timeout_ms);
    let deleted = {
        let mut state = shared.lock();
        match state.replicas.get_mut(&tp) {
            Some(replica) => replica.delete_records(
                before,
                expected_head,
                Instant::now(),
                shared.options.metadata_expiry,
            )?,
            None => return Err(unknown_or_not_leader(&state.view, &tp)),
        }
    };
    match deleted {
        Deleted::Done(head) => Ok(BrokerResponse::RecordsDeleted { head }),
        Deleted::Wait(head, waiter) => {
            acknowledged(waiter, timeout).await?;
            Ok(BrokerResponse::RecordsDeleted { head })
        }
    }
}
