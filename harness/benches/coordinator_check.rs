//! How fast `coordinator-linearizable` judges a long history: a valid synthetic coordinator
//! history (deterministic, seeded) of 1,000,000 ops by default — 64 clients, each creating,
//! reading and conditionally setting its own 16 znodes and reading others', with overlapping
//! ops and unknown outcomes — then the check over it; prints ops per second for the check alone
//! and for parse + check (JSON Lines bytes to verdict, what `faultline check` does). Then the
//! same history with one acknowledged write lost near its end must be `invalid`.
//!
//! `cargo bench -p faultline --bench coordinator_check` (`FAULTLINE_BENCH_OPS` for another size).

// A benchmark measures wall time; it never runs inside a simulation.
#![allow(clippy::disallowed_methods)]

use harness::checker::{CheckOptions, Checker, CoordinatorLinearizable, Verdict};
use harness::history::{parse_history, write_history, Op, OpType, Process, F};
use serde_json::json;
use std::time::{Duration, Instant};

const CLIENTS: u64 = 64;
const ZNODES_PER_CLIENT: u64 = 16;
/// One in this many writes times out (`info`); half of those took effect.
const UNKNOWN_ONE_IN: u64 = 50;

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// An op in flight: what completing it does.
#[derive(Clone, Copy)]
enum Pending {
    Create { path: u64, data: i64 },
    Write { path: u64, data: i64, expected: u64 },
    Read { path: u64 },
}

fn path_name(path: u64) -> String {
    format!(
        "/zk-client-{}-{}",
        path / ZNODES_PER_CLIENT,
        path % ZNODES_PER_CLIENT
    )
}

/// A valid history: each op takes effect at its completion, in time order.
fn synthetic(ops_target: usize, seed: u64) -> Vec<Op> {
    let mut rng = Rng(seed | 1);
    let znodes = (CLIENTS * ZNODES_PER_CLIENT) as usize;
    // (version, data) per znode; None: not created yet.
    let mut state: Vec<Option<(u64, i64)>> = vec![None; znodes];
    let mut pending: Vec<Option<Pending>> = vec![None; CLIENTS as usize];
    let mut process: Vec<u64> = (1..=CLIENTS).collect();
    let mut process_next = CLIENTS + 1;
    let mut data_next: i64 = 1;
    let mut ops = Vec::with_capacity(ops_target + 2);
    let mut time: u64 = 0;
    let push = |ops: &mut Vec<Op>, time: u64, process: u64, kind: OpType, f: F, value| {
        ops.push(Op {
            index: ops.len() as u64,
            time,
            process: Process::Client(process),
            kind,
            f,
            value,
        });
    };
    while ops.len() < ops_target {
        time += 1 + rng.below(1_000_000);
        let client = rng.below(CLIENTS) as usize;
        let p = process[client];
        match pending[client].take() {
            None => {
                let own = client as u64 * ZNODES_PER_CLIENT + rng.below(ZNODES_PER_CLIENT);
                let (f, value, next) = match state[own as usize] {
                    None => {
                        let data = data_next;
                        data_next += 1;
                        let value = json!({"path": path_name(own), "data": data});
                        (F::ZkCreate, value, Pending::Create { path: own, data })
                    }
                    Some((version, _)) if rng.below(2) == 0 => {
                        let data = data_next;
                        data_next += 1;
                        let value =
                            json!({"path": path_name(own), "data": data, "expected": version});
                        let next = Pending::Write {
                            path: own,
                            data,
                            expected: version,
                        };
                        (F::ZkWrite, value, next)
                    }
                    Some(_) => {
                        // Reads of any znode, so readers and writers overlap.
                        let path = rng.below(znodes as u64);
                        let value = json!({"path": path_name(path)});
                        (F::ZkRead, value, Pending::Read { path })
                    }
                };
                push(&mut ops, time, p, OpType::Invoke, f, value);
                pending[client] = Some(next);
            }
            Some(Pending::Create { path, data }) => {
                state[path as usize] = Some((0, data));
                let value = json!({"path": path_name(path), "data": data, "version": 0});
                push(&mut ops, time, p, OpType::Ok, F::ZkCreate, value);
            }
            Some(Pending::Write {
                path,
                data,
                expected,
            }) => {
                let name = path_name(path);
                if rng.below(UNKNOWN_ONE_IN) == 0 {
                    if rng.below(2) == 0 {
                        state[path as usize] = Some((expected + 1, data));
                    }
                    let value = json!({"path": name, "data": data, "expected": expected});
                    push(&mut ops, time, p, OpType::Info, F::ZkWrite, value);
                    process[client] = process_next;
                    process_next += 1;
                } else if state[path as usize].map(|(v, _)| v) == Some(expected) {
                    state[path as usize] = Some((expected + 1, data));
                    let value = json!({
                        "path": name, "data": data, "expected": expected, "version": expected + 1
                    });
                    push(&mut ops, time, p, OpType::Ok, F::ZkWrite, value);
                } else {
                    let value = json!({"path": name, "data": data, "expected": expected});
                    push(&mut ops, time, p, OpType::Fail, F::ZkWrite, value);
                }
            }
            Some(Pending::Read { path }) => {
                let value = match state[path as usize] {
                    Some((version, data)) => {
                        json!({"path": path_name(path), "data": data, "version": version})
                    }
                    None => json!({"path": path_name(path), "data": null, "version": null}),
                };
                push(&mut ops, time, p, OpType::Ok, F::ZkRead, value);
            }
        }
    }
    ops
}

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
    let mut ops = synthetic(target, 42);
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
    println!("coordinator-linearizable over a valid history of {count} ops:");
    println!("  check alone      {}", rate(count, checked));
    println!("  parse + check    {}", rate(count, parsed + checked));

    // Plant a lost write: the last ok read of a znode written before returns the version
    // below the one it saw.
    let lost = ops
        .iter()
        .rposition(|op| {
            op.f == F::ZkRead
                && op.kind == OpType::Ok
                && op.value["version"].as_u64().is_some_and(|v| v >= 2)
        })
        .expect("a read of a written znode");
    let version = ops[lost].value["version"].as_u64().expect("version");
    let path = ops[lost].value["path"].clone();
    let older = ops
        .iter()
        .find(|op| {
            op.kind == OpType::Ok
                && op.f == F::ZkWrite
                && op.value["path"] == path
                && op.value["version"].as_u64() == Some(version - 1)
        })
        .map(|op| op.value["data"].clone())
        .expect("the write of the version below");
    ops[lost].value = json!({"path": path, "data": older, "version": version - 1});
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
