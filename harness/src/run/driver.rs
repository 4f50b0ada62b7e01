//! The driver: builds the simulation for (scenario, seed), steps it, does what only it can do
//! (crash and restart hosts, change link loss and latency), and returns the recorded history.
//! A run is a pure function of (scenario, seed, code): every RNG derives from the seed, the
//! sim epoch is fixed, and nothing here reads a clock that influences the run.

use crate::history::Op;
use crate::run::context::{client_host, Mode, RunContext, RunContextOptions};
use crate::run::sim_fabric::{SimAction, SimFabric};
use crate::run::{orchestrator, simlog, swarm};
use crate::scenario::{FaultSchedule, Faults, Keyword, Scenario, SystemName};
use crate::systems::faultline::Bugs;
use crate::systems::faultline::Faultline;
use crate::systems::System;
use seeds::{derive_seed, rng_for};
use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, UNIX_EPOCH};

/// Simulated time a run may take beyond its workload, recovery and drain before it is cut.
const SLACK: Duration = Duration::from_secs(180);
/// The simulation's fixed epoch: 2023-11-14T22:13:20Z.
const EPOCH_SECS: u64 = 1_700_000_000;
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("the simulation failed: {0}")]
    Sim(String),
    #[error("{0}")]
    Setup(String),
    #[error("the run did not finish within {0:?} of simulated time")]
    Timeout(Duration),
    #[error("{0}")]
    Unsupported(String),
}

/// What a run produced.
pub struct SimOutcome {
    pub ops: Vec<Op>,
    pub schedule: FaultSchedule,
    pub sim_seconds: f64,
    pub faults: u64,
    pub log: Vec<u8>,
    /// What the nodes recorded of elections, truncations, ISR changes and producer ids, in
    /// simulated-time order; `None` when the run could not collect them (real mode).
    pub node_events: Option<NodeEventLog>,
}

/// The node events of one run and how many the buffer's bound dropped.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NodeEventLog {
    pub records: Vec<crate::systems::faultline::NodeEventRecord>,
    pub dropped: u64,
}

/// The schedule this run plays: the scenario's, or one drawn from the seed.
pub fn schedule_for(scenario: &Scenario, seed: u64) -> FaultSchedule {
    match &scenario.faults {
        Faults::None => FaultSchedule::default(),
        Faults::Schedule(schedule) => schedule.clone(),
        Faults::Random(random) => swarm::draw(random, scenario, &mut rng_for(seed, "swarm")),
    }
}

/// Runs (scenario, seed) with `schedule` and returns its history.
/// How to run a simulation beyond (scenario, seed, schedule).
#[derive(Clone, Debug, Default)]
pub struct SimOptions {
    /// `sim.log` filter (RUST_LOG syntax); `None`: the default.
    pub log_filter: Option<String>,
    /// Planted bugs to switch on in the nodes and clients.
    pub bugs: Bugs,
}

pub fn simulate(
    scenario: &Scenario,
    seed: u64,
    schedule: FaultSchedule,
    options: &SimOptions,
) -> Result<SimOutcome, SimError> {
    if scenario.system != SystemName::Faultline {
        return Err(SimError::Unsupported(format!(
            "system: {} runs real server processes, which the simulation cannot host: run it \
             with `faultline run --mode real` (as root)",
            scenario.system.as_str()
        )));
    }
    let corrupts = schedule.0.iter().any(|event| {
        matches!(
            event.fault,
            crate::scenario::Fault::Disk {
                fault: crate::scenario::DiskFault::TruncateFile
                    | crate::scenario::DiskFault::BitflipFile,
                ..
            }
        )
    });
    if corrupts {
        return Err(SimError::Unsupported(
            "truncate-file and bitflip-file damage a real server's files: run the scenario \
             with `faultline run --mode real`"
                .into(),
        ));
    }
    if scenario.cluster.coordinators > 1 {
        return Err(SimError::Unsupported(format!(
            "{} coordinators: the coordinator is a single node for now (use coordinators: 1)",
            scenario.cluster.coordinators
        )));
    }
    let buffer = simlog::LogBuffer::default();
    let outcome = simlog::capture(&buffer, options.log_filter.as_deref(), || {
        simulate_inner(scenario, seed, schedule, options.bugs)
    });
    outcome.map(|mut outcome| {
        outcome.log = buffer.take();
        outcome
    })
}

fn simulate_inner(
    scenario: &Scenario,
    seed: u64,
    schedule: FaultSchedule,
    bugs: Bugs,
) -> Result<SimOutcome, SimError> {
    let limit = Duration::from_millis(scenario.workload.duration_ms + scenario.recovery_ms) + SLACK;
    let mut builder = turmoil::Builder::new();
    builder
        .rng_seed(derive_seed(seed, "turmoil"))
        .epoch(UNIX_EPOCH + Duration::from_secs(EPOCH_SECS))
        .tick_duration(Duration::from_millis(scenario.network.tick_ms))
        .simulation_duration(limit)
        .min_message_latency(Duration::from_millis(scenario.network.latency_ms.0))
        .max_message_latency(Duration::from_millis(scenario.network.latency_ms.1))
        .fail_rate(scenario.network.loss)
        .tcp_capacity(1 << 16);
    // No turmoil torn writes: unsynced file data lives in each machine's page cache
    // (engine::env::page_cache), which draws its own crash states on a power loss.
    let mut sim = builder.build();
    let (system, disks): (Rc<dyn System>, _) = match scenario.system {
        SystemName::Faultline => {
            let faultline = Faultline::simulated(bugs);
            let disks = faultline.add_sim_servers(&mut sim, scenario, seed);
            (Rc::new(faultline), disks)
        }
        // Refused in `simulate`.
        SystemName::Nats => return Err(SimError::Unsupported("system: nats".into())),
    };
    let fabric = Rc::new(SimFabric::new(disks));
    let roles = scenario.workload.client_roles();
    let ctx = Rc::new(RunContext::new(RunContextOptions {
        scenario: scenario.clone(),
        seed,
        mode: Mode::Sim,
        fabric: fabric.clone(),
        addresses: Default::default(),
    }));
    for (i, role) in roles.iter().enumerate() {
        let client = i as u32 + 1;
        let (ctx, role, system) = (ctx.clone(), *role, system.clone());
        sim.host(client_host(client).as_str(), move || {
            let client_run = system.run_client(ctx.clone(), client, role);
            async move {
                client_run.await;
                Ok(())
            }
        });
    }
    let result: Rc<RefCell<Option<Result<(), String>>>> = Rc::new(RefCell::new(None));
    {
        let (ctx, result, schedule) = (ctx.clone(), result.clone(), schedule.clone());
        let system = system.clone();
        sim.client("nemesis", async move {
            let outcome = orchestrator::run(ctx, system, schedule)
                .await
                .map_err(|e| e.to_string());
            *result.borrow_mut() = Some(outcome);
            Ok(())
        });
    }
    let steps_max = (limit.as_millis() as u64).div_ceil(scenario.network.tick_ms);
    let mut finished = false;
    for _ in 0..steps_max {
        for action in fabric.take_actions() {
            match action {
                SimAction::Crash(host) => sim.crash(host.as_str()),
                SimAction::Bounce(host) => sim.bounce(host.as_str()),
                SimAction::FailRate(rate) => sim.set_fail_rate(rate),
                SimAction::MaxLatency(latency) => sim.set_max_message_latency(latency),
            }
        }
        match sim.step() {
            Ok(true) => {
                finished = true;
                break;
            }
            Ok(false) => {}
            Err(error) => return Err(SimError::Sim(error.to_string())),
        }
    }
    if !finished {
        return Err(SimError::Timeout(limit));
    }
    if let Some(Err(error)) = result.borrow_mut().take() {
        return Err(SimError::Setup(error));
    }
    let sim_seconds = sim.elapsed().as_secs_f64();
    let faults_started = ctx.faults_started.get();
    drop(sim);
    let node_events = system.node_events();
    drop((system, fabric));
    let ctx = Rc::try_unwrap(ctx)
        .map_err(|_| SimError::Sim("the run's context is still shared".into()))?;
    Ok(SimOutcome {
        ops: ctx.recorder.into_inner().into_ops(),
        schedule,
        sim_seconds,
        faults: faults_started,
        log: Vec::new(),
        node_events,
    })
}
