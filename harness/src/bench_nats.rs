//! `bench produce` against NATS JetStream: three `nats-server` processes on 127.0.0.1 (loopback
//! ports; a bench is not a fault run, so no namespaces), JetStream stores under the bench's
//! directory with `sync_interval: always`, one R3 stream per partition (`bench_<p>`, subject
//! `bench.<p>`, as `systems::nats` maps keys), and the same producers as faultline's: each
//! keeps `in_flight` publishes outstanding, each with its record's name as `Nats-Msg-Id`,
//! awaiting its PubAck. NATS has no produce batch: in-flight publishes are its batching. Then
//! every stream is read back through an ephemeral consumer.
//!
//! The servers run in one process group of their own, killed on SIGINT/SIGTERM (`interrupt`)
//! and when the cluster's handle drops; each asks the kernel for SIGKILL when the thread that
//! started it ends (the main thread, which outlives them).

use crate::bench_load::{send_in_flight, Measured, Outcome, ProduceBench, RecordId};
use anyhow::Context;
use async_nats::jetstream::{self, consumer, stream};
use futures_util::StreamExt;
use harness::interrupt::Interrupts;
use std::collections::BTreeSet;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub use harness::systems::nats::config::PROGRAM;

const SERVERS: u32 = 3;
/// How long the cluster may take to elect its meta leader and place every stream.
const SETUP_BUDGET: Duration = Duration::from_secs(30);
/// How long a PubAck or API request is awaited.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Messages per read-back fetch.
const READ_BACK_BATCH: usize = 1000;
/// Fetches (and retries) one stream's read-back may take.
const READ_BACK_FETCHES_MAX: usize = 100_000;

/// Whether `nats-server` is on the PATH.
pub fn available() -> bool {
    harness::real::shell::on_path(PROGRAM)
}

/// The three servers; killed when dropped.
struct Cluster {
    children: Vec<Child>,
    group: u32,
    client_ports: Vec<u16>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A port free on 127.0.0.1 now (the kernel's pick; the server binds it a moment later).
fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn render(name: &str, client: u16, cluster: u16, routes: &[u16], store: &Path) -> String {
    let routes: Vec<String> = routes
        .iter()
        .map(|port| format!("    \"nats-route://127.0.0.1:{port}\""))
        .collect();
    format!(
        "server_name: \"{name}\"\nlisten: \"127.0.0.1:{client}\"\n\
         jetstream {{\n  store_dir: \"{store}\"\n  sync_interval: always\n}}\n\
         cluster {{\n  name: \"bench\"\n  listen: \"127.0.0.1:{cluster}\"\n  \
         routes: [\n{routes}\n  ]\n}}\n",
        store = store.display(),
        routes = routes.join("\n"),
    )
}

fn start(dir: &Path) -> anyhow::Result<Cluster> {
    let client_ports: Vec<u16> = (0..SERVERS)
        .map(|_| free_port())
        .collect::<Result<_, _>>()?;
    let cluster_ports: Vec<u16> = (0..SERVERS)
        .map(|_| free_port())
        .collect::<Result<_, _>>()?;
    let mut cluster = Cluster {
        children: Vec::new(),
        group: 0,
        client_ports: client_ports.clone(),
    };
    for i in 0..SERVERS as usize {
        let name = format!("b{}", i + 1);
        let routes: Vec<u16> = cluster_ports
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, port)| *port)
            .collect();
        let conf = dir.join(format!("{name}.conf"));
        let text = render(
            &name,
            client_ports[i],
            cluster_ports[i],
            &routes,
            &dir.join(&name),
        );
        std::fs::write(&conf, text)?;
        let log = std::fs::File::create(dir.join(format!("{name}.log")))?;
        let mut command = Command::new(PROGRAM);
        command
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .process_group(cluster.group as i32);
        // SAFETY: between fork and exec only async-signal-safe calls are allowed; both are
        // single system calls (prctl, sigprocmask) that neither allocate nor lock.
        unsafe {
            command.pre_exec(|| {
                nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
                    .map_err(std::io::Error::from)?;
                harness::interrupt::unblock_in_child()
            });
        }
        let child = command
            .spawn()
            .with_context(|| format!("cannot start {PROGRAM}"))?;
        if cluster.group == 0 {
            // The first server leads the group; the others join it.
            cluster.group = child.id();
        }
        cluster.children.push(child);
    }
    Ok(cluster)
}

pub fn run(
    bench: &ProduceBench,
    dir: &Path,
    interrupts: &Interrupts,
    runtime: &tokio::runtime::Runtime,
) -> anyhow::Result<Measured> {
    std::fs::create_dir_all(dir)?;
    let cluster = start(dir)?;
    interrupts.kill_group_on_signal(cluster.group);
    println!(
        "NATS: {SERVERS} {PROGRAM} processes in process group {}",
        cluster.group
    );
    let urls: Vec<String> = cluster
        .client_ports
        .iter()
        .map(|port| format!("nats://127.0.0.1:{port}"))
        .collect();
    let measured = runtime.block_on(async {
        let js = connect(&urls).await?;
        create_streams(&js, bench.partitions).await?;
        let mut measured = produce(bench, &urls).await?;
        measured.missing = read_back(&js, bench.partitions, &measured.acked).await?;
        anyhow::Ok(measured)
    });
    drop(cluster);
    measured
}

async fn connect(urls: &[String]) -> anyhow::Result<jetstream::Context> {
    let addresses: Vec<async_nats::ServerAddr> = urls
        .iter()
        .map(|url| url.parse())
        .collect::<Result<_, _>>()?;
    let client = async_nats::ConnectOptions::new()
        .retry_on_initial_connect()
        .request_timeout(Some(REQUEST_TIMEOUT))
        .connect(addresses)
        .await?;
    let mut js = jetstream::new(client);
    js.set_timeout(REQUEST_TIMEOUT);
    Ok(js)
}

fn stream_config(partition: u32) -> stream::Config {
    stream::Config {
        name: format!("bench_{partition}"),
        subjects: vec![format!("bench.{partition}")],
        num_replicas: SERVERS as usize,
        storage: stream::StorageType::File,
        ..stream::Config::default()
    }
}

/// Creates every stream and waits until each has a leader.
async fn create_streams(js: &jetstream::Context, partitions: u32) -> anyhow::Result<()> {
    // A bench on real processes (never under turmoil): the wall clock bounds the setup.
    let deadline = tokio::time::Instant::now() + SETUP_BUDGET;
    for partition in 0..partitions {
        loop {
            let led = match js.get_or_create_stream(stream_config(partition)).await {
                Ok(mut stream) => stream
                    .info()
                    .await
                    .ok()
                    .and_then(|info| info.cluster.as_ref().map(|c| c.leader.is_some()))
                    .unwrap_or(false),
                Err(error) => {
                    tracing::debug!(%error, "creating a bench stream");
                    false
                }
            };
            if led {
                break;
            }
            anyhow::ensure!(
                tokio::time::Instant::now() < deadline,
                "stream bench_{partition} has no leader after {} s",
                SETUP_BUDGET.as_secs()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    Ok(())
}

async fn publish(js: jetstream::Context, partition: u32, id: RecordId) -> Outcome {
    let mut headers = async_nats::HeaderMap::new();
    let msg_id = format!("{}-{}", id.producer, id.sequence);
    headers.insert(async_nats::header::NATS_MESSAGE_ID, msg_id.as_str());
    // Real processes over real TCP: the wall-clock latency is what is measured.
    #[allow(clippy::disallowed_methods)]
    let sent = std::time::Instant::now();
    let acked = match js
        .publish_with_headers(format!("bench.{partition}"), headers, id.value().into())
        .await
    {
        Ok(ack) => ack.await,
        Err(error) => Err(error),
    };
    match acked {
        Ok(_) => Some((partition, id, sent.elapsed().as_micros() as u64)),
        Err(error) => {
            tracing::debug!(%error, "bench publish failed");
            None
        }
    }
}

async fn produce(bench: &ProduceBench, urls: &[String]) -> anyhow::Result<Measured> {
    let per_producer = bench.records / u64::from(bench.producers);
    // Every producer has its own connection, as faultline's producers do.
    let mut contexts = Vec::new();
    for _ in 0..bench.producers {
        contexts.push(connect(urls).await?);
    }
    // Real-mode measurement: the wall clock is the point.
    #[allow(clippy::disallowed_methods)]
    let started = std::time::Instant::now();
    let mut tasks = Vec::new();
    for (producer, js) in (0..bench.producers).zip(contexts) {
        let (partitions, in_flight) = (bench.partitions, bench.in_flight as usize);
        tasks.push(tokio::spawn(async move {
            send_in_flight(producer, per_producer, in_flight, |id| {
                publish(js.clone(), id.partition(partitions), id)
            })
            .await
        }));
    }
    Measured::gather(tasks, started).await
}

/// Reads every stream from its first message to its last through ephemeral consumers and
/// returns the acknowledged records that were not there. A failed fetch may have delivered
/// messages that never arrived, and a consumer without acks never redelivers them: after an
/// error the read goes on with a new consumer from the sequence after the last one read.
async fn read_back(
    js: &jetstream::Context,
    partitions: u32,
    acked: &[(u32, RecordId)],
) -> anyhow::Result<Vec<(u32, RecordId)>> {
    let mut read = BTreeSet::new();
    for partition in 0..partitions {
        let name = format!("bench_{partition}");
        let mut attempts = 0;
        let mut sequence = 0;
        let mut last = None;
        let mut reader = None;
        while last.is_none_or(|last| sequence < last) {
            attempts += 1;
            anyhow::ensure!(
                attempts <= READ_BACK_FETCHES_MAX,
                "could not read {name} to its end in {READ_BACK_FETCHES_MAX} attempts"
            );
            match read_some(js, &name, &mut last, &mut reader, sequence).await {
                Ok(messages) => {
                    for (at, id) in messages {
                        sequence = sequence.max(at);
                        read.extend(id.map(|id| (partition, id)));
                    }
                }
                Err(error) => {
                    tracing::debug!(%error, stream = %name, "read back; retrying");
                    reader = None;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }
    Ok(acked
        .iter()
        .filter(|entry| !read.contains(*entry))
        .copied()
        .collect())
}

/// One step of a stream's read-back: learns the stream's last sequence, makes a reader that
/// starts after `sequence` if there is none, and fetches one batch (stream sequence and record
/// name of each message).
async fn read_some(
    js: &jetstream::Context,
    name: &str,
    last: &mut Option<u64>,
    reader: &mut Option<consumer::PullConsumer>,
    sequence: u64,
) -> anyhow::Result<Vec<(u64, Option<RecordId>)>> {
    let mut stream = js.get_stream(name).await?;
    if last.is_none() {
        *last = Some(stream.info().await?.state.last_sequence);
    }
    if reader.is_none() {
        *reader = Some(
            stream
                .create_consumer(consumer::pull::Config {
                    ack_policy: consumer::AckPolicy::None,
                    deliver_policy: consumer::DeliverPolicy::ByStartSequence {
                        start_sequence: sequence + 1,
                    },
                    ..consumer::pull::Config::default()
                })
                .await?,
        );
    }
    let Some(reader) = reader.as_ref() else {
        return Ok(Vec::new());
    };
    let mut batch = reader
        .batch()
        .max_messages(READ_BACK_BATCH)
        .expires(Duration::from_secs(1))
        .messages()
        .await?;
    let mut messages = Vec::new();
    while let Some(message) = batch.next().await {
        let message = message.map_err(|error| anyhow::anyhow!("{error}"))?;
        let at = message
            .info()
            .map_err(|error| anyhow::anyhow!("{error}"))?
            .stream_sequence;
        messages.push((at, RecordId::of(&message.payload)));
    }
    Ok(messages)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_syncs_always_and_routes_to_the_others() {
        let text = render("b1", 4222, 6222, &[6223, 6224], Path::new("/tmp/x/b1"));
        assert!(text.contains("sync_interval: always"), "{text}");
        assert!(text.contains("listen: \"127.0.0.1:4222\""), "{text}");
        assert!(text.contains("nats-route://127.0.0.1:6223"), "{text}");
        assert!(text.contains("nats-route://127.0.0.1:6224"), "{text}");
        assert!(!text.contains("nats-route://127.0.0.1:6222"), "{text}");
    }

    #[test]
    fn every_stream_has_three_replicas_on_file() {
        let config = stream_config(2);
        assert_eq!(config.name, "bench_2");
        assert_eq!(config.subjects, vec!["bench.2".to_owned()]);
        assert_eq!(config.num_replicas, 3);
        assert_eq!(config.storage, stream::StorageType::File);
    }
}
