//! The high watermark: on a leader, the smallest durable log end among the replicas a
//! controller may elect; on a follower, the leader's, capped by what the follower holds.
//! Requests waiting for it complete as it moves.
//!
//! Invariant (asserted after every move): the high watermark never passes this replica's log
//! end, and on a leader never passes the reported log end of an electable follower — an
//! acknowledged write must be on every replica the controller may elect, or a member being
//! added could be elected without it (Kafka's "maximal ISR", KIP-497).

use super::{Effect, LogFacts, ReplicaCore, Role};
use crate::bugs::Bug;
use crate::wire::broker_protocol::BrokerId;
use tokio::time::Instant;

impl ReplicaCore {
    /// Moves the high watermark to the smallest durable log end among the electable replicas
    /// and completes the requests it (and the replicated head) covers.
    pub fn advance_hw(&mut self, log: LogFacts, effects: &mut Vec<Effect>) {
        self.settle_deletes(effects);
        let durable_end = self.durable_end(log);
        let Role::Leader(leadership) = &self.role else {
            return;
        };
        let mut candidate = durable_end;
        let replicated = !self.bugs.has(Bug::AcksAllWithoutReplication);
        for member in leadership.electable() {
            if member == self.me || !replicated {
                continue;
            }
            let end = leadership
                .followers
                .get(&member)
                .map_or(0, |progress| progress.log_end);
            candidate = candidate.min(end);
        }
        let enough = leadership.isr.len() as u32 >= self.min_insync;
        if candidate > self.hw {
            self.assert_covered_by_electable(candidate);
            self.hw = candidate;
            effects.push(Effect::NotifyChanged);
        }
        self.assert_hw(log);
        if !self.waiters.has_writes() {
            return;
        }
        let replicated_head = self.replicated_head();
        self.waiters
            .settle_writes(self.hw, replicated_head, enough, effects);
    }

    /// The high watermark within this replica's log and, while leading with replication on,
    /// within every electable follower's log end.
    fn assert_hw(&self, log: LogFacts) {
        assert!(
            self.hw <= log.end,
            "{}: high watermark {} past the log end {}",
            self.tp,
            self.hw,
            log.end
        );
    }

    /// Pairs with the minimum taken in `advance_hw`: a high watermark it raises is held by
    /// every electable follower, as their fetches reported (unless replication is switched
    /// off by a planted bug). Asserted at the move only: a member's reported end may later
    /// fall below it (a follower that lost unsynced data, a leader's fresh progress table),
    /// and the high watermark then waits for it rather than going down.
    fn assert_covered_by_electable(&self, hw: u64) {
        if self.bugs.has(Bug::AcksAllWithoutReplication) {
            return;
        }
        let Role::Leader(leadership) = &self.role else {
            return;
        };
        for member in leadership.electable().filter(|member| *member != self.me) {
            let end = leadership.followers.get(&member).map_or(0, |p| p.log_end);
            assert!(
                hw <= end,
                "{}: high watermark {hw} past electable member {member}'s log end {end}",
                self.tp
            );
        }
    }

    /// Leader: a follower fetched from `fetch_offset`, which is its log end.
    pub fn record_follower(
        &mut self,
        follower: BrokerId,
        fetch_offset: u64,
        log: LogFacts,
        now: Instant,
        effects: &mut Vec<Effect>,
    ) {
        let leader_end = log.end;
        let Role::Leader(leadership) = &mut self.role else {
            return;
        };
        let Some(progress) = leadership.followers.get_mut(&follower) else {
            return;
        };
        // Kafka's rule: caught up if it reached the leader's end now, or reached the end the
        // leader had at its previous fetch (then it was caught up as of that fetch).
        if fetch_offset >= leader_end {
            progress.caught_up_at = now;
        } else if fetch_offset >= progress.leader_end_at_last_fetch {
            progress.caught_up_at = progress.last_fetch_at;
        }
        progress.log_end = fetch_offset;
        progress.last_fetch_at = now;
        progress.leader_end_at_last_fetch = leader_end;
        self.advance_hw(log, effects);
    }

    /// Follower: takes the leader's high watermark, capped by what is durable here.
    pub fn follow_hw(&mut self, leader_hw: u64, log: LogFacts, effects: &mut Vec<Effect>) {
        self.hw = self.hw.max(leader_hw.min(self.durable_end(log)));
        self.assert_hw(log);
        effects.push(Effect::NotifyChanged);
    }
}
