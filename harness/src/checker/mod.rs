//! Checkers: pure functions from a history to a verdict and named anomalies (design.md
//! section 9). Each check lives in its own file and reports only its own anomaly names.
//!
//! Rules every checker keeps:
//! - `info` ops may or may not have happened: they are never required, but a read of one of
//!   their values proves they happened.
//! - A checker that cannot decide says `unknown` with a reason, never `valid`; an anomaly
//!   with proof beats any doubt, so `invalid` wins over `unknown`.
//! - Cost is linear in the history, or n log n where it sorts; the shared indexes
//!   ([`crate::history::InferredLog`]) are built once with the history.
//! - Output is deterministic: anomalies are listed in history order, maps are `BTreeMap`s.

pub mod cluster_invariants;
pub mod consumer_order;
pub mod coordinator_linearizable;
pub mod deadlines;
pub mod dependency_graph;
pub mod exactly_once_txn;
pub mod idempotent_consumption;
pub mod liveness;
pub mod log_consistency;
pub mod no_loss;
pub mod per_producer_order;
pub mod rate_bound;
pub mod run_result;
pub mod scc;
pub mod txn_graph;

#[cfg(test)]
pub(crate) mod testing;

pub use consumer_order::ConsumerOrder;
pub use coordinator_linearizable::CoordinatorLinearizable;
pub use deadlines::Deadlines;
pub use exactly_once_txn::ExactlyOnceTxn;
pub use idempotent_consumption::IdempotentConsumption;
pub use liveness::Liveness;
pub use log_consistency::LogConsistency;
pub use no_loss::NoLoss;
pub use per_producer_order::PerProducerOrder;
pub use rate_bound::RateBound;
pub use run_result::{history_check, history_stats, run_result, RunMeta};
pub use txn_graph::TxnGraph;

use crate::history::History;
use std::collections::BTreeMap;
use std::time::Duration;

/// At most this many anomalies of one name are kept per check; the rest are counted in
/// [`CheckResult::omitted`].
pub const ANOMALIES_PER_NAME_MAX: usize = 1000;

/// Every check, in the order of design.md section 9.
pub const CHECK_NAMES: [&str; 11] = [
    no_loss::NAME,
    log_consistency::NAME,
    per_producer_order::NAME,
    consumer_order::NAME,
    exactly_once_txn::NAME,
    idempotent_consumption::NAME,
    liveness::NAME,
    txn_graph::NAME,
    rate_bound::NAME,
    deadlines::NAME,
    coordinator_linearizable::NAME,
];

/// Knobs a scenario sets for its checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckOptions {
    /// After the heal the cluster must serve a send or poll within this much simulated time.
    pub recovery: Duration,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            recovery: Duration::from_secs(20),
        }
    }
}

/// A check's verdict: one type from the checks to `result.json` (the reports crate owns it).
/// Why a check said `unknown` travels beside it, in [`CheckResult::reason`].
pub use reports::Verdict;

/// A named, explained violation with the ops that prove it: one type from the checks to
/// `result.json` (the reports crate owns the schema, with its builder).
pub use reports::Anomaly;

/// What one check found.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckResult {
    pub verdict: Verdict,
    /// Why the check could not decide: set exactly when the verdict is `unknown`.
    pub reason: Option<String>,
    /// Anomaly name -> anomalies, in history order.
    pub anomalies: BTreeMap<String, Vec<Anomaly>>,
    /// Anomaly name -> how many more were found beyond [`ANOMALIES_PER_NAME_MAX`].
    pub omitted: BTreeMap<String, u64>,
}

impl CheckResult {
    /// The number of anomalies found of `name`, including omitted ones.
    pub fn count(&self, name: &str) -> u64 {
        self.anomalies.get(name).map_or(0, |list| list.len() as u64)
            + self.omitted.get(name).copied().unwrap_or(0)
    }
}

/// A check.
pub trait Checker {
    fn name(&self) -> &'static str;

    /// Every anomaly name this check can report.
    fn anomalies(&self) -> &'static [&'static str];

    fn check(&self, history: &History, opts: &CheckOptions) -> CheckResult;

    /// Does the history hold any op this check judges? `faultline check` runs only the checks
    /// that apply; a scenario runs the checks it names, and one that finds nothing to judge
    /// says `unknown`.
    fn applies(&self, _history: &History) -> bool {
        true
    }
}

/// Every check, in the order of design.md section 9.
pub fn all() -> Vec<Box<dyn Checker>> {
    vec![
        Box::new(NoLoss),
        Box::new(LogConsistency),
        Box::new(PerProducerOrder),
        Box::new(ConsumerOrder),
        Box::new(ExactlyOnceTxn),
        Box::new(IdempotentConsumption),
        Box::new(Liveness),
        Box::new(TxnGraph),
        Box::new(RateBound),
        Box::new(Deadlines),
        Box::new(CoordinatorLinearizable),
    ]
}

/// The check called `name`.
pub fn by_name(name: &str) -> Option<Box<dyn Checker>> {
    all().into_iter().find(|checker| checker.name() == name)
}

/// The check that reports anomaly `name` (for validating a scenario's `expect`).
pub fn check_of_anomaly(name: &str) -> Option<&'static str> {
    if cluster_invariants::ANOMALIES.contains(&name) {
        return Some(cluster_invariants::NAME);
    }
    all()
        .iter()
        .find(|checker| checker.anomalies().contains(&name))
        .map(|checker| checker.name())
}

/// The checks that apply to `history`.
pub fn applicable(history: &History) -> Vec<Box<dyn Checker>> {
    all()
        .into_iter()
        .filter(|checker| checker.applies(history))
        .collect()
}

/// Several checks' results composed.
#[derive(Clone, Debug, PartialEq)]
pub struct Checked {
    /// The worst of the checks' verdicts; `unknown` if no check ran.
    pub verdict: Verdict,
    /// Why, when the verdict is `unknown` and no check ran (a check's own reason is in its
    /// result).
    pub reason: Option<String>,
    /// Check name -> result.
    pub results: BTreeMap<&'static str, CheckResult>,
}

impl Checked {
    /// Adds one more check's result (one not run over the history, such as
    /// `cluster-invariants`) and composes its verdict.
    pub fn add(&mut self, name: &'static str, result: CheckResult) {
        self.verdict = if self.results.is_empty() {
            result.verdict
        } else {
            self.verdict.worst(result.verdict)
        };
        // A check ran: an `unknown` now carries that check's own reason.
        self.reason = None;
        self.results.insert(name, result);
    }

    /// Every anomaly of every check, by anomaly name.
    pub fn anomalies(&self) -> BTreeMap<&str, &[Anomaly]> {
        let mut all = BTreeMap::new();
        for result in self.results.values() {
            for (name, list) in &result.anomalies {
                all.insert(name.as_str(), list.as_slice());
            }
        }
        all
    }
}

/// Runs `checkers` over `history` and composes their verdicts.
pub fn run_checks(
    history: &History,
    checkers: &[Box<dyn Checker>],
    opts: &CheckOptions,
) -> Checked {
    let mut verdict: Option<Verdict> = None;
    let mut results = BTreeMap::new();
    for checker in checkers {
        let result = checker.check(history, opts);
        verdict = Some(match verdict {
            None => result.verdict,
            Some(worst) => worst.worst(result.verdict),
        });
        results.insert(checker.name(), result);
    }
    let reason = verdict
        .is_none()
        .then(|| "no check applies to this history".to_string());
    Checked {
        verdict: verdict.unwrap_or(Verdict::Unknown),
        reason,
        results,
    }
}

/// Collects one check's anomalies and doubts, then turns them into a [`CheckResult`].
#[derive(Debug, Default)]
pub(crate) struct Findings {
    anomalies: BTreeMap<String, Vec<Anomaly>>,
    omitted: BTreeMap<String, u64>,
    doubts: u64,
    doubt_first: Option<String>,
}

impl Findings {
    pub(crate) fn add(&mut self, name: &str, anomaly: Anomaly) {
        let list = self.anomalies.entry(name.to_string()).or_default();
        if list.len() < ANOMALIES_PER_NAME_MAX {
            list.push(anomaly);
        } else {
            *self.omitted.entry(name.to_string()).or_default() += 1;
        }
    }

    /// Something the check could not decide; the first reason is kept, the rest counted.
    pub(crate) fn doubt(&mut self, reason: impl FnOnce() -> String) {
        self.doubts += 1;
        if self.doubt_first.is_none() {
            self.doubt_first = Some(reason());
        }
    }

    pub(crate) fn is_clean(&self) -> bool {
        self.anomalies.is_empty() && self.doubts == 0
    }

    pub(crate) fn finish(self) -> CheckResult {
        let (verdict, reason) = if !self.anomalies.is_empty() {
            (Verdict::Invalid, None)
        } else if let Some(first) = self.doubt_first {
            let reason = if self.doubts > 1 {
                format!("{first} (and {} more undecided)", self.doubts - 1)
            } else {
                first
            };
            (Verdict::Unknown, Some(reason))
        } else {
            (Verdict::Valid, None)
        };
        CheckResult {
            verdict,
            reason,
            anomalies: self.anomalies,
            omitted: self.omitted,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_anomaly_of_the_design_has_one_check() {
        // design.md section 9, verbatim.
        let design: &[(&str, &[&str])] = &[
            ("no-loss", &["lost-write", "unseen"]),
            (
                "log-consistency",
                &["inconsistent-offsets", "duplicate", "aborted-read"],
            ),
            (
                "per-producer-order",
                &[
                    "nonmonotonic-send",
                    "int-nonmonotonic-send",
                    "int-send-skip",
                    "sequence-gap",
                ],
            ),
            (
                "consumer-order",
                &[
                    "poll-skip",
                    "nonmonotonic-poll",
                    "int-poll-skip",
                    "int-nonmonotonic-poll",
                ],
            ),
            (
                "exactly-once-txn",
                &[
                    "txn-aborted-visible",
                    "txn-committed-lost",
                    "txn-duplicate",
                    "txn-premature-visible",
                ],
            ),
            (
                "idempotent-consumption",
                &["double-apply", "missed-apply", "offset-regression"],
            ),
            ("liveness", &["no-recovery"]),
            ("txn-graph", &["G0", "G1c", "precommitted-read"]),
            ("rate-bound", &["rate-exceeded", "double-take"]),
            ("deadlines", &["late-apply", "premature-expiry"]),
            (
                "coordinator-linearizable",
                &["zk-lost-write", "zk-stale-read", "zk-nonlinearizable"],
            ),
        ];
        for (check, anomalies) in design {
            for anomaly in *anomalies {
                assert_eq!(check_of_anomaly(anomaly), Some(*check), "{anomaly}");
            }
        }
        let names: Vec<&str> = all().iter().map(|checker| checker.name()).collect();
        assert_eq!(names, CHECK_NAMES);
        assert!(by_name("no-loss").is_some() && by_name("no-such").is_none());
    }

    #[test]
    fn scenarios_checkers_and_reports_name_the_same_checks() {
        use crate::scenario::names::Keyword;
        use crate::scenario::CheckName;
        for check in CheckName::ALL {
            let checker = by_name(check.as_str())
                .unwrap_or_else(|| panic!("scenario check {} has no checker", check.as_str()));
            let scenario: Vec<&str> = check.anomalies().iter().map(|a| a.as_str()).collect();
            // A checker may report more than a scenario can expect (`garbage-read`).
            for anomaly in &scenario {
                assert!(checker.anomalies().contains(anomaly), "{anomaly}");
            }
            assert_eq!(
                reports::anomaly_names::of_check(check.as_str()),
                scenario.as_slice(),
                "{}",
                check.as_str()
            );
        }
        assert_eq!(CheckName::ALL.len(), CHECK_NAMES.len());
    }

    #[test]
    fn verdicts_compose_to_the_worst() {
        let unknown = || Verdict::Unknown;
        assert_eq!(Verdict::Valid.worst(unknown()), unknown());
        assert_eq!(unknown().worst(Verdict::Invalid), Verdict::Invalid);
        assert_eq!(Verdict::Invalid.worst(Verdict::Valid), Verdict::Invalid);
        assert_eq!(Verdict::Valid.worst(Verdict::Valid), Verdict::Valid);
    }

    #[test]
    fn findings_keep_a_bounded_number_of_anomalies() {
        let mut findings = Findings::default();
        for value in 0..ANOMALIES_PER_NAME_MAX as i64 + 5 {
            findings.add("unseen", Anomaly::new("x.").value(value).ops([1]));
        }
        let result = findings.finish();
        assert_eq!(result.anomalies["unseen"].len(), ANOMALIES_PER_NAME_MAX);
        assert_eq!(result.omitted["unseen"], 5);
        assert_eq!(result.count("unseen"), ANOMALIES_PER_NAME_MAX as u64 + 5);
        assert_eq!(result.verdict, Verdict::Invalid);
    }
}
