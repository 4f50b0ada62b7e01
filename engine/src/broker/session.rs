//! The broker's coordinator session: connect, register `/brokers/ids/<id>`, and do it again
//! with a fresh session whenever the old one expires. Every other broker task takes the
//! current session from here and never acts on an expired one.

use crate::broker::options::BrokerOptions;
use crate::broker::znodes::{self, BrokerRegistration};
use crate::coordinator::{
    ClientError, CoordError, CoordinatorClient, CoordinatorClientOptions, CreateMode,
};
use crate::env::Net;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// A live, registered session.
#[derive(Clone)]
pub struct Registered {
    pub client: CoordinatorClient,
    /// The zxid that created this broker's registration: partition states written after it
    /// were written by a controller that knows this incarnation.
    pub zxid: u64,
}

/// The current session, shared by the broker's tasks.
#[derive(Clone)]
pub struct SessionSlot {
    current: Arc<Mutex<Option<Registered>>>,
    changed: watch::Sender<u64>,
}

impl Default for SessionSlot {
    fn default() -> SessionSlot {
        SessionSlot {
            current: Arc::new(Mutex::new(None)),
            changed: watch::channel(0).0,
        }
    }
}

impl SessionSlot {
    /// The registered session, if there is one that has not expired.
    pub fn get(&self) -> Option<Registered> {
        let current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        current.as_ref().filter(|r| !r.client.is_expired()).cloned()
    }

    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    fn set(&self, registered: Registered) {
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) = Some(registered);
        self.changed.send_modify(|generation| *generation += 1);
    }
}

pub fn client_options(options: &BrokerOptions) -> CoordinatorClientOptions {
    CoordinatorClientOptions {
        session_timeout: options.session_timeout,
        request_timeout: options.request_timeout,
        connect_timeout: options.request_timeout / 2,
    }
}

/// Creates a persistent node if it is missing.
pub async fn ensure_path(client: &CoordinatorClient, path: &str) -> Result<(), ClientError> {
    match client
        .create(path, Vec::new(), CreateMode::Persistent)
        .await
    {
        Ok(_) | Err(ClientError::Coord(CoordError::NodeExists { .. })) => Ok(()),
        Err(error) => Err(error),
    }
}

async fn register(net: Net, options: &BrokerOptions) -> Result<Registered, ClientError> {
    let client =
        CoordinatorClient::connect(net, options.coordinator.clone(), client_options(options))
            .await?;
    for path in [znodes::BROKERS, znodes::BROKER_IDS, znodes::TOPICS] {
        ensure_path(&client, path).await?;
    }
    let registration = BrokerRegistration {
        id: options.id,
        addr: options.advertised.clone(),
    };
    let path = znodes::broker_path(options.id);
    // Our previous incarnation's registration lingers until its session times out; wait it out.
    let stat = loop {
        match client
            .create(&path, znodes::encode(&registration), CreateMode::Ephemeral)
            .await
        {
            Ok(_) => break client.get(&path).await?.1,
            Err(ClientError::Coord(CoordError::NodeExists { .. })) => {
                // Ours if an earlier attempt's answer was lost; otherwise a past incarnation's.
                if let Ok((_, stat)) = client.get(&path).await {
                    if stat.ephemeral_owner == Some(client.session()) {
                        break stat;
                    }
                }
                tokio::time::sleep(options.session_timeout / 4).await;
            }
            Err(error) => return Err(error),
        }
    };
    tracing::info!(
        broker = options.id,
        session = client.session(),
        zxid = stat.czxid,
        "registered"
    );
    Ok(Registered {
        client,
        zxid: stat.czxid,
    })
}

/// Keeps a registered session in `slot` forever.
pub async fn run(net: Net, options: BrokerOptions, slot: SessionSlot) {
    loop {
        if slot.get().is_some() {
            tokio::time::sleep(options.retry_backoff * 2).await;
            continue;
        }
        match register(net, &options).await {
            Ok(registered) => slot.set(registered),
            Err(error) => {
                tracing::debug!(broker = options.id, %error, "registration failed; retrying");
                tokio::time::sleep(options.retry_backoff).await;
            }
        }
    }
}
