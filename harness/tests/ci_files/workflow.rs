//! `ci/github/faultline.yml`: existing commands and flags, every shard's store uploaded
//! whatever its outcome, and the merge job's verdict and job summary — the steps' own shell run
//! against a stub faultline and fixture stores.

use super::*;
use std::collections::BTreeMap;

fn workflow() -> Value {
    documents(WORKFLOW)
        .into_iter()
        .next()
        .expect("one document")
}

/// The `run:` script of the step in `job` whose name starts with `name`.
fn step_script(workflow: &Value, job: &str, name: &str) -> String {
    let steps = at(workflow, &["jobs", job, "steps"])
        .as_sequence()
        .expect("steps");
    let step = steps
        .iter()
        .find(|s| text(at(s, &["name"])).starts_with(name))
        .unwrap_or_else(|| panic!("{job} has no step {name:?}"));
    text(at(step, &["run"]))
}

#[test]
fn runs_existing_commands_and_flags() {
    let found = check_template(WORKFLOW);
    let programs: Vec<String> = found
        .iter()
        .map(|i| {
            format!(
                "{} {}",
                i.program,
                i.args.first().map_or("", String::as_str)
            )
        })
        .collect();
    assert!(
        programs.iter().any(|p| p == "faultline merge"),
        "{programs:?}"
    );
    assert!(
        programs.iter().any(|p| p.starts_with("ci/sweep.sh")),
        "{programs:?}"
    );
}

#[test]
fn uploads_every_shard_and_merge_judges_the_sweep() {
    let workflow = workflow();
    let sweep_job = at(&workflow, &["jobs", "sweep"]);
    assert_eq!(
        at(sweep_job, &["strategy", "fail-fast"]),
        &Value::Bool(false)
    );
    let steps = at(sweep_job, &["steps"]).as_sequence().unwrap();
    let uploads: Vec<&Value> = steps
        .iter()
        .filter(|s| text(at(s, &["uses"])).starts_with("actions/upload-artifact"))
        .collect();
    assert!(!uploads.is_empty());
    for upload in uploads {
        assert!(
            text(at(upload, &["if"])).contains("always()"),
            "upload even on failure"
        );
    }
    let merge = at(&workflow, &["jobs", "merge"]);
    assert!(
        text(at(merge, &["if"])).contains("!cancelled()"),
        "merge runs after a failed shard"
    );
    let needs: Vec<String> = at(merge, &["needs"])
        .as_sequence()
        .unwrap()
        .iter()
        .map(text)
        .collect();
    assert!(needs.contains(&"sweep".to_string()));
    let merge_steps = at(merge, &["steps"]).as_sequence().unwrap();
    assert!(merge_steps.iter().any(|s| {
        text(at(s, &["uses"])).starts_with("mikepenz/action-junit-report")
            && text(at(s, &["with", "report_paths"])).ends_with("junit.xml")
    }));

    // The shard step: exit 1 and 3 are results (the job stays green, the store is uploaded and
    // merged); 2 and anything else fail the shard.
    let dir = tempfile::tempdir().unwrap();
    let stub = stub_binary(dir.path());
    let shard_step = step_script(&workflow, "sweep", "Run shard");
    for (code, shard_exit) in [(0, 0), (1, 0), (3, 0), (2, 2), (101, 101)] {
        let output = script_command(&shard_step)
            .envs([
                ("FAULTLINE_BIN", stub.to_str().unwrap()),
                ("STUB_EXIT", &code.to_string()),
                ("SHARD", "1"),
                ("SHARDS", "2"),
                ("SEEDS", "1..4"),
                ("OUT", dir.path().join("store").to_str().unwrap()),
            ])
            .output()
            .unwrap();
        assert_eq!(
            output.status.code(),
            Some(shard_exit),
            "faultline exit {code}: {output:?}"
        );
    }
}

fn write_summary(dir: &Path, runs: &[(&str, u64, &str)]) {
    std::fs::create_dir_all(dir).unwrap();
    let runs: Vec<serde_json::Value> = runs
        .iter()
        .map(|(scenario, seed, met)| {
            serde_json::json!({"scenario": scenario, "seed": seed, "met": met,
                "verdict": if *met == "yes" { "valid" } else { "invalid" },
                "reason": if *met == "yes" { None } else { Some("lost-write where none was expected") },
                "repro": format!("faultline run scenarios/crash/{scenario}.yaml --seed {seed}")})
        })
        .collect();
    let mut counts = BTreeMap::new();
    for run in &runs {
        *counts
            .entry(run["met"].as_str().unwrap().to_string())
            .or_insert(0) += 1;
    }
    let summary = serde_json::json!({"runs": runs, "counts": counts});
    std::fs::write(dir.join("summary.json"), summary.to_string()).unwrap();
}

#[test]
fn merge_job_fails_on_a_failed_run_or_a_missing_shard_and_lists_repros() {
    if Command::new("jq").arg("--version").output().is_err() {
        eprintln!("skipped: the merge job's steps use jq (preinstalled on GitHub runners)");
        return;
    }
    let workflow = workflow();
    let judge = step_script(&workflow, "merge", "Fail the workflow");
    let report = step_script(&workflow, "merge", "Job summary");
    let judge_in = |dir: &Path, shards: &str, sweep_result: &str, merge_status: &str| {
        let mut command = script_command(&judge);
        command.current_dir(dir).envs([
            ("SHARDS", shards),
            ("SWEEP_RESULT", sweep_result),
            ("MERGE_STATUS", merge_status),
        ]);
        command.output().unwrap().status.code()
    };

    let green = tempfile::tempdir().unwrap();
    write_summary(
        &green.path().join("shards/faultline-store-1"),
        &[("swarm", 7, "yes")],
    );
    write_summary(
        &green.path().join("shards/faultline-store-2"),
        &[("swarm", 8, "yes")],
    );
    write_summary(
        &green.path().join("merged"),
        &[("swarm", 7, "yes"), ("swarm", 8, "yes")],
    );
    assert_eq!(judge_in(green.path(), "2", "success", "0"), Some(0));
    assert_eq!(
        judge_in(green.path(), "3", "success", "0"),
        Some(1),
        "a shard store is missing"
    );
    assert_eq!(
        judge_in(green.path(), "2", "failure", "0"),
        Some(1),
        "a shard job failed"
    );
    assert_eq!(
        judge_in(green.path(), "2", "success", "2"),
        Some(1),
        "merge failed"
    );

    let red = tempfile::tempdir().unwrap();
    write_summary(
        &red.path().join("shards/faultline-store-1"),
        &[("swarm", 7, "no")],
    );
    write_summary(
        &red.path().join("merged"),
        &[("swarm", 7, "no"), ("swarm", 8, "yes")],
    );
    assert_eq!(
        judge_in(red.path(), "1", "success", "1"),
        Some(1),
        "a run did not meet"
    );

    let step_summary = red.path().join("step-summary.md");
    let output = script_command(&report)
        .current_dir(red.path())
        .envs([
            ("GITHUB_STEP_SUMMARY", step_summary.to_str().unwrap()),
            ("SEED_RANGE", "7..8"),
            ("SHARDS", "1"),
            ("COMMIT", "0123abcd"),
            ("SUITE", "scenarios/"),
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let written = std::fs::read_to_string(step_summary).unwrap();
    assert!(
        written.contains("| swarm | 7 | invalid | no |"),
        "{written}"
    );
    assert!(
        written.contains("`faultline run scenarios/crash/swarm.yaml --seed 7`"),
        "{written}"
    );
    assert!(
        !written.contains("| swarm | 8 |"),
        "only failing runs are listed: {written}"
    );
}
