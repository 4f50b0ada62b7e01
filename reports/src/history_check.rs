//! The output of `faultline check <history.jsonl> --json`: the verdict of re-checking a stored
//! history. Same conventions as [`crate::RunResult`] (stable, byte-stable, fields only added),
//! without what only a run knows (scenario, seed, wall time, repro command).

use crate::run_result::{Anomaly, Verdict};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Counters of one history.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HistoryStats {
    pub ops: u64,
    pub sends_ok: u64,
    pub sim_seconds: f64,
    pub faults: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HistoryCheck {
    /// The history file, as named on the command line.
    pub history: String,
    pub verdict: Verdict,
    /// Check name -> verdict, for the checks that applied.
    pub checks: BTreeMap<String, Verdict>,
    /// Check name -> why it is `unknown`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub reasons: BTreeMap<String, String>,
    /// Checks that did not run because the history holds nothing they judge.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<String>,
    pub anomalies: BTreeMap<String, Vec<Anomaly>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub anomalies_omitted: BTreeMap<String, u64>,
    pub stats: HistoryStats,
    pub history_digest: String,
}

impl HistoryCheck {
    pub fn render_json(&self) -> String {
        let mut text =
            serde_json::to_string_pretty(self).expect("a HistoryCheck always serializes");
        text.push('\n');
        text
    }
}
