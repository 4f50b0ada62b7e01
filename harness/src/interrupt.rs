//! Ctrl-C and SIGTERM for real-mode commands that start processes (`faultline bench produce`).
//! The node processes run in their own process group (so a terminal's Ctrl-C reaches only
//! us, and we decide the order of the shutdown) and die with us even on SIGKILL
//! (`PR_SET_PDEATHSIG`, see `local_cluster`). On SIGINT or SIGTERM a watcher thread kills that
//! group, removes the temporary directories, and exits with 128 + the signal's number, as a
//! shell does.
//!
//! The signals are blocked in every thread and taken with `sigwait` by the watcher, so the
//! cleanup runs as ordinary code, not in a signal handler. That only works if the mask is set
//! before any other thread starts: [`Interrupts::install`] must be called first.

use nix::sys::signal::{killpg, SigSet, Signal};
use nix::unistd::Pid;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Process groups and directories to clean up on a signal; at most this many of each.
const REGISTERED_MAX: usize = 16;

#[derive(Debug, Default)]
struct Registered {
    groups: Vec<Pid>,
    dirs: Vec<PathBuf>,
    /// Run first, in order (real mode: unmount, remove the network).
    hooks: Vec<fn()>,
}

/// What the watcher cleans up; handles are cheap to clone.
#[derive(Clone, Debug)]
pub struct Interrupts {
    registered: Arc<Mutex<Registered>>,
}

/// The signals we take over.
fn signals() -> SigSet {
    let mut set = SigSet::empty();
    set.add(Signal::SIGINT);
    set.add(Signal::SIGTERM);
    set
}

/// Undoes [`Interrupts::install`]'s mask in a child process before it execs (async-signal-safe:
/// one `sigprocmask`), so the nodes answer SIGINT and SIGTERM as usual.
pub fn unblock_in_child() -> std::io::Result<()> {
    signals().thread_unblock().map_err(std::io::Error::from)
}

impl Interrupts {
    /// Blocks SIGINT and SIGTERM in this thread (threads started later inherit the mask) and
    /// starts the watcher. Call before starting any other thread.
    pub fn install() -> std::io::Result<Interrupts> {
        signals().thread_block().map_err(std::io::Error::from)?;
        let interrupts = Interrupts {
            registered: Arc::default(),
        };
        let watcher = interrupts.clone();
        // Real mode: a thread that only waits for a signal; no simulation runs here.
        #[allow(clippy::disallowed_methods)]
        std::thread::Builder::new()
            .name("faultline-signals".into())
            .spawn(move || {
                let Ok(signal) = signals().wait() else {
                    return;
                };
                eprintln!("faultline: {signal}: stopping the nodes and removing their files");
                watcher.clean_up();
                std::process::exit(128 + signal as i32);
            })?;
        Ok(interrupts)
    }

    /// Kills `group` (with SIGKILL) on a signal.
    pub fn kill_group_on_signal(&self, group: u32) {
        let mut registered = self.registered.lock().unwrap_or_else(|p| p.into_inner());
        assert!(registered.groups.len() < REGISTERED_MAX);
        registered.groups.push(Pid::from_raw(group as i32));
    }

    /// Runs `hook` on a signal, before the groups are killed and the directories removed.
    pub fn run_on_signal(&self, hook: fn()) {
        let mut registered = self.registered.lock().unwrap_or_else(|p| p.into_inner());
        assert!(registered.hooks.len() < REGISTERED_MAX);
        registered.hooks.push(hook);
    }

    /// Removes `dir` (recursively) on a signal, after the groups are killed.
    pub fn remove_dir_on_signal(&self, dir: PathBuf) {
        let mut registered = self.registered.lock().unwrap_or_else(|p| p.into_inner());
        assert!(registered.dirs.len() < REGISTERED_MAX);
        registered.dirs.push(dir);
    }

    fn clean_up(&self) {
        let registered = self.registered.lock().unwrap_or_else(|p| p.into_inner());
        for hook in &registered.hooks {
            hook();
        }
        for group in &registered.groups {
            // ESRCH: the group is gone already.
            let _ = killpg(*group, Signal::SIGKILL);
        }
        for dir in &registered.dirs {
            // A killed node may still hold a file open for a moment; unlinking works anyway.
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
