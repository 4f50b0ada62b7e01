//! `workload.coordinator:` clients of the coordinator itself. Each client owns its znodes
//! (`/faultline/zk/client-<n>/<k>`): it creates them, then reads one at a time and sets it
//! conditionally on the version it read, so the history shows whether the coordinator keeps
//! its own promises (check `coordinator-linearizable`). Off by default; clients of this section
//! are numbered after every other client, so a scenario without it keeps its client numbers,
//! process ids and random draws.

use super::error::{Invalid, Problem};
use super::field_readers::{count, rate_at};
use super::locate::YamlPath;
use super::raw::RawCoordinatorClients;
use super::{rate, workload_scope::CLIENTS_MAX};

/// Default `clients`.
pub const CLIENTS_DEFAULT: u32 = 2;
/// Default `znodes_per_client`.
pub const ZNODES_PER_CLIENT_DEFAULT: u32 = 2;
/// Most znodes one client owns.
pub const ZNODES_PER_CLIENT_MAX: u32 = 64;
/// Default `rate`: ops (read or write) per second per client.
pub const RATE_PER_S_DEFAULT: u64 = 50;
/// Fastest `rate`; a coordinator op costs a WAL fsync.
pub const RATE_PER_S_MAX: u64 = 1000;

/// `workload.coordinator:`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoordinatorClients {
    /// Default 2.
    pub clients: u32,
    /// Default 2.
    pub znodes_per_client: u32,
    /// Ops per second per client. Default 50/s.
    pub rate_per_s: u64,
}

pub fn resolve(
    raw: &RawCoordinatorClients,
    path: &YamlPath,
) -> Result<CoordinatorClients, Invalid> {
    let clients = match raw.clients {
        None => CLIENTS_DEFAULT,
        Some(value) => count(
            value,
            &path.key("clients"),
            "coordinator.clients",
            1,
            CLIENTS_MAX,
            "1 to 64 coordinator clients; to have none, remove the section",
        )?,
    };
    let znodes_per_client = match raw.znodes_per_client {
        None => ZNODES_PER_CLIENT_DEFAULT,
        Some(value) => count(
            value,
            &path.key("znodes_per_client"),
            "coordinator.znodes_per_client",
            1,
            ZNODES_PER_CLIENT_MAX,
            "each client owns 1 to 64 znodes",
        )?,
    };
    let rate_per_s = match &raw.rate {
        None => RATE_PER_S_DEFAULT,
        Some(text) => {
            let here = path.key("rate");
            let rate_per_s = rate_at(text, &here)?;
            if rate_per_s > RATE_PER_S_MAX {
                let problem = Problem::OutOfRange {
                    field: "coordinator.rate".to_owned(),
                    value: rate::format_per_s(rate_per_s),
                    allowed: format!("up to {}", rate::format_per_s(RATE_PER_S_MAX)),
                };
                let hint = "ops per second per client, e.g. rate: 50/s";
                return Err(Invalid::new(&here, problem, hint));
            }
            rate_per_s
        }
    };
    Ok(CoordinatorClients {
        clients,
        znodes_per_client,
        rate_per_s,
    })
}

pub fn to_raw(clients: &CoordinatorClients) -> RawCoordinatorClients {
    RawCoordinatorClients {
        clients: Some(u64::from(clients.clients)),
        znodes_per_client: Some(u64::from(clients.znodes_per_client)),
        rate: Some(rate::format_per_s(clients.rate_per_s)),
    }
}

#[cfg(test)]
mod tests {
    use crate::scenario::{load_str, CheckName, ClientRole, Problem};

    fn scenario(workload: &str, checks: &str) -> String {
        format!(
            "name: zk\ncluster:\n  brokers: 1\n  topics:\n    - {{name: orders, partitions: 1, replication: 1, min_insync: 1}}\nworkload:\n  producers: {{count: 1}}\n  consumers: {{groups: [{{name: g, members: 2}}]}}\n{workload}\n{checks}"
        )
    }

    #[test]
    fn coordinator_clients_come_after_every_other_client_and_bring_their_check() {
        let loaded = load_str(
            &scenario("  coordinator: {clients: 2, rate: 20/s}", ""),
            "zk.yaml",
        )
        .unwrap_or_else(|error| panic!("{error}"));
        let section = loaded.workload.coordinator.clone().expect("section");
        assert_eq!(
            (
                section.clients,
                section.znodes_per_client,
                section.rate_per_s
            ),
            (2, 2, 20)
        );
        let roles = loaded.workload.client_roles();
        assert_eq!(roles.len(), 5);
        assert_eq!(roles[3], ClientRole::CoordinatorClient { index: 0 });
        assert_eq!(roles[4], ClientRole::CoordinatorClient { index: 1 });
        assert!(loaded.checks.contains(&CheckName::CoordinatorLinearizable));
        let again = load_str(&loaded.to_yaml().expect("yaml"), "again.yaml").expect("reloads");
        assert_eq!(again, loaded);
        let without = load_str(&scenario("", ""), "zk.yaml").expect("loads");
        assert!(without.workload.coordinator.is_none());
        assert!(!without.checks.contains(&CheckName::CoordinatorLinearizable));
    }

    #[test]
    fn bad_coordinator_sections_are_refused_with_a_hint() {
        let unknown = load_str(&scenario("  coordinator: {clents: 2}", ""), "zk.yaml")
            .expect_err("unknown key");
        assert!(
            unknown.to_string().contains("did you mean `clients`?"),
            "{unknown}"
        );
        let fast = load_str(&scenario("  coordinator: {rate: 5000/s}", ""), "zk.yaml")
            .expect_err("too fast");
        assert!(
            matches!(fast.problem(), Some(Problem::OutOfRange { .. })),
            "{fast}"
        );
        let none = load_str(
            &scenario("  coordinator: {znodes_per_client: 0}", ""),
            "zk.yaml",
        )
        .expect_err("no znodes");
        assert!(none.to_string().contains("znodes_per_client"), "{none}");
        let orphan = load_str(
            &scenario("", "checks: [coordinator-linearizable]"),
            "zk.yaml",
        )
        .expect_err("check without its section");
        assert!(
            orphan.to_string().contains("needs workload.coordinator"),
            "{orphan}"
        );
    }
}
