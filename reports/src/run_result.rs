//! `result.json`: the outcome of one run (design.md section 10). The schema is stable —
//! external tools read it — so fields are only ever added, never renamed, and the rendering is
//! byte-stable: struct fields in a fixed order, every map a `BTreeMap` (sorted keys), floats
//! printed by one formatter. The same `RunResult` always renders to the same bytes.
//!
//! ```json
//! {"scenario":"leader-crash","seed":42,"verdict":"invalid",
//!  "checks":{"no-loss":"invalid","log-consistency":"valid"},
//!  "anomalies":{"lost-write":[{"key":"orders/0","value":17,"offsets":[5],"ops":[1,9],
//!               "explanation":"..."}]},
//!  "stats":{"ops":1234,"sends_ok":500,"sim_seconds":60.0,"wall_seconds":0.41,"faults":6},
//!  "history_digest":"<hex>","repro":"faultline run scenarios/leader-crash.yaml --seed 42"}
//! ```
//!
//! Additions to the design's example: `reasons` (why each `unknown` check could not decide)
//! and `anomalies_omitted` (per anomaly name, how many were found beyond the number listed);
//! both are left out when empty. An anomaly names its proving ops by index in `ops` and its
//! offsets in `offsets` (a list even when there is one).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// valid (no anomaly found), invalid (anomaly, with proof), unknown (could not decide).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Valid,
    Unknown,
    Invalid,
}

impl Verdict {
    /// Composition: invalid > unknown > valid.
    pub fn worst(self, other: Verdict) -> Verdict {
        self.max(other)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Valid => "valid",
            Verdict::Unknown => "unknown",
            Verdict::Invalid => "invalid",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A named violation's instance, as a checker explained it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Anomaly {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub offsets: Vec<u64>,
    /// History indexes of the ops that prove it.
    pub ops: Vec<u64>,
    pub explanation: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub detail: BTreeMap<String, serde_json::Value>,
}

impl Anomaly {
    pub fn new(explanation: impl Into<String>) -> Anomaly {
        Anomaly {
            explanation: explanation.into(),
            ..Anomaly::default()
        }
    }

    pub fn key(mut self, key: &str) -> Anomaly {
        self.key = Some(key.to_string());
        self
    }

    pub fn value(mut self, value: i64) -> Anomaly {
        self.value = Some(value);
        self
    }

    pub fn offsets(mut self, offsets: impl IntoIterator<Item = u64>) -> Anomaly {
        self.offsets = offsets.into_iter().collect();
        self
    }

    /// The proving ops; sorted and deduplicated here.
    pub fn ops(mut self, ops: impl IntoIterator<Item = u64>) -> Anomaly {
        self.ops = ops.into_iter().collect();
        self.ops.sort_unstable();
        self.ops.dedup();
        self
    }

    pub fn detail(mut self, name: &str, value: impl Into<serde_json::Value>) -> Anomaly {
        self.detail.insert(name.to_string(), value.into());
        self
    }
}

/// Counters of one run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// History lines.
    pub ops: u64,
    /// Send micro-ops acknowledged ok.
    pub sends_ok: u64,
    /// Simulated time the run covered.
    pub sim_seconds: f64,
    /// Wall-clock time the run took (the only field that differs between identical runs).
    pub wall_seconds: f64,
    /// Faults the nemesis started.
    pub faults: u64,
}

/// The outcome of one run: one scenario, one seed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    pub scenario: String,
    pub seed: u64,
    pub verdict: Verdict,
    /// Check name -> verdict.
    pub checks: BTreeMap<String, Verdict>,
    /// Check name -> why it is `unknown`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub reasons: BTreeMap<String, String>,
    /// Anomaly name -> instances.
    pub anomalies: BTreeMap<String, Vec<Anomaly>>,
    /// Anomaly name -> instances found but not listed.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub anomalies_omitted: BTreeMap<String, u64>,
    pub stats: Stats,
    pub history_digest: String,
    /// One command a person can paste to replay the run.
    pub repro: String,
    /// `sim` (the default, not written) or `real` (design.md §13).
    #[serde(default = "sim_mode", skip_serializing_if = "is_sim_mode")]
    pub mode: String,
}

fn sim_mode() -> String {
    "sim".to_owned()
}

fn is_sim_mode(mode: &str) -> bool {
    mode == "sim"
}

impl RunResult {
    /// Parses a `result.json` (e.g. to merge shards).
    pub fn from_json(text: &str) -> Result<RunResult, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The verdict the checks compose to: the worst of them, `unknown` when there are none.
    pub fn composed_verdict(&self) -> Verdict {
        self.checks
            .values()
            .copied()
            .reduce(Verdict::worst)
            .unwrap_or(Verdict::Unknown)
    }
}

/// `result.json`'s bytes: pretty-printed (two-space indent) with a final newline.
pub fn render_json(result: &RunResult) -> String {
    let mut text = serde_json::to_string_pretty(result).expect("a RunResult always serializes");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> RunResult {
        let mut detail = BTreeMap::new();
        detail.insert("highest_read".to_string(), serde_json::json!(9));
        RunResult {
            scenario: "leader-crash".to_string(),
            seed: 42,
            verdict: Verdict::Invalid,
            checks: [
                ("no-loss".to_string(), Verdict::Invalid),
                ("log-consistency".to_string(), Verdict::Valid),
                ("liveness".to_string(), Verdict::Unknown),
            ]
            .into_iter()
            .collect(),
            reasons: [(
                "liveness".to_string(),
                "the history has no heal".to_string(),
            )]
            .into_iter()
            .collect(),
            anomalies: [(
                "lost-write".to_string(),
                vec![Anomaly {
                    key: Some("orders/0".to_string()),
                    value: Some(17),
                    offsets: vec![5],
                    ops: vec![1, 9],
                    explanation: "orders/0 value 17 was acknowledged at offset 5 but never read."
                        .to_string(),
                    detail,
                }],
            )]
            .into_iter()
            .collect(),
            anomalies_omitted: BTreeMap::new(),
            stats: Stats {
                ops: 1234,
                sends_ok: 500,
                sim_seconds: 60.0,
                wall_seconds: 0.41,
                faults: 6,
            },
            history_digest: "00000000000000ab".to_string(),
            repro: "faultline run scenarios/leader-crash.yaml --seed 42".to_string(),
            mode: "sim".to_owned(),
        }
    }

    #[test]
    fn render_json_is_byte_stable_and_round_trips() {
        let result = example();
        let first = render_json(&result);
        assert_eq!(first, render_json(&result.clone()));
        let parsed = RunResult::from_json(&first).expect("parses");
        assert_eq!(parsed, result);
        assert_eq!(render_json(&parsed), first);
        insta::assert_snapshot!("result_json", first);
    }

    #[test]
    fn fields_come_in_the_schema_order() {
        let text = render_json(&example());
        let order = [
            "\"scenario\"",
            "\"seed\"",
            "\"verdict\"",
            "\"checks\"",
            "\"reasons\"",
            "\"anomalies\"",
            "\"stats\"",
            "\"history_digest\"",
            "\"repro\"",
        ];
        let positions: Vec<usize> = order
            .iter()
            .map(|field| text.find(field).expect(field))
            .collect();
        assert!(positions.windows(2).all(|pair| pair[0] < pair[1]));
        assert!(
            !text.contains("anomalies_omitted"),
            "empty maps are left out"
        );
    }

    #[test]
    fn verdicts_compose_to_the_worst() {
        use Verdict::*;
        assert_eq!(Valid.worst(Unknown), Unknown);
        assert_eq!(Unknown.worst(Invalid), Invalid);
        assert_eq!(Invalid.worst(Valid), Invalid);
        assert_eq!(example().composed_verdict(), Invalid);
        let mut empty = example();
        empty.checks.clear();
        assert_eq!(empty.composed_verdict(), Unknown);
    }
}
