//! `junit.xml`: one test suite per scenario, one test case per seed (`seed-42`). A run that did
//! not meet its expectation is a failure, one that could not be judged an error; either way the
//! message ends with the command that replays it, and the body names the anomalies and the
//! run's report, so a CI page shows a person what to paste.

use crate::summary::{MetWord, Summary, SummaryRun};
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use std::collections::BTreeMap;
use std::time::Duration;

/// quick-junit could not write the XML.
#[derive(Debug, thiserror::Error)]
#[error("cannot render junit.xml: {0}")]
pub struct JunitError(String);

/// `junit.xml`'s text.
pub fn render_junit(summary: &Summary) -> Result<String, JunitError> {
    let mut suites: BTreeMap<&str, Vec<&SummaryRun>> = BTreeMap::new();
    for run in &summary.runs {
        suites.entry(run.scenario.as_str()).or_default().push(run);
    }
    let mut report = Report::new("faultline");
    for (scenario, runs) in suites {
        let mut suite = TestSuite::new(scenario);
        for run in runs {
            let mut case = TestCase::new(format!("seed-{}", run.seed), status(run));
            case.set_classname(scenario);
            let wall = if run.wall_seconds.is_finite() {
                run.wall_seconds.max(0.0)
            } else {
                0.0
            };
            case.set_time(Duration::from_secs_f64(wall));
            suite.add_test_case(case);
        }
        report.add_test_suite(suite);
    }
    report
        .to_string()
        .map_err(|error| JunitError(error.to_string()))
}

fn status(run: &SummaryRun) -> TestCaseStatus {
    let kind = match run.met {
        MetWord::Yes => return TestCaseStatus::success(),
        MetWord::No => NonSuccessKind::Failure,
        MetWord::Unjudged => NonSuccessKind::Error,
    };
    let reason = run.reason.as_deref().unwrap_or("no reason recorded");
    let mut status = TestCaseStatus::non_success(kind);
    status.set_message(format!("{reason} — reproduce: {}", run.repro));
    let mut body = format!("verdict: {}\n", run.verdict);
    if !run.anomalies.is_empty() {
        let anomalies: Vec<String> = run
            .anomalies
            .iter()
            .map(|(name, n)| format!("{name} ×{n}"))
            .collect();
        body.push_str(&format!("anomalies: {}\n", anomalies.join(", ")));
    }
    if let Some(dir) = &run.dir {
        body.push_str(&format!("report: {dir}/report.md ({dir}/report.html)\n"));
    }
    body.push_str(&format!("reproduce: {}\n", run.repro));
    status.set_description(body);
    status
}
