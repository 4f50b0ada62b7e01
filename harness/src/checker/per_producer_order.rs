//! `per-producer-order`: one producer's acknowledged sends to a key land in the order sent.
//!
//! - `nonmonotonic-send`: a process's later send op lands at an offset of the same key no
//!   higher than an earlier send op's: the log reordered or truncated and re-appended.
//! - `int-nonmonotonic-send`: the same, between two micro-ops of one op (one batch).
//! - `int-send-skip`: two successive micro-ops of one op to one key landed with another known
//!   value between them: a batch was interleaved with someone else's writes.
//! - `sequence-gap`: the consumer's loss-detector interceptor saw a producer's sequence numbers
//!   jump (design.md section 6); each event it recorded is one anomaly.
//!
//! Only ok sends with known offsets can be ordered; if there are sends but none of them has an
//! offset, the verdict is `unknown`. A process's state is a handful of keys, kept in a small
//! vector per process slot; the whole check is one pass.

use super::{Anomaly, CheckOptions, CheckResult, Checker, Findings};
use crate::history::{Body, History, KeyId, Mop, OpType, WriteKind, F};

pub const NAME: &str = "per-producer-order";

/// The anomalies this check reports.
pub const ANOMALIES: &[&str] = &[
    "nonmonotonic-send",
    "int-nonmonotonic-send",
    "int-send-skip",
    "sequence-gap",
];

#[derive(Clone, Copy, Debug, Default)]
pub struct PerProducerOrder;

impl Checker for PerProducerOrder {
    fn name(&self) -> &'static str {
        NAME
    }

    fn anomalies(&self) -> &'static [&'static str] {
        ANOMALIES
    }

    fn applies(&self, history: &History) -> bool {
        history
            .log()
            .writes
            .iter()
            .any(|write| write.kind == WriteKind::Send)
            || history.ops().iter().any(|op| op.f == F::SequenceGap)
    }

    fn check(&self, history: &History, _opts: &CheckOptions) -> CheckResult {
        let log = history.log();
        let mut findings = Findings::default();
        // Per process slot: (key, last offset, op) of its latest ok send op to that key.
        let mut last: Vec<Vec<(KeyId, u64, u64)>> = vec![Vec::new(); history.slot_count()];
        let mut in_op: Vec<(KeyId, u64)> = Vec::new();
        let mut ordered = 0u64;

        for (op, body) in history.entries() {
            if let Body::SequenceGap(gap) = body {
                let key_name = history.key_name(gap.key);
                let missing = gap.got.saturating_sub(gap.expected);
                findings.add(
                    "sequence-gap",
                    Anomaly::new(format!(
                        "the consumer's loss detector expected sequence {} from producer {} on {key_name} but got {} ({missing} missing).",
                        gap.expected, gap.producer, gap.got
                    ))
                    .key(key_name)
                    .ops([op.index])
                    .detail("producer", gap.producer)
                    .detail("expected", gap.expected)
                    .detail("got", gap.got),
                );
                continue;
            }
            if op.kind != OpType::Ok || !matches!(op.f, F::Send | F::Txn) {
                continue;
            }
            let slot = history.slot(op.index);
            in_op.clear();
            for mop in body.mops() {
                let Mop::Send(send) = mop else { continue };
                let Some(offset) = send.offset else { continue };
                ordered += 1;
                let key_name = history.key_name(send.key);
                match in_op.iter_mut().find(|(key, _)| *key == send.key) {
                    Some((_, previous)) => {
                        if offset <= *previous {
                            findings.add(
                                "int-nonmonotonic-send",
                                Anomaly::new(format!(
                                    "op {} sent to {key_name} twice, and the later micro-op (value {}) landed at offset {offset}, not after the earlier one's offset {previous}.",
                                    op.index, send.value
                                ))
                                .key(key_name)
                                .value(send.value)
                                .offsets([*previous, offset])
                                .ops([op.index]),
                            );
                        } else if let Some(between) =
                            log.key(send.key).known_between(*previous, offset)
                        {
                            findings.add(
                                "int-send-skip",
                                Anomaly::new(format!(
                                    "op {} sent to {key_name} at offsets {previous} and then {offset} (value {}), but offset {between} between them holds another value.",
                                    op.index, send.value
                                ))
                                .key(key_name)
                                .value(send.value)
                                .offsets([*previous, between, offset])
                                .ops([op.index]),
                            );
                        }
                        *previous = offset;
                    }
                    None => {
                        if let Some(&(_, earlier, earlier_op)) =
                            last[slot].iter().find(|(key, _, _)| *key == send.key)
                        {
                            if offset <= earlier {
                                findings.add(
                                    "nonmonotonic-send",
                                    Anomaly::new(format!(
                                        "process {} sent {key_name} value {} at offset {offset} (op {}), not after its earlier send at offset {earlier} (op {earlier_op}).",
                                        op.process, send.value, op.index
                                    ))
                                    .key(key_name)
                                    .value(send.value)
                                    .offsets([earlier, offset])
                                    .ops([earlier_op, op.index])
                                    .detail("process", op.process.to_string()),
                                );
                            }
                        }
                        in_op.push((send.key, offset));
                    }
                }
            }
            for &(key, offset) in &in_op {
                match last[slot].iter_mut().find(|(k, _, _)| *k == key) {
                    Some(entry) => *entry = (key, offset, op.index),
                    None => last[slot].push((key, offset, op.index)),
                }
            }
        }

        if ordered == 0 && findings.is_clean() {
            findings.doubt(|| {
                "no acknowledged send carries an offset, so send order cannot be judged".to_string()
            });
        }
        findings.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::testing::{assert_exactly, assert_unknown, assert_valid, check};

    #[test]
    fn valid_when_sends_land_in_order() {
        let result = check(
            &PerProducerOrder,
            r#"{"index":0,"time":1000,"process":1,"type":"invoke","f":"send","value":[["send","orders/0",17],["send","orders/0",18]]}
               {"index":1,"time":2000,"process":1,"type":"ok","f":"send","value":[["send","orders/0",[0,17]],["send","orders/0",[1,18]]]}
               {"index":2,"time":3000,"process":1,"type":"invoke","f":"send","value":[["send","orders/0",19]]}
               {"index":3,"time":4000,"process":1,"type":"ok","f":"send","value":[["send","orders/0",[2,19]]]}"#,
        );
        assert_valid(&result);
    }

    #[test]
    fn nonmonotonic_send_when_a_later_op_lands_lower() {
        let result = check(
            &PerProducerOrder,
            r#"{"index":0,"time":1000,"process":1,"type":"invoke","f":"send","value":[["send","orders/0",17]]}
               {"index":1,"time":2000,"process":1,"type":"ok","f":"send","value":[["send","orders/0",[5,17]]]}
               {"index":2,"time":3000,"process":1,"type":"invoke","f":"send","value":[["send","orders/0",18]]}
               {"index":3,"time":4000,"process":1,"type":"ok","f":"send","value":[["send","orders/0",[3,18]]]}"#,
        );
        assert_exactly(&result, &["nonmonotonic-send"]);
        assert_eq!(result.anomalies["nonmonotonic-send"][0].ops, vec![1, 3]);
    }

    #[test]
    fn another_process_writing_lower_is_not_nonmonotonic() {
        let result = check(
            &PerProducerOrder,
            r#"{"index":0,"time":1000,"process":1,"type":"invoke","f":"send","value":[["send","orders/0",17]]}
               {"index":1,"time":2000,"process":1,"type":"ok","f":"send","value":[["send","orders/0",[5,17]]]}
               {"index":2,"time":3000,"process":2,"type":"invoke","f":"send","value":[["send","orders/0",18]]}
               {"index":3,"time":4000,"process":2,"type":"ok","f":"send","value":[["send","orders/0",[3,18]]]}"#,
        );
        assert_valid(&result);
    }

    #[test]
    fn int_nonmonotonic_send_within_one_batch() {
        let result = check(
            &PerProducerOrder,
            r#"{"index":0,"time":1000,"process":1,"type":"invoke","f":"send","value":[["send","orders/0",17],["send","orders/0",18]]}
               {"index":1,"time":2000,"process":1,"type":"ok","f":"send","value":[["send","orders/0",[6,17]],["send","orders/0",[5,18]]]}"#,
        );
        assert_exactly(&result, &["int-nonmonotonic-send"]);
    }

    #[test]
    fn int_send_skip_when_a_batch_is_interleaved() {
        let result = check(
            &PerProducerOrder,
            r#"{"index":0,"time":1000,"process":1,"type":"invoke","f":"txn","value":[["send","orders/0",17],["send","orders/0",18]]}
               {"index":1,"time":1500,"process":2,"type":"invoke","f":"send","value":[["send","orders/0",19]]}
               {"index":2,"time":2000,"process":2,"type":"ok","f":"send","value":[["send","orders/0",[1,19]]]}
               {"index":3,"time":3000,"process":1,"type":"ok","f":"txn","value":[["send","orders/0",[0,17]],["send","orders/0",[2,18]]]}"#,
        );
        assert_exactly(&result, &["int-send-skip"]);
        assert_eq!(result.anomalies["int-send-skip"][0].offsets, vec![0, 1, 2]);
    }

    #[test]
    fn sequence_gap_from_the_interceptor() {
        let result = check(
            &PerProducerOrder,
            r#"{"index":0,"time":1000,"process":1,"type":"invoke","f":"send","value":[["send","orders/0",17]]}
               {"index":1,"time":2000,"process":1,"type":"ok","f":"send","value":[["send","orders/0",[0,17]]]}
               {"index":2,"time":3000,"process":2,"type":"info","f":"sequence-gap","value":{"key":"orders/0","producer":7,"expected":3,"got":5}}"#,
        );
        assert_exactly(&result, &["sequence-gap"]);
        assert_eq!(result.anomalies["sequence-gap"][0].detail["got"], 5);
    }

    #[test]
    fn unknown_when_no_send_has_an_offset() {
        let result = check(
            &PerProducerOrder,
            r#"{"index":0,"time":1000,"process":1,"type":"invoke","f":"send","value":[["send","orders/0",17]]}
               {"index":1,"time":2000,"process":1,"type":"ok","f":"send","value":[["send","orders/0",[null,17]]]}"#,
        );
        assert_unknown(&result);
    }
}
