//! `ci/sweep.sh`: its flags, its commit-derived seeds, the command it prints, and that it
//! exits with faultline's code.

use super::invocation::{flags_of, help};
use super::*;

fn sweep(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = script_command("exec ci/sweep.sh \"$@\"");
    command.arg("ci/sweep.sh").args(args);
    command.envs(env.iter().copied());
    command.output().unwrap()
}

#[test]
fn is_executable_and_answers_help() {
    assert_executable(SWEEP);
    assert_executable("ci/test.sh");
    let flags = flags_of(&help(
        "bash",
        &[repo().join(SWEEP).to_str().unwrap(), "--help"],
    ));
    for flag in [
        "--shard",
        "--seeds",
        "--suite",
        "--out",
        "--dry-run",
        "--print-seeds",
    ] {
        assert!(flags.contains(flag), "ci/sweep.sh --help lacks {flag}");
    }
}

#[test]
fn seeds_follow_the_commit() {
    let seeds = |commit: &str, count: &str| {
        let output = sweep(&["--seeds", count, "--print-seeds"], &[("COMMIT", commit)]);
        assert!(output.status.success(), "{output:?}");
        stdout(&output).trim().to_string()
    };
    let first = seeds("0123abcd", "5");
    assert_eq!(
        first,
        seeds("0123abcd", "5"),
        "a rerun of a commit runs the same seeds"
    );
    assert_ne!(
        first,
        seeds("4567ef01", "5"),
        "another commit explores other seeds"
    );
    let (low, high) = first.split_once("..").unwrap();
    let (low, high): (u64, u64) = (low.parse().unwrap(), high.parse().unwrap());
    assert_eq!(high - low + 1, 5);
    assert_eq!(
        seeds("0123abcd", "7..9"),
        "7..9",
        "an explicit range is used as given"
    );
    let bad = sweep(&["--shard", "3/2", "--dry-run"], &[("COMMIT", "x")]);
    assert_eq!(bad.status.code(), Some(2), "a bad shard is bad input");
}

#[test]
fn prints_a_valid_command_and_exits_with_faultlines_code() {
    let dry = sweep(
        &[
            "--shard",
            "2/3",
            "--seeds",
            "4",
            "--suite",
            "scenarios/smoke",
            "--dry-run",
        ],
        &[("COMMIT", "0123abcd"), ("FAULTLINE_BIN", FAULTLINE)],
    );
    assert!(dry.status.success(), "{dry:?}");
    let line = printed_command(&dry);
    assert!(line.contains(" run scenarios/smoke --seeds "), "{line}");
    assert!(line.contains(" --shard 2/3 "), "{line}");

    let dir = tempfile::tempdir().unwrap();
    let stub = stub_binary(dir.path());
    for code in [0, 1, 2, 3] {
        let output = sweep(
            &["--seeds", "1..2"],
            &[
                ("FAULTLINE_BIN", stub.to_str().unwrap()),
                ("STUB_EXIT", &code.to_string()),
            ],
        );
        assert_eq!(output.status.code(), Some(code), "{output:?}");
    }

    // And once for real: one run through the built binary.
    let out = dir.path().join("store");
    let real = sweep(
        &[
            "--suite",
            "scenarios/smoke/baseline.yaml",
            "--seeds",
            "1..1",
            "--jobs",
            "1",
        ],
        &[("FAULTLINE_BIN", FAULTLINE), ("OUT", out.to_str().unwrap())],
    );
    assert_eq!(real.status.code(), Some(0), "{real:?}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(
        summary["runs"].as_array().map(Vec::len),
        Some(1),
        "{summary}"
    );
}
