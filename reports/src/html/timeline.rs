//! The timeline: an inline SVG with a lane per client process (x is simulated time), each op a
//! bar from invoke to completion coloured by outcome (ok, fail, info, never completed), fault
//! windows shaded across every lane and labelled in a lane of their own, the heal and drain
//! marked, a lane of node events (elections, controller moves, ISR changes, truncations) as
//! ticks coloured by kind, and the ops that prove an anomaly outlined. Each bar carries a native tooltip and
//! the id `op-<invoke index>`, which the anomaly list's script highlights.
//!
//! Bounded: at most [`OPS_MAX`] bars (every anomalous op is kept; the others are thinned by a
//! fixed stride) and [`LANES_MAX`] lanes (lanes with anomalous ops first). Coordinates are
//! integer tenths of a pixel, printed without floats.

use crate::evidence::{self, Focus};
use crate::input::{End, Located, NodeMark, ReportInput, TimelineOp};
use crate::palette;
use crate::text::seconds;
use maud::{html, Markup};
use std::collections::{BTreeMap, BTreeSet};

pub const OPS_MAX: usize = 4000;
pub const LANES_MAX: usize = 48;
const FAULT_ROWS_MAX: usize = 6;
const MARKERS_MAX: usize = 50;
/// Node-event ticks drawn at most (the list in report.md and node-events.jsonl hold the rest).
pub const NODE_MARKS_MAX: usize = 2000;
const NODE_ROW_H: u64 = 16;

/// Drawing geometry, in pixels.
const LABEL_W: u64 = 96;
const PLOT_W: u64 = 1100;
const RIGHT_PAD: u64 = 24;
const TOP: u64 = 22;
const FAULT_ROW_H: u64 = 16;
const LANE_H: u64 = 16;
const BAR_H: u64 = 10;
const AXIS_H: u64 = 46;
/// Narrowest bar, in tenths of a pixel.
const BAR_W_MIN: u64 = 20;

/// Tenths of a pixel, printed as `123.4`.
struct Px(u64);

impl std::fmt::Display for Px {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.0 / 10, self.0 % 10)
    }
}

/// What the timeline drew and what it left out.
pub struct Drawn {
    pub svg: Markup,
    pub ops_total: usize,
    pub ops_drawn: usize,
    pub lanes_total: usize,
    pub lanes_drawn: usize,
}

/// History indexes of anomalous ops, mapped to their ops' invoke indexes.
pub fn anomalous_invokes(input: &ReportInput, located: &BTreeMap<u64, Located>) -> BTreeSet<u64> {
    input
        .result
        .anomalies
        .values()
        .flatten()
        .flat_map(|anomaly| anomaly.ops.iter())
        .filter_map(|index| match located.get(index) {
            Some(Located::Op(op, _)) => Some(op.invoke),
            _ => None,
        })
        .collect()
}

pub fn timeline(input: &ReportInput, located: &BTreeMap<u64, Located>) -> Drawn {
    let timeline = &input.timeline;
    let anomalous = anomalous_invokes(input, located);
    let end_ns = timeline.end_ns.max(1);
    let x = |time_ns: u64| {
        Px(LABEL_W * 10 + (time_ns as u128 * (PLOT_W * 10) as u128 / end_ns as u128) as u64)
    };

    // Lanes: anomalous processes first, then by id; drawn in id order.
    let mut processes: BTreeMap<u64, bool> = BTreeMap::new();
    for op in &timeline.ops {
        *processes.entry(op.process).or_default() |= anomalous.contains(&op.invoke);
    }
    let mut chosen: Vec<(bool, u64)> = processes.iter().map(|(p, a)| (!*a, *p)).collect();
    chosen.sort_unstable();
    let mut lanes: Vec<u64> = chosen.iter().take(LANES_MAX).map(|(_, p)| *p).collect();
    lanes.sort_unstable();
    let lane_of: BTreeMap<u64, u64> = lanes
        .iter()
        .enumerate()
        .map(|(i, p)| (*p, i as u64))
        .collect();

    // Ops: every anomalous one, and the rest thinned by a fixed stride.
    let in_lanes: Vec<&TimelineOp> = timeline
        .ops
        .iter()
        .filter(|op| lane_of.contains_key(&op.process))
        .collect();
    let budget = OPS_MAX.saturating_sub(anomalous.len()).max(1);
    let stride = in_lanes.len().div_ceil(budget).max(1);
    let mut drawn: Vec<&TimelineOp> = in_lanes
        .iter()
        .enumerate()
        .filter(|(i, op)| anomalous.contains(&op.invoke) || i % stride == 0)
        .map(|(_, op)| *op)
        .take(OPS_MAX)
        .collect();
    // Anomalous bars last, so their outline is on top.
    drawn.sort_by_key(|op| anomalous.contains(&op.invoke));

    let kinds = palette::fault_kinds(timeline);
    let fault_rows = fault_rows(input);
    let rows = fault_rows
        .iter()
        .copied()
        .max()
        .map_or(0, |r| r + 1)
        .min(FAULT_ROWS_MAX as u64);
    let marks: Vec<&NodeMark> = timeline
        .node_events
        .iter()
        .filter(|mark| evidence::is_cited(mark))
        .take(NODE_MARKS_MAX)
        .collect();
    let nodes_top = TOP + rows * FAULT_ROW_H;
    let nodes_h = if marks.is_empty() { 0 } else { NODE_ROW_H };
    let lanes_top = nodes_top + nodes_h + 4;
    let lanes_bottom = lanes_top + lanes.len() as u64 * LANE_H;
    let height = lanes_bottom + AXIS_H;
    let width = LABEL_W + PLOT_W + RIGHT_PAD;
    let ticks = ticks(end_ns);
    let no_focus = Focus::default();

    let svg = html! {
        svg.timeline xmlns="http://www.w3.org/2000/svg" width=(width) height=(height) viewBox={"0 0 " (width) " " (height)} {
            rect x="0" y="0" width=(width) height=(height) fill="#ffffff" {}
            @for (i, window) in timeline.faults.iter().enumerate() {
                @let colour = palette::hex(palette::fault_colour(&kinds, &window.fault));
                @let row = fault_rows.get(i).copied().unwrap_or(0).min(FAULT_ROWS_MAX as u64 - 1);
                @let x0 = x(window.start_ns);
                @let x1 = x(window.stop_ns.max(window.start_ns));
                @let w = Px((x1.0 - x0.0).max(BAR_W_MIN));
                rect x=(x0) y=(lanes_top) width=(w) height=(lanes_bottom - lanes_top) fill=(colour) fill-opacity="0.14" {}
                rect x=(x0) y=(TOP + row * FAULT_ROW_H) width=(w) height=(FAULT_ROW_H - 3) fill=(colour) fill-opacity="0.55" {
                    title { (evidence::window_words(window)) " — op " (window.start) }
                }
                text.fault-label x=(Px(x0.0 + 30)) y=(TOP + row * FAULT_ROW_H + 10) { (window.title()) }
            }
            @if rows > 0 {
                text.lane-label x="4" y=(TOP + 10) { "faults" }
            }
            @if !marks.is_empty() {
                text.lane-label x="4" y=(nodes_top + 12) { "node events" }
            }
            @for mark in &marks {
                @let mx = x(mark.time_ns);
                rect x=(mx) y=(nodes_top + 1) width=(Px(BAR_W_MIN)) height=(NODE_ROW_H - 3) fill=(node_colour(&mark.kind)) {
                    title { (seconds(mark.time_ns)) " · " (mark.node) " · " (mark.words) " — node event " (mark.index) }
                }
            }
            @for (i, process) in lanes.iter().enumerate() {
                @let y = lanes_top + i as u64 * LANE_H;
                @if i % 2 == 1 {
                    rect x=(LABEL_W) y=(y) width=(PLOT_W) height=(LANE_H) fill="#000" fill-opacity="0.03" {}
                }
                text.lane-label x="4" y=(y + 12) { "process " (process) }
            }
            @for op in &drawn {
                @let lane = lane_of.get(&op.process).copied().unwrap_or(0);
                @let x0 = x(op.start_ns);
                @let x1 = x(op.end_ns);
                @let bar = Px((x1.0 - x0.0).max(BAR_W_MIN));
                @let class = format!("o-{}{}", op.outcome.as_str(), if anomalous.contains(&op.invoke) { " anom" } else { "" });
                rect id={"op-" (op.invoke)} class=(class) x=(x0) y=(lanes_top + lane * LANE_H + (LANE_H - BAR_H) / 2) width=(bar) height=(BAR_H) {
                    title { (tooltip(op, located, &no_focus)) }
                }
            }
            @for (i, marker) in timeline.markers.iter().take(MARKERS_MAX).enumerate() {
                @let mx = x(marker.time_ns);
                line x1=(mx) x2=(mx) y1=(lanes_top - 4) y2=(lanes_bottom) stroke="#555" stroke-dasharray="4 3" {}
                line x1=(mx) x2=(mx) y1=(lanes_bottom) y2=(lanes_bottom + 20 + (i as u64 % 2) * 11) stroke="#555" stroke-dasharray="2 2" {}
                // Below the axis, alternating heights so neighbouring markers stay readable.
                text.tick x=(Px(mx.0 + 30)) y=(lanes_bottom + 28 + (i as u64 % 2) * 11) { (marker.name) }
            }
            line x1=(LABEL_W) x2=(LABEL_W + PLOT_W) y1=(lanes_bottom) y2=(lanes_bottom) stroke="#888" {}
            @for tick in &ticks {
                @let tx = x(*tick);
                line x1=(tx) x2=(tx) y1=(lanes_bottom) y2=(lanes_bottom + 4) stroke="#888" {}
                text.tick x=(tx) y=(lanes_bottom + 16) text-anchor="middle" { (tick_label(*tick)) }
            }
        }
    };
    Drawn {
        svg,
        ops_total: timeline.ops.len(),
        ops_drawn: drawn.len(),
        lanes_total: processes.len(),
        lanes_drawn: lanes.len(),
    }
}

/// A node event's colour by kind: elections stand out, truncations warn.
fn node_colour(kind: &str) -> &'static str {
    match kind {
        "election" => "#1f77b4",
        "controller" => "#9467bd",
        "truncation" => "#d62728",
        "isr" => "#ff7f0e",
        "generation" => "#2ca02c",
        _ => "#7f7f7f",
    }
}

fn tooltip(op: &TimelineOp, located: &BTreeMap<u64, Located>, focus: &Focus) -> String {
    let index = op.completion.unwrap_or(op.invoke);
    let row = evidence::op_row(located, index, focus);
    let what = match located.get(&index) {
        Some(Located::Op(_, End::Invoke)) => "never completed".to_string(),
        _ => row.what,
    };
    format!(
        "op {} · process {} · {} {} · {}–{} · {}",
        op.invoke,
        op.process,
        op.f,
        op.outcome.as_str(),
        seconds(op.start_ns),
        seconds(op.end_ns),
        crate::text::clip(&what, 240)
    )
}

/// A row per fault window so overlapping windows do not cover each other's labels.
fn fault_rows(input: &ReportInput) -> Vec<u64> {
    let mut row_ends: Vec<u64> = Vec::new();
    input
        .timeline
        .faults
        .iter()
        .map(|window| {
            let free = row_ends.iter().position(|end| *end <= window.start_ns);
            let row = free.unwrap_or(row_ends.len());
            if row == row_ends.len() {
                row_ends.push(0);
            }
            row_ends[row] = window.stop_ns.max(window.start_ns + 1);
            row as u64
        })
        .collect()
}

/// `1 s`, `1.5 s`, `0.25 s`: seconds without trailing zeros.
fn tick_label(time_ns: u64) -> String {
    let ms = time_ns / 1_000_000;
    let fraction = format!("{:03}", ms % 1000);
    let fraction = fraction.trim_end_matches('0');
    if fraction.is_empty() {
        format!("{} s", ms / 1000)
    } else {
        format!("{}.{fraction} s", ms / 1000)
    }
}

/// Round tick times: a 1-2-5 step giving at most 12 ticks.
fn ticks(end_ns: u64) -> Vec<u64> {
    let mut step = 1_000_000u64;
    'search: loop {
        for factor in [1, 2, 5] {
            if end_ns / (step * factor) <= 12 {
                step *= factor;
                break 'search;
            }
        }
        step *= 10;
    }
    (0..=end_ns / step).map(|i| i * step).collect()
}
