//! `faultline serve coordinator` on real TCP and a real directory, driven by the same client
//! library the simulation uses: writes, watches, `multi`, and a kill -9 plus restart.

use engine::coordinator::{CoordinatorClient, CoordinatorClientOptions, CreateMode, EventKind, Op};
use engine::env::{Net, NodeAddr};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Kills the server when the test ends, however it ends.
struct Server {
    child: Child,
    addr: NodeAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(data: &Path) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(["serve", "coordinator", "--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn faultline serve coordinator");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read the listening line");
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .parse()
        .expect("address");
    Server { child, addr }
}

fn options() -> CoordinatorClientOptions {
    CoordinatorClientOptions {
        session_timeout: Duration::from_secs(5),
        request_timeout: Duration::from_secs(2),
        connect_timeout: Duration::from_secs(1),
    }
}

#[test]
fn real_coordinator_serves_writes_watches_and_survives_kill_9() {
    let dir = tempfile::tempdir().expect("tempdir");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let server = start(dir.path());
    let addr = server.addr.clone();
    runtime.block_on(async {
        tokio::time::timeout(Duration::from_secs(30), async {
            let owner = CoordinatorClient::connect(Net::Real, addr.clone(), options())
                .await
                .expect("session");
            let watcher = CoordinatorClient::connect(Net::Real, addr.clone(), options())
                .await
                .expect("session");
            owner
                .create("/brokers", Vec::new(), CreateMode::Persistent)
                .await
                .expect("create");
            let (stat, watch) = watcher.exists_watch("/brokers/1").await.expect("exists");
            assert!(stat.is_none());
            owner
                .create(
                    "/brokers/1",
                    b"127.0.0.1:9092".to_vec(),
                    CreateMode::Ephemeral,
                )
                .await
                .expect("ephemeral");
            let event = watch.fired().await;
            assert_eq!(
                (event.path.as_str(), event.kind),
                ("/brokers/1", EventKind::Created)
            );
            let results = owner
                .multi(vec![
                    Op::Create {
                        path: "/topics".into(),
                        data: b"orders".to_vec(),
                        mode: CreateMode::Persistent,
                    },
                    Op::SetData {
                        path: "/brokers".into(),
                        data: b"v1".to_vec(),
                        expected_version: Some(0),
                    },
                ])
                .await
                .expect("multi");
            assert_eq!(results.len(), 2);
            let (data, stat) = watcher.get("/brokers").await.expect("get");
            assert_eq!((data.as_slice(), stat.version), (&b"v1"[..], 1));
        })
        .await
        .expect("the first life finished in time");
    });
    // Power-loss-like stop: SIGKILL, then a restart on the same directory.
    drop(server);
    let server = start(dir.path());
    let addr = server.addr.clone();
    runtime.block_on(async {
        tokio::time::timeout(Duration::from_secs(30), async {
            let reader = CoordinatorClient::connect(Net::Real, addr, options())
                .await
                .expect("session");
            let (data, stat) = reader
                .get("/brokers")
                .await
                .expect("acknowledged write survived");
            assert_eq!((data.as_slice(), stat.version), (&b"v1"[..], 1));
            assert_eq!(
                reader.get("/topics").await.expect("multi survived").0,
                b"orders".to_vec()
            );
            reader.close().await.expect("close");
        })
        .await
        .expect("the second life finished in time");
    });
    drop(server);
}
