//! NATS JetStream as a system under test (design.md §12), real mode only: a cluster of real
//! `nats-server` processes (3 or 5), one stream per `topic/partition` key with the topic's
//! replicas, producers that publish with a message id and await the PubAck (its stream
//! sequence is the offset), consumer groups as durable pull consumers acknowledging each
//! message after applying it, and a drain that reads every stream from its leader. Fault targets
//! are resolved from stream info (`leader(topic/p)` is the stream's Raft leader).
//!
//! The fault model is the one real mode plays: SIGKILL and restart, SIGSTOP/SIGCONT, iptables
//! cuts, power loss that drops what the server wrote but did not sync (our FUSE file system),
//! and damage to a stopped server's largest `*.blk` message file. The invariant checked is
//! JetStream's promise: a PubAck'd message is in the stream, once, at its acknowledged
//! sequence, and every replica's log agrees.

pub mod client;
pub mod config;
pub mod consumer;
pub mod drain;
pub mod durable;
pub mod producer;
pub mod roles;
pub mod streams;

use crate::history::values::FinalStateRecord;
use crate::history::{OpType, Process, F};
use crate::run::context::RunContext;
use crate::scenario::{ClientRole, Scenario, SystemName, Target};
use crate::systems::{LocalFuture, ServerCommand, ServerSettings, Session, SetupError, System};
use async_nats::jetstream;
use rand_chacha::ChaCha8Rng;
use roles::StreamGroup;
use std::rc::Rc;
use std::time::Duration;
use tokio::time::Instant;

/// The drain's time budget.
const DRAIN_BUDGET: Duration = Duration::from_secs(60);
/// How long the cluster may take to elect its meta leader and place every stream.
const SETUP_BUDGET: Duration = Duration::from_secs(30);
const SETUP_PAUSE: Duration = Duration::from_millis(250);

pub struct Nats;

impl System for Nats {
    fn name(&self) -> SystemName {
        SystemName::Nats
    }

    fn server_hosts(&self, scenario: &Scenario) -> Vec<String> {
        config::server_hosts(scenario)
    }

    fn server_commands(
        &self,
        scenario: &Scenario,
        settings: &ServerSettings<'_>,
    ) -> Vec<ServerCommand> {
        config::server_commands(scenario, settings)
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
                // Refused when the scenario is read (`SystemName::unsupported_key`).
                _ => ctx.client_done(client),
            }
        })
    }

    fn data_file_suffix(&self) -> &'static str {
        ".blk"
    }

    fn data_file_dir(&self) -> &'static str {
        "streams"
    }

    fn session(&self, _ctx: &RunContext) -> Box<dyn Session> {
        Box::new(NatsSession { js: None })
    }
}

/// The conductor's connection: creates the streams, reads stream info for targets, drains.
struct NatsSession {
    js: Option<jetstream::Context>,
}

impl NatsSession {
    async fn js(&mut self, ctx: &RunContext) -> Option<&jetstream::Context> {
        if self.js.is_none() {
            self.js = client::connect(ctx).await;
        }
        self.js.as_ref()
    }
}

/// The stream's Raft group now, or `None` when its info cannot be read.
async fn stream_group(js: &jetstream::Context, stream: &str) -> Option<StreamGroup> {
    let mut stream = js.get_stream(stream).await.ok()?;
    let info = stream.info().await.ok()?;
    let cluster = info.cluster.as_ref()?;
    Some(StreamGroup {
        leader: cluster.leader.clone(),
        current_followers: cluster
            .replicas
            .iter()
            .filter(|peer| peer.current && !peer.offline)
            .map(|peer| peer.name.clone())
            .collect(),
    })
}

async fn setup(ctx: &RunContext, js: &jetstream::Context) -> Result<(), SetupError> {
    let deadline = Instant::now() + SETUP_BUDGET;
    for key in streams::stream_keys(&ctx.scenario) {
        loop {
            let created = js.get_or_create_stream(key.config()).await;
            let led = match created {
                Ok(_) => stream_group(js, &key.stream)
                    .await
                    .is_some_and(|g| g.leader.is_some()),
                Err(error) => {
                    tracing::debug!(%error, stream = %key.stream, "creating the stream");
                    false
                }
            };
            if led {
                break;
            }
            if Instant::now() >= deadline {
                return Err(SetupError(format!(
                    "stream {} has no leader after {} s (see the servers' logs)",
                    key.stream,
                    SETUP_BUDGET.as_secs()
                )));
            }
            tokio::time::sleep(SETUP_PAUSE).await;
        }
    }
    let groups = ctx
        .scenario
        .workload
        .consumers
        .as_ref()
        .map(|c| c.groups.clone())
        .unwrap_or_default();
    for group in &groups {
        for key in durable::group_keys(ctx, group) {
            while !durable::ensure(js, &key, &group.name).await {
                if Instant::now() >= deadline {
                    return Err(SetupError(format!(
                        "no consumer {} on stream {} after {} s (see the servers' logs)",
                        group.name,
                        key.stream,
                        SETUP_BUDGET.as_secs()
                    )));
                }
                tokio::time::sleep(SETUP_PAUSE).await;
            }
        }
    }
    Ok(())
}

/// The ground truth at the end of a run with consumer groups: each group's business state and
/// its committed offsets (the durable consumers' ack floors).
async fn record_final_state(ctx: &RunContext, js: &jetstream::Context) {
    let Some(consumers) = &ctx.scenario.workload.consumers else {
        return;
    };
    let applied = consumers
        .groups
        .iter()
        .map(|group| {
            let business = ctx.business.borrow();
            let state = business.get(&group.name).cloned().unwrap_or_default();
            (group.name.clone(), state.applied)
        })
        .collect();
    let record = FinalStateRecord {
        txn_local: None,
        applied: Some(applied),
        committed_offsets: Some(durable::committed(ctx, js).await),
        token_buckets: None,
        dropped_below: None,
    };
    ctx.event(
        Process::Nemesis,
        OpType::Ok,
        F::FinalState,
        record.to_value(),
    );
}

impl Session for NatsSession {
    fn setup<'a>(&'a mut self, ctx: &'a RunContext) -> LocalFuture<'a, Result<(), SetupError>> {
        Box::pin(async move {
            let Some(js) = self.js(ctx).await else {
                return Err(SetupError("cannot make a NATS client".into()));
            };
            setup(ctx, js).await
        })
    }

    fn resolve<'a>(
        &'a mut self,
        ctx: &'a RunContext,
        target: &'a Target,
        rng: &'a mut ChaCha8Rng,
    ) -> LocalFuture<'a, Vec<String>> {
        Box::pin(async move {
            let group = match target {
                Target::Leader(reference) | Target::Follower(reference) => match self.js(ctx).await
                {
                    Some(js) => stream_group(js, &streams::stream_of(reference)).await,
                    None => None,
                },
                _ => None,
            };
            let hosts = config::server_hosts(&ctx.scenario);
            roles::resolve(target, &hosts, group.as_ref(), rng)
        })
    }

    fn finish<'a>(&'a mut self, ctx: &'a RunContext) -> LocalFuture<'a, ()> {
        Box::pin(async move {
            match self.js(ctx).await {
                Some(js) => {
                    drain::run(ctx, js, DRAIN_BUDGET).await;
                    record_final_state(ctx, js).await;
                }
                None => tracing::warn!("no NATS client for the drain"),
            }
        })
    }
}
