//! From a [`History`] to the compact [`reports::Timeline`] the human-readable reports draw: one
//! interval per client op (invoke to completion, with its sends and reads decoded), the
//! nemesis' fault windows, and its phase markers. `reports` knows nothing of the harness, so
//! this conversion lives here.
//!
//! Fault windows pair each `start-<fault>` with the next `stop-<fault>` on the same nodes (or,
//! failing that, the oldest open window of the same fault). A window nothing stopped is closed
//! by the `heal` marker, or left open to the end of the history.

use crate::history::{BodyView, History, MopView, OpType, Process, F};
use crate::systems::faultline::{NodeEvent, NodeEventRecord};
use reports::{
    FaultWindow, KeyRecords, Marker, NodeMark, Outcome, SendPoint, Timeline, TimelineOp,
};
use serde_json::Value;
use std::collections::BTreeMap;

pub fn timeline(history: &History) -> Timeline {
    let mut ops: Vec<TimelineOp> = Vec::new();
    let mut position_of_invoke: BTreeMap<u64, usize> = BTreeMap::new();
    let mut faults: Vec<FaultWindow> = Vec::new();
    let mut open_faults: Vec<usize> = Vec::new();
    let mut markers = Vec::new();
    let mut workload_start_ns = None;

    for (position, (op, body)) in history.entries().enumerate() {
        let index = position as u64;
        // A history streamed from a file keeps only the free-form values (fault windows need
        // them); its typed ops go without a note.
        let value = history.value(index).unwrap_or(&Value::Null);
        match op.process {
            Process::Nemesis => match &op.f {
                F::Start(fault) => {
                    if workload_start_ns.is_none() {
                        workload_start_ns = workload_start(op.time, value);
                    }
                    open_faults.push(faults.len());
                    faults.push(FaultWindow {
                        fault: fault.clone(),
                        nodes: nodes(value),
                        detail: detail(value),
                        start: index,
                        start_ns: op.time,
                        stop: None,
                        stop_ns: op.time,
                    });
                }
                F::Stop(fault) => {
                    let stopped = nodes(value);
                    let same_fault = |slot: &usize| faults[*slot].fault == *fault;
                    let found = open_faults
                        .iter()
                        .position(|slot| same_fault(slot) && faults[*slot].nodes == stopped)
                        .or_else(|| open_faults.iter().position(same_fault));
                    if let Some(found) = found {
                        let slot = open_faults.remove(found);
                        faults[slot].stop = Some(index);
                        faults[slot].stop_ns = op.time;
                    }
                }
                other => {
                    if *other == F::Heal {
                        for slot in open_faults.drain(..) {
                            faults[slot].stop = Some(index);
                            faults[slot].stop_ns = op.time;
                        }
                    }
                    markers.push(Marker {
                        index,
                        time_ns: op.time,
                        name: other.name().into_owned(),
                    });
                }
            },
            Process::Client(process) => {
                if op.kind == OpType::Invoke {
                    position_of_invoke.insert(index, ops.len());
                    let (sends, _) = decode(history, body);
                    ops.push(TimelineOp {
                        process,
                        f: op.f.name().into_owned(),
                        invoke: index,
                        completion: None,
                        start_ns: op.time,
                        end_ns: op.time,
                        outcome: Outcome::Open,
                        sends,
                        reads: Vec::new(),
                        note: note(body, value),
                    });
                    continue;
                }
                let outcome = match op.kind {
                    OpType::Ok => Outcome::Ok,
                    OpType::Fail => Outcome::Fail,
                    _ => Outcome::Info,
                };
                let (sends, reads) = decode(history, body);
                let invoked = history
                    .invoke_of(index)
                    .and_then(|invoke| position_of_invoke.get(&invoke).copied());
                match invoked.and_then(|position| ops.get_mut(position)) {
                    Some(interval) => {
                        interval.completion = Some(index);
                        interval.end_ns = op.time;
                        interval.outcome = outcome;
                        if !sends.is_empty() {
                            interval.sends = sends;
                        }
                        interval.reads = reads;
                        interval.note = note(body, value);
                    }
                    // An event (`crash`, `sequence-gap`, `final-state`): one line.
                    None => ops.push(TimelineOp {
                        process,
                        f: op.f.name().into_owned(),
                        invoke: index,
                        completion: Some(index),
                        start_ns: op.time,
                        end_ns: op.time,
                        outcome,
                        sends,
                        reads,
                        note: note(body, value),
                    }),
                }
            }
        }
    }
    let end_ns = history.time_end();
    for slot in open_faults {
        faults[slot].stop_ns = end_ns;
    }
    Timeline {
        end_ns,
        ops,
        faults,
        markers,
        workload_start_ns,
        node_events: Vec::new(),
    }
}

/// The engine's node events as the reports draw and cite them, indexed by their line in
/// `node-events.jsonl`.
pub fn node_marks(records: &[NodeEventRecord]) -> Vec<NodeMark> {
    records
        .iter()
        .enumerate()
        .map(|(index, record)| {
            let (kind, partition) = match &record.event {
                NodeEvent::LeaderElected { tp, .. } => ("election", Some(tp)),
                NodeEvent::ControllerElected { .. } => ("controller", None),
                NodeEvent::IsrChanged { tp, .. } => ("isr", Some(tp)),
                NodeEvent::Truncated { tp, .. } => ("truncation", Some(tp)),
                NodeEvent::ReplicaFetched { tp, .. } => ("fetch", Some(tp)),
                NodeEvent::ProducerIdAssigned { tp, .. } => ("producer-id", Some(tp)),
                NodeEvent::GroupGeneration { .. } => ("generation", None),
            };
            let words = match &record.event {
                // The client is the node; the event's own words leave it out.
                NodeEvent::ProducerIdAssigned { .. } => format!("{} {}", record.node, record.event),
                event => event.to_string(),
            };
            NodeMark {
                time_ns: record.time,
                node: record.node.clone(),
                kind: kind.to_owned(),
                partition: partition.cloned(),
                words,
                index: index as u64,
            }
        })
        .collect()
}

/// A fault start records its `at_ms` on the workload clock; its op time is on the
/// simulation's. The difference is when the workload started.
fn workload_start(time_ns: u64, value: &Value) -> Option<u64> {
    let at_ns = value.get("at_ms")?.as_u64()?.checked_mul(1_000_000)?;
    time_ns.checked_sub(at_ns)
}

fn decode(history: &History, body: BodyView<'_>) -> (Vec<SendPoint>, Vec<KeyRecords>) {
    let mut sends = Vec::new();
    let mut reads = Vec::new();
    match body {
        BodyView::Mops(mops) => {
            for mop in mops {
                match mop {
                    MopView::Send(send) => sends.push(SendPoint {
                        key: history.key_name(send.key).to_string(),
                        value: send.value,
                        offset: send.offset,
                    }),
                    MopView::Poll(poll) => {
                        for key_reads in poll.reads().into_iter().flatten() {
                            reads.push(KeyRecords {
                                key: history.key_name(key_reads.key).to_string(),
                                records: key_reads
                                    .records
                                    .iter()
                                    .map(|record| (record.offset, record.value))
                                    .collect(),
                            });
                        }
                    }
                }
            }
        }
        BodyView::TxnSend(txn) => sends.push(SendPoint {
            key: history.key_name(txn.key).to_string(),
            value: txn.value,
            offset: None,
        }),
        _ => {}
    }
    (sends, reads)
}

/// Ops other than sends and polls keep their value as clipped JSON.
fn note(body: BodyView<'_>, value: &Value) -> String {
    if matches!(body, BodyView::Mops(_)) || value.is_null() {
        return String::new();
    }
    reports::text::clip(&value.to_string(), reports::NOTE_CHARS_MAX)
}

fn nodes(value: &Value) -> Vec<String> {
    value
        .get("nodes")
        .and_then(Value::as_array)
        .map(|nodes| {
            nodes
                .iter()
                .map(|node| match node.as_str() {
                    Some(text) => text.to_string(),
                    None => node.to_string(),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The fault's description: `detail` when the nemesis wrote one, else the whole value.
fn detail(value: &Value) -> String {
    let text = match value.get("detail") {
        Some(Value::String(detail)) => detail.clone(),
        Some(Value::Null) => String::new(),
        Some(other) => other.to_string(),
        None if value.is_null() || value.get("nodes").is_some() => String::new(),
        None => value.to_string(),
    };
    reports::text::clip(&text, reports::NOTE_CHARS_MAX)
}
