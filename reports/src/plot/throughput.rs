//! `throughput.svg`: sends per second over time, per time bucket: those acknowledged, and
//! those that failed or whose outcome is unknown. A drop to zero under a fault window is the
//! picture of unavailability.

use super::{bucket_ns, draw_broken_line, draw_faults, failed, ns_to_s, PlotError, SIZE};
use crate::input::{Outcome, ReportInput};
use plotters::prelude::*;

const PLOT: &str = "throughput";

/// Per bucket: (acknowledged, failed or unknown) send micro-ops.
pub fn throughput_buckets(input: &ReportInput) -> (u64, Vec<(u64, u64)>) {
    let timeline = &input.timeline;
    let bucket = bucket_ns(timeline.end_ns);
    let count = timeline.end_ns / bucket + 1;
    let mut buckets = vec![(0u64, 0u64); count as usize];
    for op in &timeline.ops {
        let Some(slot) = buckets.get_mut((op.end_ns / bucket) as usize) else {
            continue;
        };
        let sends = op.sends.len() as u64;
        match op.outcome {
            Outcome::Ok => slot.0 += sends,
            Outcome::Fail | Outcome::Info | Outcome::Open => slot.1 += sends,
        }
    }
    (bucket, buckets)
}

/// `throughput.svg`'s text.
pub fn render_throughput_svg(input: &ReportInput) -> Result<String, PlotError> {
    let (bucket, buckets) = throughput_buckets(input);
    let per_second = |n: u64| n as f64 * 1e9 / bucket as f64;
    let middle = |i: usize| ns_to_s(i as u64 * bucket + bucket / 2);
    let acked: Vec<(f64, Option<f64>)> = buckets
        .iter()
        .enumerate()
        .map(|(i, b)| (middle(i), Some(per_second(b.0))))
        .collect();
    let failed_or_unknown: Vec<(f64, Option<f64>)> = buckets
        .iter()
        .enumerate()
        .map(|(i, b)| (middle(i), Some(per_second(b.1))))
        .collect();
    let highest = buckets
        .iter()
        .map(|b| per_second(b.0.max(b.1)))
        .fold(0.0f64, f64::max);
    let y_max = (highest * 1.15).max(1.0);
    let x_max = ns_to_s(input.timeline.end_ns.max(bucket));

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(failed(PLOT))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!(
                    "Sends per second ({} buckets): {} seed {}",
                    crate::text::duration(bucket),
                    input.result.scenario,
                    input.result.seed
                ),
                ("sans-serif", 16),
            )
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..x_max, 0f64..y_max)
            .map_err(failed(PLOT))?;
        chart
            .configure_mesh()
            .x_desc("simulated time (s)")
            .y_desc("sends / s")
            .x_label_formatter(&|x| format!("{x:.1}"))
            .y_label_formatter(&|y| format!("{y:.0}"))
            .light_line_style(RGBColor(240, 240, 240))
            .draw()
            .map_err(failed(PLOT))?;
        draw_faults(&mut chart, &input.timeline, y_max, PLOT)?;
        draw_broken_line(
            &mut chart,
            &failed_or_unknown,
            RGBColor(192, 57, 43).stroke_width(1),
            "failed or unknown",
            PLOT,
        )?;
        draw_broken_line(
            &mut chart,
            &acked,
            RGBColor(39, 174, 96).stroke_width(2),
            "acknowledged",
            PLOT,
        )?;
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(180, 180, 180))
            .position(SeriesLabelPosition::UpperRight)
            .draw()
            .map_err(failed(PLOT))?;
        root.present().map_err(failed(PLOT))?;
    }
    Ok(svg)
}
