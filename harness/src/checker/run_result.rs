//! From check results to the report schemas. `reports` knows nothing of the harness, so the
//! conversion lives here: composed verdicts, per-check verdicts and reasons, anomalies, and the
//! statistics a history alone can tell.

use super::Checked;
use crate::history::{History, Process, F};
use reports::{HistoryCheck, HistoryStats, RunResult, Stats};
use std::collections::BTreeMap;

/// What a run knows beyond its history.
#[derive(Clone, Debug, PartialEq)]
pub struct RunMeta {
    pub scenario: String,
    pub seed: u64,
    /// The command that replays the run, e.g. `faultline run scenarios/x.yaml --seed 42`.
    pub repro: String,
    /// Measured by the caller (real-mode code): the harness never reads the wall clock.
    pub wall_seconds: f64,
}

/// The `result.json` of one run.
pub fn run_result(history: &History, checked: &Checked, meta: RunMeta) -> RunResult {
    let parts = Parts::of(history, checked);
    RunResult {
        scenario: meta.scenario,
        seed: meta.seed,
        verdict: checked.verdict,
        checks: parts.checks,
        reasons: parts.reasons,
        anomalies: parts.anomalies,
        anomalies_omitted: parts.omitted,
        stats: Stats {
            ops: parts.stats.ops,
            sends_ok: parts.stats.sends_ok,
            sim_seconds: parts.stats.sim_seconds,
            wall_seconds: meta.wall_seconds,
            faults: parts.stats.faults,
        },
        history_digest: history.digest().hex(),
        repro: meta.repro,
        mode: "sim".to_owned(),
    }
}

/// The `faultline check --json` output; `skipped` names checks that did not apply.
pub fn history_check(
    source_name: &str,
    history: &History,
    checked: &Checked,
    skipped: Vec<String>,
) -> HistoryCheck {
    let parts = Parts::of(history, checked);
    HistoryCheck {
        history: source_name.to_string(),
        verdict: checked.verdict,
        checks: parts.checks,
        reasons: parts.reasons,
        skipped,
        anomalies: parts.anomalies,
        anomalies_omitted: parts.omitted,
        stats: parts.stats,
        history_digest: history.digest().hex(),
    }
}

/// Statistics of a history: ops, ok sends, simulated seconds, faults started.
pub fn history_stats(history: &History) -> HistoryStats {
    HistoryStats {
        ops: history.len() as u64,
        sends_ok: history.log().sends_ok(),
        sim_seconds: history.time_end() as f64 / 1e9,
        // The function first: the heads of the few `start-*` ops alone are built.
        faults: (0..history.len() as u64)
            .filter(|&index| matches!(history.f(index), F::Start(_)))
            .filter(|&index| history.op(index).process == Process::Nemesis)
            .count() as u64,
    }
}

/// The `reasons` entry that carries [`History::notes`].
pub const HISTORY_NOTE: &str = "history";

struct Parts {
    checks: BTreeMap<String, reports::Verdict>,
    reasons: BTreeMap<String, String>,
    anomalies: BTreeMap<String, Vec<reports::Anomaly>>,
    omitted: BTreeMap<String, u64>,
    stats: HistoryStats,
}

impl Parts {
    fn of(history: &History, checked: &Checked) -> Parts {
        let mut parts = Parts {
            checks: BTreeMap::new(),
            reasons: BTreeMap::new(),
            anomalies: BTreeMap::new(),
            omitted: BTreeMap::new(),
            stats: history_stats(history),
        };
        // Notes on how the history was read sit beside the checks' reasons: they explain a
        // verdict without being one.
        if !history.notes().is_empty() {
            parts
                .reasons
                .insert(HISTORY_NOTE.to_string(), history.notes().join("; "));
        }
        for (name, result) in &checked.results {
            parts.checks.insert(name.to_string(), result.verdict);
            if let Some(reason) = &result.reason {
                parts.reasons.insert(name.to_string(), reason.clone());
            }
            for (anomaly, list) in &result.anomalies {
                parts
                    .anomalies
                    .entry(anomaly.clone())
                    .or_default()
                    .extend(list.iter().cloned());
            }
            for (anomaly, count) in &result.omitted {
                *parts.omitted.entry(anomaly.clone()).or_default() += count;
            }
        }
        parts
    }
}
