//! The group coordinator's glue: serves FindCoordinator, JoinGroup, Heartbeat, LeaveGroup,
//! OffsetCommit and OffsetFetch by moving requests into the broker's [`GroupTable`] and the
//! records it returns into the `__consumer_offsets` replica, and runs the tick that expires
//! silent members. The broker coordinates a group while it leads the group's offsets partition.
//!
//! Fault model: the coordinator crashes, is cut off, or loses leadership mid-request; its writes
//! fail or never replicate. Invariants: a commit is acknowledged only once the offsets
//! partition's high watermark covers it (acks=all with `min_insync`); a `Joined` answer waits
//! until the group's latest generation record is covered; a deposed coordinator answers
//! `NotCoordinator` (its appends fail as a produce's would). Every table change and every append
//! happen under the broker's one lock, so the log's order is the table's order.

use crate::broker::internal_topic::{self, InternalTopic};
use crate::broker::node::replica::{acknowledged, Produced, Replica, Role, Waiter};
use crate::broker::node::shared::{BrokerState, Shared};
use crate::broker::offsets_topic::{
    offsets_tp, partition_for, GroupRecord, OFFSETS_PARTITIONS, OFFSETS_TOPIC,
};
use crate::broker::options::BrokerOptions;
use crate::broker::view::ClusterView;
use crate::bugs::Bug;
use crate::env::NodeEvent;
use crate::wire::broker_protocol::{
    BrokerError, BrokerResponse, JoinGroupRequest, OffsetCommitRequest, TopicPartition,
};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// How often silent members are looked for.
pub const GROUP_TICK: Duration = Duration::from_millis(100);
/// The longest group name.
pub const GROUP_NAME_BYTES_MAX: usize = 255;
/// The most partitions one commit or fetch names.
pub const OFFSETS_PER_COMMIT_MAX: usize = 1024;
/// Bytes read per step while replaying an offsets partition.
const LOAD_READ_BYTES: u64 = 1024 * 1024;
/// Bound on replay steps (each reads at least one batch).
const LOAD_STEPS_MAX: usize = 1_000_000;

fn check_group(group: &str) -> Result<u32, BrokerError> {
    if group.is_empty() || group.len() > GROUP_NAME_BYTES_MAX {
        return Err(BrokerError::InvalidRequest {
            reason: format!("a group name has 1..={GROUP_NAME_BYTES_MAX} bytes"),
        });
    }
    Ok(partition_for(group))
}

fn partition_counts(view: &ClusterView) -> BTreeMap<String, u32> {
    view.topics
        .iter()
        .map(|(name, assignment)| (name.clone(), assignment.replicas.len() as u32))
        .collect()
}

/// A deposed leader's errors, as a group member should read them.
fn as_group_error(error: BrokerError) -> BrokerError {
    match error {
        BrokerError::NotLeader { .. } => BrokerError::NotCoordinator,
        other => other,
    }
}

/// Brings the table in line with this broker's role for the offsets partition, finishes a
/// load that the high watermark allows, and applies commits it now covers.
fn ready(state: &mut BrokerState, partition: u32, now: Instant, expiry: Duration) {
    let BrokerState {
        replicas, groups, ..
    } = state;
    let replica = replicas.get_mut(&offsets_tp(partition));
    let leading = replica.as_ref().and_then(|replica| match replica.role() {
        Role::Leader(leadership)
            if !replica.is_offline() && now.duration_since(replica.confirmed_at()) <= expiry =>
        {
            Some((leadership.epoch, replica.log_end()))
        }
        _ => None,
    });
    groups.observe(partition, leading);
    let Some(replica) = replica else {
        return;
    };
    if leading.is_none() {
        return;
    }
    let high_watermark = replica.refresh_high_watermark();
    if let Some(load_end) = groups.load_end(partition) {
        if high_watermark < load_end {
            return;
        }
        match replay(replica, load_end) {
            Ok(records) => groups.load(partition, records),
            Err(error) => {
                tracing::warn!(partition, %error, "cannot replay the offsets partition");
                return;
            }
        }
    }
    groups.apply_up_to(partition, high_watermark);
}

/// Every group record in `[log start, load_end)`, in log order.
fn replay(replica: &Replica, load_end: u64) -> Result<Vec<GroupRecord>, BrokerError> {
    let mut records = Vec::new();
    let mut offset = 0;
    for _ in 0..LOAD_STEPS_MAX {
        if offset >= load_end {
            return Ok(records);
        }
        let batches = replica.read_local(offset, LOAD_READ_BYTES)?;
        let Some(last) = batches.last() else {
            return Ok(records);
        };
        let next = last.next_offset();
        assert!(next > offset, "replay makes progress");
        for batch in &batches {
            for (at, record) in batch.offsets() {
                if at < offset || at >= load_end {
                    continue;
                }
                match GroupRecord::from_record(record) {
                    Some(group_record) => records.push(group_record),
                    None => tracing::warn!(%replica.tp, at, "skipping an unreadable group record"),
                }
            }
        }
        offset = next;
    }
    panic!(
        "replaying {} took more than {LOAD_STEPS_MAX} steps",
        replica.tp
    );
}

/// Appends one record to the offsets partition; returns its offset and the acks=all outcome.
/// A generation record that cannot be written unloads the slot (memory ran ahead of the log).
fn append(
    options: &BrokerOptions,
    state: &mut BrokerState,
    partition: u32,
    record: &GroupRecord,
    now: Instant,
    expiry: Duration,
) -> Result<(u64, Option<Waiter>), BrokerError> {
    let BrokerState {
        replicas, groups, ..
    } = state;
    let Some(replica) = replicas.get_mut(&offsets_tp(partition)) else {
        return Err(BrokerError::NotCoordinator);
    };
    let appended = replica.append_internal(vec![record.to_record()], now, expiry);
    let outcome = match appended {
        Ok(Produced::Done(response)) => (response.base_offset, None),
        Ok(Produced::Wait(response, waiter)) => (response.base_offset, Some(waiter)),
        Err(error) => {
            if matches!(record, GroupRecord::Generation { .. }) {
                groups.unload(partition, replica.log_end());
            }
            return Err(as_group_error(error));
        }
    };
    if let GroupRecord::Generation {
        group: name,
        generation,
        ..
    } = record
    {
        if let Ok(Some(group)) = groups.group(partition, name) {
            group.generation_log_end = outcome.0 + 1;
        }
        options.events.record(NodeEvent::GroupGeneration {
            group: name.clone(),
            generation: *generation,
            broker: options.id,
        });
    }
    Ok(outcome)
}

async fn wait(shared: &Shared, waiter: Option<Waiter>) -> Result<(), BrokerError> {
    let Some(waiter) = waiter else {
        return Ok(());
    };
    acknowledged(waiter, shared.options.request_timeout)
        .await
        .map_err(as_group_error)
}

/// Names the leader of the group's offsets partition; creates the offsets topic if missing.
pub async fn find_coordinator(
    shared: &Arc<Shared>,
    group: String,
) -> Result<BrokerResponse, BrokerError> {
    let partition = check_group(&group)?;
    internal_topic::coordinator(
        shared,
        InternalTopic {
            name: OFFSETS_TOPIC,
            partitions: OFFSETS_PARTITIONS,
        },
        partition,
        BrokerError::GroupCoordinatorNotAvailable,
    )
    .await
}

pub async fn join_group(
    shared: &Arc<Shared>,
    request: JoinGroupRequest,
) -> Result<BrokerResponse, BrokerError> {
    let partition = check_group(&request.group)?;
    let (now, expiry) = (Instant::now(), shared.options.metadata_expiry);
    let (joined, waiter) = {
        let mut state = shared.lock();
        ready(&mut state, partition, now, expiry);
        let counts = partition_counts(&state.view);
        let group = state.groups.group_or_new(partition, &request.group)?;
        let (joined, record) = group.join(&request, &counts, now)?;
        if let Some(record) = record {
            append(&shared.options, &mut state, partition, &record, now, expiry)?;
        }
        let BrokerState {
            replicas, groups, ..
        } = &mut *state;
        let required = groups
            .group(partition, &request.group)?
            .map_or(0, |group| group.generation_log_end);
        let replica = replicas
            .get_mut(&offsets_tp(partition))
            .ok_or(BrokerError::NotCoordinator)?;
        (joined, replica.high_watermark_waiter(required))
    };
    wait(shared, waiter).await?;
    Ok(BrokerResponse::Joined {
        member_id: joined.member_id,
        generation: joined.generation,
        assignment: joined.assignment,
    })
}

pub fn heartbeat(
    shared: &Arc<Shared>,
    group: &str,
    member_id: &str,
    generation: u64,
) -> Result<BrokerResponse, BrokerError> {
    let partition = check_group(group)?;
    let (now, expiry) = (Instant::now(), shared.options.metadata_expiry);
    let mut state = shared.lock();
    ready(&mut state, partition, now, expiry);
    let group = state
        .groups
        .group(partition, group)?
        .ok_or(BrokerError::UnknownMemberId)?;
    group.heartbeat(member_id, generation, now)?;
    Ok(BrokerResponse::HeartbeatAccepted)
}

pub fn leave_group(
    shared: &Arc<Shared>,
    group: &str,
    member_id: &str,
) -> Result<BrokerResponse, BrokerError> {
    let partition = check_group(group)?;
    let (now, expiry) = (Instant::now(), shared.options.metadata_expiry);
    let mut state = shared.lock();
    ready(&mut state, partition, now, expiry);
    let counts = partition_counts(&state.view);
    let group = state
        .groups
        .group(partition, group)?
        .ok_or(BrokerError::UnknownMemberId)?;
    let record = group.leave(member_id, &counts)?;
    // Nobody learns the new generation from this answer, so it need not wait for replication.
    append(&shared.options, &mut state, partition, &record, now, expiry)?;
    Ok(BrokerResponse::Left)
}

pub async fn offset_commit(
    shared: &Arc<Shared>,
    request: OffsetCommitRequest,
) -> Result<BrokerResponse, BrokerError> {
    let partition = check_group(&request.group)?;
    if request.offsets.len() > OFFSETS_PER_COMMIT_MAX {
        return Err(BrokerError::InvalidRequest {
            reason: format!("a commit names at most {OFFSETS_PER_COMMIT_MAX} partitions"),
        });
    }
    let (now, expiry) = (Instant::now(), shared.options.metadata_expiry);
    let waiter = {
        let mut state = shared.lock();
        ready(&mut state, partition, now, expiry);
        state.groups.has_room(partition)?;
        let group = state.groups.group_or_new(partition, &request.group)?;
        let generation = if shared.options.bugs.has(Bug::GenerationNotFenced) {
            // Planted bug: a member's commit counts whatever generation it names, so a member
            // that missed a rebalance commits offsets of partitions it no longer owns.
            request.generation.map(|_| group.generation())
        } else {
            request.generation
        };
        let record = group.commit(
            request.member_id.as_deref(),
            generation,
            request.offsets,
            now,
        )?;
        let (offset, waiter) =
            append(&shared.options, &mut state, partition, &record, now, expiry)?;
        state.groups.push_pending(partition, offset, record);
        waiter
    };
    let outcome = wait(shared, waiter).await;
    // Apply what the high watermark now covers before anyone reads the offsets back.
    ready(&mut shared.lock(), partition, Instant::now(), expiry);
    outcome.map(|()| BrokerResponse::OffsetsCommitted)
}

pub fn offset_fetch(
    shared: &Arc<Shared>,
    group: &str,
    partitions: Vec<TopicPartition>,
) -> Result<BrokerResponse, BrokerError> {
    let partition = check_group(group)?;
    if partitions.len() > OFFSETS_PER_COMMIT_MAX {
        return Err(BrokerError::InvalidRequest {
            reason: format!("a fetch names at most {OFFSETS_PER_COMMIT_MAX} partitions"),
        });
    }
    let (now, expiry) = (Instant::now(), shared.options.metadata_expiry);
    let mut state = shared.lock();
    ready(&mut state, partition, now, expiry);
    let group = state.groups.group(partition, group)?;
    let offsets = partitions
        .into_iter()
        .map(|tp| {
            let committed = group.as_ref().and_then(|group| group.committed(&tp));
            (tp, committed)
        })
        .collect();
    Ok(BrokerResponse::OffsetsFetched { offsets })
}

/// Expires silent members and rebalances groups whose topics changed size, on every offsets
/// partition this broker leads; also loads partitions whose leadership it just gained.
pub async fn run(shared: Arc<Shared>) {
    let expiry = shared.options.metadata_expiry;
    loop {
        tokio::time::sleep(GROUP_TICK).await;
        let now = Instant::now();
        let mut state = shared.lock();
        for partition in 0..OFFSETS_PARTITIONS {
            ready(&mut state, partition, now, expiry);
            let counts = partition_counts(&state.view);
            for name in state.groups.group_names(partition) {
                let record = match state.groups.group(partition, &name) {
                    Ok(Some(group)) => group.expire(&counts, now),
                    _ => None,
                };
                if let Some(record) = record {
                    tracing::info!(partition, group = %name, ?record, "members expired or topics resized");
                    if append(&shared.options, &mut state, partition, &record, now, expiry).is_err()
                    {
                        break;
                    }
                }
            }
        }
    }
}
