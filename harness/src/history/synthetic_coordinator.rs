//! Coordinator clients for the synthetic history ([`super::synthetic`]): each creates, reads and
//! conditionally sets znodes shared by all of them, against a perfect in-memory coordinator
//! (an op takes effect when it completes), so `coordinator-linearizable` must find it valid.
//! Some writes end `info` (half of those took effect) and the client goes on as a new process.

use super::op::{Op, OpType, Process, F};
use super::recorder::Recorder;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// One write in this many ends `info`.
const UNKNOWN_ONE_IN: u32 = 30;

#[derive(Clone, Copy)]
enum Open {
    Create {
        znode: usize,
        data: i64,
    },
    Write {
        znode: usize,
        data: i64,
        expected: u64,
    },
    Read {
        znode: usize,
    },
}

struct Client {
    process: u64,
    open: Option<Open>,
}

/// The coordinator clients and the znodes' true state.
pub(super) struct ZkClients {
    clients: Vec<Client>,
    /// Per znode: (version, data), `None` before its create.
    state: Vec<Option<(u64, i64)>>,
    data_next: i64,
}

fn path(znode: usize) -> String {
    format!("/zk-{znode}")
}

impl ZkClients {
    /// One client per znode; process ids are taken from `process_next`.
    pub(super) fn new(znodes: usize, process_next: &mut u64) -> ZkClients {
        let clients = (0..znodes)
            .map(|_| {
                *process_next += 1;
                Client {
                    process: *process_next,
                    open: None,
                }
            })
            .collect();
        ZkClients {
            clients,
            state: vec![None; znodes],
            data_next: 0,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.clients.len()
    }

    pub(super) fn has_open(&self, client: usize) -> bool {
        self.clients[client].open.is_some()
    }

    /// Client `client` invokes an op, or completes its open one.
    pub(super) fn step(
        &mut self,
        client: usize,
        rng: &mut ChaCha8Rng,
        recorder: &mut Recorder,
        time: u64,
        process_next: &mut u64,
    ) {
        let process = self.clients[client].process;
        let Some(open) = self.clients[client].open.take() else {
            let znode = rng.random_range(0..self.state.len());
            let (open, f, value) = match self.state[znode] {
                None => {
                    self.data_next += 1;
                    let data = self.data_next;
                    let open = Open::Create { znode, data };
                    (
                        open,
                        F::ZkCreate,
                        json!({"path": path(znode), "data": data}),
                    )
                }
                Some((expected, _)) if rng.random_bool(0.5) => {
                    self.data_next += 1;
                    let data = self.data_next;
                    let value = json!({"path": path(znode), "data": data, "expected": expected});
                    (
                        Open::Write {
                            znode,
                            data,
                            expected,
                        },
                        F::ZkWrite,
                        value,
                    )
                }
                Some(_) => (
                    Open::Read { znode },
                    F::ZkRead,
                    json!({"path": path(znode)}),
                ),
            };
            recorder.invoke(time, process, f, value);
            self.clients[client].open = Some(open);
            return;
        };
        let (kind, f, value): (OpType, F, Value) = match open {
            Open::Create { znode, data } => {
                let asked = json!({"path": path(znode), "data": data});
                if self.state[znode].is_none() {
                    self.state[znode] = Some((0, data));
                    let done = json!({"path": path(znode), "data": data, "version": 0});
                    (OpType::Ok, F::ZkCreate, done)
                } else {
                    (OpType::Fail, F::ZkCreate, asked)
                }
            }
            Open::Write {
                znode,
                data,
                expected,
            } => {
                let asked = json!({"path": path(znode), "data": data, "expected": expected});
                let current = self.state[znode].map(|(version, _)| version);
                if rng.random_range(0..UNKNOWN_ONE_IN) == 0 {
                    if current == Some(expected) && rng.random_bool(0.5) {
                        self.state[znode] = Some((expected + 1, data));
                    }
                    *process_next += 1;
                    self.clients[client].process = *process_next;
                    (OpType::Info, F::ZkWrite, asked)
                } else if current == Some(expected) {
                    self.state[znode] = Some((expected + 1, data));
                    let done = json!({
                        "path": path(znode), "data": data, "expected": expected,
                        "version": expected + 1
                    });
                    (OpType::Ok, F::ZkWrite, done)
                } else {
                    (OpType::Fail, F::ZkWrite, asked)
                }
            }
            Open::Read { znode } => {
                let done = match self.state[znode] {
                    Some((version, data)) => {
                        json!({"path": path(znode), "data": data, "version": version})
                    }
                    None => json!({"path": path(znode), "data": null, "version": null}),
                };
                (OpType::Ok, F::ZkRead, done)
            }
        };
        recorder.complete(time, process, kind, f, value);
    }
}

/// Makes the last acknowledged read of a znode that saw version 2 or above, invoked after the
/// write of that version was acknowledged, return the version below (with that version's
/// data): a read that went back, which `coordinator-linearizable` must catch. A read that ran
/// beside the write may legally see the older version, so only one invoked after the write's
/// acknowledgement is planted. For histories generated with `znodes`.
pub fn plant_stale_read(ops: &mut [Op]) {
    // (path, version) -> (when its write was acknowledged, its data).
    let mut written: BTreeMap<(String, u64), (u64, Value)> = BTreeMap::new();
    // The time each process last invoked a read.
    let mut read_invoked: BTreeMap<Process, u64> = BTreeMap::new();
    let mut planted = None;
    for (index, op) in ops.iter().enumerate() {
        let path = || op.value["path"].as_str().unwrap_or_default().to_string();
        let version = op.value["version"].as_u64();
        match (&op.f, op.kind) {
            (F::ZkRead, OpType::Invoke) => {
                read_invoked.insert(op.process, op.time);
            }
            (F::ZkCreate | F::ZkWrite, OpType::Ok) => {
                let version = version.expect("an acknowledged write's version");
                written.insert((path(), version), (op.time, op.value["data"].clone()));
            }
            (F::ZkRead, OpType::Ok) => {
                let Some(version) = version.filter(|&version| version >= 2) else {
                    continue;
                };
                let invoked = read_invoked.get(&op.process).copied().unwrap_or(0);
                let after_its_write = written
                    .get(&(path(), version))
                    .is_some_and(|&(acknowledged, _)| acknowledged < invoked);
                if let (true, Some((_, older))) =
                    (after_its_write, written.get(&(path(), version - 1)))
                {
                    planted = Some((index, path(), version - 1, older.clone()));
                }
            }
            _ => {}
        }
    }
    let (read, path, older_version, older) =
        planted.expect("a read invoked after a second write of its znode was acknowledged");
    ops[read].value = json!({"path": path, "data": older, "version": older_version});
}
