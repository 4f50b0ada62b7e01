//! A synthetic, valid history for benchmarks and tests: producers, transactional producers and
//! a consumer group drive a perfect in-memory log, with failed and indeterminate ops, nemesis
//! faults, a heal, a drain and a final state — every kind of op the checkers read. Every check
//! must find it valid. Deterministic: a function of its options alone (seeded ChaCha).

use super::body::Local;
use super::op::{Op, OpType, F};
use super::recorder::Recorder;
use super::values::{self, FinalStateRecord};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;
use std::collections::BTreeMap;

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
        }
    }
}

const GROUP: &str = "billing";
/// Records one poll returns at most.
const POLL_RECORDS_MAX: usize = 4;
const DRAIN_RECORDS_MAX: usize = 1_000;

enum Open {
    Send(Vec<(usize, i64)>),
    TxnSend { txn: String, key: usize, value: i64 },
    Poll,
    Commit(u64),
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
    };
    let mut actors = Vec::new();
    for _ in 0..options.producers {
        actors.push(world.actor(Role::Producer));
    }
    for _ in 0..options.txn_producers {
        actors.push(world.actor(Role::TxnProducer));
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
        let pick = world.rng.random_range(0..actors.len());
        world.step(&mut actors[pick]);
    }

    // Quiesce: every open op completes, then the drain reads every key to its end.
    for actor in &mut actors {
        if actor.open.is_some() {
            world.tick();
            world.step(actor);
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
            let records = world.read(key, DRAIN_RECORDS_MAX);
            let done = records.is_empty();
            let value = values::poll_complete(&[(world.keys[key].as_str(), &records)]);
            world
                .recorder
                .complete(world.time, actor.process, OpType::Ok, F::Poll, value);
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
    world.tick();
    world
        .recorder
        .nemesis(world.time, F::FinalState, record.to_value());
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
        self.value_next
    }

    fn append(&mut self, key: usize, value: i64) -> u64 {
        self.log[key].push(value);
        (self.log[key].len() - 1) as u64
    }

    /// The consumer of `key` reads and applies up to `limit` records.
    fn read(&mut self, key: usize, limit: usize) -> Vec<(u64, i64)> {
        let start = self.position[key] as usize;
        let end = self.log[key].len().min(start + limit);
        let records: Vec<(u64, i64)> = (start..end)
            .map(|offset| (offset as u64, self.log[key][offset]))
            .collect();
        self.applied[key].extend(records.iter().map(|&(_, value)| value));
        self.position[key] = end as u64;
        records
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
                        (key, self.value())
                    })
                    .collect();
                let named: Vec<(&str, i64)> = sends
                    .iter()
                    .map(|&(key, value)| (self.keys[key].as_str(), value))
                    .collect();
                self.recorder
                    .invoke(time, process, F::Send, values::send_invoke(&named));
                actor.open = Some(Open::Send(sends));
            }
            (Role::Producer, Some(Open::Send(sends))) => {
                let roll = self.rng.random_range(0..100);
                if roll < 96 {
                    let offsets: Vec<u64> = sends
                        .iter()
                        .map(|&(key, value)| self.append(key, value))
                        .collect();
                    let done: Vec<(&str, Option<u64>, i64)> = sends
                        .iter()
                        .zip(offsets)
                        .map(|(&(key, value), offset)| {
                            (self.keys[key].as_str(), Some(offset), value)
                        })
                        .collect();
                    let value = values::send_complete(&done);
                    self.recorder
                        .complete(time, process, OpType::Ok, F::Send, value);
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
                    self.recorder.complete(time, process, kind, F::Send, value);
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
                let records = self.read(key, limit);
                let value = values::poll_complete(&[(self.keys[key].as_str(), &records)]);
                self.recorder
                    .complete(time, process, OpType::Ok, F::Poll, value);
            }
            (Role::Consumer(key), Some(Open::Commit(position))) => {
                let offsets = values::commit_offsets(&[(self.keys[key].as_str(), position)]);
                self.recorder
                    .complete(time, process, OpType::Ok, F::CommitOffsets, offsets);
                self.committed[key] = position;
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
    }
}
