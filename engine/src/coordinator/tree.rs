//! The znode tree and the session table: the coordinator's durable state, as a pure state
//! machine. Every change is a [`Txn`] applied at a zxid (its write-ahead-log position); applying
//! the same txns in the same order always gives the same tree, which is how restart recovery
//! works. A txn is all-or-nothing: if any of its operations fails, [`Tree::apply`] restores the
//! tree exactly and reports the failure, so a `multi` can never be half-applied.

use crate::coordinator::path;
use crate::wire::coordinator_protocol::{
    CoordError, CreateMode, EventKind, Op, OpResult, SessionId, Stat, WatchEvent, DATA_BYTES_MAX,
    MULTI_OPS_MAX,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// The most znodes a tree holds; creations beyond it fail with `Limit`.
pub const ZNODES_MAX: usize = 1_000_000;
/// The most open sessions.
pub const SESSIONS_MAX: usize = 100_000;

/// A durable change: what the write-ahead log records.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Txn {
    OpenSession {
        timeout_ms: u64,
    },
    /// An explicit close or an expiry: the session's ephemerals go with it.
    CloseSession {
        session: SessionId,
    },
    Multi {
        session: SessionId,
        ops: Vec<Op>,
    },
    /// The coordinator started; its zxid becomes the server's incarnation.
    Started,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Znode {
    pub data: Vec<u8>,
    pub version: u64,
    pub cversion: u64,
    pub czxid: u64,
    pub mzxid: u64,
    pub ephemeral_owner: Option<SessionId>,
    /// The next suffix for a sequential child.
    pub sequence_next: u64,
    pub children: BTreeSet<String>,
}

impl Znode {
    fn new(data: Vec<u8>, zxid: u64, ephemeral_owner: Option<SessionId>) -> Znode {
        Znode {
            data,
            version: 0,
            cversion: 0,
            czxid: zxid,
            mzxid: zxid,
            ephemeral_owner,
            sequence_next: 0,
            children: BTreeSet::new(),
        }
    }

    pub fn stat(&self) -> Stat {
        Stat {
            version: self.version,
            cversion: self.cversion,
            czxid: self.czxid,
            mzxid: self.mzxid,
            ephemeral_owner: self.ephemeral_owner,
            data_bytes: self.data.len() as u32,
            children: self.children.len() as u32,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub timeout_ms: u64,
    pub ephemerals: BTreeSet<String>,
}

/// What applying a txn produced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    pub results: Vec<OpResult>,
    pub events: Vec<WatchEvent>,
    /// For `OpenSession`: the new session's id.
    pub session: Option<SessionId>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tree {
    nodes: BTreeMap<String, Znode>,
    sessions: BTreeMap<SessionId, SessionRecord>,
    session_next: SessionId,
    /// The zxid of the last applied txn.
    zxid: u64,
}

/// First-touch copies of everything a txn changed, to put back if it fails.
#[derive(Default)]
struct Undo {
    nodes: BTreeMap<String, Option<Znode>>,
    sessions: BTreeMap<SessionId, Option<SessionRecord>>,
}

impl Default for Tree {
    fn default() -> Tree {
        let mut nodes = BTreeMap::new();
        nodes.insert("/".to_string(), Znode::new(Vec::new(), 0, None));
        Tree {
            nodes,
            sessions: BTreeMap::new(),
            session_next: 1,
            zxid: 0,
        }
    }
}

impl Tree {
    pub fn zxid(&self) -> u64 {
        self.zxid
    }

    pub fn get(&self, path: &str) -> Option<&Znode> {
        self.nodes.get(path)
    }

    pub fn sessions(&self) -> &BTreeMap<SessionId, SessionRecord> {
        &self.sessions
    }

    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Checks a txn without changing anything: applies it to the tree and undoes it.
    pub fn check(&mut self, txn: &Txn, zxid: u64) -> Result<(), CoordError> {
        let mut undo = Undo::default();
        let saved = (self.zxid, self.session_next);
        let result = self.apply_inner(txn, zxid, &mut undo);
        self.restore(undo);
        (self.zxid, self.session_next) = saved;
        result.map(|_| ())
    }

    /// Applies `txn` as of `zxid` (which must exceed the last one). On failure nothing changed.
    pub fn apply(&mut self, txn: &Txn, zxid: u64) -> Result<Applied, CoordError> {
        assert!(
            zxid > self.zxid,
            "zxid {zxid} does not follow {}",
            self.zxid
        );
        let mut undo = Undo::default();
        let saved = (self.zxid, self.session_next);
        match self.apply_inner(txn, zxid, &mut undo) {
            Ok(applied) => {
                self.zxid = zxid;
                Ok(applied)
            }
            Err(error) => {
                self.restore(undo);
                (self.zxid, self.session_next) = saved;
                Err(error)
            }
        }
    }

    fn restore(&mut self, undo: Undo) {
        for (path, node) in undo.nodes {
            match node {
                Some(node) => self.nodes.insert(path, node),
                None => self.nodes.remove(&path),
            };
        }
        for (id, record) in undo.sessions {
            match record {
                Some(record) => self.sessions.insert(id, record),
                None => self.sessions.remove(&id),
            };
        }
    }

    fn apply_inner(
        &mut self,
        txn: &Txn,
        zxid: u64,
        undo: &mut Undo,
    ) -> Result<Applied, CoordError> {
        let mut applied = Applied::default();
        match txn {
            Txn::Started => {}
            Txn::OpenSession { timeout_ms } => {
                if self.sessions.len() >= SESSIONS_MAX {
                    return Err(CoordError::Limit {
                        what: format!("{SESSIONS_MAX} sessions"),
                    });
                }
                let session = self.session_next;
                self.session_next += 1;
                self.save_session(undo, session);
                self.sessions.insert(
                    session,
                    SessionRecord {
                        timeout_ms: *timeout_ms,
                        ephemerals: BTreeSet::new(),
                    },
                );
                applied.session = Some(session);
            }
            Txn::CloseSession { session } => {
                let Some(record) = self.sessions.get(session) else {
                    return Err(CoordError::SessionExpired { session: *session });
                };
                // Deepest first, so a child goes before its parent.
                let doomed: Vec<String> = record.ephemerals.iter().rev().cloned().collect();
                for path in doomed {
                    self.delete(&path, None, zxid, undo, &mut applied.events)?;
                }
                self.save_session(undo, *session);
                self.sessions.remove(session);
            }
            Txn::Multi { session, ops } => {
                if ops.len() > MULTI_OPS_MAX {
                    return Err(CoordError::Limit {
                        what: format!("{MULTI_OPS_MAX} operations in a multi"),
                    });
                }
                if !self.sessions.contains_key(session) {
                    return Err(CoordError::SessionExpired { session: *session });
                }
                for (index, op) in ops.iter().enumerate() {
                    let result = self.apply_op(*session, op, zxid, undo, &mut applied.events);
                    match result {
                        Ok(result) => applied.results.push(result),
                        Err(error) if ops.len() == 1 => return Err(error),
                        Err(error) => {
                            return Err(CoordError::MultiFailed {
                                index,
                                error: Box::new(error),
                            })
                        }
                    }
                }
            }
        }
        Ok(applied)
    }

    fn save_node(&self, undo: &mut Undo, path: &str) {
        if !undo.nodes.contains_key(path) {
            undo.nodes
                .insert(path.to_string(), self.nodes.get(path).cloned());
        }
    }

    fn save_session(&self, undo: &mut Undo, session: SessionId) {
        undo.sessions
            .entry(session)
            .or_insert_with(|| self.sessions.get(&session).cloned());
    }

    fn node(&self, path: &str) -> Result<&Znode, CoordError> {
        self.nodes.get(path).ok_or_else(|| CoordError::NoNode {
            path: path.to_string(),
        })
    }

    fn apply_op(
        &mut self,
        session: SessionId,
        op: &Op,
        zxid: u64,
        undo: &mut Undo,
        events: &mut Vec<WatchEvent>,
    ) -> Result<OpResult, CoordError> {
        match op {
            Op::Create { path, data, mode } => {
                self.create(session, path, data, *mode, zxid, undo, events)
            }
            Op::SetData {
                path,
                data,
                expected_version,
            } => {
                path::validate(path)?;
                check_data(data)?;
                let node = self.node(path)?;
                check_version(path, node, *expected_version)?;
                self.save_node(undo, path);
                let node = self
                    .nodes
                    .get_mut(path.as_str())
                    .ok_or_else(|| no_node(path))?;
                node.data = data.clone();
                node.version += 1;
                node.mzxid = zxid;
                events.push(WatchEvent {
                    path: path.clone(),
                    kind: EventKind::DataChanged,
                });
                Ok(OpResult::Set { stat: node.stat() })
            }
            Op::Delete {
                path,
                expected_version,
            } => {
                path::validate(path)?;
                self.delete(path, *expected_version, zxid, undo, events)?;
                Ok(OpResult::Deleted)
            }
            Op::Check {
                path,
                expected_version,
            } => {
                path::validate(path)?;
                check_version(path, self.node(path)?, Some(*expected_version))?;
                Ok(OpResult::Checked)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn create(
        &mut self,
        session: SessionId,
        path: &str,
        data: &[u8],
        mode: CreateMode,
        zxid: u64,
        undo: &mut Undo,
        events: &mut Vec<WatchEvent>,
    ) -> Result<OpResult, CoordError> {
        path::validate(path)?;
        check_data(data)?;
        if path == "/" {
            return Err(CoordError::NodeExists {
                path: path.to_string(),
            });
        }
        if self.nodes.len() >= ZNODES_MAX {
            return Err(CoordError::Limit {
                what: format!("{ZNODES_MAX} znodes"),
            });
        }
        let parent_path = path::parent(path).to_string();
        let parent = self.node(&parent_path)?;
        if parent.ephemeral_owner.is_some() {
            return Err(CoordError::NoChildrenForEphemerals { path: parent_path });
        }
        let full = if mode.is_sequential() {
            format!("{path}{:010}", parent.sequence_next)
        } else {
            path.to_string()
        };
        if self.nodes.contains_key(&full) {
            return Err(CoordError::NodeExists { path: full });
        }
        let owner = mode.is_ephemeral().then_some(session);
        self.save_node(undo, &parent_path);
        self.save_node(undo, &full);
        let parent = self
            .nodes
            .get_mut(&parent_path)
            .ok_or_else(|| no_node(&parent_path))?;
        if mode.is_sequential() {
            parent.sequence_next += 1;
        }
        parent.children.insert(path::name(&full).to_string());
        parent.cversion += 1;
        self.nodes
            .insert(full.clone(), Znode::new(data.to_vec(), zxid, owner));
        if let Some(owner) = owner {
            self.save_session(undo, owner);
            if let Some(record) = self.sessions.get_mut(&owner) {
                record.ephemerals.insert(full.clone());
            }
        }
        events.push(WatchEvent {
            path: full.clone(),
            kind: EventKind::Created,
        });
        events.push(WatchEvent {
            path: parent_path,
            kind: EventKind::ChildrenChanged,
        });
        Ok(OpResult::Created { path: full })
    }

    fn delete(
        &mut self,
        path: &str,
        expected_version: Option<u64>,
        _zxid: u64,
        undo: &mut Undo,
        events: &mut Vec<WatchEvent>,
    ) -> Result<(), CoordError> {
        if path == "/" {
            return Err(CoordError::BadPath {
                path: path.to_string(),
                reason: "the root stays".into(),
            });
        }
        let node = self.node(path)?;
        check_version(path, node, expected_version)?;
        if !node.children.is_empty() {
            return Err(CoordError::NotEmpty {
                path: path.to_string(),
            });
        }
        let owner = node.ephemeral_owner;
        let parent_path = path::parent(path).to_string();
        self.save_node(undo, path);
        self.save_node(undo, &parent_path);
        self.nodes.remove(path);
        if let Some(parent) = self.nodes.get_mut(&parent_path) {
            parent.children.remove(path::name(path));
            parent.cversion += 1;
        }
        if let Some(owner) = owner {
            self.save_session(undo, owner);
            if let Some(record) = self.sessions.get_mut(&owner) {
                record.ephemerals.remove(path);
            }
        }
        events.push(WatchEvent {
            path: path.to_string(),
            kind: EventKind::Deleted,
        });
        events.push(WatchEvent {
            path: parent_path,
            kind: EventKind::ChildrenChanged,
        });
        Ok(())
    }
}

fn no_node(path: &str) -> CoordError {
    CoordError::NoNode {
        path: path.to_string(),
    }
}

fn check_data(data: &[u8]) -> Result<(), CoordError> {
    if data.len() > DATA_BYTES_MAX {
        return Err(CoordError::DataTooLarge {
            bytes: data.len(),
            max: DATA_BYTES_MAX,
        });
    }
    Ok(())
}

fn check_version(path: &str, node: &Znode, expected: Option<u64>) -> Result<(), CoordError> {
    match expected {
        Some(expected) if expected != node.version => Err(CoordError::BadVersion {
            path: path.to_string(),
            expected,
            actual: node.version,
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn create(path: &str, mode: CreateMode) -> Op {
        Op::Create {
            path: path.into(),
            data: b"d".to_vec(),
            mode,
        }
    }

    fn open(tree: &mut Tree, zxid: u64) -> SessionId {
        tree.apply(&Txn::OpenSession { timeout_ms: 1000 }, zxid)
            .unwrap()
            .session
            .unwrap()
    }

    #[test]
    fn versions_rise_by_one_and_guard_writes() {
        let mut tree = Tree::default();
        let s = open(&mut tree, 1);
        tree.apply(
            &Txn::Multi {
                session: s,
                ops: vec![create("/a", CreateMode::Persistent)],
            },
            2,
        )
        .unwrap();
        let set = |v| Txn::Multi {
            session: s,
            ops: vec![Op::SetData {
                path: "/a".into(),
                data: b"x".to_vec(),
                expected_version: v,
            }],
        };
        tree.apply(&set(Some(0)), 3).unwrap();
        assert_eq!(tree.get("/a").unwrap().version, 1);
        let stale = tree.apply(&set(Some(0)), 4);
        assert!(matches!(
            stale,
            Err(CoordError::BadVersion {
                expected: 0,
                actual: 1,
                ..
            })
        ));
        tree.apply(&set(None), 5).unwrap();
        assert_eq!(tree.get("/a").unwrap().version, 2);
    }

    #[test]
    fn a_failing_multi_changes_nothing() {
        let mut tree = Tree::default();
        let s = open(&mut tree, 1);
        let before = tree.clone();
        let multi = Txn::Multi {
            session: s,
            ops: vec![
                create("/a", CreateMode::Persistent),
                create("/a/b", CreateMode::Ephemeral),
                Op::Check {
                    path: "/a".into(),
                    expected_version: 9,
                },
            ],
        };
        let failed = tree.apply(&multi, 2);
        assert!(
            matches!(failed, Err(CoordError::MultiFailed { index: 2, .. })),
            "{failed:?}"
        );
        assert_eq!(tree, before);
    }

    #[test]
    fn closing_a_session_deletes_its_ephemerals_and_reports_events() {
        let mut tree = Tree::default();
        let s = open(&mut tree, 1);
        let t = open(&mut tree, 2);
        let ops = vec![
            create("/brokers", CreateMode::Persistent),
            create("/brokers/1", CreateMode::Ephemeral),
            create("/brokers/seq-", CreateMode::EphemeralSequential),
        ];
        let created = tree.apply(&Txn::Multi { session: s, ops }, 3).unwrap();
        assert_eq!(
            created.results[2],
            OpResult::Created {
                path: "/brokers/seq-0000000000".into()
            }
        );
        tree.apply(
            &Txn::Multi {
                session: t,
                ops: vec![create("/brokers/2", CreateMode::Ephemeral)],
            },
            4,
        )
        .unwrap();
        let closed = tree.apply(&Txn::CloseSession { session: s }, 5).unwrap();
        assert!(tree.get("/brokers/1").is_none());
        assert!(tree.get("/brokers/seq-0000000000").is_none());
        assert!(
            tree.get("/brokers/2").is_some(),
            "another session's ephemeral stays"
        );
        assert!(closed.events.contains(&WatchEvent {
            path: "/brokers/1".into(),
            kind: EventKind::Deleted
        }));
        assert!(!tree.sessions().contains_key(&s));
        let gone = tree.apply(
            &Txn::Multi {
                session: s,
                ops: vec![create("/x", CreateMode::Persistent)],
            },
            6,
        );
        assert!(matches!(gone, Err(CoordError::SessionExpired { .. })));
    }

    #[test]
    fn rejects_bad_creates() {
        let mut tree = Tree::default();
        let s = open(&mut tree, 1);
        let one = |op| Txn::Multi {
            session: s,
            ops: vec![op],
        };
        assert!(matches!(
            tree.apply(&one(create("/a/b", CreateMode::Persistent)), 2),
            Err(CoordError::NoNode { .. })
        ));
        tree.apply(&one(create("/e", CreateMode::Ephemeral)), 3)
            .unwrap();
        assert!(matches!(
            tree.apply(&one(create("/e/x", CreateMode::Persistent)), 4),
            Err(CoordError::NoChildrenForEphemerals { .. })
        ));
        let big = Op::Create {
            path: "/big".into(),
            data: vec![0; DATA_BYTES_MAX + 1],
            mode: CreateMode::Persistent,
        };
        assert!(matches!(
            tree.apply(&one(big), 5),
            Err(CoordError::DataTooLarge { .. })
        ));
        assert!(matches!(
            tree.apply(&one(create("/e", CreateMode::Persistent)), 6),
            Err(CoordError::NodeExists { .. })
        ));
    }
}
