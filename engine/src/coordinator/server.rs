//! The coordinator node: serves [`CoordRequest`]s over the wire, keeps sessions alive on
//! heartbeats and expires them after their timeout, and writes every change through the
//! [`Store`] before applying it.
//!
//! Fault model: clients vanish, partitions cut heartbeats, the node loses power, the disk fails.
//! Invariants: single-node linearizable — one mutex orders every read and write, and a write is
//! visible only after its WAL record is synced, so every acknowledged write is seen by every
//! later read; expiry is itself a logged write; after a restart every session gets a fresh
//! deadline (its clock did not run while the node was down).

use crate::bugs::Bugs;
use crate::coordinator::path;
use crate::coordinator::store::{Store, StoreError};
use crate::coordinator::tree::{Tree, Txn};
use crate::coordinator::watches::Watches;
use crate::env::{Env, Listener, NodeAddr};
use crate::wire::coordinator_protocol::{
    CoordError, CoordRequest, CoordResponse, OpResult, SessionId, WatchEvent, WatchKind,
};
use crate::wire::{serve, ErrorCode, ErrorResponse, Request, Response, ServeOptions};
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::Notify;
// tokio's clock, which turmoil drives in simulation; never the wall clock (design.md section 4).
use tokio::time::Instant; // The simulated clock (design.md section 4).

/// Watch events queued per session before the queue overflows (the client then resets all of
/// its watches).
pub const EVENTS_QUEUED_MAX: usize = 1024;
/// Sessions expired per tick, so one tick cannot stall requests for long.
const EXPIRIES_PER_TICK_MAX: usize = 1024;

#[derive(Clone, Debug)]
pub struct CoordinatorOptions {
    pub listen: NodeAddr,
    pub session_timeout_min: Duration,
    pub session_timeout_max: Duration,
    /// How often the expiry scan runs.
    pub tick: Duration,
    pub snapshot_every_txns: u64,
    pub serve: ServeOptions,
    /// Planted bugs switched on (none by default).
    pub bugs: Bugs,
}

impl CoordinatorOptions {
    pub fn new(listen: NodeAddr) -> CoordinatorOptions {
        CoordinatorOptions {
            listen,
            session_timeout_min: Duration::from_millis(200),
            session_timeout_max: Duration::from_secs(60),
            tick: Duration::from_millis(50),
            snapshot_every_txns: 10_000,
            serve: ServeOptions::default(),
            bugs: Bugs::none(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CoordinatorError {
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: NodeAddr,
        source: std::io::Error,
    },
}

struct Liveness {
    deadline: Instant,
    timeout: Duration,
    events: VecDeque<WatchEvent>,
    overflowed: bool,
    notify: Arc<Notify>,
}

struct Core {
    tree: Tree,
    store: Store,
    watches: Watches,
    live: BTreeMap<SessionId, Liveness>,
    incarnation: u64,
    options: CoordinatorOptions,
}

/// A coordinator that has recovered its state and bound its port, ready to serve.
pub struct Coordinator {
    core: Arc<Mutex<Core>>,
    listener: Listener,
}

impl Coordinator {
    /// Recovers from the data directory, records a restart, and binds the listener.
    pub async fn start(
        env: &Env,
        options: CoordinatorOptions,
    ) -> Result<Coordinator, CoordinatorError> {
        let (store, tree) = Store::open(&env.disk, options.snapshot_every_txns, options.bugs)?;
        let now = Instant::now();
        let live = tree
            .sessions()
            .iter()
            .map(|(id, record)| {
                let timeout = Duration::from_millis(record.timeout_ms);
                (*id, Liveness::new(now, timeout))
            })
            .collect();
        let mut core = Core {
            tree,
            store,
            watches: Watches::default(),
            live,
            incarnation: 0,
            options: options.clone(),
        };
        let applied = core.commit(Txn::Started).map_err(|error| {
            CoordinatorError::Store(StoreError::Broken(format!(
                "cannot record the start: {error}"
            )))
        })?;
        core.incarnation = applied.0;
        tracing::info!(
            incarnation = core.incarnation,
            sessions = core.live.len(),
            "coordinator recovered"
        );
        let listener =
            env.net
                .bind(&options.listen)
                .await
                .map_err(|source| CoordinatorError::Listen {
                    addr: options.listen.clone(),
                    source,
                })?;
        Ok(Coordinator {
            core: Arc::new(Mutex::new(core)),
            listener,
        })
    }

    pub fn local_port(&self) -> std::io::Result<u16> {
        self.listener.local_port()
    }

    /// Serves until the task is dropped (the host crashes or the process exits).
    pub async fn serve(self) {
        let (tick, serve_options) = {
            let core = lock(&self.core);
            (core.options.tick, core.options.serve)
        };
        let expirer = self.core.clone();
        crate::env::spawn(async move {
            loop {
                tokio::time::sleep(tick).await;
                lock(&expirer).expire_due(Instant::now());
            }
        });
        let core = self.core.clone();
        let handler = move |request: Request| {
            let core = core.clone();
            async move {
                match request {
                    Request::Coordinator(request) => {
                        Response::Coordinator(handle(&core, request).await)
                    }
                    other => Response::Error(ErrorResponse::new(
                        ErrorCode::Unsupported,
                        format!("a coordinator does not serve {}", other.kind()),
                        false,
                    )),
                }
            }
        };
        serve(self.listener, handler, serve_options).await
    }
}

fn lock(core: &Mutex<Core>) -> MutexGuard<'_, Core> {
    // A panic while holding the lock already stopped the node in simulation; in real mode the
    // state is still consistent because every change happens after its WAL write.
    core.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Liveness {
    fn new(now: Instant, timeout: Duration) -> Liveness {
        Liveness {
            deadline: now + timeout,
            timeout,
            events: VecDeque::new(),
            overflowed: false,
            notify: Arc::new(Notify::new()),
        }
    }
}

async fn handle(core: &Arc<Mutex<Core>>, request: CoordRequest) -> CoordResponse {
    if let CoordRequest::Heartbeat { session, wait_ms } = request {
        return heartbeat(core, session, wait_ms).await;
    }
    let mut core = lock(core);
    match core.handle(request, Instant::now()) {
        Ok(response) => response,
        Err(error) => CoordResponse::Error(error),
    }
}

/// Refreshes the session, then waits (without holding the lock) for an event or `wait_ms`.
async fn heartbeat(core: &Arc<Mutex<Core>>, session: SessionId, wait_ms: u64) -> CoordResponse {
    let notify = {
        let mut core = lock(core);
        let now = Instant::now();
        if let Err(error) = core.touch(session, now) {
            return CoordResponse::Error(error);
        }
        let Some(live) = core.live.get(&session) else {
            return CoordResponse::Error(CoordError::SessionExpired { session });
        };
        // Never wait so long that the wait itself outlives the session.
        let wait = Duration::from_millis(wait_ms).min(live.timeout / 2);
        if !live.events.is_empty() || live.overflowed || wait.is_zero() {
            return core.drain(session);
        }
        (live.notify.clone(), wait)
    };
    let (notify, wait) = notify;
    let _ = tokio::time::timeout(wait, notify.notified()).await;
    let mut core = lock(core);
    if let Err(error) = core.touch(session, Instant::now()) {
        return CoordResponse::Error(error);
    }
    core.drain(session)
}

impl Core {
    fn touch(&mut self, session: SessionId, now: Instant) -> Result<(), CoordError> {
        match self.live.get_mut(&session) {
            Some(live) => {
                live.deadline = now + live.timeout;
                Ok(())
            }
            None => Err(CoordError::SessionExpired { session }),
        }
    }

    fn drain(&mut self, session: SessionId) -> CoordResponse {
        let incarnation = self.incarnation;
        match self.live.get_mut(&session) {
            Some(live) => {
                let events = live.events.drain(..).collect();
                let overflowed = std::mem::take(&mut live.overflowed);
                CoordResponse::Events {
                    events,
                    incarnation,
                    overflowed,
                }
            }
            None => CoordResponse::Error(CoordError::SessionExpired { session }),
        }
    }

    /// Checks, logs, then applies a txn and fires its watches. Returns its zxid and what it did.
    fn commit(&mut self, txn: Txn) -> Result<(u64, crate::coordinator::tree::Applied), CoordError> {
        let zxid = self.store.next_zxid();
        self.tree.check(&txn, zxid)?;
        let logged = self.store.append(&txn).map_err(|error| {
            tracing::error!(%error, "write-ahead log append failed; the write is not applied");
            CoordError::Storage {
                reason: error.to_string(),
            }
        })?;
        assert_eq!(logged, zxid);
        let applied = self.tree.apply(&txn, zxid)?;
        for event in &applied.events {
            for session in self.watches.trigger(event) {
                if let Some(live) = self.live.get_mut(&session) {
                    if live.events.len() >= EVENTS_QUEUED_MAX {
                        live.overflowed = true;
                    } else {
                        live.events.push_back(event.clone());
                    }
                    live.notify.notify_one();
                }
            }
        }
        self.store.maybe_snapshot(&self.tree);
        Ok((zxid, applied))
    }

    fn handle(&mut self, request: CoordRequest, now: Instant) -> Result<CoordResponse, CoordError> {
        match request {
            CoordRequest::OpenSession { timeout_ms } => {
                let timeout = Duration::from_millis(timeout_ms).clamp(
                    self.options.session_timeout_min,
                    self.options.session_timeout_max,
                );
                let timeout_ms = timeout.as_millis() as u64;
                let (_, applied) = self.commit(Txn::OpenSession { timeout_ms })?;
                let session = applied.session.ok_or_else(|| CoordError::Storage {
                    reason: "session open produced no id".into(),
                })?;
                self.live.insert(session, Liveness::new(now, timeout));
                Ok(CoordResponse::Session {
                    session,
                    timeout_ms,
                    incarnation: self.incarnation,
                })
            }
            CoordRequest::CloseSession { session } => {
                self.close(session)?;
                Ok(CoordResponse::Closed)
            }
            CoordRequest::Heartbeat { session, .. } => {
                self.touch(session, now)?;
                Ok(self.drain(session))
            }
            CoordRequest::Write { session, op } => {
                self.touch(session, now)?;
                let (_, mut applied) = self.commit(Txn::Multi {
                    session,
                    ops: vec![op],
                })?;
                let result = applied.results.pop().unwrap_or(OpResult::Checked);
                Ok(CoordResponse::Written(result))
            }
            CoordRequest::Multi { session, ops } => {
                self.touch(session, now)?;
                let (_, applied) = self.commit(Txn::Multi { session, ops })?;
                Ok(CoordResponse::MultiDone(applied.results))
            }
            CoordRequest::Get {
                session,
                path,
                watch,
            } => {
                self.touch(session, now)?;
                path::validate(&path)?;
                let node = self
                    .tree
                    .get(&path)
                    .ok_or_else(|| CoordError::NoNode { path: path.clone() })?;
                let response = CoordResponse::Data {
                    data: node.data.clone(),
                    stat: node.stat(),
                };
                if watch {
                    self.watch(WatchKind::Data, &path, session)?;
                }
                Ok(response)
            }
            CoordRequest::Exists {
                session,
                path,
                watch,
            } => {
                self.touch(session, now)?;
                path::validate(&path)?;
                let stat = self.tree.get(&path).map(|node| node.stat());
                if watch {
                    self.watch(WatchKind::Data, &path, session)?;
                }
                Ok(CoordResponse::Exists(stat))
            }
            CoordRequest::Children {
                session,
                path,
                watch,
            } => {
                self.touch(session, now)?;
                path::validate(&path)?;
                let node = self
                    .tree
                    .get(&path)
                    .ok_or_else(|| CoordError::NoNode { path: path.clone() })?;
                let response = CoordResponse::Children {
                    names: node.children.iter().cloned().collect(),
                    stat: node.stat(),
                };
                if watch {
                    self.watch(WatchKind::Children, &path, session)?;
                }
                Ok(response)
            }
        }
    }

    fn watch(&mut self, kind: WatchKind, path: &str, session: SessionId) -> Result<(), CoordError> {
        if self.watches.add(kind, path, session) {
            Ok(())
        } else {
            Err(CoordError::Limit {
                what: "watches".into(),
            })
        }
    }

    fn close(&mut self, session: SessionId) -> Result<(), CoordError> {
        self.commit(Txn::CloseSession { session })?;
        self.watches.remove_session(session);
        if let Some(live) = self.live.remove(&session) {
            // Wake a waiting heartbeat so it reports the expiry at once.
            live.notify.notify_one();
        }
        Ok(())
    }

    /// Expires sessions whose deadline passed. A failed expiry (disk fault) is retried next tick.
    fn expire_due(&mut self, now: Instant) {
        let due: Vec<SessionId> = self
            .live
            .iter()
            .filter(|(_, live)| live.deadline <= now)
            .map(|(id, _)| *id)
            .take(EXPIRIES_PER_TICK_MAX)
            .collect();
        for session in due {
            match self.close(session) {
                Ok(()) => tracing::info!(session, "session expired"),
                Err(CoordError::SessionExpired { .. }) => {
                    self.live.remove(&session);
                }
                Err(error) => tracing::warn!(session, %error, "session expiry failed; retrying"),
            }
        }
    }
}
