//! The history format: reading, validating, writing, digesting.

use super::*;
use serde_json::json;

/// design.md section 8's example, verbatim.
const DESIGN_EXAMPLE: &str = r#"{"index":0,"time":1500000,"process":3,"type":"invoke","f":"send","value":[["send","orders/0",17]]}
{"index":1,"time":1730000,"process":3,"type":"ok","f":"send","value":[["send","orders/0",[5,17]]]}
{"index":2,"time":1800000,"process":4,"type":"invoke","f":"poll","value":[["poll"]]}
{"index":3,"time":1900000,"process":4,"type":"ok","f":"poll","value":[["poll",{"orders/0":[[5,17],[6,18]]}]]}
{"index":4,"time":2000000,"process":"nemesis","type":"info","f":"start-partition","value":{"isolate":"broker-2"}}
"#;

/// The write of `value` in a test history whose values are unique per run.
fn sent(log: &InferredLog, value: i64) -> Option<&Write> {
    log.writes.iter().find(|write| write.value == value)
}

fn parse(text: &str) -> Result<History, ReadError> {
    parse_history(text.as_bytes(), "h.jsonl")
}

/// The single problem `text` has: (line, message).
fn problem(text: &str) -> (u64, String) {
    match parse(text) {
        Ok(_) => panic!("expected a problem"),
        Err(ReadError::Invalid { problems, .. }) => {
            assert_eq!(problems.len(), 1, "{problems:#?}");
            (problems[0].line, problems[0].error.to_string())
        }
        Err(other) => panic!("{other}"),
    }
}

/// `reread` (streamed from the bytes `recorded` wrote) holds what `recorded` holds: the same
/// heads, the same typed values, the same digest of the same canonical bytes.
fn assert_same_ops(reread: &History, recorded: &History, ops: &[Op]) {
    let heads: Vec<OpHead> = ops.iter().map(Op::head).collect();
    assert_eq!(reread.ops(), heads.as_slice());
    assert_eq!(recorded.recorded_ops(), Some(ops));
    for index in 0..ops.len() as u64 {
        assert_eq!(reread.body(index), recorded.body(index), "op {index}");
    }
    assert_eq!(reread.digest(), recorded.digest());
}

#[test]
fn the_design_example_reads_and_writes_back_byte_for_byte() {
    let history = parse(DESIGN_EXAMPLE).expect("valid");
    assert_eq!(history.len(), 5);
    // A history streamed from a file keeps heads and typed values, not the JSON: the ops as
    // recorded round-trip through the writer, and the history holds their heads.
    let ops: Vec<Op> = DESIGN_EXAMPLE
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let mut written = Vec::new();
    write_history(&ops, &mut written).unwrap();
    assert_eq!(String::from_utf8(written).unwrap(), DESIGN_EXAMPLE);
    let heads: Vec<OpHead> = ops.iter().map(Op::head).collect();
    assert_eq!(history.ops(), heads.as_slice());
    assert_eq!(history.op(4).f, F::Start("partition".into()));
    assert_eq!(history.op(4).process, Process::Nemesis);
    assert_eq!(history.completion_of(0), Some(1));
    assert_eq!(history.invoke_of(3), Some(2));
}

#[test]
fn typed_values_decode() {
    let history = parse(DESIGN_EXAMPLE).unwrap();
    let orders = history.keys().id("orders/0").unwrap();
    assert_eq!(
        history.body(1).mops(),
        &[Mop::Send(SendMop {
            key: orders,
            value: 17,
            offset: Some(5),
            deadline: None,
        })]
    );
    let Mop::Poll(poll) = history.body(3).mops().get(0).unwrap().to_mop() else {
        panic!("a poll")
    };
    let reads = poll.reads.as_ref().unwrap();
    assert_eq!(
        reads[0].records[1],
        Record {
            offset: 6,
            value: 18
        }
    );
    let log = history.log();
    assert_eq!(sent(log, 17).unwrap().offset(), Some(5));
    assert_eq!(sent(log, 17).unwrap().reads(), 1);
    assert!(sent(log, 18).is_none(), "18 was read but never sent");
    assert_eq!(log.garbage.len(), 1);
    // An observation's value is its write's, or (garbage) kept aside.
    let values: Vec<i64> = log
        .key(orders)
        .order
        .iter()
        .map(|&id| log.value_seen(log.observation(id)))
        .collect();
    assert_eq!(values, vec![17, 17, 18]);
    assert_eq!(log.value_seen(log.observation(log.garbage[0])), 18);
    assert_eq!(log.key(orders).offsets.iter().collect::<Vec<_>>(), [5, 6]);
    assert_eq!(log.key(orders).known_between(4, 6), Some(5));
    assert_eq!(log.key(orders).known_between(5, 6), None);
}

#[test]
fn writing_sorts_object_keys_and_the_digest_follows_the_bytes() {
    let op = Op {
        index: 0,
        time: 7,
        process: Process::Nemesis,
        kind: OpType::Info,
        f: F::Start("partition".into()),
        value: json!({"z": 1, "a": {"y": 2, "b": 3}}),
    };
    let mut written = Vec::new();
    write_op(&op, &mut written).unwrap();
    let text = String::from_utf8(written.clone()).unwrap();
    assert_eq!(
        text,
        "{\"index\":0,\"time\":7,\"process\":\"nemesis\",\"type\":\"info\",\"f\":\"start-partition\",\"value\":{\"a\":{\"b\":3,\"y\":2},\"z\":1}}\n"
    );
    assert_eq!(
        HistoryDigest::of_ops(&[op]),
        HistoryDigest::of_bytes(&written)
    );
}

#[test]
fn the_digest_is_pinned() {
    // A change here means every stored history's digest changed: bump it deliberately. The
    // value is the reference xxHash tool's (`xxhsum -H3` of these bytes).
    let history = parse(DESIGN_EXAMPLE).unwrap();
    assert_eq!(history.digest().to_string(), "160b3ac00744d98b");
    assert_eq!(
        history.digest(),
        HistoryDigest::of_bytes(DESIGN_EXAMPLE.as_bytes())
    );
}

#[test]
fn blank_lines_are_skipped_but_counted() {
    let text = "\n{\"index\":0,\"time\":1,\"process\":1,\"type\":\"invoke\",\"f\":\"send\",\"value\":[[\"send\",\"k\",1]]}\n\n{\"index\":1,\"time\":0,\"process\":1,\"type\":\"ok\",\"f\":\"send\",\"value\":[[\"send\",\"k\",[0,1]]]}\n";
    let (line, message) = problem(text);
    assert_eq!(line, 4);
    assert!(
        message.contains("before the previous op's time"),
        "{message}"
    );
}

#[test]
fn malformed_lines_name_their_line_and_reason() {
    let send =
        r#"{"index":0,"time":1,"process":1,"type":"invoke","f":"send","value":[["send","k",1]]}"#;
    let cases: &[(&str, &str)] = &[
        ("{not json", "key must be a string"),
        (
            r#"{"index":0,"time":1,"process":1,"type":"invoke","f":"send","value":[],"extra":1}"#,
            "unknown field `extra`",
        ),
        (
            r#"{"index":0,"time":1,"process":-1,"type":"invoke","f":"send","value":[]}"#,
            "client id",
        ),
        (
            r#"{"index":0,"time":1,"process":1,"type":"begin","f":"send","value":[]}"#,
            "unknown variant `begin`",
        ),
        (
            r#"{"index":3,"time":1,"process":1,"type":"invoke","f":"send","value":[["send","k",1]]}"#,
            "out of sequence",
        ),
        (
            r#"{"index":0,"time":1,"process":1,"type":"invoke","f":"send","value":[["send","k","x"]]}"#,
            "value[0][2]: expected an integer value",
        ),
        (
            r#"{"index":0,"time":1,"process":1,"type":"invoke","f":"send","value":[["poll"]]}"#,
            "a send op holds only send micro-ops",
        ),
        (
            r#"{"index":0,"time":1,"process":1,"type":"ok","f":"poll","value":[["poll",{"k":[[0]]}]]}"#,
            "value[0][1].k[0]: expected [offset, value]",
        ),
        (
            r#"{"index":0,"time":1,"process":1,"type":"ok","f":"send","value":[["send","k",[0,1]]]}"#,
            "no open invoke",
        ),
        (
            r#"{"index":0,"time":1,"process":1,"type":"info","f":"heal","value":null}"#,
            "only the nemesis",
        ),
        (
            r#"{"index":0,"time":1,"process":"nemesis","type":"invoke","f":"send","value":[["send","k",1]]}"#,
            "client function",
        ),
        (
            r#"{"index":0,"time":1,"process":1,"type":"invoke","f":"expired","value":{"key":"k","value":1}}"#,
            "an event",
        ),
        (
            r#"{"index":0,"time":1,"process":1,"type":"invoke","f":"txn-send","value":{"txn":1,"key":"k","value":1,"local":"commit"}}"#,
            "cannot know",
        ),
        (
            r#"{"index":0,"time":1,"process":"nemesis","type":"ok","f":"final-state","value":{"txn_local":{}}}"#,
            "unknown field \"txn_local\"",
        ),
        (
            r#"{"index":0,"time":1,"process":"nemesis","type":"ok","f":"final-state","value":{"applied":{"g":{"k":["x"]}}}}"#,
            "value.applied.g.k[0]: expected an integer",
        ),
        (
            r#"{"index":0,"time":1,"process":1,"type":"info","f":"sequence-gap","value":{"key":"k","producer":1,"expected":3}}"#,
            "missing field \"got\"",
        ),
    ];
    for (line, expected) in cases {
        let (number, message) = problem(line);
        assert_eq!(number, 1, "{line}");
        assert!(
            message.contains(expected),
            "{line}\n  gave: {message}\n  want: {expected}"
        );
    }
    // Problems that need two lines.
    let pairs: &[(&str, &str)] = &[
        (
            r#"{"index":1,"time":2,"process":1,"type":"invoke","f":"send","value":[["send","k",2]]}"#,
            "still open",
        ),
        (
            r#"{"index":1,"time":2,"process":1,"type":"ok","f":"poll","value":[["poll"]]}"#,
            "open invoke (op 0) is \"send\"",
        ),
        (
            r#"{"index":1,"time":2,"process":1,"type":"ok","f":"send","value":[["send","k",[0,2]]]}"#,
            "different key or value",
        ),
        (
            r#"{"index":1,"time":2,"process":2,"type":"invoke","f":"send","value":[["send","k",1]]}"#,
            "value 1 was already sent to k by op 0",
        ),
    ];
    for (second, expected) in pairs {
        let (number, message) = problem(&format!("{send}\n{second}\n"));
        assert_eq!(number, 2, "{second}");
        assert!(
            message.contains(expected),
            "{second}\n  gave: {message}\n  want: {expected}"
        );
    }
}

#[test]
fn only_one_final_state() {
    let (line, _) = problem(
        r#"{"index":0,"time":1,"process":"nemesis","type":"ok","f":"final-state","value":{}}
           {"index":1,"time":2,"process":"nemesis","type":"ok","f":"final-state","value":{}}"#,
    );
    assert_eq!(line, 2);
}

#[test]
fn errors_render_as_file_line_reason() {
    let error = parse("{\"index\":0}\n").unwrap_err();
    let text = error.to_string();
    assert!(
        text.starts_with("h.jsonl:1: not a history op: missing field"),
        "{text}"
    );
}

#[test]
fn problems_are_bounded() {
    let text = "nope\n".repeat(ERRORS_MAX * 3);
    let error = parse(&text).unwrap_err();
    assert_eq!(error.problems().len(), ERRORS_MAX);
    assert!(error
        .to_string()
        .ends_with(&format!("stopped after {ERRORS_MAX} problems")));
}

#[test]
fn the_recorder_writes_what_the_reader_reads() {
    let mut recorder = Recorder::new();
    recorder.event(0, Process::Client(9), OpType::Info, F::Crash, json!(null));
    recorder.invoke(
        1,
        1,
        F::Send,
        values::send_invoke(&[("orders/0", 17), ("orders/1", 18)]),
    );
    recorder.complete(
        2,
        1,
        OpType::Ok,
        F::Send,
        values::send_complete(&[("orders/0", Some(0), 17), ("orders/1", None, 18)]),
    );
    recorder.invoke(
        3,
        2,
        F::TxnSend,
        values::txn_send("t1", "orders/0", 19, None),
    );
    recorder.complete(
        4,
        2,
        OpType::Ok,
        F::TxnSend,
        values::txn_send("t1", "orders/0", 19, Some(Local::Commit)),
    );
    recorder.invoke(
        5,
        3,
        F::Subscribe,
        values::membership(Some("billing"), &["orders/0"], Some(1)),
    );
    recorder.complete(
        6,
        3,
        OpType::Ok,
        F::Subscribe,
        values::membership(Some("billing"), &["orders/0"], Some(1)),
    );
    recorder.invoke(7, 3, F::Poll, values::poll_invoke());
    recorder.complete(
        8,
        3,
        OpType::Ok,
        F::Poll,
        values::poll_complete(&[("orders/0", &[(0, 17), (1, 19)])]),
    );
    recorder.invoke(9, 3, F::Apply, values::apply("orders/0", 17, Some(0)));
    recorder.complete(
        10,
        3,
        OpType::Ok,
        F::Apply,
        values::apply("orders/0", 17, Some(0)),
    );
    recorder.invoke(
        11,
        3,
        F::CommitOffsets,
        values::commit_offsets(&[("orders/0", 2)]),
    );
    recorder.complete(
        12,
        3,
        OpType::Ok,
        F::CommitOffsets,
        values::commit_offsets(&[("orders/0", 2)]),
    );
    recorder.event(
        13,
        Process::Client(3),
        OpType::Info,
        F::SequenceGap,
        values::sequence_gap("orders/0", 4, 1, 3),
    );
    recorder.nemesis(14, F::Heal, json!(null));
    recorder.nemesis(15, F::Drain, json!(null));
    let record = values::FinalStateRecord {
        txn_local: Some([("t1".to_string(), Local::Commit)].into_iter().collect()),
        applied: Some(
            [(
                "billing".to_string(),
                [("orders/0".to_string(), vec![17, 19])]
                    .into_iter()
                    .collect(),
            )]
            .into_iter()
            .collect(),
        ),
        committed_offsets: Some(
            [(
                "billing".to_string(),
                [("orders/0".to_string(), 2)].into_iter().collect(),
            )]
            .into_iter()
            .collect(),
        ),
        ..values::FinalStateRecord::default()
    };
    recorder.nemesis(16, F::FinalState, record.to_value());

    let mut bytes = Vec::new();
    recorder.write_to(&mut bytes).unwrap();
    let ops = recorder.ops().to_vec();
    let history = recorder.finish().expect("valid");
    let reread = parse(std::str::from_utf8(&bytes).unwrap()).expect("reads back");
    assert_same_ops(&reread, &history, &ops);

    let orders = history.keys().id("orders/0").unwrap();
    let (_, state) = history.final_state().unwrap();
    let t1 = history.txns().id("t1").unwrap();
    assert_eq!(
        state.txn_local.as_ref().unwrap().get(t1),
        Some(Local::Commit)
    );
    assert_eq!(history.txn_name(t1), "t1");
    assert_eq!(
        state.applied.as_ref().unwrap()["billing"][&orders],
        vec![17, 19]
    );
    assert_eq!(
        state.committed_offsets.as_ref().unwrap()["billing"][&orders],
        2
    );
    assert!(matches!(
        history.body(13).to_body(),
        Body::SequenceGap(SequenceGap {
            producer: 4,
            expected: 1,
            got: 3,
            ..
        })
    ));
    assert!(matches!(
        history.body(9).to_body(),
        Body::Apply(Apply {
            value: 17,
            offset: Some(0),
            ..
        })
    ));
    assert_eq!(history.heal().unwrap().index, 14);
    assert_eq!(history.drain().unwrap().index, 15);
    assert_eq!(history.log().sends_ok(), 2);
    assert_eq!(sent(history.log(), 19).unwrap().kind(), WriteKind::TxnSend);
}

#[test]
#[should_panic(expected = "time went backwards")]
fn the_recorder_refuses_time_going_backwards() {
    let mut recorder = Recorder::new();
    recorder.nemesis(10, F::Heal, json!(null));
    recorder.nemesis(9, F::Drain, json!(null));
}

#[test]
#[should_panic(expected = "while op Some(0) is open")]
fn the_recorder_refuses_a_second_open_op() {
    let mut recorder = Recorder::new();
    recorder.invoke(1, 1, F::Poll, values::poll_invoke());
    recorder.invoke(2, 1, F::Poll, values::poll_invoke());
}

#[test]
fn an_unfinished_invoke_is_an_info() {
    let history = parse(
        r#"{"index":0,"time":1,"process":1,"type":"invoke","f":"send","value":[["send","k",1]]}"#,
    )
    .unwrap();
    let write = sent(history.log(), 1).unwrap();
    assert_eq!((write.outcome(), write.completion()), (Outcome::Info, None));
}

#[test]
fn sparse_values_use_the_sorted_table() {
    let history = parse(
        r#"{"index":0,"time":1,"process":1,"type":"invoke","f":"send","value":[["send","k",-9000000000],["send","k",9000000000],["send","j",9000000000]]}
           {"index":1,"time":2,"process":1,"type":"ok","f":"send","value":[["send","k",[0,-9000000000]],["send","k",[1,9000000000]],["send","j",[0,9000000000]]]}"#,
    )
    .unwrap();
    let (k, j) = (
        history.keys().id("k").unwrap(),
        history.keys().id("j").unwrap(),
    );
    let log = history.log();
    assert_eq!(log.write_of(k, 9_000_000_000).unwrap().offset(), Some(1));
    assert_eq!(log.write_of(j, 9_000_000_000).unwrap().offset(), Some(0));
    assert_eq!(log.write_of(k, -9_000_000_000).unwrap().offset(), Some(0));
    assert!(log.write_of(k, 0).is_none());
    assert!(log.write_of(j, -9_000_000_000).is_none());
}

#[test]
fn values_are_unique_per_key_not_per_run() {
    // Jepsen's rule: the same value under two keys is two messages (dense table, with the
    // second key's write kept aside).
    let history = parse(
        r#"{"index":0,"time":1,"process":1,"type":"invoke","f":"send","value":[["send","k",1],["send","j",1]]}
           {"index":1,"time":2,"process":1,"type":"ok","f":"send","value":[["send","k",[0,1]],["send","j",[3,1]]]}"#,
    )
    .unwrap();
    let (k, j) = (
        history.keys().id("k").unwrap(),
        history.keys().id("j").unwrap(),
    );
    assert_eq!(history.log().write_of(k, 1).unwrap().offset(), Some(0));
    assert_eq!(history.log().write_of(j, 1).unwrap().offset(), Some(3));
    assert!(history.log().relocations.is_empty());
    // Twice to one key is still bad input, in either table.
    for value in ["1", "9000000000"] {
        let (line, message) = problem(&format!(
            r#"{{"index":0,"time":1,"process":1,"type":"invoke","f":"send","value":[["send","k",{value}],["send","j",{value}],["send","k",-9000000000]]}}
               {{"index":1,"time":2,"process":2,"type":"invoke","f":"send","value":[["send","j",{value}]]}}"#
        ));
        assert_eq!(line, 2);
        assert!(
            message.contains(&format!("value {value} was already sent to j by op 0")),
            "{message}"
        );
    }
}

#[test]
fn a_process_id_used_again_after_info_is_a_new_logical_process() {
    let history = parse(
        r#"{"index":0,"time":1,"process":1,"type":"invoke","f":"send","value":[["send","k",1]]}
           {"index":1,"time":2,"process":1,"type":"info","f":"send","value":[["send","k",1]]}
           {"index":2,"time":3,"process":1,"type":"invoke","f":"send","value":[["send","k",2]]}
           {"index":3,"time":4,"process":1,"type":"ok","f":"send","value":[["send","k",[0,2]]]}"#,
    )
    .unwrap();
    assert_ne!(history.slot(0), history.slot(2));
    assert_eq!(history.slot(2), history.slot(3));
    assert_eq!(history.notes().len(), 1);
    assert!(
        history.notes()[0].contains("process 1 at op 2 (after its info at op 1)"),
        "{:?}",
        history.notes()
    );
}

#[test]
fn jepsen_client_crashes_and_admin_reads_pair_like_requests() {
    let history = parse(
        r#"{"index":0,"time":1,"process":1,"type":"invoke","f":"crash","value":null}
           {"index":1,"time":2,"process":1,"type":"info","f":"crash","value":null}
           {"index":2,"time":3,"process":1,"type":"invoke","f":"debug-topic-partitions","value":[0,1]}
           {"index":3,"time":4,"process":1,"type":"ok","f":"debug-topic-partitions","value":{"0":{"leader":1}}}
           {"index":4,"time":5,"process":2,"type":"info","f":"crash","value":null}"#,
    )
    .unwrap();
    assert_eq!(history.completion_of(0), Some(1));
    assert_eq!(history.completion_of(2), Some(3));
    assert_eq!(
        history.notes().len(),
        1,
        "process 1 came back after its crash"
    );
}

#[test]
fn deadlines_expiries_and_admissions_decode() {
    let history = parse(
        r#"{"index":0,"time":1000,"process":1,"type":"invoke","f":"send","value":[["send","orders/0",17,{"deadline":1500000000}],["send","orders/0",18]]}
           {"index":1,"time":2000,"process":1,"type":"ok","f":"send","value":[["send","orders/0",[5,17],{"deadline":1500000000}],["send","orders/0",[6,18]]]}
           {"index":2,"time":3000,"process":2,"type":"invoke","f":"txn","value":[["send","orders/1",19,{"deadline":7}],["poll"]]}
           {"index":3,"time":4000,"process":2,"type":"ok","f":"txn","value":[["send","orders/1",[0,19]],["poll",{}]]}
           {"index":4,"time":5000,"process":3,"type":"ok","f":"expired","value":{"key":"orders/1","value":19,"offset":0}}
           {"index":5,"time":5000,"process":3,"type":"ok","f":"expired","value":{"key":"orders/1","value":20}}
           {"index":6,"time":6000,"process":4,"type":"invoke","f":"admit","value":{"key":"tokens/0","request":1}}
           {"index":7,"time":7000,"process":4,"type":"ok","f":"admit","value":{"key":"tokens/0","request":1,"token":[3,900]}}
           {"index":8,"time":7000,"process":4,"type":"invoke","f":"admit","value":{"key":"tokens/0","request":2}}
           {"index":9,"time":8000,"process":4,"type":"fail","f":"admit","value":{"key":"tokens/0","request":2}}
           {"index":10,"time":8000,"process":5,"type":"invoke","f":"admit","value":{"key":"tokens/0","request":3}}
           {"index":11,"time":9000,"process":5,"type":"info","f":"admit","value":{"key":"tokens/0","request":3,"token":[4,901]}}
           {"index":12,"time":9000,"process":"nemesis","type":"ok","f":"final-state","value":{"token-buckets":{"tokens/0":{"rate-per-s":2.5,"capacity":10}},"dropped-below":{"orders/0":4}}}"#,
    )
    .expect("valid");
    let orders = history.keys().id("orders/0").unwrap();
    let tokens = history.keys().id("tokens/0").unwrap();
    let Mop::Send(send) = history.body(1).mops().get(0).unwrap().to_mop() else {
        panic!("a send")
    };
    assert_eq!((send.offset, send.deadline), (Some(5), Some(1_500_000_000)));
    assert_eq!(
        history.deadline(sent(history.log(), 17).unwrap()),
        Some(1_500_000_000)
    );
    assert_eq!(history.deadline(sent(history.log(), 18).unwrap()), None);
    // The completion left the deadline out; the invoke's stands.
    assert_eq!(history.deadline(sent(history.log(), 19).unwrap()), Some(7));
    assert!(matches!(
        history.body(4).to_body(),
        Body::Expired(Expired {
            value: 19,
            offset: Some(0),
            ..
        })
    ));
    assert!(matches!(
        history.body(5).to_body(),
        Body::Expired(Expired { offset: None, .. })
    ));
    assert_eq!(
        history.body(7).to_body(),
        Body::Admit(Admit {
            key: tokens,
            request: 1,
            token: Some(Record {
                offset: 3,
                value: 900
            })
        })
    );
    assert_eq!(history.completion_of(8), Some(9));
    // The tokens the gateways read (ok and info alike) are reads of tokens/0.
    let reads: Vec<(u64, i64, u64)> = history
        .log()
        .key(tokens)
        .order
        .iter()
        .map(|&id| history.log().observation(id))
        .map(|o| (o.offset, history.log().value_seen(o), o.op()))
        .collect();
    assert_eq!(reads, vec![(3, 900, 7), (4, 901, 11)]);
    assert_eq!(history.log().key(tokens).read_max.map(|(o, _)| o), Some(4));
    let (_, state) = history.final_state().unwrap();
    let bucket = state.token_buckets.as_ref().unwrap()[&tokens];
    assert_eq!(
        (bucket.rate.nanotokens_per_s, bucket.capacity),
        (2_500_000_000, 10)
    );
    assert_eq!(state.dropped_below.as_ref().unwrap()[&orders], 4);
}

#[test]
fn malformed_deadlines_expiries_and_admissions_are_named() {
    let cases: &[(&str, &str)] = &[
        (
            r#"{"index":0,"time":1,"process":1,"type":"invoke","f":"send","value":[["send","k",1,{"deadline":5,"ttl":3}]]}"#,
            "value[0][3]: unknown field \"ttl\" (known: deadline)",
        ),
        (
            r#"{"index":0,"time":1,"process":1,"type":"invoke","f":"send","value":[["send","k",1,{}]]}"#,
            "value[0][3]: missing field \"deadline\"",
        ),
        (
            r#"{"index":0,"time":1,"process":1,"type":"invoke","f":"send","value":[["send","k",1,{"deadline":-5}]]}"#,
            "value[0][3].deadline: expected a non-negative integer",
        ),
        (
            r#"{"index":0,"time":1,"process":1,"type":"invoke","f":"send","value":[["send","k",1,5]]}"#,
            "value[0][3]: expected {\"deadline\":ns} after the value",
        ),
        (
            r#"{"index":0,"time":1,"process":1,"type":"invoke","f":"send","value":[["send","k",1,{"deadline":5},{}]]}"#,
            "optionally followed by {\"deadline\":ns}",
        ),
        (
            r#"{"index":0,"time":1,"process":1,"type":"info","f":"expired","value":{"key":"k","value":1}}"#,
            "an expired event is recorded once as ok",
        ),
        (
            r#"{"index":0,"time":1,"process":1,"type":"invoke","f":"expired","value":{"key":"k","value":1}}"#,
            "an event, recorded once",
        ),
        (
            r#"{"index":0,"time":1,"process":"nemesis","type":"ok","f":"expired","value":{"key":"k","value":1}}"#,
            "\"expired\" is a consumer's event",
        ),
        (
            r#"{"index":0,"time":1,"process":1,"type":"ok","f":"expired","value":{"key":"k","value":1,"deadline":3}}"#,
            "unknown field \"deadline\"",
        ),
        (
            r#"{"index":0,"time":1,"process":1,"type":"invoke","f":"admit","value":{"key":"tokens/0"}}"#,
            "missing field \"request\"",
        ),
        (
            r#"{"index":0,"time":1,"process":1,"type":"invoke","f":"admit","value":{"key":"tokens/0","request":"r1"}}"#,
            "value.request: expected an integer value",
        ),
        (
            r#"{"index":0,"time":1,"process":"nemesis","type":"info","f":"admit","value":{"key":"tokens/0","request":1}}"#,
            "\"admit\" is a client function",
        ),
        (
            r#"{"index":0,"time":1,"process":"nemesis","type":"ok","f":"final-state","value":{"token-buckets":{"tokens/0":{"rate-per-s":0,"capacity":1}}}}"#,
            "value.token-buckets[\"tokens/0\"].rate-per-s: expected a positive number of tokens per second",
        ),
        (
            r#"{"index":0,"time":1,"process":"nemesis","type":"ok","f":"final-state","value":{"token-buckets":{"tokens/0":{"rate-per-s":1,"capacity":-1}}}}"#,
            "capacity: expected a non-negative integer",
        ),
        (
            r#"{"index":0,"time":1,"process":"nemesis","type":"ok","f":"final-state","value":{"token-buckets":{"tokens/0":{"rate":1,"capacity":1}}}}"#,
            "unknown field \"rate\" (known: rate-per-s, capacity)",
        ),
        (
            r#"{"index":0,"time":1,"process":"nemesis","type":"ok","f":"final-state","value":{"token-buckets":{"tokens/0":{"rate-per-s":1}}}}"#,
            "missing field \"capacity\"",
        ),
        (
            r#"{"index":0,"time":1,"process":"nemesis","type":"ok","f":"final-state","value":{"dropped-below":{"orders/0":"3"}}}"#,
            "value.dropped-below[\"orders/0\"]: expected a non-negative integer",
        ),
    ];
    for (line, expected) in cases {
        let (number, message) = problem(line);
        assert_eq!(number, 1, "{line}");
        assert!(
            message.contains(expected),
            "{line}\n  gave: {message}\n  want: {expected}"
        );
    }

    let admit = r#"{"index":0,"time":1,"process":1,"type":"invoke","f":"admit","value":{"key":"tokens/0","request":7}}"#;
    let send = r#"{"index":0,"time":1,"process":1,"type":"invoke","f":"send","value":[["send","k",1,{"deadline":5}]]}"#;
    let pairs: &[(&str, &str, &str)] = &[
        (
            admit,
            r#"{"index":1,"time":2,"process":1,"type":"ok","f":"admit","value":{"key":"tokens/0","request":7}}"#,
            "an ok admit names the token it took",
        ),
        (
            r#"{"index":0,"time":1,"process":1,"type":"invoke","f":"admit","value":{"key":"tokens/0","request":7,"token":[0,1]}}"#,
            r#"{"index":1,"time":2,"process":1,"type":"ok","f":"admit","value":{"key":"tokens/0","request":7,"token":[1,2]}}"#,
            "names another token than the invoke read",
        ),
        (
            admit,
            r#"{"index":1,"time":2,"process":1,"type":"ok","f":"admit","value":{"key":"tokens/0","request":8,"token":[0,1]}}"#,
            "request 7 invoked, request 8 completed",
        ),
        (
            admit,
            r#"{"index":1,"time":2,"process":2,"type":"invoke","f":"admit","value":{"key":"tokens/1","request":7}}"#,
            "admit request 7 was already asked for by op 0; request ids are unique per run",
        ),
        (
            send,
            r#"{"index":1,"time":2,"process":1,"type":"ok","f":"send","value":[["send","k",[0,1],{"deadline":6}]]}"#,
            "micro-op 0 was sent with deadline 5 but completed with deadline 6",
        ),
        (
            r#"{"index":0,"time":1,"process":1,"type":"invoke","f":"send","value":[["send","k",1]]}"#,
            r#"{"index":1,"time":2,"process":1,"type":"ok","f":"send","value":[["send","k",[0,1],{"deadline":6}]]}"#,
            "completed with deadline 6, which its invoke did not carry",
        ),
    ];
    for (first, second, expected) in pairs {
        let (number, message) = problem(&format!("{first}\n{second}\n"));
        assert_eq!(number, 2, "{second}");
        assert!(
            message.contains(expected),
            "{second}\n  gave: {message}\n  want: {expected}"
        );
    }
}

#[test]
fn the_recorder_writes_deadlines_expiries_and_admissions_the_reader_reads() {
    let mut recorder = Recorder::new();
    recorder.invoke(
        1,
        1,
        F::Send,
        values::send_invoke_with_deadline(&[("orders/0", 17, Some(50)), ("orders/0", 18, None)]),
    );
    recorder.complete(
        2,
        1,
        OpType::Ok,
        F::Send,
        values::send_complete_with_deadline(&[
            ("orders/0", Some(0), 17, Some(50)),
            ("orders/0", Some(1), 18, None),
        ]),
    );
    recorder.event(
        60,
        Process::Client(2),
        OpType::Ok,
        F::Expired,
        values::expired("orders/0", 17, Some(0)),
    );
    recorder.invoke(61, 3, F::Admit, values::admit("tokens/0", 1, None));
    recorder.complete(
        62,
        3,
        OpType::Ok,
        F::Admit,
        values::admit("tokens/0", 1, Some((0, 900))),
    );
    let value = json!({
        "token-buckets": {"tokens/0": {"rate-per-s": 200, "capacity": 5},
                          "tokens/1": {"rate-per-s": 0.25, "capacity": 0}},
        "dropped-below": {"orders/0": 1}
    });
    recorder.nemesis(63, F::FinalState, value);

    let mut bytes = Vec::new();
    recorder.write_to(&mut bytes).unwrap();
    let text = String::from_utf8(bytes).unwrap();
    assert!(
        text.contains(r#"["send","orders/0",17,{"deadline":50}],["send","orders/0",18]]"#),
        "{text}"
    );
    assert!(text.contains(r#""f":"expired""#) && text.contains(r#""f":"admit""#));
    let ops = recorder.ops().to_vec();
    let history = recorder.finish().expect("valid");
    let reread = parse(&text).expect("reads back");
    assert_same_ops(&reread, &history, &ops);
    assert_eq!(reread.op(2).f, F::Expired);
    assert_eq!(reread.op(3).f, F::Admit);
    let tokens = history.keys().id("tokens/1").unwrap();
    let (_, state) = history.final_state().unwrap();
    assert_eq!(
        state.token_buckets.as_ref().unwrap()[&tokens]
            .rate
            .nanotokens_per_s,
        250_000_000
    );
}

#[test]
#[should_panic(expected = "is an ok event of a consumer process")]
fn the_recorder_refuses_an_expiry_by_the_nemesis() {
    let mut recorder = Recorder::new();
    recorder.nemesis(1, F::Expired, values::expired("orders/0", 1, None));
}

/// Every shape of invoke and completion the sharing of values between them must leave as
/// recorded: sends with deadlines kept and dropped, polls with and without records, a `txn`,
/// `txn-send` (`ok` adding `local`, `info` repeating), `admit` with and without tokens,
/// `commit-offsets`, `fail` and `info` completions, and invokes never completed.
const PAIRED_VALUES: &str = r#"{"index":0,"time":1000,"process":1,"type":"invoke","f":"send","value":[["send","orders/0",1,{"deadline":5000}],["send","orders/1",2]]}
{"index":1,"time":1000,"process":2,"type":"invoke","f":"poll","value":[["poll"]]}
{"index":2,"time":2000,"process":1,"type":"ok","f":"send","value":[["send","orders/0",[0,1],{"deadline":5000}],["send","orders/1",[0,2]]]}
{"index":3,"time":2000,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders/0":[[0,1]]}]]}
{"index":4,"time":3000,"process":1,"type":"invoke","f":"send","value":[["send","orders/0",3,{"deadline":9000}]]}
{"index":5,"time":3000,"process":1,"type":"ok","f":"send","value":[["send","orders/0",[1,3]]]}
{"index":6,"time":4000,"process":3,"type":"invoke","f":"txn","value":[["send","orders/1",4,{"deadline":7000}],["poll"]]}
{"index":7,"time":4000,"process":3,"type":"ok","f":"txn","value":[["send","orders/1",[1,4],{"deadline":7000}],["poll",{"orders/0":[[0,1],[1,3]]}]]}
{"index":8,"time":5000,"process":4,"type":"invoke","f":"txn-send","value":{"key":"orders/1","txn":"t1","value":5}}
{"index":9,"time":5000,"process":4,"type":"ok","f":"txn-send","value":{"key":"orders/1","local":"commit","txn":"t1","value":5}}
{"index":10,"time":6000,"process":4,"type":"invoke","f":"txn-send","value":{"key":"orders/1","txn":"t2","value":6}}
{"index":11,"time":6000,"process":4,"type":"info","f":"txn-send","value":{"key":"orders/1","txn":"t2","value":6}}
{"index":12,"time":7000,"process":6,"type":"invoke","f":"admit","value":{"key":"tokens/0","request":1}}
{"index":13,"time":7000,"process":6,"type":"fail","f":"admit","value":{"key":"tokens/0","request":1}}
{"index":14,"time":8000,"process":6,"type":"invoke","f":"admit","value":{"key":"tokens/0","request":2}}
{"index":15,"time":8000,"process":6,"type":"ok","f":"admit","value":{"key":"tokens/0","request":2,"token":[0,900]}}
{"index":16,"time":9000,"process":6,"type":"invoke","f":"admit","value":{"key":"tokens/0","request":3,"token":[1,901]}}
{"index":17,"time":9000,"process":6,"type":"ok","f":"admit","value":{"key":"tokens/0","request":3,"token":[1,901]}}
{"index":18,"time":10000,"process":6,"type":"invoke","f":"admit","value":{"key":"tokens/0","request":4,"token":[2,902]}}
{"index":19,"time":10000,"process":6,"type":"info","f":"admit","value":{"key":"tokens/0","request":4}}
{"index":20,"time":11000,"process":2,"type":"invoke","f":"commit-offsets","value":{"orders/0":1}}
{"index":21,"time":11000,"process":2,"type":"ok","f":"commit-offsets","value":{"orders/0":1}}
{"index":22,"time":12000,"process":7,"type":"invoke","f":"send","value":[["send","orders/0",7]]}
{"index":23,"time":12000,"process":7,"type":"fail","f":"send","value":[["send","orders/0",7]]}
{"index":24,"time":13000,"process":8,"type":"invoke","f":"send","value":[["send","orders/1",8,{"deadline":20000}]]}
{"index":25,"time":13000,"process":8,"type":"info","f":"send","value":[["send","orders/1",[null,8],{"deadline":20000}]]}
{"index":26,"time":14000,"process":2,"type":"invoke","f":"poll","value":[["poll"]]}
{"index":27,"time":14000,"process":2,"type":"fail","f":"poll","value":[["poll"]]}
{"index":28,"time":15000,"process":9,"type":"invoke","f":"send","value":[["send","orders/0",9,{"deadline":30000}]]}
{"index":29,"time":15000,"process":10,"type":"invoke","f":"poll","value":[["poll"]]}
"#;

/// The bytes `part` of `history` holds.
fn held(history: &History, part: &str) -> usize {
    let parts = history.held_bytes();
    let found = parts.iter().find(|&&(name, _)| name == part);
    found.unwrap_or_else(|| panic!("no part {part}")).1
}

/// Every op of `history` reads back exactly as its value decodes alone, stored apart from
/// every other op's; and values were stored once for both ops of a pair (less micro-ops and
/// deadlines held than apart).
fn assert_values_as_recorded(history: &History, ops: &[Op]) {
    let (mut keys, mut txns) = (history.keys().clone(), history.txns().clone());
    let mut apart = bodies::Bodies::default();
    for op in ops {
        let alone =
            decode::decode(&op.f, op.kind, &op.value, &mut keys, &mut txns).expect("decodes");
        apart.push(alone);
    }
    assert_eq!(
        keys.len(),
        history.keys().len(),
        "decoding alone interns no new key"
    );
    for (index, op) in ops.iter().enumerate() {
        let index = index as u64;
        assert_eq!(history.body(index), apart.get(index), "op {index}: {op:?}");
        assert_eq!(
            history.body(index).to_body(),
            apart.get(index).to_body(),
            "op {index}"
        );
    }
    let mut parts = Vec::new();
    apart.held_bytes(&mut parts);
    let held_apart = |part: &str| parts.iter().find(|&&(name, _)| name == part).unwrap().1;
    for part in ["micro-ops", "deadlines", "other values"] {
        assert!(
            held(history, part) < held_apart(part),
            "{part}: {} bytes held, {} apart",
            held(history, part),
            held_apart(part)
        );
    }
}

#[test]
fn an_invoke_and_its_completion_share_a_value_but_read_back_as_recorded() {
    let ops: Vec<Op> = PAIRED_VALUES
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let streamed = parse(PAIRED_VALUES).expect("valid");
    assert_values_as_recorded(&streamed, &ops);
    let built = History::from_ops(ops.clone()).expect("valid");
    assert_values_as_recorded(&built, &ops);
    let tokens = streamed.keys().id("tokens/0").unwrap();
    assert_eq!(
        streamed.body(19),
        BodyView::Admit(&Admit {
            key: tokens,
            request: 4,
            token: None
        })
    );

    let ops = synthetic::synthetic_history(&synthetic::SyntheticOptions {
        ops: 20_000,
        ..Default::default()
    });
    let built = History::from_ops(ops.clone()).expect("valid");
    assert_values_as_recorded(&built, &ops);
}

#[test]
fn garbage_values_read_back_in_observation_order() {
    let history = parse(
        r#"{"index":0,"time":1000,"process":1,"type":"invoke","f":"send","value":[["send","orders/0",17]]}
           {"index":1,"time":2000,"process":1,"type":"ok","f":"send","value":[["send","orders/0",[0,17]]]}
           {"index":2,"time":3000,"process":2,"type":"invoke","f":"poll","value":[["poll"]]}
           {"index":3,"time":4000,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders/0":[[0,17],[1,99],[2,-98]],"orders/1":[[0,17]]}]]}"#,
    )
    .expect("valid");
    let log = history.log();
    let garbage: Vec<(u64, i64)> = log
        .garbage
        .iter()
        .map(|&id| {
            (
                log.observation(id).offset,
                log.value_seen(log.observation(id)),
            )
        })
        .collect();
    // 17 under orders/1 was never sent there: garbage too, though its value was sent.
    assert_eq!(garbage, vec![(1, 99), (2, -98), (0, 17)]);
    let matched = log.observations.iter().filter(|o| o.write().is_some());
    assert!(matched.clone().all(|o| log.value_seen(o) == 17));
    assert_eq!(matched.count(), 2);
}
