//! How fast `coordinator-linearizable` judges a long history: the valid synthetic history
//! (deterministic, seeded) of 1,000,000 ops by default with 256 znodes and as many coordinator
//! clients creating, reading and conditionally setting them, with overlapping ops and unknown
//! outcomes (`history::synthetic`) — then the check over it; prints ops per second for the check alone
//! and for parse + check (JSON Lines bytes to verdict, what `faultline check` does). Then the
//! same history with one read planted a version back near its end must be `invalid`.
//!
//! `cargo bench -p faultline --bench coordinator_check` (`FAULTLINE_BENCH_OPS` for another size).

// A benchmark measures wall time; it never runs inside a simulation.
#![allow(clippy::disallowed_methods)]

use common::rate;
use harness::checker::{CheckOptions, Checker, CoordinatorLinearizable, Verdict};
use harness::history::synthetic::{plant_stale_read, synthetic_history, SyntheticOptions};
use harness::history::{parse_history, write_history, F};
use std::time::Instant;

mod common;

/// Znodes, each with its coordinator client, in the synthetic history.
const ZNODES: usize = 256;

fn main() {
    let target: usize = common::target_ops();
    let mut ops = synthetic_history(&SyntheticOptions {
        ops: target,
        seed: 42,
        znodes: ZNODES,
        ..SyntheticOptions::default()
    });
    let count = ops.len();
    let mut bytes = Vec::with_capacity(count * 100);
    write_history(&ops, &mut bytes).expect("writing to memory");

    let started = Instant::now();
    let history = parse_history(bytes.as_slice(), "bench.jsonl").expect("reads back");
    let parsed = started.elapsed();
    let started = Instant::now();
    let result = CoordinatorLinearizable.check(&history, &CheckOptions::default());
    let checked = started.elapsed();
    assert_eq!(result.verdict, Verdict::Valid, "{:?}", result.anomalies);
    let zk_ops = ops
        .iter()
        .filter(|op| matches!(op.f, F::ZkCreate | F::ZkRead | F::ZkWrite))
        .count();
    println!("coordinator-linearizable over a valid history of {count} ops ({zk_ops} zk ops):");
    println!("  check alone      {}", rate(count, checked));
    println!("  parse + check    {}", rate(count, parsed + checked));

    // Plant a read that went back: the last ok read of a znode returns the version below.
    plant_stale_read(&mut ops);
    let history = harness::history::History::from_ops(ops).expect("still a well-formed history");
    let started = Instant::now();
    let result = CoordinatorLinearizable.check(&history, &CheckOptions::default());
    let checked = started.elapsed();
    assert_eq!(result.verdict, Verdict::Invalid);
    assert!(result.count("zk-lost-write") + result.count("zk-stale-read") >= 1);
    println!(
        "  one read planted a version back: {} ({} zk-lost-write, {} zk-stale-read), {}",
        result.verdict,
        result.count("zk-lost-write"),
        result.count("zk-stale-read"),
        rate(count, checked)
    );
}
