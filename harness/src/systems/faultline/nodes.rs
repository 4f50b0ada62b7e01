//! The cluster's hosts: the coordinator and the brokers. In simulation each is a turmoil host
//! that recovers from its disk whenever it is (re)started, with per-node disk-fault switches,
//! and every node's seed is derived from the run's seed and the node's name; in real mode each
//! is a `faultline serve` process.

use crate::run::context::{Mode, RunContext};
use crate::scenario::Scenario;
use crate::systems::faultline::engine_terms;
use crate::systems::{Readiness, ServerCommand, ServerSettings};
use engine::broker::{Broker, BrokerOptions};
use engine::bugs::Bugs;
use engine::coordinator::{Coordinator, CoordinatorOptions};
use engine::env::{
    derive_seed, DiskFaults, Env, EnvOptions, Mode as EnvMode, Net, NodeAddr, NodeEvents,
};
use engine::storage::LogOptions;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

pub const COORDINATOR: &str = "coordinator";
pub const COORDINATOR_PORT: u16 = 2181;
pub const BROKER_PORT: u16 = 9092;
/// The first line `faultline serve` prints once it accepts connections.
const LISTENING: &str = "listening on ";
/// A node that cannot open its data (e.g. a disk fault at start) tries again after this.
const START_RETRY: Duration = Duration::from_millis(500);
/// Start attempts per incarnation before the host gives up (and stays down until bounced).
const START_ATTEMPTS_MAX: u32 = 120;
const SEGMENT_BYTES: u64 = 256 * 1024;

pub fn broker_host(id: u32) -> String {
    format!("broker-{id}")
}

/// Every server host name, coordinator first.
pub fn server_hosts(scenario: &Scenario) -> Vec<String> {
    let mut hosts = vec![COORDINATOR.to_string()];
    hosts.extend((1..=scenario.cluster.brokers).map(broker_host));
    hosts
}

/// The brokers as clients reach them in this run.
pub fn bootstrap(ctx: &RunContext) -> Vec<NodeAddr> {
    (1..=ctx.scenario.cluster.brokers)
        .map(|id| NodeAddr::new(ctx.address_of(&broker_host(id)), BROKER_PORT))
        .collect()
}

/// The sockets clients use in this run.
pub fn net(ctx: &RunContext) -> Net {
    match ctx.mode {
        Mode::Sim => Net::Sim,
        Mode::Real => Net::Real,
    }
}

/// Every server as a `faultline serve` process (real mode), coordinator first.
pub fn server_commands(
    scenario: &Scenario,
    settings: &ServerSettings<'_>,
    program: &std::path::Path,
) -> Vec<ServerCommand> {
    let (addresses, data_root) = (settings.addresses, settings.data_root);
    let coordinator = format!("{}:{COORDINATOR_PORT}", addresses.ip(COORDINATOR));
    let listen = |port: u16| format!("{}:{port}", settings.listen_host);
    let data = |host: &str| data_root.join(host).display().to_string();
    let mut commands = vec![ServerCommand {
        host: COORDINATOR.to_owned(),
        program: program.to_owned(),
        args: vec![
            "serve".into(),
            "coordinator".into(),
            "--listen".into(),
            listen(COORDINATOR_PORT),
            "--data".into(),
            data(COORDINATOR),
        ],
        ports: vec![COORDINATOR_PORT],
        files: Vec::new(),
        ready: Readiness::FirstLine(LISTENING.to_owned()),
    }];
    for id in 1..=scenario.cluster.brokers {
        let host = broker_host(id);
        commands.push(ServerCommand {
            host: host.clone(),
            program: program.to_owned(),
            args: vec![
                "serve".into(),
                "broker".into(),
                "--id".into(),
                id.to_string(),
                "--listen".into(),
                listen(BROKER_PORT),
                "--advertise".into(),
                format!("{}:{BROKER_PORT}", addresses.ip(&host)),
                "--coordinator".into(),
                coordinator.clone(),
                "--data".into(),
                data(&host),
                "--fsync".into(),
                engine_terms::fsync_policy(scenario.cluster.broker.fsync).to_string(),
            ]
            .into_iter()
            .chain(
                settings
                    .bugs
                    .iter()
                    .flat_map(|bug| ["--bug".into(), bug.clone()]),
            )
            .collect(),
            ports: vec![BROKER_PORT],
            files: Vec::new(),
            ready: Readiness::FirstLine(LISTENING.to_owned()),
        });
    }
    commands
}

pub fn coordinator_addr() -> NodeAddr {
    NodeAddr::new(COORDINATOR, COORDINATOR_PORT)
}

/// Disk-fault switches for every server, created before the hosts so the nemesis can reach
/// them across restarts. Each is also the server's machine: its page cache outlives a clean
/// restart, and its power losses draw crash states from a seed derived from the run's.
pub fn disk_faults(scenario: &Scenario, seed: u64) -> BTreeMap<String, DiskFaults> {
    server_hosts(scenario)
        .into_iter()
        .map(|host| {
            let faults = DiskFaults::with_seed(derive_seed(seed, &format!("{host}/power")));
            (host, faults)
        })
        .collect()
}

fn env(host: &str, seed: u64, faults: DiskFaults) -> Result<Env, engine::env::DiskError> {
    Env::open(EnvOptions {
        mode: EnvMode::Sim,
        data_dir: PathBuf::from("/data"),
        seed: derive_seed(seed, host),
        disk_faults: faults,
    })
}

/// Registers the coordinator and broker hosts.
pub fn add_servers(
    sim: &mut turmoil::Sim<'_>,
    scenario: &Scenario,
    seed: u64,
    faults: &BTreeMap<String, DiskFaults>,
    bugs: Bugs,
    events: &NodeEvents,
) {
    let coordinator_faults = faults.get(COORDINATOR).cloned().unwrap_or_default();
    sim.host(COORDINATOR, move || {
        let faults = coordinator_faults.clone();
        async move {
            for _ in 0..START_ATTEMPTS_MAX {
                let started = match env(COORDINATOR, seed, faults.clone()) {
                    Ok(env) => {
                        let mut options =
                            CoordinatorOptions::new(NodeAddr::new("0.0.0.0", COORDINATOR_PORT));
                        options.bugs = bugs;
                        Coordinator::start(&env, options)
                            .await
                            .map_err(|e| e.to_string())
                    }
                    Err(error) => Err(error.to_string()),
                };
                match started {
                    Ok(coordinator) => {
                        coordinator.serve().await;
                        return Ok(());
                    }
                    Err(error) => {
                        tracing::warn!(%error, "coordinator cannot start; retrying");
                        tokio::time::sleep(START_RETRY).await;
                    }
                }
            }
            Ok(())
        }
    });
    let fsync = engine_terms::fsync_policy(scenario.cluster.broker.fsync);
    for id in 1..=scenario.cluster.brokers {
        let host = broker_host(id);
        let broker_faults = faults.get(&host).cloned().unwrap_or_default();
        let broker_events = events.for_node(&host);
        sim.host(host.as_str(), move || {
            let faults = broker_faults.clone();
            let events = broker_events.clone();
            let host = broker_host(id);
            async move {
                let env = loop {
                    match env(&host, seed, faults.clone()) {
                        Ok(env) => break env,
                        Err(error) => {
                            tracing::warn!(%error, "broker cannot open its disk; retrying");
                            tokio::time::sleep(START_RETRY).await;
                        }
                    }
                };
                let mut options = BrokerOptions::new(
                    id,
                    NodeAddr::new("0.0.0.0", BROKER_PORT),
                    NodeAddr::new(host.clone(), BROKER_PORT),
                    coordinator_addr(),
                );
                options.log = LogOptions {
                    segment_bytes_max: SEGMENT_BYTES,
                    fsync,
                };
                options.bugs = bugs;
                options.events = events;
                let broker = Broker::start(&env, options).await?;
                broker.serve().await;
                Ok(())
            }
        });
    }
}
