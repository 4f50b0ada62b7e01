//! The CI templates (`ci/github/faultline.yml`, `ci/k8s/sweep-job.yaml`) and `ci/sweep.sh`.
//! A template is only checked when someone's CI runs it, so this test does what that CI would
//! find out late: the YAML parses; every `faultline <subcommand> --flag` and `ci/*.sh --flag`
//! the templates run exists — asked of the built binary's and the script's own `--help`, so a
//! renamed flag breaks this test, not a user's sweep; every script they name is executable; and
//! the exit-code policy holds: a shard that finds an anomaly (exit 1) still uploads and merges,
//! the merge job fails the workflow, and Kubernetes does not retry an anomaly but does retry
//! the machine. The template steps' shell is run for real against stub binaries and fixtures.

mod invocation;
mod k8s_job;
mod sweep_script;
mod workflow;

use invocation::{commands, invocations, is_script, problems, Invocation};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use yaml_serde::Value;

const WORKFLOW: &str = "ci/github/faultline.yml";
const K8S_JOB: &str = "ci/k8s/sweep-job.yaml";
const SWEEP: &str = "ci/sweep.sh";
const FAULTLINE: &str = env!("CARGO_BIN_EXE_faultline");

/// Variables the scripts read; cleared so the test runner's environment cannot steer them.
const SCRIPT_ENV: [&str; 13] = [
    "SHARD",
    "SHARDS",
    "SEEDS",
    "SUITE",
    "OUT",
    "JOBS",
    "COMMIT",
    "CHECK_DETERMINISM",
    "DRY_RUN",
    "FAULTLINE_BIN",
    "FAULTLINE_SEED",
    "FAULTLINE_SEEDS",
    "RUST_LOG",
];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn documents(relative: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(repo().join(relative))
        .unwrap_or_else(|e| panic!("{relative}: {e}"));
    yaml_serde::Deserializer::from_str(&text)
        .map(|document| {
            Value::deserialize(document).unwrap_or_else(|e| panic!("{relative}: not YAML: {e}"))
        })
        .collect()
}

/// `value[key1][key2]...`, or Null.
fn at<'a>(value: &'a Value, keys: &[&str]) -> &'a Value {
    keys.iter()
        .fold(value, |value, key| value.get(*key).unwrap_or(&Value::Null))
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => String::new(),
    }
}

/// Every shell script a template runs: GitHub `run:` values, container `command`/`args` items.
fn scripts(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Mapping(map) => {
            for (key, item) in map {
                match (key.as_str(), item) {
                    (Some("run"), Value::String(script)) => out.push(script.clone()),
                    (Some("command" | "args"), Value::Sequence(items)) => {
                        out.extend(items.iter().filter_map(|i| i.as_str().map(String::from)))
                    }
                    _ => scripts(item, out),
                }
            }
        }
        Value::Sequence(items) => items.iter().for_each(|item| scripts(item, out)),
        Value::Tagged(tagged) => scripts(&tagged.value, out),
        _ => {}
    }
}

fn assert_executable(relative: &str) {
    use std::os::unix::fs::PermissionsExt;
    let metadata = std::fs::metadata(repo().join(relative))
        .unwrap_or_else(|e| panic!("{relative} is named by a template but missing: {e}"));
    assert!(
        metadata.permissions().mode() & 0o111 != 0,
        "{relative} is not executable (chmod +x {relative})"
    );
}

/// Checks every invocation and script in a template; returns the invocations found.
fn check_template(relative: &str) -> Vec<Invocation> {
    let mut found = Vec::new();
    let mut wrong = Vec::new();
    for document in documents(relative) {
        let mut texts = Vec::new();
        scripts(&document, &mut texts);
        for script in texts {
            for words in commands(&script) {
                words
                    .iter()
                    .filter(|w| is_script(w))
                    .for_each(|w| assert_executable(w));
            }
            for invocation in invocations(&script) {
                wrong.extend(problems(&invocation, relative));
                found.push(invocation);
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    found
}

fn script_command(script: &str) -> Command {
    let mut command = Command::new("bash");
    command.arg("-c").arg(script).current_dir(repo());
    for name in SCRIPT_ENV {
        command.env_remove(name);
    }
    command
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The command ci/sweep.sh printed (its `+ ...` line), checked against faultline's CLI.
fn printed_command(output: &Output) -> String {
    let out = stdout(output);
    let line = out
        .lines()
        .find_map(|line| line.strip_prefix("+ "))
        .unwrap_or_else(|| panic!("no `+ command` line in {out:?}"));
    let printed = invocations(line);
    assert_eq!(printed.len(), 1, "{line}");
    let wrong = problems(&printed[0], "ci/sweep.sh's command");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    line.to_string()
}

/// A stand-in faultline that exits with `$STUB_EXIT`.
fn stub_binary(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("faultline");
    std::fs::write(&path, "#!/bin/sh\nexit \"${STUB_EXIT:-0}\"\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}
