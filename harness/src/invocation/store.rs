//! The store (design.md section 10): `<out>/<scenario>/<seed>/` holds the played scenario, the
//! history, `result.json`, `report.md`, `repro.sh` and `sim.log`; the invocation adds
//! `summary.json`, `summary.md` and `junit.xml` at the top.

use crate::history::{write_history, History};
use crate::invocation::expectation::Met;
use crate::scenario::Scenario;
use reports::RunResult;
use std::io;
use std::path::{Path, PathBuf};

pub struct RunFiles<'a> {
    pub scenario: &'a Scenario,
    pub history: &'a History,
    pub result: &'a RunResult,
    pub log: &'a [u8],
    pub repro: &'a str,
    pub met: &'a Met,
}

pub fn run_dir(out: &Path, scenario: &str, seed: u64) -> PathBuf {
    out.join(scenario).join(seed.to_string())
}

fn markdown(files: &RunFiles) -> String {
    let result = files.result;
    let mut text = format!(
        "# {} — seed {}: **{}**\n\n",
        result.scenario, result.seed, result.verdict
    );
    match files.met {
        Met::Yes => text.push_str("The run met its scenario's expectation.\n\n"),
        Met::No(reason) => text.push_str(&format!(
            "The run did **not** meet its expectation: {reason}.\n\n"
        )),
        Met::Unjudged(reason) => {
            text.push_str(&format!("The run could not be judged: {reason}.\n\n"))
        }
    }
    text.push_str(&format!("Reproduce: `{}`\n\n", files.repro));
    text.push_str("| check | verdict |\n|---|---|\n");
    for (check, verdict) in &result.checks {
        text.push_str(&format!("| {check} | {verdict} |\n"));
    }
    for (check, reason) in &result.reasons {
        text.push_str(&format!("\n{check} could not decide: {reason}\n"));
    }
    for (name, anomalies) in &result.anomalies {
        text.push_str(&format!("\n## {name} ({})\n\n", anomalies.len()));
        for anomaly in anomalies {
            text.push_str(&format!(
                "- {} (ops {:?})\n",
                anomaly.explanation, anomaly.ops
            ));
        }
    }
    let stats = &result.stats;
    text.push_str(&format!(
        "\n{} ops, {} sends acknowledged, {:.1} simulated seconds, {} faults, history digest `{}`\n",
        stats.ops, stats.sends_ok, stats.sim_seconds, stats.faults, result.history_digest
    ));
    text
}

pub fn write_run(out: &Path, files: &RunFiles) -> io::Result<()> {
    let dir = run_dir(out, &files.result.scenario, files.result.seed);
    std::fs::create_dir_all(&dir)?;
    let yaml = files
        .scenario
        .to_yaml()
        .map_err(|e| io::Error::other(e.to_string()))?;
    std::fs::write(dir.join("scenario.yaml"), yaml)?;
    let mut history = Vec::new();
    write_history(files.history.ops(), &mut history)?;
    std::fs::write(dir.join("history.jsonl"), history)?;
    std::fs::write(dir.join("result.json"), reports::render_json(files.result))?;
    std::fs::write(dir.join("report.md"), markdown(files))?;
    std::fs::write(
        dir.join("repro.sh"),
        format!(
            "#!/bin/sh\n# Replays this run exactly.\nexec {}\n",
            files.repro
        ),
    )?;
    std::fs::write(dir.join("sim.log"), files.log)?;
    Ok(())
}
