//! `faultfs`: mount the power-loss file system in the foreground, or send it a control command.
//!
//!   faultfs mount <backing-dir> <mountpoint> --control <socket> [--seed N]
//!                 [--pending-bytes-max N] [--sync-backing]
//!   faultfs ctl <socket> <command...>
//!
//! The mount ends (and unmounts) on SIGINT, SIGTERM or SIGHUP, or when someone unmounts it.

use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use fuser::{Config, MountOption, Session};
use nix::sys::signal::{SigSet, Signal};

use faultfs::control;
use faultfs::fs::FaultFs;
use faultfs::model::PENDING_BYTES_MAX_DEFAULT;
use faultfs::state::{Options, State};

#[derive(Parser)]
#[command(
    name = "faultfs",
    about = "A FUSE file system that loses unsynced writes on command"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Mount <backing-dir> at <mountpoint> and serve until unmounted or signalled.
    Mount {
        backing: PathBuf,
        mountpoint: PathBuf,
        /// Unix socket for control commands (created; a stale socket there is replaced).
        #[arg(long)]
        control: PathBuf,
        /// Seed of the torn-write cut points.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Unsynced bytes held in memory before the largest dirty file is written back.
        #[arg(long, default_value_t = PENDING_BYTES_MAX_DEFAULT)]
        pending_bytes_max: u64,
        /// Also fsync the backing directory's files when they become durable (slower; only
        /// useful if the host itself may lose power during the test).
        #[arg(long)]
        sync_backing: bool,
    },
    /// Send one command (e.g. `power-loss`, `fsync-eio on '*.log'`) and print the reply.
    Ctl {
        socket: PathBuf,
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Mount {
            backing,
            mountpoint,
            control,
            seed,
            pending_bytes_max,
            sync_backing,
        } => {
            let options = Options {
                seed,
                pending_bytes_max,
                sync_backing,
            };
            mount(&backing, &mountpoint, &control, options).map(|()| ExitCode::SUCCESS)
        }
        Command::Ctl { socket, command } => ctl(&socket, &command.join(" ")),
    };
    result.unwrap_or_else(|error| {
        eprintln!("faultfs: error: {error:#}");
        ExitCode::from(2)
    })
}

fn ctl(socket: &Path, line: &str) -> anyhow::Result<ExitCode> {
    let reply = control::request(socket, line).with_context(|| format!("sending {line:?}"))?;
    println!("{reply}");
    Ok(if reply.starts_with("ok") {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn mount(backing: &Path, mountpoint: &Path, socket: &Path, options: Options) -> anyhow::Result<()> {
    if !mountpoint.is_dir() {
        bail!(
            "mountpoint {} is not a directory (create it first)",
            mountpoint.display()
        );
    }
    let state = State::open(backing, options)?;
    let state = Arc::new(Mutex::new(state));
    if let Ok(meta) = std::fs::symlink_metadata(socket) {
        if !meta.file_type().is_socket() {
            bail!(
                "control path {} exists and is not a socket; remove it or pick another",
                socket.display()
            );
        }
        std::fs::remove_file(socket)
            .with_context(|| format!("removing stale socket {}", socket.display()))?;
    }
    let listener = UnixListener::bind(socket)
        .with_context(|| format!("binding control socket {}", socket.display()))?;

    // Block the stop signals before any thread starts, so only the waiter below receives them.
    let mut stop = SigSet::empty();
    for signal in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        stop.add(signal);
    }
    stop.thread_block().context("blocking stop signals")?;

    // Real mode runs outside the simulation: threads and the wall clock are fine here.
    #[allow(clippy::disallowed_methods)]
    let mounted_at = std::time::SystemTime::now();
    let control_state = Arc::clone(&state);
    #[allow(clippy::disallowed_methods)]
    std::thread::spawn(move || control::serve(listener, control_state));

    let mut config = Config::default();
    config.mount_options = vec![
        MountOption::FSName("faultfs".into()),
        MountOption::Subtype("faultfs".into()),
        MountOption::DefaultPermissions,
    ];
    let mut session = Session::new(FaultFs::new(state, mounted_at), mountpoint, &config)
        .with_context(|| {
            format!(
            "mounting {} (needs root or fusermount3, and /dev/fuse; run ci/install-real-deps.sh)",
            mountpoint.display()
        )
        })?;
    let mut unmounter = session.unmount_callable();
    #[allow(clippy::disallowed_methods)]
    std::thread::spawn(move || {
        if let Ok(signal) = stop.wait() {
            eprintln!("faultfs: {signal}, unmounting");
            if let Err(error) = unmounter.unmount() {
                eprintln!("faultfs: unmount failed: {error} (try: fusermount3 -u -z <mountpoint>)");
            }
        }
    });
    eprintln!(
        "faultfs: mounted {} at {}, control socket {}",
        backing.display(),
        mountpoint.display(),
        socket.display()
    );
    let served = session.run().context("serving FUSE requests");
    let _ = std::fs::remove_file(socket);
    eprintln!("faultfs: unmounted {}", mountpoint.display());
    served
}
