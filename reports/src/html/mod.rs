//! `report.html`: one self-contained page (inline CSS, script and SVG; nothing fetched) with the
//! verdict, the repro command, the checks, each anomaly explained, the timeline of ops per
//! process with fault windows shaded, the per-partition offset view, both plots, and the fault
//! schedule. Rendered with maud, which escapes every value; the output is a pure function of
//! the [`ReportInput`].

mod assets;
mod offsets;
mod timeline;

pub use timeline::OPS_MAX as TIMELINE_OPS_MAX;

use crate::anomaly_names;
use crate::evidence::{self, Focus};
use crate::headline::{self, Group};
use crate::input::{Located, ReportInput};
use crate::offset_view::offset_view;
use crate::plot;
use crate::text::{clip, seconds};
use maud::{html, Markup, PreEscaped, DOCTYPE};
use std::collections::BTreeMap;

/// Anomalies of one name listed on the page (each with a click-to-highlight).
pub const LISTED_PER_NAME_MAX: usize = 12;
/// Of those, how many show their proving ops as a table.
pub const EXPLAINED_PER_NAME_MAX: usize = 3;
/// Proving ops shown per anomaly.
pub const OPS_PER_ANOMALY_MAX: usize = 8;

/// `report.html`'s text.
pub fn render_html(input: &ReportInput) -> String {
    let result = &input.result;
    let located = input.timeline.locator();
    let drawn = timeline::timeline(input, &located);
    let groups = headline::groups(result);
    let title = format!(
        "{}: {} seed {}",
        result.verdict.as_str().to_uppercase(),
        result.scenario,
        result.seed
    );
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                style { (PreEscaped(assets::CSS)) }
            }
            body {
                h1 {
                    span class={"verdict v-" (result.verdict.as_str())} { (result.verdict.as_str()) }
                    " " (result.scenario) " — seed " (result.seed)
                }
                p { strong { (headline::verdict_sentence(result)) } " " (headline::judgement_sentence(&input.judgement)) }
                ul.facts {
                    li { "Seed: " code { (result.seed) } }
                    @if result.mode == "real" {
                        li { "Mode: real (real processes and faults; the seed fixes the fault schedule, not the interleaving)" }
                    }
                    li { "Reproduce: " code { (result.repro) } }
                    @if !input.description.trim().is_empty() {
                        li { "Scenario: " (clip(input.description.trim(), 400)) }
                    }
                    li { "Run: " (headline::stats_sentence(result)) "; history digest " code { (result.history_digest) } }
                }
                h2 id="checks" { "Checks" }
                table {
                    tr { th { "check" } th { "verdict" } th { "found" } }
                    @for (check, verdict) in &result.checks {
                        tr { td { (check) } td { (verdict.as_str()) } td { (headline::check_finding(result, check)) } }
                    }
                }
                @if !groups.is_empty() {
                    h2 id="what-went-wrong" { "What went wrong" }
                    ul {
                        @for group in &groups {
                            li { strong { (group.name) } ": " (evidence::group_sentence(&input.timeline, &located, group.anomalies, group.omitted)) }
                        }
                    }
                }
                h2 id="timeline" { "Timeline" }
                p.legend {
                    span { i style="background:var(--ok)" {} "ok" }
                    span { i style="background:var(--fail)" {} "fail" }
                    span { i style="background:var(--info)" {} "info (outcome unknown)" }
                    span { i style="background:var(--open)" {} "never completed" }
                    span { i style="background:#fff;border:2px solid #000" {} "proves an anomaly" }
                    span.muted { "Shaded: fault windows. Hover a bar for the op." }
                }
                @if input.timeline.node_events.iter().any(crate::evidence::is_cited) {
                    p.legend {
                        span { i style="background:#1f77b4" {} "leader elected" }
                        span { i style="background:#9467bd" {} "controller elected" }
                        span { i style="background:#ff7f0e" {} "ISR changed" }
                        span { i style="background:#d62728" {} "truncated" }
                        span { i style="background:#2ca02c" {} "group generation" }
                        span.muted { "Node events; hover a tick for the event." }
                    }
                }
                @if drawn.ops_drawn < drawn.ops_total || drawn.lanes_drawn < drawn.lanes_total {
                    p.muted {
                        "Showing " (drawn.ops_drawn) " of " (drawn.ops_total) " ops in "
                        (drawn.lanes_drawn) " of " (drawn.lanes_total)
                        " processes (every op that proves an anomaly is kept; history.jsonl has them all)."
                    }
                }
                div.scroll { (drawn.svg) }
                h2 id="offsets" { "Offsets" }
                p.muted { "Per partition: the value a producer was acknowledged at each offset, and the values each reader saw there." }
                div.offsets { (offsets::offsets(&offset_view(input))) }
                h2 id="plots" { "Latency and throughput" }
                (figure(plot::render_latency_svg(input)))
                (figure(plot::render_throughput_svg(input)))
                @if let Some(backlog) = plot::render_backlog_svg(input) {
                    h2 id="backlog" { "Backlog" }
                    p.muted { (crate::text::backlog_summary(&input.backlog)) }
                    (figure(backlog))
                }
                h2 id="faults" { "Faults" }
                (faults(input))
                @if !groups.is_empty() {
                    h2 id="anomalies" { "Anomalies" }
                    p.muted { "Click an anomaly to outline its ops on the timeline." }
                    div.anomalies {
                        @for (i, group) in groups.iter().enumerate() {
                            (anomaly_group(input, &located, group, i == 0))
                        }
                    }
                }
                p.muted { "faultline report: history.jsonl holds every op; op N is its line N, counting from 0." }
                script { (PreEscaped(assets::JS)) }
            }
        }
    };
    page.into_string()
}

fn anomaly_group(
    input: &ReportInput,
    located: &BTreeMap<u64, Located>,
    group: &Group,
    open: bool,
) -> Markup {
    html! {
        details open[open] {
        summary { h3 { (group.name) " (" (group.total()) ")" } }
        p.meaning { (anomaly_names::meaning(group.name)) }
        p { (evidence::group_sentence(&input.timeline, located, group.anomalies, group.omitted)) }
        ol {
            @for (position, anomaly) in group.anomalies.iter().take(LISTED_PER_NAME_MAX).enumerate() {
                @let invokes = anomaly.ops.iter().filter_map(|index| match located.get(index) {
                    Some(Located::Op(op, _)) => Some(op.invoke.to_string()),
                    _ => None,
                }).collect::<Vec<_>>().join(" ");
                li data-ops=(invokes) {
                    (anomaly.explanation)
                    @if position < EXPLAINED_PER_NAME_MAX {
                        br;
                        span.muted { (evidence::faults_sentence(&input.timeline, located, anomaly)) }
                        @if !anomaly.ops.is_empty() || evidence::proving_node_events(&input.timeline, anomaly).is_empty() {
                            (op_table(located, anomaly))
                        }
                    }
                }
            }
        }
        @let unlisted = group.total().saturating_sub(LISTED_PER_NAME_MAX.min(group.anomalies.len()) as u64);
        @if unlisted > 0 {
            p.muted { (unlisted) " more " (group.name) " anomalies are in result.json." }
        }
        }
    }
}

fn op_table(located: &BTreeMap<u64, Located>, anomaly: &crate::run_result::Anomaly) -> Markup {
    let focus = Focus::of(anomaly);
    html! {
        table {
            tr { th { "op" } th { "time" } th { "process" } th { "type" } th { "f" } th { "what" } }
            @for index in anomaly.ops.iter().take(OPS_PER_ANOMALY_MAX) {
                @let row = evidence::op_row(located, *index, &focus);
                tr {
                    td { (row.index) } td { (seconds(row.time_ns)) } td { (row.process) }
                    td { (row.kind) } td { (row.f) } td { (row.what) }
                }
            }
        }
    }
}

fn figure(svg: Result<String, plot::PlotError>) -> Markup {
    match svg {
        Ok(svg) => html! { figure { (PreEscaped(strip_xml_declaration(&svg))) } },
        Err(error) => html! { p.muted { (error.to_string()) } },
    }
}

/// An inline `<svg>` may not carry an XML declaration.
fn strip_xml_declaration(svg: &str) -> &str {
    match svg.strip_prefix("<?xml") {
        Some(rest) => rest
            .find("?>")
            .map_or(svg, |end| rest[end + 2..].trim_start()),
        None => svg,
    }
}

fn faults(input: &ReportInput) -> Markup {
    let timeline = &input.timeline;
    html! {
        @if timeline.faults.is_empty() {
            p { "No fault was injected." }
        } @else {
            table {
                tr { th { "fault" } th { "nodes" } th { "started" } th { "lifted" } th { "detail" } }
                @for window in timeline.faults.iter().take(crate::markdown::FAULTS_LISTED_MAX) {
                    tr {
                        td { (window.fault) }
                        td { (window.nodes.join(", ")) }
                        td { (seconds(window.start_ns)) " (op " (window.start) ")" }
                        td {
                            @match window.stop {
                                Some(stop) => { (seconds(window.stop_ns)) " (op " (stop) ")" }
                                None => { "never" }
                            }
                        }
                        td { (clip(&window.detail, 160)) }
                    }
                }
            }
        }
        @if !timeline.markers.is_empty() {
            p {
                "Phases: "
                @for (i, marker) in timeline.markers.iter().take(crate::markdown::FAULTS_LISTED_MAX).enumerate() {
                    @if i > 0 { ", " }
                    (marker.name) " at " (seconds(marker.time_ns)) " (op " (marker.index) ")"
                }
                "."
            }
        }
        p { (crate::markdown::clock_note(timeline.workload_start_ns)) }
    }
}
