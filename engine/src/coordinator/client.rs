//! The coordinator client library: one session, kept alive by a background heartbeat that also
//! collects watch events, and one-shot [`Watch`]es.
//!
//! Fault model: the connection drops or times out at any moment; the coordinator restarts; the
//! session expires. Behaviour: a failed call reports its error and the next call reconnects
//! (the session resumes if it has not expired). A write that fails with a transport error has an
//! unknown outcome: the caller decides whether to retry. Watches fire at least once per change
//! they cover; they may also fire spuriously (`WatchesReset` after a coordinator restart, which
//! loses server-side watches), so owners re-read and re-watch. Once the session expires every
//! call fails with [`ClientError::SessionExpired`] and every watch fires `SessionExpired`; the
//! owner opens a new client to register again.

use crate::env::{Net, NodeAddr};
use crate::wire::coordinator_protocol::{
    CoordError, CoordRequest, CoordResponse, CreateMode, EventKind, Op, OpResult, SessionId, Stat,
    WatchEvent, WatchKind,
};
use crate::wire::{Request, Response, RpcClient, RpcOptions, WireError};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;
use tokio::sync::oneshot;

/// Pause after a failed heartbeat before the next attempt.
const HEARTBEAT_RETRY_MAX: Duration = Duration::from_millis(100);
/// Watchers held per (path, kind); older ones beyond it are fired early as `WatchesReset`.
const WATCHERS_PER_PATH_MAX: usize = 1024;

#[derive(Clone, Debug)]
pub struct CoordinatorClientOptions {
    pub session_timeout: Duration,
    pub request_timeout: Duration,
    pub connect_timeout: Duration,
}

impl Default for CoordinatorClientOptions {
    fn default() -> CoordinatorClientOptions {
        CoordinatorClientOptions {
            session_timeout: Duration::from_secs(6),
            request_timeout: Duration::from_secs(2),
            connect_timeout: Duration::from_millis(500),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{0}")]
    Coord(#[from] CoordError),
    /// The request may or may not have been applied.
    #[error("transport: {0}")]
    Transport(#[from] WireError),
    #[error("the session expired")]
    SessionExpired,
    #[error("unexpected response: {0}")]
    Unexpected(String),
}

impl ClientError {
    /// The request surely did not take effect (a clean refusal, or never sent).
    pub fn is_definite(&self) -> bool {
        match self {
            ClientError::Coord(CoordError::Storage { .. }) => false,
            ClientError::Coord(_) | ClientError::SessionExpired => true,
            ClientError::Transport(WireError::Connect { .. }) => true,
            ClientError::Transport(_) | ClientError::Unexpected(_) => false,
        }
    }
}

/// A one-shot watch: resolves on the first event for its path and kind.
pub struct Watch {
    receiver: oneshot::Receiver<WatchEvent>,
}

impl Watch {
    pub async fn fired(self) -> WatchEvent {
        match self.receiver.await {
            Ok(event) => event,
            Err(_) => WatchEvent {
                path: String::new(),
                kind: EventKind::SessionExpired,
            },
        }
    }
}

struct State {
    session: SessionId,
    timeout: Duration,
    incarnation: u64,
    expired: bool,
    watchers: BTreeMap<(String, WatchKind), Vec<oneshot::Sender<WatchEvent>>>,
}

struct Inner {
    rpc: tokio::sync::Mutex<RpcClient>,
    state: Mutex<State>,
}

#[derive(Clone)]
pub struct CoordinatorClient {
    inner: Arc<Inner>,
}

fn rpc_options(options: &CoordinatorClientOptions, request_timeout: Duration) -> RpcOptions {
    RpcOptions {
        request_timeout,
        connect_timeout: options.connect_timeout,
        ..RpcOptions::default()
    }
}

impl CoordinatorClient {
    /// Opens a session (one attempt; callers retry) and starts its heartbeat.
    pub async fn connect(
        net: Net,
        addr: NodeAddr,
        options: CoordinatorClientOptions,
    ) -> Result<CoordinatorClient, ClientError> {
        let mut rpc = RpcClient::new(
            net,
            addr.clone(),
            rpc_options(&options, options.request_timeout),
        );
        let timeout_ms = options.session_timeout.as_millis() as u64;
        let request = Request::Coordinator(CoordRequest::OpenSession { timeout_ms });
        let (session, timeout_ms, incarnation) = match rpc.call(&request).await? {
            Response::Coordinator(CoordResponse::Session {
                session,
                timeout_ms,
                incarnation,
            }) => (session, timeout_ms, incarnation),
            Response::Coordinator(CoordResponse::Error(error)) => return Err(error.into()),
            other => return Err(ClientError::Unexpected(format!("{other:?}"))),
        };
        let timeout = Duration::from_millis(timeout_ms);
        let inner = Arc::new(Inner {
            rpc: tokio::sync::Mutex::new(rpc),
            state: Mutex::new(State {
                session,
                timeout,
                incarnation,
                expired: false,
                watchers: BTreeMap::new(),
            }),
        });
        let wait = timeout / 3;
        let heartbeat_rpc = RpcClient::new(
            net,
            addr,
            rpc_options(&options, wait + options.request_timeout),
        );
        crate::env::spawn(heartbeat(
            Arc::downgrade(&inner),
            heartbeat_rpc,
            session,
            wait,
            timeout,
        ));
        Ok(CoordinatorClient { inner })
    }

    pub fn session(&self) -> SessionId {
        self.inner.state().session
    }

    pub fn session_timeout(&self) -> Duration {
        self.inner.state().timeout
    }

    pub fn is_expired(&self) -> bool {
        self.inner.state().expired
    }

    /// The coordinator incarnation last heard from; it changes when the coordinator restarts.
    pub fn incarnation(&self) -> u64 {
        self.inner.state().incarnation
    }

    async fn request(&self, request: CoordRequest) -> Result<CoordResponse, ClientError> {
        if self.is_expired() {
            return Err(ClientError::SessionExpired);
        }
        let response = self
            .inner
            .rpc
            .lock()
            .await
            .call(&Request::Coordinator(request))
            .await?;
        match response {
            Response::Coordinator(CoordResponse::Error(CoordError::SessionExpired { .. })) => {
                self.inner.expire();
                Err(ClientError::SessionExpired)
            }
            Response::Coordinator(CoordResponse::Error(error)) => Err(error.into()),
            Response::Coordinator(response) => Ok(response),
            other => Err(ClientError::Unexpected(format!("{other:?}"))),
        }
    }

    async fn write(&self, op: Op) -> Result<OpResult, ClientError> {
        let session = self.session();
        match self.request(CoordRequest::Write { session, op }).await? {
            CoordResponse::Written(result) => Ok(result),
            other => Err(ClientError::Unexpected(format!("{other:?}"))),
        }
    }

    /// Creates a node; returns its path (with the suffix, if sequential).
    pub async fn create(
        &self,
        path: &str,
        data: Vec<u8>,
        mode: CreateMode,
    ) -> Result<String, ClientError> {
        match self
            .write(Op::Create {
                path: path.into(),
                data,
                mode,
            })
            .await?
        {
            OpResult::Created { path } => Ok(path),
            other => Err(ClientError::Unexpected(format!("{other:?}"))),
        }
    }

    pub async fn set(
        &self,
        path: &str,
        data: Vec<u8>,
        expected_version: Option<u64>,
    ) -> Result<Stat, ClientError> {
        match self
            .write(Op::SetData {
                path: path.into(),
                data,
                expected_version,
            })
            .await?
        {
            OpResult::Set { stat } => Ok(stat),
            other => Err(ClientError::Unexpected(format!("{other:?}"))),
        }
    }

    pub async fn delete(
        &self,
        path: &str,
        expected_version: Option<u64>,
    ) -> Result<(), ClientError> {
        self.write(Op::Delete {
            path: path.into(),
            expected_version,
        })
        .await
        .map(|_| ())
    }

    /// All of `ops` or none of them.
    pub async fn multi(&self, ops: Vec<Op>) -> Result<Vec<OpResult>, ClientError> {
        let session = self.session();
        match self.request(CoordRequest::Multi { session, ops }).await? {
            CoordResponse::MultiDone(results) => Ok(results),
            other => Err(ClientError::Unexpected(format!("{other:?}"))),
        }
    }

    pub async fn get(&self, path: &str) -> Result<(Vec<u8>, Stat), ClientError> {
        let session = self.session();
        match self
            .request(CoordRequest::Get {
                session,
                path: path.into(),
                watch: false,
            })
            .await?
        {
            CoordResponse::Data { data, stat } => Ok((data, stat)),
            other => Err(ClientError::Unexpected(format!("{other:?}"))),
        }
    }

    /// Reads a node and watches its data (change or delete).
    pub async fn get_watch(&self, path: &str) -> Result<(Vec<u8>, Stat, Watch), ClientError> {
        let session = self.session();
        let watch = self.inner.register(path, WatchKind::Data);
        match self
            .request(CoordRequest::Get {
                session,
                path: path.into(),
                watch: true,
            })
            .await?
        {
            CoordResponse::Data { data, stat } => Ok((data, stat, watch)),
            other => Err(ClientError::Unexpected(format!("{other:?}"))),
        }
    }

    pub async fn exists(&self, path: &str) -> Result<Option<Stat>, ClientError> {
        let session = self.session();
        match self
            .request(CoordRequest::Exists {
                session,
                path: path.into(),
                watch: false,
            })
            .await?
        {
            CoordResponse::Exists(stat) => Ok(stat),
            other => Err(ClientError::Unexpected(format!("{other:?}"))),
        }
    }

    /// Whether a node exists, watching for its creation, change or deletion.
    pub async fn exists_watch(&self, path: &str) -> Result<(Option<Stat>, Watch), ClientError> {
        let session = self.session();
        let watch = self.inner.register(path, WatchKind::Data);
        match self
            .request(CoordRequest::Exists {
                session,
                path: path.into(),
                watch: true,
            })
            .await?
        {
            CoordResponse::Exists(stat) => Ok((stat, watch)),
            other => Err(ClientError::Unexpected(format!("{other:?}"))),
        }
    }

    pub async fn children(&self, path: &str) -> Result<Vec<String>, ClientError> {
        let session = self.session();
        match self
            .request(CoordRequest::Children {
                session,
                path: path.into(),
                watch: false,
            })
            .await?
        {
            CoordResponse::Children { names, .. } => Ok(names),
            other => Err(ClientError::Unexpected(format!("{other:?}"))),
        }
    }

    pub async fn children_watch(&self, path: &str) -> Result<(Vec<String>, Watch), ClientError> {
        let session = self.session();
        let watch = self.inner.register(path, WatchKind::Children);
        match self
            .request(CoordRequest::Children {
                session,
                path: path.into(),
                watch: true,
            })
            .await?
        {
            CoordResponse::Children { names, .. } => Ok((names, watch)),
            other => Err(ClientError::Unexpected(format!("{other:?}"))),
        }
    }

    /// Closes the session: its ephemerals go at once instead of after the timeout.
    pub async fn close(&self) -> Result<(), ClientError> {
        let session = self.session();
        let result = self.request(CoordRequest::CloseSession { session }).await;
        self.inner.expire();
        result.map(|_| ())
    }
}

impl Inner {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Registers a client-side watcher before the request that sets the server-side watch, so
    /// an event delivered by the heartbeat before the response cannot be missed.
    fn register(&self, path: &str, kind: WatchKind) -> Watch {
        let (sender, receiver) = oneshot::channel();
        let mut state = self.state();
        if state.expired {
            let _ = sender.send(WatchEvent {
                path: path.into(),
                kind: EventKind::SessionExpired,
            });
            return Watch { receiver };
        }
        let watchers = state.watchers.entry((path.to_string(), kind)).or_default();
        watchers.retain(|sender| !sender.is_closed());
        if watchers.len() >= WATCHERS_PER_PATH_MAX {
            let oldest = watchers.remove(0);
            let _ = oldest.send(WatchEvent {
                path: path.into(),
                kind: EventKind::WatchesReset,
            });
        }
        watchers.push(sender);
        Watch { receiver }
    }

    fn fire_all(state: &mut State, kind: EventKind) {
        for ((path, _), senders) in std::mem::take(&mut state.watchers) {
            for sender in senders {
                let _ = sender.send(WatchEvent {
                    path: path.clone(),
                    kind,
                });
            }
        }
    }

    fn expire(&self) {
        let mut state = self.state();
        if !state.expired {
            state.expired = true;
            Inner::fire_all(&mut state, EventKind::SessionExpired);
        }
    }

    fn dispatch(&self, events: Vec<WatchEvent>, incarnation: u64, overflowed: bool) {
        let mut state = self.state();
        if incarnation != state.incarnation || overflowed {
            // The coordinator restarted (its watches are gone) or dropped events.
            state.incarnation = incarnation;
            Inner::fire_all(&mut state, EventKind::WatchesReset);
        }
        for event in events {
            let kinds: &[WatchKind] = match event.kind {
                EventKind::Created | EventKind::DataChanged => &[WatchKind::Data],
                EventKind::Deleted => &[WatchKind::Data, WatchKind::Children],
                EventKind::ChildrenChanged => &[WatchKind::Children],
                EventKind::WatchesReset | EventKind::SessionExpired => &[],
            };
            for kind in kinds {
                if let Some(senders) = state.watchers.remove(&(event.path.clone(), *kind)) {
                    for sender in senders {
                        let _ = sender.send(event.clone());
                    }
                }
            }
        }
    }
}

/// Keeps the session alive and delivers watch events, until the client is dropped or the
/// session expires — or until the coordinator has not answered for a whole session timeout.
///
/// Fault model: a one-way cut from the coordinator to this node lets its heartbeats through
/// (the coordinator keeps renewing the session) while no answer comes back: the node is deaf,
/// yet alive to everyone else, and any role it holds through the session (the controller's
/// `/controller`) stays held by a node that can no longer act. So a client that has heard
/// nothing for `timeout` gives the session up itself, like a real ZooKeeper client whose
/// connection outlived its session timeout: it stops heartbeating (the coordinator expires the
/// session one timeout later), fires `SessionExpired` to its owner, and the owner registers
/// anew once it can hear (found by scenarios/crash/follower-cut-from-coordinator.yaml: the
/// controller, cut this way, left a partition leaderless for the whole 11 s of the cut).
async fn heartbeat(
    inner: Weak<Inner>,
    mut rpc: RpcClient,
    session: SessionId,
    wait: Duration,
    timeout: Duration,
) {
    let wait_ms = wait.as_millis() as u64;
    let request = Request::Coordinator(CoordRequest::Heartbeat { session, wait_ms });
    let mut heard_at = tokio::time::Instant::now();
    loop {
        if inner.upgrade().is_none_or(|inner| inner.state().expired) {
            return;
        }
        let result = rpc.call(&request).await;
        let Some(inner) = inner.upgrade() else { return };
        match result {
            Ok(Response::Coordinator(CoordResponse::Events {
                events,
                incarnation,
                overflowed,
            })) => {
                heard_at = tokio::time::Instant::now();
                inner.dispatch(events, incarnation, overflowed);
            }
            Ok(Response::Coordinator(CoordResponse::Error(CoordError::SessionExpired {
                ..
            }))) => {
                tracing::info!(session, "coordinator session expired");
                inner.expire();
                return;
            }
            Ok(other) => {
                tracing::warn!(session, ?other, "unexpected heartbeat response");
                drop(inner);
                tokio::time::sleep(HEARTBEAT_RETRY_MAX.min(wait)).await;
            }
            Err(error) => {
                if heard_at.elapsed() >= timeout {
                    tracing::info!(
                        session,
                        %error,
                        "no answer from the coordinator for a session timeout; giving the session up"
                    );
                    inner.expire();
                    return;
                }
                tracing::debug!(session, %error, "heartbeat failed; retrying");
                drop(inner);
                tokio::time::sleep(HEARTBEAT_RETRY_MAX.min(wait)).await;
            }
        }
    }
}
