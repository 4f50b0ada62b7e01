//! A synthetic, valid history for benchmarks and tests: producers, transactional producers and
//! a consumer group drive a perfect in-memory log, with failed and indeterminate ops, nemesis
//! faults, a heal, a drain and a final state — every kind of op the checkers read. Every check
//! must find it valid. Deterministic: a function of its options alone (seeded ChaCha).
//!
//! Half the sends carry a deadline a little after they are sent; the consumer discards a record
//! read after its deadline (an `expired` event) instead of applying it. A token bucket is a
//! bounded queue: a generator sends one token per tick (synchronously, skipping ticks that
//! passed while it was busy; a token that finds the bucket full is refused), and gateways take
//! the token at the head with `admit` ops, rejected (`fail`) when the bucket is empty. The
//! drain reads what is left of it. With `znodes`, coordinator clients add `zk-*` ops
//! ([`super::synthetic_coordinator`]); without, the history is what it always was.

use super::body::Local;
use super::op::{Op, OpType, Process, F};
use super::recorder::Recorder;
pub use super::synthetic_coordinator::plant_stale_read;
use super::synthetic_coordinator::ZkClients;
use super::values::{self, FinalStateRecord};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;
use std::collections::{BTreeMap, VecDeque};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntheticOptions {
    /// Ops to generate before the drain (the total is a little more).
    pub ops: usize,
    pub seed: u64,
    pub keys: usize,
    pub producers: usize,
    pub txn_producers: usize,
    /// Nemesis faults start and stop every this many ops.
    pub fault_every: usize,
    /// Processes admitting requests through the token bucket of [`TOKEN_KEY`]; with none, there
    /// is no bucket either.
    pub gateways: usize,
    /// Znodes shared by as many coordinator clients (`zk-*` ops); none by default.
    pub znodes: usize,
}

impl Default for SyntheticOptions {
    fn default() -> Self {
        SyntheticOptions {
            ops: 10_000,
            seed: 1,
            keys: 8,
            producers: 6,
            txn_producers: 2,
            fault_every: 5_000,
            gateways: 1,
            znodes: 0,
        }
    }
}

const GROUP: &str = "billing";
/// Records one poll returns at most.
const POLL_RECORDS_MAX: usize = 4;
const DRAIN_RECORDS_MAX: usize = 1_000;
/// `(offset, value)`.
type Record = (u64, i64);
/// The key the gateways take tokens from.
pub const TOKEN_KEY: &str = "tokens/0";
/// The bucket: a token every millisecond, at most 4 kept.
const TOKEN_RATE_PER_S: u64 = 1_000;
const TOKEN_CAPACITY: usize = 4;
/// A send with a deadline must be used within this many ns of its invoke (drawn per send).
const DEADLINE_NS: std::ops::Range<u64> = 100_000..5_000_000;
/// No deadline.
const NEVER: u64 = u64::MAX;

enum Open {
    /// The sends, and the op's function: `send`, or `txn` for some two-key batches.
    Send(Vec<(usize, i64)>, F),
    TxnSend {
        txn: String,
        key: usize,
        value: i64,
    },
    Poll,
    Commit(u64),
    Admit(i64),
    Token(i64),
}

struct Actor {
    process: u64,
    role: Role,
    open: Option<Open>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Producer,
    TxnProducer,
    /// Consumes one key.
    Consumer(usize),
    TokenGenerator,
    Gateway,
}

struct World {
    rng: ChaCha8Rng,
    recorder: Recorder,
    time: u64,
    keys: Vec<String>,
    log: Vec<Vec<i64>>,
    value_next: i64,
    process_next: u64,
    txn_next: u64,
    txn_local: BTreeMap<String, Local>,
    /// Per key: the consumer's next offset, what it applied, what it committed.
    position: Vec<u64>,
    applied: Vec<Vec<i64>>,
    committed: Vec<u64>,
    /// Value -> its deadline (`NEVER` for none); values count from 1.
    deadlines: Vec<u64>,
    bucket: Bucket,
    request_next: i64,
}

/// A correct token bucket on a bounded queue.
struct Bucket {
    period_ns: u64,
    /// When the generator may send its next token.
    tick_next: u64,
    /// The tokens in the bucket, head first.
    tokens: VecDeque<Record>,
    offset_next: u64,
}

/// Generates the history.
pub fn synthetic_history(options: &SyntheticOptions) -> Vec<Op> {
    let keys: Vec<String> = (0..options.keys).map(|k| format!("orders/{k}")).collect();
    let mut world = World {
        rng: ChaCha8Rng::seed_from_u64(options.seed),
        recorder: Recorder::new(),
        time: 0,
        log: vec![Vec::new(); keys.len()],
        position: vec![0; keys.len()],
        applied: vec![Vec::new(); keys.len()],
        committed: vec![0; keys.len()],
        keys,
        value_next: 0,
        process_next: 0,
        txn_next: 0,
        txn_local: BTreeMap::new(),
        deadlines: vec![NEVER],
        bucket: Bucket {
            period_ns: 1_000_000_000 / TOKEN_RATE_PER_S,
            tick_next: 0,
            tokens: VecDeque::new(),
            offset_next: 0,
        },
        request_next: 0,
    };
    let mut actors = Vec::new();
    for _ in 0..options.producers {
        actors.push(world.actor(Role::Producer));
    }
    for _ in 0..options.txn_producers {
        actors.push(world.actor(Role::TxnProducer));
    }
    if options.gateways > 0 {
        actors.push(world.actor(Role::TokenGenerator));
    }
    for _ in 0..options.gateways {
        actors.push(world.actor(Role::Gateway));
    }
    for key in 0..options.keys {
        let actor = world.actor(Role::Consumer(key));
        let value = values::membership(Some(GROUP), &[world.keys[key].as_str()], Some(1));
        world.tick();
        let (time, process) = (world.time, actor.process);
        world
            .recorder
            .invoke(time, process, F::Subscribe, value.clone());
        world
            .recorder
            .complete(time, process, OpType::Ok, F::Subscribe, value);
        actors.push(actor);
    }

    let mut zk = ZkClients::new(options.znodes, &mut world.process_next);

    let heal_at = options.ops * 9 / 10;
    let mut fault_open = false;
    let mut healed = false;
    let mut fault_next = options.fault_every;
    while world.recorder.ops().len() < options.ops {
        world.tick();
        let ops = world.recorder.ops().len();
        if !healed && ops >= heal_at {
            if fault_open {
                world
                    .recorder
                    .nemesis(world.time, F::Stop("partition".into()), json!(null));
            }
            world.recorder.nemesis(world.time, F::Heal, json!(null));
            healed = true;
            continue;
        }
        if !healed && ops >= fault_next {
            fault_next += options.fault_every;
            let f = if fault_open {
                F::Stop("partition".into())
            } else {
                F::Start("partition".into())
            };
            world
                .recorder
                .nemesis(world.time, f, json!({"isolate": "broker-2"}));
            fault_open = !fault_open;
            continue;
        }
        let pick = world.rng.random_range(0..actors.len() + zk.len());
        match pick.checked_sub(actors.len()) {
            None => world.step(&mut actors[pick]),
            Some(client) => world.step_zk(&mut zk, client),
        }
    }

    // Quiesce: every open op completes, then the drain reads every key to its end.
    for actor in &mut actors {
        if actor.open.is_some() {
            world.tick();
            world.step(actor);
        }
    }
    for client in 0..zk.len() {
        if zk.has_open(client) {
            world.tick();
            world.step_zk(&mut zk, client);
        }
    }
    world.tick();
    world.recorder.nemesis(world.time, F::Drain, json!(null));
    for actor in &mut actors {
        let Role::Consumer(key) = actor.role else {
            continue;
        };
        loop {
            world.tick();
            world
                .recorder
                .invoke(world.time, actor.process, F::Poll, values::poll_invoke());
            world.tick();
            let (records, expired) = world.read(key, DRAIN_RECORDS_MAX);
            let done = records.is_empty();
            let value = values::poll_complete(&[(world.keys[key].as_str(), &records)]);
            world
                .recorder
                .complete(world.time, actor.process, OpType::Ok, F::Poll, value);
            world.expire(actor.process, key, &expired);
            if done {
                break;
            }
        }
        let position = world.position[key];
        let offsets = values::commit_offsets(&[(world.keys[key].as_str(), position)]);
        world.tick();
        world
            .recorder
            .invoke(world.time, actor.process, F::CommitOffsets, offsets.clone());
        world.tick();
        world.recorder.complete(
            world.time,
            actor.process,
            OpType::Ok,
            F::CommitOffsets,
            offsets,
        );
        world.committed[key] = position;
    }

    if options.gateways > 0 {
        // A fresh reader reads the bucket from its head to its end.
        let reader = world.actor(Role::Gateway).process;
        let left: Vec<Record> = world.bucket.tokens.iter().copied().collect();
        for records in [left.as_slice(), &[]] {
            world.tick();
            world
                .recorder
                .invoke(world.time, reader, F::Poll, values::poll_invoke());
            world.tick();
            let value = values::poll_complete(&[(TOKEN_KEY, records)]);
            world
                .recorder
                .complete(world.time, reader, OpType::Ok, F::Poll, value);
        }
    }

    let mut applied = BTreeMap::new();
    let mut committed = BTreeMap::new();
    for (key, name) in world.keys.iter().enumerate() {
        applied.insert(name.clone(), world.applied[key].clone());
        committed.insert(name.clone(), world.committed[key]);
    }
    let record = FinalStateRecord {
        txn_local: Some(world.txn_local.clone()),
        applied: Some([(GROUP.to_string(), applied)].into_iter().collect()),
        committed_offsets: Some([(GROUP.to_string(), committed)].into_iter().collect()),
        ..FinalStateRecord::default()
    };
    let mut value = record.to_value();
    if options.gateways > 0 {
        value["token-buckets"] = json!({
            TOKEN_KEY: {"rate-per-s": TOKEN_RATE_PER_S, "capacity": TOKEN_CAPACITY}
        });
    }
    world.tick();
    world.recorder.nemesis(world.time, F::FinalState, value);
    world.recorder.into_ops()
}

impl World {
    fn tick(&mut self) {
        self.time += self.rng.random_range(1_000..50_000);
    }

    fn actor(&mut self, role: Role) -> Actor {
        self.process_next += 1;
        Actor {
            process: self.process_next,
            role,
            open: None,
        }
    }

    fn value(&mut self) -> i64 {
        self.value_next += 1;
        self.deadlines.push(NEVER);
        self.value_next
    }

    /// A fresh value, due a little after now half the time.
    fn value_due(&mut self) -> (i64, Option<u64>) {
        let value = self.value();
        let deadline = self
            .rng
            .random_bool(0.5)
            .then(|| self.time + self.rng.random_range(DEADLINE_NS));
        if let Some(deadline) = deadline {
            self.deadlines[value as usize] = deadline;
        }
        (value, deadline)
    }

    /// The consumer `process` discards the records of `key` read past their deadline.
    fn expire(&mut self, process: u64, key: usize, expired: &[Record]) {
        for &(offset, value) in expired {
            let body = values::expired(&self.keys[key], value, Some(offset));
            self.recorder.event(
                self.time,
                Process::Client(process),
                OpType::Ok,
                F::Expired,
                body,
            );
        }
    }

    fn deadline(&self, value: i64) -> Option<u64> {
        Some(self.deadlines[value as usize]).filter(|&deadline| deadline != NEVER)
    }

    fn append(&mut self, key: usize, value: i64) -> u64 {
        self.log[key].push(value);
        (self.log[key].len() - 1) as u64
    }

    /// The consumer of `key` reads up to `limit` records now: it applies those still due and
    /// returns the rest as expired, after the records read.
    fn read(&mut self, key: usize, limit: usize) -> (Vec<Record>, Vec<Record>) {
        let start = self.position[key] as usize;
        let end = self.log[key].len().min(start + limit);
        let records: Vec<Record> = (start..end)
            .map(|offset| (offset as u64, self.log[key][offset]))
            .collect();
        let mut expired = Vec::new();
        for &(offset, value) in &records {
            // Values count from 1; token values are never read here.
            if self.time > self.deadlines[value as usize] {
                expired.push((offset, value));
            } else {
                self.applied[key].push(value);
            }
        }
        self.position[key] = end as u64;
        (records, expired)
    }

    /// One step of coordinator client `client`, at the world's time.
    fn step_zk(&mut self, zk: &mut ZkClients, client: usize) {
        zk.step(
            client,
            &mut self.rng,
            &mut self.recorder,
            self.time,
            &mut self.process_next,
        );
    }

    fn step(&mut self, actor: &mut Actor) {
        let time = self.time;
        let process = actor.process;
        match (actor.role, actor.open.take()) {
            (Role::Producer, None) => {
                let count = self.rng.random_range(1..=2);
                let sends: Vec<(usize, i64)> = (0..count)
                    .map(|_| {
                        let key = self.rng.random_range(0..self.keys.len());
                        (key, self.value_due().0)
                    })
                    .collect();
                let named: Vec<(&str, i64, Option<u64>)> = sends
                    .iter()
                    .map(|&(key, value)| (self.keys[key].as_str(), value, self.deadline(value)))
                    .collect();
                // Some two-key batches are transactions (so txn-graph has something to judge),
                // chosen without a draw so the rest of the history stays as it was.
                let f = if sends.len() == 2 && sends[0].1 % 5 == 0 {
                    F::Txn
                } else {
                    F::Send
                };
                self.recorder.invoke(
                    time,
                    process,
                    f.clone(),
                    values::send_invoke_with_deadline(&named),
                );
                actor.open = Some(Open::Send(sends, f));
            }
            (Role::Producer, Some(Open::Send(sends, f))) => {
                let roll = self.rng.random_range(0..100);
                if roll < 96 {
                    let offsets: Vec<u64> = sends
                        .iter()
                        .map(|&(key, value)| self.append(key, value))
                        .collect();
                    let done: Vec<(&str, Option<u64>, i64, Option<u64>)> = sends
                        .iter()
                        .zip(offsets)
                        .map(|(&(key, value), offset)| {
                            (
                                self.keys[key].as_str(),
                                Some(offset),
                                value,
                                self.deadline(value),
                            )
                        })
                        .collect();
                    let value = values::send_complete_with_deadline(&done);
                    self.recorder.complete(time, process, OpType::Ok, f, value);
                } else {
                    let kind = if roll < 98 {
                        OpType::Fail
                    } else {
                        OpType::Info
                    };
                    if kind == OpType::Info && self.rng.random_bool(0.5) {
                        for &(key, value) in &sends {
                            self.append(key, value);
                        }
                    }
                    let named: Vec<(&str, i64)> = sends
                        .iter()
                        .map(|&(key, value)| (self.keys[key].as_str(), value))
                        .collect();
                    let value = values::send_invoke(&named);
                    self.recorder.complete(time, process, kind, f, value);
                    if kind == OpType::Info {
                        *actor = self.actor(Role::Producer);
                    }
                }
            }
            (Role::TxnProducer, None) => {
                self.txn_next += 1;
                let txn = format!("t{}", self.txn_next);
                let key = self.rng.random_range(0..self.keys.len());
                let value = self.value();
                let body = values::txn_send(&txn, &self.keys[key], value, None);
                self.recorder.invoke(time, process, F::TxnSend, body);
                actor.open = Some(Open::TxnSend { txn, key, value });
            }
            (Role::TxnProducer, Some(Open::TxnSend { txn, key, value })) => {
                let roll = self.rng.random_range(0..100);
                let local = if roll < 80 {
                    self.append(key, value);
                    Local::Commit
                } else if roll < 95 {
                    Local::Rollback
                } else {
                    Local::Unknown
                };
                // An unknown local result is resolved by check-back to a rollback.
                let resolved = if local == Local::Unknown {
                    Local::Rollback
                } else {
                    local
                };
                self.txn_local.insert(txn.clone(), resolved);
                let body = values::txn_send(&txn, &self.keys[key], value, Some(local));
                self.recorder
                    .complete(time, process, OpType::Ok, F::TxnSend, body);
            }
            (Role::Consumer(key), None) => {
                if self.position[key] > self.committed[key] && self.rng.random_bool(0.3) {
                    let offsets =
                        values::commit_offsets(&[(self.keys[key].as_str(), self.position[key])]);
                    self.recorder
                        .invoke(time, process, F::CommitOffsets, offsets);
                    actor.open = Some(Open::Commit(self.position[key]));
                } else {
                    self.recorder
                        .invoke(time, process, F::Poll, values::poll_invoke());
                    actor.open = Some(Open::Poll);
                }
            }
            (Role::Consumer(key), Some(Open::Poll)) => {
                let limit = self.rng.random_range(1..=POLL_RECORDS_MAX);
                let (records, expired) = self.read(key, limit);
                let value = values::poll_complete(&[(self.keys[key].as_str(), &records)]);
                self.recorder
                    .complete(time, process, OpType::Ok, F::Poll, value);
                self.expire(process, key, &expired);
            }
            (Role::Consumer(key), Some(Open::Commit(position))) => {
                let offsets = values::commit_offsets(&[(self.keys[key].as_str(), position)]);
                self.recorder
                    .complete(time, process, OpType::Ok, F::CommitOffsets, offsets);
                self.committed[key] = position;
            }
            (Role::Gateway, None) => {
                self.request_next += 1;
                let request = self.request_next;
                let body = values::admit(TOKEN_KEY, request, None);
                self.recorder.invoke(time, process, F::Admit, body);
                actor.open = Some(Open::Admit(request));
            }
            (Role::TokenGenerator, None) => {
                // One token per tick; ticks that passed while a send was in flight are skipped.
                if time >= self.bucket.tick_next {
                    let value = self.value();
                    let body = values::send_invoke(&[(TOKEN_KEY, value)]);
                    self.recorder.invoke(time, process, F::Send, body);
                    actor.open = Some(Open::Token(value));
                    let period = self.bucket.period_ns;
                    self.bucket.tick_next = (time / period + 1) * period;
                }
            }
            (Role::TokenGenerator, Some(Open::Token(value))) => {
                if self.bucket.tokens.len() < TOKEN_CAPACITY {
                    let offset = self.bucket.offset_next;
                    self.bucket.offset_next += 1;
                    self.bucket.tokens.push_back((offset, value));
                    let body = values::send_complete(&[(TOKEN_KEY, Some(offset), value)]);
                    self.recorder
                        .complete(time, process, OpType::Ok, F::Send, body);
                } else {
                    // The bucket is full: the token is refused, never written.
                    let body = values::send_invoke(&[(TOKEN_KEY, value)]);
                    self.recorder
                        .complete(time, process, OpType::Fail, F::Send, body);
                }
            }
            (Role::Gateway, Some(Open::Admit(request))) => {
                let token = self.bucket.tokens.pop_front();
                let kind = if token.is_some() {
                    OpType::Ok
                } else {
                    OpType::Fail
                };
                let body = values::admit(TOKEN_KEY, request, token);
                self.recorder.complete(time, process, kind, F::Admit, body);
            }
            (_, Some(_)) => unreachable!("an actor only completes what it invoked"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{History, HistoryDigest};

    #[test]
    fn the_same_options_give_the_same_history() {
        let options = SyntheticOptions {
            ops: 3_000,
            ..SyntheticOptions::default()
        };
        let first = HistoryDigest::of_ops(&synthetic_history(&options));
        let second = HistoryDigest::of_ops(&synthetic_history(&options));
        assert_eq!(first, second);
        let other =
            HistoryDigest::of_ops(&synthetic_history(&SyntheticOptions { seed: 2, ..options }));
        assert_ne!(first, other);
    }

    #[test]
    fn the_history_is_well_formed() {
        let ops = synthetic_history(&SyntheticOptions {
            ops: 3_000,
            ..SyntheticOptions::default()
        });
        let history = History::from_ops(ops).expect("valid");
        assert!(history.len() >= 3_000);
        assert!(history.drain().is_some() && history.heal().is_some());
        assert!(history.final_state().is_some());
        let count = |f: F| history.ops().iter().filter(|op| op.f == f).count();
        assert!(count(F::Expired) > 10, "some records expire");
        assert!(count(F::Admit) > 100, "the gateway admits");
        let kinds = |kind: OpType| {
            history
                .ops()
                .iter()
                .any(|op| op.f == F::Admit && op.kind == kind)
        };
        assert!(kinds(OpType::Ok) && kinds(OpType::Fail));
        let due = history.log().writes.iter().filter(|w| w.has_deadline());
        assert!(due.count() > 100, "sends carry deadlines");
    }
}
