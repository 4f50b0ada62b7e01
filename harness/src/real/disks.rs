//! Each server's data directory on our FUSE file system, `faultfs` (its own crate): it keeps
//! written-but-unsynced data in memory and drops it on power loss, and fails fsync or writes on
//! command (design.md §13). One `faultfs mount` process per server, mounted before the server
//! starts and unmounted after it is killed.

use crate::real::shell;
use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// How long a mount may take to appear.
const MOUNT_WAIT: Duration = Duration::from_secs(10);
const MOUNT_POLL: Duration = Duration::from_millis(20);

#[derive(Debug, thiserror::Error)]
pub enum DiskError {
    #[error("cannot start faultfs for {host}: {source}")]
    Spawn {
        host: String,
        source: std::io::Error,
    },
    #[error("faultfs did not mount {mountpoint} within {MOUNT_WAIT:?}")]
    NotMounted { mountpoint: String },
    #[error("faultfs {host}: {source}")]
    Control {
        host: String,
        source: shell::ShellError,
    },
}

struct Mount {
    process: Child,
    mountpoint: PathBuf,
    control: PathBuf,
}

/// The `faultfs` binary: next to ours (one build makes both), else on the PATH.
pub fn faultfs_program() -> Option<PathBuf> {
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join("faultfs")));
    match beside {
        Some(path) if path.is_file() => Some(path),
        _ if shell::on_path("faultfs") => Some(PathBuf::from("faultfs")),
        _ => None,
    }
}

fn is_mounted(mountpoint: &Path) -> bool {
    let wanted = mountpoint.display().to_string();
    std::fs::read_to_string("/proc/self/mountinfo").is_ok_and(|info| {
        info.lines()
            .any(|line| line.split(' ').nth(4) == Some(wanted.as_str()))
    })
}

/// Unmounts `mountpoint` lazily (a killed server may still be closing files).
pub fn unmount(mountpoint: &Path) {
    let path = mountpoint.display().to_string();
    if is_mounted(mountpoint) {
        shell::run_quietly("fusermount3", &["-u", "-z", &path]);
    }
    if is_mounted(mountpoint) {
        shell::run_quietly("umount", &["-l", &path]);
    }
}

/// Every mount under `root` (the run's directory), for the signal watcher and the tests.
pub fn mounts_under(root: &Path) -> Vec<PathBuf> {
    let prefix = root.display().to_string();
    std::fs::read_to_string("/proc/self/mountinfo")
        .map(|info| {
            info.lines()
                .filter_map(|line| line.split(' ').nth(4))
                .filter(|point| point.starts_with(&prefix))
                .map(PathBuf::from)
                .collect()
        })
        .unwrap_or_default()
}

pub struct Disks {
    program: PathBuf,
    mounts: BTreeMap<String, Mount>,
}

impl Disks {
    pub fn new(program: PathBuf) -> Disks {
        Disks {
            program,
            mounts: BTreeMap::new(),
        }
    }

    /// Mounts `host`'s data directory at `mountpoint`, backed by `backing`.
    pub fn mount(
        &mut self,
        host: &str,
        backing: &Path,
        mountpoint: &Path,
        control: &Path,
    ) -> Result<(), DiskError> {
        let spawn_error = |source| DiskError::Spawn {
            host: host.to_owned(),
            source,
        };
        std::fs::create_dir_all(backing).map_err(spawn_error)?;
        std::fs::create_dir_all(mountpoint).map_err(spawn_error)?;
        let mut command = Command::new(&self.program);
        command
            .arg("mount")
            .arg(backing)
            .arg(mountpoint)
            .arg("--control")
            .arg(control)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: between fork and exec only async-signal-safe calls: prctl and sigprocmask.
        // SIGTERM when we die: faultfs unmounts itself on it (our signal mask is inherited, and
        // our signal watcher blocks SIGTERM, hence the unblock).
        unsafe {
            command.pre_exec(|| {
                nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGTERM)
                    .map_err(std::io::Error::from)?;
                crate::interrupt::unblock_in_child()
            });
        }
        let process = command.spawn().map_err(spawn_error)?;
        let mount = Mount {
            process,
            mountpoint: mountpoint.to_owned(),
            control: control.to_owned(),
        };
        self.mounts.insert(host.to_owned(), mount);
        let polls = MOUNT_WAIT.as_millis() / MOUNT_POLL.as_millis();
        for _ in 0..polls {
            if is_mounted(mountpoint) && control.exists() {
                return Ok(());
            }
            std::thread::sleep(MOUNT_POLL);
        }
        Err(DiskError::NotMounted {
            mountpoint: mountpoint.display().to_string(),
        })
    }

    /// Sends one control command to `host`'s file system.
    pub fn command(&self, host: &str, words: &[&str]) -> Result<(), DiskError> {
        let Some(mount) = self.mounts.get(host) else {
            return Ok(());
        };
        let control = mount.control.display().to_string();
        let program = self.program.display().to_string();
        let mut args = vec!["ctl", control.as_str()];
        args.extend_from_slice(words);
        shell::run(&program, &args)
            .map(|_| ())
            .map_err(|source| DiskError::Control {
                host: host.to_owned(),
                source,
            })
    }

    /// Unmounts everything and stops the file system processes.
    pub fn unmount_all(&mut self) {
        for (_, mut mount) in std::mem::take(&mut self.mounts) {
            unmount(&mount.mountpoint);
            let _ = mount.process.kill();
            let _ = mount.process.wait();
        }
    }
}

impl Drop for Disks {
    fn drop(&mut self) {
        self.unmount_all();
    }
}
