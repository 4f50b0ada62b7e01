//! The controller: one broker, elected through the ephemeral `/controller` znode, that creates
//! partition state for new topics and moves leadership when a leader is lost.
//!
//! Fault model: brokers crash, restart and get cut off; the controller itself may be paused past
//! its session and resume believing it still rules. Invariants: a new leader comes from the ISR
//! only (no unclean election) and gets a higher leader epoch; every controller write is a
//! `multi` that first checks the version of `/controller_epoch`, which each new controller
//! bumps, so a stale controller's writes fail. A leader whose registration is newer than its
//! partition's state restarted since the state was written, so the partition is re-elected with
//! a new epoch before anyone acts on it.

use crate::broker::options::BrokerOptions;
use crate::broker::session::{ensure_path, Registered, SessionSlot};
use crate::broker::view::{self, ClusterView, StateEntry, WatchSet};
use crate::broker::znodes::{self, ControllerInfo, PartitionState};
use crate::bugs::{Bug, Bugs};
use crate::coordinator::{ClientError, CoordError, CoordinatorClient, CreateMode, Op};
use crate::env::NodeEvent;
use crate::wire::broker_protocol::{BrokerId, TopicPartition};
use std::time::Duration;

/// Controller rounds between re-reads even without a watch firing.
const ROUND_INTERVAL: Duration = Duration::from_millis(500);

/// What one partition needs from the controller, if anything.
pub fn decide(
    tp: &TopicPartition,
    view: &ClusterView,
    controller_epoch: u64,
    bugs: Bugs,
) -> Option<PartitionState> {
    let replicas = view.replicas(tp)?;
    let entry: &StateEntry = view.states.get(tp)?;
    let state = &entry.state;
    let live = |id: &BrokerId| view.brokers.contains_key(id);
    // Registered after the state was written: restarted since, possibly missing unsynced data.
    let fresh = |id: &BrokerId| view.brokers.get(id).is_some_and(|b| b.zxid > entry.mzxid);
    let leader_ok = state
        .leader
        .is_some_and(|leader| live(&leader) && !fresh(&leader));
    if leader_ok {
        return None;
    }
    let unclean = bugs.has(Bug::UncleanLeaderElection);
    if state.leader.is_none()
        && !state.isr.iter().any(live)
        && !(unclean && replicas.iter().any(live))
    {
        // Offline and nobody eligible has come back: nothing to do (no unclean election).
        return None;
    }
    // ISR members in replica order, preferring those that did not restart.
    let mut in_isr: Vec<BrokerId> = replicas
        .iter()
        .copied()
        .filter(|id| state.isr.contains(id) && live(id))
        .collect();
    if in_isr.is_empty() && unclean {
        // Planted bug: any live replica will do.
        in_isr = replicas.iter().copied().filter(live).collect();
    }
    let leader = in_isr
        .iter()
        .copied()
        .find(|id| !fresh(id))
        .or_else(|| in_isr.first().copied());
    let isr = match leader {
        Some(_) => in_isr.clone(),
        // Keep the last ISR so one of its members can lead when it returns.
        None => state.isr.clone(),
    };
    // Planted bug: the epoch stays, so the new leader shares it with the one it replaces.
    let epoch_step = u64::from(!bugs.has(Bug::LeaderEpochReused));
    Some(PartitionState {
        leader,
        leader_epoch: state.leader_epoch + epoch_step,
        isr,
        controller_epoch,
    })
}

/// The initial state of a new partition: its first live replica leads at epoch 0.
pub fn initial_state(
    replicas: &[BrokerId],
    view: &ClusterView,
    controller_epoch: u64,
) -> PartitionState {
    let live: Vec<BrokerId> = replicas
        .iter()
        .copied()
        .filter(|id| view.brokers.contains_key(id))
        .collect();
    PartitionState {
        leader: live.first().copied(),
        leader_epoch: 0,
        isr: live,
        controller_epoch,
    }
}

/// Why a controller write did not happen.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Another controller took over (the epoch check failed), or our session ended.
    Fenced,
    /// A write lost a race or the coordinator was unreachable; re-read and try again.
    Retry,
}

/// Writes `ops` atomically, but only if `/controller_epoch` still has `epoch_version`: the
/// fence that keeps a deposed controller from overwriting its successor's decisions.
pub async fn fenced_write(
    client: &CoordinatorClient,
    epoch_version: u64,
    mut ops: Vec<Op>,
) -> Result<(), Outcome> {
    ops.insert(
        0,
        Op::Check {
            path: znodes::CONTROLLER_EPOCH.into(),
            expected_version: epoch_version,
        },
    );
    match client.multi(ops).await {
        Ok(_) => Ok(()),
        Err(ClientError::Coord(CoordError::MultiFailed { index: 0, .. })) => Err(Outcome::Fenced),
        Err(ClientError::SessionExpired) => Err(Outcome::Fenced),
        Err(error) => {
            tracing::debug!(%error, "controller write failed");
            Err(Outcome::Retry)
        }
    }
}

struct Reign {
    client: CoordinatorClient,
    epoch: u64,
    epoch_version: u64,
    bugs: Bugs,
}

impl Reign {
    async fn write(&self, ops: Vec<Op>) -> Result<(), Outcome> {
        fenced_write(&self.client, self.epoch_version, ops).await
    }

    /// One pass: initialise new topics, re-elect partitions that lost their leader.
    async fn round(&self, view: &ClusterView) -> Result<(), Outcome> {
        for (topic, assignment) in &view.topics {
            let missing: Vec<u32> = (0..assignment.replicas.len() as u32)
                .filter(|p| {
                    !view
                        .states
                        .contains_key(&TopicPartition::new(topic.clone(), *p))
                })
                .collect();
            if missing.is_empty() {
                continue;
            }
            let partitions = znodes::partitions_path(topic);
            let _ = ensure_path(&self.client, &partitions).await;
            for partition in missing {
                let tp = TopicPartition::new(topic.clone(), partition);
                let _ = ensure_path(&self.client, &znodes::partition_path(&tp)).await;
                let state =
                    initial_state(&assignment.replicas[partition as usize], view, self.epoch);
                let create = Op::Create {
                    path: znodes::state_path(&tp),
                    data: znodes::encode(&state),
                    mode: CreateMode::Persistent,
                };
                tracing::info!(%tp, ?state, "controller creates partition state");
                self.write(vec![create]).await?;
            }
        }
        for tp in view.partitions() {
            let Some(state) = decide(&tp, view, self.epoch, self.bugs) else {
                continue;
            };
            let Some(entry) = view.states.get(&tp) else {
                continue;
            };
            tracing::info!(%tp, ?state, "controller elects");
            let set = Op::SetData {
                path: znodes::state_path(&tp),
                data: znodes::encode(&state),
                expected_version: Some(entry.version),
            };
            self.write(vec![set]).await?;
        }
        Ok(())
    }
}

/// Bumps `/controller_epoch` by compare-and-set; returns the new epoch and znode version.
/// `remembered` is set only by the planted `controller-epoch-from-memory`: the last epoch this
/// broker ruled in since it started, bumped in place of the persisted one.
async fn bump_epoch(
    client: &CoordinatorClient,
    remembered: Option<u64>,
) -> Result<(u64, u64), ClientError> {
    match client
        .create(
            znodes::CONTROLLER_EPOCH,
            znodes::encode(&0u64),
            CreateMode::Persistent,
        )
        .await
    {
        Ok(_) | Err(ClientError::Coord(CoordError::NodeExists { .. })) => {}
        Err(error) => return Err(error),
    }
    let (data, stat) = client.get(znodes::CONTROLLER_EPOCH).await?;
    let persisted = znodes::decode::<u64>(&data).unwrap_or(0);
    // Planted bug: the version check below still fences a deposed controller's writes, but the
    // epoch number, which partition states carry, can repeat an earlier controller's.
    let epoch = remembered.unwrap_or(persisted) + 1;
    let stat = client
        .set(
            znodes::CONTROLLER_EPOCH,
            znodes::encode(&epoch),
            Some(stat.version),
        )
        .await?;
    Ok((epoch, stat.version))
}

/// Rules until fenced or expired. `epoch_ruled` is the last epoch this broker ruled in since it
/// started; only the planted `controller-epoch-from-memory` reads it.
async fn reign(registered: Registered, options: &BrokerOptions, epoch_ruled: &mut u64) {
    let client = registered.client;
    let remembered = options
        .bugs
        .has(Bug::ControllerEpochFromMemory)
        .then_some(*epoch_ruled);
    let (epoch, epoch_version) = match bump_epoch(&client, remembered).await {
        Ok(bumped) => bumped,
        Err(error) => {
            tracing::warn!(%error, "could not bump the controller epoch; resigning");
            let _ = client.delete(znodes::CONTROLLER, None).await;
            return;
        }
    };
    *epoch_ruled = epoch;
    tracing::info!(broker = options.id, epoch, "became controller");
    options.events.record(NodeEvent::ControllerElected {
        broker: options.id,
        epoch,
    });
    let reign = Reign {
        client,
        epoch,
        epoch_version,
        bugs: options.bugs,
    };
    let (watches, mut changed) = WatchSet::new();
    loop {
        if reign.client.is_expired() {
            return;
        }
        match view::read(&reign.client, &watches).await {
            Ok(view) => {
                if view.controller != Some(options.id) {
                    tracing::info!(broker = options.id, "no longer the controller");
                    return;
                }
                match reign.round(&view).await {
                    Ok(()) | Err(Outcome::Retry) => {}
                    Err(Outcome::Fenced) => {
                        tracing::info!(broker = options.id, epoch, "controller fenced");
                        return;
                    }
                }
            }
            Err(error) => tracing::debug!(%error, "controller read failed"),
        }
        let _ = tokio::time::timeout(ROUND_INTERVAL, changed.recv()).await;
    }
}

/// Runs for controller whenever there is none, and rules while elected.
pub async fn run(options: BrokerOptions, slot: SessionSlot) {
    let info = znodes::encode(&ControllerInfo { broker: options.id });
    // In memory only: a restart forgets it, as a restart should (the persisted epoch counts).
    let mut epoch_ruled = 0u64;
    loop {
        let Some(registered) = slot.get() else {
            tokio::time::sleep(options.retry_backoff).await;
            continue;
        };
        match registered
            .client
            .create(znodes::CONTROLLER, info.clone(), CreateMode::Ephemeral)
            .await
        {
            Ok(_) => reign(registered, &options, &mut epoch_ruled).await,
            Err(ClientError::Coord(CoordError::NodeExists { .. })) => {
                match registered.client.exists_watch(znodes::CONTROLLER).await {
                    // Ours: an earlier create went through but its answer was lost.
                    Ok((Some(stat), _))
                        if stat.ephemeral_owner == Some(registered.client.session()) =>
                    {
                        reign(registered, &options, &mut epoch_ruled).await
                    }
                    Ok((Some(_), watch)) => {
                        let _ = tokio::time::timeout(options.session_timeout, watch.fired()).await;
                    }
                    Ok((None, _)) => {}
                    Err(_) => tokio::time::sleep(options.retry_backoff).await,
                }
            }
            Err(_) => tokio::time::sleep(options.retry_backoff).await,
        }
    }
}
