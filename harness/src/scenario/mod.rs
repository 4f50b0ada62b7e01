//! Scenario files (design.md §11): load, validate, resolve. A scenario is read in two steps —
//! [`raw`] mirrors the YAML with serde and no logic, then [`RawScenario::resolve`] applies
//! defaults and turns strings into typed durations, ranges, rates and targets — so nothing
//! downstream re-parses. Unknown keys, bad units, out-of-range numbers and unknown targets are
//! errors that name the file, line and column and say what to write instead; no input makes
//! the loader panic.

pub mod check;
pub mod cluster;
pub mod consumers;
pub mod coordinator_clients;
pub mod duration;
pub mod error;
pub mod fault;
pub mod fault_words;
pub mod faults;
mod field_readers;
pub mod input;
pub mod locate;
pub mod names;
pub mod nesting;
pub mod random;
pub mod range;
pub mod rate;
pub mod raw;
pub mod resolve;
pub mod schedule;
pub mod suite;
pub mod system;
pub mod target;
pub mod token_bucket;
pub mod workload;
mod workload_scope;

#[cfg(test)]
mod tests;

pub use check::{AnomalyName, CheckName, Expectation};
pub use cluster::{BrokerConfig, Cluster, FsyncPolicySpec, Overflow, Topic};
pub use consumers::{ApplyStrategy, Consumers, Group, ScaleOut};
pub use coordinator_clients::CoordinatorClients;
pub use error::{Located, Place, Problem, ScenarioError};
pub use fault::{DiskFault, Fault, FaultEvent, FaultKind, FaultSchedule, PartitionShape};
pub use faults::Faults;
pub use names::Keyword;
pub use random::RandomFaults;
pub use raw::RawScenario;
pub use resolve::{Network, ResolveCtx, Scenario};
pub use suite::{load_suite, SuiteEntry};
pub use system::SystemName;
pub use target::{PartitionRef, Target};
pub use token_bucket::{Gateways, Tokens};
pub use workload::{Acks, ClientRole, ProducerMode, Producers, Transactions, Workload};

use std::path::Path;

/// Reads, parses and resolves one scenario file. Errors name the file as `path` is written.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let source = input::read(path)?;
    load_str(&source, &path.display().to_string())
}

/// Parses and resolves scenario text; `file_label` names it in errors. The text is checked
/// for size, control characters and nesting depth before the parser sees it ([`input`]).
pub fn load_str(source: &str, file_label: &str) -> Result<Scenario, ScenarioError> {
    let source = input::check(source, file_label)?;
    let raw: RawScenario = yaml_serde::from_str(source).map_err(|error| {
        // An empty file (or one with only comments) would otherwise read as "missing key
        // `name`", which hides the real problem.
        if matches!(
            yaml_serde::from_str::<yaml_serde::Value>(source),
            Ok(yaml_serde::Value::Null)
        ) {
            return error::empty(file_label);
        }
        error::from_yaml(&error, source, file_label)
    })?;
    raw.resolve(&ResolveCtx { file_label, source })
}
