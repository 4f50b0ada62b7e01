//! Every check over whole histories: a valid synthetic history passes all of them, and each
//! planted defect in it is caught by the check that owns it.

use harness::checker::{self, run_result, CheckOptions, Checked, RunMeta, Verdict};
use harness::history::synthetic::{plant_stale_read, synthetic_history, SyntheticOptions};
use harness::history::{History, Op, OpType, F};
use serde_json::{json, Value};

fn synthetic(seed: u64) -> Vec<Op> {
    synthetic_history(&SyntheticOptions {
        ops: 20_000,
        seed,
        ..SyntheticOptions::default()
    })
}

/// The same, with coordinator clients sharing 4 znodes.
fn synthetic_with_znodes(seed: u64) -> Vec<Op> {
    synthetic_history(&SyntheticOptions {
        ops: 20_000,
        seed,
        znodes: 4,
        ..SyntheticOptions::default()
    })
}

fn check_all(ops: Vec<Op>) -> Checked {
    let history = History::from_ops(ops).expect("a valid history");
    checker::run_checks(&history, &checker::all(), &CheckOptions::default())
}

fn found(checked: &Checked) -> Vec<&str> {
    checked.anomalies().keys().copied().collect()
}

#[test]
fn a_synthetic_history_is_valid_for_every_check() {
    for seed in 1..=5 {
        let checked = check_all(synthetic_with_znodes(seed));
        for (name, result) in &checked.results {
            assert_eq!(
                result.verdict,
                Verdict::Valid,
                "seed {seed} {name}: {:#?}",
                result.anomalies
            );
        }
        assert_eq!(checked.results.len(), checker::CHECK_NAMES.len());
        assert_eq!(checked.verdict, Verdict::Valid);
    }
}

/// The records of the `n`th ok poll that returned at least `at_least` records.
fn poll_records(ops: &mut [Op], n: usize, at_least: usize) -> &mut Vec<Value> {
    let op = ops
        .iter_mut()
        .filter(|op| op.f == F::Poll && op.kind == OpType::Ok)
        .filter(|op| {
            op.value[0][1]
                .as_object()
                .and_then(|map| map.values().next())
                .and_then(Value::as_array)
                .is_some_and(|records| records.len() >= at_least)
        })
        .nth(n)
        .expect("such a poll");
    op.value[0][1]
        .as_object_mut()
        .and_then(|map| map.values_mut().next())
        .and_then(Value::as_array_mut)
        .expect("records")
}

#[test]
fn a_record_dropped_from_a_poll_is_a_lost_write_and_a_skip() {
    let mut ops = synthetic(7);
    poll_records(&mut ops, 10, 3).remove(1);
    let checked = check_all(ops);
    assert_eq!(checked.verdict, Verdict::Invalid);
    let names = found(&checked);
    assert!(names.contains(&"lost-write"), "{names:?}");
    assert!(names.contains(&"int-poll-skip"), "{names:?}");
}

#[test]
fn a_record_delivered_twice_is_caught() {
    let mut ops = synthetic(8);
    let records = poll_records(&mut ops, 10, 2);
    let first = records[0].clone();
    records.insert(1, first);
    let checked = check_all(ops);
    let names = found(&checked);
    assert!(names.contains(&"int-nonmonotonic-poll"), "{names:?}");
}

#[test]
fn a_value_corrupted_in_a_poll_is_caught() {
    let mut ops = synthetic(9);
    // A poll from the 10th on whose first record's offset was acknowledged by a send, so the
    // corrupted read contradicts the acknowledgement.
    let history = History::from_ops(ops.clone()).expect("valid");
    let acked = |record: &Value| {
        record[1]
            .as_i64()
            .and_then(|value| history.log().writes.iter().find(|w| w.value == value))
            .is_some_and(|write| write.offset().is_some())
    };
    let n = (10..)
        .find(|&n| acked(&poll_records(&mut ops, n, 1)[0]))
        .expect("such a poll");
    poll_records(&mut ops, n, 1)[0][1] = json!(-5);
    let checked = check_all(ops);
    let names = found(&checked);
    assert!(names.contains(&"garbage-read"), "{names:?}");
    assert!(names.contains(&"inconsistent-offsets"), "{names:?}");
}

#[test]
fn a_lost_committed_offset_is_caught() {
    let mut ops = synthetic(10);
    let state = ops
        .iter_mut()
        .find(|op| op.f == F::FinalState)
        .expect("final state");
    let committed = state.value["committed-offsets"]["billing"]
        .as_object_mut()
        .expect("offsets");
    for offset in committed.values_mut() {
        *offset = json!(offset.as_u64().unwrap() / 2);
    }
    let checked = check_all(ops);
    assert_eq!(found(&checked), vec!["offset-regression"]);
}

#[test]
fn a_rolled_back_transaction_made_visible_is_caught() {
    let mut ops = synthetic(11);
    let commit = ops
        .iter()
        .position(|op| op.f == F::TxnSend && op.value["local"] == "commit")
        .expect("a committed transaction");
    ops[commit].value["local"] = json!("rollback");
    let txn = ops[commit].value["txn"].as_str().unwrap().to_string();
    let state = ops.iter_mut().find(|op| op.f == F::FinalState).unwrap();
    state.value["txn-local"][txn.as_str()] = json!("rollback");
    let checked = check_all(ops);
    assert_eq!(found(&checked), vec!["txn-aborted-visible"]);
}

#[test]
fn a_bucket_slower_than_the_gateways_admissions_is_caught() {
    let mut ops = synthetic(12);
    let state = ops.iter_mut().find(|op| op.f == F::FinalState).unwrap();
    state.value["token-buckets"]["tokens/0"]["rate-per-s"] = json!(100);
    let checked = check_all(ops);
    assert_eq!(found(&checked), vec!["rate-exceeded"]);
}

#[test]
fn a_znode_read_that_went_back_a_version_is_caught() {
    let mut ops = synthetic_with_znodes(14);
    // The last read of a znode at version 2 or more now returns the version below.
    plant_stale_read(&mut ops);
    let checked = check_all(ops);
    let names = found(&checked);
    assert!(
        names == ["zk-lost-write"] || names == ["zk-stale-read"],
        "{names:?}"
    );
}

#[test]
fn a_message_expired_before_its_deadline_is_caught() {
    let mut ops = synthetic(13);
    let expired = ops
        .iter()
        .find(|op| op.f == F::Expired)
        .expect("an expiry")
        .value["value"]
        .clone();
    // Its send (invoke and completion) said it would keep for a long while yet.
    for op in ops.iter_mut().filter(|op| op.f == F::Send) {
        for mop in op.value.as_array_mut().unwrap() {
            let sent = mop[2].get(1).unwrap_or(&mop[2]).clone();
            if sent == expired {
                mop[3] = json!({"deadline": 1_000_000_000_000_000u64});
            }
        }
    }
    let checked = check_all(ops);
    assert_eq!(found(&checked), vec!["premature-expiry"]);
}

#[test]
fn run_results_render_stably() {
    let text = r#"{"index":0,"time":1000000000,"process":1,"type":"invoke","f":"send","value":[["send","orders/0",17],["send","orders/0",18]]}
{"index":1,"time":1100000000,"process":1,"type":"ok","f":"send","value":[["send","orders/0",[0,17]],["send","orders/0",[1,18]]]}
{"index":2,"time":2000000000,"process":"nemesis","type":"info","f":"start-partition","value":{"isolate":"leader(orders/0)"}}
{"index":3,"time":3000000000,"process":"nemesis","type":"info","f":"stop-partition","value":null}
{"index":4,"time":3000000000,"process":"nemesis","type":"info","f":"heal","value":null}
{"index":5,"time":3000000000,"process":"nemesis","type":"info","f":"drain","value":null}
{"index":6,"time":3500000000,"process":2,"type":"invoke","f":"poll","value":[["poll"]]}
{"index":7,"time":3600000000,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders/0":[[1,18]]}]]}
"#;
    let history = harness::history::parse_history(text.as_bytes(), "leader.jsonl").unwrap();
    let checked = checker::run_checks(&history, &checker::all(), &CheckOptions::default());
    let result = run_result(
        &history,
        &checked,
        RunMeta {
            scenario: "leader-isolated".to_string(),
            seed: 42,
            repro: "faultline run scenarios/network/leader-isolated.yaml --seed 42".to_string(),
            wall_seconds: 0.25,
        },
    );
    assert_eq!(result.verdict, reports::Verdict::Invalid);
    assert_eq!(result.checks["no-loss"], reports::Verdict::Invalid);
    assert_eq!(result.stats.ops, 8);
    assert_eq!(result.stats.sends_ok, 2);
    assert_eq!(result.stats.faults, 1);
    let rendered = reports::render_json(&result);
    assert_eq!(rendered, reports::render_json(&result.clone()));
    insta::assert_snapshot!("run_result_leader_isolated", rendered);
}
