//! The first lines of every report, shared by Markdown and HTML: the verdict in words, the
//! run against its expectation, the run's size, and the anomaly names in report order.

use crate::anomaly_names;
use crate::input::{Judgement, Met};
use crate::run_result::{Anomaly, RunResult, Verdict};
use crate::text::{count, seconds};

/// `invalid: 120 anomalies of 2 kinds (lost-write ×60, inconsistent-offsets ×60).`
pub fn verdict_sentence(result: &RunResult) -> String {
    match result.verdict {
        Verdict::Valid => format!(
            "valid: no anomaly found by {}.",
            count(result.checks.len() as u64, "check", "checks")
        ),
        Verdict::Invalid => {
            let groups = groups(result);
            let total: u64 = groups.iter().map(|g| g.total()).sum();
            let names: Vec<String> = groups
                .iter()
                .map(|g| format!("{} ×{}", g.name, g.total()))
                .collect();
            format!(
                "invalid: {} of {} ({}).",
                count(total, "anomaly", "anomalies"),
                count(groups.len() as u64, "kind", "kinds"),
                names.join(", ")
            )
        }
        Verdict::Unknown => {
            let reasons: Vec<String> = result
                .reasons
                .iter()
                .map(|(check, reason)| format!("{check}: {reason}"))
                .collect();
            if reasons.is_empty() {
                "unknown: no check could decide.".to_string()
            } else {
                format!("unknown: could not decide ({}).", reasons.join("; "))
            }
        }
    }
}

/// `Expected invalid with lost-write: met.`
pub fn judgement_sentence(judgement: &Judgement) -> String {
    match &judgement.met {
        Met::Yes => format!("Expected {}: met.", judgement.expected),
        Met::No(reason) => format!("Expected {}: NOT met ({reason}).", judgement.expected),
        Met::Unjudged(reason) => format!(
            "Expected {}: could not be judged ({reason}).",
            judgement.expected
        ),
    }
}

/// `1550 ops, 770 sends acknowledged, 10.787 s simulated, 2 faults`.
pub fn stats_sentence(result: &RunResult) -> String {
    let stats = &result.stats;
    let sim_ns = (stats.sim_seconds.max(0.0) * 1e9).round() as u64;
    format!(
        "{}, {} acknowledged, {} simulated, {}",
        count(stats.ops, "op", "ops"),
        count(stats.sends_ok, "send", "sends"),
        seconds(sim_ns),
        count(stats.faults, "fault", "faults")
    )
}

/// The anomalies of one name.
#[derive(Clone, Copy, Debug)]
pub struct Group<'a> {
    pub name: &'a str,
    pub anomalies: &'a [Anomaly],
    /// Found but not listed in the result.
    pub omitted: u64,
}

impl Group<'_> {
    pub fn total(&self) -> u64 {
        self.anomalies.len() as u64 + self.omitted
    }
}

/// Every anomaly name with its instances, in report order.
pub fn groups(result: &RunResult) -> Vec<Group<'_>> {
    let mut groups: Vec<Group> = result
        .anomalies
        .iter()
        .map(|(name, anomalies)| Group {
            name,
            anomalies,
            omitted: result.anomalies_omitted.get(name).copied().unwrap_or(0),
        })
        .collect();
    for (name, omitted) in &result.anomalies_omitted {
        if !result.anomalies.contains_key(name) {
            groups.push(Group {
                name,
                anomalies: &[],
                omitted: *omitted,
            });
        }
    }
    groups.sort_by_key(|group| anomaly_names::rank(group.name));
    groups
}

/// What a check found, for the checks table: its anomalies with counts, or why it is unknown.
pub fn check_finding(result: &RunResult, check: &str) -> String {
    if let Some(reason) = result.reasons.get(check) {
        return reason.clone();
    }
    let found: Vec<String> = groups(result)
        .iter()
        .filter(|group| anomaly_names::of_check(check).contains(&group.name))
        .map(|group| format!("{} ×{}", group.name, group.total()))
        .collect();
    found.join(", ")
}
