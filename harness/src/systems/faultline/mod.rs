//! faultline's own broker and coordinator as a system under test: Kafka-like topics, the
//! engine's clients as the workload, metadata for role targets, and a drain that reads every
//! partition to its end.

pub mod consumer;
pub mod drain;
pub mod final_state;
pub mod gateway;
pub mod nodes;
pub mod producer;
pub mod roles;
pub mod setup;
pub mod sim_disks;
pub mod token_generator;
pub mod txn_producer;

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

pub struct Faultline;

impl Faultline {
    /// Registers the servers as turmoil hosts; returns their simulated disks.
    pub fn add_sim_servers(
        sim: &mut turmoil::Sim<'_>,
        scenario: &Scenario,
        seed: u64,
        bugs: engine::bugs::Bugs,
        events: &engine::env::NodeEvents,
    ) -> Box<dyn SimDisks> {
        let faults = nodes::disk_faults(scenario, seed);
        nodes::add_servers(sim, scenario, seed, &faults, bugs, events);
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
        Box::pin(async move {
            match role {
                ClientRole::Producer { .. } => producer::run(ctx, client).await,
                ClientRole::Consumer { group, member } => {
                    consumer::run(ctx, client, group, member).await
                }
                ClientRole::TxnProducer { .. } => txn_producer::run(ctx, client).await,
                ClientRole::TokenGenerator => token_generator::run(ctx, client).await,
                ClientRole::Gateway { .. } => gateway::run(ctx, client).await,
            }
        })
    }

    fn data_file_suffix(&self) -> &'static str {
        ".log"
    }

    fn session(&self, ctx: &RunContext) -> Box<dyn Session> {
        Box::new(FaultlineSession {
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
    cluster: ClusterClient,
}

impl Session for FaultlineSession {
    fn setup<'a>(&'a mut self, ctx: &'a RunContext) -> LocalFuture<'a, Result<(), SetupError>> {
        Box::pin(setup::setup(ctx, &mut self.cluster))
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
