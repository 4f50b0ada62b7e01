//! What the checker benches share: how many ops to generate, and how a rate is printed.

use std::time::Duration;

/// Ops in the synthetic history: `FAULTLINE_BENCH_OPS`, else 10^6.
pub fn target_ops() -> usize {
    std::env::var("FAULTLINE_BENCH_OPS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(1_000_000)
}

/// `ops` done in `took`, as ops per second and seconds.
pub fn rate(ops: usize, took: Duration) -> String {
    format!(
        "{:>10.0} ops/s  ({:.3} s)",
        ops as f64 / took.as_secs_f64(),
        took.as_secs_f64()
    )
}
