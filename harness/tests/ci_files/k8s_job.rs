//! `ci/k8s/sweep-job.yaml`: existing commands and flags, JOB_COMPLETION_INDEX i running shard
//! i+1 of N (the container's script run as a dry run for every index), and a pod failure policy
//! that does not retry an anomaly but does retry the machine.

use super::*;

#[test]
fn runs_existing_commands_and_maps_the_index_to_a_shard() {
    let found = check_template(K8S_JOB);
    assert!(found.iter().any(|i| i.program == SWEEP), "{found:?}");
    assert!(found
        .iter()
        .any(|i| i.program == "faultline" && i.args[0] == "merge"));

    let documents = documents(K8S_JOB);
    let sweep_job = documents
        .iter()
        .find(|d| {
            text(at(d, &["kind"])) == "Job"
                && at(d, &["spec", "completionMode"]).as_str() == Some("Indexed")
        })
        .expect("an Indexed Job");
    let spec = at(sweep_job, &["spec"]);
    let completions = at(spec, &["completions"]).as_u64().expect("completions");
    assert!(at(spec, &["parallelism"]).as_u64().is_some());
    assert_eq!(
        text(at(spec, &["template", "spec", "restartPolicy"])),
        "Never"
    );
    let container = &at(spec, &["template", "spec", "containers"])
        .as_sequence()
        .unwrap()[0];
    let env: Vec<(String, String)> = at(container, &["env"])
        .as_sequence()
        .unwrap()
        .iter()
        .map(|e| (text(at(e, &["name"])), text(at(e, &["value"]))))
        .collect();
    let shards = env
        .iter()
        .find(|(name, _)| name == "SHARDS")
        .map(|(_, v)| v.clone());
    assert_eq!(
        shards,
        Some(completions.to_string()),
        "SHARDS must equal completions"
    );

    // Run the container's script for every index, as a dry run: index i is shard i+1 of N.
    let script = at(container, &["args"])
        .as_sequence()
        .unwrap()
        .last()
        .map(text)
        .unwrap();
    for index in 0..completions {
        let output = script_command(&script)
            .envs(env.iter().map(|(n, v)| (n.as_str(), v.as_str())))
            .envs([
                ("JOB_COMPLETION_INDEX", index.to_string().as_str()),
                ("FAULTLINE_BIN", FAULTLINE),
                ("DRY_RUN", "1"),
            ])
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        let line = printed_command(&output);
        let shard = format!(" --shard {}/{completions} ", index + 1);
        assert!(line.contains(&shard), "index {index}: {line}");
    }
}

#[test]
fn does_not_retry_an_anomaly_but_retries_the_machine() {
    let documents = documents(K8S_JOB);
    let spec = documents
        .iter()
        .map(|d| at(d, &["spec"]))
        .find(|s| at(s, &["completionMode"]).as_str() == Some("Indexed"))
        .unwrap();
    let rules = at(spec, &["podFailurePolicy", "rules"])
        .as_sequence()
        .expect("podFailurePolicy");
    let action_for_exit = |code: u64| {
        rules.iter().find_map(|rule| {
            let on = at(rule, &["onExitCodes"]);
            let values = at(on, &["values"]).as_sequence()?;
            let listed = values.iter().any(|v| v.as_u64() == Some(code));
            let matches = (text(at(on, &["operator"])) == "In") == listed;
            matches.then(|| text(at(rule, &["action"])))
        })
    };
    let exit_1 = action_for_exit(1).expect("a rule for exit 1");
    assert!(
        ["FailIndex", "FailJob"].contains(&exit_1.as_str()),
        "exit 1 is retried: {exit_1}"
    );
    if exit_1 == "FailIndex" {
        assert!(
            at(spec, &["backoffLimitPerIndex"]).as_u64().is_some(),
            "FailIndex needs it"
        );
    }
    for code in [3, 137] {
        let action = action_for_exit(code);
        assert!(
            action.is_none() || action.as_deref() == Some("Count"),
            "exit {code} must be retried, not {action:?}"
        );
    }
    let disruption = rules.iter().find(|rule| {
        at(rule, &["onPodConditions"])
            .as_sequence()
            .is_some_and(|c| {
                c.iter()
                    .any(|c| text(at(c, &["type"])) == "DisruptionTarget")
            })
    });
    assert_eq!(
        disruption.map(|r| text(at(r, &["action"]))),
        Some("Ignore".to_string())
    );
}
