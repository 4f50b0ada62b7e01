//! What the clients of one run share: the history recorder, the run's phase, the system under
//! test and the fabric the nemesis acts through, fresh values and process ids. Everything here
//! lives on the run's single thread (the simulation's, or real mode's current-thread runtime),
//! so `Rc` and `RefCell` suffice and no lock can reorder anything.

use crate::history::{OpType, Process, Recorder, F};
use crate::run::fabric::Fabric;
use crate::scenario::Scenario;
use crate::systems::System;
use serde_json::Value;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Successful workload ops after the heal that show the cluster recovered: clients stop once
/// there are this many, and the conductor stops waiting for recovery.
pub const OKS_AFTER_HEAL_ENOUGH: u64 = 20;

/// Where a run happens (design.md §13).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// In turmoil: deterministic, a pure function of (scenario, seed, code).
    Sim,
    /// Real processes, sockets and signals on this machine: faithful, not deterministic.
    Real,
}

impl Mode {
    pub fn as_str(&self) -> &'static str {
        match self {
            Mode::Sim => "sim",
            Mode::Real => "real",
        }
    }
}

pub fn client_host(n: u32) -> String {
    format!("client-{n}")
}

/// The phases of a run (design.md section 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    /// Topics are created and leaders elected; nothing is recorded.
    Setup,
    /// The workload runs and the nemesis injects faults.
    Faulty,
    /// Every fault was lifted; the workload keeps going to show the cluster recovered.
    Healing,
    /// The workload stopped; fresh readers read every partition to its end.
    Drain,
    Done,
}

pub struct RunContext {
    pub scenario: Scenario,
    pub seed: u64,
    pub recorder: RefCell<Recorder>,
    pub phase: Cell<Phase>,
    pub mode: Mode,
    pub system: Rc<dyn System>,
    pub fabric: Rc<dyn Fabric>,
    /// Real mode: each host's IPv4 address. Empty in simulation, where hosts are their names.
    pub addresses: BTreeMap<String, String>,
    value_next: Cell<i64>,
    process_next: Cell<u64>,
    /// Workload clients that stopped for the drain, by client number.
    clients_done: RefCell<std::collections::BTreeSet<u32>>,
    clients: u32,
    /// Incarnations started per client (a crashed client restarts as a new process).
    incarnations: RefCell<BTreeMap<u32, u32>>,
    /// Successful workload ops since the heal.
    pub ok_after_heal: Cell<u64>,
    pub faults_started: Cell<u64>,
    /// When the faulty phase began (simulated ns): the origin of the workload's own clock
    /// (scale-out times, gateways' bursts).
    pub workload_started_ns: Cell<u64>,
    /// Planted bugs of this run (the clients' share of them).
    pub bugs: Cell<engine::bugs::Bugs>,
    /// The run's node-event buffer (clients record the producer ids they get); off in real
    /// mode, where the nodes are other processes.
    pub node_events: RefCell<engine::env::NodeEvents>,
    /// What became of each stamped send: (stamping producer, key, sequence) -> outcome. The
    /// consumers' loss detector reports a gap only if an acknowledged send is missing from it.
    pub stamps: RefCell<BTreeMap<(u64, String, u64), StampOutcome>>,
    /// Each consumer group's business state (the "database" the consumers apply to; it
    /// outlives consumer crashes).
    pub business: RefCell<BTreeMap<String, GroupState>>,
    /// Each transactional producer's local transaction records, reported at its end.
    pub txn_local: RefCell<BTreeMap<String, crate::history::Local>>,
}

/// What a run's context is made of.
pub struct RunContextOptions {
    pub scenario: Scenario,
    pub seed: u64,
    pub mode: Mode,
    pub system: Rc<dyn System>,
    pub fabric: Rc<dyn Fabric>,
    pub addresses: BTreeMap<String, String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StampOutcome {
    Pending,
    Acknowledged,
    NotWritten,
    Unknown,
}

/// One consumer group's applied effects and its idempotence bookkeeping.
#[derive(Clone, Debug, Default)]
pub struct GroupState {
    /// key -> values applied, in order, repeats kept.
    pub applied: BTreeMap<String, Vec<i64>>,
    /// Message ids already applied (unique-key, record-and-check).
    pub seen: std::collections::BTreeSet<i64>,
    /// key -> next offset a versioned apply accepts.
    pub versions: BTreeMap<String, u64>,
}

thread_local! {
    /// Real mode's origin of time; unset in simulation, where turmoil keeps the time.
    static REAL_ORIGIN: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Starts real mode's clock on this thread (the one that runs the whole real run).
pub fn start_real_clock() {
    // Real mode only (never called under turmoil): the wall clock is the run's clock there.
    #[allow(clippy::disallowed_methods)]
    REAL_ORIGIN.with(|origin| origin.set(Some(Instant::now())));
}

/// Nanoseconds since the run began: simulated time in simulation, the monotonic clock in real
/// mode (design.md §13 allows it there: a real run is faithful, not deterministic).
pub fn now_ns() -> u64 {
    if let Some(elapsed) = turmoil::sim_elapsed() {
        return elapsed.as_nanos() as u64;
    }
    REAL_ORIGIN.with(|origin| {
        origin
            .get()
            .map_or(0, |origin| origin.elapsed().as_nanos() as u64)
    })
}

impl RunContext {
    pub fn new(options: RunContextOptions) -> RunContext {
        let RunContextOptions {
            scenario,
            seed,
            mode,
            system,
            fabric,
            addresses,
        } = options;
        let clients = scenario.workload.client_roles().len() as u32;
        RunContext {
            scenario,
            seed,
            recorder: RefCell::new(Recorder::new()),
            phase: Cell::new(Phase::Setup),
            mode,
            system,
            fabric,
            addresses,
            value_next: Cell::new(1),
            // Processes 1..=clients are the clients' first identities; fresh ones follow.
            process_next: Cell::new(u64::from(clients) + 1),
            clients_done: RefCell::new(std::collections::BTreeSet::new()),
            clients,
            incarnations: RefCell::new(BTreeMap::new()),
            ok_after_heal: Cell::new(0),
            faults_started: Cell::new(0),
            workload_started_ns: Cell::new(0),
            bugs: Cell::new(engine::bugs::Bugs::none()),
            node_events: RefCell::new(engine::env::NodeEvents::off()),
            stamps: RefCell::new(BTreeMap::new()),
            business: RefCell::new(BTreeMap::new()),
            txn_local: RefCell::new(BTreeMap::new()),
        }
    }

    /// A value no other send of this run uses.
    pub fn fresh_value(&self) -> i64 {
        let value = self.value_next.get();
        self.value_next.set(value + 1);
        value
    }

    /// A process id never used before (after an `info`, a client continues as a new process).
    pub fn fresh_process(&self) -> u64 {
        let process = self.process_next.get();
        self.process_next.set(process + 1);
        process
    }

    /// The process id for a client's new incarnation: its number the first time, fresh after.
    pub fn fresh_process_for_incarnation(&self, client: u32) -> u64 {
        let mut incarnations = self.incarnations.borrow_mut();
        let count = incarnations.entry(client).or_insert(0);
        *count += 1;
        if *count == 1 {
            u64::from(client)
        } else {
            drop(incarnations);
            self.fresh_process()
        }
    }

    pub fn client_done(&self, client: u32) {
        self.clients_done.borrow_mut().insert(client);
    }

    pub fn all_clients_done(&self) -> bool {
        self.clients_done.borrow().len() as u32 >= self.clients
    }

    /// Where clients reach `host`: its address in real mode, its name in simulation.
    pub fn address_of(&self, host: &str) -> String {
        self.addresses
            .get(host)
            .cloned()
            .unwrap_or_else(|| host.to_owned())
    }

    /// The time to stamp on the next op. Hosts run one after another inside a simulation step,
    /// and a host's clock moves through the tick while it runs (a timer due mid-tick fires at
    /// its own instant), so the next host can read a time up to one tick earlier than an op
    /// already recorded. The history keeps the order in which things happened and never goes
    /// back in time: each op is stamped with the later of the two, at most a tick late.
    pub fn stamp_ns(&self) -> u64 {
        now_ns().max(self.recorder.borrow().time_last())
    }

    pub fn invoke(&self, process: u64, f: F, value: Value) {
        let time = self.stamp_ns();
        self.recorder.borrow_mut().invoke(time, process, f, value);
    }

    pub fn complete(&self, process: u64, kind: OpType, f: F, value: Value) {
        if kind == OpType::Ok && self.phase.get() == Phase::Healing {
            self.ok_after_heal.set(self.ok_after_heal.get() + 1);
        }
        let time = self.stamp_ns();
        self.recorder
            .borrow_mut()
            .complete(time, process, kind, f, value);
    }

    pub fn nemesis(&self, f: F, value: Value) {
        let time = self.stamp_ns();
        self.recorder.borrow_mut().nemesis(time, f, value);
    }

    pub fn event(&self, process: Process, kind: OpType, f: F, value: Value) {
        let time = self.stamp_ns();
        self.recorder
            .borrow_mut()
            .event(time, process, kind, f, value);
    }

    /// Milliseconds since the faulty phase began.
    pub fn workload_elapsed_ms(&self) -> u64 {
        now_ns().saturating_sub(self.workload_started_ns.get()) / 1_000_000
    }

    /// Waits until the faulty phase begins.
    pub async fn until_workload_starts(&self) {
        while self.phase.get() == Phase::Setup {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Whether a client should stop after the heal: it has shown the cluster recovered.
    pub fn recovered_enough(&self) -> bool {
        self.phase.get() == Phase::Healing && self.ok_after_heal.get() >= OKS_AFTER_HEAL_ENOUGH
    }

    /// Whether the workload should start another op.
    pub fn workload_running(&self) -> bool {
        matches!(self.phase.get(), Phase::Faulty | Phase::Healing)
    }
}
