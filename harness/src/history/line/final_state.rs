//! The canonical reading of a `final-state` value ([`crate::history::final_state`] has its
//! shape), straight into a [`FinalState`]. A run's final state lists every value applied and
//! every transaction, so at 10^7 ops it is one line of ~24 MB; read the slow way it first
//! becomes a JSON tree several times that, which set the peak memory of reading a history and
//! left its freed blocks in the heap.
//!
//! Like the rest of [`super`], this only accepts: any other shape (a float rate, an unknown
//! field, an escape, a number out of range) is `None`, and the slow way reads the line and
//! words its error. It interns keys in the order the slow way does: fields in the order that
//! reading visits them (the line's, but `dropped-below` after `token-buckets`), and within a
//! field in the line's order (sorted, as the slow way's objects iterate).

use super::Cursor;
use crate::history::final_state::{FinalState, TokenBucket, TokenRate, TxnLocals, RATE_PER_S_MAX};
use crate::history::keys::{KeyId, Keys};
use crate::history::local::Local;
use crate::history::txns::Txns;
use std::collections::BTreeMap;

/// Group -> key -> what the group has for the key.
type PerGroup<T> = BTreeMap<String, BTreeMap<KeyId, T>>;

impl<'l> Cursor<'l> {
    /// `{"applied":..,"committed-offsets":..,"dropped-below":..,"token-buckets":..,
    /// "txn-local":..}`, every field optional.
    pub(super) fn final_state(&mut self, keys: &mut Keys, txns: &mut Txns) -> Option<FinalState> {
        let mut state = FinalState::default();
        // The slow way interns these keys after the token buckets', which the line has later:
        // they wait here by name.
        let mut dropped_below: Option<Vec<(&'l [u8], u64)>> = None;
        let mut values = Vec::new();
        self.entries(|cursor, field| {
            match field {
                b"applied" => {
                    let read = |cursor: &mut Self| cursor.values(&mut values);
                    state.applied = Some(cursor.per_group(keys, read)?);
                }
                b"committed-offsets" => {
                    state.committed_offsets = Some(cursor.per_group(keys, Self::natural)?);
                }
                b"dropped-below" => {
                    let mut offsets = Vec::new();
                    cursor.entries(|cursor, key| {
                        offsets.push((key, cursor.natural()?));
                        Some(())
                    })?;
                    dropped_below = Some(offsets);
                }
                b"token-buckets" => state.token_buckets = Some(cursor.token_buckets(keys)?),
                b"txn-local" => state.txn_local = Some(cursor.txn_local(txns)?),
                _ => return None,
            }
            Some(())
        })?;
        if let Some(offsets) = dropped_below {
            let mut by_key = BTreeMap::new();
            for (key, offset) in offsets {
                by_key.insert(keys.intern_bytes(key)?, offset);
            }
            state.dropped_below = Some(by_key);
        }
        Some(state)
    }

    /// `{group: {key: item, ...}, ...}`.
    fn per_group<T>(
        &mut self,
        keys: &mut Keys,
        mut item: impl FnMut(&mut Self) -> Option<T>,
    ) -> Option<PerGroup<T>> {
        let mut groups = BTreeMap::new();
        self.entries(|cursor, group| {
            let group = std::str::from_utf8(group).ok()?;
            let mut by_key = BTreeMap::new();
            cursor.entries(|cursor, key| {
                let read = item(cursor)?;
                by_key.insert(keys.intern_bytes(key)?, read);
                Some(())
            })?;
            groups.insert(group.to_string(), by_key);
            Some(())
        })?;
        Some(groups)
    }

    /// `[v, ...]`, gathered in `scratch` so the list kept is exactly as long as it needs.
    fn values(&mut self, scratch: &mut Vec<i64>) -> Option<Vec<i64>> {
        scratch.clear();
        self.eat(b"[")?;
        if self.eat(b"]").is_none() {
            loop {
                scratch.push(self.integer()?);
                if self.eat(b",").is_none() {
                    break;
                }
            }
            self.eat(b"]")?;
        }
        Some(scratch.as_slice().to_vec())
    }

    /// `{key: {"capacity":c,"rate-per-s":r}, ...}`, the rate a whole number of tokens.
    fn token_buckets(&mut self, keys: &mut Keys) -> Option<BTreeMap<KeyId, TokenBucket>> {
        let mut buckets = BTreeMap::new();
        self.entries(|cursor, key| {
            cursor.eat(b"{\"capacity\":")?;
            let capacity = cursor.natural()?;
            cursor.eat(b",\"rate-per-s\":")?;
            let tokens = cursor.natural()?;
            cursor.eat(b"}")?;
            if !(1..=RATE_PER_S_MAX).contains(&tokens) {
                return None;
            }
            let rate = TokenRate::per_s(tokens);
            buckets.insert(keys.intern_bytes(key)?, TokenBucket { rate, capacity });
            Some(())
        })?;
        Some(buckets)
    }

    /// `{txn: "commit" | "rollback" | "unknown", ...}`.
    fn txn_local(&mut self, txns: &mut Txns) -> Option<TxnLocals> {
        let mut records = TxnLocals::default();
        self.entries(|cursor, txn| {
            let local = Local::parse(cursor.string()?)?;
            records.insert(txns.intern_bytes(txn)?, local);
            Some(())
        })?;
        records.shrink_to_fit();
        Some(records)
    }

    /// `{name: entry, ...}`: each name (non-empty, sorted, none twice, not yet checked as
    /// UTF-8) and its entry, read by `entry`.
    fn entries(&mut self, mut entry: impl FnMut(&mut Self, &'l [u8]) -> Option<()>) -> Option<()> {
        self.eat(b"{")?;
        if self.eat(b"}").is_some() {
            return Some(());
        }
        let mut previous = None;
        loop {
            let name = self.object_key(&mut previous)?;
            entry(self, name)?;
            if self.eat(b",").is_none() {
                break;
            }
        }
        self.eat(b"}")
    }
}

#[cfg(test)]
mod tests {
    use super::super::read_canonical;
    use crate::checker::{applicable, run_checks, CheckOptions};
    use crate::history::read_error::ReadError;
    use crate::history::spare_vecs::SpareVecs;
    use crate::history::{parse_history, History, Keys, Local, TxnId, Txns};

    /// Transactions named by strings and by integers (one negative), decided by their
    /// completions or by the final state's records; the final state also records one
    /// transaction no op sent ("t99") and what a group applied.
    const HISTORY: &str = r#"{"index":0,"time":1000,"process":1,"type":"invoke","f":"txn-send","value":{"key":"orders/0","txn":"t1","value":17}}
{"index":1,"time":2000,"process":1,"type":"ok","f":"txn-send","value":{"key":"orders/0","local":"unknown","txn":"t1","value":17}}
{"index":2,"time":3000,"process":1,"type":"invoke","f":"txn-send","value":{"key":"orders/0","txn":7,"value":18}}
{"index":3,"time":4000,"process":1,"type":"info","f":"txn-send","value":{"key":"orders/0","txn":7,"value":18}}
{"index":4,"time":5000,"process":3,"type":"invoke","f":"txn-send","value":{"key":"orders/1","txn":-3,"value":19}}
{"index":5,"time":6000,"process":3,"type":"info","f":"txn-send","value":{"key":"orders/1","txn":-3,"value":19}}
{"index":6,"time":7000,"process":4,"type":"invoke","f":"txn-send","value":{"key":"orders/1","txn":"t9","value":20}}
{"index":7,"time":8000,"process":4,"type":"info","f":"txn-send","value":{"key":"orders/1","txn":"t9","value":20}}
{"index":8,"time":90000,"process":"nemesis","type":"info","f":"drain","value":null}
{"index":9,"time":95000,"process":2,"type":"invoke","f":"poll","value":[["poll"]]}
{"index":10,"time":96000,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders/0":[[0,18]],"orders/1":[[0,19]]}]]}
{"index":11,"time":96500,"process":2,"type":"invoke","f":"poll","value":[["poll"]]}
{"index":12,"time":97000,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders/0":[],"orders/1":[]}]]}
{"index":13,"time":98000,"process":"nemesis","type":"info","f":"final-state","value":{"applied":{"billing":{"orders/0":[18]}},"committed-offsets":{"billing":{"orders/0":1}},"txn-local":{"-3":"unknown","7":"rollback","t1":"commit","t99":"commit"}}}
"#;

    fn read(text: &str) -> History {
        parse_history(text.as_bytes(), "h.jsonl").unwrap_or_else(|error| panic!("{error}"))
    }

    /// Whether the fast reader takes `line` (with fresh interners).
    fn read_fast(line: &str) -> bool {
        let (mut keys, mut txns) = (Keys::default(), Txns::default());
        read_canonical(
            line.as_bytes(),
            &mut keys,
            &mut txns,
            &mut SpareVecs::default(),
        )
        .is_some()
    }

    #[test]
    fn a_final_state_judges_the_same_read_fast_or_slow() {
        let fast_line = HISTORY.lines().last().unwrap();
        // A space inside the transactions' records: the fast reader reads the groups' keys,
        // then gives up and gives them back, and the slow way reads the whole line.
        let slow_line = fast_line.replace(r#""txn-local":{"#, r#""txn-local": {"#);
        assert!(read_fast(fast_line), "{fast_line}");
        assert!(!read_fast(&slow_line), "{slow_line}");
        let fast = read(HISTORY);
        let slow = read(&HISTORY.replace(fast_line, &slow_line));

        assert_eq!(fast.final_state(), slow.final_state());
        assert_eq!(
            fast.digest(),
            slow.digest(),
            "both digest the canonical line"
        );
        let names = |history: &History| -> Vec<String> {
            (0..history.txns().len() as u32)
                .map(|id| history.txn_name(TxnId(id)).to_string())
                .collect()
        };
        assert_eq!(names(&fast), ["t1", "7", "-3", "t9", "t99"]);
        assert_eq!(names(&slow), names(&fast));
        let (_, state) = fast.final_state().unwrap();
        let records = state.txn_local.as_ref().unwrap();
        let id = |name| fast.txns().id(name).unwrap();
        assert_eq!(records.get(id("t1")), Some(Local::Commit));
        assert_eq!(records.get(id("7")), Some(Local::Rollback));
        assert_eq!(records.get(id("-3")), Some(Local::Unknown));
        assert_eq!(records.get(id("t9")), None);
        assert_eq!(records.get(id("t99")), Some(Local::Commit));

        let judge =
            |history: &History| run_checks(history, &applicable(history), &CheckOptions::default());
        let (fast_checked, slow_checked) = (judge(&fast), judge(&slow));
        assert_eq!(fast_checked, slow_checked);
        // The final state decided three of the four transactions: t1 committed (and the drain
        // read its key to the end without it), 7 rolled back (and was read), -3 never
        // committed (and was read).
        let txn = &fast_checked.results["exactly-once-txn"];
        let found: Vec<(&str, Vec<u64>)> = txn
            .anomalies
            .iter()
            .flat_map(|(name, list)| list.iter().map(move |a| (name.as_str(), a.ops.clone())))
            .collect();
        assert_eq!(
            found,
            [
                ("txn-aborted-visible", vec![2, 3, 10, 13]),
                ("txn-committed-lost", vec![0, 1, 13]),
                ("txn-premature-visible", vec![4, 5, 10, 13]),
            ]
        );
        let details: Vec<&str> = txn
            .anomalies
            .values()
            .flatten()
            .map(|anomaly| anomaly.explanation.as_str())
            .collect();
        assert!(
            details[0].starts_with("transaction 7's message"),
            "{details:?}"
        );
        assert!(
            details[1].starts_with("transaction t1 committed"),
            "{details:?}"
        );
        assert!(
            details[2].starts_with("transaction -3's message"),
            "{details:?}"
        );
    }

    /// A final state the fast reader starts on but cannot take is worded by the slow way, at
    /// its line (and, for a syntax error, its column).
    #[test]
    fn a_malformed_final_state_is_worded_by_the_slow_way() {
        let head = HISTORY.lines().take(2).collect::<Vec<_>>().join("\n");
        let final_state = |value: &str| {
            format!(
                r#"{head}
{{"index":2,"time":97000,"process":"nemesis","type":"info","f":"final-state","value":{value}}}
"#
            )
        };
        let cases = [
            (
                r#"{"txn-local":{"t1":"commit",}}"#,
                "not a history op: trailing comma (column 113)",
            ),
            (
                r#"{"applied":{"g":{"k":[1,2.5]}},"txn-local":{"t1":"commit"}}"#,
                "value.applied.g.k[1]: expected an integer value, found 2.5",
            ),
            (
                r#"{"txn-local":{"t1":"commit","t2":"maybe"}}"#,
                r#"value.txn-local.t2: expected "commit", "rollback" or "unknown", found "maybe""#,
            ),
            (
                r#"{"token-buckets":{"t/0":{"capacity":1,"rate-per-s":0}}}"#,
                "value.token-buckets[\"t/0\"].rate-per-s: expected a positive number of tokens per second",
            ),
        ];
        for (value, expected) in cases {
            let text = final_state(value);
            let error = parse_history(text.as_bytes(), "h.jsonl").unwrap_err();
            let ReadError::Invalid { problems, .. } = &error else {
                panic!("{error}");
            };
            assert_eq!(problems.len(), 1, "{error}");
            assert_eq!(problems[0].line, 3, "{error}");
            let message = problems[0].error.to_string();
            assert!(message.contains(expected), "{value}\n  gave: {message}");
            assert!(
                error.to_string().starts_with("h.jsonl:3: "),
                "file and line lead: {error}"
            );
        }
    }
}
