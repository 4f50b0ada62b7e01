//! `liveness`: after every fault is lifted, the cluster serves clients again within the
//! scenario's `recovery` bound (design.md section 7).
//!
//! - `no-recovery`: sends or polls were invoked after the heal, the history runs past
//!   heal + recovery, yet no send, poll or txn invoked at or after the heal completed `ok` by
//!   the deadline.
//!
//! The heal is the last `heal` marker, else the last `stop-*` nemesis op. Without a heal, when
//! the history ends before the deadline, or when no client tried anything in the window, the
//! check cannot decide: `unknown`.

use super::{Anomaly, CheckOptions, CheckResult, Checker, Findings};
use crate::history::{History, OpType, Process, F};

pub const NAME: &str = "liveness";

/// The anomalies this check reports.
pub const ANOMALIES: &[&str] = &["no-recovery"];

/// At most this many failed attempts are named as proof.
const ATTEMPTS_LISTED_MAX: usize = 8;

#[derive(Clone, Copy, Debug, Default)]
pub struct Liveness;

impl Checker for Liveness {
    fn name(&self) -> &'static str {
        NAME
    }

    fn anomalies(&self) -> &'static [&'static str] {
        ANOMALIES
    }

    fn applies(&self, history: &History) -> bool {
        history.heal().is_some()
    }

    fn check(&self, history: &History, opts: &CheckOptions) -> CheckResult {
        let mut findings = Findings::default();
        let Some(heal) = history.heal() else {
            findings.doubt(|| {
                "the history has no heal (no \"heal\" marker and no \"stop-*\" nemesis op)"
                    .to_string()
            });
            return findings.finish();
        };
        let recovery_ns = u64::try_from(opts.recovery.as_nanos()).unwrap_or(u64::MAX);
        let deadline = heal.time.saturating_add(recovery_ns);
        let mut attempts: Vec<u64> = Vec::new();
        let mut attempts_count = 0u64;
        let mut recovered = false;
        // From the op after the heal, by index: skipping an iterator's ops would build the
        // head of every op before the heal.
        for op in (heal.index + 1..history.len() as u64).map(|index| history.op(index)) {
            if op.time > deadline {
                break;
            }
            if !matches!(op.process, Process::Client(_))
                || !matches!(op.f, F::Send | F::Poll | F::Txn)
            {
                continue;
            }
            match op.kind {
                OpType::Invoke => {
                    attempts_count += 1;
                    if attempts.len() < ATTEMPTS_LISTED_MAX {
                        attempts.push(op.index);
                    }
                }
                OpType::Ok => {
                    let invoked_after_heal = history
                        .invoke_of(op.index)
                        .is_some_and(|invoke| history.time(invoke) >= heal.time);
                    if invoked_after_heal {
                        recovered = true;
                        break;
                    }
                }
                _ => {}
            }
        }
        let recovery = opts.recovery;
        if recovered {
            return findings.finish();
        }
        if history.time_end() < deadline {
            findings.doubt(|| {
                format!(
                    "the history ends {:?} after the heal (op {}), before the recovery bound of {recovery:?} ran out",
                    std::time::Duration::from_nanos(history.time_end() - heal.time),
                    heal.index
                )
            });
        } else if attempts_count == 0 {
            findings.doubt(|| {
                format!(
                    "no client invoked a send or poll within {recovery:?} after the heal (op {})",
                    heal.index
                )
            });
        } else {
            findings.add(
                "no-recovery",
                Anomaly::new(format!(
                    "no send or poll succeeded within {recovery:?} after the heal (op {}) although clients tried {attempts_count} times.",
                    heal.index
                ))
                .ops(std::iter::once(heal.index).chain(attempts))
                .detail("heal_time", heal.time)
                .detail("deadline", deadline)
                .detail("attempts", attempts_count),
            );
        }
        findings.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::testing::{assert_exactly, assert_unknown, assert_valid, history};
    use std::time::Duration;

    fn check(jsonl: &str, recovery: Duration) -> CheckResult {
        Liveness.check(&history(jsonl), &CheckOptions { recovery })
    }

    const FAULT: &str = r#"{"index":0,"time":1000000000,"process":"nemesis","type":"info","f":"start-partition","value":{"isolate":"broker-2"}}
        {"index":1,"time":5000000000,"process":"nemesis","type":"info","f":"stop-partition","value":null}
        {"index":2,"time":5000000000,"process":"nemesis","type":"info","f":"heal","value":null}"#;

    fn with_fault(rest: &str) -> String {
        format!("{FAULT}\n{rest}")
    }

    #[test]
    fn valid_when_a_send_succeeds_within_the_bound() {
        let result = check(
            &with_fault(
                r#"{"index":3,"time":6000000000,"process":1,"type":"invoke","f":"send","value":[["send","orders/0",17]]}
                   {"index":4,"time":7000000000,"process":1,"type":"ok","f":"send","value":[["send","orders/0",[0,17]]]}"#,
            ),
            Duration::from_secs(10),
        );
        assert_valid(&result);
    }

    #[test]
    fn no_recovery_when_nothing_succeeds_in_time() {
        let result = check(
            &with_fault(
                r#"{"index":3,"time":6000000000,"process":1,"type":"invoke","f":"send","value":[["send","orders/0",17]]}
                   {"index":4,"time":8000000000,"process":1,"type":"info","f":"send","value":[["send","orders/0",17]]}
                   {"index":5,"time":8000000000,"process":2,"type":"invoke","f":"poll","value":[["poll"]]}
                   {"index":6,"time":9000000000,"process":2,"type":"fail","f":"poll","value":[["poll"]]}
                   {"index":7,"time":30000000000,"process":3,"type":"invoke","f":"send","value":[["send","orders/0",18]]}
                   {"index":8,"time":31000000000,"process":3,"type":"ok","f":"send","value":[["send","orders/0",[0,18]]]}"#,
            ),
            Duration::from_secs(10),
        );
        assert_exactly(&result, &["no-recovery"]);
        assert_eq!(result.anomalies["no-recovery"][0].ops, vec![2, 3, 5]);
    }

    #[test]
    fn unknown_when_the_history_ends_before_the_deadline() {
        let result = check(
            &with_fault(
                r#"{"index":3,"time":6000000000,"process":1,"type":"invoke","f":"send","value":[["send","orders/0",17]]}
                   {"index":4,"time":8000000000,"process":1,"type":"fail","f":"send","value":[["send","orders/0",17]]}"#,
            ),
            Duration::from_secs(10),
        );
        assert_unknown(&result);
    }

    #[test]
    fn the_last_stop_is_the_heal_without_a_marker() {
        let result = check(
            r#"{"index":0,"time":1000000000,"process":"nemesis","type":"info","f":"start-clog","value":null}
               {"index":1,"time":2000000000,"process":"nemesis","type":"info","f":"stop-clog","value":null}
               {"index":2,"time":2500000000,"process":1,"type":"invoke","f":"poll","value":[["poll"]]}
               {"index":3,"time":2600000000,"process":1,"type":"ok","f":"poll","value":[["poll",{}]]}"#,
            Duration::from_secs(1),
        );
        assert_valid(&result);
    }

    #[test]
    fn unknown_without_a_heal() {
        let result = check(
            r#"{"index":0,"time":1000,"process":1,"type":"invoke","f":"poll","value":[["poll"]]}
               {"index":1,"time":2000,"process":1,"type":"ok","f":"poll","value":[["poll",{}]]}"#,
            Duration::from_secs(1),
        );
        assert_unknown(&result);
    }
}
