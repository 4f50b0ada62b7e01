//! The servers of a real-mode run as OS processes, each in its namespace (`ip netns exec` execs
//! the server, so the child's pid is the server's). A crash is SIGKILL, a pause SIGSTOP, a
//! restart the same command on the same data directory. Each server leads a process group of
//! its own (a terminal's Ctrl-C reaches only us) and dies with us (`PR_SET_PDEATHSIG`), so no
//! exit path leaves one running; each one's stderr is appended to `<logs>/<host>.log` across
//! restarts.

use crate::systems::{Readiness, ServerCommand};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot start {host}: {source}")]
    Spawn {
        host: String,
        source: std::io::Error,
    },
    #[error("{host} did not start (its first line was {line:?}); see {log}")]
    NotListening {
        host: String,
        line: String,
        log: String,
    },
    #[error("{host} did not accept connections on {address} within {waited_ms} ms; its log ended: {log_tail}")]
    NotAccepting {
        host: String,
        address: std::net::SocketAddr,
        waited_ms: u128,
        /// The run's directory is removed when it fails: the last lines say why.
        log_tail: String,
    },
    #[error("cannot write {path} for {host}: {source}")]
    File {
        host: String,
        path: String,
        source: std::io::Error,
    },
}

/// How long a server may take to accept connections at the run's start.
const ACCEPT_WAIT: std::time::Duration = std::time::Duration::from_secs(20);
const ACCEPT_PAUSE: std::time::Duration = std::time::Duration::from_millis(50);

struct Running {
    child: Child,
    paused: bool,
}

pub struct Servers {
    commands: BTreeMap<String, (String, ServerCommand)>,
    running: BTreeMap<String, Running>,
    logs: PathBuf,
}

impl Servers {
    /// `commands` with the namespace each runs in.
    pub fn new(commands: Vec<(String, ServerCommand)>, logs: PathBuf) -> Servers {
        Servers {
            commands: commands
                .into_iter()
                .map(|(namespace, command)| (command.host.clone(), (namespace, command)))
                .collect(),
            running: BTreeMap::new(),
            logs,
        }
    }

    /// Starts `host`; with `wait_ready`, blocks until it prints `listening on` (the run's
    /// start). A restart mid-run does not wait: the workload's clients retry as they would
    /// against any node that is still recovering.
    pub fn start(&mut self, host: &str, wait_ready: bool) -> Result<(), ServerError> {
        self.kill(host);
        let Some((namespace, server)) = self.commands.get(host) else {
            return Ok(());
        };
        for (path, text) in &server.files {
            std::fs::write(path, text).map_err(|source| ServerError::File {
                host: host.to_owned(),
                path: path.display().to_string(),
                source,
            })?;
        }
        let log_path = self.logs.join(format!("{host}.log"));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|source| ServerError::Spawn {
                host: host.to_owned(),
                source,
            })?;
        let mut command = Command::new("ip");
        command
            .args(["netns", "exec", namespace])
            .arg(&server.program)
            .args(&server.args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .process_group(0);
        // SAFETY: between fork and exec only async-signal-safe calls: prctl and sigprocmask,
        // single system calls that neither allocate nor lock.
        unsafe {
            command.pre_exec(|| {
                nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(std::io::Error::from)?;
                crate::interrupt::unblock_in_child()
            });
        }
        let mut child = command.spawn().map_err(|source| ServerError::Spawn {
            host: host.to_owned(),
            source,
        })?;
        let stdout = child.stdout.take();
        if !wait_ready {
            drain_in_background(stdout);
        } else {
            let log = log_path.display().to_string();
            match &server.ready {
                Readiness::FirstLine(prefix) => {
                    let mut line = String::new();
                    let mut reader = stdout.map(BufReader::new);
                    if let Some(reader) = reader.as_mut() {
                        let _ = reader.read_line(&mut line);
                    }
                    if !line.starts_with(prefix.as_str()) {
                        let _ = child.kill();
                        let _ = child.wait();
                        return Err(ServerError::NotListening {
                            host: host.to_owned(),
                            line,
                            log,
                        });
                    }
                    drain_in_background(reader.map(BufReader::into_inner));
                }
                Readiness::Accepts(address) => {
                    drain_in_background(stdout);
                    if !accepts_within(*address, ACCEPT_WAIT, &mut child) {
                        let _ = child.kill();
                        let _ = child.wait();
                        return Err(ServerError::NotAccepting {
                            host: host.to_owned(),
                            address: *address,
                            waited_ms: ACCEPT_WAIT.as_millis(),
                            log_tail: tail_of(&log_path),
                        });
                    }
                }
            }
        }
        self.running.insert(
            host.to_owned(),
            Running {
                child,
                paused: false,
            },
        );
        Ok(())
    }

    /// SIGKILL, and reaps it.
    pub fn kill(&mut self, host: &str) {
        if let Some(mut running) = self.running.remove(host) {
            let _ = running.child.kill();
            let _ = running.child.wait();
        }
    }

    pub fn pause(&mut self, host: &str) {
        if let Some(running) = self.running.get_mut(host) {
            let _ = kill(Pid::from_raw(running.child.id() as i32), Signal::SIGSTOP);
            running.paused = true;
        }
    }

    pub fn resume(&mut self, host: &str) {
        if let Some(running) = self.running.get_mut(host) {
            let _ = kill(Pid::from_raw(running.child.id() as i32), Signal::SIGCONT);
            running.paused = false;
        }
    }

    /// Resumes every paused server (the heal), then kills all.
    pub fn kill_all(&mut self) {
        let hosts: Vec<String> = self.running.keys().cloned().collect();
        for host in hosts {
            self.resume(&host);
            self.kill(&host);
        }
    }

    pub fn is_running(&self, host: &str) -> bool {
        self.running.contains_key(host)
    }
}

impl Drop for Servers {
    fn drop(&mut self) {
        self.kill_all();
    }
}

/// Whether `address` accepts a TCP connection before `wait` is up (and `child` still lives).
fn accepts_within(
    address: std::net::SocketAddr,
    wait: std::time::Duration,
    child: &mut Child,
) -> bool {
    // Real mode only: the wall clock bounds how long a real process may take to start.
    #[allow(clippy::disallowed_methods)]
    let started = std::time::Instant::now();
    while started.elapsed() < wait {
        if matches!(child.try_wait(), Ok(Some(_))) {
            return false;
        }
        // Through our proxy a connection is always accepted; the server is up once it greets
        // (NATS sends its INFO line first), which the proxy forwards only from a live server.
        if let Ok(mut stream) = std::net::TcpStream::connect_timeout(&address, ACCEPT_PAUSE) {
            let mut first = [0u8; 1];
            let _ = stream.set_read_timeout(Some(ACCEPT_PAUSE * 10));
            if matches!(std::io::Read::read(&mut stream, &mut first), Ok(1)) {
                return true;
            }
        }
        std::thread::sleep(ACCEPT_PAUSE);
    }
    false
}

/// The last lines of a server's log, for an error message.
fn tail_of(path: &std::path::Path) -> String {
    const LINES_MAX: usize = 5;
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(LINES_MAX)..].join(" | ")
}

/// Reads a server's stdout to its end so it never blocks on a full pipe.
fn drain_in_background(stdout: Option<std::process::ChildStdout>) {
    let Some(stdout) = stdout else {
        return;
    };
    // Real mode only: a reader thread per server process, never inside a simulation.
    #[allow(clippy::disallowed_methods)]
    let _ = std::thread::Builder::new()
        .name("server-stdout".into())
        .spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
                line.clear();
            }
        });
}
