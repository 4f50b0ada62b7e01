//! Agreement with Jepsen's Kafka checker (`jepsen/tests/kafka.clj`): for every anomaly name it
//! defines, a tiny history in Jepsen's shape (integer keys, unique values per key) on which
//! Jepsen's definitions report that anomaly, and faultline reports it too (Jepsen's `G1a` is
//! faultline's `aborted-read`). Each history is also written as Jepsen's EDN by a converter
//! here, independent of the reader, and read back through `faultline check`'s own path: both
//! forms must give the same ops (the same digest) and the same results.

use harness::check_cmd::{check_applicable, run_check, CheckExit};
use harness::checker::CheckOptions;
use harness::history::{parse_history, read_history, History};
use serde_json::Value;
use std::path::Path;

/// (Jepsen's name, faultline's name, the history as JSON Lines).
const CASES: &[(&str, &str, &str)] = &[
    (
        "duplicate",
        "duplicate",
        r#"{"index":0,"time":1,"process":0,"type":"invoke","f":"send","value":[["send",0,1]]}
{"index":1,"time":2,"process":0,"type":"ok","f":"send","value":[["send",0,[0,1]]]}
{"index":2,"time":3,"process":1,"type":"invoke","f":"poll","value":[["poll"]]}
{"index":3,"time":4,"process":1,"type":"ok","f":"poll","value":[["poll",{"0":[[0,1],[1,1]]}]]}"#,
    ),
    (
        "int-poll-skip",
        "int-poll-skip",
        r#"{"index":0,"time":1,"process":0,"type":"invoke","f":"send","value":[["send",0,1],["send",0,2],["send",0,3]]}
{"index":1,"time":2,"process":0,"type":"ok","f":"send","value":[["send",0,[0,1]],["send",0,[1,2]],["send",0,[2,3]]]}
{"index":2,"time":3,"process":1,"type":"invoke","f":"poll","value":[["poll"]]}
{"index":3,"time":4,"process":1,"type":"ok","f":"poll","value":[["poll",{"0":[[0,1],[2,3]]}]]}"#,
    ),
    (
        "int-nonmonotonic-poll",
        "int-nonmonotonic-poll",
        r#"{"index":0,"time":1,"process":0,"type":"invoke","f":"send","value":[["send",0,1],["send",0,2]]}
{"index":1,"time":2,"process":0,"type":"ok","f":"send","value":[["send",0,[0,1]],["send",0,[1,2]]]}
{"index":2,"time":3,"process":1,"type":"invoke","f":"poll","value":[["poll"]]}
{"index":3,"time":4,"process":1,"type":"ok","f":"poll","value":[["poll",{"0":[[1,2],[0,1]]}]]}"#,
    ),
    (
        "int-send-skip",
        "int-send-skip",
        r#"{"index":0,"time":1,"process":0,"type":"invoke","f":"send","value":[["send",0,1],["send",0,2]]}
{"index":1,"time":2,"process":1,"type":"invoke","f":"send","value":[["send",0,3]]}
{"index":2,"time":3,"process":1,"type":"ok","f":"send","value":[["send",0,[1,3]]]}
{"index":3,"time":4,"process":0,"type":"ok","f":"send","value":[["send",0,[0,1]],["send",0,[2,2]]]}"#,
    ),
    (
        "int-nonmonotonic-send",
        "int-nonmonotonic-send",
        r#"{"index":0,"time":1,"process":0,"type":"invoke","f":"send","value":[["send",0,1],["send",0,2]]}
{"index":1,"time":2,"process":0,"type":"ok","f":"send","value":[["send",0,[1,1]],["send",0,[0,2]]]}"#,
    ),
    (
        "inconsistent-offsets",
        "inconsistent-offsets",
        r#"{"index":0,"time":1,"process":0,"type":"invoke","f":"send","value":[["send",0,1]]}
{"index":1,"time":2,"process":0,"type":"ok","f":"send","value":[["send",0,[0,1]]]}
{"index":2,"time":3,"process":2,"type":"invoke","f":"send","value":[["send",0,2]]}
{"index":3,"time":4,"process":2,"type":"info","f":"send","value":[["send",0,2]]}
{"index":4,"time":5,"process":1,"type":"invoke","f":"poll","value":[["poll"]]}
{"index":5,"time":6,"process":1,"type":"ok","f":"poll","value":[["poll",{"0":[[0,2]]}]]}"#,
    ),
    (
        "precommitted-read",
        "precommitted-read",
        r#"{"index":0,"time":1,"process":0,"type":"invoke","f":"txn","value":[["send",0,1],["poll"]]}
{"index":1,"time":2,"process":0,"type":"ok","f":"txn","value":[["send",0,[0,1]],["poll",{"0":[[0,1]]}]]}"#,
    ),
    (
        "G1a",
        "aborted-read",
        r#"{"index":0,"time":1,"process":0,"type":"invoke","f":"send","value":[["send",0,1]]}
{"index":1,"time":2,"process":0,"type":"fail","f":"send","value":[["send",0,1]]}
{"index":2,"time":3,"process":1,"type":"invoke","f":"poll","value":[["poll"]]}
{"index":3,"time":4,"process":1,"type":"ok","f":"poll","value":[["poll",{"0":[[0,1]]}]]}"#,
    ),
    (
        "lost-write",
        "lost-write",
        r#"{"index":0,"time":1,"process":0,"type":"invoke","f":"send","value":[["send",0,1],["send",0,2]]}
{"index":1,"time":2,"process":0,"type":"ok","f":"send","value":[["send",0,[0,1]],["send",0,[1,2]]]}
{"index":2,"time":3,"process":1,"type":"invoke","f":"poll","value":[["poll"]]}
{"index":3,"time":4,"process":1,"type":"ok","f":"poll","value":[["poll",{"0":[[1,2]]}]]}"#,
    ),
    (
        "nonmonotonic-poll",
        "nonmonotonic-poll",
        r#"{"index":0,"time":1,"process":0,"type":"invoke","f":"send","value":[["send",0,1],["send",0,2]]}
{"index":1,"time":2,"process":0,"type":"ok","f":"send","value":[["send",0,[0,1]],["send",0,[1,2]]]}
{"index":2,"time":3,"process":1,"type":"invoke","f":"poll","value":[["poll"]]}
{"index":3,"time":4,"process":1,"type":"ok","f":"poll","value":[["poll",{"0":[[0,1],[1,2]]}]]}
{"index":4,"time":5,"process":1,"type":"invoke","f":"poll","value":[["poll"]]}
{"index":5,"time":6,"process":1,"type":"ok","f":"poll","value":[["poll",{"0":[[0,1]]}]]}"#,
    ),
    (
        "nonmonotonic-send",
        "nonmonotonic-send",
        r#"{"index":0,"time":1,"process":0,"type":"invoke","f":"send","value":[["send",0,1]]}
{"index":1,"time":2,"process":0,"type":"ok","f":"send","value":[["send",0,[1,1]]]}
{"index":2,"time":3,"process":0,"type":"invoke","f":"send","value":[["send",0,2]]}
{"index":3,"time":4,"process":0,"type":"ok","f":"send","value":[["send",0,[0,2]]]}"#,
    ),
    (
        "poll-skip",
        "poll-skip",
        r#"{"index":0,"time":1,"process":0,"type":"invoke","f":"send","value":[["send",0,1],["send",0,2],["send",0,3]]}
{"index":1,"time":2,"process":0,"type":"ok","f":"send","value":[["send",0,[0,1]],["send",0,[1,2]],["send",0,[2,3]]]}
{"index":2,"time":3,"process":1,"type":"invoke","f":"poll","value":[["poll"]]}
{"index":3,"time":4,"process":1,"type":"ok","f":"poll","value":[["poll",{"0":[[0,1]]}]]}
{"index":4,"time":5,"process":1,"type":"invoke","f":"poll","value":[["poll"]]}
{"index":5,"time":6,"process":1,"type":"ok","f":"poll","value":[["poll",{"0":[[2,3]]}]]}"#,
    ),
    (
        // Jepsen reports unseen for any acknowledged send never polled; faultline needs the
        // drain's proof that it read the key to its end, which this history has.
        "unseen",
        "unseen",
        r#"{"index":0,"time":1,"process":0,"type":"invoke","f":"send","value":[["send",0,1],["send",0,2]]}
{"index":1,"time":2,"process":0,"type":"ok","f":"send","value":[["send",0,[0,1]],["send",0,[1,2]]]}
{"index":2,"time":3,"process":1,"type":"invoke","f":"poll","value":[["poll"]]}
{"index":3,"time":4,"process":1,"type":"ok","f":"poll","value":[["poll",{"0":[[0,1]]}]]}
{"index":4,"time":5,"process":"nemesis","type":"info","f":"drain","value":null}
{"index":5,"time":6,"process":1,"type":"invoke","f":"poll","value":[["poll"]]}
{"index":6,"time":7,"process":1,"type":"ok","f":"poll","value":[["poll",{"0":[]}]]}"#,
    ),
    (
        // Jepsen draws ww edges (and so finds G0) with its :ww-deps option.
        "G0",
        "G0",
        r#"{"index":0,"time":1,"process":0,"type":"invoke","f":"txn","value":[["send",0,1],["send",1,2]]}
{"index":1,"time":2,"process":1,"type":"invoke","f":"txn","value":[["send",0,3],["send",1,4]]}
{"index":2,"time":3,"process":0,"type":"ok","f":"txn","value":[["send",0,[0,1]],["send",1,[1,2]]]}
{"index":3,"time":4,"process":1,"type":"ok","f":"txn","value":[["send",0,[1,3]],["send",1,[0,4]]]}"#,
    ),
    (
        "G1c",
        "G1c",
        r#"{"index":0,"time":1,"process":0,"type":"invoke","f":"txn","value":[["send",0,1],["poll"]]}
{"index":1,"time":2,"process":1,"type":"invoke","f":"txn","value":[["send",1,2],["poll"]]}
{"index":2,"time":3,"process":0,"type":"ok","f":"txn","value":[["send",0,[0,1]],["poll",{"1":[[0,2]]}]]}
{"index":3,"time":4,"process":1,"type":"ok","f":"txn","value":[["send",1,[0,2]],["poll",{"0":[[0,1]]}]]}"#,
    ),
];

/// Jepsen's EDN for one JSON Lines history: keywords for names, integer keys, no `:index`.
fn to_edn(jsonl: &str) -> String {
    let mut edn = String::new();
    for line in jsonl.lines() {
        let op: Value = serde_json::from_str(line).unwrap();
        let process = match &op["process"] {
            Value::String(name) => format!(":{name}"),
            id => id.to_string(),
        };
        edn.push_str(&format!(
            "{{:type :{}, :f :{}, :process {process}, :time {}, :value {}}}\n",
            op["type"].as_str().unwrap(),
            op["f"].as_str().unwrap(),
            op["time"],
            edn_value(&op["value"], true),
        ));
    }
    edn
}

/// `name_first`: a micro-op's first element is a keyword (`[:send 0 1]`).
fn edn_value(value: &Value, name_first: bool) -> String {
    match value {
        Value::Null => "nil".to_string(),
        Value::String(text) => format!("{text:?}"),
        Value::Array(items) => {
            let parts: Vec<String> = items
                .iter()
                .enumerate()
                .map(|(at, item)| match item {
                    Value::String(name) if at == 0 && name_first => format!(":{name}"),
                    Value::Array(_) => edn_value(item, true),
                    other => edn_value(other, false),
                })
                .collect();
            format!("[{}]", parts.join(" "))
        }
        Value::Object(map) => {
            let parts: Vec<String> = map
                .iter()
                .map(|(key, value)| {
                    let key = if key.parse::<u64>().is_ok() {
                        key.clone()
                    } else {
                        format!("{key:?}")
                    };
                    format!("{key} {}", edn_value(value, false))
                })
                .collect();
            format!("{{{}}}", parts.join(", "))
        }
        other => other.to_string(),
    }
}

fn names(history: &History) -> Vec<String> {
    let (checked, _) = check_applicable(history, &CheckOptions::default());
    checked
        .anomalies()
        .keys()
        .map(|name| name.to_string())
        .collect()
}

#[test]
fn faultline_reports_every_anomaly_jepsen_defines_on_its_history() {
    for (jepsen, ours, jsonl) in CASES {
        let history = parse_history(jsonl.as_bytes(), "case.jsonl")
            .unwrap_or_else(|error| panic!("{jepsen}: {error}"));
        let found = names(&history);
        assert!(
            found.iter().any(|name| name == ours),
            "Jepsen reports {jepsen}; faultline found {found:?}"
        );
    }
}

#[test]
fn the_edn_and_json_lines_forms_judge_alike() {
    let dir = tempfile::tempdir().unwrap();
    for (position, (jepsen, _, jsonl)) in CASES.iter().enumerate() {
        let edn = to_edn(jsonl);
        let json_path = dir.path().join(format!("{position}.jsonl"));
        std::fs::write(&json_path, jsonl).unwrap();
        // Every other case is found by its content, not its name.
        let edn_name = if position % 2 == 0 { "edn" } else { "txt" };
        let edn_path = dir.path().join(format!("{position}.{edn_name}"));
        std::fs::write(&edn_path, &edn).unwrap();

        let from_json = read_history(&json_path).unwrap_or_else(|e| panic!("{jepsen}: {e}"));
        let from_edn = read_history(&edn_path).unwrap_or_else(|e| panic!("{jepsen}: {e}\n{edn}"));
        assert_eq!(from_json.digest(), from_edn.digest(), "{jepsen}:\n{edn}");
        let options = CheckOptions::default();
        assert_eq!(
            check_applicable(&from_json, &options),
            check_applicable(&from_edn, &options),
            "{jepsen}"
        );
        let (mut json_out, mut edn_out) = (Vec::new(), Vec::new());
        let json_exit = run_check(&json_path, true, &mut json_out).unwrap();
        let edn_exit = run_check(&edn_path, true, &mut edn_out).unwrap();
        assert_eq!(
            (json_exit, edn_exit),
            (CheckExit::Invalid, CheckExit::Invalid)
        );
        let strip = |out: Vec<u8>, path: &Path| {
            String::from_utf8(out)
                .unwrap()
                .replace(&path.display().to_string(), "<history>")
        };
        assert_eq!(
            strip(json_out, &json_path),
            strip(edn_out, &edn_path),
            "{jepsen}"
        );
    }
}
