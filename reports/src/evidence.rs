//! The proof behind an anomaly, in words: each proving op as one row (what it sent or read,
//! narrowed to the records that matter), the faults active while those ops ran and the node
//! events recorded between them (elections, truncations, ISR changes, controller moves), and a
//! summary of every anomaly of one name (which keys, offsets and values, when, under which
//! faults).
//! Markdown and HTML both render from these values.

use crate::input::{End, FaultWindow, Located, NodeMark, Outcome, Timeline, TimelineOp};
use crate::run_result::Anomaly;
use crate::text::{clip, duration, range, seconds};
use std::collections::BTreeMap;

/// At most this many records of one read are shown around an anomaly.
pub const FOCUS_RECORDS_MAX: usize = 8;
/// At most this many sends of one op are listed.
pub const SENDS_SHOWN_MAX: usize = 4;
/// Longest description of one op, in characters.
pub const WHAT_CHARS_MAX: usize = 400;
/// At most this many node events are cited after one anomaly; the rest are counted.
pub const NODE_EVENTS_CITED_MAX: usize = 6;
/// The node events worth citing and drawing: what moves data or leadership.
pub const NODE_KINDS_CITED: [&str; 5] =
    ["election", "truncation", "isr", "controller", "generation"];

/// Whether the reports cite and draw `mark` (fetches and producer ids stay in the file).
pub fn is_cited(mark: &NodeMark) -> bool {
    NODE_KINDS_CITED.contains(&mark.kind.as_str())
}

/// What an anomaly is about; reads and sends are narrowed to it.
#[derive(Clone, Copy, Debug, Default)]
pub struct Focus<'a> {
    pub key: Option<&'a str>,
    pub value: Option<i64>,
    pub offsets: &'a [u64],
}

impl<'a> Focus<'a> {
    pub fn of(anomaly: &'a Anomaly) -> Focus<'a> {
        Focus {
            key: anomaly.key.as_deref(),
            value: anomaly.value,
            offsets: &anomaly.offsets,
        }
    }

    fn is_empty(&self) -> bool {
        self.value.is_none() && self.offsets.is_empty()
    }

    fn wants(&self, offset: u64, value: i64) -> bool {
        self.value == Some(value)
            || self
                .offsets
                .iter()
                .any(|wanted| offset + 1 >= *wanted && offset <= wanted + 1)
    }
}

/// One history line, described for a person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpRow {
    pub index: u64,
    pub time_ns: u64,
    /// A client id or `nemesis`.
    pub process: String,
    /// `invoke`, `ok`, `fail`, `info`.
    pub kind: String,
    pub f: String,
    pub what: String,
}

/// Describes history line `index` as the timeline knows it.
pub fn op_row(located: &BTreeMap<u64, Located<'_>>, index: u64, focus: &Focus) -> OpRow {
    let row = |time_ns, process: String, kind: &str, f: String, what: String| OpRow {
        index,
        time_ns,
        process,
        kind: kind.to_string(),
        f,
        what: clip(&what, WHAT_CHARS_MAX),
    };
    match located.get(&index) {
        None => row(0, "?".into(), "?", "?".into(), "not in the timeline".into()),
        Some(Located::Op(op, end)) => {
            let process = op.process.to_string();
            match end {
                End::Invoke => row(
                    op.start_ns,
                    process,
                    "invoke",
                    op.f.clone(),
                    invoked(op, focus),
                ),
                End::Completion => row(
                    op.end_ns,
                    process,
                    op.outcome.as_str(),
                    op.f.clone(),
                    completed(op, focus),
                ),
                End::Event => row(
                    op.start_ns,
                    process,
                    op.outcome.as_str(),
                    op.f.clone(),
                    op.note.clone(),
                ),
            }
        }
        Some(Located::FaultStart(window)) => row(
            window.start_ns,
            "nemesis".into(),
            "info",
            format!("start-{}", window.fault),
            fault_words(window),
        ),
        Some(Located::FaultStop(window)) => row(
            window.stop_ns,
            "nemesis".into(),
            "info",
            format!("stop-{}", window.fault),
            format!("lifts {}", window.title()),
        ),
        Some(Located::Marker(marker)) => row(
            marker.time_ns,
            "nemesis".into(),
            "info",
            marker.name.clone(),
            marker_words(&marker.name).to_string(),
        ),
    }
}

fn marker_words(name: &str) -> &'static str {
    match name {
        "heal" => "every fault lifted",
        "drain" => "the final reads start",
        _ => "",
    }
}

/// `partition on broker-1 (one-way ...)`.
pub fn fault_words(window: &FaultWindow) -> String {
    if window.detail.is_empty() {
        window.title()
    } else {
        format!("{} ({})", window.title(), clip(&window.detail, 120))
    }
}

fn sends_words(op: &TimelineOp, focus: &Focus, with_offsets: bool) -> Vec<String> {
    let mut sends: Vec<_> = op.sends.iter().collect();
    // The sends the anomaly is about first; the rest keep their order.
    sends.sort_by_key(|send| {
        !(focus.value == Some(send.value)
            || send
                .offset
                .is_some_and(|offset| focus.offsets.contains(&offset)))
    });
    let mut words: Vec<String> = sends
        .iter()
        .take(SENDS_SHOWN_MAX)
        .map(|send| {
            let offset = match (with_offsets, op.outcome, send.offset) {
                (false, _, _) => String::new(),
                (true, _, Some(offset)) => format!(" at offset {offset}"),
                (true, Outcome::Fail, None) => " (not written)".into(),
                (true, _, None) => ", offset unknown".into(),
            };
            format!("{} value {}{offset}", send.key, send.value)
        })
        .collect();
    if sends.len() > SENDS_SHOWN_MAX {
        words.push(format!("{} more sends", sends.len() - SENDS_SHOWN_MAX));
    }
    words
}

fn invoked(op: &TimelineOp, focus: &Focus) -> String {
    let mut parts = sends_words(op, focus, false);
    if parts.is_empty() && !op.note.is_empty() {
        parts.push(op.note.clone());
    }
    parts.join("; ")
}

fn completed(op: &TimelineOp, focus: &Focus) -> String {
    let mut parts = sends_words(op, focus, true);
    let mut other_keys = 0;
    for read in &op.reads {
        if focus.key.is_some_and(|key| key != read.key) {
            other_keys += 1;
            continue;
        }
        parts.push(read_words(&read.key, &read.records, focus));
    }
    if other_keys > 0 {
        parts.push(format!("and {other_keys} other keys"));
    }
    if parts.is_empty() && !op.note.is_empty() {
        parts.push(op.note.clone());
    }
    let verb = match op.outcome {
        Outcome::Ok => "acknowledged",
        Outcome::Fail => "failed",
        Outcome::Info | Outcome::Open => "outcome unknown",
    };
    format!(
        "{} ({verb} {} after its invoke, op {})",
        parts.join("; "),
        duration(op.end_ns.saturating_sub(op.start_ns)),
        op.invoke
    )
}

/// `orders/0: 710 records, offsets 0–709; around the anomaly: 299→300, 300→361`.
pub fn read_words(key: &str, records: &[(u64, i64)], focus: &Focus) -> String {
    let (Some(low), Some(high)) = (
        records.iter().map(|r| r.0).min(),
        records.iter().map(|r| r.0).max(),
    ) else {
        return format!("{key}: no records (at its end)");
    };
    let mut words = format!(
        "{key}: {} records, offsets {}",
        records.len(),
        range(low, high)
    );
    let shown: Vec<String> = records
        .iter()
        .filter(|(offset, value)| focus.is_empty() || focus.wants(*offset, *value))
        .take(FOCUS_RECORDS_MAX)
        .map(|(offset, value)| format!("{offset}→{value}"))
        .collect();
    if !shown.is_empty() {
        let label = if focus.is_empty() {
            "first"
        } else {
            "around the anomaly (offset→value)"
        };
        words.push_str(&format!("; {label}: {}", shown.join(", ")));
    }
    words
}

/// Where in simulated time a history line sits: the interval of its op.
pub fn interval(located: &BTreeMap<u64, Located<'_>>, index: u64) -> Option<(u64, u64)> {
    Some(match located.get(&index)? {
        Located::Op(op, _) => (op.start_ns, op.end_ns),
        Located::FaultStart(window) => (window.start_ns, window.start_ns),
        Located::FaultStop(window) => (window.stop_ns, window.stop_ns),
        Located::Marker(marker) => (marker.time_ns, marker.time_ns),
    })
}

/// The faults active while an anomaly's proving ops ran: each window with the ops it
/// overlapped, in window order.
pub fn faults_during<'t>(
    timeline: &'t Timeline,
    located: &BTreeMap<u64, Located<'_>>,
    ops: &[u64],
) -> Vec<(&'t FaultWindow, Vec<u64>)> {
    let mut by_window: BTreeMap<usize, Vec<u64>> = BTreeMap::new();
    for index in ops {
        let Some((from, to)) = interval(located, *index) else {
            continue;
        };
        for (position, window) in timeline.faults.iter().enumerate() {
            if window.overlaps(from, to) {
                by_window.entry(position).or_default().push(*index);
            }
        }
    }
    by_window
        .into_iter()
        .filter_map(|(position, ops)| timeline.faults.get(position).map(|w| (w, ops)))
        .collect()
}

/// `partition on broker-1 (3.461 s–4.157 s)`.
pub fn window_words(window: &FaultWindow) -> String {
    let stop = if window.stop.is_some() {
        seconds(window.stop_ns)
    } else {
        "the end".to_string()
    };
    format!("{} ({}–{stop})", window.title(), seconds(window.start_ns))
}

/// The faults that ran between an anomaly's proving ops without overlapping any of them: a
/// power loss after a write was acknowledged and before the read that proves it lost is the
/// cause a reader is looking for, though no proving op saw it.
pub fn faults_between<'t>(
    timeline: &'t Timeline,
    located: &BTreeMap<u64, Located<'_>>,
    ops: &[u64],
    active: &[(&'t FaultWindow, Vec<u64>)],
) -> Vec<&'t FaultWindow> {
    let intervals: Vec<(u64, u64)> = ops
        .iter()
        .filter_map(|index| interval(located, *index))
        .collect();
    let (Some(first), Some(last)) = (
        intervals.iter().map(|(from, _)| *from).min(),
        intervals.iter().map(|(_, to)| *to).max(),
    ) else {
        return Vec::new();
    };
    timeline
        .faults
        .iter()
        .filter(|window| window.overlaps(first, last))
        .filter(|window| !active.iter().any(|(seen, _)| std::ptr::eq(*seen, *window)))
        .collect()
}

/// The node events recorded from the first proving op's start to the last one's end that are
/// about the anomaly's partition (or about none, like a controller move), in time order.
pub fn node_events_between<'t>(
    timeline: &'t Timeline,
    located: &BTreeMap<u64, Located<'_>>,
    anomaly: &Anomaly,
) -> Vec<&'t NodeMark> {
    let intervals: Vec<(u64, u64)> = anomaly
        .ops
        .iter()
        .filter_map(|index| interval(located, *index))
        .collect();
    let (Some(first), Some(last)) = (
        intervals.iter().map(|(from, _)| *from).min(),
        intervals.iter().map(|(_, to)| *to).max(),
    ) else {
        return Vec::new();
    };
    let about = |mark: &NodeMark| match (&mark.partition, &anomaly.key) {
        (Some(partition), Some(key)) => partition == key,
        _ => true,
    };
    timeline
        .node_events_within(first, last)
        .filter(|mark| is_cited(mark) && about(mark))
        .collect()
}

/// `Node events between them: broker-2 became leader of orders/0 at epoch 4 with log end 301;
/// broker-1 truncated orders/0 to 301.` — empty when none were recorded.
pub fn node_events_sentence(
    timeline: &Timeline,
    located: &BTreeMap<u64, Located<'_>>,
    anomaly: &Anomaly,
) -> String {
    let marks = node_events_between(timeline, located, anomaly);
    if marks.is_empty() {
        return String::new();
    }
    let mut words: Vec<String> = marks
        .iter()
        .take(NODE_EVENTS_CITED_MAX)
        .map(|mark| format!("{} ({})", mark.words, seconds(mark.time_ns)))
        .collect();
    if marks.len() > NODE_EVENTS_CITED_MAX {
        words.push(format!(
            "{} more in node-events.jsonl",
            marks.len() - NODE_EVENTS_CITED_MAX
        ));
    }
    format!("Node events between them: {}.", words.join("; "))
}

/// The node events an anomaly names as its proof (`detail.node_events`: lines of
/// `node-events.jsonl`), as the `cluster-invariants` check reports them; empty for an anomaly
/// proven by history ops.
pub fn proving_node_events<'t>(timeline: &'t Timeline, anomaly: &Anomaly) -> Vec<&'t NodeMark> {
    let Some(serde_json::Value::Array(indexes)) = anomaly.detail.get("node_events") else {
        return Vec::new();
    };
    indexes
        .iter()
        .filter_map(serde_json::Value::as_u64)
        .filter_map(|index| {
            let mark = timeline.node_events.get(usize::try_from(index).ok()?)?;
            (mark.index == index).then_some(mark)
        })
        .collect()
}

/// `Proven by node events: ... . Faults active then: ...` for an anomaly without proving ops.
fn node_proof_sentence(timeline: &Timeline, marks: &[&NodeMark]) -> String {
    let words: Vec<String> = marks
        .iter()
        .map(|mark| {
            format!(
                "{} ({}, node event {})",
                mark.words,
                seconds(mark.time_ns),
                mark.index
            )
        })
        .collect();
    let first = marks.iter().map(|mark| mark.time_ns).min().unwrap_or(0);
    let last = marks.iter().map(|mark| mark.time_ns).max().unwrap_or(0);
    let active: Vec<String> = timeline
        .faults_during(first, last)
        .into_iter()
        .map(window_words)
        .collect();
    let faults = if active.is_empty() {
        "No fault was active then.".to_string()
    } else {
        format!("Faults active then: {}.", active.join("; "))
    };
    format!("Proven by node events: {}. {faults}", words.join("; "))
}

/// The sentence after an anomaly's explanation: which faults were active while its proving ops
/// ran, which ran between them, or that none did; then the node events between them. An
/// anomaly proven by node events instead names them and the faults active then.
pub fn faults_sentence(
    timeline: &Timeline,
    located: &BTreeMap<u64, Located<'_>>,
    anomaly: &Anomaly,
) -> String {
    if anomaly.ops.is_empty() {
        let marks = proving_node_events(timeline, anomaly);
        if !marks.is_empty() {
            return node_proof_sentence(timeline, &marks);
        }
    }
    let faults = fault_windows_sentence(timeline, located, anomaly);
    let nodes = node_events_sentence(timeline, located, anomaly);
    if nodes.is_empty() {
        faults
    } else {
        format!("{faults} {nodes}")
    }
}

fn fault_windows_sentence(
    timeline: &Timeline,
    located: &BTreeMap<u64, Located<'_>>,
    anomaly: &Anomaly,
) -> String {
    let active = faults_during(timeline, located, &anomaly.ops);
    let between = faults_between(timeline, located, &anomaly.ops, &active);
    let between_words = || -> String {
        let words: Vec<String> = between.iter().map(|window| window_words(window)).collect();
        words.join("; ")
    };
    if active.is_empty() {
        if !between.is_empty() {
            return format!(
                "No fault was active while these ops ran, but between them: {}.",
                between_words()
            );
        }
        let first = anomaly
            .ops
            .iter()
            .filter_map(|index| interval(located, *index))
            .map(|(from, _)| from)
            .min()
            .unwrap_or(0);
        return match timeline.fault_before(first) {
            Some(window) => format!(
                "No fault was active while these ops ran; the last one lifted before them was {}.",
                window_words(window)
            ),
            None => "No fault was active while these ops ran.".to_string(),
        };
    }
    let words: Vec<String> = active
        .iter()
        .map(|(window, ops)| {
            let ops: Vec<String> = ops.iter().map(u64::to_string).collect();
            format!("{} during op {}", window_words(window), ops.join(", "))
        })
        .collect();
    if between.is_empty() {
        format!("Faults active: {}.", words.join("; "))
    } else {
        format!(
            "Faults active: {}. Between these ops also: {}.",
            words.join("; "),
            between_words()
        )
    }
}

/// A summary of every listed anomaly of one name: keys, offsets, values, when, under which
/// faults. `when` is each anomaly's earliest proving op.
pub fn group_sentence(
    timeline: &Timeline,
    located: &BTreeMap<u64, Located<'_>>,
    anomalies: &[Anomaly],
    omitted: u64,
) -> String {
    let total = anomalies.len() as u64 + omitted;
    let keys: std::collections::BTreeSet<&str> =
        anomalies.iter().filter_map(|a| a.key.as_deref()).collect();
    let offsets: Vec<u64> = anomalies
        .iter()
        .flat_map(|a| a.offsets.iter().copied())
        .collect();
    let values: Vec<i64> = anomalies.iter().filter_map(|a| a.value).collect();
    let mut words = format!(
        "{total} found{}",
        if omitted > 0 {
            format!(" ({omitted} not listed)")
        } else {
            String::new()
        }
    );
    if !keys.is_empty() {
        let keys: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
        words.push_str(&format!(" on {}", crate::text::list(&keys, 5)));
    }
    if let (Some(low), Some(high)) = (offsets.iter().min(), offsets.iter().max()) {
        let noun = if low == high { "offset" } else { "offsets" };
        words.push_str(&format!(", {noun} {}", range(low, high)));
    }
    if let (Some(low), Some(high)) = (values.iter().min(), values.iter().max()) {
        let noun = if low == high { "value" } else { "values" };
        words.push_str(&format!(", {noun} {}", range(low, high)));
    }
    words.push('.');
    let anchors: Vec<(u64, u64)> = anomalies
        .iter()
        .filter_map(|a| {
            a.ops
                .iter()
                .filter_map(|index| interval(located, *index))
                .min()
        })
        .collect();
    let (Some(first), Some(last)) = (
        anchors.iter().map(|a| a.0).min(),
        anchors.iter().map(|a| a.1).max(),
    ) else {
        return words;
    };
    let mut windows: Vec<&FaultWindow> = timeline
        .faults
        .iter()
        .filter(|window| anchors.iter().any(|(from, to)| window.overlaps(*from, *to)))
        .collect();
    windows.dedup_by_key(|w| w.start);
    let subject = if anchors.len() == 1 {
        "Its first proving op"
    } else {
        "Their first proving ops"
    };
    words.push_str(&format!(
        " {subject} ran {}",
        if first == last {
            format!("at {}", seconds(first))
        } else {
            format!("between {} and {}", seconds(first), seconds(last))
        }
    ));
    if windows.is_empty() {
        words.push_str(", while no fault was active.");
    } else {
        let names: Vec<String> = windows.iter().map(|w| window_words(w)).collect();
        words.push_str(&format!(
            ", while {} {} active.",
            names.join(" and "),
            if names.len() == 1 { "was" } else { "were" }
        ));
    }
    // The faults that ran between an anomaly's proving ops (after the acknowledgement, before
    // the read that proves the loss) are the likeliest cause; name them in the summary too.
    let mut between: Vec<&FaultWindow> = Vec::new();
    for anomaly in anomalies {
        let active = faults_during(timeline, located, &anomaly.ops);
        for window in faults_between(timeline, located, &anomaly.ops, &active) {
            let named = windows
                .iter()
                .chain(between.iter())
                .any(|w| std::ptr::eq(*w, window));
            if !named {
                between.push(window);
            }
        }
    }
    if !between.is_empty() {
        between.sort_by_key(|window| window.start);
        let names: Vec<String> = between.iter().map(|w| window_words(w)).collect();
        let whose = if anomalies.len() == 1 { "its" } else { "their" };
        words.push_str(&format!(
            " Between {whose} proving ops ran {}.",
            crate::text::list(&names, 5)
        ));
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::Outcome;

    fn op(invoke: u64, completion: u64, start_ns: u64, end_ns: u64) -> TimelineOp {
        TimelineOp {
            process: 1,
            f: "send".into(),
            invoke,
            completion: Some(completion),
            start_ns,
            end_ns,
            outcome: Outcome::Ok,
            sends: Vec::new(),
            reads: Vec::new(),
            note: String::new(),
        }
    }

    fn crash(start: u64, start_ns: u64, stop_ns: u64) -> FaultWindow {
        FaultWindow {
            fault: "crash".into(),
            nodes: vec!["broker-2".into()],
            detail: String::new(),
            start,
            start_ns,
            stop: Some(start + 1),
            stop_ns,
        }
    }

    fn lost_write(ops: Vec<u64>) -> Anomaly {
        Anomaly {
            key: Some("orders/0".into()),
            value: Some(17),
            offsets: vec![5],
            ops,
            explanation: String::new(),
            detail: BTreeMap::new(),
        }
    }

    /// A power loss after the write was acknowledged and before the read that proves it lost:
    /// no proving op overlaps it, yet it is the cause, and the sentence names it.
    #[test]
    fn a_crash_between_the_acknowledgement_and_the_read_is_named() {
        let timeline = Timeline {
            end_ns: 10_000,
            ops: vec![op(0, 1, 100, 200), op(4, 5, 5_000, 5_100)],
            faults: vec![crash(2, 1_000, 3_000)],
            markers: Vec::new(),
            workload_start_ns: None,
            node_events: Vec::new(),
        };
        let located = timeline.locator();
        let sentence = faults_sentence(&timeline, &located, &lost_write(vec![1, 5]));
        assert!(
            sentence.starts_with(
                "No fault was active while these ops ran, but between them: crash on broker-2"
            ),
            "{sentence}"
        );
    }

    #[test]
    fn a_crash_before_every_proving_op_is_not_between_them() {
        let timeline = Timeline {
            end_ns: 10_000,
            ops: vec![op(4, 5, 5_000, 5_100), op(6, 7, 6_000, 6_100)],
            faults: vec![crash(2, 1_000, 3_000)],
            markers: Vec::new(),
            workload_start_ns: None,
            node_events: Vec::new(),
        };
        let located = timeline.locator();
        let sentence = faults_sentence(&timeline, &located, &lost_write(vec![5, 7]));
        assert!(
            sentence.starts_with("No fault was active while these ops ran; the last one lifted"),
            "{sentence}"
        );
    }

    fn mark(index: u64, time_ns: u64, kind: &str, partition: &str, words: &str) -> NodeMark {
        NodeMark {
            time_ns,
            node: "broker-2".into(),
            kind: kind.into(),
            partition: Some(partition.into()),
            words: words.into(),
            index,
        }
    }

    /// The election and truncation between the acknowledgement and the read are cited; an
    /// event before the first proving op, one about another partition, and a fetch are not.
    #[test]
    fn node_events_between_the_proving_ops_are_cited() {
        let timeline = Timeline {
            end_ns: 10_000,
            ops: vec![op(0, 1, 100, 200), op(4, 5, 5_000, 5_100)],
            faults: Vec::new(),
            markers: Vec::new(),
            workload_start_ns: None,
            node_events: vec![
                mark(
                    0,
                    50,
                    "election",
                    "orders/0",
                    "broker-1 became leader of orders/0 at epoch 0 with log end 0",
                ),
                mark(
                    1,
                    1_000,
                    "election",
                    "orders/0",
                    "broker-2 became leader of orders/0 at epoch 4 with log end 301",
                ),
                mark(
                    2,
                    1_500,
                    "election",
                    "orders/1",
                    "broker-2 became leader of orders/1 at epoch 2 with log end 7",
                ),
                mark(
                    3,
                    1_600,
                    "fetch",
                    "orders/0",
                    "broker-3 (epoch 4) replicated orders/0 from broker-2 (epoch 4)",
                ),
                mark(
                    4,
                    2_000,
                    "truncation",
                    "orders/0",
                    "broker-1 truncated orders/0 to 301",
                ),
            ],
        };
        let located = timeline.locator();
        let sentence = faults_sentence(&timeline, &located, &lost_write(vec![1, 5]));
        assert_eq!(
            sentence,
            "No fault was active while these ops ran. Node events between them: broker-2 became \
             leader of orders/0 at epoch 4 with log end 301 (0.000 s); broker-1 truncated \
             orders/0 to 301 (0.000 s)."
        );
        let without = Timeline {
            node_events: Vec::new(),
            ..timeline.clone()
        };
        let located = without.locator();
        assert_eq!(
            faults_sentence(&without, &located, &lost_write(vec![1, 5])),
            "No fault was active while these ops ran."
        );
    }

    /// A cluster-invariants anomaly has no proving op: the node events it names are its proof,
    /// with the faults active while they happened.
    #[test]
    fn an_anomaly_proven_by_node_events_names_them_and_the_faults_then() {
        let timeline = Timeline {
            end_ns: 10_000,
            ops: Vec::new(),
            faults: vec![crash(0, 1_000, 3_000)],
            markers: Vec::new(),
            workload_start_ns: None,
            node_events: vec![
                mark(
                    0,
                    500,
                    "election",
                    "orders/0",
                    "broker-1 became leader of orders/0 at epoch 3 with log end 9",
                ),
                mark(
                    1,
                    2_000,
                    "election",
                    "orders/0",
                    "broker-2 became leader of orders/0 at epoch 3 with log end 9",
                ),
            ],
        };
        let mut anomaly = Anomaly::new("two leaders");
        anomaly
            .detail
            .insert("node_events".into(), serde_json::json!([0, 1]));
        let located = timeline.locator();
        assert_eq!(
            faults_sentence(&timeline, &located, &anomaly),
            "Proven by node events: broker-1 became leader of orders/0 at epoch 3 with log end 9 \
             (0.000 s, node event 0); broker-2 became leader of orders/0 at epoch 3 with log end 9 \
             (0.000 s, node event 1). Faults active then: crash on broker-2 (0.000 s–0.000 s)."
        );
        // An index the timeline does not hold proves nothing.
        anomaly
            .detail
            .insert("node_events".into(), serde_json::json!([7]));
        assert_eq!(
            faults_sentence(&timeline, &located, &anomaly),
            "No fault was active while these ops ran."
        );
    }
}
