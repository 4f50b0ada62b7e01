//! Systems under test (design.md §12): what a run drives. A system starts its servers, runs
//! the workload clients that speak its protocol and record the §8 history, names the hosts a
//! fault target means at the moment the fault fires, and reads the end of the run. The run
//! (`crate::run`) knows phases, faults and the history, never a system's protocol; the checkers
//! know only the history.
//!
//! faultline's own broker and coordinator are the first system (`systems/faultline`), not a
//! special case: outside this folder, only the engine's own CLI verbs (`serve`, `bench`,
//! `demo`) import the engine.

pub mod business;
pub mod faultline;
pub mod nats;

use crate::run::context::RunContext;
use crate::scenario::{ClientRole, Scenario, SystemName, Target};
use rand_chacha::ChaCha8Rng;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::rc::Rc;

/// A future on the run's single thread (clients share `Rc` state, design.md §4).
pub type LocalFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

#[derive(Debug, thiserror::Error)]
#[error("setup failed: {0}")]
pub struct SetupError(pub String);

/// One server as an OS process (real mode): what to run, and where its data lives.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerCommand {
    pub host: String,
    pub program: std::path::PathBuf,
    pub args: Vec<String>,
    /// The ports it listens on (on `ServerSettings::listen_host`); real mode's proxy listens
    /// on the same ports at the server's address and forwards to them.
    pub ports: Vec<u16>,
    /// Files written before every start (a configuration file), outside the data directory
    /// so that no disk fault touches them.
    pub files: Vec<(std::path::PathBuf, String)>,
    /// How the run knows the server is up at its first start.
    pub ready: Readiness,
}

/// How a server shows it is ready to serve.
#[derive(Clone, Debug, PartialEq)]
pub enum Readiness {
    /// Its first stdout line starts with this (`faultline serve` prints `listening on ...`).
    FirstLine(String),
    /// This TCP address accepts a connection (from our namespace) and sends a first byte, as
    /// NATS greets every client with its INFO line.
    Accepts(std::net::SocketAddr),
}

/// What a real-mode run gives a system to make its server commands with.
pub struct ServerSettings<'a> {
    /// Where each server is reached (and must advertise itself).
    pub addresses: &'a dyn Addresses,
    /// Where each server listens: loopback in its namespace, behind our proxy (`real::proxy`).
    pub listen_host: &'a str,
    /// `data_root/<host>` is each server's data directory (on our FUSE file system).
    pub data_root: &'a Path,
    /// Planted bugs to switch on, by name (a system without planted bugs ignores them).
    pub bugs: &'a [String],
}

/// Where each server of a real-mode run listens, by host name.
pub trait Addresses {
    /// The IPv4 address of `host` (a server or a client).
    fn ip(&self, host: &str) -> String;
}

pub trait System {
    fn name(&self) -> SystemName;
    /// Every server host, in a fixed order (the nemesis shuffles from it with the run's seed).
    fn server_hosts(&self, scenario: &Scenario) -> Vec<String>;
    /// The servers as processes (real mode), in start order.
    fn server_commands(
        &self,
        scenario: &Scenario,
        settings: &ServerSettings<'_>,
    ) -> Vec<ServerCommand>;
    /// One workload client's whole life, recording its ops in `ctx`.
    fn run_client(
        &self,
        ctx: Rc<RunContext>,
        client: u32,
        role: ClientRole,
    ) -> LocalFuture<'static, ()>;
    /// How the system's data files end (`.blk`): the kind `truncate-file` and `bitflip-file`
    /// damage.
    fn data_file_suffix(&self) -> &'static str;
    /// A directory name the damaged file must lie under (NATS: `streams`, so the stream's
    /// message blocks are hit rather than its Raft log's); empty: anywhere.
    fn data_file_dir(&self) -> &'static str {
        ""
    }
    /// The conductor's own connection to the system, for setup, targets and the end.
    fn session(&self, ctx: &RunContext) -> Box<dyn Session>;
    /// What the nodes recorded of themselves during the run (elections, truncations, ...), in
    /// time order; `None` when the system cannot tell (another system's processes).
    fn node_events(&self) -> Option<crate::run::NodeEventLog> {
        None
    }
}

/// What the conductor asks of a system during a run.
pub trait Session {
    /// Creates what the workload needs and waits until it is served.
    fn setup<'a>(&'a mut self, ctx: &'a RunContext) -> LocalFuture<'a, Result<(), SetupError>>;
    /// The hosts `target` names now; empty when it names nobody at the moment.
    fn resolve<'a>(
        &'a mut self,
        ctx: &'a RunContext,
        target: &'a Target,
        rng: &'a mut ChaCha8Rng,
    ) -> LocalFuture<'a, Vec<String>>;
    /// After the workload stopped: the drain and the final-state record.
    fn finish<'a>(&'a mut self, ctx: &'a RunContext) -> LocalFuture<'a, ()>;
}

/// The system a scenario names.
pub fn for_scenario(scenario: &Scenario) -> Box<dyn System> {
    match scenario.system {
        SystemName::Faultline => Box::new(faultline::Faultline::default()),
        SystemName::Nats => Box::new(nats::Nats),
    }
}
