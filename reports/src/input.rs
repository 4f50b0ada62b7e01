//! What a run's human-readable reports are rendered from: the [`RunResult`], how it compares
//! with the scenario's expectation, and a compact [`Timeline`] of the history. The harness
//! builds a `ReportInput` from its history; every renderer here (`report.md`, `report.html`,
//! the SVG plots) is a pure function of it, so equal inputs render to equal bytes.
//!
//! The timeline keeps what a reader needs to see a run, not the whole history: one interval
//! per client op (invoke to completion) with its sends and reads, the nemesis' fault windows,
//! and the driver's phase markers. History indexes are kept everywhere, so every picture points
//! back at `history.jsonl` lines.

use crate::run_result::RunResult;
use std::collections::BTreeMap;

/// Everything `report.md`, `report.html` and the SVG plots are drawn from.
#[derive(Clone, Debug, PartialEq)]
pub struct ReportInput {
    pub result: RunResult,
    pub judgement: Judgement,
    /// The scenario's description (may be empty).
    pub description: String,
    pub timeline: Timeline,
    /// Each consumer group's backlog over time, by group name; empty without groups.
    pub backlog: Vec<Backlog>,
}

/// One consumer group's backlog (lag): messages acknowledged to its topics but not yet
/// committed by it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Backlog {
    pub group: String,
    /// `(simulated ns, messages)`, in time order, one point per plot bucket.
    pub points: Vec<(u64, u64)>,
    /// When members subscribed (joined, or rejoined after a crash), in time order.
    pub joins_ns: Vec<u64>,
}

impl Backlog {
    /// The largest backlog and when it was first reached.
    pub fn peak(&self) -> Option<(u64, u64)> {
        self.points
            .iter()
            .copied()
            .fold(None, |best: Option<(u64, u64)>, (time, lag)| match best {
                Some((_, top)) if top >= lag => best,
                _ => Some((time, lag)),
            })
    }
}

/// The run against its scenario's `expect`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Judgement {
    /// The expectation in words, e.g. `valid` or `invalid with lost-write`.
    pub expected: String,
    pub met: Met,
}

/// Whether a run met its scenario's expectation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Met {
    Yes,
    /// The run contradicts the expectation, and why.
    No(String),
    /// The run could not be judged, and why.
    Unjudged(String),
}

impl Met {
    /// `yes`, `no` or `unjudged`: the spelling in `summary.json`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Met::Yes => "yes",
            Met::No(_) => "no",
            Met::Unjudged(_) => "unjudged",
        }
    }

    pub fn reason(&self) -> Option<&str> {
        match self {
            Met::Yes => None,
            Met::No(reason) | Met::Unjudged(reason) => Some(reason),
        }
    }
}

/// How a client op ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    /// Definitely happened.
    Ok,
    /// Definitely did not happen.
    Fail,
    /// May or may not have happened.
    Info,
    /// Never completed (the run ended, or the process crashed): treated like `info`.
    Open,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Fail => "fail",
            Outcome::Info => "info",
            Outcome::Open => "open",
        }
    }
}

/// The history, compacted for pictures.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Timeline {
    /// Simulated nanoseconds of the last op.
    pub end_ns: u64,
    /// Client ops in invoke order (events such as `crash` are ops whose invoke is their
    /// completion).
    pub ops: Vec<TimelineOp>,
    /// Fault windows in start order.
    pub faults: Vec<FaultWindow>,
    /// Nemesis ops that are not fault starts or stops (`heal`, `drain`, ...), in order.
    pub markers: Vec<Marker>,
    /// When the workload clock started, in simulated nanoseconds, if the history shows it (a
    /// fault start records its `at`). Report times count from the simulation's start; a
    /// scenario's `at:` counts from the workload's, which begins after setup.
    pub workload_start_ns: Option<u64>,
    /// What the nodes recorded (elections, controller moves, ISR changes, truncations), in
    /// time order; empty when the run collected none (real mode, a re-checked history).
    pub node_events: Vec<NodeMark>,
}

/// One node event, as the reports draw and cite it (the harness converts the engine's events:
/// `reports` knows nothing of the engine).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeMark {
    pub time_ns: u64,
    /// The node that recorded it: `broker-2`.
    pub node: String,
    /// `election`, `controller`, `isr`, `truncation`, `generation`, `fetch` or `producer-id`.
    pub kind: String,
    /// The partition it is about, if any: `orders/0`.
    pub partition: Option<String>,
    /// The event as a sentence: `broker-2 became leader of orders/0 at epoch 4 with log end 301`.
    pub words: String,
    /// Its line in `node-events.jsonl`, counting from 0.
    pub index: u64,
}

/// One client op: invoke to completion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimelineOp {
    /// The client process id.
    pub process: u64,
    /// The op's function (`send`, `poll`, `txn`, ...).
    pub f: String,
    /// History index of the invoke.
    pub invoke: u64,
    /// History index of the completion; `None` when it never completed.
    pub completion: Option<u64>,
    pub start_ns: u64,
    /// Completion time; `start_ns` for an op that never completed.
    pub end_ns: u64,
    pub outcome: Outcome,
    /// Send micro-ops, with the offsets the completion reported.
    pub sends: Vec<SendPoint>,
    /// Records the completion returned, per key in the order returned.
    pub reads: Vec<KeyRecords>,
    /// The value of any other function, as compact JSON clipped to [`NOTE_CHARS_MAX`].
    pub note: String,
}

/// Longest [`TimelineOp::note`], in characters.
pub const NOTE_CHARS_MAX: usize = 160;

/// One sent value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SendPoint {
    pub key: String,
    pub value: i64,
    /// `None` when the client never learned it.
    pub offset: Option<u64>,
}

/// The records one op read from one key, `(offset, value)` in the order returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRecords {
    pub key: String,
    pub records: Vec<(u64, i64)>,
}

/// One fault, from the nemesis' `start-<fault>` to its `stop-<fault>` (or the heal).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultWindow {
    /// `partition`, `crash`, `clog`, ...
    pub fault: String,
    /// The nodes it hit.
    pub nodes: Vec<String>,
    /// The nemesis' own description of the fault (may be empty).
    pub detail: String,
    /// History index of the `start-<fault>` op.
    pub start: u64,
    pub start_ns: u64,
    /// History index of the op that lifted it (`stop-<fault>` or `heal`); `None` when nothing
    /// did before the history ended.
    pub stop: Option<u64>,
    /// When it was lifted; the end of the history when nothing lifted it.
    pub stop_ns: u64,
}

impl FaultWindow {
    /// Whether the fault was active at some moment of `[from_ns, to_ns]`.
    pub fn overlaps(&self, from_ns: u64, to_ns: u64) -> bool {
        self.start_ns <= to_ns && from_ns < self.stop_ns.max(self.start_ns + 1)
    }

    /// `partition on broker-1`.
    pub fn title(&self) -> String {
        if self.nodes.is_empty() {
            self.fault.clone()
        } else {
            format!("{} on {}", self.fault, self.nodes.join(", "))
        }
    }
}

/// A nemesis op that marks a moment: `heal`, `drain`, or another nemesis function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Marker {
    pub index: u64,
    pub time_ns: u64,
    pub name: String,
}

/// Which end of a timeline op a history index names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    Invoke,
    Completion,
    /// An event: invoke and completion are one line.
    Event,
}

/// What a history index points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Located<'a> {
    Op(&'a TimelineOp, End),
    FaultStart(&'a FaultWindow),
    FaultStop(&'a FaultWindow),
    Marker(&'a Marker),
}

impl Timeline {
    /// Maps every history index the timeline holds to where it is.
    pub fn locator(&self) -> BTreeMap<u64, Located<'_>> {
        let mut located = BTreeMap::new();
        for op in &self.ops {
            match op.completion {
                Some(completion) if completion == op.invoke => {
                    located.insert(op.invoke, Located::Op(op, End::Event));
                }
                Some(completion) => {
                    located.insert(op.invoke, Located::Op(op, End::Invoke));
                    located.insert(completion, Located::Op(op, End::Completion));
                }
                None => {
                    located.insert(op.invoke, Located::Op(op, End::Invoke));
                }
            }
        }
        for window in &self.faults {
            located.insert(window.start, Located::FaultStart(window));
            if let Some(stop) = window.stop {
                located.entry(stop).or_insert(Located::FaultStop(window));
            }
        }
        for marker in &self.markers {
            located.insert(marker.index, Located::Marker(marker));
        }
        located
    }

    /// The fault windows active at some moment of `[from_ns, to_ns]`, in start order.
    pub fn faults_during(&self, from_ns: u64, to_ns: u64) -> Vec<&FaultWindow> {
        self.faults
            .iter()
            .filter(|window| window.overlaps(from_ns, to_ns))
            .collect()
    }

    /// The node events recorded within `[from_ns, to_ns]`, in time order.
    pub fn node_events_within(&self, from_ns: u64, to_ns: u64) -> impl Iterator<Item = &NodeMark> {
        let start = self
            .node_events
            .partition_point(|mark| mark.time_ns < from_ns);
        self.node_events[start..]
            .iter()
            .take_while(move |mark| mark.time_ns <= to_ns)
    }

    /// The last fault lifted at or before `time_ns`, if any.
    pub fn fault_before(&self, time_ns: u64) -> Option<&FaultWindow> {
        self.faults
            .iter()
            .filter(|window| window.stop_ns <= time_ns)
            .max_by_key(|window| (window.stop_ns, window.start))
    }
}
