//! One run: (scenario, seed) -> history (design.md section 2). The driver steps the simulation;
//! the orchestrator (a client of its own) runs the phases; the nemesis plays the fault schedule
//! through the fabric; the system under test (`crate::systems`) runs the workload clients that
//! record every operation they perform.

pub mod context;
pub mod driver;
pub mod fabric;
pub mod log_buffer;
pub mod nemesis;
pub mod orchestrator;
pub mod sim_fabric;
pub mod sim_time;
pub mod simlog;
pub mod simlog_subscriber;
pub mod swarm;

pub use driver::{schedule_for, simulate, NodeEventLog, SimError, SimOptions, SimOutcome};
