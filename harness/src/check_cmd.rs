//! `faultline check <history.jsonl|history.edn> [--json]`: re-check a stored history (design.md
//! section 10), faultline's JSON Lines or Jepsen's EDN. Runs every check that applies to the
//! history and exits 0 valid, 1 invalid, 2 bad input (each malformed line printed as
//! `file:line: reason`), 3 unknown.
//!
//! When `node-events.jsonl` lies beside the history (a simulated run's store directory), the
//! `cluster-invariants` check judges it too, as the run did; a malformed one is bad input.
//!
//! The human output leads with the verdict, then a table of checks, then every anomaly with
//! its explanation; `--json` prints [`reports::HistoryCheck`] instead, and on bad input an
//! object with an `error` field ([`render_error_json`]).

use crate::checker::{self, CheckOptions, Checked, Verdict};
use crate::history::{read_history, History, ReadError};
use crate::node_events_file::{self, NodeEventsFileError};
use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;
use thiserror::Error;

/// How `check` ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckExit {
    Valid,
    Invalid,
    BadInput,
    Unknown,
}

impl CheckExit {
    pub fn code(self) -> u8 {
        match self {
            CheckExit::Valid => 0,
            CheckExit::Invalid => 1,
            CheckExit::BadInput => 2,
            CheckExit::Unknown => 3,
        }
    }

    pub fn of(verdict: &Verdict) -> CheckExit {
        match verdict {
            Verdict::Valid => CheckExit::Valid,
            Verdict::Invalid => CheckExit::Invalid,
            Verdict::Unknown => CheckExit::Unknown,
        }
    }
}

#[derive(Debug, Error)]
pub enum CheckError {
    /// The history is unreadable or malformed: exit 2.
    #[error("{0}")]
    Read(#[from] ReadError),
    /// The node events beside the history are malformed: exit 2.
    #[error("{0}")]
    NodeEvents(#[from] NodeEventsFileError),
    #[error("cannot write the report: {0}")]
    Output(#[from] io::Error),
}

/// The whole command: prints the report to stdout, problems to stderr, returns the exit code.
pub fn main(path: &Path, json: bool) -> ExitCode {
    let stdout = io::stdout();
    match check_and_keep(path, &CheckOptions::default(), json, &mut stdout.lock()) {
        Ok((exit, history)) => {
            // The process ends here: freeing a history of millions of small values one by one
            // would only add to the time `check` takes.
            std::mem::forget(history);
            ExitCode::from(exit.code())
        }
        Err(error) => {
            eprintln!("faultline check: {error}");
            if json {
                // `--json` always prints one JSON object, so a caller never has to parse
                // stderr to learn why there is no verdict (issue 21).
                let _ = stdout
                    .lock()
                    .write_all(render_error_json(path, &error).as_bytes());
            }
            ExitCode::from(CheckExit::BadInput.code())
        }
    }
}

/// The `--json` output of a history that could not be judged (exit 2): the history's name,
/// the error as one text, and each malformed line.
pub fn render_error_json(path: &Path, error: &CheckError) -> String {
    let problems: Vec<serde_json::Value> = match error {
        CheckError::Read(read) => read
            .problems()
            .iter()
            .map(|problem| serde_json::json!({"line": problem.line, "reason": problem.error.to_string()}))
            .collect(),
        CheckError::NodeEvents(NodeEventsFileError::Line { line, reason, .. }) => {
            vec![serde_json::json!({"line": line, "reason": reason})]
        }
        CheckError::NodeEvents(_) | CheckError::Output(_) => Vec::new(),
    };
    let mut text = serde_json::to_string_pretty(&serde_json::json!({
        "history": path.display().to_string(),
        "error": error.to_string(),
        "problems": problems,
    }))
    .expect("a JSON value always serializes");
    text.push('\n');
    text
}

/// Checks the history at `path` with default options and writes the report to `out`.
pub fn run_check(path: &Path, json: bool, out: &mut impl Write) -> Result<CheckExit, CheckError> {
    run_check_with(path, &CheckOptions::default(), json, out)
}

/// [`run_check`] with explicit check options.
pub fn run_check_with(
    path: &Path,
    opts: &CheckOptions,
    json: bool,
    out: &mut impl Write,
) -> Result<CheckExit, CheckError> {
    check_and_keep(path, opts, json, out).map(|(exit, _)| exit)
}

/// [`run_check_with`], handing back the history it judged.
fn check_and_keep(
    path: &Path,
    opts: &CheckOptions,
    json: bool,
    out: &mut impl Write,
) -> Result<(CheckExit, History), CheckError> {
    let history = read_history(path)?;
    let node_events = node_events_file::beside(path)?;
    let source_name = path.display().to_string();
    let (mut checked, skipped) = check_applicable(&history, opts);
    if let Some(events) = &node_events {
        let invariants =
            checker::cluster_invariants::check(&events.records, events.dropped_at_least);
        checked.add(checker::cluster_invariants::NAME, invariants);
    }
    if json {
        let report = checker::history_check(&source_name, &history, &checked, skipped);
        out.write_all(report.render_json().as_bytes())?;
    } else {
        out.write_all(render_human(&source_name, &history, &checked, &skipped).as_bytes())?;
    }
    Ok((CheckExit::of(&checked.verdict), history))
}

/// Runs the checks that apply; returns the results and the names of the checks skipped.
pub fn check_applicable(history: &History, opts: &CheckOptions) -> (Checked, Vec<String>) {
    let (run, skipped): (Vec<_>, Vec<_>) = checker::all()
        .into_iter()
        .partition(|check| check.applies(history));
    let checked = checker::run_checks(history, &run, opts);
    let skipped = skipped
        .iter()
        .map(|check| check.name().to_string())
        .collect();
    (checked, skipped)
}

/// The report a person reads: verdict, table of checks, anomalies.
pub fn render_human(
    source_name: &str,
    history: &History,
    checked: &Checked,
    skipped: &[String],
) -> String {
    let mut text = String::new();
    let anomalies = checked.anomalies();
    let total: u64 = checked
        .results
        .values()
        .map(|result| {
            result
                .anomalies
                .keys()
                .map(|name| result.count(name))
                .sum::<u64>()
        })
        .sum();
    match &checked.verdict {
        Verdict::Valid => {
            let _ = writeln!(
                text,
                "valid: no anomaly found by {} checks in {source_name}",
                checked.results.len()
            );
        }
        Verdict::Invalid => {
            let names: Vec<&str> = anomalies.keys().copied().collect();
            let _ = writeln!(
                text,
                "invalid: {total} {} ({}) in {source_name}",
                if total == 1 { "anomaly" } else { "anomalies" },
                names.join(", ")
            );
        }
        Verdict::Unknown => {
            let reason = checked.reason.as_deref().unwrap_or("undecided");
            let undecided: Vec<&str> = checked
                .results
                .iter()
                .filter(|(_, result)| matches!(result.verdict, Verdict::Unknown))
                .map(|(name, _)| *name)
                .collect();
            if undecided.is_empty() {
                let _ = writeln!(text, "unknown: {reason} in {source_name}");
            } else {
                let _ = writeln!(
                    text,
                    "unknown: could not decide {} for {source_name}",
                    undecided.join(", ")
                );
            }
        }
    }
    let stats = checker::history_stats(history);
    let _ = writeln!(
        text,
        "history: {} ops, {} ok sends, {:.3} simulated seconds, {} faults, digest {}",
        stats.ops,
        stats.sends_ok,
        stats.sim_seconds,
        stats.faults,
        history.digest()
    );
    for note in history.notes() {
        let _ = writeln!(text, "note: {note}");
    }

    let _ = writeln!(text, "\n{:<24} {:<8} found", "check", "verdict");
    // The history's checks in design order, then the node events' (when they were read).
    let check_names = || {
        checker::CHECK_NAMES
            .into_iter()
            .chain([checker::cluster_invariants::NAME])
    };
    for name in check_names() {
        if let Some(result) = checked.results.get(name) {
            let found = match &result.verdict {
                Verdict::Unknown => result.reason.clone().unwrap_or_default(),
                _ if result.anomalies.is_empty() => "-".to_string(),
                _ => result
                    .anomalies
                    .keys()
                    .map(|anomaly| format!("{anomaly} {}", result.count(anomaly)))
                    .collect::<Vec<_>>()
                    .join(", "),
            };
            let _ = writeln!(text, "{name:<24} {:<8} {found}", result.verdict.as_str());
        } else if skipped.iter().any(|skip| skip == name) {
            let _ = writeln!(
                text,
                "{name:<24} {:<8} the history has no op this check judges",
                "skipped"
            );
        }
    }

    let in_design_order = check_names().filter_map(|name| checked.results.get(name));
    for result in in_design_order {
        for (name, list) in &result.anomalies {
            let _ = writeln!(text, "\n{name} ({})", result.count(name));
            for anomaly in list {
                if anomaly.ops.is_empty() {
                    // A cluster invariant's proof is the node events its explanation names.
                    let _ = writeln!(text, "  - {}", anomaly.explanation);
                    continue;
                }
                let ops: Vec<String> = anomaly.ops.iter().map(u64::to_string).collect();
                let _ = writeln!(text, "  - ops {}: {}", ops.join(", "), anomaly.explanation);
            }
            if let Some(omitted) = result.omitted.get(name) {
                let _ = writeln!(text, "  ... and {omitted} more");
            }
        }
    }
    text
}
