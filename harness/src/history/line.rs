//! The fast reading of one JSON Lines op: a line in the canonical form [`super::write`]
//! produces (fields in order, no whitespace, object keys sorted, integers only, strings without
//! escapes) is read straight into an [`OpHead`] and a typed [`Body`], with no JSON tree.
//!
//! Invariant: this reader only ever *accepts* a line, it never judges one. It returns `None` for
//! anything outside the canonical subset it knows — another shape, a float, an escape, a
//! malformed value — and the caller then reads the line the slow way (serde_json and
//! [`super::decode::decode`]), which produces the same ops and every error message. So a line
//! read here is (1) read to exactly what the slow way reads it to, and (2) its own canonical
//! form, byte for byte, which is why its bytes can go into the history digest as they are.
//! Free-form values (crashes, the nemesis) are always read the slow way: the history keeps them.
//! The final state, one long line, is read here too ([`final_state`]).

use super::body::{
    Admit, Apply, Body, Expired, KeyId, KeyReads, Keys, Local, Mop, PollMop, Record, SendMop,
    TxnSend, Txns,
};
use super::op::{OpHead, OpType, Process, F};
use super::spare_vecs::SpareVecs;

mod final_state;
mod words;

/// Digits of the longest integer read here; longer ones (up to `u64::MAX`) take the slow way.
const INTEGER_DIGITS_MAX: usize = 18;

/// Reads a canonical line; `None` means "read it the slow way". Keys and transaction ids
/// interned on the way are given back when the line is not accepted, so the slow way interns
/// in its own order.
pub(crate) fn read_canonical(
    line: &[u8],
    keys: &mut Keys,
    txns: &mut Txns,
    spare: &mut SpareVecs,
) -> Option<(OpHead, Body)> {
    let (keys_interned, txns_interned) = (keys.len(), txns.len());
    let read = Cursor { line, at: 0 }.op(keys, txns, spare);
    if read.is_none() {
        keys.truncate(keys_interned);
        txns.truncate(txns_interned);
    }
    read
}

struct Cursor<'l> {
    line: &'l [u8],
    at: usize,
}

impl<'l> Cursor<'l> {
    fn op(
        mut self,
        keys: &mut Keys,
        txns: &mut Txns,
        spare: &mut SpareVecs,
    ) -> Option<(OpHead, Body)> {
        self.eat(b"{\"index\":")?;
        let index = self.natural()?;
        self.eat(b",\"time\":")?;
        let time = self.natural()?;
        self.eat(b",\"process\":")?;
        let process = if self.peek()? == b'"' {
            self.eat(b"\"nemesis\"")?;
            Process::Nemesis
        } else {
            Process::Client(self.natural()?)
        };
        // The type and the function are matched with their quotes, the most frequent first: a
        // name is never scanned for its end. Bytes equal to an ASCII name are valid UTF-8, and
        // any other name (one with an escape, say) matches none and is refused.
        self.eat(b",\"type\":\"")?;
        let kind = if self.eat(b"invoke\"").is_some() {
            OpType::Invoke
        } else if self.eat(b"ok\"").is_some() {
            OpType::Ok
        } else if self.eat(b"info\"").is_some() {
            OpType::Info
        } else {
            self.eat(b"fail\"")?;
            OpType::Fail
        };
        self.eat(b",\"f\":\"")?;
        // The functions [`Cursor::body`] reads; every other takes the slow way.
        let f = if self.eat(b"poll\"").is_some() {
            F::Poll
        } else if self.eat(b"send\"").is_some() {
            F::Send
        } else if self.eat(b"txn-send\"").is_some() {
            F::TxnSend
        } else if self.eat(b"commit-offsets\"").is_some() {
            F::CommitOffsets
        } else if self.eat(b"expired\"").is_some() {
            F::Expired
        } else if self.eat(b"admit\"").is_some() {
            F::Admit
        } else if self.eat(b"txn\"").is_some() {
            F::Txn
        } else if self.eat(b"apply\"").is_some() {
            F::Apply
        } else {
            self.eat(b"final-state\"")?;
            F::FinalState
        };
        self.eat(b",\"value\":")?;
        let body = self.body(&f, kind, keys, txns, spare)?;
        self.eat(b"}")?;
        if self.at != self.line.len() {
            return None;
        }
        let head = OpHead {
            index,
            time,
            process,
            kind,
            f,
        };
        Some((head, body))
    }

    // Inlined into `op`, so the value is built where the caller keeps it: returned from a call,
    // it was copied out in 16-byte loads right after the callee's 8-byte stores, a stalled
    // store-to-load forward on every op.
    #[inline(always)]
    fn body(
        &mut self,
        f: &F,
        kind: OpType,
        keys: &mut Keys,
        txns: &mut Txns,
        spare: &mut SpareVecs,
    ) -> Option<Body> {
        match f {
            F::Send | F::Poll | F::Txn => self.mops(f, kind, keys, spare).map(Body::Mops),
            F::TxnSend => self.txn_send(kind, keys, txns).map(Body::TxnSend),
            F::Apply => {
                let (key, value, offset) = self.delivery(keys)?;
                Some(Body::Apply(Apply { key, value, offset }))
            }
            F::Expired if kind == OpType::Ok => {
                let (key, value, offset) = self.delivery(keys)?;
                Some(Body::Expired(Expired { key, value, offset }))
            }
            F::Admit => self.admit(kind, keys).map(Body::Admit),
            F::CommitOffsets => self.commit_offsets(keys, spare).map(Body::CommitOffsets),
            F::FinalState => self
                .final_state(keys, txns)
                .map(|state| Body::FinalState(Box::new(state))),
            // Rare shapes (memberships, sequence gaps, refused expiries) are read the slow
            // way, and so are the free-form values of crashes and the nemesis, which the
            // history keeps as JSON for the reports.
            F::Assign
            | F::Subscribe
            | F::SequenceGap
            | F::Expired
            | F::ZkCreate
            | F::ZkRead
            | F::ZkWrite
            | F::Crash
            | F::DebugTopicPartitions
            | F::Heal
            | F::Drain
            | F::Start(_)
            | F::Stop(_)
            | F::Other(_) => None,
        }
    }

    /// `[mop, ...]`, at least one.
    fn mops(
        &mut self,
        f: &F,
        kind: OpType,
        keys: &mut Keys,
        spare: &mut SpareVecs,
    ) -> Option<Vec<Mop>> {
        self.eat(b"[")?;
        // The vectors read here live only until the history packs them into its flat ones
        // (super::bodies), which gives them back to be read into again.
        let mut mops = spare.mops();
        loop {
            self.eat(b"[\"")?;
            let mop = if self.eat(b"send\",").is_some() {
                if *f == F::Poll {
                    return None;
                }
                Mop::Send(self.send(keys)?)
            } else {
                self.eat(b"poll\"")?;
                if *f == F::Send {
                    return None;
                }
                let reads = if self.eat(b",").is_some() {
                    if kind == OpType::Invoke {
                        return None;
                    }
                    Some(self.poll_reads(keys, spare)?)
                } else {
                    None
                };
                self.eat(b"]")?;
                Mop::Poll(PollMop { reads })
            };
            mops.push(mop);
            if self.eat(b",").is_none() {
                break;
            }
        }
        self.eat(b"]")?;
        Some(mops)
    }

    /// After `["send",`: `k,v]`, `k,[o,v]]` (`o` may be `null`), each optionally with
    /// `,{"deadline":d}` before the `]`.
    fn send(&mut self, keys: &mut Keys) -> Option<SendMop> {
        let key = self.key(keys)?;
        self.eat(b",")?;
        let (offset, value) = if self.eat(b"[").is_some() {
            let offset = self.offset_or_null()?;
            self.eat(b",")?;
            let value = self.integer()?;
            self.eat(b"]")?;
            (offset, value)
        } else {
            (None, self.integer()?)
        };
        let deadline = if self.eat(b",{\"deadline\":").is_some() {
            let deadline = self.natural()?;
            self.eat(b"}")?;
            Some(deadline)
        } else {
            None
        };
        self.eat(b"]")?;
        Some(SendMop {
            key,
            value,
            offset,
            deadline,
        })
    }

    /// `{k:[[o,v], ...], ...}` with keys in order.
    fn poll_reads(&mut self, keys: &mut Keys, spare: &mut SpareVecs) -> Option<Vec<KeyReads>> {
        self.eat(b"{")?;
        let mut reads = spare.key_reads();
        if self.eat(b"}").is_some() {
            return Some(reads);
        }
        let mut previous: Option<&[u8]> = None;
        loop {
            let name = self.object_key(&mut previous)?;
            self.eat(b"[")?;
            let mut records = spare.records();
            if self.eat(b"]").is_none() {
                loop {
                    records.push(self.record()?);
                    if self.eat(b",").is_none() {
                        break;
                    }
                }
                self.eat(b"]")?;
            }
            reads.push(KeyReads {
                key: keys.intern_bytes(name)?,
                records,
            });
            if self.eat(b",").is_none() {
                break;
            }
        }
        self.eat(b"}")?;
        Some(reads)
    }

    /// `{"key":k,"local":l,"txn":t,"value":v}`, `local` only on a completion.
    fn txn_send(&mut self, kind: OpType, keys: &mut Keys, txns: &mut Txns) -> Option<TxnSend> {
        self.eat(b"{\"key\":")?;
        let key = self.key(keys)?;
        let local = if self.eat(b",\"local\":").is_some() {
            if kind == OpType::Invoke {
                return None;
            }
            Some(Local::parse(self.string()?)?)
        } else {
            None
        };
        self.eat(b",\"txn\":")?;
        let txn = if self.peek()? == b'"' {
            let txn = self.raw_string()?;
            if txn.is_empty() {
                return None;
            }
            txns.intern_bytes(txn)?
        } else {
            // A canonical integer's digits are how the slow way names it.
            let start = self.at;
            self.integer()?;
            txns.intern_bytes(&self.line[start..self.at])?
        };
        self.eat(b",\"value\":")?;
        let value = self.integer()?;
        self.eat(b"}")?;
        Some(TxnSend {
            txn,
            key,
            value,
            local,
        })
    }

    /// `{"key":k,"offset":o,"value":v}` of `apply` and `expired`; `o` may be `null` or absent.
    fn delivery(&mut self, keys: &mut Keys) -> Option<(KeyId, i64, Option<u64>)> {
        self.eat(b"{\"key\":")?;
        let key = self.key(keys)?;
        let offset = if self.eat(b",\"offset\":").is_some() {
            self.offset_or_null()?
        } else {
            None
        };
        self.eat(b",\"value\":")?;
        let value = self.integer()?;
        self.eat(b"}")?;
        Some((key, value, offset))
    }

    /// `{"key":k,"request":r,"token":[o,v]}`; the token may be `null` or absent, except on `ok`.
    fn admit(&mut self, kind: OpType, keys: &mut Keys) -> Option<Admit> {
        self.eat(b"{\"key\":")?;
        let key = self.key(keys)?;
        self.eat(b",\"request\":")?;
        let request = self.integer()?;
        let token = if self.eat(b",\"token\":").is_some() {
            if self.eat(b"null").is_some() {
                None
            } else {
                Some(self.record()?)
            }
        } else {
            None
        };
        if kind == OpType::Ok && token.is_none() {
            return None;
        }
        self.eat(b"}")?;
        Some(Admit {
            key,
            request,
            token,
        })
    }

    /// `{k:o, ...}`, sorted by key id as the slow way sorts it.
    fn commit_offsets(
        &mut self,
        keys: &mut Keys,
        spare: &mut SpareVecs,
    ) -> Option<Vec<(KeyId, u64)>> {
        self.eat(b"{")?;
        let mut offsets = spare.offsets();
        if self.eat(b"}").is_none() {
            let mut previous: Option<&[u8]> = None;
            loop {
                let name = self.object_key(&mut previous)?;
                let offset = self.natural()?;
                offsets.push((keys.intern_bytes(name)?, offset));
                if self.eat(b",").is_none() {
                    break;
                }
            }
            self.eat(b"}")?;
        }
        offsets.sort_unstable();
        Some(offsets)
    }

    /// `[o,v]`.
    fn record(&mut self) -> Option<Record> {
        self.eat(b"[")?;
        let offset = self.natural()?;
        self.eat(b",")?;
        let value = self.integer()?;
        self.eat(b"]")?;
        Some(Record { offset, value })
    }

    /// A key: a non-empty string, or a non-negative integer named by its digits.
    fn key(&mut self, keys: &mut Keys) -> Option<KeyId> {
        if self.peek()? == b'"' {
            let name = self.raw_string()?;
            if name.is_empty() {
                return None;
            }
            keys.intern_bytes(name)
        } else {
            let start = self.at;
            self.natural()?;
            keys.intern_bytes(&self.line[start..self.at])
        }
    }

    /// An object key and its `:`, non-empty and after `previous` (canonical objects are
    /// sorted, and a key twice is not canonical). Bytes order as their strings do, and the
    /// key is checked as UTF-8 when interned.
    fn object_key(&mut self, previous: &mut Option<&'l [u8]>) -> Option<&'l [u8]> {
        let name = self.raw_string()?;
        if name.is_empty() || previous.is_some_and(|before| before >= name) {
            return None;
        }
        *previous = Some(name);
        self.eat(b":")?;
        Some(name)
    }

    fn offset_or_null(&mut self) -> Option<Option<u64>> {
        if self.eat(b"null").is_some() {
            Some(None)
        } else {
            self.natural().map(Some)
        }
    }

    /// A string without escapes or control characters (so its bytes are its canonical form).
    fn string(&mut self) -> Option<&'l str> {
        std::str::from_utf8(self.raw_string()?).ok()
    }

    /// The bytes of a [`Cursor::string`], not yet checked as UTF-8: the caller checks them,
    /// or matches them against ASCII names.
    fn raw_string(&mut self) -> Option<&'l [u8]> {
        self.eat(b"\"")?;
        let start = self.at;
        // The first quote ends the string, unless an escape or a control character comes
        // before it.
        let length = words::string_len(&self.line[start..])?;
        if self.line[start + length] != b'"' {
            return None;
        }
        self.at = start + length + 1;
        Some(&self.line[start..start + length])
    }

    /// `0` or a non-negative integer without leading zeros, of at most
    /// [`INTEGER_DIGITS_MAX`] digits.
    fn natural(&mut self) -> Option<u64> {
        let rest = &self.line[self.at..];
        let mut number = 0u64;
        let mut digits = 0;
        // Read in one pass; one digit past the limit is read to refuse it, and 19 digits
        // (under 10^19) still fit a u64.
        for &byte in rest.iter().take(INTEGER_DIGITS_MAX + 1) {
            let digit = byte.wrapping_sub(b'0');
            if digit > 9 {
                break;
            }
            number = number * 10 + u64::from(digit);
            digits += 1;
        }
        if digits == 0 || digits > INTEGER_DIGITS_MAX || (digits > 1 && rest[0] == b'0') {
            return None;
        }
        self.at += digits;
        Some(number)
    }

    /// A natural, or a negative integer (never `-0`).
    fn integer(&mut self) -> Option<i64> {
        if self.eat(b"-").is_some() {
            let magnitude = self.natural()?;
            if magnitude == 0 {
                return None;
            }
            // 18 digits always fit.
            Some(-(magnitude as i64))
        } else {
            self.natural().map(|n| n as i64)
        }
    }

    fn peek(&self) -> Option<u8> {
        self.line.get(self.at).copied()
    }

    /// Eats `expected`, if it comes next. Its length is known when compiled, so the compare
    /// is a few word compares, not a call to `memcmp` as a slice's would be.
    fn eat<const N: usize>(&mut self, expected: &[u8; N]) -> Option<()> {
        if self.line[self.at..].first_chunk::<N>()? == expected {
            self.at += N;
            Some(())
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::decode;
    use crate::history::op::Op;
    use crate::history::synthetic::{synthetic_history, SyntheticOptions};
    use crate::history::write::write_op;
    use crate::history::TxnId;

    /// The slow way: serde_json, then the value decoder.
    fn slow(line: &[u8], keys: &mut Keys, txns: &mut Txns) -> (OpHead, Result<Body, String>) {
        let op: Op = serde_json::from_slice(line).expect("a valid op");
        let body = decode::decode(&op.f, op.kind, &op.value, keys, txns);
        (op.head(), body)
    }

    /// A line either is refused, or reads to what the slow way reads and is its own canonical
    /// form.
    fn agrees(line: &str) -> bool {
        let (mut fast_keys, mut slow_keys) = (Keys::default(), Keys::default());
        let (mut fast_txns, mut slow_txns) = (Txns::default(), Txns::default());
        let Some((head, body)) = read_canonical(
            line.as_bytes(),
            &mut fast_keys,
            &mut fast_txns,
            &mut SpareVecs::default(),
        ) else {
            assert!(fast_keys.is_empty(), "keys given back: {line}");
            assert!(fast_txns.is_empty(), "transaction ids given back: {line}");
            return false;
        };
        let op: Op = serde_json::from_str(line).expect("accepted lines are JSON");
        let (slow_head, slow_body) = slow(line.as_bytes(), &mut slow_keys, &mut slow_txns);
        assert_eq!(head, slow_head, "{line}");
        assert_eq!(Ok(body), slow_body, "{line}");
        assert_eq!(fast_keys.len(), slow_keys.len(), "{line}");
        for id in 0..fast_keys.len() as u32 {
            assert_eq!(
                fast_keys.name(KeyId(id)),
                slow_keys.name(KeyId(id)),
                "{line}"
            );
        }
        assert_eq!(fast_txns.len(), slow_txns.len(), "{line}");
        for id in 0..fast_txns.len() as u32 {
            assert_eq!(
                fast_txns.name(TxnId(id)),
                slow_txns.name(TxnId(id)),
                "{line}"
            );
        }
        let mut canonical = Vec::new();
        write_op(&op, &mut canonical).unwrap();
        assert_eq!(canonical, format!("{line}\n").into_bytes(), "{line}");
        true
    }

    #[test]
    fn every_line_of_a_synthetic_history_reads_fast_and_the_same() {
        let ops = synthetic_history(&SyntheticOptions {
            ops: 20_000,
            ..SyntheticOptions::default()
        });
        let mut refused = Vec::new();
        for op in &ops {
            let mut line = Vec::new();
            write_op(op, &mut line).unwrap();
            let line = std::str::from_utf8(&line).unwrap().trim_end();
            if !agrees(line) {
                refused.push(op.f.clone());
            }
        }
        // Only the rare shapes take the slow way.
        refused.sort();
        refused.dedup();
        assert!(
            refused
                .iter()
                .all(|f| matches!(f, F::Assign | F::Subscribe | F::Crash) || f.is_nemesis_only()),
            "{refused:?}"
        );
    }

    #[test]
    fn canonical_shapes_read_fast() {
        for line in [
            r#"{"index":0,"time":1,"process":3,"type":"invoke","f":"send","value":[["send","a/0",17],["send",4,-18,{"deadline":9}]]}"#,
            r#"{"index":1,"time":1,"process":3,"type":"info","f":"send","value":[["send","a/0",[null,17]],["send",4,[0,-18],{"deadline":9}]]}"#,
            r#"{"index":2,"time":2,"process":4,"type":"ok","f":"poll","value":[["poll",{"a/0":[[5,17],[6,18]],"b/0":[]}]]}"#,
            r#"{"index":2,"time":2,"process":4,"type":"ok","f":"poll","value":[["poll",{}]]}"#,
            r#"{"index":3,"time":2,"process":4,"type":"ok","f":"txn","value":[["poll"],["send","b/1",[7,3]]]}"#,
            r#"{"index":4,"time":2,"process":5,"type":"ok","f":"txn-send","value":{"key":"k","local":"commit","txn":"t1","value":1}}"#,
            r#"{"index":4,"time":2,"process":5,"type":"invoke","f":"txn-send","value":{"key":"k","txn":-12,"value":1}}"#,
            r#"{"index":5,"time":2,"process":5,"type":"ok","f":"apply","value":{"key":"k","offset":null,"value":1}}"#,
            r#"{"index":5,"time":2,"process":5,"type":"ok","f":"expired","value":{"key":"k","value":1}}"#,
            r#"{"index":6,"time":2,"process":6,"type":"ok","f":"admit","value":{"key":"t/0","request":3,"token":[1,2]}}"#,
            r#"{"index":6,"time":2,"process":6,"type":"fail","f":"admit","value":{"key":"t/0","request":3,"token":null}}"#,
            r#"{"index":7,"time":2,"process":6,"type":"ok","f":"commit-offsets","value":{"b":3,"a":4}}"#,
            r#"{"index":7,"time":2,"process":6,"type":"ok","f":"commit-offsets","value":{"a":4,"b":3}}"#,
            r#"{"index":8,"time":3,"process":"nemesis","type":"info","f":"final-state","value":{}}"#,
            r#"{"index":8,"time":3,"process":"nemesis","type":"info","f":"final-state","value":{"applied":{"g":{"b":[],"k":[3,-1,3]},"h":{"a":[2]}},"committed-offsets":{"g":{"c":4,"k":0},"h":{}},"dropped-below":{"z":1,"zz":2},"token-buckets":{"t/0":{"capacity":4,"rate-per-s":1000},"y":{"capacity":0,"rate-per-s":1}},"txn-local":{"-4":"unknown","t1":"commit","t2":"rollback"}}}"#,
        ] {
            let unsorted = line.contains(r#"{"b":3"#);
            assert_eq!(agrees(line), !unsorted, "{line}");
        }
    }

    #[test]
    fn anything_else_takes_the_slow_way() {
        for line in [
            // Whitespace, field order, a missing value, trailing bytes.
            r#"{"index":0, "time":1,"process":3,"type":"invoke","f":"send","value":[["send","a",1]]}"#,
            r#"{"time":1,"index":0,"process":3,"type":"invoke","f":"send","value":[["send","a",1]]}"#,
            r#"{"index":0,"time":1,"process":3,"type":"info","f":"crash"}"#,
            r#"{"index":0,"time":1,"process":3,"type":"invoke","f":"send","value":[["send","a",1]]}x"#,
            // Numbers other than short integers, escapes, empty keys and names.
            r#"{"index":0,"time":1.0,"process":3,"type":"invoke","f":"send","value":[["send","a",1]]}"#,
            r#"{"index":0,"time":1,"process":3,"type":"invoke","f":"send","value":[["send","a",-0]]}"#,
            r#"{"index":0,"time":1,"process":3,"type":"invoke","f":"send","value":[["send","a",01]]}"#,
            r#"{"index":0,"time":1,"process":3,"type":"invoke","f":"send","value":[["send","a",1234567890123456789]]}"#,
            r#"{"index":0,"time":1,"process":3,"type":"invoke","f":"send","value":[["send","a\n",1]]}"#,
            r#"{"index":0,"time":1,"process":3,"type":"invoke","f":"send","value":[["send","",1]]}"#,
            r#"{"index":0,"time":1,"process":3,"type":"invoke","f":"","value":null}"#,
            // Types and functions that start like one read here, or are one escaped.
            r#"{"index":0,"time":1,"process":3,"type":"okay","f":"send","value":[["send","a",1]]}"#,
            r#"{"index":0,"time":1,"process":3,"type":"o\u006b","f":"send","value":[["send","a",[0,1]]]}"#,
            r#"{"index":0,"time":1,"process":3,"type":"invoke","f":"txn-sends","value":[["send","a",1]]}"#,
            r#"{"index":0,"time":1,"process":3,"type":"invoke","f":"txn ","value":[["send","a",1]]}"#,
            r#"{"index":0,"time":1,"process":3,"type":"invoke","f":"pol","value":[["poll"]]}"#,
            r#"{"index":0,"time":1,"process":3,"type":"invoke","f":"s\u0065nd","value":[["send","a",1]]}"#,
            // Shapes the decoder refuses, or reads the slow way.
            r#"{"index":0,"time":1,"process":3,"type":"invoke","f":"send","value":[]}"#,
            r#"{"index":0,"time":1,"process":3,"type":"invoke","f":"send","value":[["poll"]]}"#,
            r#"{"index":0,"time":1,"process":3,"type":"invoke","f":"poll","value":[["poll",{}]]}"#,
            r#"{"index":0,"time":1,"process":3,"type":"ok","f":"poll","value":[["poll",{"b":[],"a":[]}]]}"#,
            r#"{"index":0,"time":1,"process":3,"type":"ok","f":"poll","value":[["poll",{"a":[],"a":[]}]]}"#,
            r#"{"index":0,"time":1,"process":3,"type":"ok","f":"admit","value":{"key":"t","request":1}}"#,
            r#"{"index":0,"time":1,"process":3,"type":"invoke","f":"txn-send","value":{"key":"k","local":"commit","txn":"t","value":1}}"#,
            r#"{"index":0,"time":1,"process":3,"type":"info","f":"expired","value":{"key":"k","value":1}}"#,
            r#"{"index":0,"time":1,"process":3,"type":"ok","f":"assign","value":["a"]}"#,
            r#"{"index":0,"time":1,"process":"nemesis","type":"info","f":"start-x","value":{"a":2}}"#,
            r#"{"index":0,"time":1,"process":3,"type":"info","f":"crash","value":null}"#,
            // Final states: unsorted or unknown fields, a float or out-of-range rate, a float
            // value, an empty or escaped name, a record that is not one.
            r#"{"index":0,"time":1,"process":"nemesis","type":"info","f":"final-state","value":{"txn-local":{"t1":"commit"},"applied":{}}}"#,
            r#"{"index":0,"time":1,"process":"nemesis","type":"info","f":"final-state","value":{"applied":{},"extra":{}}}"#,
            r#"{"index":0,"time":1,"process":"nemesis","type":"info","f":"final-state","value":{"token-buckets":{"t":{"capacity":1,"rate-per-s":2.5}}}}"#,
            r#"{"index":0,"time":1,"process":"nemesis","type":"info","f":"final-state","value":{"token-buckets":{"t":{"capacity":1,"rate-per-s":0}}}}"#,
            r#"{"index":0,"time":1,"process":"nemesis","type":"info","f":"final-state","value":{"token-buckets":{"t":{"rate-per-s":1}}}}"#,
            r#"{"index":0,"time":1,"process":"nemesis","type":"info","f":"final-state","value":{"applied":{"g":{"k":[1,2.0]}}}}"#,
            r#"{"index":0,"time":1,"process":"nemesis","type":"info","f":"final-state","value":{"applied":{"g":{"":[1]}}}}"#,
            r#"{"index":0,"time":1,"process":"nemesis","type":"info","f":"final-state","value":{"committed-offsets":{"g":{"k
":1}}}}"#,
            r#"{"index":0,"time":1,"process":"nemesis","type":"info","f":"final-state","value":{"dropped-below":{"k":1,"k":2}}}"#,
            r#"{"index":0,"time":1,"process":"nemesis","type":"info","f":"final-state","value":{"applied":{"g":{"k":[1]}},"txn-local":{"t1":"commit","t2":"maybe"}}}"#,
            r#"{"index":0,"time":1,"process":"nemesis","type":"info","f":"final-state","value":null}"#,
        ] {
            let (mut keys, mut txns) = (Keys::default(), Txns::default());
            assert!(
                read_canonical(
                    line.as_bytes(),
                    &mut keys,
                    &mut txns,
                    &mut SpareVecs::default()
                )
                .is_none(),
                "{line}"
            );
            assert!(keys.is_empty(), "keys given back: {line}");
            assert!(txns.is_empty(), "transaction ids given back: {line}");
        }
    }
}
