//! `faultline check`: exit codes, the human report, the JSON report, bad input.

use harness::check_cmd::{run_check, CheckError, CheckExit};
use std::path::{Path, PathBuf};

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn run(path: &Path, json: bool) -> (CheckExit, String) {
    let mut out = Vec::new();
    let exit = run_check(path, json, &mut out).expect("a readable history");
    (exit, String::from_utf8(out).unwrap())
}

const VALID: &str = r#"{"index":0,"time":1000,"process":1,"type":"invoke","f":"send","value":[["send","orders/0",17]]}
{"index":1,"time":2000,"process":1,"type":"ok","f":"send","value":[["send","orders/0",[0,17]]]}
{"index":2,"time":3000,"process":"nemesis","type":"info","f":"drain","value":null}
{"index":3,"time":4000,"process":2,"type":"invoke","f":"poll","value":[["poll"]]}
{"index":4,"time":5000,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders/0":[[0,17]]}]]}
"#;

const LOST: &str = r#"{"index":0,"time":1000,"process":1,"type":"invoke","f":"send","value":[["send","orders/0",17],["send","orders/0",18]]}
{"index":1,"time":2000,"process":1,"type":"ok","f":"send","value":[["send","orders/0",[0,17]],["send","orders/0",[1,18]]]}
{"index":2,"time":3000,"process":"nemesis","type":"info","f":"drain","value":null}
{"index":3,"time":4000,"process":2,"type":"invoke","f":"poll","value":[["poll"]]}
{"index":4,"time":5000,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders/0":[[1,18]]}]]}
"#;

#[test]
fn valid_exits_0_and_says_so_first() {
    let dir = tempfile::tempdir().unwrap();
    let (exit, text) = run(&write(dir.path(), "valid.jsonl", VALID), false);
    assert_eq!((exit, exit.code()), (CheckExit::Valid, 0));
    assert!(text.starts_with("valid: "), "{text}");
    assert!(text.contains("exactly-once-txn         skipped"), "{text}");
}

#[test]
fn invalid_exits_1_with_the_anomaly_explained() {
    let dir = tempfile::tempdir().unwrap();
    let (exit, text) = run(&write(dir.path(), "lost.jsonl", LOST), false);
    assert_eq!(exit.code(), 1);
    let text = text.replace(dir.path().to_str().unwrap(), "<dir>");
    insta::assert_snapshot!("check_lost_write_human", text);
}

#[test]
fn json_output_is_the_history_check_schema() {
    let dir = tempfile::tempdir().unwrap();
    let (exit, text) = run(&write(dir.path(), "lost.jsonl", LOST), true);
    assert_eq!(exit, CheckExit::Invalid);
    let report: reports::HistoryCheck = serde_json::from_str(&text).unwrap();
    assert_eq!(report.verdict, reports::Verdict::Invalid);
    assert_eq!(report.anomalies["lost-write"][0].value, Some(17));
    assert_eq!(report.checks["no-loss"], reports::Verdict::Invalid);
    assert_eq!(report.stats.ops, 5);
    assert_eq!(report.render_json(), text, "byte-stable");
}

#[test]
fn unknown_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let no_drain: String = VALID
        .lines()
        .take(2)
        .map(|line| format!("{line}\n"))
        .collect();
    let (exit, text) = run(&write(dir.path(), "undrained.jsonl", &no_drain), false);
    assert_eq!(exit.code(), 3);
    assert!(text.starts_with("unknown: could not decide"), "{text}");
    assert!(text.contains("no drain"), "{text}");
}

#[test]
fn bad_input_exits_2_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let broken = VALID.replace(
        "\"f\":\"poll\",\"value\":[[\"poll\"]]",
        "\"f\":\"pole\",\"value\":[[\"poll\"]]",
    );
    let path = write(dir.path(), "broken.jsonl", &broken);
    let mut out = Vec::new();
    let error = run_check(&path, false, &mut out).unwrap_err();
    assert!(matches!(error, CheckError::Read(_)));
    let message = error.to_string();
    assert!(
        message.starts_with(&format!("{}:4: ", path.display())),
        "{message}"
    );
    assert!(message.contains("\"pole\""), "{message}");

    let missing = run_check(&dir.path().join("nope.jsonl"), false, &mut out).unwrap_err();
    assert!(missing.to_string().contains("nope.jsonl"), "{missing}");
}

#[test]
fn json_bad_input_is_still_one_json_object_with_an_error() {
    // Issue 21: `--json` prints a JSON object even when it exits 2.
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "broken.jsonl", "{not json\n");
    let error = run_check(&path, true, &mut Vec::new()).unwrap_err();
    let text = harness::check_cmd::render_error_json(&path, &error);
    let object: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert!(object["error"]
        .as_str()
        .unwrap()
        .contains("broken.jsonl:1:"));
    assert_eq!(object["problems"][0]["line"], 1);
    let missing = dir.path().join("nope.edn");
    let error = run_check(&missing, true, &mut Vec::new()).unwrap_err();
    let object: serde_json::Value =
        serde_json::from_str(&harness::check_cmd::render_error_json(&missing, &error)).unwrap();
    assert!(object["error"].as_str().unwrap().contains("nope.edn"));
}

#[test]
fn the_binary_prints_json_on_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "broken.edn", "{:type :begin}\n");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(["check", "--json"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let object: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(
        object["error"].as_str().unwrap().contains("broken.edn:1:"),
        "{object}"
    );
}

/// Node events as a run writes them beside its history: broker 1, then broker `second`, become
/// leader of orders/0 in leader epochs 1 and `second_epoch`.
fn leaders(second: u32, second_epoch: u64) -> String {
    format!(
        "{{\"time\":1000,\"node\":\"broker-1\",\"event\":\"leader-elected\",\"tp\":\"orders/0\",\"epoch\":1,\"broker\":1,\"log_end\":0}}\n\
         {{\"time\":2500,\"node\":\"broker-{second}\",\"event\":\"leader-elected\",\"tp\":\"orders/0\",\"epoch\":{second_epoch},\"broker\":{second},\"log_end\":1}}\n"
    )
}

#[test]
fn node_events_beside_the_history_are_judged_as_the_run_judged_them() {
    let dir = tempfile::tempdir().unwrap();
    let history = write(dir.path(), "history.jsonl", VALID);
    write(dir.path(), "node-events.jsonl", &leaders(2, 1));
    let (exit, text) = run(&history, false);
    assert_eq!(exit, CheckExit::Invalid, "{text}");
    assert!(
        text.contains("cluster-invariants       invalid  two-leaders-one-epoch 1"),
        "{text}"
    );
    assert!(
        text.contains("both became leader of orders/0 in leader epoch 1"),
        "{text}"
    );
    let (_, json) = run(&history, true);
    let report: reports::HistoryCheck = serde_json::from_str(&json).unwrap();
    assert_eq!(
        report.checks["cluster-invariants"],
        reports::Verdict::Invalid
    );

    // The same move with the epoch raised, as it must be: valid.
    write(dir.path(), "node-events.jsonl", &leaders(2, 2));
    let (exit, text) = run(&history, false);
    assert_eq!(exit, CheckExit::Valid, "{text}");
    assert!(text.contains("cluster-invariants       valid"), "{text}");
}

#[test]
fn a_history_without_node_events_beside_it_is_judged_without_them() {
    let dir = tempfile::tempdir().unwrap();
    let (exit, text) = run(&write(dir.path(), "history.jsonl", VALID), false);
    assert_eq!(exit, CheckExit::Valid);
    assert!(!text.contains("cluster-invariants"), "{text}");
}

#[test]
fn malformed_node_events_are_bad_input_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let history = write(dir.path(), "history.jsonl", VALID);
    let mut events = leaders(2, 2);
    events.push_str("{\"time\":3000,\"node\":\"broker-2\",\"event\":\"leader-elected\"}\n");
    write(dir.path(), "node-events.jsonl", &events);
    let error = run_check(&history, false, &mut Vec::new()).unwrap_err();
    assert!(matches!(error, CheckError::NodeEvents(_)), "{error}");
    assert!(
        error
            .to_string()
            .contains("node-events.jsonl:3: not a node event"),
        "{error}"
    );
}
