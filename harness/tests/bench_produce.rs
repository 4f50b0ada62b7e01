//! `faultline bench produce` against a real local cluster: it reads back every acknowledged
//! record, and its node processes and temporary directory go with it — on a normal exit, on
//! SIGTERM, and (the processes) on SIGKILL.

use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const FAULTLINE: &str = env!("CARGO_BIN_EXE_faultline");
/// How long the nodes may outlive the benchmark before the test calls them leaked.
const GONE_WITHIN: Duration = Duration::from_secs(10);

fn bench(tmp: &Path, records: u32) -> Command {
    let mut command = Command::new(FAULTLINE);
    command
        .args([
            "bench",
            "produce",
            "--producers",
            "2",
            "--partitions",
            "2",
            "--records",
        ])
        .arg(records.to_string())
        .env("TMPDIR", tmp);
    command
}

/// The group and data directory from the first line the benchmark prints.
fn started(line: &str) -> (Pid, PathBuf) {
    let rest = line
        .trim()
        .strip_prefix("faultline bench produce: nodes in process group ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    let (group, dir) = rest.split_once(", data in ").expect("a data directory");
    (
        Pid::from_raw(group.parse().expect("a group id")),
        PathBuf::from(dir),
    )
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

fn spawn_and_wait_for_start(tmp: &Path) -> (Child, Pid, PathBuf) {
    let mut child = bench(tmp, 1_000_000)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the benchmark");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("the first line");
    let (group, dir) = started(&line);
    assert!(dir.starts_with(tmp) && dir.is_dir(), "{}", dir.display());
    // Let the producers get going.
    std::thread::sleep(Duration::from_millis(500));
    (child, group, dir)
}

#[test]
fn every_acknowledged_record_is_read_back_and_nothing_is_left() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let output = bench(tmp.path(), 60).output().expect("run the benchmark");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("every acknowledged record is in the log (missing 0)"),
        "{stdout}"
    );
    let (group, dir) = started(stdout.lines().next().expect("a first line"));
    assert!(group_is_gone(group), "nodes outlived the benchmark");
    assert!(!dir.exists(), "{} was left behind", dir.display());
}

#[test]
fn sigterm_stops_the_nodes_and_removes_their_files() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (mut child, group, dir) = spawn_and_wait_for_start(tmp.path());
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).expect("SIGTERM");
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(128 + Signal::SIGTERM as i32));
    assert!(group_is_gone(group), "nodes outlived SIGTERM");
    assert!(!dir.exists(), "{} was left behind", dir.display());
}

#[test]
fn the_nodes_die_with_a_killed_benchmark() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (mut child, group, _dir) = spawn_and_wait_for_start(tmp.path());
    child.kill().expect("SIGKILL");
    child.wait().expect("wait");
    // No code of ours ran: the parent-death signal must take the nodes.
    assert!(group_is_gone(group), "nodes outlived SIGKILL");
}
