//! The ground truth read at the end of a run, recorded as one `final-state` op (at most one per
//! history, after the drain). Every field is optional; a check that needs a missing field says
//! `unknown` rather than guessing.
//!
//! ```json
//! {"txn-local": {"<txn id>": "commit" | "rollback" | "unknown", ...},
//!  "applied": {"<group>": {"<key>": [<value>, ...], ...}, ...},
//!  "committed-offsets": {"<group>": {"<key>": <offset>, ...}, ...},
//!  "token-buckets": {"<key>": {"rate-per-s": <positive number>, "capacity": <integer>}, ...},
//!  "dropped-below": {"<key>": <offset>, ...}}
//! ```
//!
//! - `txn-local`: each transactional producer's local transaction record, the answer its
//!   check-back listener would give now.
//! - `applied`: each consumer group's business state: for every key, the values whose effect
//!   is in the state, in the order applied, one entry per application (so a value applied
//!   twice appears twice).
//! - `committed-offsets`: each group's committed offset per key as the broker reports it at
//!   the end (the next offset the group would read).
//! - `token-buckets`: the token bucket behind each token key that `admit` ops take from: it
//!   gains `rate-per-s` tokens per second (a positive number, at most [`RATE_PER_S_MAX`]) and
//!   holds at most `capacity` (a non-negative integer). The rate is kept exactly, in billionths
//!   of a token per second ([`TokenRate`]); a rate written with more than 9 decimals is rounded
//!   up, which only ever allows more admissions.
//! - `dropped-below`: for bounded keys whose overflow policy is `drop-oldest`, the offset below
//!   which the broker may have dropped records when the partition was full (its log start at
//!   the end). Records below it that nobody read were deleted by design, not lost.

use super::keys::{KeyId, Keys};
use super::local::Local;
use super::txns::{TxnId, Txns};
use super::value_reader::{array, field, intern, object, offset_of, only_fields, shape, At};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;

/// The fastest token bucket a final state may describe: one token per simulated nanosecond.
pub const RATE_PER_S_MAX: u64 = 1_000_000_000;

/// Billionths of a token in one token.
const NANO: u64 = 1_000_000_000;

/// A token bucket's refill rate, exactly: billionths of a token per second (2.5 tokens/s is
/// 2_500_000_000). Integer arithmetic on it is exact, so a check's bound has no rounding error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TokenRate {
    pub nanotokens_per_s: u64,
}

impl TokenRate {
    /// Whole tokens per second.
    pub fn per_s(tokens: u64) -> TokenRate {
        assert!(
            tokens <= RATE_PER_S_MAX,
            "a rate of at most {RATE_PER_S_MAX}/s"
        );
        TokenRate {
            nanotokens_per_s: tokens * NANO,
        }
    }

    /// Reads a JSON number of tokens per second: positive, at most [`RATE_PER_S_MAX`]; digits
    /// past the ninth decimal round the rate up.
    fn decode(value: &Value, at: &At<'_>) -> Result<TokenRate, String> {
        let wrong = || {
            format!(
                "{at}: expected a positive number of tokens per second, at most {RATE_PER_S_MAX}, found {value}"
            )
        };
        let Value::Number(number) = value else {
            return Err(format!(
                "{at}: expected a positive number of tokens per second, found {}",
                shape(value)
            ));
        };
        if let Some(tokens) = number.as_u64() {
            if tokens == 0 || tokens > RATE_PER_S_MAX {
                return Err(wrong());
            }
            return Ok(TokenRate::per_s(tokens));
        }
        let tokens = number.as_f64().ok_or_else(wrong)?;
        if !(tokens > 0.0 && tokens <= RATE_PER_S_MAX as f64) {
            return Err(wrong());
        }
        // Rust prints a finite f64 as the shortest decimal that reads back to it, never with
        // an exponent: the number the writer meant, digit for digit.
        let text = format!("{tokens}");
        let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
        let whole: u64 = whole.parse().map_err(|_| wrong())?;
        let mut nanotokens = whole * NANO;
        let mut scale = NANO;
        for digit in fraction.bytes().take(9) {
            scale /= 10;
            nanotokens += u64::from(digit - b'0') * scale;
        }
        if fraction.bytes().skip(9).any(|digit| digit != b'0') {
            nanotokens += 1;
        }
        Ok(TokenRate {
            nanotokens_per_s: nanotokens,
        })
    }
}

impl fmt::Display for TokenRate {
    /// Tokens per second as a decimal, without trailing zeros: `2`, `2.5`, `0.001`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.nanotokens_per_s / NANO;
        let fraction = self.nanotokens_per_s % NANO;
        if fraction == 0 {
            write!(f, "{whole}")
        } else {
            let digits = format!("{fraction:09}");
            write!(f, "{whole}.{}", digits.trim_end_matches('0'))
        }
    }
}

/// The bucket behind one token key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenBucket {
    pub rate: TokenRate,
    /// Most tokens the bucket holds.
    pub capacity: u64,
}

/// Each transaction's local record, by transaction id: a byte per id in a table, not a map
/// of strings (a run's final state names every transaction).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TxnLocals {
    /// By [`TxnId`]: `None` for an id with no record. It ends at the highest id recorded, so
    /// the same records are the same table.
    by_txn: Vec<Option<Local>>,
}

impl TxnLocals {
    /// The local record of `txn`, if the final state has one.
    pub fn get(&self, txn: TxnId) -> Option<Local> {
        self.by_txn.get(txn.0 as usize).copied().flatten()
    }

    /// Records `local` for `txn`, in place of any earlier record of it.
    pub(crate) fn insert(&mut self, txn: TxnId, local: Local) {
        let slot = txn.0 as usize;
        if slot >= self.by_txn.len() {
            self.by_txn.resize(slot + 1, None);
        }
        self.by_txn[slot] = Some(local);
    }

    /// Gives back what the table reserved while it grew.
    pub(crate) fn shrink_to_fit(&mut self) {
        self.by_txn.shrink_to_fit();
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FinalState {
    /// Transaction id -> local record. `None` when the field was absent.
    pub txn_local: Option<TxnLocals>,
    /// Group -> key -> values applied, in order.
    pub applied: Option<BTreeMap<String, BTreeMap<KeyId, Vec<i64>>>>,
    /// Group -> key -> committed offset.
    pub committed_offsets: Option<BTreeMap<String, BTreeMap<KeyId, u64>>>,
    /// Token key -> its bucket.
    pub token_buckets: Option<BTreeMap<KeyId, TokenBucket>>,
    /// Key -> the offset below which overflow may have dropped records.
    pub dropped_below: Option<BTreeMap<KeyId, u64>>,
}

const VALUE: At<'static> = At::Root("value");

impl FinalState {
    pub(crate) fn decode(
        value: &Value,
        keys: &mut Keys,
        txns: &mut Txns,
    ) -> Result<FinalState, String> {
        let map = object(value, &VALUE)?;
        only_fields(
            map,
            &[
                "txn-local",
                "applied",
                "committed-offsets",
                "token-buckets",
                "dropped-below",
            ],
            &VALUE,
        )?;
        let mut state = FinalState::default();
        if let Some(records) = map.get("txn-local") {
            let at = At::Field(&VALUE, "txn-local");
            let mut txn_local = TxnLocals::default();
            for (txn, local) in object(records, &at)? {
                let parsed = local.as_str().and_then(Local::parse).ok_or_else(|| {
                    format!(
                        "{}: expected \"commit\", \"rollback\" or \"unknown\", found {local}",
                        At::Field(&at, txn)
                    )
                })?;
                txn_local.insert(txns.intern(txn), parsed);
            }
            txn_local.shrink_to_fit();
            state.txn_local = Some(txn_local);
        }
        if let Some(groups) = map.get("applied") {
            let at = At::Field(&VALUE, "applied");
            let mut applied = BTreeMap::new();
            for (group, per_key) in object(groups, &at)? {
                let group_at = At::Field(&at, group);
                let mut by_key = BTreeMap::new();
                for (key, values) in object(per_key, &group_at)? {
                    let key_at = At::Field(&group_at, key);
                    let values = array(values, &key_at)?
                        .iter()
                        .enumerate()
                        .map(|(i, v)| {
                            v.as_i64().ok_or_else(|| {
                                format!(
                                    "{}: expected an integer value, found {v}",
                                    At::Index(&key_at, i)
                                )
                            })
                        })
                        .collect::<Result<Vec<i64>, String>>()?;
                    by_key.insert(intern(keys, key, &group_at)?, values);
                }
                applied.insert(group.clone(), by_key);
            }
            state.applied = Some(applied);
        }
        if let Some(groups) = map.get("committed-offsets") {
            let at = At::Field(&VALUE, "committed-offsets");
            let mut committed = BTreeMap::new();
            for (group, per_key) in object(groups, &at)? {
                let group_at = At::Field(&at, group);
                let mut by_key = BTreeMap::new();
                for (key, offset) in object(per_key, &group_at)? {
                    let offset = offset_of(offset, &At::Field(&group_at, key))?;
                    by_key.insert(intern(keys, key, &group_at)?, offset);
                }
                committed.insert(group.clone(), by_key);
            }
            state.committed_offsets = Some(committed);
        }
        if let Some(buckets) = map.get("token-buckets") {
            let at = At::Field(&VALUE, "token-buckets");
            let mut by_key = BTreeMap::new();
            for (key, bucket) in object(buckets, &at)? {
                let key_at = At::Field(&at, key);
                let fields = object(bucket, &key_at)?;
                only_fields(fields, &["rate-per-s", "capacity"], &key_at)?;
                let rate = TokenRate::decode(
                    field(fields, "rate-per-s", &key_at)?,
                    &At::Field(&key_at, "rate-per-s"),
                )?;
                let capacity = offset_of(
                    field(fields, "capacity", &key_at)?,
                    &At::Field(&key_at, "capacity"),
                )?;
                by_key.insert(intern(keys, key, &at)?, TokenBucket { rate, capacity });
            }
            state.token_buckets = Some(by_key);
        }
        if let Some(offsets) = map.get("dropped-below") {
            let at = At::Field(&VALUE, "dropped-below");
            let mut by_key = BTreeMap::new();
            for (key, offset) in object(offsets, &at)? {
                let offset = offset_of(offset, &At::Field(&at, key))?;
                by_key.insert(intern(keys, key, &at)?, offset);
            }
            state.dropped_below = Some(by_key);
        }
        Ok(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rate(value: Value) -> Result<TokenRate, String> {
        TokenRate::decode(&value, &At::Root("rate"))
    }

    #[test]
    fn rates_are_exact_in_billionths() {
        let nanos = |value| rate(value).unwrap().nanotokens_per_s;
        assert_eq!(nanos(json!(2)), 2_000_000_000);
        assert_eq!(nanos(json!(2.0)), 2_000_000_000);
        assert_eq!(nanos(json!(2.5)), 2_500_000_000);
        assert_eq!(nanos(json!(0.1)), 100_000_000);
        assert_eq!(nanos(json!(0.000000001)), 1);
        assert_eq!(nanos(json!(1000000000)), 1_000_000_000_000_000_000);
        // Past nine decimals the rate is rounded up: never fewer tokens than written.
        assert_eq!(nanos(json!(1.0 / 3.0)), 333_333_334);
        assert_eq!(nanos(json!(1e-12)), 1);
        assert_eq!(rate(json!(2.5)).unwrap().to_string(), "2.5");
        assert_eq!(rate(json!(7)).unwrap().to_string(), "7");
        assert_eq!(rate(json!(0.001)).unwrap().to_string(), "0.001");
    }

    #[test]
    fn rates_outside_the_range_are_refused() {
        for bad in [
            json!(0),
            json!(0.0),
            json!(-1),
            json!(-0.5),
            json!(1e10),
            json!("2"),
        ] {
            let error = rate(bad.clone()).unwrap_err();
            assert!(
                error.starts_with("rate: expected a positive number"),
                "{bad}: {error}"
            );
        }
    }
}
