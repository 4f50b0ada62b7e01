//! A simulated cluster for tests: one coordinator and N brokers as turmoil hosts (each restarts
//! from its disk when bounced), a registry through which a test can look inside a broker, and a
//! helper to run the simulation while the test's clients crash or bounce hosts on request.

use engine::broker::{Broker, BrokerOptions};
use engine::client::{ClusterClient, ClusterClientOptions};
use engine::coordinator::{Coordinator, CoordinatorOptions};
use engine::env::{derive_seed, DiskFaults, Env, EnvOptions, Mode, Net, NodeAddr};
use engine::storage::{FsyncPolicy, LogOptions};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

pub const COORDINATOR_PORT: u16 = 2181;
pub const BROKER_PORT: u16 = 9092;
/// Bound on simulation steps (1 ms each).
pub const STEPS_MAX: u64 = 600_000;

pub fn broker_name(id: u32) -> String {
    format!("broker-{id}")
}

/// Requests from inside the simulation to the driver, which alone can crash hosts.
#[derive(Default)]
pub struct Control {
    pub crash: Vec<String>,
    pub bounce: Vec<String>,
}

pub struct SimCluster {
    pub sim: turmoil::Sim<'static>,
    pub control: Rc<RefCell<Control>>,
    #[allow(dead_code)] // for disk-fault tests
    pub faults: BTreeMap<String, DiskFaults>,
}

pub struct ClusterSpec {
    pub seed: u64,
    pub brokers: u32,
    pub fsync: FsyncPolicy,
    pub torn_block_bytes: Option<u64>,
}

/// Changes a broker's options before it starts (applied on every start, restarts included).
pub type BrokerTweak = Rc<dyn Fn(&mut BrokerOptions)>;

impl SimCluster {
    pub fn new(spec: ClusterSpec) -> SimCluster {
        SimCluster::with_broker_options(spec, Rc::new(|_| {}))
    }

    pub fn with_broker_options(spec: ClusterSpec, tweak: BrokerTweak) -> SimCluster {
        let mut builder = turmoil::Builder::new();
        builder
            .rng_seed(spec.seed)
            .simulation_duration(Duration::from_millis(STEPS_MAX))
            .min_message_latency(Duration::from_millis(1))
            .max_message_latency(Duration::from_millis(3))
            .tcp_capacity(65_536);
        if let Some(block) = spec.torn_block_bytes {
            builder.fs().block_size(block);
        }
        let mut sim = builder.build();
        let mut faults = BTreeMap::new();
        let coordinator_faults = DiskFaults::new();
        faults.insert("coordinator".to_string(), coordinator_faults.clone());
        sim.host("coordinator", move || {
            let faults = coordinator_faults.clone();
            async move {
                let env = Env::open(EnvOptions {
                    mode: Mode::Sim,
                    data_dir: PathBuf::from("/data"),
                    seed: derive_seed(spec.seed, "coordinator"),
                    disk_faults: faults,
                })?;
                let options = CoordinatorOptions::new(NodeAddr::new("0.0.0.0", COORDINATOR_PORT));
                Coordinator::start(&env, options).await?.serve().await;
                Ok(())
            }
        });
        for id in 1..=spec.brokers {
            let name = broker_name(id);
            let disk_faults = DiskFaults::new();
            faults.insert(name.clone(), disk_faults.clone());
            let fsync = spec.fsync;
            let tweak = tweak.clone();
            sim.host(name.as_str(), move || {
                let tweak = tweak.clone();
                let (faults, name) = (disk_faults.clone(), broker_name(id));
                async move {
                    let env = Env::open(EnvOptions {
                        mode: Mode::Sim,
                        data_dir: PathBuf::from("/data"),
                        seed: derive_seed(spec.seed, &name),
                        disk_faults: faults,
                    })?;
                    let mut options = BrokerOptions::new(
                        id,
                        NodeAddr::new("0.0.0.0", BROKER_PORT),
                        NodeAddr::new(name.clone(), BROKER_PORT),
                        NodeAddr::new("coordinator", COORDINATOR_PORT),
                    );
                    options.log = LogOptions {
                        segment_bytes_max: 64 * 1024,
                        fsync,
                    };
                    tweak(&mut options);
                    let broker = Broker::start(&env, options).await?;
                    broker.serve().await;
                    Ok(())
                }
            });
        }
        SimCluster {
            sim,
            control: Rc::new(RefCell::new(Control::default())),
            faults,
        }
    }

    /// Steps until every client finished, obeying crash/bounce requests. Panics past the bound.
    pub fn run(&mut self) {
        for _ in 0..STEPS_MAX {
            let (crash, bounce) = {
                let mut control = self.control.borrow_mut();
                (
                    std::mem::take(&mut control.crash),
                    std::mem::take(&mut control.bounce),
                )
            };
            for host in crash {
                self.sim.crash(host.as_str());
            }
            for host in bounce {
                self.sim.bounce(host.as_str());
            }
            if self.sim.step().expect("simulation step") {
                return;
            }
        }
        panic!("the simulation did not finish within {STEPS_MAX} steps");
    }
}

pub fn bootstrap(brokers: u32) -> Vec<NodeAddr> {
    (1..=brokers)
        .map(|id| NodeAddr::new(broker_name(id), BROKER_PORT))
        .collect()
}

pub fn cluster_client(brokers: u32) -> ClusterClient {
    ClusterClient::new(
        Net::Sim,
        bootstrap(brokers),
        ClusterClientOptions::default(),
    )
}
