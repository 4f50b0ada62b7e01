//! `idempotent-consumption`: each consumer group applies every message it committed past
//! exactly once, and its committed offsets never go backwards.
//!
//! A group's business state is the `final-state` op's `applied` record when present (the
//! ground truth), else the ok `apply` ops of its members. A group's commit point per key is the
//! final state's `committed-offsets` when present, else the highest ok `commit-offsets`.
//! Committed offsets are Kafka's: the next offset to read, so every offset below it must have
//! been applied; groups start at offset 0. A process belongs to the group named by its latest
//! `assign`/`subscribe`; a process that never named one is in group `""`.
//!
//! - `double-apply`: one value's effect is in a group's state twice.
//! - `missed-apply`: a group committed past an offset known to hold a value, but applied none
//!   of the values seen there — and recorded none of them as `expired`. A message discarded
//!   because its deadline had passed is accounted for, not lost (whether it expired on time is
//!   the `deadlines` check's question). `expired` events belong to groups exactly as `apply`
//!   ops do: to the group of the process that recorded them. On a key of a `drop-oldest`
//!   queue, an offset below the final state's `dropped-below` that no member of the group ever
//!   read was dropped by the broker before the group got to it (the queue keeps the newest):
//!   not missed either. One the group read and then skipped still is.
//! - `offset-regression`: an ok commit of a group and key lower than one that had completed
//!   before it was invoked (a stale-generation commit accepted), or a final committed offset
//!   lower than an ok commit (a committed offset lost).

use super::{Anomaly, CheckOptions, CheckResult, Checker, Findings};
use crate::history::{BodyKind, BodyView, History, KeyId, OpType, Run, F};
use std::collections::{BTreeMap, BTreeSet};

pub const NAME: &str = "idempotent-consumption";

/// The anomalies this check reports.
pub const ANOMALIES: &[&str] = &["double-apply", "missed-apply", "offset-regression"];

#[derive(Clone, Copy, Debug, Default)]
pub struct IdempotentConsumption;

/// Group names, interned.
#[derive(Default)]
struct Groups {
    names: Vec<String>,
    ids: BTreeMap<String, u32>,
}

impl Groups {
    fn intern(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = self.names.len() as u32;
        self.names.push(name.to_string());
        self.ids.insert(name.to_string(), id);
        id
    }
}

impl Checker for IdempotentConsumption {
    fn name(&self) -> &'static str {
        NAME
    }

    fn anomalies(&self) -> &'static [&'static str] {
        ANOMALIES
    }

    fn applies(&self, history: &History) -> bool {
        history
            .ops()
            .iter()
            .any(|op| matches!(op.f, F::Apply | F::CommitOffsets))
            || history.final_state().is_some_and(|(_, state)| {
                state.applied.is_some() || state.committed_offsets.is_some()
            })
    }

    fn check(&self, history: &History, _opts: &CheckOptions) -> CheckResult {
        let log = history.log();
        let mut findings = Findings::default();
        let mut groups = Groups::default();
        let ungrouped = groups.intern("");
        let mut group_of: Vec<u32> = vec![ungrouped; history.slot_count()];
        // (group, key) -> (highest ok commit, its op).
        let mut committed: BTreeMap<(u32, KeyId), (u64, u64)> = BTreeMap::new();
        // Per process slot: the commits that had completed when its open commit was invoked.
        let mut snapshots: Vec<Vec<(KeyId, u64, u64)>> = vec![Vec::new(); history.slot_count()];
        // (group, value, key, op) of every ok apply.
        let mut applies: Vec<(u32, i64, KeyId, u64)> = Vec::new();
        // (group, value) of every expired event.
        let mut expiries: Vec<(u32, i64)> = Vec::new();
        // Keys of drop-oldest queues -> the offset below which records may have been dropped.
        let dropped_below: BTreeMap<KeyId, u64> = history
            .final_state()
            .and_then(|(_, state)| state.dropped_below.clone())
            .unwrap_or_default();
        // (group, key, offset) read by a member, on those keys only.
        let mut read_by_group: BTreeSet<(u32, KeyId, u64)> = BTreeSet::new();

        // Only these kinds of op count here (polls only when a queue may drop records): the
        // others are passed over by their tags.
        let mut wanted = vec![
            BodyKind::Membership,
            BodyKind::CommitOffsets,
            BodyKind::Apply,
            BodyKind::Expired,
        ];
        if !dropped_below.is_empty() {
            wanted.push(BodyKind::Mops);
        }
        // Only invokes and ok completions count: the others' values are never read.
        for index in history.indexes_of(&wanted) {
            let kind = history.kind(index);
            if matches!(kind, OpType::Fail | OpType::Info) {
                continue;
            }
            let slot = history.slot(index);
            match (kind, history.body(index)) {
                (OpType::Invoke, BodyView::Membership(membership)) => {
                    if let Some(group) = &membership.group {
                        group_of[slot] = groups.intern(group);
                    }
                }
                (OpType::Invoke, BodyView::CommitOffsets(offsets)) => {
                    let group = group_of[slot];
                    snapshots[slot].clear();
                    for &(key, _) in offsets {
                        if let Some(&(offset, by)) = committed.get(&(group, key)) {
                            snapshots[slot].push((key, offset, by));
                        }
                    }
                }
                (OpType::Ok, BodyView::CommitOffsets(offsets)) => {
                    let group = group_of[slot];
                    for &(key, offset) in offsets {
                        if let Some(&(_, before, by)) =
                            snapshots[slot].iter().find(|(k, _, _)| *k == key)
                        {
                            if offset < before {
                                let key_name = history.key_name(key);
                                let group_name = &groups.names[group as usize];
                                findings.add(
                                    "offset-regression",
                                    Anomaly::new(format!(
                                        "group {group_name:?} committed {key_name} offset {offset} (op {}) after a commit of offset {before} (op {by}) had completed.",
                                        index
                                    ))
                                    .key(key_name)
                                    .offsets([before, offset])
                                    .ops([by, index])
                                    .detail("group", group_name.as_str()),
                                );
                            }
                        }
                        let entry = committed.entry((group, key)).or_insert((offset, index));
                        if offset >= entry.0 {
                            *entry = (offset, index);
                        }
                    }
                    snapshots[slot].clear();
                }
                (OpType::Ok, BodyView::Apply(apply)) => {
                    applies.push((group_of[slot], apply.value, apply.key, index));
                }
                (OpType::Ok, BodyView::Expired(expired)) => {
                    expiries.push((group_of[slot], expired.value));
                }
                (OpType::Ok, BodyView::Mops(mops)) if !dropped_below.is_empty() => {
                    let reads = mops.polls().filter_map(|poll| poll.reads());
                    for key_reads in reads.flatten() {
                        if dropped_below.contains_key(&key_reads.key) {
                            for record in key_reads.records {
                                read_by_group.insert((
                                    group_of[slot],
                                    key_reads.key,
                                    record.offset,
                                ));
                            }
                        }
                    }
                }
                _ => {}
            }
        }

        let final_state = history.final_state();
        let final_index = final_state.map(|(index, _)| index);
        let final_applied = final_state.and_then(|(_, state)| state.applied.as_ref());
        let final_committed = final_state.and_then(|(_, state)| state.committed_offsets.as_ref());

        // Commit points: (group, key) -> (offset, op that proves it).
        let mut points: BTreeMap<(u32, KeyId), (u64, u64)> = BTreeMap::new();
        if let (Some(final_committed), Some(final_index)) = (final_committed, final_index) {
            for (group, per_key) in final_committed {
                let group = groups.intern(group);
                for (&key, &offset) in per_key {
                    points.insert((group, key), (offset, final_index));
                }
            }
            for (&(group, key), &(offset, by)) in &committed {
                let key_name = history.key_name(key);
                let group_name = groups.names[group as usize].clone();
                match points.get(&(group, key)) {
                    Some(&(end, _)) if end < offset => findings.add(
                        "offset-regression",
                        Anomaly::new(format!(
                            "group {group_name:?}'s committed offset for {key_name} is {end} at the end, below the offset {offset} it committed at op {by}.",
                        ))
                        .key(key_name)
                        .offsets([offset, end])
                        .ops([by, final_index])
                        .detail("group", group_name),
                    ),
                    Some(_) => {}
                    None => findings.doubt(|| {
                        format!("the final state has no committed offset for group {group_name:?} and {key_name}, which committed {offset} at op {by}")
                    }),
                }
            }
        } else {
            points = committed.clone();
        }

        // Applied values per group, sorted; duplicates reported as they are found.
        let mut applied: BTreeMap<u32, Vec<i64>> = BTreeMap::new();
        let mut has_applied_state = false;
        if let (Some(final_applied), Some(final_index)) = (final_applied, final_index) {
            has_applied_state = true;
            for (group_name, per_key) in final_applied {
                let group = groups.intern(group_name);
                // The values alone (8 bytes each, where with their keys they took 16): the
                // key of a value applied twice is found again below, for those values only.
                let mut set: Vec<i64> = per_key.values().flatten().copied().collect();
                set.sort_unstable();
                // (value, times) of each value applied more than once, ascending.
                let twice: Vec<(i64, usize)> = set
                    .chunk_by(|a, b| a == b)
                    .filter(|run| run.len() > 1)
                    .map(|run| (run[0], run.len()))
                    .collect();
                // The lowest key holding each of them: the map's keys ascend, so the first.
                let mut key_of: Vec<Option<KeyId>> = vec![None; twice.len()];
                for (&key, values) in per_key.iter().filter(|_| !twice.is_empty()) {
                    for value in values {
                        if let Ok(at) = twice.binary_search_by_key(value, |&(v, _)| v) {
                            key_of[at].get_or_insert(key);
                        }
                    }
                }
                for (&(value, times), key) in twice.iter().zip(key_of) {
                    let key_name = history.key_name(key.expect("the value is under some key"));
                    findings.add(
                        "double-apply",
                        Anomaly::new(format!(
                            "group {group_name:?}'s final state holds the effect of {key_name} value {value} {times} times."
                        ))
                        .key(key_name)
                        .value(value)
                        .ops([final_index])
                        .detail("group", group_name.as_str())
                        .detail("times", times),
                    );
                }
                set.dedup();
                set.shrink_to_fit();
                applied.insert(group, set);
            }
        } else if !applies.is_empty() {
            has_applied_state = true;
            applies.sort_unstable();
            for run in applies.chunk_by(|a, b| (a.0, a.1) == (b.0, b.1)) {
                let (group, value, key, _) = run[0];
                if run.len() > 1 {
                    let key_name = history.key_name(key);
                    let group_name = &groups.names[group as usize];
                    findings.add(
                        "double-apply",
                        Anomaly::new(format!(
                            "group {group_name:?} applied {key_name} value {value} {} times.",
                            run.len()
                        ))
                        .key(key_name)
                        .value(value)
                        .ops(run.iter().map(|&(_, _, _, op)| op))
                        .detail("group", group_name.as_str())
                        .detail("times", run.len()),
                    );
                }
                applied.entry(group).or_default().push(value);
            }
        }

        if !points.is_empty() && !has_applied_state {
            findings.doubt(|| {
                "groups committed offsets, but no applied state was recorded (final-state \"applied\" or apply ops), so missed and double applies cannot be judged".to_string()
            });
        }
        if has_applied_state {
            expiries.sort_unstable();
            expiries.dedup();
            let expired_by =
                |group: u32, value: i64| expiries.binary_search(&(group, value)).is_ok();
            let nothing = Vec::new();
            // A group, and per write (a bit each): is its value applied by that group, or
            // expired by it? Judged once per group (the points come group by group), in write
            // order: the values ascend nearly with it, so each is found a few steps on from
            // the last. Looking each value up from the version orders instead read the
            // writes in offset order, a cache miss each: ~40% of this check.
            let mut accounted: Option<(u32, Vec<u64>)> = None;
            for (&(group, key), &(commit, by)) in &points {
                let set = applied.get(&group).unwrap_or(&nothing);
                if accounted
                    .as_ref()
                    .is_none_or(|&(judged, _)| judged != group)
                {
                    // The group's expired values, searched the same way.
                    let from = expiries.partition_point(|&(g, _)| g < group);
                    let to = expiries.partition_point(|&(g, _)| g <= group);
                    let expired_values: Vec<i64> =
                        expiries[from..to].iter().map(|&(_, value)| value).collect();
                    let mut values = Gallop::new(set);
                    let mut expired = Gallop::new(&expired_values);
                    let mut bits = vec![0u64; log.writes.len().div_ceil(64)];
                    for (id, write) in log.writes.iter().enumerate() {
                        if values.contains(write.value) || expired.contains(write.value) {
                            bits[id / 64] |= 1 << (id % 64);
                        }
                    }
                    accounted = Some((group, bits));
                }
                let (_, bits) = accounted.as_ref().expect("judged above");
                // Values no client sent (garbage) are looked up one by one.
                let mut set = Gallop::new(set);
                let key_log = log.key(key);
                let group_name = &groups.names[group as usize];
                let key_name = history.key_name(key);
                // Offset by offset below the commit point. An offset seen holding one write is
                // judged by that write, without reading its observations.
                let runs = key_log.runs.iter().zip(key_log.offsets.iter());
                for (Run { range, write }, offset) in runs {
                    if offset >= commit {
                        break;
                    }
                    let run = &key_log.order[range];
                    if let Some(write) = write {
                        if (bits[write as usize / 64] >> (write % 64)) & 1 != 0 {
                            continue;
                        }
                    } else if run.iter().any(|&id| {
                        let seen = log.observation(id);
                        match seen.write() {
                            Some(write) => (bits[write as usize / 64] >> (write % 64)) & 1 != 0,
                            None => {
                                let value = log.value_seen(seen);
                                set.contains(value) || expired_by(group, value)
                            }
                        }
                    }) {
                        continue;
                    }
                    let seen = log.observation(run[0]);
                    let seen_value = log.value_seen(seen);
                    let dropped = dropped_below.get(&key).is_some_and(|&below| {
                        seen.offset < below && !read_by_group.contains(&(group, key, seen.offset))
                    });
                    if dropped {
                        continue;
                    }
                    findings.add(
                        "missed-apply",
                        Anomaly::new(format!(
                            "group {group_name:?} committed {key_name} up to offset {commit} (op {by}), but never applied value {} at offset {} (seen by op {}).",
                            seen_value, seen.offset, seen.op()
                        ))
                        .key(key_name)
                        .value(seen_value)
                        .offsets([seen.offset])
                        .ops([seen.op(), by])
                        .detail("group", group_name.as_str())
                        .detail("committed", commit),
                    );
                }
            }
        }
        if points.is_empty() && !has_applied_state {
            findings
                .doubt(|| "no consumer group committed an offset or applied a message".to_string());
        }
        findings.finish()
    }
}

/// Membership in a sorted slice, each search starting where the previous one ended. The
/// values of a key's log come, in offset order, nearly ascending (each was numbered when
/// sent), so the next one is usually a few places on: a galloping search finds it in a few
/// steps near the last, where a binary search of the whole slice (a group's applied values,
/// about one per op sent) took ~20 steps, most of them cache misses.
struct Gallop<'a> {
    sorted: &'a [i64],
    /// Where the previous search ended: the first position not below its value.
    at: usize,
}

impl<'a> Gallop<'a> {
    fn new(sorted: &'a [i64]) -> Gallop<'a> {
        Gallop { sorted, at: 0 }
    }

    /// Is `value` in the slice? The same answer as a binary search, in O(log d) steps for a
    /// value d places from the previous one.
    fn contains(&mut self, value: i64) -> bool {
        let sorted = self.sorted;
        // The answer, the first position not below `value`, lies in low..=high.
        let (mut low, mut high) = (0, sorted.len());
        let mut step = 1;
        if self.at < sorted.len() && sorted[self.at] < value {
            // Onwards: double the stride until a position not below `value`.
            low = self.at + 1;
            while let Some(&probe) = sorted.get(self.at + step) {
                if probe >= value {
                    high = self.at + step;
                    break;
                }
                low = self.at + step + 1;
                step *= 2;
            }
        } else {
            // Back: double the stride until a position below `value`.
            high = self.at;
            while step <= self.at {
                if sorted[self.at - step] < value {
                    low = self.at - step + 1;
                    break;
                }
                high = self.at - step;
                step *= 2;
            }
        }
        self.at = low + sorted[low..high].partition_point(|&v| v < value);
        sorted.get(self.at) == Some(&value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::testing::{assert_exactly, assert_unknown, assert_valid, check};

    #[test]
    fn gallop_agrees_with_a_binary_search() {
        let sorted: Vec<i64> = vec![-5, 0, 0, 3, 4, 9, 10, 11, 40, 41, 100];
        let mut gallop = Gallop::new(&sorted);
        // Onwards and back, near and far, repeated, and outside the slice at both ends.
        for value in [
            -9, -5, 0, 1, 3, 3, 11, 10, 4, 200, -6, 41, 40, 100, 99, 2, 12, 0,
        ] {
            assert_eq!(
                gallop.contains(value),
                sorted.binary_search(&value).is_ok(),
                "{value}"
            );
            assert_eq!(gallop.at, sorted.partition_point(|&v| v < value), "{value}");
        }
        assert!(!Gallop::new(&[]).contains(1));
    }

    /// orders/0 offsets 0..=2 hold 10..=12; process 2 is in group billing and read them all.
    const LOG: &str = r#"{"index":0,"time":1000,"process":1,"type":"invoke","f":"send","value":[["send","orders/0",10],["send","orders/0",11],["send","orders/0",12]]}
        {"index":1,"time":2000,"process":1,"type":"ok","f":"send","value":[["send","orders/0",[0,10]],["send","orders/0",[1,11]],["send","orders/0",[2,12]]]}
        {"index":2,"time":3000,"process":2,"type":"invoke","f":"subscribe","value":{"group":"billing","topics":["orders"]}}
        {"index":3,"time":3100,"process":2,"type":"ok","f":"subscribe","value":{"group":"billing","topics":["orders"]}}
        {"index":4,"time":4000,"process":2,"type":"invoke","f":"poll","value":[["poll"]]}
        {"index":5,"time":5000,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders/0":[[0,10],[1,11],[2,12]]}]]}"#;

    fn with_log(rest: &str) -> String {
        format!("{LOG}\n{rest}")
    }

    #[test]
    fn valid_when_everything_committed_was_applied_once() {
        let result = check(
            &IdempotentConsumption,
            &with_log(
                r#"{"index":6,"time":6000,"process":2,"type":"invoke","f":"commit-offsets","value":{"orders/0":3}}
                   {"index":7,"time":7000,"process":2,"type":"ok","f":"commit-offsets","value":{"orders/0":3}}
                   {"index":8,"time":9000,"process":"nemesis","type":"ok","f":"final-state","value":{"applied":{"billing":{"orders/0":[10,11,12]}},"committed-offsets":{"billing":{"orders/0":3}}}}"#,
            ),
        );
        assert_valid(&result);
    }

    #[test]
    fn double_apply_in_the_final_business_state() {
        let result = check(
            &IdempotentConsumption,
            &with_log(
                r#"{"index":6,"time":6000,"process":2,"type":"invoke","f":"commit-offsets","value":{"orders/0":3}}
                   {"index":7,"time":7000,"process":2,"type":"ok","f":"commit-offsets","value":{"orders/0":3}}
                   {"index":8,"time":9000,"process":"nemesis","type":"ok","f":"final-state","value":{"applied":{"billing":{"orders/0":[10,11,11,12]}},"committed-offsets":{"billing":{"orders/0":3}}}}"#,
            ),
        );
        assert_exactly(&result, &["double-apply"]);
        assert_eq!(result.anomalies["double-apply"][0].value, Some(11));
    }

    #[test]
    fn double_apply_from_apply_ops() {
        let result = check(
            &IdempotentConsumption,
            &with_log(
                r#"{"index":6,"time":6000,"process":2,"type":"invoke","f":"apply","value":{"key":"orders/0","value":10,"offset":0}}
                   {"index":7,"time":6100,"process":2,"type":"ok","f":"apply","value":{"key":"orders/0","value":10,"offset":0}}
                   {"index":8,"time":6200,"process":2,"type":"invoke","f":"apply","value":{"key":"orders/0","value":10,"offset":0}}
                   {"index":9,"time":6300,"process":2,"type":"ok","f":"apply","value":{"key":"orders/0","value":10,"offset":0}}"#,
            ),
        );
        assert_exactly(&result, &["double-apply"]);
        assert_eq!(result.anomalies["double-apply"][0].ops, vec![7, 9]);
    }

    #[test]
    fn missed_apply_when_the_group_committed_past_a_message() {
        let result = check(
            &IdempotentConsumption,
            &with_log(
                r#"{"index":6,"time":6000,"process":2,"type":"invoke","f":"commit-offsets","value":{"orders/0":3}}
                   {"index":7,"time":7000,"process":2,"type":"ok","f":"commit-offsets","value":{"orders/0":3}}
                   {"index":8,"time":9000,"process":"nemesis","type":"ok","f":"final-state","value":{"applied":{"billing":{"orders/0":[10,12]}},"committed-offsets":{"billing":{"orders/0":3}}}}"#,
            ),
        );
        assert_exactly(&result, &["missed-apply"]);
        let missed = &result.anomalies["missed-apply"][0];
        assert_eq!((missed.value, missed.offsets.clone()), (Some(11), vec![1]));
    }

    #[test]
    fn offset_regression_when_a_later_commit_goes_down() {
        let result = check(
            &IdempotentConsumption,
            &with_log(
                r#"{"index":6,"time":6000,"process":2,"type":"invoke","f":"commit-offsets","value":{"orders/0":3}}
                   {"index":7,"time":7000,"process":2,"type":"ok","f":"commit-offsets","value":{"orders/0":3}}
                   {"index":8,"time":7500,"process":3,"type":"invoke","f":"assign","value":{"group":"billing","keys":["orders/0"],"generation":1}}
                   {"index":9,"time":7600,"process":3,"type":"ok","f":"assign","value":{"group":"billing","keys":["orders/0"],"generation":1}}
                   {"index":10,"time":8000,"process":3,"type":"invoke","f":"commit-offsets","value":{"orders/0":1}}
                   {"index":11,"time":8100,"process":3,"type":"ok","f":"commit-offsets","value":{"orders/0":1}}
                   {"index":12,"time":9000,"process":"nemesis","type":"ok","f":"final-state","value":{"applied":{"billing":{"orders/0":[10,11,12]}},"committed-offsets":{"billing":{"orders/0":3}}}}"#,
            ),
        );
        assert_exactly(&result, &["offset-regression"]);
        assert_eq!(result.anomalies["offset-regression"][0].ops, vec![7, 11]);
    }

    #[test]
    fn offset_regression_when_the_final_committed_offset_is_lower() {
        let result = check(
            &IdempotentConsumption,
            &with_log(
                r#"{"index":6,"time":6000,"process":2,"type":"invoke","f":"commit-offsets","value":{"orders/0":3}}
                   {"index":7,"time":7000,"process":2,"type":"ok","f":"commit-offsets","value":{"orders/0":3}}
                   {"index":8,"time":9000,"process":"nemesis","type":"ok","f":"final-state","value":{"applied":{"billing":{"orders/0":[10,11,12]}},"committed-offsets":{"billing":{"orders/0":2}}}}"#,
            ),
        );
        assert_exactly(&result, &["offset-regression"]);
    }

    #[test]
    fn unknown_without_any_applied_state() {
        let result = check(
            &IdempotentConsumption,
            &with_log(
                r#"{"index":6,"time":6000,"process":2,"type":"invoke","f":"commit-offsets","value":{"orders/0":3}}
                   {"index":7,"time":7000,"process":2,"type":"ok","f":"commit-offsets","value":{"orders/0":3}}"#,
            ),
        );
        assert_unknown(&result);
    }

    #[test]
    fn an_expired_message_is_not_a_missed_apply() {
        // Value 11 expired in process 2 (group billing): accounted for, not missed.
        let result = check(
            &IdempotentConsumption,
            &with_log(
                r#"{"index":6,"time":5500,"process":2,"type":"ok","f":"expired","value":{"key":"orders/0","value":11,"offset":1}}
                   {"index":7,"time":6000,"process":2,"type":"invoke","f":"commit-offsets","value":{"orders/0":3}}
                   {"index":8,"time":7000,"process":2,"type":"ok","f":"commit-offsets","value":{"orders/0":3}}
                   {"index":9,"time":9000,"process":"nemesis","type":"ok","f":"final-state","value":{"applied":{"billing":{"orders/0":[10,12]}},"committed-offsets":{"billing":{"orders/0":3}}}}"#,
            ),
        );
        assert_valid(&result);
    }

    #[test]
    fn a_skipped_message_that_did_not_expire_is_still_missed() {
        // Value 10 expired, but 11 was neither applied nor expired.
        let result = check(
            &IdempotentConsumption,
            &with_log(
                r#"{"index":6,"time":5500,"process":2,"type":"ok","f":"expired","value":{"key":"orders/0","value":10,"offset":0}}
                   {"index":7,"time":6000,"process":2,"type":"invoke","f":"commit-offsets","value":{"orders/0":3}}
                   {"index":8,"time":7000,"process":2,"type":"ok","f":"commit-offsets","value":{"orders/0":3}}
                   {"index":9,"time":9000,"process":"nemesis","type":"ok","f":"final-state","value":{"applied":{"billing":{"orders/0":[12]}},"committed-offsets":{"billing":{"orders/0":3}}}}"#,
            ),
        );
        assert_exactly(&result, &["missed-apply"]);
        let missed = &result.anomalies["missed-apply"];
        assert_eq!(missed.len(), 1);
        assert_eq!(missed[0].value, Some(11));
    }

    #[test]
    fn an_expiry_in_another_group_excuses_nothing() {
        // Process 3 is in group audit; its expiry of 11 says nothing about billing.
        let result = check(
            &IdempotentConsumption,
            &with_log(
                r#"{"index":6,"time":5100,"process":3,"type":"invoke","f":"subscribe","value":{"group":"audit","topics":["orders"]}}
                   {"index":7,"time":5200,"process":3,"type":"ok","f":"subscribe","value":{"group":"audit","topics":["orders"]}}
                   {"index":8,"time":5500,"process":3,"type":"ok","f":"expired","value":{"key":"orders/0","value":11,"offset":1}}
                   {"index":9,"time":6000,"process":2,"type":"invoke","f":"commit-offsets","value":{"orders/0":3}}
                   {"index":10,"time":7000,"process":2,"type":"ok","f":"commit-offsets","value":{"orders/0":3}}
                   {"index":11,"time":9000,"process":"nemesis","type":"ok","f":"final-state","value":{"applied":{"billing":{"orders/0":[10,12]}},"committed-offsets":{"billing":{"orders/0":3}}}}"#,
            ),
        );
        assert_exactly(&result, &["missed-apply"]);
        assert_eq!(result.anomalies["missed-apply"][0].value, Some(11));
    }

    /// orders/0 offsets 0..=2 hold 10..=12; process 2 (group billing) reads `reads`, applies
    /// 12 and commits 3; the final state says records below `below` may have been dropped.
    fn drop_oldest(reads: &str, below: u64) -> String {
        format!(
            r#"{{"index":0,"time":1000,"process":1,"type":"invoke","f":"send","value":[["send","orders/0",10],["send","orders/0",11],["send","orders/0",12]]}}
            {{"index":1,"time":2000,"process":1,"type":"ok","f":"send","value":[["send","orders/0",[0,10]],["send","orders/0",[1,11]],["send","orders/0",[2,12]]]}}
            {{"index":2,"time":3000,"process":2,"type":"invoke","f":"subscribe","value":{{"group":"billing","topics":["orders"]}}}}
            {{"index":3,"time":3100,"process":2,"type":"ok","f":"subscribe","value":{{"group":"billing","topics":["orders"]}}}}
            {{"index":4,"time":4000,"process":2,"type":"invoke","f":"poll","value":[["poll"]]}}
            {{"index":5,"time":5000,"process":2,"type":"ok","f":"poll","value":[["poll",{{"orders/0":{reads}}}]]}}
            {{"index":6,"time":5100,"process":2,"type":"invoke","f":"apply","value":{{"key":"orders/0","value":12,"offset":2}}}}
            {{"index":7,"time":5200,"process":2,"type":"ok","f":"apply","value":{{"key":"orders/0","value":12,"offset":2}}}}
            {{"index":8,"time":6000,"process":2,"type":"invoke","f":"commit-offsets","value":{{"orders/0":3}}}}
            {{"index":9,"time":7000,"process":2,"type":"ok","f":"commit-offsets","value":{{"orders/0":3}}}}
            {{"index":10,"time":9000,"process":"nemesis","type":"ok","f":"final-state","value":{{"applied":{{"billing":{{"orders/0":[12]}}}},"committed-offsets":{{"billing":{{"orders/0":3}}}},"dropped-below":{{"orders/0":{below}}}}}}}"#
        )
    }

    #[test]
    fn records_a_drop_oldest_queue_dropped_before_the_group_read_them_are_not_missed() {
        let result = check(&IdempotentConsumption, &drop_oldest("[[2,12]]", 2));
        assert_valid(&result);
    }

    #[test]
    fn a_dropped_offset_the_group_read_and_skipped_is_still_missed() {
        let result = check(&IdempotentConsumption, &drop_oldest("[[1,11],[2,12]]", 2));
        assert_exactly(&result, &["missed-apply"]);
        assert_eq!(result.anomalies["missed-apply"][0].value, Some(11));
    }

    #[test]
    fn an_offset_at_or_above_the_drop_point_is_still_missed() {
        let result = check(&IdempotentConsumption, &drop_oldest("[[2,12]]", 1));
        assert_exactly(&result, &["missed-apply"]);
        assert_eq!(result.anomalies["missed-apply"][0].value, Some(11));
    }
}
