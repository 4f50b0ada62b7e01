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
//! in memory several times over). `FAULTLINE_BENCH_READ=path` instead judges the history at
//! `path` as `faultline check` does, and prints the CPU rate and the peak resident memory after
//! reading it and after the checks (Linux: `VmHWM` of `/proc/self/status`), and what stays
//! resident once read (`VmRSS`).
//!
//! Either way the end-to-end run is then repeated (`FAULTLINE_BENCH_REPEAT` more times, 4
//! unless set) and the median and fastest of all the runs printed: on a shared machine one
//! run can take a third longer than the next for reasons of its neighbours', not the code's.

// A benchmark measures wall time; it never runs inside a simulation.
#![allow(clippy::disallowed_methods)]

use common::rate;
use harness::checker::{self, CheckOptions, Verdict};
use harness::history::synthetic::{synthetic_history, SyntheticOptions};
use harness::history::{parse_history, read_history, write_history, History};
use std::time::{Duration, Instant};

mod common;

fn main() {
    if let Ok(path) = std::env::var("FAULTLINE_BENCH_READ") {
        judge_file(std::path::Path::new(&path));
        return;
    }
    let target: usize = common::target_ops();
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

    // The checks that apply, as `faultline check` runs them: one with nothing to judge (the
    // coordinator check, without `zk-*` ops) says unknown, not valid.
    let checkers = checker::applicable(&history);
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
        print_repeats(count, cpu, || {
            let parsed = parse_history(bytes.as_slice(), "bench.jsonl").expect("reads back");
            let checked = checker::run_checks(
                &parsed,
                &checker::applicable(&parsed),
                &CheckOptions::default(),
            );
            assert_eq!(checked.verdict, Verdict::Valid);
        });
    }
}

/// Runs `once` (parse and all checks) [`repeats`] more times and prints the median and the
/// fastest CPU time of those runs and the `first`.
fn print_repeats(count: usize, first: Duration, mut once: impl FnMut()) {
    let mut runs = vec![first];
    for _ in 0..repeats() {
        let started = cpu_ns();
        once();
        let Some((started, ended)) = started.zip(cpu_ns()) else {
            return;
        };
        runs.push(Duration::from_nanos(ended - started));
    }
    runs.sort_unstable();
    println!(
        "parse+all checks   {} of CPU time, median of {} runs",
        rate(count, runs[runs.len() / 2]),
        runs.len()
    );
    println!(
        "parse+all checks   {} of CPU time, fastest of {} runs",
        rate(count, runs[0]),
        runs.len()
    );
}

/// End-to-end runs after the first: `FAULTLINE_BENCH_REPEAT`, else 4.
fn repeats() -> usize {
    std::env::var("FAULTLINE_BENCH_REPEAT")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(4)
}

/// Reads and judges the history at `path` (what `faultline check` does), printing the CPU rate
/// and the peak memory at each stage: the history's own, then with the checks' temporaries.
fn judge_file(path: &std::path::Path) {
    let cpu_started = cpu_ns();
    let history = read_history(path).expect("a valid history");
    let read_peak = peak_rss_kb();
    let read_held = status_kb("VmRSS:");
    let cpu_read = cpu_ns();
    // Each check alone, as `run_checks` runs them, with its CPU time and its own peak: the
    // peak is reset before it (Linux: `5` to `/proc/self/clear_refs`), so what it adds over
    // the resident history is its temporaries.
    let checkers = checker::applicable(&history);
    let opts = CheckOptions::default();
    let mut verdict = None;
    let mut checks_peak = read_peak;
    let mut per_check = Vec::new();
    for check in &checkers {
        let held = status_kb("VmRSS:");
        let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
        let started = cpu_ns();
        let result = check.check(&history, &opts);
        let took = started.zip(cpu_ns()).map(|(from, to)| to - from);
        let peak = peak_rss_kb();
        checks_peak = checks_peak.max(peak);
        let added = held
            .zip(peak)
            .filter(|_| reset)
            .map(|(held, peak)| peak.saturating_sub(held));
        per_check.push((check.name(), took, added));
        verdict =
            Some(verdict.map_or(result.verdict, |worst: Verdict| worst.worst(result.verdict)));
    }
    let cpu_checked = cpu_ns();
    let count = history.len();
    println!("history: {count} ops read from {}", path.display());
    let per_op = |kb: u64| kb as f64 * 1024.0 / count.max(1) as f64;
    for (name, took, added) in per_check {
        let took = took.map_or("unknown".to_string(), |ns| {
            format!("{:.3} s", ns as f64 / 1e9)
        });
        let added = added.map_or("unknown".to_string(), |kb| {
            format!("{kb} KB ({:.1} bytes/op)", per_op(kb))
        });
        println!("  {name:<24} {took} of CPU time, adds {added} at its peak");
    }
    let cpu = |from: Option<u64>, to: Option<u64>| {
        from.zip(to)
            .map(|(from, to)| rate(count, Duration::from_nanos(to - from)))
            .unwrap_or_else(|| "unknown".to_string())
    };
    println!(
        "parse+validate     {} of CPU time",
        cpu(cpu_started, cpu_read)
    );
    println!(
        "all checks         {} of CPU time",
        cpu(cpu_read, cpu_checked)
    );
    println!(
        "parse+all checks   {} of CPU time",
        cpu(cpu_started, cpu_checked)
    );
    if let (Some(read), Some(peak)) = (read_peak, checks_peak) {
        println!(
            "peak memory after reading   {read} KB ({:.0} bytes/op)",
            per_op(read)
        );
        if let Some(held) = read_held {
            // Below the peak by what reading needed only for a while (the log's build).
            println!(
                "held once read              {held} KB ({:.0} bytes/op)",
                per_op(held)
            );
        }
        println!(
            "peak memory after checks    {peak} KB ({:.0} bytes/op)",
            per_op(peak)
        );
    }
    let parts = history.held_bytes();
    let total: usize = parts.iter().map(|(_, bytes)| bytes).sum();
    println!(
        "the history's parts ({:.1} bytes/op in all):",
        total as f64 / count.max(1) as f64
    );
    for (part, bytes) in parts {
        println!(
            "  {part:<18} {:>6.1} bytes/op",
            bytes as f64 / count.max(1) as f64
        );
    }
    println!("verdict: {:?}", verdict.unwrap_or(Verdict::Unknown));
    // The figures above are the first run's; the history goes before it is read again.
    drop(history);
    if let Some((started, checked)) = cpu_started.zip(cpu_checked) {
        print_repeats(count, Duration::from_nanos(checked - started), || {
            let again = read_history(path).expect("a valid history");
            checker::run_checks(
                &again,
                &checker::applicable(&again),
                &CheckOptions::default(),
            );
        });
    }
}

/// The process' peak resident memory so far, in KB (Linux: `VmHWM` of `/proc/self/status`);
/// `None` where that file does not exist.
fn peak_rss_kb() -> Option<u64> {
    status_kb("VmHWM:")
}

/// A figure in KB of `/proc/self/status` (Linux), by its field name with the colon.
fn status_kb(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// This thread's CPU time so far (Linux: `/proc/thread-self/schedstat`, nanoseconds on a
/// CPU); `None` where that file does not exist.
fn cpu_ns() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().next()?.parse().ok()
}
