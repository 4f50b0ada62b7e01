//! Reading `node-events.jsonl` back (docs/history.md, "Node events"): `faultline check` judges
//! the cluster invariants of a stored run again when the file lies beside its history, as the
//! run itself did.
//!
//! The file keeps the events, not how many the recording bound dropped. A file that holds the
//! bound's worth of events may have lost some, so it is read as "at least one dropped": the
//! check then says `unknown`, as the run did, never a `valid` the events cannot prove.

use crate::bounded_line::{read_line_bounded, BoundedLine};
use crate::systems::faultline::{NodeEventRecord, NODE_EVENTS_MAX};
use std::io::BufReader;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// The file's name in a run's store directory, beside `history.jsonl`.
pub const FILE_NAME: &str = "node-events.jsonl";

/// A line longer than this is not a node event (the longest real one is a few hundred bytes):
/// refused before it is parsed, so a hostile file cannot hold the reader's memory.
const LINE_BYTES_MAX: usize = 64 * 1024;

#[derive(Debug, Error)]
pub enum NodeEventsFileError {
    #[error("{path}: cannot read: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{path}:{line}: not a node event: {reason} (docs/history.md, \"Node events\")")]
    Line {
        path: PathBuf,
        line: u64,
        reason: String,
    },
    #[error("{path}: more than {NODE_EVENTS_MAX} node events; a run records at most that many")]
    TooMany { path: PathBuf },
}

/// A run's node events as read back.
#[derive(Debug)]
pub struct NodeEventsFile {
    pub path: PathBuf,
    pub records: Vec<NodeEventRecord>,
    /// How many events the recording may have dropped: 0, or 1 standing for "some".
    pub dropped_at_least: u64,
}

/// The node events beside `history`, if its directory has them.
pub fn beside(history: &Path) -> Result<Option<NodeEventsFile>, NodeEventsFileError> {
    let path = history
        .parent()
        .unwrap_or_else(|| Path::new("."))
        .join(FILE_NAME);
    if !path.is_file() {
        return Ok(None);
    }
    read(&path).map(Some)
}

/// Reads one `node-events.jsonl`.
pub fn read(path: &Path) -> Result<NodeEventsFile, NodeEventsFileError> {
    let io_error = |error| NodeEventsFileError::Io {
        path: path.to_path_buf(),
        error,
    };
    let file = std::fs::File::open(path).map_err(io_error)?;
    let mut reader = BufReader::new(file);
    let mut records = Vec::new();
    let mut buffer = Vec::new();
    for line in 1u64.. {
        let read = read_line_bounded(&mut reader, &mut buffer, LINE_BYTES_MAX).map_err(io_error)?;
        let bad = |reason: String| NodeEventsFileError::Line {
            path: path.to_path_buf(),
            line,
            reason,
        };
        match read {
            BoundedLine::End => break,
            BoundedLine::TooLong => {
                return Err(bad(format!("the line is over {LINE_BYTES_MAX} bytes")))
            }
            BoundedLine::Line => {}
        }
        let text = std::str::from_utf8(&buffer).map_err(|_| bad("not UTF-8".into()))?;
        if text.trim().is_empty() {
            continue;
        }
        if records.len() >= NODE_EVENTS_MAX {
            return Err(NodeEventsFileError::TooMany {
                path: path.to_path_buf(),
            });
        }
        let record: NodeEventRecord =
            serde_json::from_str(text).map_err(|error| bad(error.to_string()))?;
        records.push(record);
    }
    let dropped_at_least = u64::from(records.len() == NODE_EVENTS_MAX);
    Ok(NodeEventsFile {
        path: path.to_path_buf(),
        records,
        dropped_at_least,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::store::node_events_jsonl;
    use crate::systems::faultline::NodeEvent;

    fn elected(time: u64, broker: u32, epoch: u64) -> NodeEventRecord {
        NodeEventRecord {
            time,
            node: format!("broker-{broker}"),
            event: NodeEvent::LeaderElected {
                tp: "orders/0".into(),
                epoch,
                broker,
                log_end: 0,
            },
        }
    }

    #[test]
    fn what_a_run_writes_reads_back_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let records = vec![elected(1, 1, 1), elected(2, 2, 2)];
        std::fs::write(dir.path().join(FILE_NAME), node_events_jsonl(&records)).unwrap();
        let read = beside(&dir.path().join("history.jsonl")).unwrap().unwrap();
        assert_eq!(read.records, records);
        assert_eq!(read.dropped_at_least, 0);
    }

    #[test]
    fn no_file_beside_the_history_is_no_events() {
        let dir = tempfile::tempdir().unwrap();
        assert!(beside(&dir.path().join("history.jsonl")).unwrap().is_none());
    }

    #[test]
    fn a_malformed_line_is_named_by_its_number() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let mut text = node_events_jsonl(&[elected(1, 1, 1)]);
        text.push_str("{\"time\":2,\"node\":\"broker-2\",\"event\":\"no-such-event\"}\n");
        std::fs::write(&path, text).unwrap();
        let error = read(&path).unwrap_err();
        assert!(
            matches!(error, NodeEventsFileError::Line { line: 2, .. }),
            "{error}"
        );
        assert!(
            error.to_string().contains(":2: not a node event"),
            "{error}"
        );
    }

    #[test]
    fn an_overlong_line_is_refused_before_it_is_parsed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        std::fs::write(&path, "x".repeat(LINE_BYTES_MAX + 10)).unwrap();
        let error = read(&path).unwrap_err();
        assert!(error.to_string().contains("over 65536 bytes"), "{error}");
    }
}
