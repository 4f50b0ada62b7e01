//! The per-partition offset view: for each key, a row per offset with the value a producer was
//! told landed there and the values each reader saw there. Cells the anomalies name are marked:
//! an acknowledged value nobody read is *lost*, a value seen at two offsets is a *duplicate*, a
//! reader that saw something else than was acknowledged *differs*.
//!
//! Bounded: [`KEYS_MAX`] keys, [`READERS_MAX`] readers and [`ROWS_PER_KEY_MAX`] rows per key.
//! When a key has more offsets than rows, the marked rows (with [`CONTEXT_ROWS`] neighbours)
//! are kept and the unremarkable ones hidden; the view says how many.

use crate::input::{Outcome, ReportInput};
use crate::run_result::RunResult;
use std::collections::{BTreeMap, BTreeSet};

pub const KEYS_MAX: usize = 32;
pub const READERS_MAX: usize = 16;
pub const ROWS_PER_KEY_MAX: usize = 300;
/// Rows shown of a key no anomaly names: a sample of its head, the rest is in the history.
pub const UNMARKED_ROWS_MAX: usize = 40;
/// Unmarked rows kept on each side of a marked one.
pub const CONTEXT_ROWS: u64 = 2;

/// How a cell relates to the anomalies, most serious first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Mark {
    Lost,
    Duplicate,
    Differs,
    Anomaly,
    None,
}

impl Mark {
    /// The CSS class and the word shown in the legend.
    pub fn class(self) -> &'static str {
        match self {
            Mark::Lost => "lost",
            Mark::Duplicate => "dup",
            Mark::Differs => "differs",
            Mark::Anomaly => "anomaly",
            Mark::None => "",
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cell {
    pub values: Vec<i64>,
    /// Those of `values` an anomaly names as lost (acknowledged cells only).
    pub lost: Vec<i64>,
    pub mark: Option<Mark>,
    /// The anomaly names behind the mark.
    pub names: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub offset: u64,
    /// Offsets were hidden between the previous row and this one.
    pub gap_before: bool,
    pub acked: Cell,
    /// One cell per reader of [`KeyView::readers`].
    pub seen: Vec<Cell>,
}

/// Which rows of a key the view kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shown {
    All,
    /// The rows the anomalies name, with their neighbours.
    Marked,
    /// The first rows (nothing on this key is marked).
    Head,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyView {
    pub key: String,
    /// Reader process ids, ascending.
    pub readers: Vec<u64>,
    pub readers_hidden: usize,
    pub rows: Vec<Row>,
    pub shown: Shown,
    pub offsets_total: usize,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OffsetView {
    pub keys: Vec<KeyView>,
    pub keys_hidden: usize,
}

const LOSS_NAMES: [&str; 3] = ["lost-write", "unseen", "txn-committed-lost"];
const DUPLICATE_NAMES: [&str; 3] = ["duplicate", "txn-duplicate", "double-apply"];

/// Anomaly names per (key, offset) and per (key, value).
struct Marks<'a> {
    offsets: BTreeMap<(&'a str, u64), BTreeSet<&'a str>>,
    values: BTreeMap<(&'a str, i64), BTreeSet<&'a str>>,
}

impl<'a> Marks<'a> {
    fn of(result: &'a RunResult) -> Marks<'a> {
        let mut marks = Marks {
            offsets: BTreeMap::new(),
            values: BTreeMap::new(),
        };
        for (name, anomalies) in &result.anomalies {
            for anomaly in anomalies {
                let Some(key) = anomaly.key.as_deref() else {
                    continue;
                };
                for offset in &anomaly.offsets {
                    marks
                        .offsets
                        .entry((key, *offset))
                        .or_default()
                        .insert(name);
                }
                if let Some(value) = anomaly.value {
                    marks.values.entry((key, value)).or_default().insert(name);
                }
            }
        }
        marks
    }

    fn names(&self, key: &'a str, offset: u64, values: &[i64]) -> BTreeSet<&'a str> {
        let mut names = self
            .offsets
            .get(&(key, offset))
            .cloned()
            .unwrap_or_default();
        for value in values {
            if let Some(more) = self.values.get(&(key, *value)) {
                names.extend(more);
            }
        }
        names
    }

    fn value_named(&self, key: &str, values: &[i64], wanted: &[&str]) -> bool {
        values.iter().any(|value| {
            self.values
                .get(&(key, *value))
                .is_some_and(|names| names.iter().any(|name| wanted.contains(name)))
        })
    }
}

#[derive(Default)]
struct KeyData {
    acked: BTreeMap<u64, BTreeSet<i64>>,
    seen: BTreeMap<u64, BTreeMap<u64, BTreeSet<i64>>>,
    readers: BTreeSet<u64>,
}

/// Builds the view from the timeline's sends and reads.
pub fn offset_view(input: &ReportInput) -> OffsetView {
    let mut keys: BTreeMap<&str, KeyData> = BTreeMap::new();
    for op in &input.timeline.ops {
        if op.outcome == Outcome::Ok {
            for send in &op.sends {
                if let Some(offset) = send.offset {
                    let data = keys.entry(&send.key).or_default();
                    data.acked.entry(offset).or_default().insert(send.value);
                }
            }
        }
        for read in &op.reads {
            let data = keys.entry(&read.key).or_default();
            if !read.records.is_empty() {
                data.readers.insert(op.process);
            }
            for (offset, value) in &read.records {
                data.seen
                    .entry(*offset)
                    .or_default()
                    .entry(op.process)
                    .or_default()
                    .insert(*value);
            }
        }
    }
    let marks = Marks::of(&input.result);
    let keys_total = keys.len();
    let views = keys
        .into_iter()
        .take(KEYS_MAX)
        .map(|(key, data)| key_view(key, &data, &marks))
        .collect();
    OffsetView {
        keys: views,
        keys_hidden: keys_total.saturating_sub(KEYS_MAX),
    }
}

fn key_view<'a>(key: &'a str, data: &KeyData, marks: &Marks<'a>) -> KeyView {
    let readers: Vec<u64> = data.readers.iter().copied().take(READERS_MAX).collect();
    let mut offsets: BTreeSet<u64> = data.acked.keys().copied().collect();
    offsets.extend(data.seen.keys().copied());
    offsets.extend(
        marks
            .offsets
            .keys()
            .filter(|(k, _)| *k == key)
            .map(|(_, offset)| *offset),
    );
    let rows: Vec<Row> = offsets
        .iter()
        .map(|offset| row(key, *offset, data, &readers, marks))
        .collect();
    let offsets_total = rows.len();
    let (rows, shown) = bound(rows);
    KeyView {
        key: key.to_string(),
        readers,
        readers_hidden: data.readers.len().saturating_sub(READERS_MAX),
        rows,
        shown,
        offsets_total,
    }
}

fn row(key: &str, offset: u64, data: &KeyData, readers: &[u64], marks: &Marks) -> Row {
    let acked: Vec<i64> = data
        .acked
        .get(&offset)
        .map(|values| values.iter().copied().collect())
        .unwrap_or_default();
    let acked_cell = {
        let names = marks.names(key, offset, &acked);
        let mark = if acked.is_empty() {
            None
        } else if marks.value_named(key, &acked, &LOSS_NAMES) {
            Some(Mark::Lost)
        } else if marks.value_named(key, &acked, &DUPLICATE_NAMES) {
            Some(Mark::Duplicate)
        } else if !names.is_empty() {
            Some(Mark::Anomaly)
        } else {
            None
        };
        let mut cell = cell(acked.clone(), mark, names);
        cell.lost = acked
            .iter()
            .copied()
            .filter(|value| marks.value_named(key, &[*value], &LOSS_NAMES))
            .collect();
        cell
    };
    let seen = readers
        .iter()
        .map(|reader| {
            let values: Vec<i64> = data
                .seen
                .get(&offset)
                .and_then(|by_reader| by_reader.get(reader))
                .map(|values| values.iter().copied().collect())
                .unwrap_or_default();
            let names = marks.names(key, offset, &values);
            let mark = if values.is_empty() {
                None
            } else if marks.value_named(key, &values, &DUPLICATE_NAMES) {
                Some(Mark::Duplicate)
            } else if values.len() > 1
                || (!acked.is_empty() && values.iter().any(|value| !acked.contains(value)))
            {
                Some(Mark::Differs)
            } else if !names.is_empty() {
                Some(Mark::Anomaly)
            } else {
                None
            };
            cell(values, mark, names)
        })
        .collect();
    Row {
        offset,
        gap_before: false,
        acked: acked_cell,
        seen,
    }
}

fn cell(values: Vec<i64>, mark: Option<Mark>, names: BTreeSet<&str>) -> Cell {
    Cell {
        values,
        lost: Vec::new(),
        names: if mark.is_some() {
            names.into_iter().map(String::from).collect()
        } else {
            Vec::new()
        },
        mark,
    }
}

fn marked(row: &Row) -> bool {
    row.acked.mark.is_some() || row.seen.iter().any(|cell| cell.mark.is_some())
}

/// Keeps at most [`ROWS_PER_KEY_MAX`] rows: the marked rows with their neighbours when there
/// are too many, or the first [`UNMARKED_ROWS_MAX`] when nothing is marked.
fn bound(rows: Vec<Row>) -> (Vec<Row>, Shown) {
    let any_marked = rows.iter().any(marked);
    let (mut kept, shown) = if !any_marked && rows.len() > UNMARKED_ROWS_MAX {
        (
            rows.into_iter().take(UNMARKED_ROWS_MAX).collect(),
            Shown::Head,
        )
    } else if rows.len() > ROWS_PER_KEY_MAX {
        (keep_marked(rows), Shown::Marked)
    } else {
        (rows, Shown::All)
    };
    // A gap is any missing offset: hidden here, or never acknowledged nor read by anyone.
    let mut previous: Option<u64> = None;
    for row in &mut kept {
        row.gap_before = previous.is_some_and(|p| row.offset > p + 1);
        previous = Some(row.offset);
    }
    (kept, shown)
}

fn keep_marked(rows: Vec<Row>) -> Vec<Row> {
    let marked_offsets: Vec<u64> = rows
        .iter()
        .filter(|r| marked(r))
        .map(|r| r.offset)
        .collect();
    let near = |offset: u64| {
        marked_offsets
            .iter()
            .any(|m| offset + CONTEXT_ROWS >= *m && offset <= m + CONTEXT_ROWS)
    };
    rows.into_iter()
        .filter(|row| near(row.offset))
        .take(ROWS_PER_KEY_MAX)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::{Judgement, KeyRecords, Met, SendPoint, Timeline, TimelineOp};
    use crate::run_result::{Anomaly, Stats, Verdict};

    fn op(process: u64, invoke: u64, sends: Vec<(i64, u64)>, reads: Vec<(u64, i64)>) -> TimelineOp {
        TimelineOp {
            process,
            f: if reads.is_empty() { "send" } else { "poll" }.to_string(),
            invoke,
            completion: Some(invoke + 1),
            start_ns: invoke,
            end_ns: invoke + 1,
            outcome: Outcome::Ok,
            sends: sends
                .into_iter()
                .map(|(value, offset)| SendPoint {
                    key: "k/0".into(),
                    value,
                    offset: Some(offset),
                })
                .collect(),
            reads: vec![KeyRecords {
                key: "k/0".into(),
                records: reads,
            }],
            note: String::new(),
        }
    }

    fn anomaly(value: i64, offsets: Vec<u64>) -> Anomaly {
        Anomaly {
            key: Some("k/0".into()),
            value: Some(value),
            offsets,
            ..Anomaly::default()
        }
    }

    #[test]
    fn lost_duplicate_and_differing_cells_are_marked() {
        let result = RunResult {
            scenario: "s".into(),
            seed: 1,
            verdict: Verdict::Invalid,
            checks: BTreeMap::new(),
            reasons: BTreeMap::new(),
            anomalies: [
                ("lost-write".to_string(), vec![anomaly(11, vec![1])]),
                ("duplicate".to_string(), vec![anomaly(10, vec![0, 3])]),
            ]
            .into_iter()
            .collect(),
            anomalies_omitted: BTreeMap::new(),
            stats: Stats::default(),
            history_digest: String::new(),
            repro: String::new(),
            mode: "sim".to_owned(),
        };
        let input = ReportInput {
            result,
            judgement: Judgement {
                expected: "valid".into(),
                met: Met::Yes,
            },
            description: String::new(),
            backlog: Vec::new(),
            timeline: Timeline {
                end_ns: 100,
                ops: vec![
                    op(1, 0, vec![(10, 0), (11, 1), (12, 2)], vec![]),
                    op(2, 10, vec![], vec![(0, 10), (1, 13), (2, 12), (3, 10)]),
                ],
                faults: vec![],
                markers: vec![],
                workload_start_ns: None,
                node_events: vec![],
            },
        };
        let view = offset_view(&input);
        let key = &view.keys[0];
        assert_eq!(key.readers, [2]);
        let marks: Vec<(Option<Mark>, Option<Mark>)> = key
            .rows
            .iter()
            .map(|row| (row.acked.mark, row.seen[0].mark))
            .collect();
        assert_eq!(
            marks,
            [
                (Some(Mark::Duplicate), Some(Mark::Duplicate)),
                (Some(Mark::Lost), Some(Mark::Differs)),
                (None, None),
                (None, Some(Mark::Duplicate)),
            ]
        );
        assert_eq!(key.rows[1].acked.lost, [11]);
    }
}
