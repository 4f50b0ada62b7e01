//! SVG plots of one run, drawn with plotters' SVG backend: acknowledgement latency over time
//! (`latency.svg`), throughput over time (`throughput.svg`) and each consumer group's backlog
//! (`backlog.svg`), with every fault window shaded in its kind's colour and the heal marked.
//!
//! Byte-identical for equal input: plotters' SVG backend writes no ids, dates or random
//! numbers, and without a font feature it sizes text by a fixed estimate instead of reading
//! system fonts. Both plots aggregate into at most [`BUCKETS_MAX`] time buckets, so their size
//! does not grow with the history.

mod backlog;
mod latency;
mod throughput;

pub use backlog::render_backlog_svg;
pub use latency::render_latency_svg;
pub use throughput::render_throughput_svg;

use crate::input::Timeline;
use crate::palette;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

/// One line of a plot.
pub(crate) struct Series<'p> {
    pub points: &'p [(f64, Option<f64>)],
    pub style: ShapeStyle,
    pub label: String,
}

/// Everything that differs between the plots; [`render`] draws the rest the same way for all.
pub(crate) struct Frame<'p> {
    pub plot: &'static str,
    pub caption: String,
    pub y_desc: &'static str,
    pub x_max: f64,
    pub y_max: f64,
    pub timeline: &'p Timeline,
    /// Drawn in order, so the last lies on top.
    pub series: Vec<Series<'p>>,
    /// Moments marked with a thin vertical line (e.g. members joining), in seconds.
    pub moments: Vec<f64>,
}

/// Draws a plot: caption, axes over simulated seconds, shaded fault windows, the series, and
/// the legend.
pub(crate) fn render(frame: Frame) -> Result<String, PlotError> {
    let plot = frame.plot;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(failed(plot))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(frame.caption, ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..frame.x_max, 0f64..frame.y_max)
            .map_err(failed(plot))?;
        chart
            .configure_mesh()
            .x_desc("simulated time (s)")
            .y_desc(frame.y_desc)
            .x_label_formatter(&|x| format!("{x:.1}"))
            .y_label_formatter(&|y| format!("{y:.0}"))
            .light_line_style(RGBColor(240, 240, 240))
            .draw()
            .map_err(failed(plot))?;
        draw_faults(&mut chart, frame.timeline, frame.y_max, plot)?;
        for moment in &frame.moments {
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(*moment, 0.0), (*moment, frame.y_max)],
                    RGBColor(90, 90, 90).stroke_width(1),
                )))
                .map_err(failed(plot))?;
        }
        for series in &frame.series {
            draw_broken_line(&mut chart, series.points, series.style, &series.label, plot)?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(180, 180, 180))
            .position(SeriesLabelPosition::UpperRight)
            .draw()
            .map_err(failed(plot))?;
        root.present().map_err(failed(plot))?;
    }
    Ok(svg)
}

/// Time buckets per plot, at most.
pub const BUCKETS_MAX: u64 = 200;
/// Plot size in pixels.
pub const SIZE: (u32, u32) = (900, 360);

/// plotters could not draw (in practice never: the backend writes to a string).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cannot draw the {plot} plot: {reason}")]
pub struct PlotError {
    pub plot: &'static str,
    pub reason: String,
}

pub(crate) fn failed<E: std::fmt::Debug>(plot: &'static str) -> impl Fn(E) -> PlotError {
    move |error| PlotError {
        plot,
        reason: format!("{error:?}"),
    }
}

/// The smallest 1-2-5 step of milliseconds that splits `end_ns` into at most
/// [`BUCKETS_MAX`] buckets (at least 10 ms).
pub fn bucket_ns(end_ns: u64) -> u64 {
    let wanted = end_ns.div_ceil(BUCKETS_MAX).max(10_000_000);
    let mut step = 1_000_000u64;
    loop {
        for factor in [1, 2, 5] {
            if step * factor >= wanted {
                return step * factor;
            }
        }
        step *= 10;
    }
}

pub(crate) fn ns_to_s(ns: u64) -> f64 {
    ns as f64 / 1e9
}

type Chart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Shades every fault window (one legend entry per kind) and draws the heal as a grey line.
pub(crate) fn draw_faults(
    chart: &mut Chart,
    timeline: &Timeline,
    y_max: f64,
    plot: &'static str,
) -> Result<(), PlotError> {
    let kinds = palette::fault_kinds(timeline);
    for kind in &kinds {
        let (r, g, b) = palette::fault_colour(&kinds, kind);
        let colour = RGBColor(r, g, b);
        let windows: Vec<_> = timeline
            .faults
            .iter()
            .filter(|window| window.fault == *kind)
            .map(|window| {
                Rectangle::new(
                    [
                        (ns_to_s(window.start_ns), 0.0),
                        (ns_to_s(window.stop_ns.max(window.start_ns)), y_max),
                    ],
                    colour.mix(0.18).filled(),
                )
            })
            .collect();
        chart
            .draw_series(windows)
            .map_err(failed(plot))?
            .label(kind.to_string())
            .legend(move |(x, y)| {
                Rectangle::new([(x, y - 5), (x + 12, y + 5)], colour.mix(0.4).filled())
            });
    }
    for marker in timeline.markers.iter().filter(|m| m.name == "heal") {
        let x = ns_to_s(marker.time_ns);
        chart
            .draw_series(LineSeries::new(
                [(x, 0.0), (x, y_max)],
                RGBColor(120, 120, 120).stroke_width(1),
            ))
            .map_err(failed(plot))?;
    }
    Ok(())
}

/// Draws consecutive points as lines, broken where `None` marks an empty bucket.
pub(crate) fn draw_broken_line(
    chart: &mut Chart,
    points: &[(f64, Option<f64>)],
    style: ShapeStyle,
    label: &str,
    plot: &'static str,
) -> Result<(), PlotError> {
    let mut segments: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
    for (x, y) in points {
        match (y, segments.last_mut()) {
            (Some(y), Some(segment)) => segment.push((*x, *y)),
            (None, Some(segment)) if !segment.is_empty() => segments.push(Vec::new()),
            _ => {}
        }
    }
    let mut labelled = false;
    for segment in segments.into_iter().filter(|s| !s.is_empty()) {
        // A lone point gets a dot, so it does not vanish.
        if segment.len() == 1 {
            chart
                .draw_series(segment.iter().map(|p| Circle::new(*p, 2, style.filled())))
                .map_err(failed(plot))?;
        }
        let series = chart
            .draw_series(LineSeries::new(segment, style))
            .map_err(failed(plot))?;
        if !labelled {
            series
                .label(label.to_string())
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 12, y)], style));
            labelled = true;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_round_and_bounded() {
        assert_eq!(bucket_ns(10_787_000_000), 100_000_000);
        assert_eq!(bucket_ns(0), 10_000_000);
        assert_eq!(bucket_ns(1_000_000_000), 10_000_000);
        assert_eq!(bucket_ns(3_600_000_000_000), 20_000_000_000);
        for end in [1u64, 999_999_999, 7_000_000_001, 123_456_789_012] {
            assert!(end.div_ceil(bucket_ns(end)) <= BUCKETS_MAX, "{end}");
        }
    }
}
