//! Real mode (design.md §13): the same scenario, history, checks and reports, played against
//! real processes on this machine with real faults. Not deterministic, but faithful: the
//! servers are the system's own binaries in network namespaces of ours, their data on our FUSE
//! file system; the workload's clients and the conductor are the same code as in simulation,
//! on a single-threaded tokio runtime with the wall clock.
//!
//! Everything a run makes — namespaces, the bridge, firewall rules (inside the namespaces),
//! mounts, processes — is removed when it ends, on error, and on SIGINT/SIGTERM (the signal
//! watcher runs [`cleanup_after_signal`]); a run killed with SIGKILL leaves its namespaces to
//! the next run's sweep (its servers die with it: `PR_SET_PDEATHSIG`).

pub mod corruption;
pub mod disks;
pub mod fabric;
pub mod firewall;
pub mod preflight;
pub mod proxy;
pub mod servers;
pub mod shell;
pub mod testbed;

use crate::run::context::{self, Mode, RunContext, RunContextOptions};
use crate::run::{orchestrator, simlog, SimError, SimOutcome};
use crate::scenario::{FaultSchedule, Scenario};
use crate::systems::{self, ServerSettings};
use fabric::{Clients, DataFile, RealFabric, World};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

/// Real time a run may take beyond its workload and recovery (setup, drain) before it is cut.
const SLACK: Duration = Duration::from_secs(120);

/// How to run a real-mode run beyond (scenario, seed, schedule).
#[derive(Clone, Debug, Default)]
pub struct RealOptions {
    pub log_filter: Option<String>,
    /// Planted bugs, by name, passed to the servers that know them.
    pub bugs: Vec<String>,
}

/// This process's scratch directory for real runs (data, mounts, control sockets, logs).
pub fn scratch_root() -> PathBuf {
    std::env::temp_dir().join(format!("faultline-real-{}", std::process::id()))
}

/// What the signal watcher does before we exit: unmount, remove the network, remove the files.
/// The servers die with us (`PR_SET_PDEATHSIG`).
pub fn cleanup_after_signal() {
    let root = scratch_root();
    for mountpoint in disks::mounts_under(&root) {
        disks::unmount(&mountpoint);
    }
    testbed::remove_leftovers(std::process::id());
    let _ = std::fs::remove_dir_all(&root);
}

/// Everything of this process's real runs that still exists: namespaces, links and mounts
/// (empty after every run; the tests check it).
pub fn leftovers() -> Vec<String> {
    let mut found = testbed::leftovers(std::process::id());
    found.extend(
        disks::mounts_under(&scratch_root())
            .into_iter()
            .map(|m| format!("mount {}", m.display())),
    );
    found
}

/// Plays (scenario, schedule) against real processes and returns the history.
pub fn run(
    scenario: &Scenario,
    seed: u64,
    schedule: FaultSchedule,
    options: &RealOptions,
) -> Result<SimOutcome, SimError> {
    let faultfs =
        preflight::machine(&schedule).map_err(|e| SimError::Unsupported(e.to_string()))?;
    preflight::scenario(scenario, &schedule).map_err(|e| SimError::Unsupported(e.to_string()))?;
    testbed::sweep_stale();
    let buffer = simlog::LogBuffer::default();
    let dir = scratch_root().join(format!("{}-{seed}", scenario.name));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| SimError::Setup(e.to_string()))?;
    let outcome = simlog::capture(&buffer, options.log_filter.as_deref(), || {
        run_inner(scenario, seed, schedule, options, &dir, faultfs)
    });
    let mut log = buffer.take();
    append_server_logs(&mut log, &dir.join("logs"));
    let _ = std::fs::remove_dir_all(&dir);
    // Only removed when empty: another run of this process may be using it.
    let _ = std::fs::remove_dir(scratch_root());
    let mut outcome = outcome?;
    outcome.log = log;
    let left = leftovers();
    if !left.is_empty() {
        return Err(SimError::Setup(format!(
            "the run left things behind: {}",
            left.join(", ")
        )));
    }
    Ok(outcome)
}

/// Each server's own log (stderr, across restarts) after the run's, under a header: in real
/// mode the node events (elections, epochs, truncations) are in the servers' processes.
fn append_server_logs(log: &mut Vec<u8>, logs: &Path) {
    let Ok(entries) = std::fs::read_dir(logs) else {
        return;
    };
    let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    files.sort();
    for file in files {
        let host = file.file_stem().unwrap_or_default().to_string_lossy();
        log.extend_from_slice(format!("\n==== {host} (its own log) ====\n").as_bytes());
        if let Ok(text) = std::fs::read(&file) {
            log.extend_from_slice(&text);
        }
    }
}

/// A proxy's latency draws: from the run's seed and the server's place, so a real run's
/// delays are the same for the same seed (the interleaving still is not).
fn proxy_seed(seed: u64, index: usize) -> u64 {
    seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ index as u64
}

fn build_world(
    seed: u64,
    scenario: &Scenario,
    system: &Rc<dyn systems::System>,
    options: &RealOptions,
    dir: &Path,
    faultfs: Option<PathBuf>,
) -> Result<World, SimError> {
    let setup = |e: &dyn std::fmt::Display| SimError::Setup(e.to_string());
    let hosts = system.server_hosts(scenario);
    let testbed = testbed::Testbed::create(&hosts).map_err(|e| setup(&e))?;
    let mut disks = faultfs.map(disks::Disks::new);
    for host in &hosts {
        let data = dir.join("data").join(host);
        match disks.as_mut() {
            Some(disks) => disks
                .mount(
                    host,
                    &dir.join("backing").join(host),
                    &data,
                    &dir.join(format!("{host}.sock")),
                )
                .map_err(|e| setup(&e))?,
            None => std::fs::create_dir_all(&data).map_err(|e| setup(&e))?,
        }
    }
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).map_err(|e| setup(&e))?;
    let settings = ServerSettings {
        addresses: &testbed,
        listen_host: "127.0.0.1",
        data_root: &dir.join("data"),
        bugs: &options.bugs,
    };
    let commands = system.server_commands(scenario, &settings);
    let conditions = proxy::SharedConditions::default();
    conditions
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .latency_ms = scenario.network.latency_ms;
    let mut proxies = Vec::new();
    for (i, command) in commands.iter().enumerate() {
        let ip: std::net::IpAddr = testbed.ip(&command.host).parse().map_err(|e| setup(&e))?;
        let routes = command
            .ports
            .iter()
            .map(|port| proxy::Route {
                public: (ip, *port).into(),
                private: (std::net::Ipv4Addr::LOCALHOST, *port).into(),
            })
            .collect();
        let namespace = Some(testbed.namespace(&command.host));
        let seed = proxy_seed(seed, i);
        proxies.push(
            proxy::Proxy::start(namespace, routes, conditions.clone(), seed)
                .map_err(|e| setup(&e))?,
        );
    }
    let commands = commands
        .into_iter()
        .map(|command| (testbed.namespace(&command.host), command))
        .collect();
    let mut servers = servers::Servers::new(commands, logs);
    for host in &hosts {
        servers.start(host, true).map_err(|e| setup(&e))?;
    }
    Ok(World {
        clients: Clients::new(&scenario.workload.client_roles(), system.clone()),
        data_file: DataFile {
            under: system.data_file_dir(),
            suffix: system.data_file_suffix(),
        },
        servers,
        proxies,
        conditions,
        disks,
        firewall: firewall::Firewall::default(),
        testbed,
        data_root: dir.join("data"),
    })
}

fn run_inner(
    scenario: &Scenario,
    seed: u64,
    schedule: FaultSchedule,
    options: &RealOptions,
    dir: &Path,
    faultfs: Option<PathBuf>,
) -> Result<SimOutcome, SimError> {
    let system: Rc<dyn systems::System> = Rc::from(systems::for_scenario(scenario));
    let world = build_world(seed, scenario, &system, options, dir, faultfs)?;
    let mut addresses = world.testbed.addresses();
    for (i, _) in scenario.workload.client_roles().iter().enumerate() {
        let host = context::client_host(i as u32 + 1);
        addresses.insert(host, world.testbed.client_ip());
    }
    let hosts = system.server_hosts(scenario);
    let fabric = Rc::new(RealFabric::new(world, hosts));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| SimError::Setup(e.to_string()))?;
    let limit = Duration::from_millis(scenario.workload.duration_ms + scenario.recovery_ms) + SLACK;
    let local = tokio::task::LocalSet::new();
    let ctx = Rc::new(RunContext::new(RunContextOptions {
        scenario: scenario.clone(),
        seed,
        mode: Mode::Real,
        fabric: fabric.clone(),
        addresses,
    }));
    fabric.attach(&ctx);
    context::start_real_clock();
    let conducted = local.block_on(&runtime, async {
        fabric.world().clients.start_all(&ctx);
        tokio::time::timeout(
            limit,
            orchestrator::run(ctx.clone(), system.clone(), schedule.clone()),
        )
        .await
    });
    fabric.world().teardown();
    drop(local);
    drop(runtime);
    let seconds = context::now_ns() as f64 / 1e9;
    match conducted {
        Err(_) => return Err(SimError::Timeout(limit)),
        Ok(Err(error)) => return Err(SimError::Setup(error.to_string())),
        Ok(Ok(())) => {}
    }
    let faults = ctx.faults_started.get();
    drop((fabric, system));
    let ctx = Rc::try_unwrap(ctx)
        .map_err(|_| SimError::Sim("the run's context is still shared".into()))?;
    Ok(SimOutcome {
        ops: ctx.recorder.into_inner().into_ops(),
        schedule,
        sim_seconds: seconds,
        faults,
        log: Vec::new(),
        // The nodes are other processes: their events stay in their own logs.
        node_events: None,
    })
}
