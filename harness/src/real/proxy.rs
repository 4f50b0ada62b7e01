//! Our TCP proxy for real mode's latency and clog (design.md §13: tc netem is missing on these
//! kernels). Each server listens on loopback inside its namespace; a proxy in the same
//! namespace listens on the server's address and forwards every connection to it. Because the
//! proxy sits in the destination's namespace, iptables there still sees each packet's real
//! source, so partitions and clogs compose.
//!
//! A proxy delays each chunk it forwards, in both directions, by a latency drawn per chunk from
//! the run's range (the scenario's `network.latency`, whose upper end a latency spike raises),
//! counted from when the chunk was read, never reordering a stream; and it holds a connection
//! while it is clogged: when the server itself is clogged, or its peer's address is. Held data
//! is delivered when the clog lifts, as turmoil's `hold` does.
//!
//! Each proxy runs on a thread of its own that joined the server's network namespace
//! (`setns` is per thread) and drives a current-thread tokio runtime there.

use nix::sched::{setns, CloneFlags};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Largest chunk forwarded at once.
const CHUNK_BYTES: usize = 64 * 1024;
/// How often a held connection looks again whether its clog lifted.
const HOLD_POLL: Duration = Duration::from_millis(5);
/// Connections a proxy carries at once; more are refused (a server has a few dozen).
const CONNECTIONS_MAX: usize = 1024;
/// Chunks in flight per direction of a connection (read, not yet delivered).
const IN_FLIGHT_MAX: usize = 256;

#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("cannot enter namespace {namespace}: {source}")]
    Namespace {
        namespace: String,
        source: std::io::Error,
    },
    #[error("proxy for {addr}: {source}")]
    Io {
        addr: String,
        source: std::io::Error,
    },
}

/// What every proxy of a run obeys; shared with the fabric.
#[derive(Debug, Default)]
pub struct Conditions {
    /// Each chunk's latency is drawn from this inclusive range; (0, 0): forward at once.
    pub latency_ms: (u64, u64),
    /// Addresses whose every link is held (clogged hosts), with how many clogs hold each.
    pub held: std::collections::BTreeMap<IpAddr, u32>,
}

pub type SharedConditions = Arc<Mutex<Conditions>>;

/// One server's proxy: its thread and the way to stop it.
pub struct Proxy {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// What one proxy forwards: `public` (the server's address) to `private` (its loopback port).
#[derive(Clone, Debug)]
pub struct Route {
    pub public: SocketAddr,
    pub private: SocketAddr,
}

impl Proxy {
    /// Starts a proxy in `namespace` (None: this thread's own) for `routes`; returns once every
    /// route listens.
    pub fn start(
        namespace: Option<String>,
        routes: Vec<Route>,
        conditions: SharedConditions,
        seed: u64,
    ) -> Result<Proxy, ProxyError> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
        // Real mode only: a thread that joins another network namespace; never in a simulation.
        #[allow(clippy::disallowed_methods)]
        let thread = std::thread::Builder::new()
            .name("proxy".into())
            .spawn(move || {
                let result = serve(namespace, routes, conditions, seed, stop_rx, &ready_tx);
                if let Err(error) = result {
                    let _ = ready_tx.send(Err(error));
                }
            })
            .map_err(|source| ProxyError::Io {
                addr: "thread".into(),
                source,
            })?;
        let ready = ready_rx.recv().unwrap_or_else(|_| {
            Err(ProxyError::Io {
                addr: "thread".into(),
                source: std::io::Error::other("the proxy thread ended"),
            })
        });
        let proxy = Proxy {
            stop: Some(stop_tx),
            thread: Some(thread),
        };
        ready.map(|()| proxy)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn enter(namespace: &str) -> Result<(), ProxyError> {
    let error = |source| ProxyError::Namespace {
        namespace: namespace.to_owned(),
        source,
    };
    let file = std::fs::File::open(format!("/run/netns/{namespace}")).map_err(error)?;
    setns(file, CloneFlags::CLONE_NEWNET).map_err(|e| error(std::io::Error::from(e)))
}

fn serve(
    namespace: Option<String>,
    routes: Vec<Route>,
    conditions: SharedConditions,
    seed: u64,
    stop: tokio::sync::oneshot::Receiver<()>,
    ready: &std::sync::mpsc::Sender<Result<(), ProxyError>>,
) -> Result<(), ProxyError> {
    if let Some(namespace) = &namespace {
        enter(namespace)?;
    }
    let io = |addr: &SocketAddr| {
        let addr = addr.to_string();
        move |source| ProxyError::Io { addr, source }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(io(&routes[0].public))?;
    runtime.block_on(async move {
        let mut listeners = Vec::new();
        for route in &routes {
            let listener = TcpListener::bind(route.public)
                .await
                .map_err(io(&route.public))?;
            listeners.push((listener, route.private));
        }
        let _ = ready.send(Ok(()));
        let open = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let tasks = tokio::task::LocalSet::new();
        tasks
            .run_until(async move {
                for (n, (listener, private)) in listeners.into_iter().enumerate() {
                    let (conditions, open) = (conditions.clone(), open.clone());
                    let rng = ChaCha8Rng::seed_from_u64(seed ^ n as u64);
                    let here = listener.local_addr().ok().map(|addr| addr.ip());
                    let accept = accept_loop(listener, private, here, conditions, open, rng);
                    tokio::task::spawn_local(accept);
                }
                let _ = stop.await;
            })
            .await;
        Ok(())
    })
}

async fn accept_loop(
    listener: TcpListener,
    private: SocketAddr,
    here: Option<IpAddr>,
    conditions: SharedConditions,
    open: Arc<std::sync::atomic::AtomicUsize>,
    mut rng: ChaCha8Rng,
) {
    use std::sync::atomic::Ordering;
    loop {
        let Ok((inbound, peer)) = listener.accept().await else {
            continue;
        };
        if open.load(Ordering::Relaxed) >= CONNECTIONS_MAX {
            continue;
        }
        let Ok(outbound) = TcpStream::connect(private).await else {
            continue;
        };
        let _ = (inbound.set_nodelay(true), outbound.set_nodelay(true));
        open.fetch_add(1, Ordering::Relaxed);
        let (conditions, open) = (conditions.clone(), open.clone());
        let seeds: (u64, u64) = (rng.random(), rng.random());
        tokio::task::spawn_local(async move {
            let (in_read, in_write) = inbound.into_split();
            let (out_read, out_write) = outbound.into_split();
            let forward = pump(
                in_read,
                out_write,
                peer.ip(),
                here,
                conditions.clone(),
                seeds.0,
            );
            let back = pump(out_read, in_write, peer.ip(), here, conditions, seeds.1);
            let _ = tokio::join!(forward, back);
            open.fetch_sub(1, Ordering::Relaxed);
        });
    }
}

/// Whether the link between `peer` and this server is held now, and the latency range.
fn now(conditions: &SharedConditions, peer: IpAddr, here: Option<IpAddr>) -> (bool, (u64, u64)) {
    let conditions = conditions.lock().unwrap_or_else(|p| p.into_inner());
    let held = conditions.held.contains_key(&peer)
        || here.is_some_and(|here| conditions.held.contains_key(&here));
    (held, conditions.latency_ms)
}

/// Forwards one direction of a connection: a reader stamps each chunk with its delivery time
/// (read time + drawn latency, never before the previous chunk's), a writer delivers it then,
/// or later while the link is held.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    peer: IpAddr,
    here: Option<IpAddr>,
    conditions: SharedConditions,
    seed: u64,
) {
    let (chunks_tx, mut chunks_rx) =
        tokio::sync::mpsc::channel::<(tokio::time::Instant, Vec<u8>)>(IN_FLIGHT_MAX);
    let reader_conditions = conditions.clone();
    let reader = async move {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut buffer = vec![0u8; CHUNK_BYTES];
        let mut last = tokio::time::Instant::now();
        loop {
            let read = match from.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(read) => read,
            };
            let (_, (low, high)) = now(&reader_conditions, peer, here);
            let delay_ms = if high == 0 {
                0
            } else {
                rng.random_range(low.min(high)..=high)
            };
            let due = (tokio::time::Instant::now() + Duration::from_millis(delay_ms)).max(last);
            last = due;
            if chunks_tx
                .send((due, buffer[..read].to_vec()))
                .await
                .is_err()
            {
                break;
            }
        }
    };
    let writer = async move {
        while let Some((due, chunk)) = chunks_rx.recv().await {
            // A timer costs a tick (1 ms) even when it is due: sleep only for a real delay.
            if due > tokio::time::Instant::now() {
                tokio::time::sleep_until(due).await;
            }
            while now(&conditions, peer, here).0 {
                tokio::time::sleep(HOLD_POLL).await;
            }
            if to.write_all(&chunk).await.is_err() {
                break;
            }
        }
        let _ = to.shutdown().await;
    };
    tokio::join!(reader, writer);
}
