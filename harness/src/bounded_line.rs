//! Reading a file line by line with a bound on the line: a longer line is read past in the
//! reader's own chunks, never gathered whole, so one hostile line cannot hold a reader's memory.
//! The history reader and the node-events reader both read this way.

use std::io::{self, BufRead, Read};

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

#[cfg(test)]
mod tests {
    use super::*;

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
