//! The reports a person reads, from fixed histories: `report.md`, `result.json`,
//! `summary.{md,json}` and `junit.xml` are insta snapshots (review their changes like code);
//! `report.html` and the SVG plots must be byte-identical for a fixed input, and their digests
//! are pinned. `faultline merge` of two shards must give the unsharded store's summary.

use harness::checker::{self, run_result, CheckOptions, RunMeta};
use harness::history::synthetic::{synthetic_history, SyntheticOptions};
use harness::history::{parse_history, History};
use harness::merge::{merge, MergeError};
use harness::sweep::shard::Shard;
use harness::sweep::store::{report_input, write_reports};
use reports::{Judgement, Met, MetWord, ReportInput, Summary, SummaryRun, Verdict};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Producer 1 writes orders/0 values 1..3 while broker-1 is partitioned away; value 3 is
/// acknowledged at offset 2, the partition heals, a new leader hands offset 2 to value 6 from
/// producer 3, and the final read never returns 3 (lost-write, inconsistent-offsets). Value 2
/// comes back twice (duplicate). Value 4 fails; value 5 times out (info) but is read, so it
/// happened. Process 5 reads the head of the log during the partition.
const LOST_WRITE: &str = r#"
{"index":0,"time":100000000,"process":1,"type":"invoke","f":"send","value":[["send","orders/0",1]]}
{"index":1,"time":105000000,"process":1,"type":"ok","f":"send","value":[["send","orders/0",[0,1]]]}
{"index":2,"time":200000000,"process":1,"type":"invoke","f":"send","value":[["send","orders/0",2]]}
{"index":3,"time":203000000,"process":1,"type":"ok","f":"send","value":[["send","orders/0",[1,2]]]}
{"index":4,"time":300000000,"process":"nemesis","type":"info","f":"start-partition","value":{"nodes":["broker-1"],"detail":"isolate broker-1 from every other node","at_ms":250}}
{"index":5,"time":310000000,"process":1,"type":"invoke","f":"send","value":[["send","orders/0",3]]}
{"index":6,"time":315000000,"process":1,"type":"ok","f":"send","value":[["send","orders/0",[2,3]]]}
{"index":7,"time":320000000,"process":2,"type":"invoke","f":"send","value":[["send","orders/0",4]]}
{"index":8,"time":330000000,"process":2,"type":"fail","f":"send","value":[["send","orders/0",[null,4]]]}
{"index":9,"time":350000000,"process":5,"type":"invoke","f":"poll","value":[["poll"]]}
{"index":10,"time":360000000,"process":5,"type":"ok","f":"poll","value":[["poll",{"orders/0":[[0,1],[1,2]]}]]}
{"index":11,"time":400000000,"process":1,"type":"invoke","f":"send","value":[["send","orders/0",5]]}
{"index":12,"time":900000000,"process":1,"type":"info","f":"send","value":[["send","orders/0",[null,5]]]}
{"index":13,"time":1000000000,"process":"nemesis","type":"info","f":"stop-partition","value":{"nodes":["broker-1"]}}
{"index":14,"time":1100000000,"process":3,"type":"invoke","f":"send","value":[["send","orders/0",6]]}
{"index":15,"time":1105000000,"process":3,"type":"ok","f":"send","value":[["send","orders/0",[2,6]]]}
{"index":16,"time":1200000000,"process":3,"type":"invoke","f":"send","value":[["send","orders/0",7]]}
{"index":17,"time":1204000000,"process":3,"type":"ok","f":"send","value":[["send","orders/0",[3,7]]]}
{"index":18,"time":1300000000,"process":"nemesis","type":"info","f":"heal","value":null}
{"index":19,"time":1400000000,"process":"nemesis","type":"info","f":"drain","value":null}
{"index":20,"time":1400000000,"process":4,"type":"invoke","f":"poll","value":[["poll"]]}
{"index":21,"time":1450000000,"process":4,"type":"ok","f":"poll","value":[["poll",{"orders/0":[[0,1],[1,2],[2,6],[3,7],[4,5],[5,2]]}]]}
{"index":22,"time":1460000000,"process":4,"type":"invoke","f":"poll","value":[["poll"]]}
{"index":23,"time":1470000000,"process":4,"type":"ok","f":"poll","value":[["poll",{"orders/0":[]}]]}
"#;

const REPRO: &str = "faultline run scenarios/fixture/lost-write.yaml --seed 7";

/// What the nodes recorded alongside [`LOST_WRITE`]: broker-1 led from the start; cut off, it
/// lost leadership to broker-2, whose log ended at 2 (before value 3); back, broker-1 cut its
/// log to 2, dropping value 3. Broker-3's fetch is not cited; nor is the election before.
const NODE_EVENTS: &str = r#"
{"time":50000000,"node":"broker-1","event":"controller-elected","broker":1,"epoch":1}
{"time":60000000,"node":"broker-1","event":"leader-elected","tp":"orders/0","epoch":0,"broker":1,"log_end":0}
{"time":500000000,"node":"broker-2","event":"leader-elected","tp":"orders/0","epoch":1,"broker":2,"log_end":2}
{"time":520000000,"node":"broker-3","event":"replica-fetched","tp":"orders/0","broker":3,"leader":2,"epoch":1,"leader_epoch":1}
{"time":1050000000,"node":"broker-1","event":"truncated","tp":"orders/0","broker":1,"end":2}
"#;

fn node_events() -> Vec<engine::env::NodeEventRecord> {
    NODE_EVENTS
        .trim()
        .lines()
        .map(|line| serde_json::from_str(line).expect("a node event"))
        .collect()
}

fn history() -> History {
    parse_history(LOST_WRITE.trim_start().as_bytes(), "lost-write.jsonl")
        .expect("the fixture is a valid history")
}

fn judged(history: &History) -> reports::RunResult {
    let checkers: Vec<_> = ["no-loss", "log-consistency", "liveness"]
        .iter()
        .filter_map(|name| checker::by_name(name))
        .collect();
    let checked = checker::run_checks(history, &checkers, &CheckOptions::default());
    let meta = RunMeta {
        scenario: "lost-write".to_string(),
        seed: 7,
        repro: REPRO.to_string(),
        wall_seconds: 0.25,
    };
    let mut result = run_result::run_result(history, &checked, meta);
    result.stats.faults = 1;
    result
}

/// Built from scratch each call: two calls share nothing.
fn input() -> ReportInput {
    let history = history();
    let result = judged(&history);
    let judgement = Judgement {
        expected: "invalid with lost-write".to_string(),
        met: Met::Yes,
    };
    report_input(
        &history,
        &result,
        judgement,
        "Producers write while broker-1 is cut off; the new leader reuses the tail's offsets.",
        &node_events(),
    )
}

fn fnv(bytes: &[u8]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{hash:016x}")
}

#[test]
fn the_fixture_finds_lost_write_inconsistent_offsets_and_duplicate() {
    let result = judged(&history());
    let names: Vec<&str> = result.anomalies.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        ["duplicate", "inconsistent-offsets", "lost-write"],
        "{result:#?}"
    );
    assert_eq!(result.verdict, Verdict::Invalid);
}

#[test]
fn report_md_explains_what_was_lost_when_and_under_which_fault() {
    let markdown = reports::render_markdown(&input());
    // The verdict leads, then the seed and the repro command.
    assert!(markdown.starts_with("# INVALID: lost-write (seed 7)"));
    let verdict = markdown.find("invalid: ").unwrap_or(usize::MAX);
    let repro = markdown.find(REPRO).unwrap_or(usize::MAX);
    assert!(verdict < repro);
    assert!(markdown.contains("partition on broker-1 (0.300 s–1.000 s) during op 6"));
    assert!(markdown.contains("| 21 | 1.450 s | 4 | ok | poll |"));
    // Faults in words, whole; and why the fault at `at: 250ms` shows at 0.300 s.
    assert!(markdown.contains("| isolate broker-1 from every other node |"));
    assert!(markdown.contains(
        "The scenario's `at:` counts from the start of the workload, which begins after setup \
         (nodes started, topics created, leaders elected): here at 0.050 s, so a fault at \
         `at: 5s` shows at 5.050 s."
    ));
    // The node events between the lost write's ack and the read that misses it, in words.
    assert!(markdown.contains(
        "Node events between them: broker-2 became leader of orders/0 at epoch 1 with log end 2 \
         (0.500 s); broker-1 truncated orders/0 to 2 (1.050 s)."
    ));
    assert!(markdown.contains("| 0.050 s | broker-1 | broker-1 became controller at epoch 1 |"));
    assert!(
        !markdown.contains("replicated orders/0"),
        "fetches stay in node-events.jsonl"
    );
    insta::assert_snapshot!("report_md", markdown);
}

#[test]
fn result_json_of_the_fixture() {
    let result = judged(&history());
    insta::assert_snapshot!("result_json", reports::render_json(&result));
}

#[test]
fn html_and_svg_are_byte_identical_for_a_fixed_input() {
    let (first, second) = (input(), input());
    assert_eq!(first, second);
    let html = reports::render_html(&first);
    assert_eq!(html, reports::render_html(&second));
    let latency = reports::render_latency_svg(&first).expect("latency plot");
    assert_eq!(
        latency,
        reports::render_latency_svg(&second).expect("latency plot")
    );
    let throughput = reports::render_throughput_svg(&first).expect("throughput plot");
    assert_eq!(
        throughput,
        reports::render_throughput_svg(&second).expect("throughput plot")
    );
    // Pinned: a change in the rendering shows up here for review.
    let digests = format!(
        "report.html {} ({} bytes)\nlatency.svg {} ({} bytes)\nthroughput.svg {} ({} bytes)\n",
        fnv(html.as_bytes()),
        html.len(),
        fnv(latency.as_bytes()),
        latency.len(),
        fnv(throughput.as_bytes()),
        throughput.len()
    );
    insta::assert_snapshot!("html_svg_digests", digests);
}

#[test]
fn the_html_page_is_self_contained_and_marks_the_proof() {
    let html = reports::render_html(&input());
    assert!(html.starts_with("<!DOCTYPE html>"));
    for forbidden in ["<link", " src=", "https://", "@import", "url("] {
        assert!(!html.contains(forbidden), "{forbidden}");
    }
    let outside: Vec<&str> = html
        .match_indices("http://")
        .map(|(at, _)| &html[at..(at + 30).min(html.len())])
        .filter(|text| !text.starts_with("http://www.w3.org/2000/svg"))
        .collect();
    assert!(outside.is_empty(), "{outside:?}");
    // The ack of the lost value 3 (invoke op 5) is outlined on the timeline ...
    assert!(html.contains(r#"id="op-5" class="o-ok anom""#));
    // ... the partition is shaded, and the offset view marks value 3 lost at offset 2.
    assert!(html.contains("partition on broker-1"));
    assert!(html
        .contains(r#"<td class="lost" title="inconsistent-offsets, lost-write">3 lost / 6</td>"#));
    assert!(html.contains(r#"data-ops="5 20""#));
    // The lane of node events: one tick per election, controller move and truncation.
    assert!(html.contains("node events"));
    assert_eq!(html.matches("— node event ").count(), 4);
}

#[test]
fn reports_stay_bounded_for_a_large_history() {
    let ops = synthetic_history(&SyntheticOptions {
        ops: 20_000,
        seed: 3,
        ..SyntheticOptions::default()
    });
    let history = History::from_ops(ops).expect("a valid history");
    let checked = checker::run_checks(&history, &checker::all(), &CheckOptions::default());
    let meta = RunMeta {
        scenario: "synthetic".to_string(),
        seed: 3,
        repro: "faultline check history.jsonl".to_string(),
        wall_seconds: 0.0,
    };
    let result = run_result::run_result(&history, &checked, meta);
    let judgement = Judgement {
        expected: "valid".to_string(),
        met: Met::Yes,
    };
    let input = report_input(&history, &result, judgement, "", &[]);
    let html = reports::render_html(&input);
    assert!(
        html.len() < 4_000_000,
        "report.html is {} bytes",
        html.len()
    );
    assert!(html.matches("<rect id=\"op-").count() <= reports::html::TIMELINE_OPS_MAX);
    assert!(
        html.contains("Showing "),
        "the page says it thinned the timeline"
    );
    let markdown = reports::render_markdown(&input);
    assert!(markdown.len() < 200_000);
    for svg in [
        reports::render_latency_svg(&input).expect("latency"),
        reports::render_throughput_svg(&input).expect("throughput"),
    ] {
        assert!(svg.len() < 400_000, "a plot is {} bytes", svg.len());
    }
}

fn run(scenario: &str, seed: u64, met: MetWord, reason: Option<&str>) -> SummaryRun {
    let mut anomalies = BTreeMap::new();
    let verdict = match met {
        MetWord::Yes if scenario.starts_with("acks-1") => {
            anomalies.insert("lost-write".to_string(), 60);
            Verdict::Invalid
        }
        MetWord::Yes => Verdict::Valid,
        MetWord::No => {
            anomalies.insert("duplicate".to_string(), 1);
            Verdict::Invalid
        }
        MetWord::Unjudged => Verdict::Unknown,
    };
    SummaryRun {
        scenario: scenario.to_string(),
        seed,
        verdict,
        met,
        reason: reason.map(String::from),
        repro: format!("faultline run scenarios/{scenario}.yaml --seed {seed}"),
        anomalies,
        dir: Some(format!("{scenario}/{seed}")),
        bad_input: false,
        wall_seconds: 0.125 * seed as f64,
    }
}

fn fixed_summary() -> Summary {
    Summary::new(vec![
        run("baseline", 2, MetWord::Yes, None),
        run("acks-1-leader-crash", 1, MetWord::Yes, None),
        run(
            "acks-all-leader-crash",
            3,
            MetWord::No,
            Some("expected valid, found duplicate"),
        ),
        run("baseline", 1, MetWord::Yes, None),
        run(
            "leader-isolated",
            4,
            MetWord::Unjudged,
            Some("nondeterminism: history digests differ (00ab then 00ac)"),
        ),
    ])
}

#[test]
fn summary_md_json_and_junit_snapshots() {
    let summary = fixed_summary();
    let json = reports::render_summary_json(&summary);
    let parsed = Summary::from_json(&json).expect("summary.json parses");
    assert_eq!(parsed, summary, "summary.json round-trips");
    assert_eq!(reports::render_summary_json(&parsed), json);
    let junit = reports::render_junit(&summary).expect("junit");
    assert!(junit.contains(
        "expected valid, found duplicate — reproduce: faultline run scenarios/acks-all-leader-crash.yaml --seed 3"
    ));
    insta::assert_snapshot!("summary_json", json);
    insta::assert_snapshot!("summary_md", reports::render_summary_md(&summary));
    insta::assert_snapshot!("junit_xml", junit);
}

/// Writes a shard store holding `runs`: summary files and a run directory per run.
fn write_store(dir: &Path, runs: Vec<SummaryRun>) {
    for run in &runs {
        let Some(run_dir) = &run.dir else { continue };
        let run_dir = dir.join(run_dir);
        std::fs::create_dir_all(&run_dir).expect("run dir");
        std::fs::write(run_dir.join("result.json"), &run.repro).expect("write");
    }
    harness::sweep::summary::write_summary(dir, &Summary::new(runs)).expect("summary");
}

fn read(path: PathBuf) -> String {
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn merging_two_shards_gives_the_unsharded_summary() {
    let whole = fixed_summary();
    let temp = tempfile::tempdir().expect("tempdir");
    let unsharded = temp.path().join("unsharded");
    write_store(&unsharded, whole.runs.clone());
    let shards: Vec<PathBuf> = (1..=2)
        .map(|k| {
            let shard = Shard { index: k, count: 2 };
            let dir = temp.path().join(format!("shard-{k}"));
            let runs = whole
                .runs
                .iter()
                .filter(|run| shard.owns(&run.scenario, run.seed))
                .cloned()
                .collect();
            write_store(&dir, runs);
            dir
        })
        .collect();
    let merged = temp.path().join("merged");
    // Shard order does not matter.
    let code = merge(&[shards[1].clone(), shards[0].clone()], &merged).expect("merge");
    assert_eq!(code, 1, "a run did not meet its expectation");
    for file in ["summary.json", "summary.md", "junit.xml"] {
        assert_eq!(
            read(merged.join(file)),
            read(unsharded.join(file)),
            "{file}"
        );
    }
    for run in &whole.runs {
        let copied = merged
            .join(run.dir.as_deref().expect("dir"))
            .join("result.json");
        assert_eq!(read(copied), run.repro, "run directories are copied");
    }
}

#[test]
fn merge_exit_codes_follow_run() {
    let temp = tempfile::tempdir().expect("tempdir");
    let shard = temp.path().join("shard");
    let out = temp.path().join("out");
    write_store(&shard, vec![run("baseline", 1, MetWord::Yes, None)]);
    assert_eq!(merge(std::slice::from_ref(&shard), &out).expect("merge"), 0);
    write_store(
        &shard,
        vec![run("baseline", 1, MetWord::Unjudged, Some("x"))],
    );
    assert_eq!(merge(std::slice::from_ref(&shard), &out).expect("merge"), 3);
    let mut bad = run("baseline", 1, MetWord::Unjudged, Some("unsupported"));
    bad.bad_input = true;
    bad.dir = None;
    write_store(&shard, vec![bad]);
    assert_eq!(merge(std::slice::from_ref(&shard), &out).expect("merge"), 2);
    // Merging a store into itself leaves its run directories in place.
    write_store(&shard, vec![run("baseline", 1, MetWord::Yes, None)]);
    assert_eq!(
        merge(std::slice::from_ref(&shard), &shard).expect("merge"),
        0
    );
    assert!(shard.join("baseline/1/result.json").is_file());
}

#[test]
fn merge_refuses_overlapping_or_missing_shards() {
    let temp = tempfile::tempdir().expect("tempdir");
    let (a, b) = (temp.path().join("a"), temp.path().join("b"));
    write_store(&a, vec![run("baseline", 1, MetWord::Yes, None)]);
    write_store(&b, vec![run("baseline", 1, MetWord::Yes, None)]);
    let out = temp.path().join("out");
    match merge(&[a.clone(), b], &out) {
        Err(MergeError::Overlap { scenario, seed, .. }) => {
            assert_eq!((scenario.as_str(), seed), ("baseline", 1));
        }
        other => panic!("expected an overlap, got {other:?}"),
    }
    let missing = temp.path().join("missing");
    let error = merge(&[a, missing], &out).expect_err("no summary.json");
    assert!(matches!(error, MergeError::Read { .. }));
    assert!(error.to_string().contains("summary.json"), "{error}");
    assert!(matches!(merge(&[], &out), Err(MergeError::NoShards)));
}

/// End to end through the binary: two shards of the smoke baseline merge into the store the
/// unsharded invocation wrote (wall-clock times aside), and every run keeps its reports.
#[test]
fn merged_shards_of_real_runs_equal_the_unsharded_run() {
    let bin = env!("CARGO_BIN_EXE_faultline");
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/smoke/baseline.yaml");
    let temp = tempfile::tempdir().expect("tempdir");
    let faultline = |args: &[&str], out: &Path| {
        let status = std::process::Command::new(bin)
            .arg("run")
            .arg(&scenario)
            .args(["--seeds", "1..4"])
            .args(args)
            .arg("--out")
            .arg(out)
            .output()
            .expect("faultline runs");
        assert!(
            status.status.success(),
            "{}",
            String::from_utf8_lossy(&status.stdout)
        );
    };
    let unsharded = temp.path().join("all");
    faultline(&[], &unsharded);
    let shards: Vec<PathBuf> = ["1/2", "2/2"]
        .iter()
        .map(|k| {
            let dir = temp.path().join(k.replace('/', "-of-"));
            faultline(&["--shard", k], &dir);
            dir
        })
        .collect();
    let merged = temp.path().join("merged");
    assert_eq!(merge(&shards, &merged).expect("merge"), 0);

    let without_wall = |text: String| -> Summary {
        let mut summary = Summary::from_json(&text).expect("summary.json");
        for run in &mut summary.runs {
            run.wall_seconds = 0.0;
        }
        summary
    };
    assert_eq!(
        without_wall(read(merged.join("summary.json"))),
        without_wall(read(unsharded.join("summary.json")))
    );
    assert_eq!(
        read(merged.join("summary.md")),
        read(unsharded.join("summary.md"))
    );
    let without_times = |text: String| -> String {
        text.split(' ')
            .filter(|word| !word.starts_with("time="))
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(
        without_times(read(merged.join("junit.xml"))),
        without_times(read(unsharded.join("junit.xml")))
    );
    for seed in 1..=4 {
        let dir = format!("baseline/{seed}");
        for file in ["report.md", "report.html", "latency.svg", "throughput.svg"] {
            assert_eq!(
                read(merged.join(&dir).join(file)),
                read(unsharded.join(&dir).join(file)),
                "{dir}/{file}: the same run renders the same report"
            );
        }
    }
}

#[test]
fn write_reports_writes_the_four_files() {
    let temp = tempfile::tempdir().expect("tempdir");
    write_reports(temp.path(), &input()).expect("write");
    for file in ["report.md", "report.html", "latency.svg", "throughput.svg"] {
        assert!(temp.path().join(file).is_file(), "{file}");
    }
}
