//! `consumer-order`: a consumer reads each key's log in order, without holes.
//!
//! - `poll-skip`: a process's successive polls of a key jumped over an offset known (from the
//!   inferred log) to hold a value: the consumer's position advanced past data it never got.
//! - `nonmonotonic-poll`: a process's later poll of a key started at or below where its
//!   previous poll ended: the same records delivered again, or the position went backwards.
//! - `int-poll-skip`, `int-nonmonotonic-poll`: the same within the records of one op.
//!
//! Successive polls are compared only within one (logical) process: a process id used again
//! after an `info` starts afresh. An `assign` or `subscribe` that completed (ok or info) keeps
//! the positions of the keys it still covers — named, or in a topic it names — and resets
//! those it dropped, as Jepsen's checker does; a consumer that must start afresh on a kept key
//! (faultline's group members after a rebalance) takes a new process id. If no poll returned a
//! record, the verdict is `unknown`.

use super::{Anomaly, CheckOptions, CheckResult, Checker, Findings};
use crate::history::{BodyKind, BodyView, History, KeyId, MopView, OpType, F};

pub const NAME: &str = "consumer-order";

/// The anomalies this check reports.
pub const ANOMALIES: &[&str] = &[
    "poll-skip",
    "nonmonotonic-poll",
    "int-poll-skip",
    "int-nonmonotonic-poll",
];

#[derive(Clone, Copy, Debug, Default)]
pub struct ConsumerOrder;

impl Checker for ConsumerOrder {
    fn name(&self) -> &'static str {
        NAME
    }

    fn anomalies(&self) -> &'static [&'static str] {
        ANOMALIES
    }

    fn applies(&self, history: &History) -> bool {
        history.bodies().any(|body| {
            body.mops()
                .iter()
                .any(|mop| matches!(mop, MopView::Poll(_)))
        })
    }

    fn check(&self, history: &History, _opts: &CheckOptions) -> CheckResult {
        let log = history.log();
        let mut findings = Findings::default();
        // Per process slot: (key, last offset read, op) since its last (re)assignment.
        let mut last: Vec<Vec<(KeyId, u64, u64)>> = vec![Vec::new(); history.slot_count()];
        let mut in_op: Vec<(KeyId, u64)> = Vec::new();
        let mut records_read = 0u64;

        // Assignments and polls are all this check reads: the heads of other ops are not built.
        // An op's type and function are read before its value, and its head is built only to
        // explain an anomaly: invokes and failures, half the ops, and sends (a send op holds
        // only send micro-ops: the history refuses others) are passed over unread.
        for index in history.indexes_of(&[BodyKind::Membership, BodyKind::Mops]) {
            let kind = history.kind(index);
            if matches!(kind, OpType::Invoke | OpType::Fail) || *history.f(index) == F::Send {
                continue;
            }
            let slot = history.slot(index);
            let body = history.body(index);
            // A (re)assignment that happened keeps the positions of the keys it still covers
            // and forgets the rest (Jepsen's rule); one that failed changed nothing.
            if let BodyView::Membership(membership) = body {
                last[slot].retain(|&(key, _, _)| membership.covers(key, history.keys()));
                continue;
            }
            if kind != OpType::Ok {
                continue;
            }
            let process = || history.op(index).process;
            in_op.clear();
            for poll in body.mops().polls() {
                let Some(reads) = poll.reads() else { continue };
                for key_reads in reads {
                    let key_name = history.key_name(key_reads.key);
                    let key_log = log.key(key_reads.key);
                    for record in key_reads.records {
                        records_read += 1;
                        let offset = record.offset;
                        match in_op.iter_mut().find(|(key, _)| *key == key_reads.key) {
                            Some((_, previous)) => {
                                if offset <= *previous {
                                    findings.add(
                                        "int-nonmonotonic-poll",
                                        Anomaly::new(format!(
                                            "op {} returned {key_name} offset {offset} (value {}) after offset {previous} in the same poll.",
                                            index, record.value
                                        ))
                                        .key(key_name)
                                        .value(record.value)
                                        .offsets([*previous, offset])
                                        .ops([index]),
                                    );
                                } else if let Some(between) =
                                    key_log.known_between(*previous, offset)
                                {
                                    findings.add(
                                        "int-poll-skip",
                                        Anomaly::new(format!(
                                            "op {} returned {key_name} offsets {previous} and then {offset}, skipping offset {between}, which holds a value.",
                                            index
                                        ))
                                        .key(key_name)
                                        .value(record.value)
                                        .offsets([*previous, between, offset])
                                        .ops([index]),
                                    );
                                }
                                *previous = offset;
                            }
                            None => {
                                if let Some(&(_, earlier, earlier_op)) =
                                    last[slot].iter().find(|(key, _, _)| *key == key_reads.key)
                                {
                                    if offset <= earlier {
                                        findings.add(
                                            "nonmonotonic-poll",
                                            Anomaly::new(format!(
                                                "process {} polled {key_name} from offset {offset} (op {}) after it had already read up to offset {earlier} (op {earlier_op}) with no reassignment between.",
                                                process(), index
                                            ))
                                            .key(key_name)
                                            .value(record.value)
                                            .offsets([earlier, offset])
                                            .ops([earlier_op, index])
                                            .detail("process", process().to_string()),
                                        );
                                    } else if let Some(between) =
                                        key_log.known_between(earlier, offset)
                                    {
                                        findings.add(
                                            "poll-skip",
                                            Anomaly::new(format!(
                                                "process {} read {key_name} up to offset {earlier} (op {earlier_op}) and next from offset {offset} (op {}), skipping offset {between}, which holds a value.",
                                                process(), index
                                            ))
                                            .key(key_name)
                                            .value(record.value)
                                            .offsets([earlier, between, offset])
                                            .ops([earlier_op, index])
                                            .detail("process", process().to_string()),
                                        );
                                    }
                                }
                                in_op.push((key_reads.key, offset));
                            }
                        }
                    }
                }
            }
            for &(key, offset) in &in_op {
                match last[slot].iter_mut().find(|(k, _, _)| *k == key) {
                    Some(entry) => *entry = (key, offset, index),
                    None => last[slot].push((key, offset, index)),
                }
            }
        }

        if records_read == 0 && findings.is_clean() {
            findings
                .doubt(|| "no poll returned a record, so read order cannot be judged".to_string());
        }
        findings.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::testing::{assert_exactly, assert_unknown, assert_valid, check};

    /// Offsets 0..=3 of orders/0 hold 10..=13.
    const LOG: &str = r#"{"index":0,"time":1000,"process":1,"type":"invoke","f":"send","value":[["send","orders/0",10],["send","orders/0",11],["send","orders/0",12],["send","orders/0",13]]}
        {"index":1,"time":2000,"process":1,"type":"ok","f":"send","value":[["send","orders/0",[0,10]],["send","orders/0",[1,11]],["send","orders/0",[2,12]],["send","orders/0",[3,13]]]}"#;

    fn with_log(polls: &str) -> String {
        format!("{LOG}\n{polls}")
    }

    #[test]
    fn valid_when_polls_continue_where_they_left_off() {
        let result = check(
            &ConsumerOrder,
            &with_log(
                r#"{"index":2,"time":3000,"process":2,"type":"invoke","f":"poll","value":[["poll"]]}
                   {"index":3,"time":4000,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders/0":[[0,10],[1,11]]}]]}
                   {"index":4,"time":5000,"process":2,"type":"invoke","f":"poll","value":[["poll"]]}
                   {"index":5,"time":6000,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders/0":[[2,12],[3,13]]}]]}"#,
            ),
        );
        assert_valid(&result);
    }

    #[test]
    fn poll_skip_when_the_next_poll_jumps_a_known_offset() {
        let result = check(
            &ConsumerOrder,
            &with_log(
                r#"{"index":2,"time":3000,"process":2,"type":"invoke","f":"poll","value":[["poll"]]}
                   {"index":3,"time":4000,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders/0":[[0,10]]}]]}
                   {"index":4,"time":5000,"process":2,"type":"invoke","f":"poll","value":[["poll"]]}
                   {"index":5,"time":6000,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders/0":[[2,12],[3,13]]}]]}"#,
            ),
        );
        assert_exactly(&result, &["poll-skip"]);
        assert_eq!(result.anomalies["poll-skip"][0].offsets, vec![0, 1, 2]);
    }

    #[test]
    fn nonmonotonic_poll_when_records_come_back_without_a_rebalance() {
        let result = check(
            &ConsumerOrder,
            &with_log(
                r#"{"index":2,"time":3000,"process":2,"type":"invoke","f":"poll","value":[["poll"]]}
                   {"index":3,"time":4000,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders/0":[[0,10],[1,11]]}]]}
                   {"index":4,"time":5000,"process":2,"type":"invoke","f":"poll","value":[["poll"]]}
                   {"index":5,"time":6000,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders/0":[[1,11],[2,12]]}]]}"#,
            ),
        );
        assert_exactly(&result, &["nonmonotonic-poll"]);
    }

    /// Process 2 reads orders/0 up to offset 3, then `MEMBERSHIP` (an assign or subscribe by
    /// process 2, invoke and completion), then polls orders/0 from offset 0 again.
    fn around_membership(membership: &str) -> String {
        with_log(&format!(
            r#"{{"index":2,"time":3000,"process":2,"type":"invoke","f":"poll","value":[["poll"]]}}
               {{"index":3,"time":4000,"process":2,"type":"ok","f":"poll","value":[["poll",{{"orders/0":[[2,12],[3,13]]}}]]}}
               {membership}
               {{"index":6,"time":5000,"process":2,"type":"invoke","f":"poll","value":[["poll"]]}}
               {{"index":7,"time":6000,"process":2,"type":"ok","f":"poll","value":[["poll",{{"orders/0":[[0,10],[1,11]]}}]]}}"#
        ))
    }

    fn membership(f: &str, kind: &str, value: &str) -> String {
        format!(
            r#"{{"index":4,"time":4500,"process":2,"type":"invoke","f":"{f}","value":{value}}}
               {{"index":5,"time":4600,"process":2,"type":"{kind}","f":"{f}","value":{value}}}"#
        )
    }

    #[test]
    fn an_assignment_that_keeps_a_key_keeps_its_position() {
        // Semantics changed with issue 16 (Jepsen's rule): an assign or subscribe that still
        // covers a key keeps the consumer's position there, so going back is nonmonotonic.
        for value in [
            r#"{"group":"billing","keys":["orders/0"],"generation":2}"#,
            r#"["orders/0","orders/1"]"#,
            r#"{"topics":["orders"]}"#,
        ] {
            for f in ["assign", "subscribe"] {
                let result = check(
                    &ConsumerOrder,
                    &around_membership(&membership(f, "ok", value)),
                );
                assert_exactly(&result, &["nonmonotonic-poll"]);
                assert_eq!(result.anomalies["nonmonotonic-poll"][0].ops, vec![3, 7]);
            }
            // After an info assignment the process id is a new logical process anyway.
            let result = check(
                &ConsumerOrder,
                &around_membership(&membership("assign", "info", value)),
            );
            assert_valid(&result);
        }
    }

    #[test]
    fn an_assignment_that_drops_a_key_resets_it() {
        for value in [r#"["orders/1"]"#, r#"{"topics":["payments"]}"#, "[]"] {
            let result = check(
                &ConsumerOrder,
                &around_membership(&membership("assign", "ok", value)),
            );
            assert_valid(&result);
        }
    }

    #[test]
    fn a_failed_assignment_changes_nothing() {
        let result = check(
            &ConsumerOrder,
            &around_membership(&membership("assign", "fail", r#"["orders/1"]"#)),
        );
        assert_exactly(&result, &["nonmonotonic-poll"]);
    }

    #[test]
    fn poll_skip_across_an_assignment_that_keeps_the_key() {
        let history = |keys: &str| {
            with_log(&format!(
                r#"{{"index":2,"time":3000,"process":2,"type":"invoke","f":"poll","value":[["poll"]]}}
                   {{"index":3,"time":4000,"process":2,"type":"ok","f":"poll","value":[["poll",{{"orders/0":[[0,10]]}}]]}}
                   {{"index":4,"time":4500,"process":2,"type":"invoke","f":"subscribe","value":{keys}}}
                   {{"index":5,"time":4600,"process":2,"type":"ok","f":"subscribe","value":{keys}}}
                   {{"index":6,"time":5000,"process":2,"type":"invoke","f":"poll","value":[["poll"]]}}
                   {{"index":7,"time":6000,"process":2,"type":"ok","f":"poll","value":[["poll",{{"orders/0":[[2,12]]}}]]}}"#
            ))
        };
        let result = check(&ConsumerOrder, &history(r#"["orders/0","orders/1"]"#));
        assert_exactly(&result, &["poll-skip"]);
        assert_eq!(result.anomalies["poll-skip"][0].offsets, vec![0, 1, 2]);
        assert_valid(&check(&ConsumerOrder, &history(r#"["orders/1"]"#)));
    }

    /// Process 2 reads offsets 0..=1, then `MIDDLE` (process 2 again), then reads offset 0.
    fn around(middle: &str) -> String {
        with_log(&format!(
            r#"{{"index":2,"time":3000,"process":2,"type":"invoke","f":"poll","value":[["poll"]]}}
               {{"index":3,"time":4000,"process":2,"type":"ok","f":"poll","value":[["poll",{{"orders/0":[[0,10],[1,11]]}}]]}}
               {{"index":4,"time":4500,"process":2,"type":"invoke","f":"poll","value":[["poll"]]}}
               {middle}
               {{"index":6,"time":5000,"process":2,"type":"invoke","f":"poll","value":[["poll"]]}}
               {{"index":7,"time":6000,"process":2,"type":"ok","f":"poll","value":[["poll",{{"orders/0":[[0,10]]}}]]}}"#
        ))
    }

    #[test]
    fn a_process_id_used_again_after_info_is_a_new_consumer() {
        let result = check(
            &ConsumerOrder,
            &around(
                r#"{"index":5,"time":4600,"process":2,"type":"info","f":"poll","value":[["poll"]]}"#,
            ),
        );
        assert_valid(&result);
        let result = check(
            &ConsumerOrder,
            &around(
                r#"{"index":5,"time":4600,"process":2,"type":"ok","f":"poll","value":[["poll",{}]]}"#,
            ),
        );
        assert_exactly(&result, &["nonmonotonic-poll"]);
    }

    #[test]
    fn int_poll_skip_inside_one_poll() {
        let result = check(
            &ConsumerOrder,
            &with_log(
                r#"{"index":2,"time":3000,"process":2,"type":"invoke","f":"poll","value":[["poll"]]}
                   {"index":3,"time":4000,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders/0":[[0,10],[2,12]]}]]}"#,
            ),
        );
        assert_exactly(&result, &["int-poll-skip"]);
    }

    #[test]
    fn int_nonmonotonic_poll_inside_one_poll() {
        let result = check(
            &ConsumerOrder,
            &with_log(
                r#"{"index":2,"time":3000,"process":2,"type":"invoke","f":"poll","value":[["poll"]]}
                   {"index":3,"time":4000,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders/0":[[1,11],[0,10]]}]]}"#,
            ),
        );
        assert_exactly(&result, &["int-nonmonotonic-poll"]);
    }

    #[test]
    fn unknown_when_no_poll_returned_records() {
        let result = check(
            &ConsumerOrder,
            r#"{"index":0,"time":1000,"process":2,"type":"invoke","f":"poll","value":[["poll"]]}
               {"index":1,"time":2000,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders/0":[]}]]}"#,
        );
        assert_unknown(&result);
    }
}
