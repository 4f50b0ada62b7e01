//! A real cluster on 127.0.0.1: one `faultline serve coordinator` and N `faultline serve broker`
//! processes, each with its own data directory, for the real-TCP tests and `faultline bench`.
//! Every process is killed (SIGKILL: no clean shutdown) when its handle drops.
//!
//! The nodes must not outlive us on any exit path: they run in one process group of their own
//! (the coordinator's; a terminal's Ctrl-C then reaches only us, and `interrupt` kills the
//! group), and each asks the kernel for SIGKILL when its parent dies (`PR_SET_PDEATHSIG`), which
//! covers our own SIGKILL and crashes, where no code of ours runs. The kernel sends that signal
//! when the *thread* that spawned the child ends, so spawn nodes from a thread that lives as
//! long as the cluster (the main thread, in `faultline bench`).

use engine::env::NodeAddr;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

#[derive(Debug, thiserror::Error)]
pub enum LocalClusterError {
    #[error("cannot start {what}: {source}")]
    Spawn {
        what: String,
        source: std::io::Error,
    },
    #[error("{what} did not start: its first line was {line:?}")]
    NoAddress { what: String, line: String },
}

/// One node process.
pub struct NodeProcess {
    child: Child,
    pub addr: NodeAddr,
    args: Vec<String>,
    /// The process group it joined (0: it started its own).
    group: u32,
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl NodeProcess {
    /// Starts `faultline <args>` in process group `group` (0: a new group led by the node) and
    /// waits for its `listening on HOST:PORT` line.
    pub fn spawn(
        exe: &Path,
        args: Vec<String>,
        group: u32,
    ) -> Result<NodeProcess, LocalClusterError> {
        let what = args.join(" ");
        let mut command = Command::new(exe);
        command
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(group as i32);
        // SAFETY: between fork and exec only async-signal-safe calls are allowed; both are
        // single system calls (prctl, sigprocmask) that neither allocate nor lock.
        unsafe {
            command.pre_exec(|| {
                nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
                    .map_err(std::io::Error::from)?;
                crate::interrupt::unblock_in_child()
            });
        }
        let mut child = command.spawn().map_err(|source| LocalClusterError::Spawn {
            what: what.clone(),
            source,
        })?;
        let mut line = String::new();
        if let Some(stdout) = child.stdout.take() {
            let _ = BufReader::new(stdout).read_line(&mut line);
        }
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .and_then(|addr| addr.parse().ok());
        match addr {
            Some(addr) => Ok(NodeProcess {
                child,
                addr,
                args,
                group,
            }),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                Err(LocalClusterError::NoAddress { what, line })
            }
        }
    }

    /// Kills the process and starts it again with the same arguments (same data directory).
    pub fn restart(&mut self, exe: &Path) -> Result<(), LocalClusterError> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Rejoin the cluster's group; if every member is gone, the group is too: start anew.
        let fresh = match NodeProcess::spawn(exe, self.args.clone(), self.group) {
            Ok(fresh) => fresh,
            Err(_) if self.group != 0 => NodeProcess::spawn(exe, self.args.clone(), 0)?,
            Err(error) => return Err(error),
        };
        *self = fresh;
        Ok(())
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct LocalCluster {
    pub coordinator: NodeProcess,
    pub brokers: Vec<NodeProcess>,
    root: PathBuf,
    group: u32,
}

fn dir(root: &Path, name: &str) -> String {
    root.join(name).display().to_string()
}

impl LocalCluster {
    /// Starts the coordinator, then `brokers` brokers with ids 1..=brokers, all on free ports.
    pub fn start(
        exe: &Path,
        root: &Path,
        brokers: u32,
        fsync: &str,
    ) -> Result<LocalCluster, LocalClusterError> {
        let coordinator = NodeProcess::spawn(
            exe,
            vec![
                "serve".into(),
                "coordinator".into(),
                "--listen".into(),
                "127.0.0.1:0".into(),
                "--data".into(),
                dir(root, "coordinator"),
            ],
            0,
        )?;
        // The coordinator leads the group; every broker joins it.
        let group = coordinator.id();
        let mut nodes = Vec::new();
        for id in 1..=brokers {
            nodes.push(NodeProcess::spawn(
                exe,
                vec![
                    "serve".into(),
                    "broker".into(),
                    "--id".into(),
                    id.to_string(),
                    "--listen".into(),
                    "127.0.0.1:0".into(),
                    "--coordinator".into(),
                    coordinator.addr.to_string(),
                    "--data".into(),
                    dir(root, &format!("broker-{id}")),
                    "--fsync".into(),
                    fsync.into(),
                ],
                group,
            )?);
        }
        Ok(LocalCluster {
            coordinator,
            brokers: nodes,
            root: root.to_path_buf(),
            group,
        })
    }

    /// The process group every node was started in.
    pub fn process_group(&self) -> u32 {
        self.group
    }

    pub fn bootstrap(&self) -> Vec<NodeAddr> {
        self.brokers.iter().map(|node| node.addr.clone()).collect()
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
}
