//! Reading a history file. Every malformed line is reported with its line number and the
//! reason, up to [`super::ERRORS_MAX`] of them, so one run of `faultline check` shows what to
//! fix; a history with any problem is rejected whole (exit 2), never half-checked.

use super::digest::HistoryDigest;
use super::digest_runs::{DigestRuns, Place};
use super::op::Op;
use super::read_error::{LineError, ReadError};
use super::write::write_op;
use super::{decode, line, Body, Builder, History, OpError, ERRORS_MAX};
use crate::bounded_line::{for_each_line_in_chunks, Line};
use std::cell::RefCell;
use std::io::{self, BufRead};
use std::ops::ControlFlow;
use std::path::Path;

/// Bytes read from a history file at a time: large enough that system calls cost nothing
/// next to parsing, small enough to stay in the cache.
const READ_BUFFER_BYTES: usize = 256 * 1024;

/// Reads and validates the history at `path`: Jepsen's EDN when the file is named `*.edn` or
/// its first form looks like EDN ([`super::edn::looks_like_edn`]), JSON Lines otherwise.
pub fn read_history(path: &Path) -> Result<History, ReadError> {
    let source_name = path.display().to_string();
    let io_error = |error| ReadError::Io {
        source_name: source_name.clone(),
        error,
    };
    let file = std::fs::File::open(path).map_err(io_error)?;
    let mut reader = io::BufReader::with_capacity(READ_BUFFER_BYTES, file);
    let named_edn = path
        .extension()
        .is_some_and(|extension| extension.eq_ignore_ascii_case("edn"));
    if named_edn || super::edn::looks_like_edn(reader.fill_buf().map_err(io_error)?) {
        let mut text = String::new();
        io::Read::read_to_string(&mut reader, &mut text).map_err(io_error)?;
        return super::edn::parse_edn_history(&text, &source_name);
    }
    parse_history(reader, &source_name)
}

/// Parses and validates JSON Lines from `reader`; `source_name` prefixes error messages.
/// Blank lines are skipped (line numbers still count them).
///
/// Streams: each line is read, where it sits in the reader's buffer, into a typed op and
/// dropped, never kept as text or as a JSON tree, and the history digest is computed on the way. A line in canonical form (what
/// faultline writes) is read by [`super::line`] and digested as it is; any other line is read
/// with serde_json, which also words every syntax error, and digested in its canonical form.
/// Free-form values (the nemesis', crashes') are kept, as [`History::value`].
pub fn parse_history(mut reader: impl BufRead, source_name: &str) -> Result<History, ReadError> {
    let mut builder = Builder::new();
    let mut lines = LineNumbers::default();
    let mut opaque = Vec::new();
    let mut problems = Vec::new();
    let mut line = 0u64;
    // The digest is fed by both callbacks, one at a time.
    let digest = RefCell::new(DigestRuns::default());
    for_each_line_in_chunks(
        &mut reader,
        LINE_BYTES_MAX,
        |read| {
            line += 1;
            let (bytes, place) = match read {
                Line::Read(bytes) => (bytes, Place::InChunk),
                Line::Gathered(bytes) => (bytes, Place::Gathered),
                Line::TooLong => {
                    digest.borrow_mut().abandon();
                    problems.push(LineError {
                        line,
                        error: OpError::Syntax(format!(
                            "the line is over {} MiB; a history line holds one op",
                            LINE_BYTES_MAX >> 20
                        )),
                    });
                    return enough(&problems);
                }
            };
            let digest = &mut *digest.borrow_mut();
            let text = bytes.trim_ascii();
            if text.is_empty() {
                digest.replaced(place, bytes.len(), |_| Ok(()));
                return ControlFlow::Continue(());
            }
            // After a syntax problem only syntax is checked: those are reported alone.
            if problems.is_empty() {
                let (keys, txns, spare) = builder.line_parts();
                if let Some((head, body)) = line::read_canonical(text, keys, txns, spare) {
                    // A canonical line is its digested bytes, with one newline.
                    if bytes.len() == text.len() + 1 && bytes.last() == Some(&b'\n') {
                        digest.as_is(place, bytes);
                    } else {
                        digest.replaced(place, bytes.len(), |out| {
                            out.write_all(text)?;
                            out.write_all(b"\n")
                        });
                    }
                    lines.note(builder.len() as u64, line);
                    builder.push(head, Ok(body));
                    return ControlFlow::Continue(());
                }
            }
            match serde_json::from_slice::<Op>(text) {
                Ok(op) if problems.is_empty() => {
                    digest.replaced(place, bytes.len(), |mut out| write_op(&op, &mut out));
                    let (keys, txns) = builder.interners();
                    let decoded = decode::decode(&op.f, op.kind, &op.value, keys, txns);
                    let index = builder.len() as u64;
                    lines.note(index, line);
                    let head = op.head();
                    if matches!(decoded, Ok(Body::Opaque)) {
                        opaque.push((index, op.value));
                    }
                    builder.push(head, decoded);
                    ControlFlow::Continue(())
                }
                // After a syntax problem (the digest is abandoned then) only syntax is checked.
                Ok(_) => ControlFlow::Continue(()),
                Err(error) => {
                    digest.abandon();
                    problems.push(LineError {
                        line,
                        error: OpError::Syntax(syntax_reason(&error)),
                    });
                    enough(&problems)
                }
            }
        },
        |lines_read| digest.borrow_mut().chunk_read(lines_read),
    )
    .map_err(|error| ReadError::Io {
        source_name: source_name.to_string(),
        error,
    })?;
    if !problems.is_empty() {
        return Err(ReadError::Invalid {
            source_name: source_name.to_string(),
            problems,
        });
    }
    builder
        .finish(HistoryDigest(digest.into_inner().finish()), None, opaque)
        .map_err(|errors| ReadError::Invalid {
            source_name: source_name.to_string(),
            problems: errors
                .into_iter()
                .map(|error| LineError {
                    line: lines.line_of(error.index).unwrap_or(line),
                    error: error.error,
                })
                .collect(),
        })
}

/// Stops reading once [`ERRORS_MAX`] problems are found: one run shows that many to fix.
fn enough(problems: &[LineError]) -> ControlFlow<()> {
    if problems.len() >= ERRORS_MAX {
        ControlFlow::Break(())
    } else {
        ControlFlow::Continue(())
    }
}

/// A history line longer than this is refused (bad input) without being kept whole: the
/// largest real op (a poll of thousands of records, a final state of many keys) is well under
/// a MiB, and an op's packed value counts its parts in 28 bits, which no line this long reaches.
pub const LINE_BYTES_MAX: usize = 64 << 20;

/// Which line each op came from, kept in memory proportional to the blank lines: op `i` is on
/// line `i + 1 + skipped`, where `skipped` changes only after a blank line.
#[derive(Default)]
struct LineNumbers {
    /// (first op index, lines skipped before it), one entry per change of the skip.
    skips: Vec<(u64, u64)>,
    ops: u64,
}

impl LineNumbers {
    fn note(&mut self, index: u64, line: u64) {
        let skipped = line - 1 - index;
        if self.skips.last().map_or(0, |&(_, skipped)| skipped) != skipped {
            self.skips.push((index, skipped));
        }
        self.ops = index + 1;
    }

    fn line_of(&self, index: u64) -> Option<u64> {
        if index >= self.ops {
            return None;
        }
        let at = self.skips.partition_point(|&(first, _)| first <= index);
        let skipped = if at == 0 { 0 } else { self.skips[at - 1].1 };
        Some(index + 1 + skipped)
    }
}

/// serde_json's message without its "at line 1 column N" suffix (we parse one line at a
/// time), with the column kept.
fn syntax_reason(error: &serde_json::Error) -> String {
    let text = error.to_string();
    let reason = text
        .rfind(" at line ")
        .map_or(text.as_str(), |at| &text[..at]);
    format!("{reason} (column {})", error.column())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_history_with_an_overlong_line_is_bad_input_at_that_line() {
        let op =
            r#"{"index":0,"time":1,"process":1,"type":"invoke","f":"poll","value":[["poll"]]}"#;
        let text = format!("{op}\n{}\n", " ".repeat(LINE_BYTES_MAX + 1));
        let error = parse_history(text.as_bytes(), "h.jsonl").unwrap_err();
        let ReadError::Invalid { problems, .. } = error else {
            panic!("{error}");
        };
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].line, 2);
        assert!(
            problems[0].error.to_string().contains("over 64 MiB"),
            "{:?}",
            problems
        );
    }

    #[test]
    fn op_lines_are_kept_through_runs_of_blank_lines() {
        let mut lines = LineNumbers::default();
        // Ops 0 and 1 on lines 1 and 2; op 2 on line 5; ops 3 and 4 on lines 6 and 9.
        for (index, line) in [(0, 1), (1, 2), (2, 5), (3, 6), (4, 9)] {
            lines.note(index, line);
        }
        let found: Vec<Option<u64>> = (0..6).map(|index| lines.line_of(index)).collect();
        assert_eq!(
            found,
            [Some(1), Some(2), Some(5), Some(6), Some(9), None],
            "{:?}",
            lines.skips
        );
        assert_eq!(lines.skips.len(), 2, "one entry per change, not per op");
    }

    #[test]
    fn a_history_digests_to_its_canonical_bytes_however_it_is_written() {
        // Line 2 takes the slow way (spaces, fields out of order, unsorted keys); the digest is
        // still that of the canonical bytes.
        let canonical = concat!(
            r#"{"index":0,"time":1,"process":1,"type":"invoke","f":"send","value":[["send","k",1]]}"#,
            "\n",
            r#"{"index":1,"time":2,"process":"nemesis","type":"info","f":"start-partition","value":{"a":1,"b":[2]}}"#,
            "\n",
        );
        let loose = concat!(
            r#"{"index":0,"time":1,"process":1,"type":"invoke","f":"send","value":[["send","k",1]]}"#,
            "\n\n",
            r#"{ "time": 2, "index": 1, "process": "nemesis", "type": "info", "f": "start-partition", "value": {"b": [2], "a": 1} }"#,
            "\r\n",
        );
        let digest = |text: &str| parse_history(text.as_bytes(), "h.jsonl").unwrap().digest();
        assert_eq!(
            digest(canonical),
            HistoryDigest::of_bytes(canonical.as_bytes())
        );
        assert_eq!(digest(loose), digest(canonical));
    }
}
