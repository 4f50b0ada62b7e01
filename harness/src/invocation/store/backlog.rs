//! Each consumer group's backlog (lag) over a run, from its history alone: at time t, the sum
//! over the keys the group reads of (the log end the acknowledged sends had reached by t) −
//! (the group's committed offset by t). It is what `backlog.svg` plots, with the moments
//! members joined (a member's own subscription; a restarted member joins again), so a
//! scale-out shows as the point where the backlog turns and drains.
//!
//! Sampled at the end of each of at most [`reports::plot::BUCKETS_MAX`] time buckets, so its
//! size does not grow with the history. Linear in the history after one sort of the changes.

use crate::history::{Body, History, KeyId, Mop, OpType, Process, F};
use reports::{bucket_ns, Backlog};
use std::collections::{BTreeMap, BTreeSet};

/// One change that moves a backlog.
enum Change {
    /// An acknowledged send reached this log end on this key.
    End(KeyId, u64),
    /// The group committed this offset on this key.
    Committed(String, KeyId, u64),
}

/// Every group's backlog; empty when the history has no consumer group.
pub fn backlogs(history: &History) -> Vec<Backlog> {
    let mut group_of: BTreeMap<u64, String> = BTreeMap::new();
    let mut keys_of: BTreeMap<String, BTreeSet<KeyId>> = BTreeMap::new();
    let mut joins: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let mut changes: Vec<(u64, Change)> = Vec::new();
    for (op, body) in history.entries() {
        let Process::Client(process) = op.process else {
            continue;
        };
        match (&op.f, op.kind, body) {
            (F::Subscribe | F::Assign, OpType::Ok, Body::Membership(membership)) => {
                let Some(group) = &membership.group else {
                    continue;
                };
                group_of.insert(process, group.clone());
                keys_of
                    .entry(group.clone())
                    .or_default()
                    .extend(membership.keys.iter().copied());
            }
            (F::Subscribe, OpType::Invoke, Body::Membership(membership)) => {
                // A member's own subscription carries no generation yet; the memberships a
                // rebalance or a new process restates do.
                if let (Some(group), None) = (&membership.group, membership.generation) {
                    joins.entry(group.clone()).or_default().push(op.time);
                }
            }
            (F::Send, OpType::Ok, Body::Mops(mops)) => {
                for mop in mops {
                    if let Mop::Send(send) = mop {
                        if let Some(offset) = send.offset {
                            changes.push((op.time, Change::End(send.key, offset + 1)));
                        }
                    }
                }
            }
            (F::CommitOffsets, OpType::Ok, Body::CommitOffsets(offsets)) => {
                let Some(group) = group_of.get(&process) else {
                    continue;
                };
                for (key, offset) in offsets {
                    keys_of.entry(group.clone()).or_default().insert(*key);
                    changes.push((op.time, Change::Committed(group.clone(), *key, *offset)));
                }
            }
            _ => {}
        }
    }
    if keys_of.is_empty() {
        return Vec::new();
    }
    // Entries are in time order already; a stable sort keeps it that way if ever they are not.
    changes.sort_by_key(|(time, _)| *time);
    let bucket = bucket_ns(history.time_end());
    let buckets = history.time_end() / bucket + 1;
    let mut ends: BTreeMap<KeyId, u64> = BTreeMap::new();
    let mut committed: BTreeMap<(String, KeyId), u64> = BTreeMap::new();
    let mut series: BTreeMap<String, Vec<(u64, u64)>> = BTreeMap::new();
    let mut next = changes.iter().peekable();
    for slot in 0..buckets {
        let until = (slot + 1) * bucket;
        while let Some((_, change)) = next.next_if(|(time, _)| *time < until) {
            match change {
                Change::End(key, end) => {
                    let slot = ends.entry(*key).or_insert(0);
                    *slot = (*slot).max(*end);
                }
                Change::Committed(group, key, offset) => {
                    let slot = committed.entry((group.clone(), *key)).or_insert(0);
                    *slot = (*slot).max(*offset);
                }
            }
        }
        for (group, keys) in &keys_of {
            let lag: u64 = keys
                .iter()
                .map(|key| {
                    let end = ends.get(key).copied().unwrap_or(0);
                    let done = committed.get(&(group.clone(), *key)).copied().unwrap_or(0);
                    end.saturating_sub(done)
                })
                .sum();
            series
                .entry(group.clone())
                .or_default()
                .push((until.min(history.time_end()), lag));
        }
    }
    series
        .into_iter()
        .map(|(group, points)| Backlog {
            joins_ns: joins.remove(&group).unwrap_or_default(),
            group,
            points,
        })
        .collect()
}
