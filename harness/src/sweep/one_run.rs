//! One (scenario, seed): simulate, optionally simulate again to prove determinism, check, judge
//! against the scenario's expectation, and write the run's store directory.

use crate::checker::{self, run_result::RunMeta, CheckOptions};
use crate::history::History;
use crate::run::context::Mode;
use crate::run::{schedule_for, simulate, SimError, SimOptions, SimOutcome};
use crate::scenario::{Faults, Keyword, Scenario};
use crate::sweep::expectation::{self, Met};
use crate::sweep::store;
use reports::RunResult;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct RunRequest {
    pub scenario: Scenario,
    /// The scenario file as the user named it (for the repro command).
    pub path: PathBuf,
    pub seed: u64,
    pub check_determinism: bool,
    pub log_filter: Option<String>,
    pub out: PathBuf,
    pub bugs: crate::systems::faultline::Bugs,
    pub keep: super::Keep,
    pub mode: Mode,
}

/// What happened, for the summary and the exit code.
#[derive(Clone, Debug)]
pub struct RunRecord {
    pub scenario: String,
    pub seed: u64,
    pub met: Met,
    /// `None` when the run could not produce a result.
    pub result: Option<RunResult>,
    pub repro: String,
    pub wall_seconds: f64,
    /// Bad input (e.g. an unsupported scenario): exit 2.
    pub bad_input: bool,
}

pub fn repro(path: &Path, seed: u64, bugs: crate::systems::faultline::Bugs, mode: Mode) -> String {
    let mode = match mode {
        Mode::Sim => String::new(),
        Mode::Real => "--mode real ".to_owned(),
    };
    let mut command = format!("faultline run {mode}{} --seed {seed}", path.display());
    for bug in bugs.iter() {
        command.push_str(&format!(" --bug {bug}"));
    }
    command
}

/// The scenario as played: a random fault mix is replaced by the schedule drawn for this seed,
/// so the file replays (and shrinks) exactly.
fn as_played(scenario: &Scenario, schedule: &crate::scenario::FaultSchedule) -> Scenario {
    let mut played = scenario.clone();
    if matches!(scenario.faults, Faults::Random(_)) {
        played.faults = Faults::Schedule(schedule.clone());
    }
    played
}

fn unjudged(request: &RunRequest, reason: String, bad_input: bool, wall_seconds: f64) -> RunRecord {
    RunRecord {
        scenario: request.scenario.name.clone(),
        seed: request.seed,
        met: Met::Unjudged(reason),
        result: None,
        repro: repro(&request.path, request.seed, request.bugs, request.mode),
        wall_seconds,
        bad_input,
    }
}

/// One run in the request's mode: simulated, or against real processes.
fn play(
    request: &RunRequest,
    schedule: crate::scenario::FaultSchedule,
    sim_options: &SimOptions,
) -> Result<SimOutcome, SimError> {
    match request.mode {
        Mode::Sim => simulate(&request.scenario, request.seed, schedule, sim_options),
        Mode::Real => {
            let options = crate::real::RealOptions {
                log_filter: sim_options.log_filter.clone(),
                bugs: request.bugs.iter().map(|bug| bug.to_string()).collect(),
            };
            crate::real::run(&request.scenario, request.seed, schedule, &options)
        }
    }
}

pub fn execute(request: &RunRequest) -> RunRecord {
    // Read outside any simulation (on the sweep's thread, before the run starts): how long the
    // run took on the wall clock is reported, never fed into the run.
    #[allow(clippy::disallowed_methods)]
    let started = std::time::Instant::now();
    let wall = || started.elapsed().as_secs_f64();
    let schedule = schedule_for(&request.scenario, request.seed);
    let sim_options = SimOptions {
        log_filter: request.log_filter.clone(),
        bugs: request.bugs,
    };
    let outcome = match play(request, schedule.clone(), &sim_options) {
        Ok(outcome) => outcome,
        Err(SimError::Unsupported(reason)) => return unjudged(request, reason, true, wall()),
        Err(error) => return unjudged(request, error.to_string(), false, wall()),
    };
    let log = outcome.log.clone();
    let history = match History::from_ops(outcome.ops) {
        Ok(history) => history,
        Err(errors) => {
            let first = errors.first().map(ToString::to_string).unwrap_or_default();
            return unjudged(
                request,
                format!("the recorded history is malformed: {first}"),
                false,
                wall(),
            );
        }
    };
    let mut nondeterminism = None;
    if request.check_determinism {
        let again = simulate(
            &request.scenario,
            request.seed,
            schedule.clone(),
            &sim_options,
        )
        .map_err(|e| e.to_string())
        .and_then(|o| History::from_ops(o.ops).map_err(|_| "malformed history".to_string()));
        match again {
            Ok(second) if second.digest() == history.digest() => {}
            Ok(second) => {
                nondeterminism = Some(format!(
                    "nondeterminism: history digests differ ({} then {})",
                    history.digest().hex(),
                    second.digest().hex()
                ))
            }
            Err(error) => nondeterminism = Some(format!("the second run failed: {error}")),
        }
    }
    let options = CheckOptions {
        recovery: Duration::from_millis(request.scenario.recovery_ms),
    };
    let checkers: Vec<_> = request
        .scenario
        .checks
        .iter()
        .filter_map(|name| checker::by_name(name.as_str()))
        .collect();
    let mut checked = checker::run_checks(&history, &checkers, &options);
    // On by default wherever the nodes' events were collected (simulated runs).
    if let Some(events) = &outcome.node_events {
        let invariants = checker::cluster_invariants::check(&events.records, events.dropped);
        checked.add(checker::cluster_invariants::NAME, invariants);
    }
    let repro = repro(&request.path, request.seed, request.bugs, request.mode);
    let meta = RunMeta {
        scenario: request.scenario.name.clone(),
        seed: request.seed,
        repro: repro.clone(),
        wall_seconds: wall(),
    };
    let mut result = checker::run_result::run_result(&history, &checked, meta);
    result.stats.faults = outcome.faults;
    result.mode = request.mode.as_str().to_owned();
    let met = match nondeterminism {
        Some(reason) => Met::Unjudged(reason),
        None => expectation::judge(&request.scenario.expect, &result),
    };
    let played = as_played(&request.scenario, &outcome.schedule);
    let keep = match request.keep {
        super::Keep::All => true,
        super::Keep::Failed => !matches!(met, Met::Yes),
    };
    let written = if !keep {
        Ok(())
    } else {
        store::write_run(
            &request.out,
            &store::RunFiles {
                scenario: &played,
                history: &history,
                result: &result,
                log: &log,
                node_events: outcome.node_events.as_ref(),
                repro: &repro,
                scenario_path: &request.path,
                bugs: request.bugs,
                met: &met,
            },
        )
    };
    if let Err(error) = written {
        tracing::error!(%error, "could not write the run's store");
    }
    RunRecord {
        scenario: request.scenario.name.clone(),
        seed: request.seed,
        met,
        result: Some(result),
        repro,
        wall_seconds: wall(),
        bad_input: false,
    }
}
