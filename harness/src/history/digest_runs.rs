//! The history digest of a file's lines, hashed a chunk of lines at a time: a line in canonical
//! form is digested as its own bytes, so a run of them is hashed where it sits in the reader's
//! chunk, in one update, not one update (and a copy into the hasher's buffer) per line. The few
//! lines digested otherwise (read the slow way, blank, with a `\r` or spaces) are noted with
//! their canonical bytes and hashed in their place when the chunk is done.

use super::digest::DigestWriter;
use std::io::{self, Write};

#[derive(Debug, Default)]
pub(super) struct DigestRuns {
    /// Bytes of the current chunk's whole lines met so far.
    at: usize,
    /// The chunk's lines digested otherwise than as they are: (where the line starts among the
    /// chunk's lines, its length, where its canonical bytes end in `canonical`), in order.
    replaced: Vec<(usize, usize, usize)>,
    /// The canonical bytes of the `replaced` lines, end to end.
    canonical: Vec<u8>,
    /// A line was over the bound ([`DigestRuns::abandon`]): its length is not known, so the
    /// chunks' lines are no longer digested.
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
    pub(super) fn as_is(&mut self, place: Place, bytes: &[u8], digest: &mut DigestWriter) {
        match place {
            Place::InChunk => self.at += bytes.len(),
            Place::Gathered => {
                debug_assert_eq!(self.at, 0, "a gathered line comes before a chunk's lines");
                digest.update(bytes);
            }
        }
    }

    /// A line of `len` bytes digested as what `write` writes (nothing, for a blank line).
    pub(super) fn replaced(
        &mut self,
        place: Place,
        len: usize,
        digest: &mut DigestWriter,
        write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
    ) {
        match place {
            Place::InChunk => {
                write(&mut self.canonical).expect("writing to memory never fails");
                self.replaced.push((self.at, len, self.canonical.len()));
                self.at += len;
            }
            Place::Gathered => {
                debug_assert_eq!(self.at, 0, "a gathered line comes before a chunk's lines");
                write(digest).expect("hashing never fails");
            }
        }
    }

    /// Stops digesting, after a line over the bound: the history is refused, and its digest
    /// never used.
    pub(super) fn abandon(&mut self) {
        self.abandoned = true;
    }

    /// Digests the chunk's whole lines, `lines` (the bytes of every line met in this chunk, end
    /// to end), with each replaced line's canonical bytes in its place.
    pub(super) fn chunk_read(&mut self, lines: &[u8], digest: &mut DigestWriter) {
        if self.abandoned {
            return;
        }
        assert_eq!(lines.len(), self.at, "every line of the chunk was noted");
        let (mut from, mut canonical_from) = (0, 0);
        for &(at, len, canonical_end) in &self.replaced {
            digest.update(&lines[from..at]);
            digest.update(&self.canonical[canonical_from..canonical_end]);
            (from, canonical_from) = (at + len, canonical_end);
        }
        digest.update(&lines[from..]);
        self.at = 0;
        self.replaced.clear();
        self.canonical.clear();
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
        let mut digest = DigestWriter::default();
        runs.as_is(Place::InChunk, b"one\n", &mut digest);
        runs.replaced(Place::InChunk, 7, &mut digest, |out| {
            out.write_all(b"two\n")
        });
        runs.replaced(Place::InChunk, 1, &mut digest, |_| Ok(()));
        runs.as_is(Place::InChunk, b"three\n", &mut digest);
        runs.replaced(Place::InChunk, 5, &mut digest, |out| {
            out.write_all(b"four\n")
        });
        runs.chunk_read(lines, &mut digest);
        assert_eq!(digest.finish(), by_line.finish());
        // Gathered lines are digested at once, before the next chunk's.
        runs.as_is(Place::Gathered, b"five\n", &mut digest);
        runs.replaced(Place::Gathered, 4, &mut digest, |out| {
            out.write_all(b"six\n")
        });
        runs.as_is(Place::InChunk, b"seven\n", &mut digest);
        runs.chunk_read(b"seven\n", &mut digest);
        for part in [&b"five\n"[..], b"six\n", b"seven\n"] {
            by_line.update(part);
        }
        assert_eq!(digest.finish(), by_line.finish());
    }

    #[test]
    fn an_abandoned_digest_takes_chunks_it_cannot_account_for() {
        let mut runs = DigestRuns::default();
        let mut digest = DigestWriter::default();
        runs.as_is(Place::InChunk, b"one\n", &mut digest);
        // A line over the bound was in the chunk too, its length unknown.
        runs.abandon();
        runs.chunk_read(b"one\nxxxxxxxxxxxxxxxx\n", &mut digest);
        assert_eq!(digest.finish(), DigestWriter::default().finish());
    }
}
