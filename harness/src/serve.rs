//! `faultline serve`: a real node on real TCP and a real disk — the same node code the
//! simulation runs, behind the real side of the env seam.

use crate::ServeNode;
use anyhow::Context;
use engine::broker::{Broker, BrokerOptions};
use engine::coordinator::{Coordinator, CoordinatorOptions};
use engine::env::{DiskFaults, Env, EnvOptions, Mode, NodeAddr};
use engine::storage::{FsyncPolicy, LogOptions};
use std::io::Write;
use std::process::ExitCode;

pub fn run(node: ServeNode) -> anyhow::Result<ExitCode> {
    // Logs go to stderr; RUST_LOG overrides the default level.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        // Colours only on a terminal: real mode appends a node's stderr to the run's sim.log.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;
    runtime.block_on(async move {
        match node {
            ServeNode::Coordinator { listen, data } => {
                let listen: NodeAddr = listen.parse()?;
                let env = Env::open(EnvOptions {
                    mode: Mode::Real,
                    data_dir: data.clone(),
                    seed: 0,
                    disk_faults: DiskFaults::new(),
                })
                .with_context(|| format!("cannot open data directory {}", data.display()))?;
                let coordinator =
                    Coordinator::start(&env, CoordinatorOptions::new(listen.clone())).await?;
                let port = coordinator.local_port()?;
                println!("listening on {}", NodeAddr::new(listen.host, port));
                std::io::stdout().flush()?;
                coordinator.serve().await;
                Ok(ExitCode::SUCCESS)
            }
            ServeNode::Broker {
                id,
                listen,
                advertise,
                coordinator,
                data,
                fsync,
                bugs,
            } => {
                anyhow::ensure!(id >= 1, "--id must be at least 1");
                let listen: NodeAddr = listen.parse()?;
                let advertised: NodeAddr = match advertise {
                    Some(advertise) => advertise.parse()?,
                    None => listen.clone(),
                };
                let fsync: FsyncPolicy = fsync.parse()?;
                let env = Env::open(EnvOptions {
                    mode: Mode::Real,
                    data_dir: data.clone(),
                    seed: u64::from(id),
                    disk_faults: DiskFaults::new(),
                })
                .with_context(|| format!("cannot open data directory {}", data.display()))?;
                let mut options =
                    BrokerOptions::new(id, listen.clone(), advertised, coordinator.parse()?);
                options.log = LogOptions {
                    fsync,
                    ..LogOptions::default()
                };
                for name in &bugs {
                    let bug = engine::bugs::Bug::parse(name).with_context(|| {
                        format!("unknown bug {name:?}: `faultline bugs` lists the planted bugs")
                    })?;
                    options.bugs = options.bugs.with(bug);
                }
                // Real networks and disks are slower than the simulation's defaults assume.
                options.session_timeout = std::time::Duration::from_secs(6);
                options.metadata_expiry = options.session_timeout;
                options.replica_lag_max = std::time::Duration::from_secs(10);
                options.request_timeout = std::time::Duration::from_secs(3);
                let broker = Broker::start(&env, options).await?;
                let port = broker.local_port()?;
                println!("listening on {}", NodeAddr::new(listen.host, port));
                std::io::stdout().flush()?;
                broker.serve().await;
                Ok(ExitCode::SUCCESS)
            }
        }
    })
}
