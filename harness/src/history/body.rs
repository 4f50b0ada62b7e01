//! The typed reading of an op's `value`. Each value shape of design.md section 8 decodes once,
//! when a history is built, into a [`Body`]; checkers read bodies and never walk JSON. Keys are
//! interned into [`KeyId`]s so per-key state lives in vectors, not string-keyed maps, and
//! transaction ids into [`TxnId`]s so a transactional message holds no string.
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
pub use super::keys::{KeyId, Keys};
pub use super::local::Local;
pub use super::txns::{TxnId, Txns};

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

/// 24 bytes: the transaction id is interned ([`History::txn_name`](super::History::txn_name)
/// names it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxnSend {
    /// The transaction id (an integer id is named by its decimal digits).
    pub txn: TxnId,
    pub key: KeyId,
    pub value: i64,
    /// Present on completions: the local transaction's result when the op returned.
    pub local: Option<Local>,
}

const _: () = assert!(std::mem::size_of::<TxnSend>() <= 24);

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
