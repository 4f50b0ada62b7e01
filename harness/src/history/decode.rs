//! Decodes an op's `value` into its [`Body`] (the shapes are in [`super::body`]'s table), once,
//! when a history is built. The error is a reason a person can act on, naming the part of the
//! value that is wrong.

use super::body::{
    Admit, Apply, Body, Expired, KeyReads, Membership, Mop, PollMop, Record, SendMop, SequenceGap,
    TxnSend, Zk,
};
use super::final_state::FinalState;
use super::keys::{KeyId, Keys};
use super::local::Local;
use super::op::{OpType, F};
use super::txns::Txns;
use super::value_reader::{
    array, field, integer_of, intern, key_of, object, offset_of, only_fields, shape, string_of, At,
};
use serde_json::{Map, Value};

const VALUE: At<'static> = At::Root("value");

/// Decodes `value` for an op with function `f` and type `kind`. The error is a reason a
/// person can act on, naming the part of the value that is wrong.
pub(crate) fn decode(
    f: &F,
    kind: OpType,
    value: &Value,
    keys: &mut Keys,
    txns: &mut Txns,
) -> Result<Body, String> {
    match f {
        F::Send | F::Poll | F::Txn => decode_mops(f, kind, value, keys).map(Body::Mops),
        F::Assign | F::Subscribe => {
            decode_membership(value, keys).map(|membership| Body::Membership(Box::new(membership)))
        }
        F::CommitOffsets => {
            let map = object(value, &VALUE)?;
            let mut offsets = Vec::with_capacity(map.len());
            for (key, offset) in map {
                let offset = offset_of(offset, &At::Field(&VALUE, key))?;
                offsets.push((intern(keys, key, &VALUE)?, offset));
            }
            offsets.sort_unstable();
            Ok(Body::CommitOffsets(offsets))
        }
        F::TxnSend => decode_txn_send(kind, value, keys, txns).map(Body::TxnSend),
        F::Apply => {
            let (key, value, offset) = decode_delivery(value, keys)?;
            Ok(Body::Apply(Apply { key, value, offset }))
        }
        F::Expired => {
            // An invoke is refused by the history's pairing rule for events.
            if matches!(kind, OpType::Fail | OpType::Info) {
                return Err(format!(
                    "type: an expired event is recorded once as ok (the consumer did discard the message), not {}",
                    kind.as_str()
                ));
            }
            let (key, value, offset) = decode_delivery(value, keys)?;
            Ok(Body::Expired(Expired { key, value, offset }))
        }
        F::Admit => decode_admit(kind, value, keys).map(Body::Admit),
        F::SequenceGap => {
            let map = object(value, &VALUE)?;
            only_fields(map, &["key", "producer", "expected", "got"], &VALUE)?;
            let number = |name: &'static str| -> Result<u64, String> {
                offset_of(field(map, name, &VALUE)?, &At::Field(&VALUE, name))
            };
            Ok(Body::SequenceGap(SequenceGap {
                producer: number("producer")?,
                expected: number("expected")?,
                got: number("got")?,
                key: key_field(map, keys)?,
            }))
        }
        F::FinalState => {
            FinalState::decode(value, keys, txns).map(|state| Body::FinalState(Box::new(state)))
        }
        F::ZkCreate | F::ZkRead | F::ZkWrite => decode_zk(f, kind, value, keys).map(Body::Zk),
        F::Crash
        | F::DebugTopicPartitions
        | F::Heal
        | F::Drain
        | F::Start(_)
        | F::Stop(_)
        | F::Other(_) => Ok(Body::Opaque),
    }
}

/// `{"path", "data"?, "expected"?, "version"?}`; which fields an op carries depends on its
/// function and type (docs/history.md).
fn decode_zk(f: &F, kind: OpType, value: &Value, keys: &mut Keys) -> Result<Zk, String> {
    let map = object(value, &VALUE)?;
    only_fields(map, &["path", "data", "expected", "version"], &VALUE)?;
    let path_at = At::Field(&VALUE, "path");
    let name = string_of(field(map, "path", &VALUE)?, &path_at)?;
    if !name.starts_with('/') {
        return Err(format!("{path_at}: a znode path starts with '/'"));
    }
    let path = intern(keys, name, &path_at)?;
    let nullable =
        |name: &'static str| -> Option<&Value> { map.get(name).filter(|value| !value.is_null()) };
    let data = nullable("data")
        .map(|data| integer_of(data, &At::Field(&VALUE, "data")))
        .transpose()?;
    let expected = nullable("expected")
        .map(|expected| offset_of(expected, &At::Field(&VALUE, "expected")))
        .transpose()?;
    let version = nullable("version")
        .map(|version| offset_of(version, &At::Field(&VALUE, "version")))
        .transpose()?;
    let ok = kind == OpType::Ok;
    match f {
        F::ZkCreate | F::ZkWrite if data.is_none() => {
            return Err(format!("{VALUE}: a {f} names the data it writes"));
        }
        F::ZkWrite if expected.is_none() => {
            return Err(format!("{VALUE}: a zk-write names the version it expects"));
        }
        F::ZkCreate if ok && version != Some(0) => {
            return Err(format!("{VALUE}: an ok zk-create has version 0"));
        }
        F::ZkWrite if ok && version != expected.map(|v| v + 1) => {
            return Err(format!(
                "{VALUE}: an ok zk-write has the version it expected plus one"
            ));
        }
        F::ZkRead if ok && !map.contains_key("version") => {
            return Err(format!(
                "{VALUE}: an ok zk-read names the version it saw (null: no such znode)"
            ));
        }
        F::ZkRead if ok && version.is_some() != data.is_some() => {
            return Err(format!(
                "{VALUE}: an ok zk-read has both data and version, or neither (no such znode)"
            ));
        }
        F::ZkRead if !ok && (data.is_some() || version.is_some()) => {
            return Err(format!("{VALUE}: only an ok zk-read carries what it read"));
        }
        _ => {}
    }
    if !ok && *f != F::ZkRead && version.is_some() {
        return Err(format!(
            "{VALUE}: only an ok completion carries the version"
        ));
    }
    Ok(Zk {
        path,
        data,
        expected,
        version,
    })
}

fn decode_mops(f: &F, kind: OpType, value: &Value, keys: &mut Keys) -> Result<Vec<Mop>, String> {
    let items = value.as_array().ok_or_else(|| {
        format!(
            "value: expected a list of micro-ops like [[\"send\",\"orders/0\",17]], found {}",
            shape(value)
        )
    })?;
    if items.is_empty() {
        return Err("value: a list of micro-ops must not be empty".to_string());
    }
    let mut mops = Vec::with_capacity(items.len());
    for (position, item) in items.iter().enumerate() {
        let at = At::Index(&VALUE, position);
        let parts = item.as_array().ok_or_else(|| {
            format!(
                "{at}: expected a micro-op like [\"send\",k,v] or [\"poll\"], found {}",
                shape(item)
            )
        })?;
        let mop = match parts.first().and_then(Value::as_str) {
            Some("send") => Mop::Send(decode_send(parts, &at, keys)?),
            Some("poll") => Mop::Poll(decode_poll(parts, &at, keys)?),
            _ => return Err(format!("{at}: a micro-op starts with \"send\" or \"poll\"")),
        };
        match (f, &mop) {
            (F::Send, Mop::Poll(_)) => {
                return Err(format!("{at}: a send op holds only send micro-ops"))
            }
            (F::Poll, Mop::Send(_)) => {
                return Err(format!("{at}: a poll op holds only poll micro-ops"))
            }
            _ => {}
        }
        if kind == OpType::Invoke {
            if let Mop::Poll(PollMop { reads: Some(_) }) = mop {
                return Err(format!(
                    "{at}: an invoke's poll carries no records; write [\"poll\"]"
                ));
            }
        }
        mops.push(mop);
    }
    Ok(mops)
}

fn decode_send(parts: &[Value], at: &At<'_>, keys: &mut Keys) -> Result<SendMop, String> {
    if !(3..=4).contains(&parts.len()) {
        return Err(format!(
            "{at}: a send micro-op is [\"send\",key,value] or [\"send\",key,[offset,value]], optionally followed by {{\"deadline\":ns}}"
        ));
    }
    let key = key_of(keys, &parts[1], &At::Index(at, 1))?;
    let (offset, value) = match &parts[2] {
        Value::Array(pair) if pair.len() == 2 => {
            let pair_at = At::Index(at, 2);
            let offset = match &pair[0] {
                Value::Null => None,
                offset => Some(offset_of(offset, &At::Index(&pair_at, 0))?),
            };
            (offset, integer_of(&pair[1], &At::Index(&pair_at, 1))?)
        }
        Value::Array(_) => return Err(format!("{}: expected [offset, value]", At::Index(at, 2))),
        value => (None, integer_of(value, &At::Index(at, 2))?),
    };
    let deadline = match parts.get(3) {
        None => None,
        Some(options) => {
            let options_at = At::Index(at, 3);
            let map = options.as_object().ok_or_else(|| {
                format!(
                    "{options_at}: expected {{\"deadline\":ns}} after the value, found {}",
                    shape(options)
                )
            })?;
            only_fields(map, &["deadline"], &options_at)?;
            let deadline = field(map, "deadline", &options_at)?;
            Some(offset_of(deadline, &At::Field(&options_at, "deadline"))?)
        }
    };
    Ok(SendMop {
        key,
        value,
        offset,
        deadline,
    })
}

fn decode_poll(parts: &[Value], at: &At<'_>, keys: &mut Keys) -> Result<PollMop, String> {
    match parts.len() {
        1 => Ok(PollMop { reads: None }),
        2 => {
            let map_at = At::Index(at, 1);
            let map = parts[1].as_object().ok_or_else(|| {
                format!(
                    "{map_at}: expected {{key: [[offset, value], ...]}}, found {}",
                    shape(&parts[1])
                )
            })?;
            let mut reads = Vec::with_capacity(map.len());
            for (name, records) in map {
                let key_at = At::Field(&map_at, name);
                let list = records.as_array().ok_or_else(|| {
                    format!(
                        "{key_at}: expected a list of [offset, value], found {}",
                        shape(records)
                    )
                })?;
                let mut decoded = Vec::with_capacity(list.len());
                for (position, record) in list.iter().enumerate() {
                    decoded.push(record_of(record, &At::Index(&key_at, position))?);
                }
                reads.push(KeyReads {
                    key: intern(keys, name, &map_at)?,
                    records: decoded,
                });
            }
            Ok(PollMop { reads: Some(reads) })
        }
        _ => Err(format!(
            "{at}: a poll micro-op is [\"poll\"] or [\"poll\",{{key: records}}]"
        )),
    }
}

/// `{"key":k,"value":v,"offset":o}` of `apply` and `expired`; the offset may be `null` or absent.
fn decode_delivery(value: &Value, keys: &mut Keys) -> Result<(KeyId, i64, Option<u64>), String> {
    let map = object(value, &VALUE)?;
    only_fields(map, &["key", "value", "offset"], &VALUE)?;
    let offset = match map.get("offset") {
        None | Some(Value::Null) => None,
        Some(offset) => Some(offset_of(offset, &At::Field(&VALUE, "offset"))?),
    };
    Ok((
        key_field(map, keys)?,
        integer_of(field(map, "value", &VALUE)?, &At::Field(&VALUE, "value"))?,
        offset,
    ))
}

/// `{"key":k,"request":r}`, plus `"token":[o,v]` on an `ok` (always) or `info` (maybe)
/// completion.
fn decode_admit(kind: OpType, value: &Value, keys: &mut Keys) -> Result<Admit, String> {
    let map = object(value, &VALUE)?;
    only_fields(map, &["key", "request", "token"], &VALUE)?;
    let request = integer_of(
        field(map, "request", &VALUE)?,
        &At::Field(&VALUE, "request"),
    )?;
    let token = match map.get("token") {
        None | Some(Value::Null) => None,
        Some(token) => Some(record_of(token, &At::Field(&VALUE, "token"))?),
    };
    match (kind, token.is_some()) {
        (OpType::Ok, false) => Err(
            "value: an ok admit names the token it took: add \"token\":[offset,value] (a request rejected for want of a token is a fail)"
                .to_string(),
        ),
        _ => Ok(Admit {
            key: key_field(map, keys)?,
            request,
            token,
        }),
    }
}

fn decode_membership(value: &Value, keys: &mut Keys) -> Result<Membership, String> {
    match value {
        Value::Null => Ok(Membership::default()),
        Value::Array(items) => Ok(Membership {
            keys: key_list(items, &VALUE, keys)?,
            ..Membership::default()
        }),
        Value::Object(map) => {
            only_fields(map, &["group", "keys", "topics", "generation"], &VALUE)?;
            let group = match map.get("group") {
                None | Some(Value::Null) => None,
                Some(group) => Some(string_of(group, &At::Field(&VALUE, "group"))?.to_string()),
            };
            let keys_at = At::Field(&VALUE, "keys");
            let keys = match map.get("keys") {
                None => Vec::new(),
                Some(list) => key_list(array(list, &keys_at)?, &keys_at, keys)?,
            };
            let topics_at = At::Field(&VALUE, "topics");
            let topics = match map.get("topics") {
                None => Vec::new(),
                Some(list) => array(list, &topics_at)?
                    .iter()
                    .enumerate()
                    .map(|(i, t)| string_of(t, &At::Index(&topics_at, i)).map(str::to_string))
                    .collect::<Result<_, _>>()?,
            };
            let generation = match map.get("generation") {
                None | Some(Value::Null) => None,
                Some(generation) => {
                    Some(offset_of(generation, &At::Field(&VALUE, "generation"))?)
                }
            };
            Ok(Membership {
                group,
                keys,
                topics,
                generation,
            })
        }
        other => Err(format!(
            "value: expected a list of keys or {{\"group\",\"keys\",\"topics\",\"generation\"}}, found {}",
            shape(other)
        )),
    }
}

fn decode_txn_send(
    kind: OpType,
    value: &Value,
    keys: &mut Keys,
    txns: &mut Txns,
) -> Result<TxnSend, String> {
    let map = object(value, &VALUE)?;
    only_fields(map, &["txn", "key", "value", "local"], &VALUE)?;
    let txn = match field(map, "txn", &VALUE)? {
        Value::String(text) if !text.is_empty() => txns.intern(text),
        Value::Number(number) if number.is_u64() || number.is_i64() => {
            txns.intern(&number.to_string())
        }
        other => {
            return Err(format!(
                "value.txn: expected a transaction id (string or integer), found {}",
                shape(other)
            ))
        }
    };
    let local = match map.get("local") {
        None | Some(Value::Null) => None,
        Some(local) => Some(local.as_str().and_then(Local::parse).ok_or_else(|| {
            format!("value.local: expected \"commit\", \"rollback\" or \"unknown\", found {local}")
        })?),
    };
    if kind == OpType::Invoke && local.is_some() {
        return Err(
            "value.local: an invoke cannot know its local transaction's result yet".to_string(),
        );
    }
    Ok(TxnSend {
        txn,
        key: key_field(map, keys)?,
        value: integer_of(field(map, "value", &VALUE)?, &At::Field(&VALUE, "value"))?,
        local,
    })
}

/// A record `[offset, value]`.
pub(crate) fn record_of(record: &Value, at: &At<'_>) -> Result<Record, String> {
    match record.as_array().map(Vec::as_slice) {
        Some([offset, value]) => Ok(Record {
            offset: offset_of(offset, &At::Index(at, 0))?,
            value: integer_of(value, &At::Index(at, 1))?,
        }),
        _ => Err(format!(
            "{at}: expected [offset, value], found {}",
            shape(record)
        )),
    }
}

fn key_field(map: &Map<String, Value>, keys: &mut Keys) -> Result<KeyId, String> {
    key_of(keys, field(map, "key", &VALUE)?, &At::Field(&VALUE, "key"))
}

fn key_list(items: &[Value], at: &At<'_>, keys: &mut Keys) -> Result<Vec<KeyId>, String> {
    items
        .iter()
        .enumerate()
        .map(|(i, item)| key_of(keys, item, &At::Index(at, i)))
        .collect()
}
