//! The ISR loop: asks each led replica's core for an ISR change and writes it to the
//! coordinator, version-conditioned, before the replica uses it.

use crate::broker::node::shared::Shared;
use crate::broker::znodes::{self, PartitionState};
use crate::bugs::Bug;
use std::sync::Arc;
use tokio::time::Instant; // The simulated clock (design.md section 4).

/// Shrinks and expands ISRs, writing each change to the coordinator before using it.
pub async fn run(shared: Arc<Shared>) {
    let options = shared.options.clone();
    let tick = options.replica_lag_max / 4;
    loop {
        tokio::time::sleep(tick).await;
        let proposals = {
            let mut state = shared.lock();
            let now = Instant::now();
            let proposals: Vec<_> = state
                .replicas
                .values()
                .filter_map(|replica| replica.isr_proposal(now, options.replica_lag_max))
                .collect();
            for proposal in &proposals {
                if let Some(replica) = state.replicas.get_mut(&proposal.tp) {
                    replica.propose_isr(proposal);
                }
            }
            proposals
        };
        for proposal in proposals {
            let controller_epoch = shared
                .lock()
                .view
                .states
                .get(&proposal.tp)
                .map_or(0, |entry| entry.state.controller_epoch);
            let state = PartitionState {
                leader: Some(options.id),
                leader_epoch: proposal.epoch,
                isr: proposal.isr.clone(),
                controller_epoch,
            };
            let unrecorded = shared.options.bugs.has(Bug::IsrShrinkUnrecorded);
            let written = match shared.session.get() {
                // Planted bug: use the new ISR without recording it in the coordinator.
                Some(_) if unrecorded => Some(crate::coordinator::Stat {
                    version: proposal.expected_version,
                    cversion: 0,
                    czxid: 0,
                    mzxid: 0,
                    ephemeral_owner: None,
                    data_bytes: 0,
                    children: 0,
                }),
                Some(registered) => registered
                    .client
                    .set(
                        &znodes::state_path(&proposal.tp),
                        znodes::encode(&state),
                        Some(proposal.expected_version),
                    )
                    .await
                    .ok(),
                None => None,
            };
            let mut guard = shared.lock();
            if let Some(replica) = guard.replicas.get_mut(&proposal.tp) {
                match written {
                    Some(stat) => replica.apply_isr(
                        proposal.epoch,
                        &proposal.isr,
                        stat.version,
                        Instant::now(),
                    ),
                    // Lost a race, or the coordinator is away and the write may have landed: the
                    // metadata loop re-reads the state and reconciles.
                    None => replica.isr_change_failed(),
                }
            }
        }
    }
}
