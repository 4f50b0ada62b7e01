//! One history entry. An op is what a client or the nemesis did, as recorded at the moment it
//! happened: a client op is an `invoke` followed by exactly one completion (`ok`, `fail`, or
//! `info` when the outcome is unknown); events (`crash`, `sequence-gap`, `expired`,
//! `final-state`) and nemesis ops stand alone. The field order of [`Op`] is the field order on disk.

use serde::de::{self, Deserializer, Visitor};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Who performed an op: a client (one id per connection; faultline never reuses one after an
/// `info`, and ops of a reused one after an `info` belong to a new logical process) or the
/// fault injector.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Process {
    Client(u64),
    Nemesis,
}

impl Process {
    pub fn client(self) -> Option<u64> {
        match self {
            Process::Client(id) => Some(id),
            Process::Nemesis => None,
        }
    }
}

impl fmt::Display for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Process::Client(id) => write!(f, "{id}"),
            Process::Nemesis => f.write_str("nemesis"),
        }
    }
}

impl Serialize for Process {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Process::Client(id) => serializer.serialize_u64(*id),
            Process::Nemesis => serializer.serialize_str("nemesis"),
        }
    }
}

impl<'de> Deserialize<'de> for Process {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ProcessVisitor;
        impl Visitor<'_> for ProcessVisitor {
            type Value = Process;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a client id (a non-negative integer) or \"nemesis\"")
            }
            fn visit_u64<E: de::Error>(self, id: u64) -> Result<Process, E> {
                Ok(Process::Client(id))
            }
            fn visit_i64<E: de::Error>(self, id: i64) -> Result<Process, E> {
                u64::try_from(id)
                    .map(Process::Client)
                    .map_err(|_| E::invalid_value(de::Unexpected::Signed(id), &self))
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Process, E> {
                if text == "nemesis" {
                    Ok(Process::Nemesis)
                } else {
                    Err(E::invalid_value(de::Unexpected::Str(text), &self))
                }
            }
        }
        deserializer.deserialize_any(ProcessVisitor)
    }
}

/// The `type` field: an invocation or one of the three completions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpType {
    Invoke,
    /// Definitely happened.
    Ok,
    /// Definitely did not happen.
    Fail,
    /// May or may not have happened.
    Info,
}

impl OpType {
    pub fn as_str(self) -> &'static str {
        match self {
            OpType::Invoke => "invoke",
            OpType::Ok => "ok",
            OpType::Fail => "fail",
            OpType::Info => "info",
        }
    }

    pub fn is_completion(self) -> bool {
        self != OpType::Invoke
    }
}

/// The `f` field: what was done. Client functions are a closed set; the nemesis may name any
/// fault (`start-partition`, `stop-clog`, ...), plus the driver's phase markers `heal` (every
/// fault lifted) and `drain` (final reads begin).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum F {
    Send,
    Poll,
    Txn,
    Assign,
    Subscribe,
    Crash,
    CommitOffsets,
    TxnSend,
    Apply,
    /// A consumer discarded a message because its deadline had passed (an event).
    Expired,
    /// A gateway asked its token bucket for a token before admitting a request.
    Admit,
    /// A coordinator client created its znode (`zk-create`).
    ZkCreate,
    /// A coordinator client read a znode's data and version (`zk-read`).
    ZkRead,
    /// A coordinator client set a znode's data if its version was the expected one (`zk-write`).
    ZkWrite,
    FinalState,
    SequenceGap,
    /// Jepsen's Kafka workload asks the admin API for partition state during its final reads;
    /// a client request no check judges.
    DebugTopicPartitions,
    Heal,
    Drain,
    /// `start-<fault>`; holds `<fault>`.
    Start(String),
    /// `stop-<fault>`; holds `<fault>`.
    Stop(String),
    /// Any other nemesis function.
    Other(String),
}

/// Client functions, for error messages.
pub const CLIENT_FUNCTIONS: &str = "send, poll, txn, assign, subscribe, crash, commit-offsets, \
     txn-send, apply, expired, admit, final-state, sequence-gap, debug-topic-partitions, \
     zk-create, zk-read, zk-write";

impl F {
    pub fn parse(text: &str) -> F {
        match text {
            "send" => F::Send,
            "poll" => F::Poll,
            "txn" => F::Txn,
            "assign" => F::Assign,
            "subscribe" => F::Subscribe,
            "crash" => F::Crash,
            "commit-offsets" => F::CommitOffsets,
            "txn-send" => F::TxnSend,
            "apply" => F::Apply,
            "expired" => F::Expired,
            "admit" => F::Admit,
            "zk-create" => F::ZkCreate,
            "zk-read" => F::ZkRead,
            "zk-write" => F::ZkWrite,
            "final-state" => F::FinalState,
            "sequence-gap" => F::SequenceGap,
            "debug-topic-partitions" => F::DebugTopicPartitions,
            "heal" => F::Heal,
            "drain" => F::Drain,
            _ => {
                if let Some(fault) = text.strip_prefix("start-") {
                    F::Start(fault.to_string())
                } else if let Some(fault) = text.strip_prefix("stop-") {
                    F::Stop(fault.to_string())
                } else {
                    F::Other(text.to_string())
                }
            }
        }
    }

    pub fn name(&self) -> std::borrow::Cow<'_, str> {
        use std::borrow::Cow;
        Cow::Borrowed(match self {
            F::Send => "send",
            F::Poll => "poll",
            F::Txn => "txn",
            F::Assign => "assign",
            F::Subscribe => "subscribe",
            F::Crash => "crash",
            F::CommitOffsets => "commit-offsets",
            F::TxnSend => "txn-send",
            F::Apply => "apply",
            F::Expired => "expired",
            F::Admit => "admit",
            F::ZkCreate => "zk-create",
            F::ZkRead => "zk-read",
            F::ZkWrite => "zk-write",
            F::FinalState => "final-state",
            F::SequenceGap => "sequence-gap",
            F::DebugTopicPartitions => "debug-topic-partitions",
            F::Heal => "heal",
            F::Drain => "drain",
            F::Start(fault) => return Cow::Owned(format!("start-{fault}")),
            F::Stop(fault) => return Cow::Owned(format!("stop-{fault}")),
            F::Other(name) => name,
        })
    }

    /// Functions a client performs as an invoke/completion pair.
    pub fn is_request(&self) -> bool {
        matches!(
            self,
            F::Send
                | F::Poll
                | F::Txn
                | F::Assign
                | F::Subscribe
                | F::CommitOffsets
                | F::TxnSend
                | F::Apply
                | F::Admit
                | F::DebugTopicPartitions
                | F::ZkCreate
                | F::ZkRead
                | F::ZkWrite
        )
    }

    /// Functions only the nemesis (fault injector and driver) performs.
    pub fn is_nemesis_only(&self) -> bool {
        matches!(
            self,
            F::Heal | F::Drain | F::Start(_) | F::Stop(_) | F::Other(_)
        )
    }
}

impl fmt::Display for F {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl Serialize for F {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.name())
    }
}

impl<'de> Deserialize<'de> for F {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FVisitor;
        impl Visitor<'_> for FVisitor {
            type Value = F;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a function name such as \"send\" or \"start-partition\"")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<F, E> {
                if text.is_empty() {
                    return Err(E::invalid_value(de::Unexpected::Str(text), &self));
                }
                Ok(F::parse(text))
            }
        }
        deserializer.deserialize_str(FVisitor)
    }
}

/// One line of `history.jsonl`. `value` is kept exactly as recorded; its typed reading is
/// [`crate::history::Body`], decoded once when a [`crate::history::History`] is built.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Op {
    pub index: u64,
    /// Simulated nanoseconds since the sim epoch.
    pub time: u64,
    pub process: Process,
    #[serde(rename = "type")]
    pub kind: OpType,
    pub f: F,
    #[serde(default)]
    pub value: serde_json::Value,
}

impl Op {
    /// Everything but the value: what a [`crate::history::History`] keeps of each op.
    pub fn head(&self) -> OpHead {
        OpHead {
            index: self.index,
            time: self.time,
            process: self.process,
            kind: self.kind,
            f: self.f.clone(),
        }
    }
}

/// An op without its value, which a [`crate::history::History`] keeps decoded apart (as a
/// [`crate::history::Body`]); the fields and their meaning are [`Op`]'s.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpHead {
    pub index: u64,
    /// Simulated nanoseconds since the sim epoch.
    pub time: u64,
    pub process: Process,
    pub kind: OpType,
    pub f: F,
}
