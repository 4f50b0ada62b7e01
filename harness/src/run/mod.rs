//! One run: (scenario, seed) -> simulation -> history (design.md section 2). The driver steps
//! the simulation; the orchestrator (a simulated client) runs the phases; the nemesis plays the
//! fault schedule; workload clients record every operation they perform.

pub mod consumer;
pub mod context;
pub mod drain;
pub mod driver;
pub mod gateway;
pub mod nemesis;
pub mod nodes;
pub mod orchestrator;
pub mod producer;
pub mod roles;
pub mod simlog;
pub mod swarm;
pub mod token_generator;
pub mod txn_producer;

pub use driver::{schedule_for, simulate, SimError, SimOptions, SimOutcome};
