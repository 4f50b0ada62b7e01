//! The typed reading of an op's `value`. Each value shape of design.md section 8 decodes once,
//! when a history is built, into a [`Body`]; checkers read bodies and never walk JSON. Keys are
//! interned into [`KeyId`]s so per-key state lives in vectors, not string-keyed maps.
//!
//! Shapes (`k` is a key `"topic/partition"`, `v` an integer value unique per run, `o` an offset):
//!
//! | f | invoke | completion |
//! |---|---|---|
//! | `send` | `[["send",k,v], ...]` | `[["send",k,[o,v]], ...]`, `o` may be `null` |
//! | `send` with a deadline | `[["send",k,v,{"deadline":d}], ...]` | `[["send",k,[o,v],{"deadline":d}], ...]` |
//! | `poll` | `[["poll"]]` | `[["poll",{k:[[o,v], ...]}]]` |
//! | `txn` | a mix of send and poll micro-ops | same |
//! | `assign`, `subscribe` | `[k, ...]` or `{"group":g,"keys":[k...],"topics":[t...],"generation":n}` | same |
//! | `commit-offsets` | `{k:o, ...}` (the next offset to read) | same |
//! | `txn-send` | `{"txn":id,"key":k,"value":v}` | plus `"local":"commit"\|"rollback"\|"unknown"` |
//! | `apply` | `{"key":k,"value":v,"offset":o}` | same |
//! | `expired` | event, `ok`: `{"key":k,"value":v,"offset":o}`, `o` may be `null` or absent | |
//! | `admit` | `{"key":k,"request":r}`, plus `"token":[o,v]` once the gateway read one | `ok`: with `"token"` (required); `fail`, `info`: with or without it |
//! | `sequence-gap` | event: `{"key":k,"producer":p,"expected":n,"got":m}` | |
//! | `final-state` | event: see [`super::final_state`] | |
//! | `crash`, nemesis | free-form | |
//!
//! A deadline `d` is simulated nanoseconds since the run began (the unit of an op's `time`):
//! the message may be applied up to and including `d`, and expires after it. The invoke
//! carries it; a completion may repeat it (the same number) or leave it out, never add one.
//! `expired` is a consumer's event: it discarded value `v` unapplied because its deadline had
//! passed. `admit` is a gateway's request for one token of the token bucket behind key `k`
//! (whose rate and capacity the final state records) before it admits request `r`; request ids
//! are integers, unique per run. `ok` means it took the token record `[o,v]` and admitted the
//! request; `fail` means no token was consumed and the request was rejected; `info` means the
//! request was rejected but whether the token it names (if any) was consumed is unknown. A
//! gateway reads the token at the bucket's head *before* it invokes the take, and names it in
//! the invoke, so a gateway that crashes mid-take has still recorded what it read; invoke and
//! completion name the same token when both name one. A token an `admit` names is a record the
//! gateway read: the inferred log counts it as a read, whatever the outcome.

use super::final_state::FinalState;
use super::op::{OpType, F};
use indexmap::IndexSet;
use serde_json::{Map, Value};
use std::hash::{BuildHasherDefault, Hasher};

/// An interned key (`"topic/partition"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId(pub u32);

impl KeyId {
    pub fn slot(self) -> usize {
        self.0 as usize
    }
}

/// The key interner of one history: key names in the order first met, a key's id its
/// position. Every key of every op is looked up here while a history is read, so the names are
/// hashed (an insertion-ordered set: nothing depends on hash order).
#[derive(Clone, Debug, Default)]
pub struct Keys {
    names: IndexSet<String, BuildHasherDefault<KeyHasher>>,
}

/// A multiply-rotate hash of a key name, a word at a time (rustc's Fx hash): keys are short,
/// and std's keyed hasher would cost more than the lookup it serves.
#[derive(Clone, Copy, Debug, Default)]
struct KeyHasher(u64);

impl KeyHasher {
    const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(Self::SEED);
    }
}

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            self.add(u64::from_le_bytes(chunk.try_into().expect("8 bytes")));
        }
        let mut last = [0u8; 8];
        let rest = chunks.remainder();
        last[..rest.len()].copy_from_slice(rest);
        self.add(u64::from_le_bytes(last));
    }

    fn write_u8(&mut self, byte: u8) {
        self.add(u64::from(byte));
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl Keys {
    pub fn intern(&mut self, name: &str) -> KeyId {
        let position = match self.names.get_index_of(name) {
            Some(position) => position,
            None => self.names.insert_full(name.to_string()).0,
        };
        KeyId(u32::try_from(position).expect("fewer than 2^32 keys"))
    }

    /// Forgets the keys interned after the first `len` (a reader that gave up on a line gives
    /// its keys back, so ids stay in the order the accepted reading meets them).
    pub(crate) fn truncate(&mut self, len: usize) {
        self.names.truncate(len);
    }

    pub fn name(&self, id: KeyId) -> &str {
        self.names
            .get_index(id.slot())
            .expect("a key id of this history")
    }

    pub fn id(&self, name: &str) -> Option<KeyId> {
        self.names
            .get_index_of(name)
            .map(|position| KeyId(position as u32))
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// A decoded op value.
#[derive(Clone, Debug, PartialEq)]
pub enum Body {
    /// `send`, `poll`, `txn`.
    Mops(Vec<Mop>),
    /// `assign`, `subscribe`: rare, and boxed so every other op's body stays small.
    Membership(Box<Membership>),
    /// `commit-offsets`, sorted by key.
    CommitOffsets(Vec<(KeyId, u64)>),
    TxnSend(TxnSend),
    Apply(Apply),
    Expired(Expired),
    Admit(Admit),
    FinalState(Box<FinalState>),
    SequenceGap(SequenceGap),
    /// `zk-create`, `zk-read`, `zk-write`.
    Zk(Zk),
    /// `crash`, `debug-topic-partitions` and nemesis ops: free-form values no checker reads.
    Opaque,
}

impl Body {
    pub fn mops(&self) -> &[Mop] {
        match self {
            Body::Mops(mops) => mops,
            _ => &[],
        }
    }
}

/// One micro-op of a `send`, `poll` or `txn` op.
#[derive(Clone, Debug, PartialEq)]
pub enum Mop {
    Send(SendMop),
    Poll(PollMop),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SendMop {
    pub key: KeyId,
    pub value: i64,
    /// The offset the broker assigned; `None` on an invoke, or when the client never learned it.
    pub offset: Option<u64>,
    /// When the message expires, in simulated ns since the run began; `None`: never.
    pub deadline: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PollMop {
    /// `None` for `["poll"]` (an invoke, or a completion that carries no records).
    pub reads: Option<Vec<KeyReads>>,
}

/// The records one poll returned for one key, in the order returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyReads {
    pub key: KeyId,
    pub records: Vec<Record>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record {
    pub offset: u64,
    pub value: i64,
}

/// A consumer's (re)assignment: it keeps the read positions of the keys it still covers and
/// resets the others (consumer-order compares across it only for covered keys).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Membership {
    pub group: Option<String>,
    pub keys: Vec<KeyId>,
    pub topics: Vec<String>,
    pub generation: Option<u64>,
}

impl Membership {
    /// Does this assignment cover `key`: named, or a partition of a named topic (the part of
    /// the key's name before its last `/`)?
    pub fn covers(&self, key: KeyId, keys: &Keys) -> bool {
        self.keys.contains(&key)
            || keys
                .name(key)
                .rsplit_once('/')
                .is_some_and(|(topic, _)| self.topics.iter().any(|t| t == topic))
    }
}

/// The producer's local transaction record for one transactional message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Local {
    Commit,
    Rollback,
    Unknown,
}

impl Local {
    pub fn parse(text: &str) -> Option<Local> {
        match text {
            "commit" => Some(Local::Commit),
            "rollback" => Some(Local::Rollback),
            "unknown" => Some(Local::Unknown),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Local::Commit => "commit",
            Local::Rollback => "rollback",
            Local::Unknown => "unknown",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxnSend {
    /// The transaction id, as a string (integers are written in decimal).
    pub txn: String,
    pub key: KeyId,
    pub value: i64,
    /// Present on completions: the local transaction's result when the op returned.
    pub local: Option<Local>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Apply {
    pub key: KeyId,
    pub value: i64,
    pub offset: Option<u64>,
}

/// A consumer discarded a message unapplied because its deadline had passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expired {
    pub key: KeyId,
    pub value: i64,
    pub offset: Option<u64>,
}

/// A gateway's request for a token from the bucket behind `key`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Admit {
    /// The token key (e.g. `"tokens/0"`).
    pub key: KeyId,
    /// The request the gateway is admitting; unique per run.
    pub request: i64,
    /// The token record taken: always on `ok` completions, possibly on `info` ones (read, but
    /// whether it was consumed is unknown), never on invokes and `fail`s.
    pub token: Option<Record>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SequenceGap {
    pub key: KeyId,
    pub producer: u64,
    pub expected: u64,
    pub got: u64,
}

/// A coordinator client's op on one znode (`zk-create`, `zk-read`, `zk-write`). The znode's
/// path is interned like a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Zk {
    pub path: KeyId,
    /// Create and write: the data written (unique per run). A read's `ok`: the data read, or
    /// `None` when the znode did not exist.
    pub data: Option<i64>,
    /// Write: the version the write is conditional on.
    pub expected: Option<u64>,
    /// `ok` completions: the znode's version after a create (0) or write (`expected + 1`), or
    /// the version a read saw (`None` when the znode did not exist).
    pub version: Option<u64>,
}

/// Where in a value a reader looked: built without allocating, printed only on error, e.g.
/// `value[0][1]["orders/0"][3]`.
#[derive(Clone, Copy)]
pub(crate) enum At<'p> {
    Root(&'static str),
    Index(&'p At<'p>, usize),
    Field(&'p At<'p>, &'p str),
}

impl std::fmt::Display for At<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            At::Root(name) => f.write_str(name),
            At::Index(parent, index) => write!(f, "{parent}[{index}]"),
            At::Field(parent, name) => {
                if name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                {
                    write!(f, "{parent}.{name}")
                } else {
                    write!(f, "{parent}[{name:?}]")
                }
            }
        }
    }
}

const VALUE: At<'static> = At::Root("value");

/// Decodes `value` for an op with function `f` and type `kind`. The error is a reason a
/// person can act on, naming the part of the value that is wrong.
pub(crate) fn decode(f: &F, kind: OpType, value: &Value, keys: &mut Keys) -> Result<Body, String> {
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
        F::TxnSend => decode_txn_send(kind, value, keys).map(Body::TxnSend),
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
            FinalState::decode(value, keys).map(|state| Body::FinalState(Box::new(state)))
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

fn decode_txn_send(kind: OpType, value: &Value, keys: &mut Keys) -> Result<TxnSend, String> {
    let map = object(value, &VALUE)?;
    only_fields(map, &["txn", "key", "value", "local"], &VALUE)?;
    let txn = match field(map, "txn", &VALUE)? {
        Value::String(text) if !text.is_empty() => text.clone(),
        Value::Number(number) if number.is_u64() || number.is_i64() => number.to_string(),
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

// --- small readers, each naming where it looked ---

pub(crate) fn shape(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

pub(crate) fn object<'v>(value: &'v Value, at: &At<'_>) -> Result<&'v Map<String, Value>, String> {
    value
        .as_object()
        .ok_or_else(|| format!("{at}: expected an object, found {}", shape(value)))
}

pub(crate) fn array<'v>(value: &'v Value, at: &At<'_>) -> Result<&'v Vec<Value>, String> {
    value
        .as_array()
        .ok_or_else(|| format!("{at}: expected a list, found {}", shape(value)))
}

pub(crate) fn field<'v>(
    map: &'v Map<String, Value>,
    name: &str,
    at: &At<'_>,
) -> Result<&'v Value, String> {
    map.get(name)
        .ok_or_else(|| format!("{at}: missing field \"{name}\""))
}

pub(crate) fn only_fields(
    map: &Map<String, Value>,
    known: &[&str],
    at: &At<'_>,
) -> Result<(), String> {
    for name in map.keys() {
        if !known.contains(&name.as_str()) {
            return Err(format!(
                "{at}: unknown field {name:?} (known: {})",
                known.join(", ")
            ));
        }
    }
    Ok(())
}

pub(crate) fn string_of<'v>(value: &'v Value, at: &At<'_>) -> Result<&'v str, String> {
    value
        .as_str()
        .ok_or_else(|| format!("{at}: expected a string, found {}", shape(value)))
}

pub(crate) fn integer_of(value: &Value, at: &At<'_>) -> Result<i64, String> {
    value
        .as_i64()
        .ok_or_else(|| format!("{at}: expected an integer value, found {value}"))
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

pub(crate) fn offset_of(value: &Value, at: &At<'_>) -> Result<u64, String> {
    value
        .as_u64()
        .ok_or_else(|| format!("{at}: expected a non-negative integer, found {value}"))
}

pub(crate) fn intern(keys: &mut Keys, name: &str, at: &At<'_>) -> Result<KeyId, String> {
    if name.is_empty() {
        return Err(format!(
            "{at}: a key must not be empty (keys look like \"orders/0\")"
        ));
    }
    Ok(keys.intern(name))
}

/// A key written as a string (`"orders/0"`) or, as Jepsen's Kafka workload writes them, as a
/// non-negative integer (`3`, read as the key `"3"`, which is also how a poll's JSON object
/// names it).
pub(crate) fn key_of(keys: &mut Keys, value: &Value, at: &At<'_>) -> Result<KeyId, String> {
    match value {
        Value::String(name) => intern(keys, name, at),
        Value::Number(number) if number.is_u64() => intern(keys, &number.to_string(), at),
        other => Err(format!(
            "{at}: expected a key (a string like \"orders/0\" or an integer), found {}",
            shape(other)
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
