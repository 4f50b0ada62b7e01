//! How fast the checkers judge a history: a valid synthetic history of 1,000,000 ops
//! (deterministic, seeded), then every check over it; prints history ops per second for
//! the checks alone, for each stage around them, and end to end (`parse+all checks`: JSON
//! Lines bytes to verdicts, what `faultline check` does). Targets (issue 16): parse + all
//! checks at least 2M ops/s on one core.
//!
//! `cargo bench -p faultline --bench checkers` (set `FAULTLINE_BENCH_OPS` for another size,
//! and `FAULTLINE_BENCH_WRITE=path` to keep the JSON Lines, e.g. for measuring the peak memory
//! of `faultline check path` with `/usr/bin/time -v`; with `FAULTLINE_BENCH_WRITE_ONLY=1` it
//! stops once the file is written, which is how a 10^7-op history is made without holding it
//! in memory several times over).

// A benchmark measures wall time; it never runs inside a simulation.
#![allow(clippy::disallowed_methods)]

use harness::checker::{self, CheckOptions, Verdict};
use harness::history::synthetic::{synthetic_history, SyntheticOptions};
use harness::history::{parse_history, write_history, History};
use std::time::{Duration, Instant};

fn rate(ops: usize, took: Duration) -> String {
    format!(
        "{:>10.0} ops/s  ({:.3} s)",
        ops as f64 / took.as_secs_f64(),
        took.as_secs_f64()
    )
}

fn main() {
    let target: usize = std::env::var("FAULTLINE_BENCH_OPS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(1_000_000);
    let options = SyntheticOptions {
        ops: target,
        seed: 42,
        ..SyntheticOptions::default()
    };

    let started = Instant::now();
    let ops = synthetic_history(&options);
    let generated = started.elapsed();
    let count = ops.len();

    if let Ok(path) = std::env::var("FAULTLINE_BENCH_WRITE") {
        let file = std::fs::File::create(&path).expect("creating the history file");
        let mut out = std::io::BufWriter::new(file);
        write_history(&ops, &mut out).expect("writing the history");
        std::io::Write::flush(&mut out).expect("writing the history");
        println!("history: {count} ops written to {path}");
        if std::env::var_os("FAULTLINE_BENCH_WRITE_ONLY").is_some() {
            return;
        }
    }

    let mut bytes = Vec::with_capacity(count * 120);
    let started = Instant::now();
    write_history(&ops, &mut bytes).expect("writing to memory");
    let written = started.elapsed();

    let started = Instant::now();
    let history = History::from_ops(ops).expect("the synthetic history is valid");
    let indexed = started.elapsed();

    let started = Instant::now();
    let cpu_started = cpu_ns();
    let parsed = parse_history(bytes.as_slice(), "bench.jsonl").expect("reads back");
    let read = started.elapsed();
    assert_eq!(parsed.len(), count);
    let started = Instant::now();
    let checked = checker::run_checks(
        &parsed,
        &checker::applicable(&parsed),
        &CheckOptions::default(),
    );
    let end_to_end = read + started.elapsed();
    let end_to_end_cpu = cpu_started
        .zip(cpu_ns())
        .map(|(before, after)| Duration::from_nanos(after - before));
    assert_eq!(checked.verdict, Verdict::Valid);
    drop(parsed);

    let checkers = checker::all();
    let opts = CheckOptions::default();
    let mut per_check = Vec::new();
    let started = Instant::now();
    for check in &checkers {
        let one = Instant::now();
        let result = check.check(&history, &opts);
        per_check.push((check.name(), one.elapsed()));
        assert_eq!(
            result.verdict,
            Verdict::Valid,
            "{}: {:#?}",
            check.name(),
            result.anomalies
        );
    }
    let checked = started.elapsed();

    println!(
        "history: {count} ops, {} bytes of JSON Lines, digest {}",
        bytes.len(),
        history.digest()
    );
    println!("generate           {}", rate(count, generated));
    println!("write jsonl        {}", rate(count, written));
    println!("parse+validate     {}", rate(count, read));
    println!("validate+index     {}", rate(count, indexed));
    for (name, took) in &per_check {
        println!("  {name:<24} {}", rate(count, *took));
    }
    println!("all checks         {}", rate(count, checked));
    println!("checks (incl. index) {}", rate(count, checked + indexed));
    println!("parse+all checks   {}", rate(count, end_to_end));
    // On a shared machine the wall clock counts other people's work too; the thread's CPU
    // time is what one core spent on this.
    if let Some(cpu) = end_to_end_cpu {
        println!("parse+all checks   {} of CPU time", rate(count, cpu));
    }
}

/// This thread's CPU time so far (Linux: `/proc/thread-self/schedstat`, nanoseconds on a
/// CPU); `None` where that file does not exist.
fn cpu_ns() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().next()?.parse().ok()
}
