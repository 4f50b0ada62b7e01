//! Requests waiting for replication, by id: `acks=all` writes wait for the high watermark (and,
//! under `drop-oldest`, for the head they moved to replicate); `DeleteRecords` waits for the
//! replicated head. Bounded: past the limit a request is answered `RequestTimedOut` at once
//! (its outcome is unknown to the caller, as a timeout's is).

use super::effect::{Effect, WaiterId};
use crate::wire::broker_protocol::BrokerError;
use std::collections::BTreeMap;

/// Produce requests waiting for replication, per replica.
pub const WAITERS_MAX: usize = 10_000;

/// `DeleteRecords` requests waiting for their head to replicate, per replica.
pub const DELETE_WAITERS_MAX: usize = 1_000;

#[derive(Debug, Default)]
pub struct Waiters {
    next_id: u64,
    /// Keyed by the high watermark each waits for; with the replicated head it also needs.
    writes: BTreeMap<u64, Vec<(u64, WaiterId)>>,
    write_count: usize,
    /// Keyed by the replicated head each waits for.
    deletes: BTreeMap<u64, Vec<WaiterId>>,
    delete_count: usize,
}

/// How a settled wait ends: acknowledged, or replicated with the ISR below `min_insync`.
fn settled(enough: bool) -> Result<(), BrokerError> {
    if enough {
        Ok(())
    } else {
        Err(BrokerError::NotEnoughReplicasAfterAppend)
    }
}

impl Waiters {
    fn next_id(&mut self) -> WaiterId {
        let id = WaiterId(self.next_id);
        self.next_id += 1;
        id
    }

    /// How many requests wait (writes and deletes).
    pub fn len(&self) -> usize {
        self.write_count + self.delete_count
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A write waiting for the high watermark to reach `required` and the replicated head
    /// `head_required`.
    pub fn wait_for_write(
        &mut self,
        required: u64,
        head_required: u64,
        effects: &mut Vec<Effect>,
    ) -> WaiterId {
        let id = self.next_id();
        if self.write_count >= WAITERS_MAX {
            effects.push(Effect::CompleteWaiter {
                id,
                outcome: Err(BrokerError::RequestTimedOut),
            });
            return id;
        }
        self.writes
            .entry(required)
            .or_default()
            .push((head_required, id));
        self.write_count += 1;
        assert!(self.write_count <= WAITERS_MAX);
        id
    }

    /// A delete waiting for the replicated head to reach `required`.
    pub fn wait_for_delete(&mut self, required: u64, effects: &mut Vec<Effect>) -> WaiterId {
        let id = self.next_id();
        if self.delete_count >= DELETE_WAITERS_MAX {
            effects.push(Effect::CompleteWaiter {
                id,
                outcome: Err(BrokerError::RequestTimedOut),
            });
            return id;
        }
        self.deletes.entry(required).or_default().push(id);
        self.delete_count += 1;
        assert!(self.delete_count <= DELETE_WAITERS_MAX);
        id
    }

    pub fn has_deletes(&self) -> bool {
        !self.deletes.is_empty()
    }

    pub fn has_writes(&self) -> bool {
        !self.writes.is_empty()
    }

    /// Completes the deletes the replicated head covers.
    pub fn settle_deletes(
        &mut self,
        replicated_head: u64,
        enough: bool,
        effects: &mut Vec<Effect>,
    ) {
        let waiting = self.deletes.split_off(&(replicated_head + 1));
        let done = std::mem::replace(&mut self.deletes, waiting);
        for (_, ids) in done {
            for id in ids {
                self.delete_count -= 1;
                let outcome = settled(enough);
                effects.push(Effect::CompleteWaiter { id, outcome });
            }
        }
    }

    /// Completes the writes the high watermark `hw` covers whose head, if they need one, the
    /// replicated head covers too.
    pub fn settle_writes(
        &mut self,
        hw: u64,
        replicated_head: u64,
        enough: bool,
        effects: &mut Vec<Effect>,
    ) {
        let still_waiting = self.writes.split_off(&(hw + 1));
        let done = std::mem::replace(&mut self.writes, still_waiting);
        for (required, ids) in done {
            for (head_required, id) in ids {
                if head_required > replicated_head {
                    // Replicated, but the head it moved is not yet: keep waiting.
                    let entry = self.writes.entry(required).or_default();
                    entry.push((head_required, id));
                    continue;
                }
                self.write_count -= 1;
                let outcome = settled(enough);
                effects.push(Effect::CompleteWaiter { id, outcome });
            }
        }
    }

    /// Fails every waiting request with `error`: the deletes first, then the writes.
    pub fn fail_all(&mut self, error: &BrokerError, effects: &mut Vec<Effect>) {
        for (_, ids) in std::mem::take(&mut self.deletes) {
            for id in ids {
                let outcome = Err(error.clone());
                effects.push(Effect::CompleteWaiter { id, outcome });
            }
        }
        self.delete_count = 0;
        for (_, ids) in std::mem::take(&mut self.writes) {
            for (_, id) in ids {
                let outcome = Err(error.clone());
                effects.push(Effect::CompleteWaiter { id, outcome });
            }
        }
        self.write_count = 0;
    }
}
