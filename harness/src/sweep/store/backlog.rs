//! Each consumer group's backlog (lag) over a run, from its history alone: at time t, the sum
//! over the keys the group reads of (the log end the acknowledged sends had reached by t) −
//! (the group's committed offset by t). It is what `backlog.svg` plots, with the moments
//! members joined (a member's own subscription; a restarted member joins again), so a
//! scale-out shows as the point where the backlog turns and drains.
//!
//! Sampled at the end of each of at most [`reports::plot::BUCKETS_MAX`] time buckets, so its
//! size does not grow with the history. Linear in the history after one sort of the changes.

use crate::history::{BodyView, History, KeyId, MopView, OpType, Process, F};
use reports::{bucket_ns, Backlog};
use std::collections::{BTreeMap, BTreeSet};

/// One change that moves a backlog.
enum Change {
    /// An acknowledged send reached this log end on this key.
    End(KeyId, u64),
    /// The group (by index) committed this offset on this key.
    Committed(usize, KeyId, u64),
}

/// The groups a history names, by index in order of first appearance.
#[derive(Default)]
struct Groups {
    index: BTreeMap<String, usize>,
    names: Vec<String>,
    keys: Vec<BTreeSet<KeyId>>,
    joins: Vec<Vec<u64>>,
}

impl Groups {
    fn of(&mut self, name: &str) -> usize {
        if let Some(&group) = self.index.get(name) {
            return group;
        }
        let group = self.names.len();
        self.index.insert(name.to_string(), group);
        self.names.push(name.to_string());
        self.keys.push(BTreeSet::new());
        self.joins.push(Vec::new());
        group
    }
}

/// Every group's backlog, by group name; empty when the history has no consumer group.
pub fn backlogs(history: &History) -> Vec<Backlog> {
    let mut groups = Groups::default();
    let mut group_of: BTreeMap<u64, usize> = BTreeMap::new();
    let mut changes: Vec<(u64, Change)> = Vec::new();
    for (op, body) in history.entries() {
        let Process::Client(process) = op.process else {
            continue;
        };
        match (&op.f, op.kind, body) {
            (F::Subscribe | F::Assign, OpType::Ok, BodyView::Membership(membership)) => {
                let Some(name) = &membership.group else {
                    continue;
                };
                let group = groups.of(name);
                group_of.insert(process, group);
                groups.keys[group].extend(membership.keys.iter().copied());
            }
            (F::Subscribe, OpType::Invoke, BodyView::Membership(membership)) => {
                // A member's own subscription carries no generation yet; the memberships a
                // rebalance or a new process restates do.
                if let (Some(name), None) = (&membership.group, membership.generation) {
                    let group = groups.of(name);
                    groups.joins[group].push(op.time);
                }
            }
            (F::Send, OpType::Ok, BodyView::Mops(mops)) => {
                for mop in mops {
                    if let MopView::Send(send) = mop {
                        if let Some(offset) = send.offset {
                            changes.push((op.time, Change::End(send.key, offset + 1)));
                        }
                    }
                }
            }
            (F::CommitOffsets, OpType::Ok, BodyView::CommitOffsets(offsets)) => {
                let Some(&group) = group_of.get(&process) else {
                    continue;
                };
                for &(key, offset) in offsets {
                    groups.keys[group].insert(key);
                    changes.push((op.time, Change::Committed(group, key, offset)));
                }
            }
            _ => {}
        }
    }
    if groups.names.is_empty() {
        return Vec::new();
    }
    // Entries are in time order already; a stable sort keeps it that way if ever they are not.
    changes.sort_by_key(|(time, _)| *time);
    let end_ns = history.time_end();
    let bucket = bucket_ns(end_ns);
    let mut ends: BTreeMap<KeyId, u64> = BTreeMap::new();
    let mut committed: BTreeMap<(usize, KeyId), u64> = BTreeMap::new();
    let mut series: Vec<Vec<(u64, u64)>> = vec![Vec::new(); groups.names.len()];
    let mut next = changes.iter().peekable();
    for slot in 0..end_ns / bucket + 1 {
        let until = (slot + 1) * bucket;
        while let Some((_, change)) = next.next_if(|(time, _)| *time < until) {
            let (entry, value) = match change {
                Change::End(key, end) => (ends.entry(*key).or_insert(0), *end),
                Change::Committed(group, key, offset) => {
                    (committed.entry((*group, *key)).or_insert(0), *offset)
                }
            };
            *entry = (*entry).max(value);
        }
        for (group, keys) in groups.keys.iter().enumerate() {
            let lag: u64 = keys
                .iter()
                .map(|key| {
                    let end = ends.get(key).copied().unwrap_or(0);
                    let done = committed.get(&(group, *key)).copied().unwrap_or(0);
                    end.saturating_sub(done)
                })
                .sum();
            series[group].push((until.min(end_ns), lag));
        }
    }
    // In group-name order, as the reports list them.
    groups
        .index
        .iter()
        .map(|(name, &group)| Backlog {
            group: name.clone(),
            points: std::mem::take(&mut series[group]),
            joins_ns: std::mem::take(&mut groups.joins[group]),
        })
        .collect()
}
