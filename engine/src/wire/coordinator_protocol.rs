//! The coordinator's requests, responses and errors, as carried by `wire::Request::Coordinator`
//! and `wire::Response::Coordinator`. Append-only enums (postcard encodes variant indexes).

use serde::{Deserialize, Serialize};

pub type SessionId = u64;

/// The largest znode payload.
pub const DATA_BYTES_MAX: usize = 1024 * 1024;
/// The most operations in one `multi`.
pub const MULTI_OPS_MAX: usize = 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CreateMode {
    Persistent,
    Ephemeral,
    PersistentSequential,
    EphemeralSequential,
}

impl CreateMode {
    pub fn is_ephemeral(self) -> bool {
        matches!(
            self,
            CreateMode::Ephemeral | CreateMode::EphemeralSequential
        )
    }

    pub fn is_sequential(self) -> bool {
        matches!(
            self,
            CreateMode::PersistentSequential | CreateMode::EphemeralSequential
        )
    }
}

/// A znode's metadata. `version` counts data changes (0 at creation, +1 per set);
/// `cversion` counts changes to the children; zxids name the write that made a change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stat {
    pub version: u64,
    pub cversion: u64,
    pub czxid: u64,
    pub mzxid: u64,
    pub ephemeral_owner: Option<SessionId>,
    pub data_bytes: u32,
    pub children: u32,
}

/// One write, alone or inside a `multi`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    Create {
        path: String,
        data: Vec<u8>,
        mode: CreateMode,
    },
    /// `expected_version: None` sets unconditionally.
    SetData {
        path: String,
        data: Vec<u8>,
        expected_version: Option<u64>,
    },
    Delete {
        path: String,
        expected_version: Option<u64>,
    },
    /// Fails the whole `multi` unless the node has this version.
    Check { path: String, expected_version: u64 },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OpResult {
    /// The created path (with its sequence suffix, if sequential).
    Created {
        path: String,
    },
    Set {
        stat: Stat,
    },
    Deleted,
    Checked,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum WatchKind {
    /// Set by `get` and `exists`: fires on create, data change and delete.
    Data,
    /// Set by `children`: fires on a child's create or delete, and on the node's delete.
    Children,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum EventKind {
    Created,
    Deleted,
    DataChanged,
    ChildrenChanged,
    /// Synthesised by the client library: the coordinator restarted or dropped events, so any
    /// watch may have missed its change. Owners re-read and re-watch.
    WatchesReset,
    /// Synthesised by the client library: the session expired; its ephemerals are gone.
    SessionExpired,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchEvent {
    pub path: String,
    pub kind: EventKind,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CoordRequest {
    OpenSession {
        timeout_ms: u64,
    },
    CloseSession {
        session: SessionId,
    },
    /// Keeps the session alive and collects fired watch events, waiting up to `wait_ms` for one.
    Heartbeat {
        session: SessionId,
        wait_ms: u64,
    },
    Write {
        session: SessionId,
        op: Op,
    },
    Multi {
        session: SessionId,
        ops: Vec<Op>,
    },
    Get {
        session: SessionId,
        path: String,
        watch: bool,
    },
    Exists {
        session: SessionId,
        path: String,
        watch: bool,
    },
    Children {
        session: SessionId,
        path: String,
        watch: bool,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CoordResponse {
    /// `incarnation` changes whenever the coordinator restarts (its watches are then gone).
    Session {
        session: SessionId,
        timeout_ms: u64,
        incarnation: u64,
    },
    Closed,
    /// `overflowed`: the session's event queue overflowed and events were dropped.
    Events {
        events: Vec<WatchEvent>,
        incarnation: u64,
        overflowed: bool,
    },
    Written(OpResult),
    MultiDone(Vec<OpResult>),
    Data {
        data: Vec<u8>,
        stat: Stat,
    },
    Exists(Option<Stat>),
    Children {
        names: Vec<String>,
        stat: Stat,
    },
    Error(CoordError),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum CoordError {
    #[error("no node {path}")]
    NoNode { path: String },
    #[error("node {path} already exists")]
    NodeExists { path: String },
    #[error("version mismatch on {path}: expected {expected}, found {actual}")]
    BadVersion {
        path: String,
        expected: u64,
        actual: u64,
    },
    #[error("node {path} has children")]
    NotEmpty { path: String },
    #[error("ephemeral node {path} cannot have children")]
    NoChildrenForEphemerals { path: String },
    #[error("data of {bytes} bytes exceeds the {max} byte limit")]
    DataTooLarge { bytes: usize, max: usize },
    #[error("bad path {path:?}: {reason}")]
    BadPath { path: String, reason: String },
    #[error("session {session} expired or unknown")]
    SessionExpired { session: SessionId },
    #[error("operation {index} of the multi failed: {error}")]
    MultiFailed {
        index: usize,
        error: Box<CoordError>,
    },
    /// The write-ahead log failed; the write was not applied (but see the server's notes on an
    /// fsync error: the client must treat the outcome as unknown).
    #[error("storage failed: {reason}")]
    Storage { reason: String },
    #[error("too many: {what}")]
    Limit { what: String },
}

impl CoordError {
    /// Whether the same request may succeed if sent again later.
    pub fn is_retriable(&self) -> bool {
        matches!(self, CoordError::Storage { .. })
    }
}
