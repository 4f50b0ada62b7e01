//! The store (design.md section 10): `<out>/<scenario>/<seed>/` holds the played scenario, the
//! history, `result.json`, `report.md`, `report.html`, `latency.svg`, `throughput.svg`,
//! `repro.sh` and `sim.log`; the invocation adds `summary.json`, `summary.md` and `junit.xml`
//! at the top (see [`super::summary`]).
//!
//! Every report is rendered by `reports` from a [`ReportInput`] built here from the history
//! ([`timeline::timeline`]), so the same run always writes the same report bytes.

pub mod backlog;
pub mod repro_script;
pub mod timeline;

use crate::history::{write_history, History};
use crate::scenario::{Expectation, Keyword, Scenario};
use crate::sweep::expectation::Met;
use reports::{Judgement, ReportInput, RunResult};
use std::io;
use std::path::{Path, PathBuf};

pub struct RunFiles<'a> {
    pub scenario: &'a Scenario,
    pub history: &'a History,
    pub result: &'a RunResult,
    pub log: &'a [u8],
    /// The nodes' events, written as `node-events.jsonl` (simulated runs only).
    pub node_events: Option<&'a crate::run::NodeEventLog>,
    pub repro: &'a str,
    /// The scenario file as the user named it, and the planted bugs: what `repro.sh` replays.
    pub scenario_path: &'a Path,
    pub bugs: crate::systems::faultline::Bugs,
    pub met: &'a Met,
}

pub fn run_dir(out: &Path, scenario: &str, seed: u64) -> PathBuf {
    out.join(scenario).join(seed.to_string())
}

/// The run directory relative to the store, as `summary.json` names it.
pub fn run_dir_name(scenario: &str, seed: u64) -> String {
    format!("{scenario}/{seed}")
}

/// `valid`, or `invalid with lost-write, duplicate`.
pub fn expectation_words(expect: &Expectation) -> String {
    match expect {
        Expectation::Valid => "valid".to_string(),
        Expectation::Invalid(names) => {
            let names: Vec<&str> = names.iter().map(|name| name.as_str()).collect();
            format!("invalid with {}", names.join(", "))
        }
    }
}

pub fn report_met(met: &Met) -> reports::Met {
    match met {
        Met::Yes => reports::Met::Yes,
        Met::No(reason) => reports::Met::No(reason.clone()),
        Met::Unjudged(reason) => reports::Met::Unjudged(reason.clone()),
    }
}

/// What a run's reports are rendered from.
pub fn report_input(
    history: &History,
    result: &RunResult,
    judgement: Judgement,
    description: &str,
    node_events: &[crate::systems::faultline::NodeEventRecord],
) -> ReportInput {
    let mut timeline = timeline::timeline(history);
    timeline.node_events = timeline::node_marks(node_events);
    ReportInput {
        result: result.clone(),
        judgement,
        description: description.to_string(),
        timeline,
        backlog: backlog::backlogs(history),
    }
}

/// Writes `report.md`, `report.html`, `latency.svg` and `throughput.svg` into `dir`.
pub fn write_reports(dir: &Path, input: &ReportInput) -> io::Result<()> {
    std::fs::write(dir.join("report.md"), reports::render_markdown(input))?;
    std::fs::write(dir.join("report.html"), reports::render_html(input))?;
    let plots = [
        ("latency.svg", reports::render_latency_svg(input)),
        ("throughput.svg", reports::render_throughput_svg(input)),
    ];
    for (name, svg) in plots {
        std::fs::write(dir.join(name), svg.map_err(io::Error::other)?)?;
    }
    if let Some(svg) = reports::render_backlog_svg(input) {
        std::fs::write(dir.join("backlog.svg"), svg.map_err(io::Error::other)?)?;
    }
    Ok(())
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
    let ops = files.history.recorded_ops().ok_or_else(|| {
        io::Error::other("a run's history keeps its recorded ops; this one was read from a file")
    })?;
    write_history(ops, &mut history)?;
    std::fs::write(dir.join("history.jsonl"), history)?;
    std::fs::write(dir.join("result.json"), reports::render_json(files.result))?;
    let judgement = Judgement {
        expected: expectation_words(&files.scenario.expect),
        met: report_met(files.met),
    };
    let input = report_input(
        files.history,
        files.result,
        judgement,
        &files.scenario.description,
        files
            .node_events
            .map_or(&[][..], |events| &events.records[..]),
    );
    write_reports(&dir, &input)?;
    let replay = repro_script::Replay {
        scenario: files.scenario_path,
        seed: files.result.seed,
        bugs: files.bugs,
        repro: files.repro,
        real: files.result.mode == "real",
    };
    let script = repro_script::script(&replay, &repro_script::Binaries::here());
    write_executable(&dir.join("repro.sh"), &script)?;
    std::fs::write(dir.join("sim.log"), files.log)?;
    if let Some(events) = files.node_events {
        std::fs::write(
            dir.join("node-events.jsonl"),
            node_events_jsonl(&events.records),
        )?;
    }
    Ok(())
}

/// One node event per line, in the order they happened (docs/history.md).
pub fn node_events_jsonl(records: &[crate::systems::faultline::NodeEventRecord]) -> String {
    let mut text = String::new();
    for record in records {
        text.push_str(&serde_json::to_string(record).expect("a node event always serializes"));
        text.push('\n');
    }
    text
}

/// Writes `text` to `path`, executable by whoever may read it (`./repro.sh` works).
fn write_executable(path: &Path, text: &str) -> io::Result<()> {
    std::fs::write(path, text)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mut permissions = std::fs::metadata(path)?.permissions();
        // r-x for each class that has r--.
        permissions.set_mode(permissions.mode() | ((permissions.mode() & 0o444) >> 2));
        std::fs::set_permissions(path, permissions)?;
    }
    Ok(())
}
