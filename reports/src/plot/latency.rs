//! `latency.svg`: how long acknowledged sends took, per time bucket (median and maximum), by
//! the time they were acknowledged. A gap in the lines is a bucket with no acknowledgement:
//! the system was not accepting writes.

use super::{bucket_ns, ns_to_s, Frame, PlotError, Series};
use crate::input::{Outcome, ReportInput};
use plotters::prelude::*;

const PLOT: &str = "latency";

/// The median and maximum acknowledgement latency (ms) of each bucket; `None` when empty.
pub fn latency_buckets(input: &ReportInput) -> (u64, Vec<Option<(f64, f64)>>) {
    let timeline = &input.timeline;
    let bucket = bucket_ns(timeline.end_ns);
    let count = timeline.end_ns / bucket + 1;
    let mut latencies: Vec<Vec<u64>> = vec![Vec::new(); count as usize];
    for op in &timeline.ops {
        if op.outcome == Outcome::Ok && !op.sends.is_empty() {
            if let Some(slot) = latencies.get_mut((op.end_ns / bucket) as usize) {
                slot.push(op.end_ns.saturating_sub(op.start_ns));
            }
        }
    }
    let buckets = latencies
        .into_iter()
        .map(|mut slot| {
            slot.sort_unstable();
            let median = *slot.get(slot.len() / 2)?;
            let max = *slot.last()?;
            Some((median as f64 / 1e6, max as f64 / 1e6))
        })
        .collect();
    (bucket, buckets)
}

/// `latency.svg`'s text.
pub fn render_latency_svg(input: &ReportInput) -> Result<String, PlotError> {
    let (bucket, buckets) = latency_buckets(input);
    let highest = buckets
        .iter()
        .flatten()
        .map(|(_, max)| *max)
        .fold(0.0f64, f64::max);
    let y_max = (highest * 1.15).max(1.0);
    let x_max = ns_to_s(input.timeline.end_ns.max(bucket));
    let middle = |i: usize| ns_to_s(i as u64 * bucket + bucket / 2);
    let medians: Vec<(f64, Option<f64>)> = buckets
        .iter()
        .enumerate()
        .map(|(i, b)| (middle(i), b.map(|b| b.0)))
        .collect();
    let maxima: Vec<(f64, Option<f64>)> = buckets
        .iter()
        .enumerate()
        .map(|(i, b)| (middle(i), b.map(|b| b.1)))
        .collect();

    super::render(Frame {
        plot: PLOT,
        caption: format!(
            "Acknowledgement latency of sends ({} buckets): {} seed {}",
            crate::text::duration(bucket),
            input.result.scenario,
            input.result.seed
        ),
        y_desc: "latency (ms)",
        x_max,
        y_max,
        timeline: &input.timeline,
        series: vec![
            Series {
                points: &maxima,
                style: RGBColor(192, 57, 43).stroke_width(1),
                label: "maximum".to_owned(),
            },
            Series {
                points: &medians,
                style: RGBColor(41, 98, 255).stroke_width(2),
                label: "median".to_owned(),
            },
        ],
        moments: Vec::new(),
    })
}
