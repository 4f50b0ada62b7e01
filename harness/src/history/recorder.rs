//! Recording a history while a simulation runs. The recorder hands out indexes, keeps ops in
//! the order they are recorded, and asserts what the reader later validates (time never goes
//! backwards; a client has at most one open op), so a driver bug fails loudly at the moment it
//! happens rather than as bad input afterwards.
//!
//! ```
//! use harness::history::{values, OpType, Recorder, F};
//! let mut recorder = Recorder::new();
//! recorder.invoke(1_500_000, 3, F::Send, values::send_invoke(&[("orders/0", 17)]));
//! recorder.complete(1_730_000, 3, OpType::Ok, F::Send,
//!     values::send_complete(&[("orders/0", Some(5), 17)]));
//! let history = recorder.finish().expect("a valid history");
//! assert_eq!(history.len(), 2);
//! ```

use super::op::{Op, OpType, Process, F};
use super::write::write_op;
use super::{History, HistoryError};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{self, Write};

#[derive(Debug, Default)]
pub struct Recorder {
    ops: Vec<Op>,
    /// Client process -> its open invoke.
    open: BTreeMap<u64, u64>,
    time_last: u64,
}

impl Recorder {
    pub fn new() -> Recorder {
        Recorder::default()
    }

    /// A client starts a request (`send`, `poll`, `txn`, `assign`, `subscribe`,
    /// `commit-offsets`, `txn-send`, `apply`, `admit`). Returns the op's index.
    pub fn invoke(&mut self, time: u64, process: u64, f: F, value: Value) -> u64 {
        assert!(
            f.is_request(),
            "\"{f}\" is not a request; record it with event()"
        );
        let index = self.push(time, Process::Client(process), OpType::Invoke, f, value);
        let previous = self.open.insert(process, index);
        assert!(
            previous.is_none(),
            "process {process} invoked op {index} while op {previous:?} is open"
        );
        index
    }

    /// The client's open request completes. After `info`, use a new process id.
    pub fn complete(&mut self, time: u64, process: u64, kind: OpType, f: F, value: Value) -> u64 {
        assert!(kind.is_completion(), "complete() needs ok, fail or info");
        let invoke = self.open.remove(&process);
        let invoke = invoke.unwrap_or_else(|| panic!("process {process} has no open op"));
        assert_eq!(
            self.ops[invoke as usize].f, f,
            "process {process} completes a different function than it invoked"
        );
        self.push(time, Process::Client(process), kind, f, value)
    }

    /// A single-line event: `crash`, `sequence-gap`, `expired` (type `ok`, from a consumer),
    /// `final-state` from a client or the driver, or any nemesis op (`start-*`, `stop-*`,
    /// `heal`, `drain`).
    pub fn event(&mut self, time: u64, process: Process, kind: OpType, f: F, value: Value) -> u64 {
        assert!(
            !f.is_request(),
            "\"{f}\" is a request; use invoke() and complete()"
        );
        assert!(
            f != F::Expired || (kind == OpType::Ok && process.client().is_some()),
            "\"expired\" is an ok event of a consumer process"
        );
        self.push(time, process, kind, f, value)
    }

    /// A nemesis op (type `info`).
    pub fn nemesis(&mut self, time: u64, f: F, value: Value) -> u64 {
        self.event(time, Process::Nemesis, OpType::Info, f, value)
    }

    /// The time of the last op recorded (0 before the first).
    pub fn time_last(&self) -> u64 {
        self.time_last
    }

    /// Processes with an open request.
    pub fn open_processes(&self) -> impl Iterator<Item = u64> + '_ {
        self.open.keys().copied()
    }

    pub fn ops(&self) -> &[Op] {
        &self.ops
    }

    pub fn into_ops(self) -> Vec<Op> {
        self.ops
    }

    pub fn write_to(&self, out: &mut impl Write) -> io::Result<()> {
        for op in &self.ops {
            write_op(op, out)?;
        }
        Ok(())
    }

    /// Validates and indexes what was recorded. Requests still open stay open: checkers treat
    /// them like `info`.
    pub fn finish(self) -> Result<History, Vec<HistoryError>> {
        History::from_ops(self.ops)
    }

    fn push(&mut self, time: u64, process: Process, kind: OpType, f: F, value: Value) -> u64 {
        assert!(
            time >= self.time_last,
            "time went backwards: {time} after {}",
            self.time_last
        );
        self.time_last = time;
        let index = self.ops.len() as u64;
        self.ops.push(Op {
            index,
            time,
            process,
            kind,
            f,
            value,
        });
        index
    }
}
