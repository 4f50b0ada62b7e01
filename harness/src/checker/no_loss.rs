//! `no-loss`: every acknowledged send is eventually read.
//!
//! - `lost-write`: an ok send (or an info send proven written by a read) whose offset is below
//!   the highest offset any poll returned for its key, yet no poll ever returned it. Reads
//!   went past it, so it should have been seen: the log lost it (unclean leader election,
//!   truncation below the high watermark, an ack before fsync).
//! - `unseen`: an ok send never read, although the drain reached its key's end. Reported only
//!   for writes that are not already a `lost-write`.
//!
//! An info send is never required on its own; one whose op is proven written — any of the
//! op's values was read, since an op's sends are atomic — is owed where the offset its
//! completion carries proves it: a `lost-write` if reads went past that offset. `unseen` is
//! about ok sends only (design.md section 9). Without a drain, or if
//! the drain never reached a key's end, an unread ok send above every read offset is
//! undecided: the verdict is `unknown` unless some other write is provably lost.
//!
//! Bounded keys with `overflow: drop-oldest` delete their oldest records when full, by design.
//! The final state's `dropped-below` names, per such key, the offset below which records may
//! have been dropped: an unread send acknowledged below it is neither lost nor unseen, and an
//! unread send on such a key whose offset is unknown is undecided (it may have been dropped).

use super::{Anomaly, CheckOptions, CheckResult, Checker, Findings};
use crate::history::{History, Outcome, WriteKind};

pub const NAME: &str = "no-loss";

/// The anomalies this check reports.
pub const ANOMALIES: &[&str] = &["lost-write", "unseen"];

#[derive(Clone, Copy, Debug, Default)]
pub struct NoLoss;

impl Checker for NoLoss {
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
    }

    fn check(&self, history: &History, _opts: &CheckOptions) -> CheckResult {
        let log = history.log();
        let drain = history.drain();
        let drain = drain.as_ref();
        let dropped_below = history
            .final_state()
            .and_then(|(index, state)| Some((index, state.dropped_below.as_ref()?)));
        let mut findings = Findings::default();
        let mut required = 0u64;
        for write in &log.writes {
            if write.kind() != WriteKind::Send {
                continue;
            }
            if !write.proven() {
                continue;
            }
            required += 1;
            if write.reads() > 0 {
                continue;
            }
            let key_name = history.key_name(write.key);
            let key = log.key(write.key);
            let acked = write.completion().unwrap_or(write.invoke());
            if let Some((final_index, &below)) =
                dropped_below.and_then(|(index, keys)| Some((index, keys.get(&write.key)?)))
            {
                match write.offset() {
                    // Deleted by overflow: nobody was owed a read of it.
                    Some(offset) if offset < below => continue,
                    Some(_) => {}
                    None if write.outcome() != Outcome::Ok => continue,
                    None => {
                        findings.doubt(|| format!(
                            "{key_name} value {} (op {acked}) was acknowledged at an unknown offset and never read, and the final state (op {final_index}) says overflow dropped {key_name}'s records below offset {below}, so it may have been dropped",
                            write.value
                        ));
                        continue;
                    }
                }
            }
            match (write.offset(), key.read_max) {
                (Some(offset), Some((read_max, proof))) if offset < read_max => {
                    let proof = log.observation(proof);
                    findings.add(
                        "lost-write",
                        Anomaly::new(format!(
                            "{key_name} value {} was acknowledged at offset {offset} (op {acked}), and op {} read up to offset {read_max}, but no poll ever returned it.",
                            write.value, proof.op()
                        ))
                        .key(key_name)
                        .value(write.value)
                        .offsets([offset])
                        .ops([acked, proof.op()])
                        .detail("highest_read", read_max),
                    );
                }
                // An info send proven only through its op's atomicity is owed where its own
                // offset proves it (a lost write), never as `unseen`: faultline's producer
                // records a batch over several partitions as one op, and a timed-out batch
                // may have landed on some partitions only.
                _ if write.outcome() != Outcome::Ok => {}
                _ if drain.is_some() && key.drained => {
                    let at = write
                        .offset()
                        .map_or("an unknown offset".to_string(), |o| format!("offset {o}"));
                    findings.add(
                        "unseen",
                        Anomaly::new(format!(
                            "{key_name} value {} was acknowledged at {at} (op {acked}), but the final drain read {key_name} to its end without seeing it.",
                            write.value
                        ))
                        .key(key_name)
                        .value(write.value)
                        .offsets(write.offset())
                        .ops([acked]),
                    );
                }
                _ => findings.doubt(|| match drain {
                    None => format!(
                        "{key_name} value {} (op {acked}) was acknowledged but never read, and the history has no drain, so it may simply not have been read yet",
                        write.value
                    ),
                    Some(drain) => format!(
                        "{key_name} value {} (op {acked}) was acknowledged but never read, and no poll after the drain (op {}) reached the end of {key_name}",
                        write.value, drain.index
                    ),
                }),
            }
        }
        if required == 0 && findings.is_clean() && drain.is_none() {
            findings.doubt(|| "no send was acknowledged, and the history has no drain".to_string());
        }
        findings.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::testing::{assert_exactly, assert_unknown, assert_valid, check};

    #[test]
    fn valid_when_every_acknowledged_send_is_read() {
        let result = check(
            &NoLoss,
            r#"{"index":0,"time":1000,"process":1,"type":"invoke","f":"send","value":[["send","orders/0",17]]}
               {"index":1,"time":2000,"process":1,"type":"ok","f":"send","value":[["send","orders/0",[0,17]]]}
               {"index":2,"time":3000,"process":"nemesis","type":"info","f":"drain","value":null}
               {"index":3,"time":4000,"process":2,"type":"invoke","f":"poll","value":[["poll"]]}
               {"index":4,"time":5000,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders/0":[[0,17]]}]]}"#,
        );
        assert_valid(&result);
    }

    #[test]
    fn lost_write_when_a_read_went_past_an_acknowledged_offset() {
        let result = check(
            &NoLoss,
            r#"{"index":0,"time":1000,"process":1,"type":"invoke","f":"send","value":[["send","orders/0",17],["send","orders/0",18]]}
               {"index":1,"time":2000,"process":1,"type":"ok","f":"send","value":[["send","orders/0",[0,17]],["send","orders/0",[1,18]]]}
               {"index":2,"time":3000,"process":2,"type":"invoke","f":"poll","value":[["poll"]]}
               {"index":3,"time":4000,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders/0":[[1,18]]}]]}"#,
        );
        assert_exactly(&result, &["lost-write"]);
        let lost = &result.anomalies["lost-write"][0];
        assert_eq!(
            (lost.value, lost.offsets.as_slice(), lost.ops.as_slice()),
            (Some(17), &[0][..], &[1, 3][..])
        );
    }

    #[test]
    fn unseen_when_the_drain_reached_the_end_without_it() {
        let result = check(
            &NoLoss,
            r#"{"index":0,"time":1000,"process":1,"type":"invoke","f":"send","value":[["send","orders/0",17]]}
               {"index":1,"time":2000,"process":1,"type":"ok","f":"send","value":[["send","orders/0",[0,17]]]}
               {"index":2,"time":3000,"process":"nemesis","type":"info","f":"drain","value":null}
               {"index":3,"time":4000,"process":2,"type":"invoke","f":"poll","value":[["poll"]]}
               {"index":4,"time":5000,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders/0":[]}]]}"#,
        );
        assert_exactly(&result, &["unseen"]);
        assert_eq!(result.anomalies["unseen"][0].value, Some(17));
    }

    #[test]
    fn unknown_without_a_drain() {
        let result = check(
            &NoLoss,
            r#"{"index":0,"time":1000,"process":1,"type":"invoke","f":"send","value":[["send","orders/0",17]]}
               {"index":1,"time":2000,"process":1,"type":"ok","f":"send","value":[["send","orders/0",[0,17]]]}"#,
        );
        let reason = assert_unknown(&result);
        assert!(reason.contains("no drain"), "{reason}");
    }

    #[test]
    fn unknown_when_the_drain_never_listed_the_key() {
        let result = check(
            &NoLoss,
            r#"{"index":0,"time":1000,"process":1,"type":"invoke","f":"send","value":[["send","orders/0",17]]}
               {"index":1,"time":2000,"process":1,"type":"ok","f":"send","value":[["send","orders/0",[0,17]]]}
               {"index":2,"time":3000,"process":"nemesis","type":"info","f":"drain","value":null}
               {"index":3,"time":4000,"process":2,"type":"invoke","f":"poll","value":[["poll"]]}
               {"index":4,"time":5000,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders/1":[]}]]}"#,
        );
        assert_unknown(&result);
    }

    #[test]
    fn unknown_when_the_drain_never_reached_the_end() {
        // The drain poll returned records for orders/0 but never an empty list: it may have
        // stopped short of the end, where 18 could still be.
        let result = check(
            &NoLoss,
            r#"{"index":0,"time":1000,"process":1,"type":"invoke","f":"send","value":[["send","orders/0",17],["send","orders/0",18]]}
               {"index":1,"time":2000,"process":1,"type":"ok","f":"send","value":[["send","orders/0",[0,17]],["send","orders/0",[1,18]]]}
               {"index":2,"time":3000,"process":"nemesis","type":"info","f":"drain","value":null}
               {"index":3,"time":4000,"process":2,"type":"invoke","f":"poll","value":[["poll"]]}
               {"index":4,"time":5000,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders/0":[[0,17]]}]]}"#,
        );
        let reason = assert_unknown(&result);
        assert!(reason.contains("reached the end of orders/0"), "{reason}");
    }

    #[test]
    fn an_info_send_that_was_read_counts() {
        // The info send of 18 was read at offset 1, so it happened; that read went past the
        // acknowledged offset 0 of value 17, which nobody read: a lost write.
        let result = check(
            &NoLoss,
            r#"{"index":0,"time":1000,"process":1,"type":"invoke","f":"send","value":[["send","orders/0",17]]}
               {"index":1,"time":2000,"process":1,"type":"ok","f":"send","value":[["send","orders/0",[0,17]]]}
               {"index":2,"time":3000,"process":3,"type":"invoke","f":"send","value":[["send","orders/0",18]]}
               {"index":3,"time":4000,"process":3,"type":"info","f":"send","value":[["send","orders/0",18]]}
               {"index":4,"time":5000,"process":2,"type":"invoke","f":"poll","value":[["poll"]]}
               {"index":5,"time":6000,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders/0":[[1,18]]}]]}"#,
        );
        assert_exactly(&result, &["lost-write"]);
        assert_eq!(result.anomalies["lost-write"][0].value, Some(17));
        assert_eq!(result.anomalies["lost-write"][0].ops, vec![1, 5]);
    }

    /// An info op sent orders/0 17 and orders/1 27 and carries their offsets; another
    /// process sent orders/0 18 at offset 1; `POLL` is what a poll returned.
    fn atomic_info(poll: &str) -> String {
        format!(
            r#"{{"index":0,"time":1000,"process":1,"type":"invoke","f":"send","value":[["send","orders/0",17],["send","orders/1",27]]}}
               {{"index":1,"time":2000,"process":1,"type":"info","f":"send","value":[["send","orders/0",[0,17]],["send","orders/1",[0,27]]]}}
               {{"index":2,"time":3000,"process":3,"type":"invoke","f":"send","value":[["send","orders/0",18]]}}
               {{"index":3,"time":4000,"process":3,"type":"ok","f":"send","value":[["send","orders/0",[1,18]]]}}
               {{"index":4,"time":5000,"process":2,"type":"invoke","f":"poll","value":[["poll"]]}}
               {{"index":5,"time":6000,"process":2,"type":"ok","f":"poll","value":[["poll",{poll}]]}}"#
        )
    }

    #[test]
    fn a_multi_send_info_op_proven_by_one_read_owes_all_its_writes() {
        // 27 was read, so the info op happened, so 17 was written at offset 0: the read of
        // orders/0 past it without it is a lost write.
        let result = check(
            &NoLoss,
            &atomic_info(r#"{"orders/1":[[0,27]],"orders/0":[[1,18]]}"#),
        );
        assert_exactly(&result, &["lost-write"]);
        let lost = &result.anomalies["lost-write"][0];
        assert_eq!((lost.value, lost.offsets.clone()), (Some(17), vec![0]));
        assert_eq!(lost.ops, vec![1, 5]);
        // Near-identical: nothing of the info op was read (so nothing of it is owed), or all
        // of it was.
        assert_valid(&check(&NoLoss, &atomic_info(r#"{"orders/0":[[1,18]]}"#)));
        assert_valid(&check(
            &NoLoss,
            &atomic_info(r#"{"orders/1":[[0,27]],"orders/0":[[0,17],[1,18]]}"#),
        ));
    }

    #[test]
    fn a_timed_out_batch_owes_no_unseen_write() {
        // Found by crash/rolling-restart seed 1: a producer batch over two partitions timed
        // out after one partition acknowledged. The read of 317 proves the op, but 318 has no
        // offset to be lost at, and `unseen` is about ok sends.
        let result = check(
            &NoLoss,
            r#"{"index":0,"time":1000,"process":1,"type":"invoke","f":"send","value":[["send","orders/1",317],["send","orders/0",318]]}
               {"index":1,"time":2000,"process":1,"type":"info","f":"send","value":[["send","orders/1",[150,317]],["send","orders/0",318]]}
               {"index":2,"time":3000,"process":"nemesis","type":"info","f":"drain","value":null}
               {"index":3,"time":4000,"process":2,"type":"invoke","f":"poll","value":[["poll"]]}
               {"index":4,"time":5000,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders/1":[[150,317]],"orders/0":[]}]]}"#,
        );
        assert_valid(&result);
    }

    #[test]
    fn a_proven_anomaly_is_invalid_even_when_another_write_is_undecided() {
        // 17 is lost (read past); 19, acknowledged above every read with no drain, is
        // undecided. The check proves an anomaly, so it says invalid, not unknown.
        let result = check(
            &NoLoss,
            r#"{"index":0,"time":1000,"process":1,"type":"invoke","f":"send","value":[["send","orders/0",17],["send","orders/0",18],["send","orders/0",19]]}
               {"index":1,"time":2000,"process":1,"type":"ok","f":"send","value":[["send","orders/0",[0,17]],["send","orders/0",[1,18]],["send","orders/0",[2,19]]]}
               {"index":2,"time":3000,"process":2,"type":"invoke","f":"poll","value":[["poll"]]}
               {"index":3,"time":4000,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders/0":[[1,18]]}]]}"#,
        );
        assert_exactly(&result, &["lost-write"]);
    }

    #[test]
    fn an_unread_info_send_is_not_required() {
        let result = check(
            &NoLoss,
            r#"{"index":0,"time":1000,"process":1,"type":"invoke","f":"send","value":[["send","orders/0",17]]}
               {"index":1,"time":2000,"process":1,"type":"ok","f":"send","value":[["send","orders/0",[0,17]]]}
               {"index":2,"time":3000,"process":3,"type":"invoke","f":"send","value":[["send","orders/0",18]]}
               {"index":3,"time":4000,"process":3,"type":"info","f":"send","value":[["send","orders/0",18]]}
               {"index":4,"time":5000,"process":4,"type":"invoke","f":"send","value":[["send","orders/0",19]]}
               {"index":5,"time":5500,"process":"nemesis","type":"info","f":"drain","value":null}
               {"index":6,"time":6000,"process":2,"type":"invoke","f":"poll","value":[["poll"]]}
               {"index":7,"time":7000,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders/0":[[0,17]]}]]}"#,
        );
        assert_valid(&result);
    }

    #[test]
    fn a_failed_send_is_not_required() {
        let result = check(
            &NoLoss,
            r#"{"index":0,"time":1000,"process":1,"type":"invoke","f":"send","value":[["send","orders/0",17]]}
               {"index":1,"time":2000,"process":1,"type":"fail","f":"send","value":[["send","orders/0",17]]}
               {"index":2,"time":3000,"process":"nemesis","type":"info","f":"drain","value":null}
               {"index":3,"time":4000,"process":2,"type":"invoke","f":"poll","value":[["poll"]]}
               {"index":4,"time":5000,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders/0":[]}]]}"#,
        );
        assert_valid(&result);
    }

    /// orders/0 holds 17..=19 at offsets 0..=2; a drop-oldest partition of capacity 1 dropped
    /// offsets 0 and 1, and the drain read the rest.
    const DROPPED: &str = r#"{"index":0,"time":1000,"process":1,"type":"invoke","f":"send","value":[["send","orders/0",17],["send","orders/0",18],["send","orders/0",19]]}
        {"index":1,"time":2000,"process":1,"type":"ok","f":"send","value":[["send","orders/0",[0,17]],["send","orders/0",[1,18]],["send","orders/0",[2,19]]]}
        {"index":2,"time":3000,"process":"nemesis","type":"info","f":"drain","value":null}
        {"index":3,"time":4000,"process":2,"type":"invoke","f":"poll","value":[["poll"]]}
        {"index":4,"time":5000,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders/0":[[2,19]]}]]}
        {"index":5,"time":6000,"process":2,"type":"invoke","f":"poll","value":[["poll"]]}
        {"index":6,"time":7000,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders/0":[]}]]}"#;

    fn dropped_below(offset: u64) -> String {
        format!(
            r#"{DROPPED}
               {{"index":7,"time":8000,"process":"nemesis","type":"ok","f":"final-state","value":{{"dropped-below":{{"orders/0":{offset}}}}}}}"#
        )
    }

    #[test]
    fn records_dropped_by_overflow_are_not_lost() {
        assert_valid(&check(&NoLoss, &dropped_below(2)));
    }

    #[test]
    fn a_record_at_or_above_the_drop_point_is_still_lost() {
        // Only offset 0 may have been dropped: offset 1 was read past and never returned.
        let result = check(&NoLoss, &dropped_below(1));
        assert_exactly(&result, &["lost-write"]);
        assert_eq!(result.anomalies["lost-write"][0].value, Some(18));
        // Without the final state's word, both are lost.
        let result = check(&NoLoss, DROPPED);
        assert_eq!(result.count("lost-write"), 2);
    }

    #[test]
    fn an_unread_record_above_the_drop_point_is_unseen() {
        let result = check(
            &NoLoss,
            r#"{"index":0,"time":1000,"process":1,"type":"invoke","f":"send","value":[["send","orders/0",17],["send","orders/0",18]]}
               {"index":1,"time":2000,"process":1,"type":"ok","f":"send","value":[["send","orders/0",[0,17]],["send","orders/0",[1,18]]]}
               {"index":2,"time":3000,"process":"nemesis","type":"info","f":"drain","value":null}
               {"index":3,"time":4000,"process":2,"type":"invoke","f":"poll","value":[["poll"]]}
               {"index":4,"time":5000,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders/0":[]}]]}
               {"index":5,"time":6000,"process":"nemesis","type":"ok","f":"final-state","value":{"dropped-below":{"orders/0":1}}}"#,
        );
        assert_exactly(&result, &["unseen"]);
        assert_eq!(result.anomalies["unseen"][0].value, Some(18));
    }

    #[test]
    fn an_unread_record_at_an_unknown_offset_on_a_dropping_key_is_undecided() {
        let result = check(
            &NoLoss,
            r#"{"index":0,"time":1000,"process":1,"type":"invoke","f":"send","value":[["send","orders/0",17]]}
               {"index":1,"time":2000,"process":1,"type":"ok","f":"send","value":[["send","orders/0",[null,17]]]}
               {"index":2,"time":3000,"process":"nemesis","type":"info","f":"drain","value":null}
               {"index":3,"time":4000,"process":2,"type":"invoke","f":"poll","value":[["poll"]]}
               {"index":4,"time":5000,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders/0":[]}]]}
               {"index":5,"time":6000,"process":"nemesis","type":"ok","f":"final-state","value":{"dropped-below":{"orders/0":1}}}"#,
        );
        let reason = assert_unknown(&result);
        assert!(reason.contains("may have been dropped"), "{reason}");
    }

    #[test]
    fn tokens_taken_by_gateways_were_read() {
        // The generator sent tokens 0..=2; gateways took 0 (ok) and read 1 before an unknown
        // take (info); both are gone from the bucket, whose drain starts at 2.
        let result = check(
            &NoLoss,
            r#"{"index":0,"time":1000,"process":1,"type":"invoke","f":"send","value":[["send","tokens/0",100],["send","tokens/0",101],["send","tokens/0",102]]}
               {"index":1,"time":2000,"process":1,"type":"ok","f":"send","value":[["send","tokens/0",[0,100]],["send","tokens/0",[1,101]],["send","tokens/0",[2,102]]]}
               {"index":2,"time":3000,"process":2,"type":"invoke","f":"admit","value":{"key":"tokens/0","request":1}}
               {"index":3,"time":4000,"process":2,"type":"ok","f":"admit","value":{"key":"tokens/0","request":1,"token":[0,100]}}
               {"index":4,"time":4000,"process":2,"type":"invoke","f":"admit","value":{"key":"tokens/0","request":2}}
               {"index":5,"time":5000,"process":2,"type":"info","f":"admit","value":{"key":"tokens/0","request":2,"token":[1,101]}}
               {"index":6,"time":6000,"process":"nemesis","type":"info","f":"drain","value":null}
               {"index":7,"time":7000,"process":3,"type":"invoke","f":"poll","value":[["poll"]]}
               {"index":8,"time":8000,"process":3,"type":"ok","f":"poll","value":[["poll",{"tokens/0":[[2,102]]}]]}
               {"index":9,"time":8000,"process":3,"type":"invoke","f":"poll","value":[["poll"]]}
               {"index":10,"time":9000,"process":3,"type":"ok","f":"poll","value":[["poll",{"tokens/0":[]}]]}"#,
        );
        assert_valid(&result);
    }
}
