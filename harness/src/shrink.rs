//! `faultline shrink`: from a failing (scenario, seed), the smallest scenario that still fails
//! with the same anomaly. Delta debugging over the fault events first (drop halves, then single
//! events, until no single event can go), then shorter fault durations, then lower workload
//! rates and a shorter workload. Every candidate is a full deterministic run of the same seed,
//! so "still fails" is a fact, not a guess. The result is written as a scenario file.
//!
//! Which anomaly is kept: the one named with `--anomaly`; else the first of the scenario's
//! expected anomalies (`expect: {invalid: [...]}`) the run reports — a must-fail scenario is
//! shrunk for the failure it exists to show, not for whatever else the run happened to find;
//! else (a scenario expected valid) the first reported, by name. The shrunk file is named
//! and described after that anomaly, expects exactly it when the original expected anomalies
//! (so it meets its expectation), and stays `expect: valid` otherwise (a regression that fails
//! until the bug is fixed). It is written to the store (`store/shrink/` by default), not into
//! `scenarios/`: adding it to a suite is a decision for a person.

use crate::checker::{self, CheckOptions};
use crate::history::History;
use crate::run::{schedule_for, simulate, SimOptions};
use crate::scenario::{Expectation, FaultEvent, FaultSchedule, Faults, Keyword, Scenario};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Simulations one shrink may run.
pub const RUNS_MAX: usize = 400;
/// Durations are not shrunk below this.
const DURATION_MS_MIN: u64 = 100;
/// Where shrunk scenarios go unless `--out` says otherwise.
pub const OUT_DIR_DEFAULT: &str = "store/shrink";

#[derive(Debug, thiserror::Error)]
pub enum ShrinkError {
    #[error("{0}")]
    Scenario(#[from] crate::scenario::ScenarioError),
    #[error("the run {0} does not fail: nothing to shrink")]
    NotFailing(String),
    #[error("the run does not report {wanted} (it reports {}); hint: name one it reports with --anomaly", found_words(.found))]
    AnomalyAbsent { wanted: String, found: Vec<String> },
    #[error("cannot write to {}: {source} (hint: name a writable directory with --out)", .dir.display())]
    Out {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write the shrunk scenario: {0}")]
    Write(#[from] std::io::Error),
    #[error("cannot render the shrunk scenario: {0}")]
    Yaml(String),
}

#[derive(Clone, Debug)]
pub struct ShrinkArgs {
    pub path: PathBuf,
    pub seed: u64,
    pub bugs: crate::systems::faultline::Bugs,
    /// Keep this anomaly; default: the scenario's expected one, else the first reported.
    pub anomaly: Option<String>,
    pub out_dir: PathBuf,
}

#[derive(Clone, Debug)]
pub struct ShrinkReport {
    pub anomaly: String,
    pub events_before: usize,
    pub events_after: usize,
    pub duration_ms_before: u64,
    pub duration_ms_after: u64,
    pub runs: usize,
    pub written: PathBuf,
}

struct Shrinker {
    seed: u64,
    options: SimOptions,
    anomaly: String,
    runs: usize,
}

/// The anomalies one run reports.
fn anomalies(scenario: &Scenario, seed: u64, options: &SimOptions) -> BTreeSet<String> {
    let schedule = schedule_for(scenario, seed);
    let Ok(outcome) = simulate(scenario, seed, schedule, options) else {
        return BTreeSet::new();
    };
    let Ok(history) = History::from_ops(outcome.ops) else {
        return BTreeSet::new();
    };
    let check_options = CheckOptions {
        recovery: Duration::from_millis(scenario.recovery_ms),
    };
    let checkers: Vec<_> = scenario
        .checks
        .iter()
        .filter_map(|c| checker::by_name(c.as_str()))
        .collect();
    let checked = checker::run_checks(&history, &checkers, &check_options);
    checked
        .anomalies()
        .into_iter()
        .filter(|(_, list)| !list.is_empty())
        .map(|(name, _)| name.to_string())
        .collect()
}

impl Shrinker {
    fn fails(&mut self, scenario: &Scenario) -> bool {
        if self.runs >= RUNS_MAX {
            return false;
        }
        self.runs += 1;
        anomalies(scenario, self.seed, &self.options).contains(&self.anomaly)
    }

    fn with_events(scenario: &Scenario, events: Vec<FaultEvent>) -> Scenario {
        let mut candidate = scenario.clone();
        candidate.faults = Faults::Schedule(FaultSchedule(events));
        candidate
    }

    /// ddmin over events: drop chunks (halves, quarters, ...) while the failure persists.
    fn events(&mut self, mut scenario: Scenario) -> Scenario {
        let mut events = match &scenario.faults {
            Faults::Schedule(schedule) => schedule.0.clone(),
            _ => Vec::new(),
        };
        let mut chunks = 2;
        while !events.is_empty() && self.runs < RUNS_MAX {
            let size = events.len().div_ceil(chunks);
            let mut removed = false;
            for start in (0..events.len()).step_by(size.max(1)) {
                let mut kept = events.clone();
                kept.drain(start..(start + size).min(events.len()));
                let candidate = Shrinker::with_events(&scenario, kept.clone());
                if self.fails(&candidate) {
                    events = kept;
                    scenario = candidate;
                    chunks = (chunks - 1).max(2);
                    removed = true;
                    break;
                }
            }
            if !removed {
                if size <= 1 {
                    break;
                }
                chunks = (chunks * 2).min(events.len());
            }
        }
        Shrinker::with_events(&scenario, events)
    }

    /// Halves each fault's duration while the failure persists.
    fn durations(&mut self, mut scenario: Scenario) -> Scenario {
        let Faults::Schedule(schedule) = &scenario.faults else {
            return scenario;
        };
        let mut events = schedule.0.clone();
        for index in 0..events.len() {
            while let Some(duration) = events[index].duration_ms {
                let shorter = duration / 2;
                if shorter < DURATION_MS_MIN {
                    break;
                }
                let mut shortened = events.clone();
                shortened[index].duration_ms = Some(shorter);
                let candidate = Shrinker::with_events(&scenario, shortened.clone());
                if !self.fails(&candidate) {
                    break;
                }
                events = shortened;
                scenario = candidate;
            }
        }
        scenario
    }

    /// Lowers producer rates and shortens the workload while the failure persists.
    fn workload(&mut self, mut scenario: Scenario) -> Scenario {
        loop {
            let mut candidate = scenario.clone();
            let Some(producers) = candidate.workload.producers.as_mut() else {
                break;
            };
            if producers.rate_per_s <= 1 {
                break;
            }
            producers.rate_per_s /= 2;
            if !self.fails(&candidate) {
                break;
            }
            scenario = candidate;
        }
        loop {
            let last_fault_ms = match &scenario.faults {
                Faults::Schedule(schedule) => {
                    schedule.0.iter().map(|e| e.at_ms + 1).max().unwrap_or(0)
                }
                _ => 0,
            };
            let shorter = scenario.workload.duration_ms / 2;
            if shorter <= last_fault_ms || shorter < 1000 {
                break;
            }
            let mut candidate = scenario.clone();
            candidate.workload.duration_ms = shorter;
            if !self.fails(&candidate) {
                break;
            }
            scenario = candidate;
        }
        scenario
    }
}

fn event_count(scenario: &Scenario) -> usize {
    match &scenario.faults {
        Faults::Schedule(schedule) => schedule.0.len(),
        _ => 0,
    }
}

pub fn shrink(args: &ShrinkArgs) -> Result<ShrinkReport, ShrinkError> {
    let original = crate::scenario::load(&args.path)?;
    // Up to RUNS_MAX simulations follow: find out now if the result cannot be written.
    crate::sweep::preflight::writable(&args.out_dir).map_err(|source| ShrinkError::Out {
        dir: args.out_dir.clone(),
        source,
    })?;
    let options = SimOptions {
        log_filter: None,
        bugs: args.bugs,
    };
    // Work on the schedule this seed plays (a random mix becomes a concrete list).
    let played = Shrinker::with_events(&original, schedule_for(&original, args.seed).0);
    let found = anomalies(&played, args.seed, &options);
    if found.is_empty() {
        return Err(ShrinkError::NotFailing(format!(
            "{} --seed {}",
            args.path.display(),
            args.seed
        )));
    }
    let anomaly = choose(&found, args.anomaly.as_deref(), &original.expect)?;
    let mut shrinker = Shrinker {
        seed: args.seed,
        options,
        anomaly: anomaly.clone(),
        runs: 1,
    };
    let mut scenario = shrinker.events(played.clone());
    scenario = shrinker.durations(scenario);
    scenario = shrinker.workload(scenario);
    scenario.name = shrunk_name(&original.name, &anomaly, args.seed);
    scenario.seeds = args.seed..=args.seed;
    if let Expectation::Invalid(expected) = &original.expect {
        scenario.expect = Expectation::Invalid(
            expected
                .iter()
                .filter(|name| name.as_str() == anomaly)
                .cloned()
                .collect(),
        );
        assert!(matches!(&scenario.expect, Expectation::Invalid(kept) if kept.len() == 1));
    }
    let bugs: Vec<String> = args.bugs.iter().map(|b| format!(" --bug {b}")).collect();
    scenario.description = format!(
        "Shrunk by `faultline shrink {} --seed {}{} --anomaly {anomaly}` from {} fault events \
         to {}, keeping {anomaly}. Originally: {}",
        args.path.display(),
        args.seed,
        bugs.concat(),
        event_count(&played),
        event_count(&scenario),
        original.description.trim()
    );
    let written = args.out_dir.join(format!("{}.yaml", scenario.name));
    let yaml = scenario
        .to_yaml()
        .map_err(|e| ShrinkError::Yaml(e.to_string()))?;
    std::fs::write(&written, yaml)?;
    Ok(ShrinkReport {
        anomaly,
        events_before: event_count(&played),
        events_after: event_count(&scenario),
        duration_ms_before: original.workload.duration_ms,
        duration_ms_after: scenario.workload.duration_ms,
        runs: shrinker.runs,
        written,
    })
}

/// The anomaly to keep (see the module header). `found` is not empty.
fn choose(
    found: &BTreeSet<String>,
    requested: Option<&str>,
    expect: &Expectation,
) -> Result<String, ShrinkError> {
    let absent = |wanted: &str| ShrinkError::AnomalyAbsent {
        wanted: wanted.to_owned(),
        found: found.iter().cloned().collect(),
    };
    if let Some(name) = requested {
        return found.get(name).cloned().ok_or_else(|| absent(name));
    }
    match expect {
        Expectation::Invalid(expected) => expected
            .iter()
            .map(|name| name.as_str())
            .find(|name| found.contains(*name))
            .map(str::to_owned)
            .ok_or_else(|| {
                let names: Vec<&str> = expected.iter().map(|name| name.as_str()).collect();
                absent(&names.join(" or "))
            }),
        Expectation::Valid => Ok(found.iter().next().expect("a failing run").clone()),
    }
}

/// `<original>-<anomaly>-seed-<N>`, cut to a valid scenario name (at most NAME_LEN_MAX).
fn shrunk_name(original: &str, anomaly: &str, seed: u64) -> String {
    let suffix = format!("-{anomaly}-seed-{seed}");
    let room = crate::scenario::resolve::NAME_LEN_MAX.saturating_sub(suffix.len());
    // Scenario names are ASCII, so any byte index is a character boundary.
    let head = &original[..original.len().min(room)];
    format!("{head}{suffix}")
}

fn found_words(found: &[String]) -> String {
    if found.is_empty() {
        "none".to_owned()
    } else {
        found.join(", ")
    }
}

/// The default folder for shrunk scenarios.
pub fn out_dir_default() -> &'static Path {
    Path::new(OUT_DIR_DEFAULT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::AnomalyName;

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|name| (*name).to_owned()).collect()
    }

    fn expect(names: &[&str]) -> Expectation {
        Expectation::Invalid(
            names
                .iter()
                .map(|name| AnomalyName::parse(name).expect("a known anomaly"))
                .collect(),
        )
    }

    #[test]
    fn the_expected_anomaly_is_kept_not_the_first_reported() {
        let found = set(&["duplicate", "lost-write"]);
        let kept = choose(&found, None, &expect(&["lost-write"])).expect("found");
        assert_eq!(kept, "lost-write");
        let kept = choose(&found, None, &expect(&["unseen", "duplicate"])).expect("found");
        assert_eq!(kept, "duplicate");
        assert_eq!(
            choose(&found, None, &Expectation::Valid).expect("found"),
            "duplicate"
        );
        let kept = choose(&found, Some("lost-write"), &expect(&["duplicate"])).expect("found");
        assert_eq!(kept, "lost-write");
    }

    #[test]
    fn a_missing_anomaly_names_what_was_found() {
        let found = set(&["duplicate"]);
        let error = choose(&found, None, &expect(&["lost-write"])).expect_err("absent");
        assert_eq!(
            error.to_string(),
            "the run does not report lost-write (it reports duplicate); hint: name one it \
             reports with --anomaly"
        );
        assert!(choose(&found, Some("unseen"), &Expectation::Valid).is_err());
    }

    #[test]
    fn names_carry_the_anomaly_and_seed_and_stay_valid() {
        assert_eq!(
            shrunk_name("leader-crash", "lost-write", 7),
            "leader-crash-lost-write-seed-7"
        );
        let long = "x".repeat(100);
        let name = shrunk_name(&long, "inconsistent-offsets", u64::MAX);
        assert_eq!(name.len(), crate::scenario::resolve::NAME_LEN_MAX);
        assert!(name.ends_with(&format!("-inconsistent-offsets-seed-{}", u64::MAX)));
    }

    #[test]
    fn shrunk_scenarios_go_to_the_store_by_default() {
        assert!(out_dir_default().starts_with("store"));
    }
}
