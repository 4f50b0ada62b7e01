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
//! A send's position is its acknowledged offset, else the offset a poll read its value at
//! (the inferred log's version order), so sends whose acknowledgement was lost (info, or a
//! `null` offset) are still ordered once read. The `int-` anomalies are judged within every
//! completed op (ok, info or fail), pairwise between successive sends to one key, as Jepsen
//! does; `nonmonotonic-send` compares the first send of an ok or info op with the last send of
//! the process's previous such op to the same key. A process id used again after an `info` is a
//! new logical process. If no send's position is known, the verdict is `unknown`. A process's
//! state is a handful of keys, kept in a small vector per process slot; the whole check is one
//! pass over the writes.

use super::{Anomaly, CheckOptions, CheckResult, Checker, Findings};
use crate::history::{BodyKind, BodyView, History, KeyId, Outcome, WriteKind, F};

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
            .any(|write| write.kind() == WriteKind::Send)
            || history.ops().iter().any(|op| op.f == F::SequenceGap)
    }

    fn check(&self, history: &History, _opts: &CheckOptions) -> CheckResult {
        let log = history.log();
        let mut findings = Findings::default();

        for (op, body) in history.entries_of(&[BodyKind::SequenceGap]) {
            let BodyView::SequenceGap(gap) = body else {
                continue;
            };
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
        }

        // Per logical process slot: (key, position of the last value its latest ok or info
        // send op sent there, that op).
        let mut last: Vec<Vec<(KeyId, Option<u64>, u64)>> = vec![Vec::new(); history.slot_count()];
        let mut in_op: Vec<InOp> = Vec::new();
        let mut ordered = 0u64;

        // An op's writes are contiguous and in invoke order, which is each process's op order.
        for group in log.writes.chunk_by(|a, b| a.invoke() == b.invoke()) {
            let first = &group[0];
            if first.kind() != WriteKind::Send {
                continue;
            }
            // An invoke that never completed is an info.
            let op_index = first.completion().unwrap_or(first.invoke());
            // Only an anomaly names the process: its head is built then.
            let process = || history.op(first.invoke()).process;
            let slot = history.slot(first.invoke());
            in_op.clear();
            for write in group {
                let position = log.position(write);
                ordered += u64::from(position.is_some());
                let Some(entry) = in_op.iter_mut().find(|entry| entry.key == write.key) else {
                    in_op.push(InOp {
                        key: write.key,
                        first: (position, write.value),
                        last: position,
                    });
                    continue;
                };
                // Like Jepsen, successive sends of one op to one key are compared pairwise,
                // and a pair with an unknown position says nothing.
                if let (Some(previous), Some(offset)) = (entry.last, position) {
                    if offset <= previous {
                        let key_name = history.key_name(write.key);
                        findings.add(
                            "int-nonmonotonic-send",
                            Anomaly::new(format!(
                                "op {op_index} sent to {key_name} twice, and the later micro-op (value {}) landed at offset {offset}, not after the earlier one's offset {previous}.",
                                write.value
                            ))
                            .key(key_name)
                            .value(write.value)
                            .offsets([previous, offset])
                            .ops([op_index]),
                        );
                    } else if let Some(between) = log.key(write.key).known_between(previous, offset)
                    {
                        let key_name = history.key_name(write.key);
                        findings.add(
                            "int-send-skip",
                            Anomaly::new(format!(
                                "op {op_index} sent to {key_name} at offsets {previous} and then {offset} (value {}), but offset {between} between them holds another value.",
                                write.value
                            ))
                            .key(key_name)
                            .value(write.value)
                            .offsets([previous, between, offset])
                            .ops([op_index]),
                        );
                    }
                }
                entry.last = position;
            }
            // A failed op sent nothing, so it does not move the process's position.
            if first.outcome() == Outcome::Fail {
                continue;
            }
            for entry in &in_op {
                let slot_last = &mut last[slot];
                let earlier = slot_last.iter_mut().find(|(key, _, _)| *key == entry.key);
                if let Some(&mut (_, Some(earlier), earlier_op)) = earlier {
                    if let (Some(offset), value) = entry.first {
                        if offset <= earlier {
                            let key_name = history.key_name(entry.key);
                            let process = process();
                            findings.add(
                                "nonmonotonic-send",
                                Anomaly::new(format!(
                                    "process {process} sent {key_name} value {value} at offset {offset} (op {op_index}), not after its earlier send at offset {earlier} (op {earlier_op})."
                                ))
                                .key(key_name)
                                .value(value)
                                .offsets([earlier, offset])
                                .ops([earlier_op, op_index])
                                .detail("process", process.to_string()),
                            );
                        }
                    }
                }
                match slot_last.iter_mut().find(|(key, _, _)| *key == entry.key) {
                    Some(known) => *known = (entry.key, entry.last, op_index),
                    None => slot_last.push((entry.key, entry.last, op_index)),
                }
            }
        }

        if ordered == 0 && findings.is_clean() {
            findings.doubt(|| {
                "no send's position is known (no acknowledged offset, no poll read one), so send order cannot be judged".to_string()
            });
        }
        findings.finish()
    }
}

/// One key of the op being judged.
struct InOp {
    key: KeyId,
    /// Position and value of the op's first send to the key.
    first: (Option<u64>, i64),
    /// Position of its latest send to the key.
    last: Option<u64>,
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

    /// Process 1's op `F` (`TYPE`) sent orders/0 17 then 18 without learning offsets;
    /// process 2 sent 19 at offset `OTHER`; `POLL` is what a poll read of orders/0.
    fn positions_from_polls(f: &str, kind: &str, other: u64, poll: &str) -> String {
        format!(
            r#"{{"index":0,"time":1000,"process":1,"type":"invoke","f":"{f}","value":[["send","orders/0",17],["send","orders/0",18]]}}
               {{"index":1,"time":1500,"process":2,"type":"invoke","f":"send","value":[["send","orders/0",19]]}}
               {{"index":2,"time":2000,"process":2,"type":"ok","f":"send","value":[["send","orders/0",[{other},19]]]}}
               {{"index":3,"time":3000,"process":1,"type":"{kind}","f":"{f}","value":[["send","orders/0",17],["send","orders/0",18]]}}
               {{"index":4,"time":4000,"process":3,"type":"invoke","f":"poll","value":[["poll"]]}}
               {{"index":5,"time":5000,"process":3,"type":"ok","f":"poll","value":[["poll",{{"orders/0":{poll}}}]]}}"#
        )
    }

    #[test]
    fn int_send_skip_from_positions_polls_read() {
        for (f, kind) in [("send", "info"), ("txn", "info"), ("send", "fail")] {
            let result = check(
                &PerProducerOrder,
                &positions_from_polls(f, kind, 1, "[[0,17],[1,19],[2,18]]"),
            );
            assert_exactly(&result, &["int-send-skip"]);
            assert_eq!(result.anomalies["int-send-skip"][0].offsets, vec![0, 1, 2]);
            assert_eq!(result.anomalies["int-send-skip"][0].ops, vec![3]);
            // Near-identical: the batch landed together.
            let result = check(
                &PerProducerOrder,
                &positions_from_polls(f, kind, 2, "[[0,17],[1,18],[2,19]]"),
            );
            assert_valid(&result);
        }
    }

    #[test]
    fn int_nonmonotonic_send_from_positions_polls_read() {
        let result = check(
            &PerProducerOrder,
            &positions_from_polls("send", "info", 1, "[[1,19],[2,18],[3,17]]"),
        );
        assert_exactly(&result, &["int-nonmonotonic-send"]);
        assert_eq!(
            result.anomalies["int-nonmonotonic-send"][0].offsets,
            vec![3, 2]
        );
    }

    #[test]
    fn int_send_skip_from_offsets_known_within_the_op() {
        // Ok sends with offsets, judged against what polls read between them.
        let result = check(
            &PerProducerOrder,
            r#"{"index":0,"time":1000,"process":1,"type":"invoke","f":"send","value":[["send","orders/0",17],["send","orders/0",18]]}
               {"index":1,"time":2000,"process":1,"type":"ok","f":"send","value":[["send","orders/0",[0,17]],["send","orders/0",[2,18]]]}
               {"index":2,"time":3000,"process":3,"type":"invoke","f":"poll","value":[["poll"]]}
               {"index":3,"time":4000,"process":3,"type":"ok","f":"poll","value":[["poll",{"orders/0":[[1,99]]}]]}"#,
        );
        assert_exactly(&result, &["int-send-skip"]);
    }

    /// Process 1 sends orders/0 at offset 5 (ok), then `MIDDLE`, then sends again and lands
    /// at offset 3.
    fn around(middle: &str) -> String {
        format!(
            r#"{{"index":0,"time":1000,"process":1,"type":"invoke","f":"send","value":[["send","orders/0",17]]}}
               {{"index":1,"time":2000,"process":1,"type":"ok","f":"send","value":[["send","orders/0",[5,17]]]}}
               {{"index":2,"time":3000,"process":1,"type":"invoke","f":"send","value":[["send","orders/0",18]]}}
               {middle}
               {{"index":4,"time":5000,"process":1,"type":"invoke","f":"send","value":[["send","orders/0",19]]}}
               {{"index":5,"time":6000,"process":1,"type":"ok","f":"send","value":[["send","orders/0",[3,19]]]}}"#
        )
    }

    #[test]
    fn a_process_id_used_again_after_info_is_a_new_producer() {
        let result = check(
            &PerProducerOrder,
            &around(
                r#"{"index":3,"time":4000,"process":1,"type":"info","f":"send","value":[["send","orders/0",18]]}"#,
            ),
        );
        assert_valid(&result);
        let result = check(
            &PerProducerOrder,
            &around(
                r#"{"index":3,"time":4000,"process":1,"type":"ok","f":"send","value":[["send","orders/0",[6,18]]]}"#,
            ),
        );
        assert_exactly(&result, &["nonmonotonic-send"]);
        assert_eq!(result.anomalies["nonmonotonic-send"][0].ops, vec![3, 5]);
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
