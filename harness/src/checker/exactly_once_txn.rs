//! `exactly-once-txn`: a transactional message (RocketMQ model, design.md section 6) becomes
//! visible exactly once if and only if its producer's local transaction committed, and never
//! before that commit.
//!
//! A message's decision is the local result its `txn-send` completion reported, when that is
//! `commit` or `rollback` (a local decision is final); a `fail` without a local result means
//! the half message was never stored, so it must stay invisible; otherwise (`unknown`, `info`,
//! never completed) the decision is the `final-state` op's `txn-local` record, if any.
//!
//! - `txn-aborted-visible`: a rolled-back (or never stored) message was read.
//! - `txn-committed-lost`: a committed message was never read, although the drain reached its
//!   key. Without a drain over that key the check cannot tell: `unknown`.
//! - `txn-duplicate`: a message was seen at two offsets (a repeated commit appended twice).
//! - `txn-premature-visible`: a poll returned the message before its local commit could have
//!   happened — before the `txn-send` was invoked when the completion reported `commit`; before
//!   the completion when it reported `unknown` (the commit came later, via check-back) — or at
//!   all when the final record says the transaction never committed.

use super::{Anomaly, CheckOptions, CheckResult, Checker, Findings};
use crate::history::{BodyView, History, Local, Outcome, WriteKind};

pub const NAME: &str = "exactly-once-txn";

/// The anomalies this check reports.
pub const ANOMALIES: &[&str] = &[
    "txn-aborted-visible",
    "txn-committed-lost",
    "txn-duplicate",
    "txn-premature-visible",
];

#[derive(Clone, Copy, Debug, Default)]
pub struct ExactlyOnceTxn;

/// What became of one transaction, as far as the history proves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Decision {
    Commit,
    Rollback,
    /// The half message was never stored.
    NeverStored,
    /// The final record says the local transaction never resolved.
    NeverCommitted,
    /// Nothing in the history says.
    Undetermined,
}

impl Checker for ExactlyOnceTxn {
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
            .any(|write| write.kind() == WriteKind::TxnSend)
    }

    fn check(&self, history: &History, _opts: &CheckOptions) -> CheckResult {
        let log = history.log();
        let final_records = history
            .final_state()
            .and_then(|(index, state)| state.txn_local.as_ref().map(|records| (index, records)));
        let drain = history.drain();
        let mut findings = Findings::default();
        let mut transactions = 0u64;

        for write in &log.writes {
            if write.kind() != WriteKind::TxnSend {
                continue;
            }
            transactions += 1;
            let BodyView::TxnSend(message) = history.body(write.invoke()) else {
                unreachable!("a txn-send write comes from a txn-send invoke")
            };
            let completion = write.completion().map(|index| (index, history.body(index)));
            let local = match completion {
                Some((_, BodyView::TxnSend(done))) => done.local,
                _ => None,
            };
            // The final record is looked up (a search by name) only when the completion
            // did not decide: most transactions' did.
            let final_record = || {
                final_records.and_then(|(index, records)| {
                    records.get(&message.txn).map(|local| (index, *local))
                })
            };
            let (decision, decided_by) = match (write.outcome(), local) {
                (_, Some(Local::Commit)) => (Decision::Commit, write.completion()),
                (_, Some(Local::Rollback)) => (Decision::Rollback, write.completion()),
                (Outcome::Fail, None) => (Decision::NeverStored, write.completion()),
                _ => match final_record() {
                    Some((index, Local::Commit)) => (Decision::Commit, Some(index)),
                    Some((index, Local::Rollback)) => (Decision::Rollback, Some(index)),
                    Some((index, Local::Unknown)) => (Decision::NeverCommitted, Some(index)),
                    None => (Decision::Undetermined, None),
                },
            };
            // Before this time the local transaction had certainly not committed.
            let commit_not_before = match (local, write.completion()) {
                (Some(Local::Unknown), Some(done)) => history.time(done),
                _ => history.time(write.invoke()),
            };
            let key_name = history.key_name(write.key);
            let txn = message.txn.as_str();
            let proof = |extra: Option<u64>| {
                let mut ops = vec![write.invoke()];
                ops.extend(write.completion());
                ops.extend(decided_by);
                ops.extend(extra);
                ops
            };
            let first_read = write.read_first().map(|read| log.observation(read));

            match (decision, first_read) {
                (Decision::Rollback | Decision::NeverStored, Some(read)) => {
                    let why = if decision == Decision::Rollback {
                        "its local transaction rolled back"
                    } else {
                        "its half message was never stored"
                    };
                    findings.add(
                        "txn-aborted-visible",
                        Anomaly::new(format!(
                            "transaction {txn}'s message {key_name} value {} was read at offset {} by op {}, but {why}.",
                            write.value, read.offset, read.op()
                        ))
                        .key(key_name)
                        .value(write.value)
                        .offsets([read.offset])
                        .ops(proof(Some(read.op())))
                        .detail("txn", txn),
                    );
                }
                (Decision::NeverCommitted, Some(read)) => {
                    findings.add(
                        "txn-premature-visible",
                        Anomaly::new(format!(
                            "transaction {txn}'s message {key_name} value {} was read at offset {} by op {}, but its local transaction never committed.",
                            write.value, read.offset, read.op()
                        ))
                        .key(key_name)
                        .value(write.value)
                        .offsets([read.offset])
                        .ops(proof(Some(read.op())))
                        .detail("txn", txn),
                    );
                }
                (Decision::Commit | Decision::Undetermined, Some(read))
                    if history.time(read.op()) < commit_not_before =>
                {
                    findings.add(
                        "txn-premature-visible",
                        Anomaly::new(format!(
                            "transaction {txn}'s message {key_name} value {} was read by op {} at {} ns, before its local commit could have happened (not before {commit_not_before} ns).",
                            write.value,
                            read.op(),
                            history.time(read.op())
                        ))
                        .key(key_name)
                        .value(write.value)
                        .offsets([read.offset])
                        .ops(proof(Some(read.op())))
                        .detail("txn", txn),
                    );
                }
                (Decision::Commit, None) => {
                    if drain.is_some() && log.key(write.key).drained {
                        findings.add(
                            "txn-committed-lost",
                            Anomaly::new(format!(
                                "transaction {txn} committed locally, but the final drain read {key_name} to its end without seeing its message (value {}).",
                                write.value
                            ))
                            .key(key_name)
                            .value(write.value)
                            .ops(proof(None))
                            .detail("txn", txn),
                        );
                    } else {
                        findings.doubt(|| {
                            format!(
                                "transaction {txn} committed but its message {key_name} value {} was never read, and no drain reached {key_name}",
                                write.value
                            )
                        });
                    }
                }
                _ => {}
            }
        }

        let mut relocations: Vec<_> = log
            .relocations
            .iter()
            .filter(|relocation| log.write(relocation.write).kind() == WriteKind::TxnSend)
            .copied()
            .collect();
        relocations.sort_by_key(|relocation| (relocation.write, relocation.again));
        let mut at = 0;
        while at < relocations.len() {
            let write_id = relocations[at].write;
            let write = log.write(write_id);
            let first = log.observation(relocations[at].first);
            let mut places = vec![(first.offset, first.op())];
            while at < relocations.len() && relocations[at].write == write_id {
                let again = log.observation(relocations[at].again);
                if !places.iter().any(|&(offset, _)| offset == again.offset) {
                    places.push((again.offset, again.op()));
                }
                at += 1;
            }
            let BodyView::TxnSend(message) = history.body(write.invoke()) else {
                unreachable!("a txn-send write comes from a txn-send invoke")
            };
            let key_name = history.key_name(write.key);
            let offsets: Vec<String> = places.iter().map(|(o, _)| o.to_string()).collect();
            findings.add(
                "txn-duplicate",
                Anomaly::new(format!(
                    "transaction {}'s message {key_name} value {} became visible {} times, at offsets {}.",
                    message.txn,
                    write.value,
                    places.len(),
                    offsets.join(", ")
                ))
                .key(key_name)
                .value(write.value)
                .offsets(places.iter().map(|&(offset, _)| offset))
                .ops(places.iter().map(|&(_, op)| op).chain([write.invoke()]))
                .detail("txn", message.txn.as_str()),
            );
        }

        if transactions == 0 {
            findings.doubt(|| "the history has no transactional send".to_string());
        }
        findings.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::testing::{assert_exactly, assert_unknown, assert_valid, check};

    const DRAIN: &str =
        r#"{"index":90,"time":90000,"process":"nemesis","type":"info","f":"drain","value":null}"#;

    /// Renumbers `lines` 0, 1, 2, ... so tests can splice fragments.
    fn numbered(lines: &[&str]) -> String {
        lines
            .iter()
            .flat_map(|chunk| chunk.lines())
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .enumerate()
            .map(|(index, line)| {
                let rest = line.split_once(',').expect("an op line").1;
                format!("{{\"index\":{index},{rest}\n")
            })
            .collect()
    }

    #[test]
    fn valid_when_commits_show_once_and_rollbacks_never() {
        let result = check(
            &ExactlyOnceTxn,
            &numbered(&[
                r#"{"index":0,"time":1000,"process":1,"type":"invoke","f":"txn-send","value":{"txn":"t1","key":"orders/0","value":17}}
                   {"index":1,"time":2000,"process":1,"type":"ok","f":"txn-send","value":{"txn":"t1","key":"orders/0","value":17,"local":"commit"}}
                   {"index":2,"time":3000,"process":1,"type":"invoke","f":"txn-send","value":{"txn":"t2","key":"orders/0","value":18}}
                   {"index":3,"time":4000,"process":1,"type":"ok","f":"txn-send","value":{"txn":"t2","key":"orders/0","value":18,"local":"rollback"}}"#,
                DRAIN,
                r#"{"index":5,"time":95000,"process":2,"type":"invoke","f":"poll","value":[["poll"]]}
                   {"index":6,"time":96000,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders/0":[[0,17]]}]]}"#,
            ]),
        );
        assert_valid(&result);
    }

    #[test]
    fn txn_aborted_visible_when_a_rollback_is_read() {
        let result = check(
            &ExactlyOnceTxn,
            &numbered(&[
                r#"{"index":0,"time":1000,"process":1,"type":"invoke","f":"txn-send","value":{"txn":"t2","key":"orders/0","value":18}}
                   {"index":1,"time":2000,"process":1,"type":"ok","f":"txn-send","value":{"txn":"t2","key":"orders/0","value":18,"local":"rollback"}}
                   {"index":2,"time":3000,"process":2,"type":"invoke","f":"poll","value":[["poll"]]}
                   {"index":3,"time":4000,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders/0":[[0,18]]}]]}"#,
            ]),
        );
        assert_exactly(&result, &["txn-aborted-visible"]);
    }

    #[test]
    fn txn_committed_lost_when_the_drain_misses_a_commit() {
        let result = check(
            &ExactlyOnceTxn,
            &numbered(&[
                r#"{"index":0,"time":1000,"process":1,"type":"invoke","f":"txn-send","value":{"txn":"t1","key":"orders/0","value":17}}
                   {"index":1,"time":2000,"process":1,"type":"ok","f":"txn-send","value":{"txn":"t1","key":"orders/0","value":17,"local":"commit"}}"#,
                DRAIN,
                r#"{"index":3,"time":95000,"process":2,"type":"invoke","f":"poll","value":[["poll"]]}
                   {"index":4,"time":96000,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders/0":[]}]]}"#,
            ]),
        );
        assert_exactly(&result, &["txn-committed-lost"]);
    }

    #[test]
    fn a_check_back_commit_from_the_final_state_is_required() {
        // The producer's local transaction was unknown when send_in_transaction returned; the
        // final record says a check-back committed it, so it must be visible.
        let result = check(
            &ExactlyOnceTxn,
            &numbered(&[
                r#"{"index":0,"time":1000,"process":1,"type":"invoke","f":"txn-send","value":{"txn":"t1","key":"orders/0","value":17}}
                   {"index":1,"time":2000,"process":1,"type":"ok","f":"txn-send","value":{"txn":"t1","key":"orders/0","value":17,"local":"unknown"}}"#,
                DRAIN,
                r#"{"index":3,"time":95000,"process":2,"type":"invoke","f":"poll","value":[["poll"]]}
                   {"index":4,"time":96000,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders/0":[]}]]}
                   {"index":5,"time":97000,"process":"nemesis","type":"ok","f":"final-state","value":{"txn-local":{"t1":"commit"}}}"#,
            ]),
        );
        assert_exactly(&result, &["txn-committed-lost"]);
        assert_eq!(result.anomalies["txn-committed-lost"][0].ops, vec![0, 1, 5]);
    }

    #[test]
    fn unknown_when_a_commit_is_unread_and_nothing_drained() {
        let result = check(
            &ExactlyOnceTxn,
            r#"{"index":0,"time":1000,"process":1,"type":"invoke","f":"txn-send","value":{"txn":"t1","key":"orders/0","value":17}}
               {"index":1,"time":2000,"process":1,"type":"ok","f":"txn-send","value":{"txn":"t1","key":"orders/0","value":17,"local":"commit"}}"#,
        );
        assert_unknown(&result);
    }

    #[test]
    fn txn_duplicate_when_a_commit_shows_twice() {
        let result = check(
            &ExactlyOnceTxn,
            r#"{"index":0,"time":1000,"process":1,"type":"invoke","f":"txn-send","value":{"txn":"t1","key":"orders/0","value":17}}
               {"index":1,"time":2000,"process":1,"type":"ok","f":"txn-send","value":{"txn":"t1","key":"orders/0","value":17,"local":"commit"}}
               {"index":2,"time":3000,"process":2,"type":"invoke","f":"poll","value":[["poll"]]}
               {"index":3,"time":4000,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders/0":[[0,17],[1,17]]}]]}"#,
        );
        assert_exactly(&result, &["txn-duplicate"]);
        assert_eq!(result.anomalies["txn-duplicate"][0].offsets, vec![0, 1]);
    }

    #[test]
    fn txn_premature_visible_when_read_while_the_local_result_was_unknown() {
        let result = check(
            &ExactlyOnceTxn,
            r#"{"index":0,"time":1000,"process":1,"type":"invoke","f":"txn-send","value":{"txn":"t1","key":"orders/0","value":17}}
               {"index":1,"time":1500,"process":2,"type":"invoke","f":"poll","value":[["poll"]]}
               {"index":2,"time":1800,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders/0":[[0,17]]}]]}
               {"index":3,"time":2000,"process":1,"type":"ok","f":"txn-send","value":{"txn":"t1","key":"orders/0","value":17,"local":"unknown"}}
               {"index":4,"time":9000,"process":"nemesis","type":"ok","f":"final-state","value":{"txn-local":{"t1":"commit"}}}"#,
        );
        assert_exactly(&result, &["txn-premature-visible"]);
        assert_eq!(
            result.anomalies["txn-premature-visible"][0].ops,
            vec![0, 2, 3, 4]
        );
    }

    #[test]
    fn txn_premature_visible_when_the_transaction_never_committed() {
        let result = check(
            &ExactlyOnceTxn,
            r#"{"index":0,"time":1000,"process":1,"type":"invoke","f":"txn-send","value":{"txn":"t1","key":"orders/0","value":17}}
               {"index":1,"time":2000,"process":1,"type":"info","f":"txn-send","value":{"txn":"t1","key":"orders/0","value":17}}
               {"index":2,"time":3000,"process":2,"type":"invoke","f":"poll","value":[["poll"]]}
               {"index":3,"time":4000,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders/0":[[0,17]]}]]}
               {"index":4,"time":9000,"process":"nemesis","type":"ok","f":"final-state","value":{"txn-local":{"t1":"unknown"}}}"#,
        );
        assert_exactly(&result, &["txn-premature-visible"]);
    }

    #[test]
    fn a_read_during_a_committing_send_is_not_premature() {
        // The local commit happened somewhere between invoke and completion; a read in that
        // window proves nothing.
        let result = check(
            &ExactlyOnceTxn,
            r#"{"index":0,"time":1000,"process":1,"type":"invoke","f":"txn-send","value":{"txn":"t1","key":"orders/0","value":17}}
               {"index":1,"time":1500,"process":2,"type":"invoke","f":"poll","value":[["poll"]]}
               {"index":2,"time":1800,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders/0":[[0,17]]}]]}
               {"index":3,"time":2000,"process":1,"type":"ok","f":"txn-send","value":{"txn":"t1","key":"orders/0","value":17,"local":"commit"}}"#,
        );
        assert_valid(&result);
    }

    #[test]
    fn an_undetermined_transaction_is_never_required() {
        let result = check(
            &ExactlyOnceTxn,
            &numbered(&[
                r#"{"index":0,"time":1000,"process":1,"type":"invoke","f":"txn-send","value":{"txn":"t1","key":"orders/0","value":17}}
                   {"index":1,"time":2000,"process":1,"type":"info","f":"txn-send","value":{"txn":"t1","key":"orders/0","value":17}}"#,
                DRAIN,
                r#"{"index":3,"time":95000,"process":2,"type":"invoke","f":"poll","value":[["poll"]]}
                   {"index":4,"time":96000,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders/0":[]}]]}"#,
            ]),
        );
        assert_valid(&result);
    }
}
