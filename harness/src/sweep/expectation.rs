//! Whether a run met its scenario's `expect`: `valid` wants a valid verdict; `invalid: [names]`
//! wants every named anomaly found (other anomalies may come along).

use crate::scenario::{Expectation, Keyword};
use reports::{RunResult, Verdict};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Met {
    Yes,
    /// The run contradicts the expectation (exit 1).
    No(String),
    /// The run could not be judged (exit 3).
    Unjudged(String),
}

pub fn judge(expect: &Expectation, result: &RunResult) -> Met {
    match expect {
        Expectation::Valid => match result.verdict {
            Verdict::Valid => Met::Yes,
            Verdict::Invalid => {
                let names: Vec<&str> = result.anomalies.keys().map(String::as_str).collect();
                Met::No(format!("expected valid, found {}", names.join(", ")))
            }
            Verdict::Unknown => Met::Unjudged(
                result
                    .reasons
                    .values()
                    .next()
                    .cloned()
                    .unwrap_or_else(|| "a check could not decide".into()),
            ),
        },
        Expectation::Invalid(names) => {
            let missing: Vec<&str> = names
                .iter()
                .map(|name| name.as_str())
                .filter(|name| !result.anomalies.contains_key(*name))
                .collect();
            if missing.is_empty() {
                Met::Yes
            } else if result.verdict == Verdict::Unknown {
                Met::Unjudged(format!(
                    "expected {} but a check could not decide",
                    missing.join(", ")
                ))
            } else {
                Met::No(format!(
                    "expected {} but it was not found",
                    missing.join(", ")
                ))
            }
        }
    }
}
