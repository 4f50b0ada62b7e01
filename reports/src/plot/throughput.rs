//! `throughput.svg`: sends per second over time, per time bucket: those acknowledged, and
//! those that failed or whose outcome is unknown. A drop to zero under a fault window is the
//! picture of unavailability.

use super::{bucket_ns, ns_to_s, Frame, PlotError, Series};
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

    super::render(Frame {
        plot: PLOT,
        caption: format!(
            "Sends per second ({} buckets): {} seed {}",
            crate::text::duration(bucket),
            input.result.scenario,
            input.result.seed
        ),
        y_desc: "sends / s",
        x_max,
        y_max,
        timeline: &input.timeline,
        series: vec![
            Series {
                points: &failed_or_unknown,
                style: RGBColor(192, 57, 43).stroke_width(1),
                label: "failed or unknown".to_owned(),
            },
            Series {
                points: &acked,
                style: RGBColor(39, 174, 96).stroke_width(2),
                label: "acknowledged".to_owned(),
            },
        ],
        moments: Vec::new(),
    })
}
