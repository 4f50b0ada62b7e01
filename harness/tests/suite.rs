//! The scenario suites through `faultline run`'s own code: every smoke scenario on a few seeds,
//! each run twice to prove the history is a pure function of (scenario, seed, code), and every
//! other scenario on one seed, also twice, each meeting its expectation (the must-fail scenarios
//! must fail).

use harness::invocation::{execute, RunArgs, EXIT_OK};
use std::path::PathBuf;

fn scenarios(folder: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("scenarios")
        .join(folder)
}

fn run(
    paths: Vec<PathBuf>,
    seeds: std::ops::RangeInclusive<u64>,
    check_determinism: bool,
) -> (u8, String) {
    let out = tempfile::tempdir().expect("tempdir");
    let args = RunArgs {
        paths,
        seeds: Some(seeds),
        jobs: 2,
        shard: None,
        out: out.path().to_path_buf(),
        check_determinism,
        log_filter: None,
        bugs: engine::bugs::Bugs::none(),
        progress: false,
    };
    let mut printed = Vec::new();
    let code = execute(&args, &mut printed).expect("the suite loads");
    let junit = std::fs::read_to_string(out.path().join("junit.xml")).expect("junit.xml");
    assert!(junit.contains("<testsuites"), "junit.xml is written");
    (code, String::from_utf8_lossy(&printed).into_owned())
}

#[test]
fn smoke_suite_is_valid_and_deterministic() {
    let (code, printed) = run(vec![scenarios("smoke")], 1..=3, true);
    assert_eq!(code, EXIT_OK, "{printed}");
}

#[test]
fn every_scenario_meets_its_expectation_on_seed_1() {
    let folders = ["network", "crash", "disk", "consume", "txn"]
        .map(scenarios)
        .to_vec();
    // Twice each, in this one process: a second simulation must not be disturbed by the first
    // (it once was, through tokio's process-wide task ids; see engine::env::spawn).
    let (code, printed) = run(folders, 1..=1, true);
    assert_eq!(code, EXIT_OK, "{printed}");
}
