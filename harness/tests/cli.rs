//! The `faultline` binary as a newcomer meets it (issue 21): hostile scenario files and bad
//! flags fail at once with exit 2 and a positioned message, and the `repro.sh` a run writes
//! replays it from the store, without `faultline` on the PATH.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

const FAULTLINE: &str = env!("CARGO_BIN_EXE_faultline");

/// A small, fast scenario: one broker, two seconds of sends, one crash.
const TINY: &str = "\
name: tiny
cluster:
  brokers: 1
  topics:
    - {name: orders, partitions: 1, replication: 1}
workload:
  duration: 2s
  producers: {count: 1, rate: 20/s, acks: all}
faults:
  schedule:
    - {at: 1s, crash: broker-1, restart_after: 300ms}
recovery: 5s
checks: [no-loss, log-consistency]
";

fn faultline(args: &[&str], cwd: &Path) -> Output {
    Command::new(FAULTLINE)
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run faultline")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn hostile_scenario_files_exit_2_with_a_place_and_a_hint() {
    let dir = tempfile::tempdir().expect("tempdir");
    let deep = format!("{TINY}checks: {}\n", "[".repeat(200_000));
    let mut binary = b"\x7fELF\x02\x01\x01\x00\x00\xff\xfe".to_vec();
    binary.extend_from_slice(&[0u8; 32]);
    let cases: [(&str, Vec<u8>, &str); 4] = [
        (
            "deep.yaml",
            deep.into_bytes(),
            ":14:73: flow collections nested more than 64 deep",
        ),
        (
            "huge.yaml",
            vec![b'#'; 3 << 20],
            ":1:1048577: the file is 3.0 MiB",
        ),
        ("binary.yaml", binary, ":1:1: control character U+007F"),
        (
            "long.yaml",
            format!("{TINY}description: {}\n", "x".repeat(5000)).into_bytes(),
            ":14:14: description is 5000 bytes long",
        ),
    ];
    for (name, bytes, expected) in cases {
        std::fs::write(dir.path().join(name), bytes).expect("write");
        #[allow(clippy::disallowed_methods)] // a wall-clock bound on the CLI, not the simulation
        let started = std::time::Instant::now();
        let output = faultline(&["run", name, "--out", "store"], dir.path());
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{name} took {:?}",
            started.elapsed()
        );
        let text = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{name}: {text}");
        assert!(
            text.contains(&format!("{name}{expected}")),
            "{name}: {text}"
        );
        assert!(text.contains("(hint: "), "{name}: {text}");
    }
    // A byte-order mark is accepted: the file runs.
    std::fs::write(dir.path().join("bom.yaml"), format!("\u{feff}{TINY}")).expect("write");
    let output = faultline(
        &["run", "bom.yaml", "--seed", "1", "--out", "store"],
        dir.path(),
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
}

#[test]
fn bad_flags_exit_2_before_any_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("tiny.yaml"), TINY).expect("write");
    let output = faultline(
        &["run", "tiny.yaml", "--jobs", "0", "--out", "store"],
        dir.path(),
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("--jobs 0: the number of worker threads must be 1 to"));
    assert!(
        !dir.path().join("store").exists(),
        "nothing was run or written"
    );

    std::fs::write(dir.path().join("file"), "x").expect("write");
    for out in ["/proc/faultline-store", "file/store"] {
        let output = faultline(
            &["run", "tiny.yaml", "--seeds", "1..50", "--out", out],
            dir.path(),
        );
        assert_eq!(output.status.code(), Some(2), "{out}");
        let text = stderr(&output);
        assert!(
            text.contains(&format!("--out {out}: cannot create or write")),
            "{text}"
        );
        // No run line was printed: the flag failed before the sweep started.
        assert!(
            output.stdout.is_empty(),
            "{}",
            String::from_utf8_lossy(&output.stdout)
        );
    }
}

#[test]
fn repro_sh_replays_from_the_store_without_faultline_on_the_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let work = dir.path().join("work");
    std::fs::create_dir_all(&work).expect("mkdir");
    std::fs::write(work.join("tiny.yaml"), TINY).expect("write");
    let output = faultline(
        &["run", "tiny.yaml", "--seed", "3", "--out", "store"],
        &work,
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let run = work.join("store/tiny/3");
    let script = std::fs::read_to_string(run.join("repro.sh")).expect("repro.sh");
    // The script names the binary that wrote the run, and it exists.
    let exe = std::fs::canonicalize(FAULTLINE).expect("binary");
    assert!(script.contains(&format!("'{}'", exe.display())), "{script}");
    assert!(
        script.contains(&format!(
            "'{}'",
            work.join("tiny.yaml")
                .canonicalize()
                .expect("abs")
                .display()
        )),
        "{script}"
    );

    // From another directory, with a PATH that has no faultline: the run replays exactly.
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).expect("mkdir");
    let replay = Command::new("sh")
        .arg(run.join("repro.sh"))
        .args(["--out", "replayed"])
        .current_dir(&elsewhere)
        .env("PATH", "/usr/bin:/bin")
        .env_remove("FAULTLINE")
        .output()
        .expect("run repro.sh");
    assert_eq!(replay.status.code(), Some(0), "{}", stderr(&replay));
    let first = std::fs::read(run.join("history.jsonl")).expect("history");
    let again = std::fs::read(elsewhere.join("replayed/tiny/3/history.jsonl")).expect("replayed");
    assert!(first == again, "the replay differs from the run");
}
