//! Reading a file line by line with a bound on the line: a longer line is read past in the
//! reader's own chunks, never gathered whole, so one hostile line cannot hold a reader's memory.
//! The history reader ([`for_each_line_bounded`]: lines handed over where they sit in the
//! reader's buffer) and the node-events reader ([`read_line_bounded`]: each line copied out)
//! both read this way.

use std::io::{self, BufRead, Read};
use std::ops::ControlFlow;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BoundedLine {
    /// The next line is in the buffer (with its newline, if it had one).
    Line,
    /// The next line was over the bound: skipped to its end, the buffer holds only its start.
    TooLong,
    /// No more input.
    End,
}

/// Reads the next line into `buffer` (cleared first), holding at most `bytes_max + 1` of it:
/// a longer line is read past to its newline in the reader's own chunks, never gathered.
pub fn read_line_bounded(
    reader: &mut impl BufRead,
    buffer: &mut Vec<u8>,
    bytes_max: usize,
) -> io::Result<BoundedLine> {
    buffer.clear();
    let read = (&mut *reader)
        .take(bytes_max as u64 + 1)
        .read_until(b'\n', buffer)?;
    if read == 0 {
        return Ok(BoundedLine::End);
    }
    if buffer.len() <= bytes_max || buffer.last() == Some(&b'\n') {
        return Ok(BoundedLine::Line);
    }
    loop {
        let chunk = reader.fill_buf()?;
        if chunk.is_empty() {
            break;
        }
        match chunk.iter().position(|&byte| byte == b'\n') {
            Some(at) => {
                reader.consume(at + 1);
                break;
            }
            None => {
                let len = chunk.len();
                reader.consume(len);
            }
        }
    }
    Ok(BoundedLine::TooLong)
}

/// A line handed to the callback of [`for_each_line_bounded`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Line<'b> {
    /// A line within the bound, with its newline, where it sits whole in one of the reader's
    /// chunks: a chunk's lines come end to end, and then all at once to
    /// [`for_each_line_in_chunks`]' `chunk_read`.
    Read(&'b [u8]),
    /// A line within the bound gathered from two chunks or more, or the last line when it has
    /// no newline: never part of what `chunk_read` gets.
    Gathered(&'b [u8]),
    /// A line over the bound, read past to its end.
    TooLong,
}

/// Calls `each` with every line of `reader` in turn, until the input ends or `each` breaks: a
/// line of at most `bytes_max` bytes (its newline not counted) as [`Line::Read`], a longer one as
/// [`Line::TooLong`], the same lines [`read_line_bounded`] reads one by one.
///
/// A line that sits whole in one of the reader's chunks (all but the few that straddle two) is
/// handed over where it is: copying each line out of the chunk and looking for its end byte by
/// byte cost the history reader a fifth of its time. Only a straddling line is gathered, and no
/// more than `bytes_max + 1` bytes of it: past that it is read through, never held.
pub fn for_each_line_bounded(
    reader: &mut impl BufRead,
    bytes_max: usize,
    each: impl FnMut(Line<'_>) -> ControlFlow<()>,
) -> io::Result<()> {
    for_each_line_in_chunks(reader, bytes_max, each, |_| {})
}

/// [`for_each_line_bounded`], and after each chunk's lines, `chunk_read` with the bytes of
/// those it handed over as [`Line::Read`] (and [`Line::TooLong`]), end to end, as they sit in
/// the chunk: a reader that wants the lines' bytes together (the history digest) takes them
/// there at once, not line by line. Not called for a chunk after `each` breaks.
pub fn for_each_line_in_chunks(
    reader: &mut impl BufRead,
    bytes_max: usize,
    mut each: impl FnMut(Line<'_>) -> ControlFlow<()>,
    mut chunk_read: impl FnMut(&[u8]),
) -> io::Result<()> {
    let mut straddling = Straddling {
        gathered: Vec::new(),
        over: false,
        bytes_max,
    };
    loop {
        let chunk = reader.fill_buf()?;
        if chunk.is_empty() {
            break;
        }
        let chunk_len = chunk.len();
        let mut rest = chunk;
        if straddling.started() {
            let Some(newline) = memchr::memchr(b'\n', chunk) else {
                straddling.gather(chunk);
                reader.consume(chunk_len);
                continue;
            };
            let (end, after) = chunk.split_at(newline + 1);
            straddling.gather(end);
            let flow = each(straddling.line());
            straddling.clear();
            rest = after;
            if flow.is_break() {
                let consumed = chunk_len - rest.len();
                reader.consume(consumed);
                return Ok(());
            }
        }
        // The lines that sit whole in this chunk.
        let lines = rest;
        while let Some(newline) = memchr::memchr(b'\n', rest) {
            let (line, after) = rest.split_at(newline + 1);
            let flow = if newline > bytes_max {
                each(Line::TooLong)
            } else {
                each(Line::Read(line))
            };
            rest = after;
            if flow.is_break() {
                let consumed = chunk_len - rest.len();
                reader.consume(consumed);
                return Ok(());
            }
        }
        chunk_read(&lines[..lines.len() - rest.len()]);
        straddling.gather(rest);
        reader.consume(chunk_len);
    }
    if straddling.started() {
        // The last line, with no newline: it is done.
        let _ = each(straddling.line());
    }
    Ok(())
}

/// The line a chunk of [`for_each_line_bounded`] ends in, gathered until the chunk its newline
/// is in, or only noted when it is over the bound.
struct Straddling {
    /// The line so far (with its newline once found), at most `bytes_max + 1` bytes: a line
    /// of `bytes_max` bytes and its newline.
    gathered: Vec<u8>,
    /// The line is over the bound; `gathered` is empty and stays so until [`Self::clear`].
    over: bool,
    bytes_max: usize,
}

impl Straddling {
    fn started(&self) -> bool {
        self.over || !self.gathered.is_empty()
    }

    fn gather(&mut self, bytes: &[u8]) {
        if self.over || bytes.is_empty() {
            return;
        }
        if self.gathered.len() + bytes.len() > self.bytes_max + 1 {
            self.over = true;
            self.gathered.clear();
            return;
        }
        self.gathered.extend_from_slice(bytes);
    }

    /// The line gathered, once its newline or the end of the input is found.
    fn line(&self) -> Line<'_> {
        let content_len = self.gathered.len() - usize::from(self.gathered.last() == Some(&b'\n'));
        if self.over || content_len > self.bytes_max {
            Line::TooLong
        } else {
            Line::Gathered(&self.gathered)
        }
    }

    fn clear(&mut self) {
        self.gathered.clear();
        self.over = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every line `for_each_line_bounded` hands over, as text ("!" for too long), stopping
    /// after `stop_after` lines.
    fn split(text: &str, chunk_bytes: usize, bytes_max: usize, stop_after: usize) -> Vec<String> {
        let mut reader = io::BufReader::with_capacity(chunk_bytes, text.as_bytes());
        let mut lines = Vec::new();
        for_each_line_bounded(&mut reader, bytes_max, |line| {
            lines.push(match line {
                Line::Read(bytes) | Line::Gathered(bytes) => {
                    String::from_utf8(bytes.to_vec()).unwrap()
                }
                Line::TooLong => "!".to_string(),
            });
            if lines.len() == stop_after {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .unwrap();
        lines
    }

    /// The lines `read_line_bounded` reads, the same way.
    fn read_one_by_one(text: &str, bytes_max: usize) -> Vec<String> {
        let mut reader = io::BufReader::with_capacity(3, text.as_bytes());
        let mut buffer = Vec::new();
        let mut lines = Vec::new();
        loop {
            match read_line_bounded(&mut reader, &mut buffer, bytes_max).unwrap() {
                BoundedLine::End => return lines,
                BoundedLine::TooLong => lines.push("!".to_string()),
                BoundedLine::Line => lines.push(String::from_utf8(buffer.clone()).unwrap()),
            }
        }
    }

    #[test]
    fn lines_in_place_are_the_lines_read_one_by_one_whatever_the_chunks() {
        let texts = [
            "short\nxxxxxxxxxx\nxxxxxxxxxxx\n\n\nafter\nyyyyyyyyyyy".to_string(),
            "xxxxxxxxxx".to_string(),
            "xxxxxxxxxxx".to_string(),
            "a\r\n\nb\n".to_string(),
            format!("{}\n{}\nz", "x".repeat(25), "y".repeat(9)),
            String::new(),
        ];
        for text in &texts {
            let expected = read_one_by_one(text, 10);
            for chunk_bytes in 1..=text.len() + 1 {
                assert_eq!(
                    split(text, chunk_bytes, 10, usize::MAX),
                    expected,
                    "{text:?} in chunks of {chunk_bytes}"
                );
            }
        }
        assert_eq!(
            read_one_by_one(&texts[0], 10),
            ["short\n", "xxxxxxxxxx\n", "!", "\n", "\n", "after\n", "!"]
        );
    }

    #[test]
    fn each_chunk_reads_back_as_its_whole_lines_end_to_end() {
        let text = format!(
            "a\n\nbb\r\n{}\nccc\n{}\nlast",
            "x".repeat(12),
            "y".repeat(7)
        );
        for chunk_bytes in 1..=text.len() + 1 {
            let mut reader = io::BufReader::with_capacity(chunk_bytes, text.as_bytes());
            // The lines read whole since the last chunk, and the text rebuilt in order from
            // what each chunk hands over and from the gathered lines.
            let pending = std::cell::RefCell::new(Vec::new());
            let rebuilt = std::cell::RefCell::new(Vec::new());
            for_each_line_in_chunks(
                &mut reader,
                100,
                |line| {
                    match line {
                        Line::Read(bytes) => pending.borrow_mut().extend_from_slice(bytes),
                        Line::Gathered(bytes) => {
                            assert!(pending.borrow().is_empty(), "a gathered line comes first");
                            rebuilt.borrow_mut().extend_from_slice(bytes);
                        }
                        Line::TooLong => panic!("no line is over the bound"),
                    }
                    ControlFlow::Continue(())
                },
                |lines| {
                    assert_eq!(
                        lines,
                        pending.borrow().as_slice(),
                        "chunks of {chunk_bytes}"
                    );
                    rebuilt.borrow_mut().extend_from_slice(lines);
                    pending.borrow_mut().clear();
                },
            )
            .unwrap();
            assert_eq!(
                rebuilt.into_inner(),
                text.as_bytes(),
                "chunks of {chunk_bytes}"
            );
        }
    }

    #[test]
    fn a_break_stops_at_that_line_and_leaves_the_rest_unread() {
        let text = "one\ntwo\nthree\n";
        for chunk_bytes in 1..=text.len() {
            let mut reader = io::BufReader::with_capacity(chunk_bytes, text.as_bytes());
            let mut seen = 0;
            for_each_line_bounded(&mut reader, 10, |_| {
                seen += 1;
                ControlFlow::Break(())
            })
            .unwrap();
            assert_eq!(seen, 1);
            let mut rest = String::new();
            reader.read_to_string(&mut rest).unwrap();
            assert_eq!(rest, "two\nthree\n", "in chunks of {chunk_bytes}");
        }
        assert_eq!(split(text, 4, 10, 2), ["one\n", "two\n"]);
    }

    #[test]
    fn a_line_over_the_bound_is_never_gathered_whole() {
        // Chunks of 4 bytes: the long line straddles many; what is gathered stays under the
        // bound plus its newline.
        let text = format!("{}\nafter\n", "x".repeat(1000));
        let mut reader = io::BufReader::with_capacity(4, text.as_bytes());
        let mut straddling = Straddling {
            gathered: Vec::new(),
            over: false,
            bytes_max: 10,
        };
        for piece in text.as_bytes()[..1000].chunks(4) {
            straddling.gather(piece);
            assert!(straddling.gathered.len() <= 11);
        }
        assert_eq!(straddling.line(), Line::TooLong);
        assert_eq!(split(&text, 4, 10, usize::MAX), ["!", "after\n"]);
        let mut count = 0;
        for_each_line_bounded(&mut reader, 10, |_| {
            count += 1;
            ControlFlow::Continue(())
        })
        .unwrap();
        assert_eq!(count, 2);
    }

    #[test]
    fn a_line_over_the_bound_is_skipped_whole_and_the_next_read() {
        // A small reader buffer, so the long line spans several of its chunks.
        let text = format!("short\n{}\nafter\n{}", "x".repeat(100), "y".repeat(11));
        let mut reader = io::BufReader::with_capacity(8, text.as_bytes());
        let mut buffer = Vec::new();
        let mut read = || {
            let outcome = read_line_bounded(&mut reader, &mut buffer, 10).unwrap();
            (outcome, String::from_utf8_lossy(&buffer).into_owned())
        };
        assert_eq!(read(), (BoundedLine::Line, "short\n".into()));
        assert_eq!(read().0, BoundedLine::TooLong);
        assert_eq!(read(), (BoundedLine::Line, "after\n".into()));
        // The last line, over the bound with no newline: refused, then the end.
        assert_eq!(read().0, BoundedLine::TooLong);
        assert_eq!(read().0, BoundedLine::End);
    }

    #[test]
    fn a_line_exactly_at_the_bound_is_read() {
        let text = format!("{}\n{}", "x".repeat(10), "y".repeat(10));
        let mut reader = io::BufReader::with_capacity(4, text.as_bytes());
        let mut buffer = Vec::new();
        assert_eq!(
            read_line_bounded(&mut reader, &mut buffer, 10).unwrap(),
            BoundedLine::Line
        );
        assert_eq!(buffer.len(), 11);
        assert_eq!(
            read_line_bounded(&mut reader, &mut buffer, 10).unwrap(),
            BoundedLine::Line
        );
        assert_eq!(buffer, b"y".repeat(10));
        assert_eq!(
            read_line_bounded(&mut reader, &mut buffer, 10).unwrap(),
            BoundedLine::End
        );
    }
}
