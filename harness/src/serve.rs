//! `faultline serve`: a real node on real TCP and a real disk — the same node code the
//! simulation runs, behind the real side of the env seam.

use crate::ServeNode;
use anyhow::Context;
use engine::coordinator::{Coordinator, CoordinatorOptions};
use engine::env::{DiskFaults, Env, EnvOptions, Mode, NodeAddr};
use std::io::Write;
use std::process::ExitCode;

pub fn run(node: ServeNode) -> anyhow::Result<ExitCode> {
    // Logs go to stderr; RUST_LOG overrides the default level.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
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
        }
    })
}
