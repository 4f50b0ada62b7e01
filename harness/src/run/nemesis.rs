//! The nemesis: starts each fault of the schedule when it is due (resolving role targets at
//! that moment), lifts it when its duration ends, and lifts everything in the heal phase.
//! Network faults act on turmoil directly; crashes, restarts, loss and latency go through the
//! driver; disk faults flip the node's injector. Every start and stop is a nemesis op in the
//! history.

use crate::history::F;
use crate::run::context::{RunContext, SimAction};
use crate::run::nodes::{client_host, server_hosts};
use crate::run::roles;
use crate::scenario::{DiskFault, Fault, FaultEvent, PartitionShape, Target};
use engine::broker::protocol::MetadataResponse;
use engine::client::ClusterClient;
use engine::env::{DiskFault as InjectedFault, DiskFaultKind, Keep, PowerLoss};
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde_json::json;
use std::time::Duration;

/// How to undo a started fault.
#[derive(Clone, Debug)]
enum Undo {
    Repair(Vec<(String, String)>),
    RepairOneWay(Vec<(String, String)>),
    Release(Vec<(String, String)>),
    Bounce(Vec<String>),
    Disk(Vec<String>, DiskFaultKind),
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
    cluster: ClusterClient,
    pub active: Vec<Active>,
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

fn pairs(a: &[String], b: &[String]) -> Vec<(String, String)> {
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
    pub fn new(ctx: &'a RunContext, rng: ChaCha8Rng, cluster: ClusterClient) -> Nemesis<'a> {
        Nemesis {
            ctx,
            rng,
            cluster,
            active: Vec::new(),
        }
    }

    fn clients(&self) -> Vec<String> {
        (1..=self.ctx.scenario.workload.client_roles().len() as u32)
            .map(client_host)
            .collect()
    }

    async fn metadata(&mut self) -> Option<MetadataResponse> {
        self.cluster.refresh_metadata().await.ok().cloned()
    }

    async fn targets(&mut self, target: &Target) -> Vec<String> {
        let needs_metadata = matches!(
            target,
            Target::Leader(_) | Target::Follower(_) | Target::Controller
        );
        let metadata = if needs_metadata {
            self.metadata().await
        } else {
            None
        };
        roles::resolve(target, &self.ctx.scenario, metadata.as_ref(), &mut self.rng)
    }

    /// Every host except `nodes`.
    fn others(&self, nodes: &[String]) -> Vec<String> {
        let mut all = server_hosts(&self.ctx.scenario);
        all.extend(self.clients());
        all.retain(|host| !nodes.contains(host));
        all
    }

    async fn partition(&mut self, shape: &PartitionShape) -> (Vec<String>, Undo) {
        let mut servers = server_hosts(&self.ctx.scenario);
        match shape {
            PartitionShape::Halves => {
                servers.shuffle(&mut self.rng);
                let (a, b) = servers.split_at(servers.len() / 2);
                let cut = pairs(a, b);
                cut.iter()
                    .for_each(|(x, y)| turmoil::partition(x.as_str(), y.as_str()));
                (a.to_vec(), Undo::Repair(cut))
            }
            PartitionShape::Isolate(target) => {
                let nodes = self.targets(target).await;
                let cut = pairs(&nodes, &self.others(&nodes));
                cut.iter()
                    .for_each(|(x, y)| turmoil::partition(x.as_str(), y.as_str()));
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
                cut.iter()
                    .for_each(|(x, y)| turmoil::partition(x.as_str(), y.as_str()));
                (servers, Undo::Repair(cut))
            }
            PartitionShape::Bridge => {
                servers.shuffle(&mut self.rng);
                let middle = servers.len() / 2;
                let bridge = servers[middle].clone();
                let a: Vec<String> = servers[..middle].to_vec();
                let b: Vec<String> = servers[middle + 1..].to_vec();
                let cut = pairs(&a, &b);
                cut.iter()
                    .for_each(|(x, y)| turmoil::partition(x.as_str(), y.as_str()));
                (vec![bridge], Undo::Repair(cut))
            }
            PartitionShape::OneWay { from, to } => {
                let (from, to) = (self.targets(from).await, self.targets(to).await);
                let cut = pairs(&from, &to);
                cut.iter()
                    .for_each(|(x, y)| turmoil::partition_oneway(x.as_str(), y.as_str()));
                (from, Undo::RepairOneWay(cut))
            }
        }
    }

    fn hold_all(&self, nodes: &[String]) -> Undo {
        let held = pairs(nodes, &self.others(nodes));
        held.iter()
            .for_each(|(x, y)| turmoil::hold(x.as_str(), y.as_str()));
        Undo::Release(held)
    }

    fn crash(&self, nodes: &[String]) -> Undo {
        for host in nodes {
            self.arm_power_loss(host, Keep::Draw);
            self.ctx.act(SimAction::Crash(host.clone()));
        }
        Undo::Bounce(nodes.to_vec())
    }

    /// Tells a server's machine how its coming power loss treats unsynced data (clients have no
    /// simulated disk of their own).
    fn arm_power_loss(&self, host: &str, keep: Keep) {
        if let Some(faults) = self.ctx.disk_faults.get(host) {
            faults.arm_power_loss(PowerLoss {
                keep,
                ..PowerLoss::default()
            });
        }
    }

    fn inject(&self, nodes: &[String], fault: InjectedFault) -> Undo {
        for host in nodes {
            if let Some(faults) = self.ctx.disk_faults.get(host) {
                let fault = match fault {
                    // Full at what it holds now: any growth fails.
                    InjectedFault::Full { .. } => InjectedFault::Full {
                        capacity_bytes: faults.snapshot().used_bytes,
                    },
                    other => other,
                };
                faults.inject(fault);
            }
        }
        Undo::Disk(nodes.to_vec(), fault.kind())
    }

    /// Starts one scheduled fault.
    pub async fn start(&mut self, event: &FaultEvent, now_ms: u64) {
        let name = fault_name(&event.fault);
        let (nodes, undo) = match &event.fault {
            Fault::Partition(shape) => self.partition(shape).await,
            Fault::Clog(target) | Fault::Pause(target) => {
                let nodes = self.targets(target).await;
                let undo = self.hold_all(&nodes);
                (nodes, undo)
            }
            Fault::Loss { rate } => {
                self.ctx.act(SimAction::FailRate(*rate));
                (Vec::new(), Undo::FailRate(self.ctx.scenario.network.loss))
            }
            Fault::LatencySpike { latency_ms } => {
                self.ctx
                    .act(SimAction::MaxLatency(Duration::from_millis(latency_ms.1)));
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
                nodes
                    .iter()
                    .for_each(|host| self.ctx.act(SimAction::Bounce(host.clone())));
                (nodes, Undo::Nothing)
            }
            Fault::Disk { fault, node } => {
                let nodes = self.targets(node).await;
                let undo = match fault {
                    DiskFault::FsyncError => self.inject(&nodes, InjectedFault::FsyncError),
                    DiskFault::WriteError => self.inject(&nodes, InjectedFault::WriteError),
                    DiskFault::ReadCorruption => self.inject(&nodes, InjectedFault::ReadCorruption),
                    DiskFault::DiskFull => {
                        self.inject(&nodes, InjectedFault::Full { capacity_bytes: 0 })
                    }
                    // Both are power losses, then the node restarts: `lose-unsynced` keeps no
                    // unsynced write, `torn-writes` (like a plain crash) keeps a drawn subset of
                    // blocks per file (engine::env::power_loss).
                    DiskFault::TornWrites | DiskFault::LoseUnsynced => {
                        let keep = match fault {
                            DiskFault::LoseUnsynced => Keep::Nothing,
                            _ => Keep::Draw,
                        };
                        for host in &nodes {
                            self.arm_power_loss(host, keep);
                            self.ctx.act(SimAction::Crash(host.clone()));
                            self.ctx.act(SimAction::Bounce(host.clone()));
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
        let detail = crate::scenario::fault_words::describe(&event.fault, &nodes);
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
        match &active.undo {
            Undo::Repair(cut) => cut
                .iter()
                .for_each(|(x, y)| turmoil::repair(x.as_str(), y.as_str())),
            Undo::RepairOneWay(cut) => cut
                .iter()
                .for_each(|(x, y)| turmoil::repair_oneway(x.as_str(), y.as_str())),
            Undo::Release(held) => held
                .iter()
                .for_each(|(x, y)| turmoil::release(x.as_str(), y.as_str())),
            Undo::Bounce(nodes) => nodes
                .iter()
                .for_each(|host| self.ctx.act(SimAction::Bounce(host.clone()))),
            Undo::Disk(nodes, kind) => {
                for host in nodes {
                    if let Some(faults) = self.ctx.disk_faults.get(host) {
                        faults.lift(*kind);
                    }
                }
            }
            Undo::FailRate(rate) => self.ctx.act(SimAction::FailRate(*rate)),
            Undo::MaxLatency(latency) => self.ctx.act(SimAction::MaxLatency(*latency)),
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
        for faults in self.ctx.disk_faults.values() {
            faults.lift_all();
        }
        self.ctx.nemesis(F::Heal, json!(null));
    }

    /// When the next active fault is due to be lifted.
    pub fn next_lift_ms(&self) -> Option<u64> {
        self.active.iter().filter_map(|a| a.until_ms).min()
    }
}
