//! The dependency graph between operations that Elle (and Jepsen's Kafka checker) draws from a
//! history of sends and polls on several keys. Vertices are ops that certainly happened: ok
//! `send`/`poll`/`txn` ops, and info ops proven written (one of their values was read). Each
//! key's version order is its inferred log (offsets ascending); an offset observed holding two
//! values takes the first in the log's order (log-consistency reports the conflict).
//!
//! - `ww`: op A wrote the value just before op B's value in a key's version order.
//! - `wr`: op B read a value op A wrote. Only the highest-offset read of each key per op is
//!   drawn: the lower ones reach B through the `ww` chain to it, so cycles are the same.
//! - `rw`: op A's highest read of a key is followed in the version order by op B's write: A
//!   did not see B's write.
//!
//! Edges never join an op to itself. Building the graph is one pass over the log plus sorts:
//! n log n.

use super::op_ranks::OpRanks;
use super::scc::Graph;
use crate::history::{History, KeyId, Source, WriteKind, F};

/// Which way one op depends on another.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Dependency {
    WriteWrite,
    WriteRead,
    ReadWrite,
}

impl Dependency {
    pub fn as_str(self) -> &'static str {
        match self {
            Dependency::WriteWrite => "ww",
            Dependency::WriteRead => "wr",
            Dependency::ReadWrite => "rw",
        }
    }
}

/// Why an edge exists, as two observations of one key in [`crate::history::InferredLog`]
/// (their values and key are read back when the edge is explained): 8 bytes an edge, where
/// copies of the key and values took 24. `ww`: the earlier write's and the later write's
/// places in the version order; `wr`: the read, twice; `rw`: the reader's highest read, and
/// the later write's place in the version order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Why {
    pub observation: u32,
    pub observation_to: u32,
}

/// An edge's label: its kind, and its explanation's index in [`DependencyGraph::whys`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Label {
    pub kind: Dependency,
    pub why: u32,
}

#[derive(Debug)]
pub struct DependencyGraph {
    /// Vertex -> op index (the completion; the invoke of an op that never completed).
    pub ops: Vec<u64>,
    pub graph: Graph<Label>,
    pub whys: Vec<Why>,
}

impl DependencyGraph {
    pub fn build(history: &History) -> DependencyGraph {
        let log = history.log();
        let is_transaction = |op: u64| matches!(history.f(op), F::Send | F::Poll | F::Txn);

        // The op of each proven send write, and every read of a poll or txn.
        let writer_op =
            |write: &crate::history::Write| write.completion().unwrap_or(write.invoke());
        let mut ops: Vec<u64> = log
            .writes
            .iter()
            .filter(|write| write.kind() == WriteKind::Send && write.proven())
            .map(writer_op)
            .collect();
        // (key, reader op, offset, value, observation) of every read; op indexes fit a u32 (the
        // history asserts it). The value sorts before the observation so that of two values
        // read at one offset the same one is the highest, whatever order they were seen in.
        let mut reads: Vec<(KeyId, u32, u64, i64, u32)> = log
            .observations
            .iter()
            .enumerate()
            .filter(|(_, o)| o.source == Source::Read && is_transaction(o.op()))
            .map(|(id, o)| (o.key, o.op() as u32, o.offset, o.value(log), id as u32))
            .collect();
        ops.extend(reads.iter().map(|&(_, op, _, _, _)| u64::from(op)));
        ops.sort_unstable();
        ops.dedup();
        ops.shrink_to_fit();
        // Op index -> vertex: a rank in a bitmap of the vertices (1.5 bits an op of the
        // history, not a u32 table as long as it), constant time.
        let ranks = OpRanks::new(&ops);
        let vertex = |op: u64| ranks.rank(op);
        // The writer of what an observation saw: the log matched every observation with the
        // write of its (key, value) when it was built, so no value-table lookup is needed here.
        let writer = |observation: u32| {
            let write = &log.writes[log.observation(observation).write()? as usize];
            (write.kind() == WriteKind::Send && write.proven())
                .then(|| vertex(writer_op(write)))
                .flatten()
        };

        let mut edges: Vec<(u32, u32, Label)> = Vec::new();
        let mut whys: Vec<Why> = Vec::new();
        let mut link = |from: u32, to: u32, kind: Dependency, why: Why| {
            if from != to {
                let label = Label {
                    kind,
                    why: u32::try_from(whys.len()).expect("edges fit a u32"),
                };
                whys.push(why);
                edges.push((from, to, label));
            }
        };

        // Per key, the version order: (offset, observation, writer vertex).
        let mut orders: Vec<Vec<(u64, u32, u32)>> = vec![Vec::new(); log.keys.len()];
        for (slot, key_log) in log.keys.iter().enumerate() {
            let order = &mut orders[slot];
            for &id in &key_log.order {
                let observation = log.observation(id);
                if order
                    .last()
                    .is_some_and(|&(o, _, _)| o == observation.offset)
                {
                    continue;
                }
                if let Some(v) = writer(id) {
                    order.push((observation.offset, id, v));
                }
            }
            for pair in order.windows(2) {
                let ((_, earlier, a), (_, later, b)) = (pair[0], pair[1]);
                let why = Why {
                    observation: earlier,
                    observation_to: later,
                };
                link(a, b, Dependency::WriteWrite, why);
            }
        }

        // The highest read of each (key, reader).
        reads.sort_unstable();
        for group in reads.chunk_by(|a, b| (a.0, a.1) == (b.0, b.1)) {
            let (key, op, offset, _, read) = *group.last().expect("chunks are not empty");
            let reader = vertex(u64::from(op)).expect("every reader is a vertex");
            if let Some(w) = writer(read) {
                let why = Why {
                    observation: read,
                    observation_to: read,
                };
                link(w, reader, Dependency::WriteRead, why);
            }
            let order = &orders[key.slot()];
            let next = order.partition_point(|&(o, _, _)| o <= offset);
            if let Some(&(_, later, w)) = order.get(next) {
                let why = Why {
                    observation: read,
                    observation_to: later,
                };
                link(reader, w, Dependency::ReadWrite, why);
            }
        }
        // Neither is needed any more: free them before the graph's rows are built.
        drop(reads);
        drop(orders);
        drop(ranks);

        let graph = Graph::new(ops.len(), edges);
        DependencyGraph { ops, graph, whys }
    }

    /// One step of a cycle, in words: `op 3 sent x 1 before op 7 sent x 2 (ww)`.
    pub fn explain(&self, history: &History, from: u32, to: u32, label: Label) -> String {
        let why = self.whys[label.why as usize];
        let (a, b) = (self.ops[from as usize], self.ops[to as usize]);
        let log = history.log();
        let (seen, seen_to) = (
            log.observation(why.observation),
            log.observation(why.observation_to),
        );
        let key = history.key_name(seen.key);
        let (value, value_to) = (seen.value(log), seen_to.value(log));
        match label.kind {
            Dependency::WriteWrite => {
                format!("op {a} sent {key} {value} before op {b} sent {key} {value_to} (ww)")
            }
            Dependency::WriteRead => {
                format!("op {b} read {key} {value} that op {a} sent (wr)")
            }
            Dependency::ReadWrite => {
                format!("op {a} read {key} up to {value} and not op {b}'s later {value_to} (rw)")
            }
        }
    }
}
