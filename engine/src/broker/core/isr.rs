//! ISR shrink and expand on the leader. The ISR used for acknowledgements changes only after
//! the coordinator accepted the change, so the controller never elects a replica the leader
//! already counted out; while a change is being written (or its outcome is unknown), the
//! proposed members count too, since the controller may already elect them.

use super::{Effect, IsrProposal, LogFacts, ReplicaCore, Role};
use crate::wire::broker_protocol::BrokerId;
use std::time::Duration;
use tokio::time::Instant;

impl ReplicaCore {
    /// An ISR change the leader wants: drop members that lag past `lag_max`, add followers
    /// that caught up to the high watermark within the current epoch.
    pub fn isr_proposal(
        &self,
        log: LogFacts,
        now: Instant,
        lag_max: Duration,
    ) -> Option<IsrProposal> {
        let Role::Leader(leadership) = &self.role else {
            return None;
        };
        if leadership.isr_change_pending || self.offline.is_some() {
            return None;
        }
        // A follower rejoins only once it holds this epoch's start (it truncated correctly).
        let epoch_start = self
            .epochs
            .entries()
            .iter()
            .find(|(epoch, _)| *epoch == leadership.epoch)
            .map_or(log.end, |(_, start)| *start);
        let mut isr = leadership.isr.clone();
        // A joining follower must hold the replicated head, or an acknowledged delete could be
        // lost by electing it.
        let replicated_head = self.replicated_head();
        for (id, progress) in &leadership.followers {
            let lagging = now.duration_since(progress.caught_up_at) > lag_max;
            if isr.contains(id) && lagging {
                isr.remove(id);
            } else if !isr.contains(id)
                && !lagging
                && progress.log_end >= self.hw
                && progress.log_end >= epoch_start
                && progress.head >= replicated_head
            {
                isr.insert(*id);
            }
        }
        isr.insert(self.me);
        if isr == leadership.isr {
            return None;
        }
        Some(IsrProposal {
            tp: self.tp.clone(),
            epoch: leadership.epoch,
            expected_version: leadership.state_version,
            isr: isr.into_iter().collect(),
        })
    }

    /// The proposal is being written: until the coordinator answers, the controller may elect
    /// from either ISR.
    pub fn propose_isr(&mut self, proposal: &IsrProposal) {
        if let Role::Leader(leadership) = &mut self.role {
            leadership.isr_change_pending = true;
            leadership.isr_proposed = proposal.isr.iter().copied().collect();
        }
    }

    /// The ISR change could not be written, or its outcome is unknown. A new proposal may
    /// follow, but the proposed members keep counting for acknowledgements until a read of
    /// the coordinator's state shows whether the write landed (`reconcile_isr`).
    pub fn isr_change_failed(&mut self) {
        if let Role::Leader(leadership) = &mut self.role {
            leadership.isr_change_pending = false;
        }
    }

    /// The coordinator's state for this leader's epoch, as the metadata loop read it: a newer
    /// version means a write of ours landed after all (its answer was lost), so its ISR is the
    /// one the controller elects from; the same version means it did not land.
    pub fn reconcile_isr(
        &mut self,
        isr: &[BrokerId],
        version: u64,
        log: LogFacts,
        now: Instant,
        effects: &mut Vec<Effect>,
    ) {
        let Role::Leader(leadership) = &mut self.role else {
            return;
        };
        self.confirmed_at = now;
        if leadership.isr_change_pending {
            return; // A write is in flight: its answer decides.
        }
        if version > leadership.state_version {
            tracing::info!(tp = %self.tp, ?isr, version, "ISR read back from the coordinator");
            leadership.isr = isr.iter().copied().collect();
            leadership.state_version = version;
        }
        leadership.isr_proposed.clear();
        self.advance_hw(log, effects);
    }

    /// The coordinator accepted an ISR change at `new_version`.
    pub fn apply_isr(
        &mut self,
        epoch: u64,
        isr: &[BrokerId],
        new_version: u64,
        log: LogFacts,
        now: Instant,
        effects: &mut Vec<Effect>,
    ) {
        if let Role::Leader(leadership) = &mut self.role {
            if leadership.epoch == epoch {
                tracing::info!(tp = %self.tp, epoch, ?isr, "ISR changed");
                self.events.record(crate::env::NodeEvent::IsrChanged {
                    tp: self.tp.to_string(),
                    epoch,
                    broker: self.me,
                    isr: isr.to_vec(),
                });
                leadership.isr = isr.iter().copied().collect();
                leadership.state_version = new_version;
                leadership.isr_change_pending = false;
                leadership.isr_proposed.clear();
                self.confirmed_at = now;
            }
        }
        self.advance_hw(log, effects);
    }
}
