//! Helpers for the checkers' unit tests: histories are written as JSON Lines, exactly as on
//! disk, so every test doubles as an example of the format.

use super::{CheckOptions, CheckResult, Checker, Verdict};
use crate::history::{parse_history, History};

pub(crate) fn history(jsonl: &str) -> History {
    parse_history(jsonl.as_bytes(), "test.jsonl").unwrap_or_else(|error| panic!("{error}"))
}

pub(crate) fn check(checker: &dyn Checker, jsonl: &str) -> CheckResult {
    checker.check(&history(jsonl), &CheckOptions::default())
}

/// The result is invalid and holds anomalies of exactly these names.
pub(crate) fn assert_exactly(result: &CheckResult, names: &[&str]) {
    let found: Vec<&str> = result.anomalies.keys().map(String::as_str).collect();
    let mut expected = names.to_vec();
    expected.sort_unstable();
    assert_eq!(found, expected, "anomalies: {:#?}", result.anomalies);
    assert_eq!(result.verdict, Verdict::Invalid);
    for list in result.anomalies.values() {
        for anomaly in list {
            assert!(
                !anomaly.ops.is_empty(),
                "an anomaly names its proof: {anomaly:?}"
            );
            assert!(
                anomaly.explanation.ends_with('.'),
                "one sentence: {anomaly:?}"
            );
        }
    }
}

pub(crate) fn assert_valid(result: &CheckResult) {
    assert_eq!(result.verdict, Verdict::Valid, "{:#?}", result.anomalies);
    assert!(result.anomalies.is_empty());
}

/// The result is unknown, with no anomaly; returns the reason.
pub(crate) fn assert_unknown(result: &CheckResult) -> String {
    assert!(result.anomalies.is_empty(), "{:#?}", result.anomalies);
    match &result.verdict {
        Verdict::Unknown => result.reason.clone().expect("an unknown result says why"),
        other => panic!("expected unknown, got {other}"),
    }
}
