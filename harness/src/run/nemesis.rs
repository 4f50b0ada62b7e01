//! The nemesis: starts each fault of the schedule when it is due (resolving role targets at
//! that moment), lifts it when its duration ends, and lifts everything in the heal phase.
//! It decides what to do and records it; the fabric (`run::fabric`) does it, in simulation or
//! on real processes, and the system under test names the hosts a role target means. Every
//! start and stop is a nemesis op in the history.

use crate::history::F;
use crate::run::context::{client_host, Mode, RunContext};
use crate::run::fabric::{Corruption, DiskSwitch, Link, Unsynced};
use crate::scenario::fault_words;
use crate::scenario::{DiskFault, Fault, FaultEvent, PartitionShape, Target};
use crate::systems::Session;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde_json::json;
use std::time::Duration;

/// How to undo a started fault.
#[derive(Clone, Debug)]
enum Undo {
    Repair(Vec<Link>),
    RepairOneWay(Vec<Link>),
    /// Clogged hosts, and every other host of the run.
    Unclog(Vec<String>, Vec<String>),
    /// Paused hosts, and every other host of the run.
    Resume(Vec<String>, Vec<String>),
    Bounce(Vec<String>),
    Disk(Vec<String>, DiskSwitch),
    FailRate(f64),
    MaxLatency(Duration),
    Nothing,
}

/// A fault that is in force.
pub struct Active {
    name: &'static str,
    undo: Undo,
    /// Simulated ms since the faulty phase began at which it is lifted; `None`: at heal.
    pub until_ms: Option<u64>,
    nodes: Vec<String>,
}

pub struct Nemesis<'a> {
    ctx: &'a RunContext,
    rng: ChaCha8Rng,
    session: &'a mut dyn Session,
    /// Every server host, in the system's fixed order.
    server_hosts: Vec<String>,
    pub active: Vec<Active>,
}

/// What a nemesis is made of.
pub struct NemesisOptions<'a> {
    pub ctx: &'a RunContext,
    /// Drawn from the run's seed: the only source of the nemesis's choices.
    pub rng: ChaCha8Rng,
    /// The conductor's session: it names the hosts a role target means.
    pub session: &'a mut dyn Session,
    pub server_hosts: Vec<String>,
}

fn fault_name(fault: &Fault) -> &'static str {
    match fault {
        Fault::Partition(_) => "partition",
        Fault::Clog(_) => "clog",
        Fault::Loss { .. } => "loss",
        Fault::LatencySpike { .. } => "latency-spike",
        Fault::Crash(_) => "crash",
        Fault::Restart(_) => "restart",
        Fault::Pause(_) => "pause",
        Fault::Disk { .. } => "disk",
        Fault::ProducerCrash(_) => "producer-crash",
        Fault::ConsumerCrash(_) => "consumer-crash",
    }
}

fn pairs(a: &[String], b: &[String]) -> Vec<Link> {
    let mut pairs = Vec::new();
    for x in a {
        for y in b {
            if x != y {
                pairs.push((x.clone(), y.clone()));
            }
        }
    }
    pairs
}

impl<'a> Nemesis<'a> {
    pub fn new(options: NemesisOptions<'a>) -> Nemesis<'a> {
        let NemesisOptions {
            ctx,
            rng,
            session,
            server_hosts,
        } = options;
        Nemesis {
            ctx,
            rng,
            session,
            server_hosts,
            active: Vec::new(),
        }
    }

    fn clients(&self) -> Vec<String> {
        (1..=self.ctx.scenario.workload.client_roles().len() as u32)
            .map(client_host)
            .collect()
    }

    async fn targets(&mut self, target: &Target) -> Vec<String> {
        self.session.resolve(self.ctx, target, &mut self.rng).await
    }

    /// Every host except `nodes`.
    fn others(&self, nodes: &[String]) -> Vec<String> {
        let mut all = self.server_hosts.clone();
        all.extend(self.clients());
        all.retain(|host| !nodes.contains(host));
        all
    }

    async fn partition(&mut self, shape: &PartitionShape) -> (Vec<String>, Undo) {
        let mut servers = self.server_hosts.clone();
        match shape {
            PartitionShape::Halves => {
                servers.shuffle(&mut self.rng);
                let (a, b) = servers.split_at(servers.len() / 2);
                let cut = pairs(a, b);
                self.ctx.fabric.cut(&cut);
                (a.to_vec(), Undo::Repair(cut))
            }
            PartitionShape::Isolate(target) => {
                let nodes = self.targets(target).await;
                let cut = pairs(&nodes, &self.others(&nodes));
                self.ctx.fabric.cut(&cut);
                (nodes, Undo::Repair(cut))
            }
            PartitionShape::MajorityRing => {
                servers.shuffle(&mut self.rng);
                let n = servers.len();
                let majority = n / 2 + 1;
                let reach = majority / 2;
                let mut cut = Vec::new();
                for i in 0..n {
                    for j in i + 1..n {
                        let distance = (j - i).min(n - (j - i));
                        if distance > reach {
                            cut.push((servers[i].clone(), servers[j].clone()));
                        }
                    }
                }
                self.ctx.fabric.cut(&cut);
                (servers, Undo::Repair(cut))
            }
            PartitionShape::Bridge => {
                servers.shuffle(&mut self.rng);
                let middle = servers.len() / 2;
                let bridge = servers[middle].clone();
                let a: Vec<String> = servers[..middle].to_vec();
                let b: Vec<String> = servers[middle + 1..].to_vec();
                let cut = pairs(&a, &b);
                self.ctx.fabric.cut(&cut);
                (vec![bridge], Undo::Repair(cut))
            }
            PartitionShape::OneWay { from, to } => {
                let (from, to) = (self.targets(from).await, self.targets(to).await);
                let cut = pairs(&from, &to);
                self.ctx.fabric.cut_one_way(&cut);
                (from, Undo::RepairOneWay(cut))
            }
        }
    }

    fn clog(&self, nodes: &[String]) -> Undo {
        let others = self.others(nodes);
        for host in nodes {
            self.ctx.fabric.clog(host, &others);
        }
        Undo::Unclog(nodes.to_vec(), others)
    }

    fn pause(&self, nodes: &[String]) -> Undo {
        let others = self.others(nodes);
        for host in nodes {
            self.ctx.fabric.pause(host, &others);
        }
        Undo::Resume(nodes.to_vec(), others)
    }

    fn crash(&self, nodes: &[String]) -> Undo {
        for host in nodes {
            self.ctx.fabric.crash(host);
        }
        Undo::Bounce(nodes.to_vec())
    }

    fn disk_on(&self, nodes: &[String], switch: DiskSwitch) -> Undo {
        for host in nodes {
            self.ctx.fabric.disk_on(host, switch);
        }
        Undo::Disk(nodes.to_vec(), switch)
    }

    /// Starts one scheduled fault.
    pub async fn start(&mut self, event: &FaultEvent, now_ms: u64) {
        let name = fault_name(&event.fault);
        let (nodes, undo) = match &event.fault {
            Fault::Partition(shape) => self.partition(shape).await,
            Fault::Clog(target) => {
                let nodes = self.targets(target).await;
                let undo = self.clog(&nodes);
                (nodes, undo)
            }
            Fault::Pause(target) => {
                let nodes = self.targets(target).await;
                let undo = self.pause(&nodes);
                (nodes, undo)
            }
            Fault::Loss { rate } => {
                self.ctx.fabric.set_loss(*rate);
                (Vec::new(), Undo::FailRate(self.ctx.scenario.network.loss))
            }
            Fault::LatencySpike { latency_ms } => {
                self.ctx
                    .fabric
                    .set_latency_max(Duration::from_millis(latency_ms.1));
                (
                    Vec::new(),
                    Undo::MaxLatency(Duration::from_millis(
                        self.ctx.scenario.network.latency_ms.1,
                    )),
                )
            }
            Fault::Crash(target) | Fault::ProducerCrash(target) | Fault::ConsumerCrash(target) => {
                let nodes = self.targets(target).await;
                let undo = self.crash(&nodes);
                (nodes, undo)
            }
            Fault::Restart(target) => {
                let nodes = self.targets(target).await;
                nodes.iter().for_each(|host| self.ctx.fabric.restart(host));
                (nodes, Undo::Nothing)
            }
            Fault::Disk { fault, node } => {
                let nodes = self.targets(node).await;
                let undo = match DiskSwitch::of(*fault) {
                    Some(switch) => self.disk_on(&nodes, switch),
                    // Both are power losses, then the node restarts: `lose-unsynced` keeps no
                    // unsynced write, `torn-writes` (like a plain crash) keeps a drawn subset of
                    // blocks per file (engine::env::power_loss).
                    // A stopped node's file damaged on its disk, then a restart (real mode).
                    None if matches!(fault, DiskFault::TruncateFile | DiskFault::BitflipFile) => {
                        let corruption = match fault {
                            DiskFault::TruncateFile => Corruption::TruncateHalf,
                            _ => Corruption::BitflipMiddle,
                        };
                        for host in &nodes {
                            self.ctx.fabric.crash(host);
                            self.ctx.fabric.corrupt(host, corruption);
                            self.ctx.fabric.restart(host);
                        }
                        Undo::Nothing
                    }
                    None => {
                        let unsynced = match fault {
                            DiskFault::LoseUnsynced => Unsynced::LoseAll,
                            _ => Unsynced::Torn,
                        };
                        // Every node of the target loses power before any comes back, so a
                        // multi-node target is one coordinated power failure.
                        for host in &nodes {
                            self.ctx.fabric.power_off(host, unsynced);
                        }
                        for host in &nodes {
                            self.ctx.fabric.restart(host);
                        }
                        Undo::Nothing
                    }
                };
                (nodes, undo)
            }
        };
        self.ctx
            .faults_started
            .set(self.ctx.faults_started.get() + 1);
        // `at` is on the workload clock (the scenario's `at:`); the op's own time is on the
        // simulation's, which started earlier (setup): the report shows both.
        let detail = match self.ctx.mode {
            Mode::Sim => fault_words::describe(&event.fault, &nodes),
            Mode::Real => fault_words::describe_real(&event.fault, &nodes),
        };
        self.ctx.nemesis(
            F::Start(name.to_string()),
            json!({"nodes": nodes, "detail": detail, "at_ms": event.at_ms}),
        );
        if matches!(undo, Undo::Nothing) {
            return;
        }
        let until_ms = event.duration_ms.map(|duration| now_ms + duration);
        self.active.push(Active {
            name,
            undo,
            until_ms,
            nodes,
        });
    }

    fn lift(&self, active: Active) {
        let fabric = &self.ctx.fabric;
        match &active.undo {
            Undo::Repair(cut) => fabric.mend(cut),
            Undo::RepairOneWay(cut) => fabric.mend_one_way(cut),
            Undo::Unclog(nodes, others) => {
                nodes.iter().for_each(|host| fabric.unclog(host, others))
            }
            Undo::Resume(nodes, others) => {
                nodes.iter().for_each(|host| fabric.resume(host, others))
            }
            Undo::Bounce(nodes) => nodes.iter().for_each(|host| fabric.restart(host)),
            Undo::Disk(nodes, switch) => {
                nodes.iter().for_each(|host| fabric.disk_off(host, *switch))
            }
            Undo::FailRate(rate) => fabric.set_loss(*rate),
            Undo::MaxLatency(latency) => fabric.set_latency_max(*latency),
            Undo::Nothing => {}
        }
        self.ctx.nemesis(
            F::Stop(active.name.to_string()),
            json!({"nodes": active.nodes}),
        );
    }

    /// Lifts the faults whose time is up.
    pub fn lift_due(&mut self, now_ms: u64) {
        let (due, keep): (Vec<Active>, Vec<Active>) = std::mem::take(&mut self.active)
            .into_iter()
            .partition(|a| a.until_ms.is_some_and(|until| until <= now_ms));
        self.active = keep;
        for active in due {
            self.lift(active);
        }
    }

    /// The heal phase: every fault is lifted, newest first; disk switches are all cleared.
    pub fn heal(&mut self) {
        while let Some(active) = self.active.pop() {
            self.lift(active);
        }
        self.ctx.fabric.disks_all_off();
        self.ctx.nemesis(F::Heal, json!(null));
    }

    /// When the next active fault is due to be lifted.
    pub fn next_lift_ms(&self) -> Option<u64> {
        self.active.iter().filter_map(|a| a.until_ms).min()
    }
}
