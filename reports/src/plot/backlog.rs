//! `backlog.svg`: each consumer group's backlog (acknowledged messages it has not committed
//! yet) over time, with a thin line where members joined. A backlog that climbs while the group
//! is too small and drains after a scale-out is the picture this plot exists for.

use super::{ns_to_s, Frame, PlotError, Series};
use crate::input::ReportInput;
use plotters::prelude::*;

const PLOT: &str = "backlog";

/// Line colours, one per group in name order (cycled).
const COLOURS: [RGBColor; 4] = [
    RGBColor(41, 128, 185),
    RGBColor(142, 68, 173),
    RGBColor(211, 84, 0),
    RGBColor(22, 160, 133),
];

/// `backlog.svg`'s text; `None` when the run had no consumer group.
pub fn render_backlog_svg(input: &ReportInput) -> Option<Result<String, PlotError>> {
    if input.backlog.is_empty() {
        return None;
    }
    let points: Vec<Vec<(f64, Option<f64>)>> = input
        .backlog
        .iter()
        .map(|backlog| {
            backlog
                .points
                .iter()
                .map(|(time, lag)| (ns_to_s(*time), Some(*lag as f64)))
                .collect()
        })
        .collect();
    let highest = input
        .backlog
        .iter()
        .flat_map(|backlog| backlog.points.iter().map(|(_, lag)| *lag))
        .max()
        .unwrap_or(0);
    let y_max = (highest as f64 * 1.15).max(1.0);
    let x_max = ns_to_s(input.timeline.end_ns.max(1));
    let series = input
        .backlog
        .iter()
        .zip(&points)
        .enumerate()
        .map(|(i, (backlog, points))| Series {
            points,
            style: COLOURS[i % COLOURS.len()].stroke_width(2),
            label: format!("backlog of {}", backlog.group),
        })
        .collect();
    let groups: Vec<&str> = input.backlog.iter().map(|b| b.group.as_str()).collect();
    let moments = input
        .backlog
        .iter()
        .flat_map(|backlog| backlog.joins_ns.iter().map(|time| ns_to_s(*time)))
        .collect();
    Some(super::render(Frame {
        plot: PLOT,
        caption: format!(
            "Backlog of {} (grey lines: members join): {} seed {}",
            groups.join(", "),
            input.result.scenario,
            input.result.seed
        ),
        y_desc: "messages",
        x_max,
        y_max,
        timeline: &input.timeline,
        series,
        moments,
    }))
}
