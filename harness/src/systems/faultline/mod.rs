//! faultline's own broker and coordinator as a system under test: Kafka-like topics, the
//! engine's clients as the workload, metadata for role targets, and a drain that reads every
//! partition to its end.

pub mod consumer;
pub mod coordinator_client;
pub mod drain;
pub mod engine_terms;
pub mod final_state;
pub mod gateway;
pub mod nodes;
pub mod producer;
pub mod roles;
pub mod setup;
pub mod sim_disks;
pub mod token_generator;
pub mod txn_producer;

/// Planted bugs are this system's: they live in its engine, and `--bug` plants them there.
pub use engine::bugs::{Bug, Bugs};
/// Node events are, so far, this system's alone: its nodes record them into a run's buffer.
pub use engine::env::node_events::NODE_EVENTS_MAX;
use engine::env::NodeEvents;
pub use engine::env::{NodeEvent, NodeEventRecord};

use crate::run::context::RunContext;
use crate::run::sim_fabric::SimDisks;
use crate::scenario::{ClientRole, Scenario, SystemName, Target};
use crate::systems::{LocalFuture, ServerCommand, ServerSettings, Session, SetupError, System};
use engine::client::{ClusterClient, ClusterClientOptions};
use rand_chacha::ChaCha8Rng;
use std::rc::Rc;
use std::time::Duration;

/// The drain's time budget.
const DRAIN_BUDGET: Duration = Duration::from_secs(60);

pub struct Faultline {
    /// Planted bugs of this run: the nodes get them when they are built, the clients when
    /// they start.
    bugs: Bugs,
    /// The run's node-event buffer, shared by every node and client; off in real mode, where
    /// the nodes are other processes.
    events: NodeEvents,
}

impl Default for Faultline {
    /// Real mode: no client bugs, no node events.
    fn default() -> Faultline {
        Faultline {
            bugs: Bugs::none(),
            events: NodeEvents::off(),
        }
    }
}

impl Faultline {
    /// In simulation: with the run's planted bugs, recording node events.
    pub fn simulated(bugs: Bugs) -> Faultline {
        Faultline {
            bugs,
            events: NodeEvents::on(),
        }
    }

    /// Registers the servers as turmoil hosts; returns their simulated disks.
    pub fn add_sim_servers(
        &self,
        sim: &mut turmoil::Sim<'_>,
        scenario: &Scenario,
        seed: u64,
    ) -> Box<dyn SimDisks> {
        let faults = nodes::disk_faults(scenario, seed);
        nodes::add_servers(sim, scenario, seed, &faults, self.bugs, &self.events);
        Box::new(sim_disks::EngineDisks(faults))
    }
}

impl System for Faultline {
    fn name(&self) -> SystemName {
        SystemName::Faultline
    }

    fn server_hosts(&self, scenario: &Scenario) -> Vec<String> {
        nodes::server_hosts(scenario)
    }

    fn server_commands(
        &self,
        scenario: &Scenario,
        settings: &ServerSettings<'_>,
    ) -> Vec<ServerCommand> {
        // Our own binary serves the nodes: the same build that runs the scenario.
        let program = std::env::current_exe().unwrap_or_else(|_| "faultline".into());
        nodes::server_commands(scenario, settings, &program)
    }

    fn run_client(
        &self,
        ctx: Rc<RunContext>,
        client: u32,
        role: ClientRole,
    ) -> LocalFuture<'static, ()> {
        let bugs = self.bugs;
        let events = self.events.clone();
        Box::pin(async move {
            match role {
                ClientRole::Producer { .. } => producer::run(ctx, client, bugs, events).await,
                ClientRole::Consumer { group, member } => {
                    consumer::run(ctx, client, (group, member), bugs).await
                }
                ClientRole::TxnProducer { .. } => txn_producer::run(ctx, client).await,
                ClientRole::TokenGenerator => token_generator::run(ctx, client, bugs).await,
                ClientRole::Gateway { .. } => gateway::run(ctx, client).await,
                ClientRole::CoordinatorClient { .. } => coordinator_client::run(ctx, client).await,
            }
        })
    }

    fn data_file_suffix(&self) -> &'static str {
        ".log"
    }

    fn node_events(&self) -> Option<crate::run::NodeEventLog> {
        if !self.events.is_on() {
            return None;
        }
        let (records, dropped) = self.events.take();
        Some(crate::run::NodeEventLog { records, dropped })
    }

    fn session(&self, ctx: &RunContext) -> Box<dyn Session> {
        Box::new(FaultlineSession {
            bugs: self.bugs,
            cluster: ClusterClient::new(
                nodes::net(ctx),
                nodes::bootstrap(ctx),
                ClusterClientOptions::default(),
            ),
        })
    }
}

/// The conductor's cluster client: creates the topics, reads metadata for role targets.
struct FaultlineSession {
    bugs: Bugs,
    cluster: ClusterClient,
}

impl Session for FaultlineSession {
    fn setup<'a>(&'a mut self, ctx: &'a RunContext) -> LocalFuture<'a, Result<(), SetupError>> {
        Box::pin(setup::setup(ctx, &mut self.cluster, self.bugs))
    }

    fn resolve<'a>(
        &'a mut self,
        ctx: &'a RunContext,
        target: &'a Target,
        rng: &'a mut ChaCha8Rng,
    ) -> LocalFuture<'a, Vec<String>> {
        Box::pin(async move {
            let needs_metadata = matches!(
                target,
                Target::Leader(_) | Target::Follower(_) | Target::Controller
            );
            let metadata = if needs_metadata {
                self.cluster.refresh_metadata().await.ok().cloned()
            } else {
                None
            };
            roles::resolve(target, &ctx.scenario, metadata.as_ref(), rng)
        })
    }

    fn finish<'a>(&'a mut self, ctx: &'a RunContext) -> LocalFuture<'a, ()> {
        Box::pin(async move {
            let heads = drain::run(ctx, DRAIN_BUDGET).await;
            final_state::record(ctx, &heads).await;
        })
    }
}
