//! A real cluster on 127.0.0.1: one `faultline serve coordinator` and N `faultline serve broker`
//! processes, each with its own data directory, for the real-TCP tests and `faultline bench`.
//! Every process is killed (SIGKILL: no clean shutdown) when its handle drops.

use engine::env::NodeAddr;
use std::io::{BufRead, BufReader};
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
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl NodeProcess {
    /// Starts `faultline <args>` and waits for its `listening on HOST:PORT` line.
    pub fn spawn(exe: &Path, args: Vec<String>) -> Result<NodeProcess, LocalClusterError> {
        let what = args.join(" ");
        let mut child = Command::new(exe)
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|source| LocalClusterError::Spawn {
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
            Some(addr) => Ok(NodeProcess { child, addr, args }),
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
        let fresh = NodeProcess::spawn(exe, self.args.clone())?;
        *self = fresh;
        Ok(())
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
        )?;
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
            )?);
        }
        Ok(LocalCluster {
            coordinator,
            brokers: nodes,
            root: root.to_path_buf(),
        })
    }

    pub fn bootstrap(&self) -> Vec<NodeAddr> {
        self.brokers.iter().map(|node| node.addr.clone()).collect()
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
}
