//! `faultline bench produce` against real local clusters: it reads back every acknowledged
//! record, and its server processes (faultline's nodes, NATS's servers) and temporary directory
//! go with it — on a normal exit, on SIGTERM, and (the processes) on SIGKILL.

use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const FAULTLINE: &str = env!("CARGO_BIN_EXE_faultline");
/// How long the nodes may outlive the benchmark before the test calls them leaked.
const GONE_WITHIN: Duration = Duration::from_secs(10);

fn bench(tmp: &Path, records: u32, systems: &str) -> Command {
    let mut command = Command::new(FAULTLINE);
    command
        .args([
            "bench",
            "produce",
            "--producers",
            "2",
            "--partitions",
            "2",
            "--disk-ms",
            "100",
            "--systems",
            systems,
            "--records",
        ])
        .arg(records.to_string())
        .env("TMPDIR", tmp);
    command
}

/// The data directory from the first line the benchmark prints.
fn data_dir(line: &str) -> PathBuf {
    let dir = line
        .trim()
        .strip_prefix("faultline bench produce: data in ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    PathBuf::from(dir)
}

/// The process group a `<system>: ... in process group N` line names.
fn group_of(line: &str) -> Option<Pid> {
    let (_, group) = line.trim().rsplit_once(" in process group ")?;
    Some(Pid::from_raw(group.parse().ok()?))
}

fn group_is_gone(group: Pid) -> bool {
    #[allow(clippy::disallowed_methods)] // a wall-clock bound on real processes
    let started = std::time::Instant::now();
    while started.elapsed() < GONE_WITHIN {
        // Signal 0 probes for members without touching them.
        if killpg(group, None) == Err(nix::errno::Errno::ESRCH) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Starts a long benchmark of `systems` and returns once its servers are up.
fn spawn_and_wait_for_start(tmp: &Path, systems: &str) -> (Child, Pid, PathBuf) {
    let mut child = bench(tmp, 1_000_000, systems)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the benchmark");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let first = lines.next().expect("a first line").expect("readable");
    let dir = data_dir(&first);
    assert!(dir.starts_with(tmp) && dir.is_dir(), "{}", dir.display());
    let second = lines.next().expect("a second line").expect("readable");
    let group = group_of(&second).unwrap_or_else(|| panic!("no process group in {second:?}"));
    // Let the producers get going.
    std::thread::sleep(Duration::from_millis(500));
    (child, group, dir)
}

fn nats_available(test: &str) -> bool {
    let found = harness::real::shell::on_path("nats-server");
    if !found {
        eprintln!("{test}: skipped, needs nats-server on the PATH (ci/install-real-deps.sh)");
    }
    found
}

/// Runs a short benchmark of `systems` and checks its read-back and that nothing is left.
fn reads_back_and_leaves_nothing(systems: &str, read_back: &[&str]) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let output = bench(tmp.path(), 60, systems)
        .output()
        .expect("run the benchmark");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    for system in read_back {
        let line =
            format!("{system} read back: every acknowledged record is in the log (missing 0)");
        assert!(stdout.contains(&line), "{stdout}");
    }
    assert!(stdout.contains("disk limit: "), "{stdout}");
    let dir = data_dir(stdout.lines().next().expect("a first line"));
    let groups: Vec<Pid> = stdout.lines().filter_map(group_of).collect();
    assert_eq!(groups.len(), read_back.len(), "{stdout}");
    for group in groups {
        assert!(group_is_gone(group), "servers outlived the benchmark");
    }
    assert!(!dir.exists(), "{} was left behind", dir.display());
}

#[test]
fn every_acknowledged_record_is_read_back_and_nothing_is_left() {
    reads_back_and_leaves_nothing("faultline", &["faultline"]);
}

#[test]
fn nats_reads_back_every_acknowledged_message_and_leaves_nothing() {
    if nats_available("nats_reads_back") {
        reads_back_and_leaves_nothing("faultline,nats", &["faultline", "NATS"]);
    }
}

fn sigterm_stops_the_servers_and_removes_their_files(systems: &str) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (mut child, group, dir) = spawn_and_wait_for_start(tmp.path(), systems);
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).expect("SIGTERM");
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(128 + Signal::SIGTERM as i32));
    assert!(group_is_gone(group), "servers outlived SIGTERM");
    assert!(!dir.exists(), "{} was left behind", dir.display());
}

#[test]
fn sigterm_stops_the_nodes_and_removes_their_files() {
    sigterm_stops_the_servers_and_removes_their_files("faultline");
}

#[test]
fn sigterm_stops_the_nats_servers_and_removes_their_files() {
    if nats_available("sigterm_nats") {
        sigterm_stops_the_servers_and_removes_their_files("nats");
    }
}

fn the_servers_die_with_a_killed_benchmark(systems: &str) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (mut child, group, _dir) = spawn_and_wait_for_start(tmp.path(), systems);
    child.kill().expect("SIGKILL");
    child.wait().expect("wait");
    // No code of ours ran: the parent-death signal must take the servers.
    assert!(group_is_gone(group), "servers outlived SIGKILL");
}

#[test]
fn the_nodes_die_with_a_killed_benchmark() {
    the_servers_die_with_a_killed_benchmark("faultline");
}

#[test]
fn the_nats_servers_die_with_a_killed_benchmark() {
    if nats_available("killed_nats") {
        the_servers_die_with_a_killed_benchmark("nats");
    }
}
