//! `report.md`: what a person reads first after a run. The verdict leads, then the seed and
//! the one command that replays the run, then what went wrong in a sentence per anomaly name,
//! the checks, the fault schedule as it happened, and each anomaly explained with the ops that
//! prove it and the faults active while they ran.
//!
//! Output is bounded whatever the run: [`EXPLAINED_PER_NAME_MAX`] anomalies of each name get
//! their full proof, [`LISTED_PER_NAME_MAX`] more get one line, and the rest are counted (every
//! one is in `result.json`).

use crate::anomaly_names;
use crate::evidence::{self, Focus};
use crate::headline::{self, Group};
use crate::input::{Located, ReportInput};
use crate::text::{cell, clip, seconds};
use std::collections::BTreeMap;
use std::fmt::Write;

/// Anomalies of one name explained with their proving ops.
pub const EXPLAINED_PER_NAME_MAX: usize = 3;
/// Further anomalies of one name listed one line each.
pub const LISTED_PER_NAME_MAX: usize = 10;
/// Proving ops shown per anomaly.
pub const OPS_PER_ANOMALY_MAX: usize = 8;
/// Fault windows listed.
pub const FAULTS_LISTED_MAX: usize = 50;
/// Node events listed.
pub const NODE_EVENTS_LISTED_MAX: usize = 60;

/// `report.md`'s text.
pub fn render_markdown(input: &ReportInput) -> String {
    let mut md = String::new();
    // Writing to a String cannot fail.
    let _ = write_report(&mut md, input);
    md
}

fn write_report(md: &mut String, input: &ReportInput) -> std::fmt::Result {
    let result = &input.result;
    let located = input.timeline.locator();
    writeln!(
        md,
        "# {}: {} (seed {})\n",
        result.verdict.as_str().to_uppercase(),
        result.scenario,
        result.seed
    )?;
    writeln!(md, "**{}**\n", headline::verdict_sentence(result))?;
    writeln!(md, "{}\n", headline::judgement_sentence(&input.judgement))?;
    writeln!(md, "- Seed: {}", result.seed)?;
    if result.mode == "real" {
        writeln!(
            md,
            "- Mode: real (real processes and faults; the seed fixes the fault schedule, not \
             the interleaving)"
        )?;
    }
    writeln!(md, "- Reproduce: `{}`", result.repro)?;
    let description = input.description.trim();
    if !description.is_empty() {
        writeln!(
            md,
            "- Scenario: {}",
            clip(&description.replace('\n', " "), 400)
        )?;
    }
    writeln!(
        md,
        "- Run: {}; history digest `{}`",
        headline::stats_sentence(result),
        result.history_digest
    )?;

    let groups = headline::groups(result);
    if !groups.is_empty() {
        writeln!(md, "\n## What went wrong\n")?;
        for group in &groups {
            writeln!(
                md,
                "- **{}**: {}",
                group.name,
                evidence::group_sentence(&input.timeline, &located, group.anomalies, group.omitted)
            )?;
        }
    }

    writeln!(md, "\n## Checks\n")?;
    writeln!(md, "| check | verdict | found |\n|---|---|---|")?;
    for (check, verdict) in &result.checks {
        writeln!(
            md,
            "| {} | {} | {} |",
            cell(check),
            verdict,
            cell(&headline::check_finding(result, check))
        )?;
    }

    write_faults(md, input)?;
    write_node_events(md, input)?;

    if !input.backlog.is_empty() {
        writeln!(
            md,
            "\n## Backlog\n\n{}",
            crate::text::backlog_summary(&input.backlog)
        )?;
    }

    if !groups.is_empty() {
        writeln!(md, "\n## Anomalies")?;
        for group in &groups {
            write_group(md, input, &located, group)?;
        }
    }

    let backlog = if input.backlog.is_empty() {
        ""
    } else {
        "`backlog.svg`, "
    };
    let node_events = if input.timeline.node_events.is_empty() {
        ""
    } else {
        "`node-events.jsonl`, "
    };
    writeln!(
        md,
        "\n## Files\n\n`history.jsonl` (every op; `op N` above is line N, counting from 0), \
         `result.json`, `report.html` (timeline and offsets), `latency.svg`, `throughput.svg`, \
         {backlog}{node_events}`sim.log`, `repro.sh`."
    )
}

/// Elections, controller moves, ISR changes, truncations and group generations, in time order
/// (nothing when the run recorded no node events).
fn write_node_events(md: &mut String, input: &ReportInput) -> std::fmt::Result {
    let marks: Vec<_> = input
        .timeline
        .node_events
        .iter()
        .filter(|mark| evidence::is_cited(mark))
        .collect();
    if marks.is_empty() {
        return Ok(());
    }
    writeln!(
        md,
        "\n## Node events\n\n| time | node | event |\n|---|---|---|"
    )?;
    for mark in marks.iter().take(NODE_EVENTS_LISTED_MAX) {
        writeln!(
            md,
            "| {} | {} | {} |",
            seconds(mark.time_ns),
            cell(&mark.node),
            cell(&mark.words)
        )?;
    }
    if marks.len() > NODE_EVENTS_LISTED_MAX {
        writeln!(
            md,
            "\n{} more are in `node-events.jsonl`.",
            marks.len() - NODE_EVENTS_LISTED_MAX
        )?;
    }
    Ok(())
}

fn write_faults(md: &mut String, input: &ReportInput) -> std::fmt::Result {
    let timeline = &input.timeline;
    writeln!(md, "\n## Faults\n")?;
    if timeline.faults.is_empty() {
        writeln!(md, "No fault was injected.")?;
    } else {
        writeln!(
            md,
            "| fault | nodes | started | lifted | detail |\n|---|---|---|---|---|"
        )?;
        for window in timeline.faults.iter().take(FAULTS_LISTED_MAX) {
            let lifted = match window.stop {
                Some(stop) => format!("{} (op {stop})", seconds(window.stop_ns)),
                None => "never".to_string(),
            };
            writeln!(
                md,
                "| {} | {} | {} (op {}) | {} | {} |",
                cell(&window.fault),
                cell(&window.nodes.join(", ")),
                seconds(window.start_ns),
                window.start,
                lifted,
                // Not clipped here: the words are short, and the timeline bounds them.
                cell(&window.detail)
            )?;
        }
        if timeline.faults.len() > FAULTS_LISTED_MAX {
            writeln!(
                md,
                "\n{} more faults are in `history.jsonl`.",
                timeline.faults.len() - FAULTS_LISTED_MAX
            )?;
        }
    }
    let markers: Vec<String> = timeline
        .markers
        .iter()
        .map(|marker| {
            format!(
                "{} at {} (op {})",
                marker.name,
                seconds(marker.time_ns),
                marker.index
            )
        })
        .collect();
    if !markers.is_empty() {
        writeln!(
            md,
            "\nPhases: {}.",
            crate::text::list(&markers, FAULTS_LISTED_MAX)
        )?;
    }
    writeln!(md, "\n{}", clock_note(timeline.workload_start_ns))?;
    Ok(())
}

/// Why a fault the scenario puts `at: 5s` shows at 5.5 s here.
pub(crate) fn clock_note(workload_start_ns: Option<u64>) -> String {
    let base = "Times count from the start of the simulation. The scenario's `at:` counts from \
                the start of the workload, which begins after setup (nodes started, topics \
                created, leaders elected)";
    match workload_start_ns {
        Some(start) => format!(
            "{base}: here at {}, so a fault at `at: 5s` shows at {}.",
            seconds(start),
            seconds(start + 5_000_000_000)
        ),
        None => format!("{base}."),
    }
}

fn write_group(
    md: &mut String,
    input: &ReportInput,
    located: &BTreeMap<u64, Located<'_>>,
    group: &Group,
) -> std::fmt::Result {
    writeln!(md, "\n### {} ({})\n", group.name, group.total())?;
    writeln!(md, "_{}_\n", anomaly_names::meaning(group.name))?;
    writeln!(
        md,
        "{}",
        evidence::group_sentence(&input.timeline, located, group.anomalies, group.omitted)
    )?;
    for (position, anomaly) in group
        .anomalies
        .iter()
        .take(EXPLAINED_PER_NAME_MAX)
        .enumerate()
    {
        writeln!(
            md,
            "\n#### {} {} of {}\n",
            group.name,
            position + 1,
            group.total()
        )?;
        writeln!(md, "{}\n", anomaly.explanation)?;
        writeln!(
            md,
            "{}\n",
            evidence::faults_sentence(&input.timeline, located, anomaly)
        )?;
        if anomaly.ops.is_empty()
            && !evidence::proving_node_events(&input.timeline, anomaly).is_empty()
        {
            continue; // Proven by node events, named in the sentence above: no op table.
        }
        writeln!(
            md,
            "| op | time | process | type | f | what |\n|---|---|---|---|---|---|"
        )?;
        let focus = Focus::of(anomaly);
        for index in anomaly.ops.iter().take(OPS_PER_ANOMALY_MAX) {
            let row = evidence::op_row(located, *index, &focus);
            writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} |",
                row.index,
                seconds(row.time_ns),
                cell(&row.process),
                row.kind,
                cell(&row.f),
                cell(&row.what)
            )?;
        }
        if anomaly.ops.len() > OPS_PER_ANOMALY_MAX {
            writeln!(
                md,
                "\n{} more proving ops are listed in `result.json`.",
                anomaly.ops.len() - OPS_PER_ANOMALY_MAX
            )?;
        }
    }
    let rest = group.anomalies.iter().skip(EXPLAINED_PER_NAME_MAX);
    let listed: Vec<_> = rest.clone().take(LISTED_PER_NAME_MAX).collect();
    if !listed.is_empty() {
        writeln!(md, "\nThe others:\n")?;
        for anomaly in listed {
            let ops: Vec<String> = anomaly.ops.iter().map(u64::to_string).collect();
            writeln!(
                md,
                "- {} (ops {})",
                clip(&anomaly.explanation, 300),
                ops.join(", ")
            )?;
        }
    }
    let unlisted = rest.count().saturating_sub(LISTED_PER_NAME_MAX) as u64 + group.omitted;
    if unlisted > 0 {
        writeln!(
            md,
            "\n{unlisted} more {} anomalies are not shown here{}.",
            group.name,
            if group.omitted > 0 {
                " (result.json lists those the checker kept and counts the rest)"
            } else {
                " (every one is in result.json)"
            }
        )?;
    }
    Ok(())
}
