//! The broker node's wiring: binds the listener, starts the background loops — the
//! coordinator session, the controller candidacy, the metadata watcher that turns partition
//! states into roles (`node::metadata_loop`), ISR maintenance (`node::isr_loop`), offline
//! replica repair and interval syncs (`node::repair_loop`), the group and transaction
//! coordinators — and serves requests through `node::dispatch`. Fetchers, one per followed
//! partition, are started by the metadata loop.
//!
//! Fault model and invariants: see `core` (the replica's rules), `controller` (elections) and
//! `session`. One mutex (`node::shared`) orders every change to this broker's replicas; no lock
//! is held across a network call.

use crate::broker::controller;
use crate::broker::group_coordinator;
use crate::broker::node::shared::Shared;
use crate::broker::node::{dispatch, group_commit, isr_loop, metadata_loop, repair_loop};
use crate::broker::options::BrokerOptions;
use crate::broker::session;
use crate::broker::txn_coordinator;
use crate::env::{Env, Listener};
use crate::storage::FsyncPolicy;
use crate::wire::{serve, ErrorCode, ErrorResponse, Request, Response};
use std::sync::Arc;

pub struct Broker {
    shared: Arc<Shared>,
    listener: Listener,
}

#[derive(Debug, thiserror::Error)]
#[error("broker cannot listen on {addr}: {source}")]
pub struct BrokerStartError {
    addr: crate::env::NodeAddr,
    source: std::io::Error,
}

impl Broker {
    /// Binds the listener. An advertised port of 0 becomes the bound port (real mode with
    /// `--listen host:0`).
    pub async fn start(env: &Env, mut options: BrokerOptions) -> Result<Broker, BrokerStartError> {
        let addr = options.listen.clone();
        let error = |source| BrokerStartError {
            addr: addr.clone(),
            source,
        };
        let listener = env.net.bind(&options.listen).await.map_err(error)?;
        if options.advertised.port == 0 {
            options.advertised.port = listener.local_port().map_err(error)?;
        }
        let shared = Arc::new(Shared::new(options, env.net, env.disk.clone()));
        Ok(Broker { shared, listener })
    }

    pub fn local_port(&self) -> std::io::Result<u16> {
        self.listener.local_port()
    }

    pub fn shared(&self) -> Arc<Shared> {
        self.shared.clone()
    }

    /// Runs every loop and serves requests until the task is dropped.
    pub async fn serve(self) {
        let shared = self.shared;
        let options = shared.options.clone();
        crate::env::spawn(session::run(
            shared.net,
            options.clone(),
            shared.session.clone(),
        ));
        crate::env::spawn(controller::run(options.clone(), shared.session.clone()));
        crate::env::spawn(metadata_loop::run(shared.clone()));
        crate::env::spawn(isr_loop::run(shared.clone()));
        crate::env::spawn(repair_loop::repair(shared.clone()));
        crate::env::spawn(group_coordinator::run(shared.clone()));
        crate::env::spawn(txn_coordinator::run(shared.clone()));
        crate::env::spawn(group_commit::run(shared.clone()));
        if let FsyncPolicy::Interval(every) = options.log.fsync {
            crate::env::spawn(repair_loop::sync(shared.clone(), every));
        }
        let handler_shared = shared.clone();
        let handler = move |request: Request| {
            let shared = handler_shared.clone();
            async move {
                match request {
                    Request::Broker(request) => {
                        Response::Broker(dispatch::handle(&shared, request).await)
                    }
                    other => Response::Error(ErrorResponse::new(
                        ErrorCode::Unsupported,
                        format!("a broker does not serve {}", other.kind()),
                        false,
                    )),
                }
            }
        };
        serve(self.listener, handler, Default::default()).await
    }
}
