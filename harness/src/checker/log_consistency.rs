//! `log-consistency`: the log clients saw is one log.
//!
//! - `inconsistent-offsets`: one key and offset observed holding two different values (by
//!   acknowledgements or reads): two replicas diverged and both were served.
//! - `duplicate`: one value observed at two offsets of its key: a retried send was appended
//!   twice, or a committed transactional message was made visible twice. Values are unique
//!   per key, so the same value under another key is another message.
//! - `aborted-read`: a send that failed definitively was read: a client was told "not
//!   written" for data the log kept.
//! - `garbage-read` (beyond design.md section 9, Elle's name): a poll returned a value no
//!   client ever sent to that key — corruption that got past the checksums.
//!
//! Observations come from the inferred log, so the cost is the log's: one pass over
//! observations per key, already sorted by offset.

use super::{Anomaly, CheckOptions, CheckResult, Checker, Findings};
use crate::history::{History, Outcome, WriteKind};

pub const NAME: &str = "log-consistency";

/// The anomalies this check reports.
pub const ANOMALIES: &[&str] = &[
    "inconsistent-offsets",
    "duplicate",
    "aborted-read",
    "garbage-read",
];

#[derive(Clone, Copy, Debug, Default)]
pub struct LogConsistency;

impl Checker for LogConsistency {
    fn name(&self) -> &'static str {
        NAME
    }

    fn anomalies(&self) -> &'static [&'static str] {
        ANOMALIES
    }

    fn applies(&self, history: &History) -> bool {
        !history.log().writes.is_empty() || !history.log().observations.is_empty()
    }

    fn check(&self, history: &History, _opts: &CheckOptions) -> CheckResult {
        let log = history.log();
        let mut findings = Findings::default();

        // One offset's distinct values, each with the op of its first observation.
        let mut values: Vec<(i64, u64)> = Vec::new();
        for (slot, key) in log.keys.iter().enumerate() {
            let key_name = history.keys().name(crate::history::KeyId(slot as u32));
            // Only the offsets whose observations saw more than one write, or a value no
            // client sent: one write is one value (values are unique per key). Nearly every
            // offset is seen holding one write (its ack and its reads), and is not read at all.
            for range in key.runs.mixed() {
                let run = &key.order[range];
                let offset = log.observation(run[0]).offset;
                // Sorted by (offset, value, op): the first observation of each distinct value.
                values.clear();
                for &id in run {
                    let observation = log.observation(id);
                    let value = log.value_seen(observation);
                    if values.last().is_none_or(|&(v, _)| v != value) {
                        values.push((value, observation.op()));
                    }
                }
                if values.len() > 1 {
                    let listed: Vec<String> = values
                        .iter()
                        .map(|(value, op)| format!("{value} (op {op})"))
                        .collect();
                    findings.add(
                        "inconsistent-offsets",
                        Anomaly::new(format!(
                            "{key_name} offset {offset} was observed holding {} different values: {}.",
                            values.len(),
                            listed.join(", ")
                        ))
                        .key(key_name)
                        .offsets([offset])
                        .ops(values.iter().map(|&(_, op)| op))
                        .detail(
                            "values",
                            values.iter().map(|&(value, _)| value).collect::<Vec<_>>(),
                        ),
                    );
                }
            }
        }

        // Relocations are in observation order; group them by write, keeping each distinct
        // (key, offset) once.
        let mut relocations = log.relocations.clone();
        relocations.sort_by_key(|relocation| (relocation.write, relocation.again));
        let mut at = 0;
        while at < relocations.len() {
            let write_id = relocations[at].write;
            let write = log.write(write_id);
            let first = log.observation(relocations[at].first);
            let mut places = vec![(first.key, first.offset, first.op())];
            while at < relocations.len() && relocations[at].write == write_id {
                let again = log.observation(relocations[at].again);
                if !places
                    .iter()
                    .any(|&(key, offset, _)| (key, offset) == (again.key, again.offset))
                {
                    places.push((again.key, again.offset, again.op()));
                }
                at += 1;
            }
            let key_name = history.key_name(write.key);
            let listed: Vec<String> = places
                .iter()
                .map(|&(key, offset, op)| format!("{}@{offset} (op {op})", history.key_name(key)))
                .collect();
            let anomaly = Anomaly::new(format!(
                "value {} (sent to {key_name} by op {}) appears at {} places: {}.",
                write.value,
                write.invoke(),
                places.len(),
                listed.join(", ")
            ))
            .key(key_name)
            .value(write.value)
            .offsets(places.iter().map(|&(_, offset, _)| offset))
            .ops(places.iter().map(|&(_, _, op)| op));
            findings.add("duplicate", anomaly);
        }

        for write in &log.writes {
            if write.kind() != WriteKind::Send
                || write.outcome() != Outcome::Fail
                || write.reads() == 0
            {
                continue;
            }
            let read = log.observation(write.read_first().expect("read"));
            let failed = write.completion().expect("a failed send completed");
            let key_name = history.key_name(write.key);
            findings.add(
                "aborted-read",
                Anomaly::new(format!(
                    "{key_name} value {} was read at offset {} by op {}, but its send failed (op {failed}).",
                    write.value, read.offset, read.op()
                ))
                .key(key_name)
                .value(write.value)
                .offsets([read.offset])
                .ops([failed, read.op()]),
            );
        }

        for &id in &log.garbage {
            let observation = log.observation(id);
            let value = log.value_seen(observation);
            let key_name = history.key_name(observation.key);
            findings.add(
                "garbage-read",
                Anomaly::new(format!(
                    "op {} read value {} at {key_name} offset {}, a value no client ever sent.",
                    observation.op(),
                    value,
                    observation.offset
                ))
                .key(key_name)
                .value(value)
                .offsets([observation.offset])
                .ops([observation.op()]),
            );
        }

        findings.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::testing::{assert_exactly, assert_valid, check};

    #[test]
    fn valid_when_acks_and_reads_agree() {
        let result = check(
            &LogConsistency,
            r#"{"index":0,"time":1000,"process":1,"type":"invoke","f":"send","value":[["send","orders/0",17]]}
               {"index":1,"time":2000,"process":1,"type":"ok","f":"send","value":[["send","orders/0",[4,17]]]}
               {"index":2,"time":3000,"process":2,"type":"invoke","f":"poll","value":[["poll"]]}
               {"index":3,"time":4000,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders/0":[[4,17]]}]]}
               {"index":4,"time":5000,"process":3,"type":"invoke","f":"poll","value":[["poll"]]}
               {"index":5,"time":6000,"process":3,"type":"ok","f":"poll","value":[["poll",{"orders/0":[[4,17]]}]]}"#,
        );
        assert_valid(&result);
    }

    #[test]
    fn inconsistent_offsets_when_one_offset_holds_two_values() {
        let result = check(
            &LogConsistency,
            r#"{"index":0,"time":1000,"process":1,"type":"invoke","f":"send","value":[["send","orders/0",17]]}
               {"index":1,"time":2000,"process":1,"type":"ok","f":"send","value":[["send","orders/0",[4,17]]]}
               {"index":2,"time":3000,"process":3,"type":"invoke","f":"send","value":[["send","orders/0",18]]}
               {"index":3,"time":4000,"process":3,"type":"ok","f":"send","value":[["send","orders/0",[5,18]]]}
               {"index":4,"time":5000,"process":2,"type":"invoke","f":"poll","value":[["poll"]]}
               {"index":5,"time":6000,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders/0":[[4,18]]}]]}"#,
        );
        // 18 at offsets 4 and 5 is also a duplicate; the offset conflict is what this proves.
        assert_exactly(&result, &["duplicate", "inconsistent-offsets"]);
        let conflict = &result.anomalies["inconsistent-offsets"][0];
        assert_eq!(conflict.offsets, vec![4]);
        assert_eq!(conflict.ops, vec![1, 5]);
    }

    #[test]
    fn inconsistent_offsets_between_two_reads_alone() {
        let result = check(
            &LogConsistency,
            r#"{"index":0,"time":1000,"process":1,"type":"invoke","f":"send","value":[["send","orders/0",17],["send","orders/0",18]]}
               {"index":1,"time":2000,"process":1,"type":"info","f":"send","value":[["send","orders/0",17],["send","orders/0",18]]}
               {"index":2,"time":3000,"process":2,"type":"invoke","f":"poll","value":[["poll"]]}
               {"index":3,"time":4000,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders/0":[[0,17]]}]]}
               {"index":4,"time":5000,"process":3,"type":"invoke","f":"poll","value":[["poll"]]}
               {"index":5,"time":6000,"process":3,"type":"ok","f":"poll","value":[["poll",{"orders/0":[[0,18]]}]]}"#,
        );
        assert_exactly(&result, &["inconsistent-offsets"]);
    }

    #[test]
    fn inconsistent_offsets_through_a_proven_info_op() {
        // The info op says orders/0 offset 0 holds 17; it is proven by the read of 27 (its
        // sends are atomic), and a poll read 19 at that offset.
        let history = |poll: &str| {
            format!(
                r#"{{"index":0,"time":1000,"process":1,"type":"invoke","f":"send","value":[["send","orders/0",17],["send","orders/1",27]]}}
                   {{"index":1,"time":2000,"process":1,"type":"info","f":"send","value":[["send","orders/0",[0,17]],["send","orders/1",[0,27]]]}}
                   {{"index":2,"time":3000,"process":3,"type":"invoke","f":"send","value":[["send","orders/0",19]]}}
                   {{"index":3,"time":4000,"process":3,"type":"ok","f":"send","value":[["send","orders/0",[null,19]]]}}
                   {{"index":4,"time":5000,"process":2,"type":"invoke","f":"poll","value":[["poll"]]}}
                   {{"index":5,"time":6000,"process":2,"type":"ok","f":"poll","value":[["poll",{poll}]]}}"#
            )
        };
        let result = check(
            &LogConsistency,
            &history(r#"{"orders/1":[[0,27]],"orders/0":[[0,19]]}"#),
        );
        assert_exactly(&result, &["inconsistent-offsets"]);
        assert_eq!(result.anomalies["inconsistent-offsets"][0].ops, vec![1, 5]);
        // Unproven, the info op's offsets say nothing.
        assert_valid(&check(
            &LogConsistency,
            &history(r#"{"orders/0":[[0,19]]}"#),
        ));
    }

    #[test]
    fn one_value_under_two_keys_is_two_messages() {
        let result = check(
            &LogConsistency,
            r#"{"index":0,"time":1000,"process":1,"type":"invoke","f":"send","value":[["send","orders/0",17],["send","orders/1",17]]}
               {"index":1,"time":2000,"process":1,"type":"ok","f":"send","value":[["send","orders/0",[4,17]],["send","orders/1",[0,17]]]}
               {"index":2,"time":3000,"process":2,"type":"invoke","f":"poll","value":[["poll"]]}
               {"index":3,"time":4000,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders/0":[[4,17]],"orders/1":[[0,17]]}]]}"#,
        );
        assert_valid(&result);
        // Read where it was not sent, it is garbage there.
        let result = check(
            &LogConsistency,
            r#"{"index":0,"time":1000,"process":1,"type":"invoke","f":"send","value":[["send","orders/0",17]]}
               {"index":1,"time":2000,"process":1,"type":"ok","f":"send","value":[["send","orders/0",[4,17]]]}
               {"index":2,"time":3000,"process":2,"type":"invoke","f":"poll","value":[["poll"]]}
               {"index":3,"time":4000,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders/0":[[4,17]],"orders/1":[[0,17]]}]]}"#,
        );
        assert_exactly(&result, &["garbage-read"]);
    }

    #[test]
    fn duplicate_when_one_value_sits_at_two_offsets() {
        let result = check(
            &LogConsistency,
            r#"{"index":0,"time":1000,"process":1,"type":"invoke","f":"send","value":[["send","orders/0",17]]}
               {"index":1,"time":2000,"process":1,"type":"ok","f":"send","value":[["send","orders/0",[4,17]]]}
               {"index":2,"time":3000,"process":2,"type":"invoke","f":"poll","value":[["poll"]]}
               {"index":3,"time":4000,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders/0":[[4,17],[5,17]]}]]}"#,
        );
        assert_exactly(&result, &["duplicate"]);
        let duplicate = &result.anomalies["duplicate"][0];
        assert_eq!(
            (duplicate.value, duplicate.offsets.clone()),
            (Some(17), vec![4, 5])
        );
        assert_eq!(duplicate.ops, vec![1, 3]);
    }

    #[test]
    fn aborted_read_when_a_failed_send_is_read() {
        let result = check(
            &LogConsistency,
            r#"{"index":0,"time":1000,"process":1,"type":"invoke","f":"send","value":[["send","orders/0",17]]}
               {"index":1,"time":2000,"process":1,"type":"fail","f":"send","value":[["send","orders/0",17]]}
               {"index":2,"time":3000,"process":2,"type":"invoke","f":"poll","value":[["poll"]]}
               {"index":3,"time":4000,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders/0":[[0,17]]}]]}"#,
        );
        assert_exactly(&result, &["aborted-read"]);
        assert_eq!(result.anomalies["aborted-read"][0].ops, vec![1, 3]);
    }

    #[test]
    fn aborted_read_when_a_failed_txn_op_is_read() {
        let result = check(
            &LogConsistency,
            r#"{"index":0,"time":1000,"process":1,"type":"invoke","f":"txn","value":[["send","orders/0",17],["poll"]]}
               {"index":1,"time":2000,"process":1,"type":"fail","f":"txn","value":[["send","orders/0",17],["poll"]]}
               {"index":2,"time":3000,"process":2,"type":"invoke","f":"poll","value":[["poll"]]}
               {"index":3,"time":4000,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders/0":[[0,17]]}]]}"#,
        );
        assert_exactly(&result, &["aborted-read"]);
    }

    #[test]
    fn garbage_read_when_nobody_sent_the_value() {
        let result = check(
            &LogConsistency,
            r#"{"index":0,"time":1000,"process":2,"type":"invoke","f":"poll","value":[["poll"]]}
               {"index":1,"time":2000,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders/0":[[0,99]]}]]}"#,
        );
        assert_exactly(&result, &["garbage-read"]);
    }
}
