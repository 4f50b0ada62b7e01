//! `faultline bench produce`: acknowledgement throughput and latency of replicated, fsynced
//! produce on this machine, in one run: the disk's own sequential write+fsync limit (measured
//! in the same directory before and after the systems run; the faster counts), faultline's
//! broker (one `serve coordinator` and three `serve broker` processes on 127.0.0.1, acks=all,
//! fsync always, RF 3) and NATS
//! JetStream (three `nats-server` processes on 127.0.0.1, R3 streams, `sync_interval: always`),
//! driven by the same producers: `producers` clients, each keeping `in_flight` records
//! outstanding — throughput comes from batch size, latency from concurrency. Records are 1 KiB.
//! Real-mode entry point: wall-clock time is what it measures.
//!
//! A benchmark of a queue that loses acknowledged records measures nothing, so each system's
//! run ends by reading every partition back and reporting each acknowledged record it did not
//! find (exit 1); a system whose run breaks off also exits 1 (a system left out, or whose server
//! is not installed, is skipped and says why). Every server and the temporary directory go on every exit path: a normal
//! return or an error (the clusters' and the directory's `Drop`), SIGINT or SIGTERM
//! (`interrupt`), and our own death (the servers' parent-death signal).

use crate::bench_load::{BenchSystem, Measured, ProduceBench, RecordId, RECORD_BYTES};
use crate::{bench_disk, bench_faultline, bench_nats};
use anyhow::Context;
use harness::interrupt::Interrupts;
use std::process::ExitCode;
use std::time::Duration;

/// Missing records listed by name; the rest are counted.
const MISSING_LISTED_MAX: usize = 10;

/// What became of one system's row.
enum Row {
    Ran(Measured),
    /// Not run, and why (left out, or its server is not installed).
    Skipped(String),
    /// Asked for and run, but the run broke off: the bench exits 1, as for missing records.
    Failed(String),
}

pub fn run(bench: ProduceBench) -> anyhow::Result<ExitCode> {
    // First, before the runtime starts its threads: they must inherit the signal mask.
    let interrupts = Interrupts::install().context("cannot take over SIGINT and SIGTERM")?;
    let root = tempfile::Builder::new()
        .prefix("faultline-bench-")
        .tempdir()?;
    interrupts.remove_dir_on_signal(root.path().to_path_buf());
    println!("faultline bench produce: data in {}", root.path().display());
    let measure_disk = || {
        bench_disk::measure(
            &root.path().join("disk"),
            RECORD_BYTES * bench.batch_records as usize,
            Duration::from_millis(bench.disk_ms),
        )
        .context("cannot measure the disk's write+fsync limit")
    };
    let disk_before = measure_disk()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    // Servers are started from this thread, which lives as long as they do (their
    // parent-death signal follows the thread that spawned them).
    let wants = |system| bench.systems.contains(&system);
    let faultline = if wants(BenchSystem::Faultline) {
        let dir = root.path().join("faultline");
        Row::Ran(bench_faultline::run(&bench, &dir, &interrupts, &runtime)?)
    } else {
        Row::Skipped("left out (--systems)".into())
    };
    let nats = if !wants(BenchSystem::Nats) {
        Row::Skipped("left out (--systems)".into())
    } else if !bench_nats::available() {
        Row::Skipped(format!(
            "`{}` is not on the PATH (ci/install-real-deps.sh installs it)",
            bench_nats::PROGRAM
        ))
    } else {
        match bench_nats::run(&bench, &root.path().join("nats"), &interrupts, &runtime) {
            Ok(measured) => Row::Ran(measured),
            Err(error) => Row::Failed(format!("failed: {error:#}")),
        }
    };
    drop(runtime);
    // Measured again once the servers are gone: on a shared machine other work only ever slows
    // the disk down, so the faster of the two is the nearer to its limit.
    let disk_after = measure_disk()?;
    root.close()
        .context("cannot remove the benchmark's data directory")?;
    let mut rows = [
        (
            "faultline",
            "faultline (RF 3, acks=all, fsync always)",
            faultline,
        ),
        ("NATS", "NATS JetStream (R3, sync_interval: always)", nats),
    ];
    report(&bench, [&disk_before, &disk_after], &mut rows);
    let lost_or_failed = rows.iter().any(|(_, _, row)| match row {
        Row::Ran(m) => !m.missing.is_empty(),
        Row::Failed(_) => true,
        Row::Skipped(_) => false,
    });
    Ok(if lost_or_failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The table: the disk's limit, one row per system, the ratio, and the read-backs.
fn report(
    bench: &ProduceBench,
    disks: [&bench_disk::DiskLimit; 2],
    rows: &mut [(&str, &str, Row)],
) {
    let disk = if disks[0].syncs_per_s() >= disks[1].syncs_per_s() {
        disks[0]
    } else {
        disks[1]
    };
    let limit = disk.records_per_s(bench.batch_records);
    println!();
    println!(
        "{} producers x {} in flight, batches of at most {} records, linger {} ms, {} partitions, \
         {RECORD_BYTES} B records, {} records per system",
        bench.producers,
        bench.in_flight,
        bench.batch_records,
        bench.linger_ms,
        bench.partitions,
        bench.records
    );
    println!(
        "disk limit: {:.0} records/s ({:.0} write+fsync/s of {} KiB, {:.1} MB/s, one writer, \
         sequential, same directory; {:.0} before the systems ran, {:.0} after)",
        limit,
        disk.syncs_per_s(),
        disk.write_bytes / 1024,
        disk.bytes_per_s() / 1e6,
        disks[0].records_per_s(bench.batch_records),
        disks[1].records_per_s(bench.batch_records),
    );
    println!();
    println!(
        "| system | records acked | failed | missing | seconds | records/s | % of disk limit | \
         p50 ms | p99 ms |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for (_, title, row) in rows.iter_mut() {
        match row {
            Row::Ran(m) => {
                let (p50, p99) = (m.latency_ms(0.50), m.latency_ms(0.99));
                println!(
                    "| {title} | {} | {} | {} | {:.2} | {:.0} | {:.1} % | {:.2} | {:.2} |",
                    m.acked.len(),
                    m.failed,
                    m.missing.len(),
                    m.elapsed.as_secs_f64(),
                    m.records_per_s(),
                    100.0 * m.records_per_s() / limit.max(1e-9),
                    p50,
                    p99,
                );
            }
            Row::Skipped(why) | Row::Failed(why) => println!("| {title} | {why} | | | | | | | |"),
        }
    }
    println!();
    if let [(_, _, Row::Ran(faultline)), (_, _, Row::Ran(nats))] = &*rows {
        println!(
            "faultline / NATS: {:.2}x records/s",
            faultline.records_per_s() / nats.records_per_s().max(1e-9)
        );
    }
    for (name, _, row) in rows.iter() {
        if let Row::Ran(m) = row {
            read_back_report(name, &m.missing);
        }
    }
}

fn read_back_report(system: &str, missing: &[(u32, RecordId)]) {
    if missing.is_empty() {
        println!("{system} read back: every acknowledged record is in the log (missing 0).");
        return;
    }
    println!(
        "{system} read back: {} acknowledged records are missing (the first {} listed):",
        missing.len(),
        missing.len().min(MISSING_LISTED_MAX)
    );
    for (partition, id) in missing.iter().take(MISSING_LISTED_MAX) {
        println!(
            "- bench/{partition}: producer {} record {}",
            id.producer, id.sequence
        );
    }
}
