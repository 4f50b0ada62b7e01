//! Building op values in the shapes of [`super::body`], so a recorder never spells JSON by
//! hand. Each function is the inverse of the decoder for one shape.

use super::body::Local;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// `send` invoke: `[["send",k,v], ...]`.
pub fn send_invoke(sends: &[(&str, i64)]) -> Value {
    Value::Array(
        sends
            .iter()
            .map(|(key, value)| json!(["send", key, value]))
            .collect(),
    )
}

/// `send` completion: `[["send",k,[o,v]], ...]`; `None` offsets are written as `null`.
pub fn send_complete(sends: &[(&str, Option<u64>, i64)]) -> Value {
    Value::Array(
        sends
            .iter()
            .map(|(key, offset, value)| json!(["send", key, [offset, value]]))
            .collect(),
    )
}

/// `send` invoke with deadlines: `[["send",k,v,{"deadline":d}], ...]`; a `None` deadline
/// writes the plain `["send",k,v]`.
pub fn send_invoke_with_deadline(sends: &[(&str, i64, Option<u64>)]) -> Value {
    Value::Array(
        sends
            .iter()
            .map(|&(key, value, deadline)| with_deadline(json!(["send", key, value]), deadline))
            .collect(),
    )
}

/// `send` completion with deadlines: `[["send",k,[o,v],{"deadline":d}], ...]`.
pub fn send_complete_with_deadline(sends: &[(&str, Option<u64>, i64, Option<u64>)]) -> Value {
    Value::Array(
        sends
            .iter()
            .map(|&(key, offset, value, deadline)| {
                with_deadline(json!(["send", key, [offset, value]]), deadline)
            })
            .collect(),
    )
}

fn with_deadline(mut mop: Value, deadline: Option<u64>) -> Value {
    if let (Some(deadline), Value::Array(parts)) = (deadline, &mut mop) {
        parts.push(json!({ "deadline": deadline }));
    }
    mop
}

/// `poll` invoke: `[["poll"]]`.
pub fn poll_invoke() -> Value {
    json!([["poll"]])
}

/// `poll` completion: `[["poll",{k:[[o,v], ...]}]]`. During the drain, list a key with no
/// records once the consumer's position has reached that key's end (its high watermark): that
/// is the proof the drain read it all.
pub fn poll_complete(reads: &[(&str, &[(u64, i64)])]) -> Value {
    let mut map = Map::new();
    for (key, records) in reads {
        let records = records
            .iter()
            .map(|(offset, value)| json!([offset, value]))
            .collect();
        map.insert((*key).to_string(), Value::Array(records));
    }
    json!([["poll", Value::Object(map)]])
}

/// `assign` / `subscribe`: `{"group":g,"keys":[...],"generation":n}`.
pub fn membership(group: Option<&str>, keys: &[&str], generation: Option<u64>) -> Value {
    let mut map = Map::new();
    if let Some(group) = group {
        map.insert("group".into(), json!(group));
    }
    map.insert("keys".into(), json!(keys));
    if let Some(generation) = generation {
        map.insert("generation".into(), json!(generation));
    }
    Value::Object(map)
}

/// `commit-offsets`: `{k: o, ...}`, `o` the next offset to read.
pub fn commit_offsets(offsets: &[(&str, u64)]) -> Value {
    let map = offsets
        .iter()
        .map(|(key, offset)| ((*key).to_string(), json!(offset)))
        .collect();
    Value::Object(map)
}

/// `txn-send`: `{"txn":id,"key":k,"value":v}` plus `"local"` on a completion.
pub fn txn_send(txn: &str, key: &str, value: i64, local: Option<Local>) -> Value {
    let mut map = Map::new();
    map.insert("txn".into(), json!(txn));
    map.insert("key".into(), json!(key));
    map.insert("value".into(), json!(value));
    if let Some(local) = local {
        map.insert("local".into(), json!(local.as_str()));
    }
    Value::Object(map)
}

/// `apply`: `{"key":k,"value":v,"offset":o}`.
pub fn apply(key: &str, value: i64, offset: Option<u64>) -> Value {
    json!({"key": key, "value": value, "offset": offset})
}

/// `expired` (an `ok` event): `{"key":k,"value":v,"offset":o}`.
pub fn expired(key: &str, value: i64, offset: Option<u64>) -> Value {
    json!({"key": key, "value": value, "offset": offset})
}

/// `admit`: `{"key":k,"request":r}`, plus `"token":[o,v]` on an `ok` completion.
pub fn admit(key: &str, request: i64, token: Option<(u64, i64)>) -> Value {
    match token {
        Some((offset, value)) => {
            json!({"key": key, "request": request, "token": [offset, value]})
        }
        None => json!({"key": key, "request": request}),
    }
}

/// `sequence-gap`: `{"key":k,"producer":p,"expected":n,"got":m}`.
pub fn sequence_gap(key: &str, producer: u64, expected: u64, got: u64) -> Value {
    json!({"key": key, "producer": producer, "expected": expected, "got": got})
}

/// The ground truth of a `final-state` op, with keys as strings. `None` fields are omitted
/// (and the checks that need them say `unknown`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FinalStateRecord {
    pub txn_local: Option<BTreeMap<String, Local>>,
    pub applied: Option<BTreeMap<String, BTreeMap<String, Vec<i64>>>>,
    pub committed_offsets: Option<BTreeMap<String, BTreeMap<String, u64>>>,
    /// Token key -> (tokens per second, capacity).
    pub token_buckets: Option<BTreeMap<String, (u64, u64)>>,
    /// Key of a `drop-oldest` queue -> its head at the end.
    pub dropped_below: Option<BTreeMap<String, u64>>,
}

impl FinalStateRecord {
    pub fn to_value(&self) -> Value {
        let mut map = Map::new();
        if let Some(records) = &self.txn_local {
            let records = records
                .iter()
                .map(|(txn, local)| (txn.clone(), json!(local.as_str())))
                .collect();
            map.insert("txn-local".into(), Value::Object(records));
        }
        if let Some(applied) = &self.applied {
            map.insert("applied".into(), json!(applied));
        }
        if let Some(committed) = &self.committed_offsets {
            map.insert("committed-offsets".into(), json!(committed));
        }
        if let Some(buckets) = &self.token_buckets {
            let buckets: Map<String, Value> = buckets
                .iter()
                .map(|(key, (rate, capacity))| {
                    (
                        key.clone(),
                        json!({"rate-per-s": rate, "capacity": capacity}),
                    )
                })
                .collect();
            map.insert("token-buckets".into(), Value::Object(buckets));
        }
        if let Some(dropped) = &self.dropped_below {
            map.insert("dropped-below".into(), json!(dropped));
        }
        Value::Object(map)
    }
}
