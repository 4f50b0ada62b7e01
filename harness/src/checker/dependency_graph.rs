//! The dependency graph between operations that Elle (and Jepsen's Kafka checker) draws from a
//! history of sends and polls on several keys. Vertices are ops that certainly happened: ok
//! `send`/`poll`/`txn` ops, and info ops proven written (one of their values was read). Each
//! key's version order is its inferred log (offsets ascending); an offset observed holding two
//! values takes the first in the log's order (log-consistency reports the conflict).
//!
//! - `ww`: op A wrote the value just before op B's value in a key's version order.
//! - `wr`: op B read a value op A wrote. Only the highest-offset read of each key per op is
//!   drawn: the lower ones reach B through the `ww` chain to it, so cycles are the same.
//!
//! Elle's third kind, `rw` (op A's highest read of a key is followed in the version order by
//! op B's write: A did not see it), is not drawn: [`super::txn_graph`] searches no cycle
//! through one (a poll reads a prefix of each partition, so not seeing a later write promises
//! nothing), and an edge no search follows changes no cycle, component or explanation.
//!
//! Edges never join an op to itself. Building the graph is two passes over the log (one
//! counts each vertex's edges, one places them in its row), each sorting only one op's reads
//! at a time: n log n, and no list of the edges or of the reads beside the rows (only each
//! write's vertex, 4 bytes, and each version's observation and vertex, 8 bytes, while the
//! graph is built).

use super::scc::Graph;
use crate::history::ranks::Ranks;
use crate::history::{History, InferredLog, KeyId, Observation, Source, Write, WriteKind, F};

/// Which way one op depends on another.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Dependency {
    WriteWrite,
    WriteRead,
}

impl Dependency {
    pub fn as_str(self) -> &'static str {
        match self {
            Dependency::WriteWrite => "ww",
            Dependency::WriteRead => "wr",
        }
    }
}

/// No vertex: the entry of a write the graph does not draw.
const NO_VERTEX: u32 = u32::MAX;

/// Set in a [`Label`] for a `wr` edge.
const WRITE_READ: u32 = 1 << 31;

/// An edge's label: its kind, and why it exists as one observation of
/// [`crate::history::InferredLog`], in 4 bytes (the key and values are read back when the edge
/// is explained). `ww`: the earlier write's place in the version order (the later one is the
/// next version after it, found again when explained); `wr`: the read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Label(u32);

impl Label {
    fn new(kind: Dependency, observation: u32) -> Label {
        assert!(observation < WRITE_READ, "observation ids fit 31 bits");
        match kind {
            Dependency::WriteWrite => Label(observation),
            Dependency::WriteRead => Label(observation | WRITE_READ),
        }
    }

    pub fn kind(self) -> Dependency {
        if self.0 & WRITE_READ == 0 {
            Dependency::WriteWrite
        } else {
            Dependency::WriteRead
        }
    }

    /// The observation that explains the edge.
    pub fn observation(self) -> u32 {
        self.0 & !WRITE_READ
    }
}

#[derive(Debug)]
pub struct DependencyGraph {
    /// The vertices: op indexes (the completion; the invoke of an op that never completed),
    /// numbered in index order.
    ops: Ranks,
    pub graph: Graph<Label>,
}

/// The write of what observation `id` saw, if the graph draws it: a proven send. The log
/// matched every observation with the write of its (key, value) when it was built, so no
/// value-table lookup is needed here.
fn drawn_write(log: &InferredLog, id: u32) -> Option<&Write> {
    let write = log.write(log.observation(id).write()?);
    drawn(write).then_some(write)
}

/// Does the graph draw `write`: is it a proven send?
fn drawn(write: &Write) -> bool {
    write.kind() == WriteKind::Send && write.proven()
}

/// The op of a drawn write: its completion, or its invoke when it never completed.
fn writer_op(write: &Write) -> u64 {
    write.completion().unwrap_or(write.invoke())
}

impl DependencyGraph {
    pub fn build(history: &History) -> DependencyGraph {
        let log = history.log();
        let is_read = |o: &Observation| {
            o.source == Source::Read && matches!(history.f(o.op()), F::Send | F::Poll | F::Txn)
        };
        // The op of each proven send write, and of every read of a poll or txn. Op index ->
        // vertex: a rank in a bitmap of the vertices (1.5 bits an op of the history, not a
        // u32 table as long as it), constant time.
        let writers = log.writes.iter().filter(|write| drawn(write));
        let readers = log.observations.iter().filter(|o| is_read(o));
        let ops = Ranks::new(
            history.len() as u64,
            writers.map(writer_op).chain(readers.map(|o| o.op())),
        );
        let vertex = |op: u64| ops.rank(op);
        // Write -> its op's vertex when the graph draws it, else NO_VERTEX: looked up once per
        // write, in write order. Both passes below find an observation's writer in this
        // 4-byte table; reading the 40-byte write and ranking its op there instead cost a
        // cache miss each time (the version orders and the reads visit writes in no useful
        // order), nearly half the graph's build. Freed once the graph is built.
        let writer_vertex: Vec<u32> = log
            .writes
            .iter()
            .map(|write| {
                if drawn(write) {
                    vertex(writer_op(write)).expect("every drawn write's op is a vertex")
                } else {
                    NO_VERTEX
                }
            })
            .collect();
        let writer = |id: u32| {
            let write = log.observation(id).write()?;
            Some(writer_vertex[write as usize]).filter(|&v| v != NO_VERTEX)
        };

        // Per key, its versions in order: (observation, writer vertex) of each offset's first
        // observation of a drawn write, keys one after another; and where each key's end.
        // Gathered once (8 bytes a version while the graph is built): both passes below
        // walked the version orders instead, a cache miss per observation each time.
        let mut versions: Vec<(u32, u32)> = Vec::new();
        let mut versions_end: Vec<usize> = Vec::with_capacity(log.keys.len());
        for key_log in &log.keys {
            for run in key_log.runs.iter() {
                let ids = &key_log.order[run.range];
                // One write seen at the offset: its first observation stands for all, and
                // the write is known without reading it.
                let version = match run.write {
                    Some(write) => Some(writer_vertex[write as usize])
                        .filter(|&v| v != NO_VERTEX)
                        .map(|b| (ids[0], b)),
                    None => ids.iter().find_map(|&id| Some((id, writer(id)?))),
                };
                versions.extend(version);
            }
            versions_end.push(versions.len());
        }

        // One reader's reads at a time: (key, offset, observation).
        let mut reads: Vec<(KeyId, u64, u32)> = Vec::new();
        let graph = Graph::from_edges(ops.len(), |edge| {
            let mut link = |from: u32, to: u32, label: Label| {
                if from != to {
                    edge(from, to, label);
                }
            };
            // Each key's successive versions.
            let mut start = 0;
            for &end in &versions_end {
                for pair in versions[start..end].windows(2) {
                    let ((earlier, a), (_, b)) = (pair[0], pair[1]);
                    link(a, b, Label::new(Dependency::WriteWrite, earlier));
                }
                start = end;
            }

            // The highest read of each (key, reader). The log keeps an op's reads together,
            // in op order; within a reader, keys ascending. Of two values read at one offset
            // the higher is taken (then the later observation), whatever order they were seen
            // in: values are compared only there, so only there is a read's write looked up.
            let mut draw = |op: u64, reads: &mut Vec<(KeyId, u64, u32)>| {
                let reader = vertex(op).expect("every reader is a vertex");
                reads.sort_unstable_by_key(|&(key, offset, _)| (key, offset));
                for group in reads.chunk_by(|a, b| a.0 == b.0) {
                    let (_, offset, last) = *group.last().expect("chunks are not empty");
                    let highest = group.iter().rev().take_while(|read| read.1 == offset);
                    let read = if highest.clone().nth(1).is_none() {
                        last
                    } else {
                        highest
                            .map(|&(_, _, read)| read)
                            .max_by_key(|&read| (log.value_seen(log.observation(read)), read))
                            .expect("the last read is among them")
                    };
                    if let Some(w) = writer(read) {
                        link(w, reader, Label::new(Dependency::WriteRead, read));
                    }
                }
                reads.clear();
            };
            let mut reader: Option<u64> = None;
            for (id, o) in log.observations.iter().enumerate() {
                if !is_read(o) {
                    continue;
                }
                if let Some(op) = reader.filter(|&op| op != o.op()) {
                    assert!(op < o.op(), "the log keeps reads in op order");
                    draw(op, &mut reads);
                }
                reader = Some(o.op());
                reads.push((o.key, o.offset, id as u32));
            }
            if let Some(op) = reader {
                draw(op, &mut reads);
            }
        });
        drop((writer_vertex, versions));
        DependencyGraph { ops, graph }
    }

    /// The op of vertex `v`.
    pub fn op(&self, v: u32) -> u64 {
        self.ops.member(v)
    }

    /// One step of a cycle, in words: `op 3 sent x 1 before op 7 sent x 2 (ww)`.
    pub fn explain(&self, history: &History, from: u32, to: u32, label: Label) -> String {
        let (a, b) = (self.op(from), self.op(to));
        let log = history.log();
        let seen = log.observation(label.observation());
        let key = history.key_name(seen.key);
        let value = log.value_seen(seen);
        match label.kind() {
            Dependency::WriteWrite => {
                let value_to =
                    log.value_seen(log.observation(next_version(log, label.observation())));
                format!("op {a} sent {key} {value} before op {b} sent {key} {value_to} (ww)")
            }
            Dependency::WriteRead => {
                format!("op {b} read {key} {value} that op {a} sent (wr)")
            }
        }
    }
}

/// The version after observation `earlier` in its key's version order as the graph draws it:
/// the first observation at a higher offset of a drawn write. Only explanations look for it:
/// a search of the key's order, then a walk over what lies between two versions (each `ww`
/// edge of a cycle walks its own stretch of the log).
fn next_version(log: &InferredLog, earlier: u32) -> u32 {
    let seen = log.observation(earlier);
    let order = &log.key(seen.key).order;
    let after = order.partition_point(|&id| log.observation(id).offset <= seen.offset);
    order[after..]
        .iter()
        .copied()
        .find(|&id| drawn_write(log, id).is_some())
        .expect("a ww edge's later version follows its earlier one")
}
