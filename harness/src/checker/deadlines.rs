//! `deadlines`: a message with a deadline is applied by its deadline or discarded after it,
//! never the other way round.
//!
//! A send may carry a deadline (simulated ns since the run began, the unit of an op's time):
//! the message may be applied up to and including that instant, and expires after it. A
//! consumer that finds a message past due discards it and records an `expired` event. The
//! deadline of a value is the one its `send` carried.
//!
//! - `late-apply`: an ok `apply` invoked after its value's deadline (invoke time > deadline):
//!   the application certainly happened after the message had expired, so the consumer acted
//!   on a stale message.
//! - `premature-expiry`: an `expired` event at or before its value's deadline, or for a value
//!   whose send carried no deadline (it never expires): a message that should have been
//!   applied was thrown away — it is lost.
//!
//! Values no client sent are ignored here (log-consistency reports what was read of them).
//! Unknown when no send carried a deadline and no consumer expired a message. Linear: one
//! pass, each value looked up in the inferred log's table.

use super::{Anomaly, CheckOptions, CheckResult, Checker, Findings};
use crate::history::{BodyKind, BodyView, History, OpType};

pub const NAME: &str = "deadlines";

/// The anomalies this check reports.
pub const ANOMALIES: &[&str] = &["late-apply", "premature-expiry"];

#[derive(Clone, Copy, Debug, Default)]
pub struct Deadlines;

impl Checker for Deadlines {
    fn name(&self) -> &'static str {
        NAME
    }

    fn anomalies(&self) -> &'static [&'static str] {
        ANOMALIES
    }

    fn applies(&self, history: &History) -> bool {
        history.log().writes.iter().any(|w| w.has_deadline()) || history.has_kind(BodyKind::Expired)
    }

    fn check(&self, history: &History, _opts: &CheckOptions) -> CheckResult {
        let log = history.log();
        let mut findings = Findings::default();
        let mut judged = log.writes.iter().any(|w| w.has_deadline());
        for (op, body) in history.entries_of(&[BodyKind::Apply, BodyKind::Expired]) {
            match (op.kind, body) {
                (OpType::Ok, BodyView::Apply(apply)) => {
                    let Some(write) = log.write_of(apply.key, apply.value) else {
                        continue;
                    };
                    let (Some(deadline), Some(invoke)) =
                        (history.deadline(write), history.invoke_of(op.index))
                    else {
                        continue;
                    };
                    let invoked = history.time(invoke);
                    if invoked > deadline {
                        let key_name = history.key_name(apply.key);
                        findings.add(
                            "late-apply",
                            Anomaly::new(format!(
                                "process {} applied {key_name} value {} (op {}) from {invoked} ns, after its deadline of {deadline} ns set by op {}.",
                                op.process, apply.value, op.index, write.invoke()
                            ))
                            .key(key_name)
                            .value(apply.value)
                            .offsets(apply.offset)
                            .ops([write.invoke(), invoke, op.index])
                            .detail("deadline", deadline)
                            .detail("invoked", invoked)
                            .detail("process", op.process.to_string()),
                        );
                    }
                }
                (OpType::Ok, BodyView::Expired(expired)) => {
                    judged = true;
                    let Some(write) = log.write_of(expired.key, expired.value) else {
                        continue;
                    };
                    let key_name = history.key_name(expired.key);
                    let why = match history.deadline(write) {
                        None => format!(
                            "although its send (op {}) carried no deadline, so it never expires",
                            write.invoke()
                        ),
                        Some(deadline) if op.time <= deadline => format!(
                            "at {} ns, not after its deadline of {deadline} ns set by op {}",
                            op.time,
                            write.invoke()
                        ),
                        Some(_) => continue,
                    };
                    let mut anomaly = Anomaly::new(format!(
                        "process {} discarded {key_name} value {} as expired (op {}) {why}.",
                        op.process, expired.value, op.index
                    ))
                    .key(key_name)
                    .value(expired.value)
                    .offsets(expired.offset)
                    .ops([write.invoke(), op.index])
                    .detail("expired_at", op.time)
                    .detail("process", op.process.to_string());
                    if let Some(deadline) = history.deadline(write) {
                        anomaly = anomaly.detail("deadline", deadline);
                    }
                    findings.add("premature-expiry", anomaly);
                }
                _ => {}
            }
        }
        if !judged {
            findings.doubt(|| {
                "no send carried a deadline and no consumer expired a message".to_string()
            });
        }
        findings.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::testing::{assert_exactly, assert_unknown, assert_valid, check};

    /// orders/0 value 17 (offset 0) must be used by 5000 ns; value 18 (offset 1) never expires.
    const SENT: &str = r#"{"index":0,"time":1000,"process":1,"type":"invoke","f":"send","value":[["send","orders/0",17,{"deadline":5000}],["send","orders/0",18]]}
        {"index":1,"time":2000,"process":1,"type":"ok","f":"send","value":[["send","orders/0",[0,17],{"deadline":5000}],["send","orders/0",[1,18]]]}"#;

    fn after_send(rest: &str) -> String {
        format!("{SENT}\n{rest}")
    }

    #[test]
    fn valid_when_applied_by_the_deadline_and_expired_after_it() {
        // Applied from exactly the deadline (allowed), then expired one tick after it.
        let result = check(
            &Deadlines,
            &after_send(
                r#"{"index":2,"time":5000,"process":2,"type":"invoke","f":"apply","value":{"key":"orders/0","value":17,"offset":0}}
                   {"index":3,"time":6000,"process":2,"type":"ok","f":"apply","value":{"key":"orders/0","value":17,"offset":0}}
                   {"index":4,"time":6000,"process":2,"type":"invoke","f":"apply","value":{"key":"orders/0","value":18,"offset":1}}
                   {"index":5,"time":9000000,"process":2,"type":"ok","f":"apply","value":{"key":"orders/0","value":18,"offset":1}}
                   {"index":6,"time":9000001,"process":3,"type":"ok","f":"expired","value":{"key":"orders/0","value":17,"offset":0}}"#,
            ),
        );
        assert_valid(&result);
    }

    #[test]
    fn late_apply_when_applied_after_the_deadline() {
        let result = check(
            &Deadlines,
            &after_send(
                r#"{"index":2,"time":5001,"process":2,"type":"invoke","f":"apply","value":{"key":"orders/0","value":17,"offset":0}}
                   {"index":3,"time":6000,"process":2,"type":"ok","f":"apply","value":{"key":"orders/0","value":17,"offset":0}}"#,
            ),
        );
        assert_exactly(&result, &["late-apply"]);
        let late = &result.anomalies["late-apply"][0];
        assert_eq!(
            (late.value, late.ops.as_slice()),
            (Some(17), &[0, 2, 3][..])
        );
        assert_eq!(late.detail["deadline"], 5000);
    }

    #[test]
    fn an_apply_invoked_in_time_is_not_late_even_if_it_completes_after() {
        let result = check(
            &Deadlines,
            &after_send(
                r#"{"index":2,"time":4000,"process":2,"type":"invoke","f":"apply","value":{"key":"orders/0","value":17,"offset":0}}
                   {"index":3,"time":8000,"process":2,"type":"ok","f":"apply","value":{"key":"orders/0","value":17,"offset":0}}
                   {"index":4,"time":8000,"process":2,"type":"invoke","f":"apply","value":{"key":"orders/0","value":19}}
                   {"index":5,"time":8000,"process":2,"type":"ok","f":"apply","value":{"key":"orders/0","value":19}}"#,
            ),
        );
        assert_valid(&result);
    }

    #[test]
    fn premature_expiry_at_the_deadline() {
        let result = check(
            &Deadlines,
            &after_send(
                r#"{"index":2,"time":5000,"process":2,"type":"ok","f":"expired","value":{"key":"orders/0","value":17,"offset":0}}"#,
            ),
        );
        assert_exactly(&result, &["premature-expiry"]);
        let early = &result.anomalies["premature-expiry"][0];
        assert_eq!((early.value, early.ops.as_slice()), (Some(17), &[0, 2][..]));
    }

    #[test]
    fn premature_expiry_of_a_message_without_a_deadline() {
        let result = check(
            &Deadlines,
            &after_send(
                r#"{"index":2,"time":9000,"process":2,"type":"ok","f":"expired","value":{"key":"orders/0","value":18}}"#,
            ),
        );
        assert_exactly(&result, &["premature-expiry"]);
        let early = &result.anomalies["premature-expiry"][0];
        assert_eq!(early.value, Some(18));
        assert!(
            early.explanation.contains("carried no deadline"),
            "{early:?}"
        );
    }

    #[test]
    fn values_never_sent_are_left_to_other_checks() {
        let result = check(
            &Deadlines,
            &after_send(
                r#"{"index":2,"time":3000,"process":2,"type":"ok","f":"expired","value":{"key":"orders/0","value":99}}"#,
            ),
        );
        assert_valid(&result);
    }

    #[test]
    fn unknown_without_deadlines_or_expiries() {
        let result = check(
            &Deadlines,
            r#"{"index":0,"time":1000,"process":1,"type":"invoke","f":"send","value":[["send","orders/0",17]]}
               {"index":1,"time":2000,"process":1,"type":"ok","f":"send","value":[["send","orders/0",[0,17]]]}"#,
        );
        assert_unknown(&result);
    }
}
