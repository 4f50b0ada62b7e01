//! The NATS servers of a real-mode run: one `nats-server` per host, each with a configuration
//! file of ours — its name (the host's), its namespace's address, its JetStream store on its
//! data directory (our FUSE file system), `sync_interval` from the scenario's fsync policy,
//! and routes to every other server. Nothing else is pinned: the rest is NATS's default, the
//! system as its users run it.

use crate::scenario::{FsyncPolicySpec, Scenario};
use crate::systems::{Readiness, ServerCommand, ServerSettings};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

pub const CLIENT_PORT: u16 = 4222;
pub const CLUSTER_PORT: u16 = 6222;
/// The `cluster.name` every server joins.
pub const CLUSTER_NAME: &str = "faultline";
/// The server binary, from the PATH.
pub const PROGRAM: &str = "nats-server";

/// The server host for `broker-N` (N is 1-based).
pub fn node_host(id: u32) -> String {
    format!("n{id}")
}

pub fn server_hosts(scenario: &Scenario) -> Vec<String> {
    (1..=scenario.cluster.brokers).map(node_host).collect()
}

/// JetStream's `sync_interval` for the scenario's fsync policy; `None` leaves NATS's default
/// (a sync every 2 minutes), which is what `never` means here.
pub fn sync_interval(fsync: FsyncPolicySpec) -> Option<String> {
    match fsync {
        FsyncPolicySpec::Always => Some("always".into()),
        FsyncPolicySpec::Interval { interval_ms } => Some(format!("{interval_ms}ms")),
        FsyncPolicySpec::Never => None,
    }
}

/// One server's configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerConfig {
    pub name: String,
    /// Where it listens: loopback in its namespace, behind our proxy (`real::proxy`).
    pub listen_host: String,
    /// Where it is reached, and advertises itself to clients and routes.
    pub ip: String,
    pub store_dir: PathBuf,
    pub sync_interval: Option<String>,
    /// The other servers' cluster addresses.
    pub route_ips: Vec<String>,
}

impl ServerConfig {
    /// The configuration file's text (NATS's config syntax).
    pub fn render(&self) -> String {
        let sync = match &self.sync_interval {
            Some(interval) => format!("  sync_interval: {interval}\n"),
            None => String::new(),
        };
        let routes: Vec<String> = self
            .route_ips
            .iter()
            .map(|ip| format!("    \"nats-route://{ip}:{CLUSTER_PORT}\""))
            .collect();
        format!(
            "server_name: \"{name}\"\nlisten: \"{listen}:{CLIENT_PORT}\"\n\
             client_advertise: \"{ip}:{CLIENT_PORT}\"\n\
             jetstream {{\n  store_dir: \"{store}\"\n{sync}}}\n\
             cluster {{\n  name: \"{CLUSTER_NAME}\"\n  listen: \"{listen}:{CLUSTER_PORT}\"\n  \
             advertise: \"{ip}:{CLUSTER_PORT}\"\n  \
             routes: [\n{routes}\n  ]\n}}\n",
            name = self.name,
            listen = self.listen_host,
            ip = self.ip,
            store = self.store_dir.display(),
            routes = routes.join("\n"),
        )
    }
}

/// Every server's configuration, in host order.
pub fn server_configs(scenario: &Scenario, settings: &ServerSettings<'_>) -> Vec<ServerConfig> {
    let hosts = server_hosts(scenario);
    hosts
        .iter()
        .map(|host| ServerConfig {
            name: host.clone(),
            listen_host: settings.listen_host.to_owned(),
            ip: settings.addresses.ip(host),
            store_dir: settings.data_root.join(host),
            sync_interval: sync_interval(scenario.cluster.broker.fsync),
            route_ips: hosts
                .iter()
                .filter(|other| *other != host)
                .map(|other| settings.addresses.ip(other))
                .collect(),
        })
        .collect()
}

/// Where a server's configuration file goes: beside the data directories, not on them, so a
/// disk fault never touches it.
fn config_path(data_root: &Path, host: &str) -> PathBuf {
    let parent = data_root.parent().unwrap_or(data_root);
    parent.join(format!("{host}.nats.conf"))
}

/// Every server as a `nats-server -c <conf>` process.
pub fn server_commands(scenario: &Scenario, settings: &ServerSettings<'_>) -> Vec<ServerCommand> {
    server_configs(scenario, settings)
        .into_iter()
        .map(|config| {
            let path = config_path(settings.data_root, &config.name);
            let ip: IpAddr = config
                .ip
                .parse()
                .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));
            ServerCommand {
                host: config.name.clone(),
                program: PROGRAM.into(),
                args: vec!["-c".into(), path.display().to_string()],
                files: vec![(path, config.render())],
                ready: Readiness::Accepts(SocketAddr::new(ip, CLIENT_PORT)),
                ports: vec![CLIENT_PORT, CLUSTER_PORT],
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(sync_interval: Option<String>) -> ServerConfig {
        ServerConfig {
            name: "n1".into(),
            listen_host: "127.0.0.1".into(),
            ip: "10.0.0.2".into(),
            store_dir: "/data/n1".into(),
            sync_interval,
            route_ips: vec!["10.0.0.3".into(), "10.0.0.4".into()],
        }
    }

    #[test]
    fn a_server_routes_to_every_other_and_stores_on_its_data_dir() {
        let text = config(None).render();
        let expected = "server_name: \"n1\"\nlisten: \"127.0.0.1:4222\"\n\
                        client_advertise: \"10.0.0.2:4222\"\n\
                        jetstream {\n  store_dir: \"/data/n1\"\n}\n\
                        cluster {\n  name: \"faultline\"\n  listen: \"127.0.0.1:6222\"\n  \
                        advertise: \"10.0.0.2:6222\"\n  \
                        routes: [\n    \"nats-route://10.0.0.3:6222\"\n    \
                        \"nats-route://10.0.0.4:6222\"\n  ]\n}\n";
        assert_eq!(text, expected);
    }

    #[test]
    fn fsync_always_is_sync_interval_always_and_never_is_the_default() {
        assert_eq!(
            sync_interval(FsyncPolicySpec::Always).as_deref(),
            Some("always")
        );
        assert_eq!(
            sync_interval(FsyncPolicySpec::Interval { interval_ms: 500 }).as_deref(),
            Some("500ms")
        );
        assert_eq!(sync_interval(FsyncPolicySpec::Never), None);
        assert!(config(Some("always".into()))
            .render()
            .contains("jetstream {\n  store_dir: \"/data/n1\"\n  sync_interval: always\n}"));
    }
}
