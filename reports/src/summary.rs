//! What one invocation (or a merge of shard stores) leaves at the top of the store:
//! `summary.json` (every run in (scenario, seed) order, with per-scenario and overall counts)
//! and `summary.md` (the overall outcome first, then the runs that need attention with their
//! repro commands and report links, then a table per scenario). `junit.xml` is rendered from
//! the same [`Summary`] by [`crate::junit`].
//!
//! `summary.json` is also the input of `faultline merge`, so it carries everything the three
//! files are rendered from; rendering a parsed summary gives back the same bytes. Only
//! `wall_seconds` differs between two invocations of the same runs.

use crate::run_result::Verdict;
use crate::text::{cell, count};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write;

/// Runs listed in `summary.md`'s attention table, at most.
pub const ATTENTION_LISTED_MAX: usize = 200;

/// A run against its scenario's expectation, as `summary.json` spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MetWord {
    Yes,
    No,
    Unjudged,
}

/// One run of the invocation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SummaryRun {
    pub scenario: String,
    pub seed: u64,
    /// `unknown` when the run produced no result.
    pub verdict: Verdict,
    pub met: MetWord,
    /// Why the run did not meet its expectation or could not be judged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub repro: String,
    /// Anomaly name -> instances found.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub anomalies: BTreeMap<String, u64>,
    /// The run's directory relative to the store (`<scenario>/<seed>`), when it was written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir: Option<String>,
    /// The scenario could not be run at all (bad input: exit 2).
    #[serde(default, skip_serializing_if = "is_false")]
    pub bad_input: bool,
    /// Wall-clock seconds the run took (the only field that differs between identical runs).
    pub wall_seconds: f64,
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// Runs by how they compare with their expectation.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub runs: u64,
    pub met: u64,
    pub unmet: u64,
    pub unjudged: u64,
    /// Runs per verdict.
    pub verdicts: BTreeMap<Verdict, u64>,
    /// Anomaly name -> runs that found it.
    pub anomalies: BTreeMap<String, u64>,
}

impl Counts {
    fn add(&mut self, run: &SummaryRun) {
        self.runs += 1;
        match run.met {
            MetWord::Yes => self.met += 1,
            MetWord::No => self.unmet += 1,
            MetWord::Unjudged => self.unjudged += 1,
        }
        *self.verdicts.entry(run.verdict).or_default() += 1;
        for name in run.anomalies.keys() {
            *self.anomalies.entry(name.clone()).or_default() += 1;
        }
    }
}

/// `summary.json`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub counts: Counts,
    /// Scenario name -> its counts.
    pub scenarios: BTreeMap<String, Counts>,
    /// In (scenario, seed) order.
    pub runs: Vec<SummaryRun>,
}

impl Summary {
    /// Counts `runs` and puts them in (scenario, seed) order.
    pub fn new(mut runs: Vec<SummaryRun>) -> Summary {
        runs.sort_by(|a, b| (&a.scenario, a.seed).cmp(&(&b.scenario, b.seed)));
        let mut summary = Summary {
            runs,
            ..Summary::default()
        };
        for run in &summary.runs {
            summary.counts.add(run);
            summary
                .scenarios
                .entry(run.scenario.clone())
                .or_default()
                .add(run);
        }
        summary
    }

    pub fn from_json(text: &str) -> Result<Summary, serde_json::Error> {
        serde_json::from_str(text)
    }
}

/// `summary.json`'s bytes: pretty-printed with a final newline.
pub fn render_summary_json(summary: &Summary) -> String {
    let mut text = serde_json::to_string_pretty(summary).expect("a Summary always serializes");
    text.push('\n');
    text
}

/// `summary.md`'s text.
pub fn render_summary_md(summary: &Summary) -> String {
    let mut md = String::new();
    // Writing to a String cannot fail.
    let _ = write_summary(&mut md, summary);
    md
}

fn outcome(counts: &Counts) -> &'static str {
    if counts.unmet > 0 {
        "FAILED"
    } else if counts.unjudged > 0 {
        "UNJUDGED"
    } else {
        "PASSED"
    }
}

fn write_summary(md: &mut String, summary: &Summary) -> std::fmt::Result {
    let counts = &summary.counts;
    writeln!(md, "# faultline summary: {}\n", outcome(counts))?;
    writeln!(
        md,
        "{} of {}: {} met their expectation, {} did not, {} could not be judged.",
        count(counts.runs, "run", "runs"),
        count(summary.scenarios.len() as u64, "scenario", "scenarios"),
        counts.met,
        counts.unmet,
        counts.unjudged
    )?;
    let attention: Vec<&SummaryRun> = summary
        .runs
        .iter()
        .filter(|run| run.met != MetWord::Yes)
        .collect();
    if !attention.is_empty() {
        writeln!(md, "\n## Runs that need attention\n")?;
        writeln!(
            md,
            "| scenario | seed | verdict | status | why | reproduce | report |\n|---|---|---|---|---|---|---|"
        )?;
        for run in attention.iter().take(ATTENTION_LISTED_MAX) {
            let status = match run.met {
                MetWord::No => "not met",
                _ => "unjudged",
            };
            let report = run
                .dir
                .as_ref()
                .map(|dir| {
                    format!("[report.md]({dir}/report.md), [report.html]({dir}/report.html)")
                })
                .unwrap_or_default();
            writeln!(
                md,
                "| {} | {} | {} | {status} | {} | `{}` | {report} |",
                cell(&run.scenario),
                run.seed,
                run.verdict,
                cell(run.reason.as_deref().unwrap_or("")),
                cell(&run.repro)
            )?;
        }
        if attention.len() > ATTENTION_LISTED_MAX {
            writeln!(
                md,
                "\n{} more are in summary.json.",
                attention.len() - ATTENTION_LISTED_MAX
            )?;
        }
    }
    writeln!(md, "\n## Scenarios\n")?;
    writeln!(
        md,
        "| scenario | runs | met | not met | unjudged | verdicts | anomalies (runs) |\n|---|---|---|---|---|---|---|"
    )?;
    for (scenario, counts) in &summary.scenarios {
        let verdicts: Vec<String> = counts
            .verdicts
            .iter()
            .map(|(verdict, n)| format!("{verdict} {n}"))
            .collect();
        let anomalies: Vec<String> = counts
            .anomalies
            .iter()
            .map(|(name, n)| format!("{name} {n}"))
            .collect();
        writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} |",
            cell(scenario),
            counts.runs,
            counts.met,
            counts.unmet,
            counts.unjudged,
            verdicts.join(", "),
            cell(&anomalies.join(", "))
        )?;
    }
    Ok(())
}
