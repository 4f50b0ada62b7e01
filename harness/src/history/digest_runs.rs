//! The history digest of a file's lines, hashed a chunk of lines at a time: a line in canonical
//! form is digested as its own bytes, so a run of them is hashed where it sits in the reader's
//! chunk, in one update, not one update (and a copy into the hasher's buffer) per line. The few
//! lines digested otherwise (read the slow way, blank, with a `\r` or spaces) are noted with
//! their canonical bytes and hashed in their place when the chunk is done.

use super::digest::DigestWriter;
use std::io::{self, Write};

#[derive(Debug, Default)]
pub(super) struct DigestRuns {
    digest: DigestWriter,
    /// Bytes of the current chunk's whole lines met so far.
    at: usize,
    /// The chunk's lines digested otherwise than as they are: (where the line starts among the
    /// chunk's lines, its length, where its canonical bytes end in `canonical`), in order.
    replaced: Vec<(usize, usize, usize)>,
    /// The canonical bytes of the `replaced` lines, end to end.
    canonical: Vec<u8>,
    /// The history was found malformed ([`DigestRuns::abandon`]): nothing more is noted or
    /// digested.
    abandoned: bool,
}

/// Where a line was read: whole in the reader's chunk (digested with the chunk), or gathered
/// from several (digested at once).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Place {
    InChunk,
    Gathered,
}

impl DigestRuns {
    /// A line digested as its own bytes.
    pub(super) fn as_is(&mut self, place: Place, bytes: &[u8]) {
        if self.abandoned {
            return;
        }
        match place {
            Place::InChunk => self.at += bytes.len(),
            Place::Gathered => {
                debug_assert_eq!(self.at, 0, "a gathered line comes before a chunk's lines");
                self.digest.update(bytes);
            }
        }
    }

    /// A line of `len` bytes digested as what `write` writes (nothing, for a blank line).
    pub(super) fn replaced(
        &mut self,
        place: Place,
        len: usize,
        write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
    ) {
        if self.abandoned {
            return;
        }
        match place {
            Place::InChunk => {
                write(&mut self.canonical).expect("writing to memory never fails");
                self.replaced.push((self.at, len, self.canonical.len()));
                self.at += len;
            }
            Place::Gathered => {
                debug_assert_eq!(self.at, 0, "a gathered line comes before a chunk's lines");
                write(&mut self.digest).expect("hashing never fails");
            }
        }
    }

    /// Stops digesting once the history is found malformed (a line over the bound, whose
    /// length is not known, or one that does not parse): it is refused, its digest never used,
    /// and nothing more is kept for it.
    pub(super) fn abandon(&mut self) {
        self.abandoned = true;
        self.replaced = Vec::new();
        self.canonical = Vec::new();
    }

    /// Digests the chunk's whole lines, `lines` (the bytes of every line met in this chunk, end
    /// to end), with each replaced line's canonical bytes in its place.
    pub(super) fn chunk_read(&mut self, lines: &[u8]) {
        if self.abandoned {
            return;
        }
        assert_eq!(lines.len(), self.at, "every line of the chunk was noted");
        let (mut from, mut canonical_from) = (0, 0);
        for &(at, len, canonical_end) in &self.replaced {
            self.digest.update(&lines[from..at]);
            self.digest
                .update(&self.canonical[canonical_from..canonical_end]);
            (from, canonical_from) = (at + len, canonical_end);
        }
        self.digest.update(&lines[from..]);
        self.at = 0;
        self.replaced.clear();
        self.canonical.clear();
    }

    /// The digest of every line noted, once the last chunk is read.
    pub(super) fn finish(&self) -> u64 {
        debug_assert_eq!(self.at, 0, "the last chunk was read");
        self.digest.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chunk_digests_as_its_lines_one_by_one() {
        let lines = b"one\nTWO  \r\n\nthree\nFOUR\n";
        let mut by_line = DigestWriter::default();
        for part in [&b"one\n"[..], b"two\n", b"three\n", b"four\n"] {
            by_line.update(part);
        }
        let mut runs = DigestRuns::default();
        runs.as_is(Place::InChunk, b"one\n");
        runs.replaced(Place::InChunk, 7, |out| out.write_all(b"two\n"));
        runs.replaced(Place::InChunk, 1, |_| Ok(()));
        runs.as_is(Place::InChunk, b"three\n");
        runs.replaced(Place::InChunk, 5, |out| out.write_all(b"four\n"));
        runs.chunk_read(lines);
        assert_eq!(runs.finish(), by_line.finish());
        // Gathered lines are digested at once, before the next chunk's.
        runs.as_is(Place::Gathered, b"five\n");
        runs.replaced(Place::Gathered, 4, |out| out.write_all(b"six\n"));
        runs.as_is(Place::InChunk, b"seven\n");
        runs.chunk_read(b"seven\n");
        for part in [&b"five\n"[..], b"six\n", b"seven\n"] {
            by_line.update(part);
        }
        assert_eq!(runs.finish(), by_line.finish());
    }

    #[test]
    fn an_abandoned_digest_takes_chunks_it_cannot_account_for() {
        let mut runs = DigestRuns::default();
        runs.as_is(Place::InChunk, b"one\n");
        // A line over the bound was in the chunk too, its length unknown.
        runs.abandon();
        runs.chunk_read(b"one\nxxxxxxxxxxxxxxxx\n");
        // Nothing is kept for the lines that follow.
        for _ in 0..1000 {
            runs.replaced(Place::InChunk, 4, |out| out.write_all(b"two\n"));
        }
        assert!(runs.replaced.is_empty() && runs.canonical.is_empty());
        assert_eq!(runs.finish(), DigestWriter::default().finish());
    }
}
