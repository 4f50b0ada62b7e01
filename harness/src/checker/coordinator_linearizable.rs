//! `coordinator-linearizable`: the coordinator's own promises, per znode — every acknowledged
//! create and write stays, and reads never go back.
//!
//! Model: each znode is a register with a version (design.md §6: create gives version 0, a
//! conditional set `expected -> expected + 1`), written by `zk-create` / `zk-write` with data
//! unique per run and read by `zk-read` (data and version, or "no such znode"). `fail` ops
//! surely did not happen and are left out; `info` ops (and invokes that never completed) may
//! have happened: a read of their data proves they did, otherwise they are left out.
//!
//! Why no search: in a Wing–Gong/Porcupine search the expensive part is guessing which write
//! each read saw and in what order concurrent writes took effect. Here every `ok` completion
//! names the version it wrote or saw and every write's data is unique, so each op's place in any
//! linearization is fixed — a write of version `v` at `(v, write)`, a read of `v` at
//! `(v, read)`, "no such znode" before version 0 — and a linearization exists if and only if
//! (1) no two writes claim one version and every read's (version, data) is a write's, and
//! (2) no op that completed before another began sits at a later place (ordering by place,
//! then by completion time, is then a valid linearization). Both are checked in one sort and
//! one sweep per znode: n log n, no state space, so no bound to hit.
//!
//! Anomalies, with the ops that prove them:
//! - `zk-lost-write`: an acknowledged create or write disappeared — a read or write that began
//!   after it completed read or wrote an older version (or found no znode), or a later write
//!   was acknowledged at the same version (it overwrote the first without seeing it).
//! - `zk-stale-read`: a read returned an older version than a read that completed before it
//!   began: reads went back.
//! - `zk-nonlinearizable`: any other failure: a read of data no write wrote, or of a write at
//!   another version, two writes acknowledged at one version concurrently, a write that took
//!   effect below a version a read that completed before it began had already seen.
//!
//! Unknown when zk ops are present but no read or conditional write completed (nothing could
//! show a write was lost),
//! or when data was written twice to one znode (reads of it cannot be attributed).

use super::{Anomaly, CheckOptions, CheckResult, Checker, Findings};
use crate::history::{BodyKind, BodyView, History, KeyId, OpType, Zk, F};
use std::collections::BTreeMap;

pub const NAME: &str = "coordinator-linearizable";

/// The anomalies this check reports.
pub const ANOMALIES: &[&str] = &["zk-lost-write", "zk-stale-read", "zk-nonlinearizable"];

/// A completion time for ops whose outcome is unknown: they never precede another op.
const NEVER: u64 = u64::MAX;

#[derive(Clone, Copy, Debug, Default)]
pub struct CoordinatorLinearizable;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Write,
    Read,
}

/// One op's place in any linearization of its znode: `(version + 1, kind)`, 0 for "no such
/// znode"; a write comes before the reads of the version it wrote.
type Place = (u64, u8);

#[derive(Clone, Copy, Debug)]
struct Entry {
    kind: Kind,
    /// Invoke op index and time.
    invoke: u64,
    invoked_ns: u64,
    /// Completion op index (or the invoke's for an unknown outcome) and time (`NEVER`).
    completion: u64,
    completed_ns: u64,
    acknowledged: bool,
    /// A write's resulting version or a read's observed one; `None`: no such znode.
    version: Option<u64>,
    data: Option<i64>,
}

impl Entry {
    fn place(&self) -> Place {
        let slot = self.version.map_or(0, |v| v + 1);
        match self.kind {
            Kind::Write => (slot, 0),
            Kind::Read => (slot, 1),
        }
    }
}

impl Checker for CoordinatorLinearizable {
    fn name(&self) -> &'static str {
        NAME
    }

    fn anomalies(&self) -> &'static [&'static str] {
        ANOMALIES
    }

    fn applies(&self, history: &History) -> bool {
        history.has_kind(BodyKind::Zk)
    }

    fn check(&self, history: &History, _opts: &CheckOptions) -> CheckResult {
        let mut findings = Findings::default();
        let (by_path, observers) = collect(history);
        if by_path.is_empty() {
            findings.doubt(|| "the history holds no coordinator (zk-*) op".to_string());
            return findings.finish();
        }
        for (path, entries) in by_path {
            check_path(history, path, entries, &mut findings);
        }
        if observers == 0 && findings.is_clean() {
            findings.doubt(|| {
                "no zk-read or zk-write completed, so no lost write could show".to_string()
            });
        }
        findings.finish()
    }
}

/// Every create, write and read that happened or may have, by znode; and how many reads and
/// conditional writes (each reads the version it expects) completed `ok`.
fn collect(history: &History) -> (BTreeMap<KeyId, Vec<Entry>>, u64) {
    let mut by_path: BTreeMap<KeyId, Vec<Entry>> = BTreeMap::new();
    let mut observers = 0;
    for (op, body) in history.entries_of(&[BodyKind::Zk]) {
        let BodyView::Zk(asked) = body else { continue };
        if op.kind != OpType::Invoke {
            continue;
        }
        let kind = if op.f == F::ZkRead {
            Kind::Read
        } else {
            Kind::Write
        };
        let completion = history.completion_of(op.index);
        let (completion, outcome) = match completion {
            Some(index) => (index, history.op(index).kind),
            None => (op.index, OpType::Info),
        };
        let answered: &Zk = match history.body(completion) {
            BodyView::Zk(zk) => zk,
            _ => asked,
        };
        let entry = match (kind, outcome) {
            (_, OpType::Fail) | (Kind::Read, OpType::Info | OpType::Invoke) => continue,
            (_, OpType::Ok) => Entry {
                kind,
                invoke: op.index,
                invoked_ns: op.time,
                completion,
                completed_ns: history.op(completion).time,
                acknowledged: true,
                version: answered.version,
                data: answered.data,
            },
            (Kind::Write, OpType::Info | OpType::Invoke) => Entry {
                kind,
                invoke: op.index,
                invoked_ns: op.time,
                completion,
                completed_ns: NEVER,
                acknowledged: false,
                version: Some(asked.expected.map_or(0, |v| v + 1)),
                data: asked.data,
            },
        };
        observers += u64::from(entry.acknowledged && op.f != F::ZkCreate);
        by_path.entry(asked.path).or_default().push(entry);
    }
    (by_path, observers)
}

fn check_path(history: &History, path: KeyId, entries: Vec<Entry>, findings: &mut Findings) {
    let name = history.key_name(path);
    // Writes by data (unique per run), and the acknowledged writer of each version.
    let mut writer_of_data: BTreeMap<i64, usize> = BTreeMap::new();
    for (position, entry) in entries.iter().enumerate() {
        if entry.kind != Kind::Write {
            continue;
        }
        let Some(data) = entry.data else { continue };
        if writer_of_data.insert(data, position).is_some() {
            findings.doubt(|| {
                format!(
                    "{name}: data {data} was written twice, so reads of it cannot be attributed"
                )
            });
            return;
        }
    }
    // Which writes happened: every acknowledged one, and every unknown one a read saw.
    let mut happened: Vec<bool> = entries.iter().map(|e| e.acknowledged).collect();
    for entry in entries.iter().filter(|e| e.kind == Kind::Read) {
        let Some(data) = entry.data else { continue };
        match writer_of_data.get(&data) {
            Some(&writer) if entries[writer].version == entry.version => happened[writer] = true,
            Some(&writer) => findings.add(
                "zk-nonlinearizable",
                Anomaly::new(format!(
                    "a read of {name} (op {}) returned data {data} at version {}, but op {} wrote it as version {}.",
                    entry.completion,
                    describe(entry.version),
                    entries[writer].invoke,
                    describe(entries[writer].version)
                ))
                .key(name)
                .value(data)
                .ops([entries[writer].invoke, entry.invoke, entry.completion]),
            ),
            None => findings.add(
                "zk-nonlinearizable",
                Anomaly::new(format!(
                    "a read of {name} (op {}) returned data {data}, which no create or write of {name} wrote.",
                    entry.completion
                ))
                .key(name)
                .value(data)
                .ops([entry.invoke, entry.completion]),
            ),
        }
    }
    let live: Vec<Entry> = entries
        .iter()
        .zip(&happened)
        .filter(|(entry, happened)| entry.kind == Kind::Read || **happened)
        .map(|(entry, _)| *entry)
        .collect();
    check_versions(name, &live, findings);
    check_real_time(name, &live, findings);
}

/// (1) At most one write per version.
fn check_versions(name: &str, live: &[Entry], findings: &mut Findings) {
    let mut writer_of_version: BTreeMap<u64, &Entry> = BTreeMap::new();
    for entry in live.iter().filter(|e| e.kind == Kind::Write) {
        let Some(version) = entry.version else {
            continue;
        };
        let Some(first) = writer_of_version.get(&version).copied() else {
            writer_of_version.insert(version, entry);
            continue;
        };
        let (first, second) = if first.invoked_ns <= entry.invoked_ns {
            (first, entry)
        } else {
            (entry, first)
        };
        let name_of_anomaly = if first.acknowledged && first.completed_ns < second.invoked_ns {
            "zk-lost-write"
        } else {
            "zk-nonlinearizable"
        };
        findings.add(
            name_of_anomaly,
            Anomaly::new(format!(
                "two writes of {name} took effect as version {version}: op {} (data {}) and op {} (data {}); the first was overwritten without being seen.",
                first.invoke,
                first.data.unwrap_or_default(),
                second.invoke,
                second.data.unwrap_or_default()
            ))
            .key(name)
            .value(first.data.unwrap_or_default())
            .ops([first.invoke, first.completion, second.invoke, second.completion])
            .detail("version", version),
        );
    }
}

/// (2) No op that completed before another began sits at a later place. One sort by invoke
/// time, one by completion time, one sweep keeping the latest place among completed writes and
/// among completed reads.
fn check_real_time(name: &str, live: &[Entry], findings: &mut Findings) {
    let mut by_invoke: Vec<&Entry> = live.iter().collect();
    by_invoke.sort_by_key(|e| (e.invoked_ns, e.invoke));
    let mut by_completion: Vec<&Entry> = live.iter().filter(|e| e.completed_ns != NEVER).collect();
    by_completion.sort_by_key(|e| (e.completed_ns, e.completion));
    let mut next_completed = 0;
    let mut latest_write: Option<&Entry> = None;
    let mut latest_read: Option<&Entry> = None;
    for entry in by_invoke {
        while let Some(done) = by_completion.get(next_completed) {
            if done.completed_ns >= entry.invoked_ns {
                break;
            }
            let latest = match done.kind {
                Kind::Write => &mut latest_write,
                Kind::Read => &mut latest_read,
            };
            if latest.is_none_or(|l| l.place() < done.place()) {
                *latest = Some(done);
            }
            next_completed += 1;
        }
        let place = entry.place();
        let later_write = latest_write.filter(|l| l.place() > place);
        let later_read = latest_read.filter(|l| l.place() > place);
        let (anomaly, witness) = match (entry.kind, later_write, later_read) {
            // Only acknowledged writes complete, so a later place of a write is a lost one.
            (_, Some(write), _) => ("zk-lost-write", write),
            (Kind::Read, None, Some(read)) => ("zk-stale-read", read),
            (Kind::Write, None, Some(read)) => ("zk-nonlinearizable", read),
            (_, None, None) => continue,
        };
        let verb = |e: &Entry| match e.kind {
            Kind::Write => "wrote",
            Kind::Read => "read",
        };
        findings.add(
            anomaly,
            Anomaly::new(format!(
                "op {} {} version {} of {name} and completed before op {} began, which {} version {}: the znode went back.",
                witness.completion,
                verb(witness),
                describe(witness.version),
                entry.invoke,
                verb(entry),
                describe(entry.version)
            ))
            .key(name)
            .value(witness.data.unwrap_or_default())
            .ops([witness.invoke, witness.completion, entry.invoke, entry.completion])
            .detail("version_before", witness.version.map_or(-1, |v| v as i64))
            .detail("version_after", entry.version.map_or(-1, |v| v as i64)),
        );
    }
}

fn describe(version: Option<u64>) -> String {
    match version {
        Some(version) => version.to_string(),
        None => "none (no such znode)".to_string(),
    }
}

#[cfg(test)]
mod tests;
