//! The scenario suites through `faultline run`'s own code: every smoke scenario on a few seeds,
//! each run twice to prove the history is a pure function of (scenario, seed, code), and every
//! other scenario on one seed, also twice, each meeting its expectation (the must-fail scenarios
//! must fail). Then the test of the tester: every planted bug is caught by its scenario.

use engine::bugs::Bugs;
use harness::sweep::{execute, RunArgs, EXIT_OK, EXIT_UNMET};
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
    run_with(paths, Some(seeds), check_determinism, Bugs::none())
}

/// `seeds: None` runs each scenario's own seeds.
fn run_with(
    paths: Vec<PathBuf>,
    seeds: Option<std::ops::RangeInclusive<u64>>,
    check_determinism: bool,
    bugs: Bugs,
) -> (u8, String) {
    let out = tempfile::tempdir().expect("tempdir");
    let args = RunArgs {
        mode: harness::run::context::Mode::Sim,
        paths,
        seeds,
        jobs: 2,
        shard: None,
        out: out.path().to_path_buf(),
        check_determinism,
        log_filter: None,
        bugs,
        progress: false,
        keep: harness::sweep::Keep::All,
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
    let folders = ["network", "crash", "disk", "consume", "txn", "queue"]
        .map(scenarios)
        .to_vec();
    // Twice each, in this one process: a second simulation must not be disturbed by the first
    // (it once was, through tokio's process-wide task ids; see engine::env::spawn).
    let (code, printed) = run(folders, 1..=1, true);
    assert_eq!(code, EXIT_OK, "{printed}");
}

#[test]
fn regression_scenarios_pass_on_the_seeds_that_found_them() {
    let (code, printed) = run_with(vec![scenarios("regression")], None, false, Bugs::none());
    assert_eq!(code, EXIT_OK, "{printed}");
}

/// Seeds each planted bug gets before it counts as escaped (`ci/catch-bugs.sh` measures how
/// many each needs; all are caught within 3 seeds today).
const BUG_SEEDS_MAX: u64 = 5;

#[test]
fn every_planted_bug_is_caught_by_its_scenario() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut escaped = Vec::new();
    for (bug, scenario) in harness::bugs::CATALOGUE {
        let caught = (1..=BUG_SEEDS_MAX).any(|seed| {
            let (code, _) = run_with(
                vec![root.join(scenario)],
                Some(seed..=seed),
                false,
                Bugs::none().with(bug),
            );
            code == EXIT_UNMET
        });
        if !caught {
            escaped.push(format!("{bug} ({scenario})"));
        }
    }
    assert!(escaped.is_empty(), "planted bugs that escaped: {escaped:?}");
}
