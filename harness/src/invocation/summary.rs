//! What one invocation leaves at the top of the store: `summary.json` (every run, stable
//! order), `summary.md` (failures first, with their repro commands) and `junit.xml` (one
//! testcase per scenario × seed; a failure's message carries the repro command).

use crate::invocation::expectation::Met;
use crate::invocation::one_run::RunRecord;
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::time::Duration;

#[derive(Serialize)]
struct SummaryRun<'a> {
    scenario: &'a str,
    seed: u64,
    verdict: &'a str,
    met: &'a str,
    reason: Option<&'a str>,
    repro: &'a str,
}

fn met_words(met: &Met) -> (&'static str, Option<&str>) {
    match met {
        Met::Yes => ("yes", None),
        Met::No(reason) => ("no", Some(reason)),
        Met::Unjudged(reason) => ("unjudged", Some(reason)),
    }
}

fn verdict(record: &RunRecord) -> &'static str {
    record
        .result
        .as_ref()
        .map_or("unknown", |result| result.verdict.as_str())
}

pub fn write(out: &Path, records: &[RunRecord]) -> io::Result<()> {
    std::fs::create_dir_all(out)?;
    let runs: Vec<SummaryRun> = records
        .iter()
        .map(|record| {
            let (met, reason) = met_words(&record.met);
            SummaryRun {
                scenario: &record.scenario,
                seed: record.seed,
                verdict: verdict(record),
                met,
                reason,
                repro: &record.repro,
            }
        })
        .collect();
    let counts = records.iter().fold(BTreeMap::new(), |mut counts, record| {
        *counts.entry(met_words(&record.met).0).or_insert(0u64) += 1;
        counts
    });
    let summary = serde_json::json!({"runs": runs, "counts": counts});
    std::fs::write(
        out.join("summary.json"),
        serde_json::to_string_pretty(&summary)? + "\n",
    )?;

    let mut markdown = format!(
        "# faultline summary\n\n{} runs: {} met their expectation, {} did not, {} could not be judged.\n\n",
        records.len(),
        counts.get("yes").unwrap_or(&0),
        counts.get("no").unwrap_or(&0),
        counts.get("unjudged").unwrap_or(&0)
    );
    let failing: Vec<&RunRecord> = records.iter().filter(|r| r.met != Met::Yes).collect();
    if !failing.is_empty() {
        markdown
            .push_str("| scenario | seed | verdict | why | reproduce |\n|---|---|---|---|---|\n");
        for record in failing {
            let (_, reason) = met_words(&record.met);
            markdown.push_str(&format!(
                "| {} | {} | {} | {} | `{}` |\n",
                record.scenario,
                record.seed,
                verdict(record),
                reason.unwrap_or(""),
                record.repro
            ));
        }
    }
    std::fs::write(out.join("summary.md"), markdown)?;

    let mut suites: BTreeMap<&str, Vec<&RunRecord>> = BTreeMap::new();
    for record in records {
        suites
            .entry(record.scenario.as_str())
            .or_default()
            .push(record);
    }
    let mut report = Report::new("faultline");
    for (scenario, records) in suites {
        let mut suite = TestSuite::new(scenario);
        for record in records {
            let status = match &record.met {
                Met::Yes => TestCaseStatus::success(),
                Met::No(reason) => {
                    let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    status.set_message(format!("{reason} — reproduce: {}", record.repro));
                    status
                }
                Met::Unjudged(reason) => {
                    let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
                    status.set_message(format!("{reason} — reproduce: {}", record.repro));
                    status
                }
            };
            let mut case = TestCase::new(format!("seed-{}", record.seed), status);
            case.set_classname(scenario);
            case.set_time(Duration::from_secs_f64(record.wall_seconds.max(0.0)));
            suite.add_test_case(case);
        }
        report.add_test_suite(suite);
    }
    let xml = report
        .to_string()
        .map_err(|e| io::Error::other(e.to_string()))?;
    std::fs::write(out.join("junit.xml"), xml)
}
