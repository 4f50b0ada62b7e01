//! The network of a real-mode run: one bridge in the root namespace and, per server, a network
//! namespace joined to it by a veth pair. Every name carries the run's tag (`fl<pid>`), so a
//! run removes only what it made, and the next run on the machine removes what a killed run
//! (SIGKILL: no code of ours ran) left behind — only tags whose process is gone.
//!
//! Addresses: 10.213.S.0/24 with S derived from our pid; the clients (this process) use the
//! bridge's address .1, server i (0-based) uses .(10 + i). Nothing outside our namespaces and
//! that subnet is ever addressed (design.md §13).

use crate::real::shell::{self, ShellError};
use std::collections::BTreeMap;

/// First host number of the servers in the subnet.
const SERVER_HOST_FIRST: usize = 10;
/// Most servers a testbed holds (addresses .10 to .209).
pub const SERVERS_MAX: usize = 200;

pub struct Testbed {
    tag: String,
    subnet: u8,
    servers: Vec<String>,
    /// What was made, for the teardown: namespaces, then the bridge.
    namespaces: Vec<String>,
    bridge_made: bool,
}

fn tag_of(pid: u32) -> String {
    format!("fl{pid}")
}

fn pid_alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// The pid in a name made by [`Testbed`], e.g. `fl1234-broker-1` or `fl1234b`.
fn pid_in(name: &str) -> Option<u32> {
    let digits: String = name
        .strip_prefix("fl")?
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// The third octet of a 10.213.S.0/24 no interface of this machine uses, starting from one
/// derived from `pid` (two runs at once must not share a subnet). 0 and 255 are never used.
fn free_subnet(pid: u32) -> u8 {
    let used = shell::run("ip", &["-o", "-4", "addr", "show"]).unwrap_or_default();
    let start = pid % 254;
    (0..254)
        .map(|step| ((start + step) % 254 + 1) as u8)
        .find(|subnet| !used.contains(&format!("10.213.{subnet}.")))
        .unwrap_or((start + 1) as u8)
}

/// Removes namespaces and bridges of earlier runs whose process is gone.
pub fn sweep_stale() {
    let own = std::process::id();
    if let Ok(list) = shell::run("ip", &["netns", "list"]) {
        for line in list.lines() {
            let name = line.split_whitespace().next().unwrap_or_default();
            if let Some(pid) = pid_in(name) {
                if pid != own && !pid_alive(pid) {
                    tracing::warn!(namespace = name, "removing a namespace a killed run left");
                    shell::run_quietly("ip", &["netns", "del", name]);
                }
            }
        }
    }
    if let Ok(list) = shell::run("ip", &["-o", "link", "show"]) {
        for line in list.lines() {
            let name = line.split(':').nth(1).unwrap_or_default().trim();
            let name = name.split('@').next().unwrap_or_default();
            let ours = pid_in(name).is_some_and(|pid| {
                let rest = &name[2 + pid.to_string().len()..];
                pid != own && !pid_alive(pid) && (rest == "b" || rest.starts_with('v'))
            });
            if ours {
                tracing::warn!(link = name, "removing a link a killed run left");
                shell::run_quietly("ip", &["link", "del", name]);
            }
        }
    }
}

/// Every namespace and bridge a run of this process made that still exists (for the tests and
/// the end-of-run check).
pub fn leftovers(pid: u32) -> Vec<String> {
    let tag = tag_of(pid);
    let mut found = Vec::new();
    if let Ok(list) = shell::run("ip", &["netns", "list"]) {
        for line in list.lines() {
            let name = line.split_whitespace().next().unwrap_or_default();
            if name.starts_with(&format!("{tag}-")) {
                found.push(format!("namespace {name}"));
            }
        }
    }
    if let Ok(list) = shell::run("ip", &["-o", "link", "show"]) {
        for line in list.lines() {
            let name = line.split(':').nth(1).unwrap_or_default().trim();
            let name = name.split('@').next().unwrap_or_default();
            if name.starts_with(&tag) && name[tag.len()..].starts_with(['b', 'v', 'p']) {
                found.push(format!("link {name}"));
            }
        }
    }
    found
}

/// Removes everything [`leftovers`] finds (the signal watcher's cleanup: it runs on another
/// thread and cannot reach the run's `Testbed`): first the processes in our namespaces (they
/// would die with us, but a namespace outlives its name while one runs in it), then the
/// namespaces, then each link by name — a veth whose peer's namespace is still being torn down
/// would otherwise linger.
pub fn remove_leftovers(pid: u32) {
    for what in leftovers(pid) {
        if let Some(namespace) = what.strip_prefix("namespace ") {
            if let Ok(pids) = shell::run("ip", &["netns", "pids", namespace]) {
                for pid in pids
                    .split_whitespace()
                    .filter_map(|p| p.parse::<i32>().ok())
                {
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(pid),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                }
            }
            shell::run_quietly("ip", &["netns", "del", namespace]);
        }
    }
    for what in leftovers(pid) {
        if let Some(link) = what.strip_prefix("link ") {
            shell::run_quietly("ip", &["link", "del", link]);
        }
    }
}

impl Testbed {
    /// Makes the bridge and one namespace per server. On error, what was made is removed.
    pub fn create(servers: &[String]) -> Result<Testbed, ShellError> {
        assert!(servers.len() <= SERVERS_MAX, "too many servers");
        let pid = std::process::id();
        let mut testbed = Testbed {
            tag: tag_of(pid),
            subnet: free_subnet(pid),
            servers: servers.to_vec(),
            namespaces: Vec::new(),
            bridge_made: false,
        };
        testbed.build()?;
        Ok(testbed)
    }

    fn bridge(&self) -> String {
        format!("{}b", self.tag)
    }

    fn build(&mut self) -> Result<(), ShellError> {
        let bridge = self.bridge();
        shell::run("ip", &["link", "add", &bridge, "type", "bridge"])?;
        self.bridge_made = true;
        let client_cidr = format!("{}/24", self.client_ip());
        shell::run("ip", &["addr", "add", &client_cidr, "dev", &bridge])?;
        shell::run("ip", &["link", "set", &bridge, "up"])?;
        for (i, host) in self.servers.clone().iter().enumerate() {
            let namespace = self.namespace(host);
            shell::run("ip", &["netns", "add", &namespace])?;
            self.namespaces.push(namespace.clone());
            let outside = format!("{}v{i}", self.tag);
            let inside = format!("{}p{i}", self.tag);
            shell::run(
                "ip",
                &[
                    "link", "add", &outside, "type", "veth", "peer", "name", &inside,
                ],
            )?;
            shell::run("ip", &["link", "set", &outside, "master", &bridge])?;
            shell::run("ip", &["link", "set", &outside, "up"])?;
            shell::run("ip", &["link", "set", &inside, "netns", &namespace])?;
            shell::run(
                "ip",
                &["-n", &namespace, "link", "set", &inside, "name", "eth0"],
            )?;
            let cidr = format!("{}/24", self.server_ip(i));
            shell::run(
                "ip",
                &["-n", &namespace, "addr", "add", &cidr, "dev", "eth0"],
            )?;
            shell::run("ip", &["-n", &namespace, "link", "set", "eth0", "up"])?;
            shell::run("ip", &["-n", &namespace, "link", "set", "lo", "up"])?;
        }
        Ok(())
    }

    /// The namespace a server runs in.
    pub fn namespace(&self, host: &str) -> String {
        format!("{}-{host}", self.tag)
    }

    pub fn is_server(&self, host: &str) -> bool {
        self.servers.iter().any(|server| server == host)
    }

    fn server_ip(&self, index: usize) -> String {
        format!("10.213.{}.{}", self.subnet, SERVER_HOST_FIRST + index)
    }

    /// Where the clients (this process, in the root namespace) are.
    pub fn client_ip(&self) -> String {
        format!("10.213.{}.1", self.subnet)
    }

    /// `host`'s address: a server's own, or the clients' shared one.
    pub fn ip(&self, host: &str) -> String {
        match self.servers.iter().position(|server| server == host) {
            Some(index) => self.server_ip(index),
            None => self.client_ip(),
        }
    }

    /// Every server's address, by host name.
    pub fn addresses(&self) -> BTreeMap<String, String> {
        self.servers
            .iter()
            .map(|host| (host.clone(), self.ip(host)))
            .collect()
    }

    /// Removes every veth pair, namespace (its firewall rules go with it) and the bridge. The
    /// veths go first and by name: a namespace outlives its name while sockets of a killed
    /// server still pin it, and its veth would linger with it.
    pub fn teardown(&mut self) {
        for i in 0..self.namespaces.len() {
            shell::run_quietly("ip", &["link", "del", &format!("{}v{i}", self.tag)]);
        }
        for namespace in self.namespaces.drain(..).rev() {
            shell::run_quietly("ip", &["netns", "del", &namespace]);
        }
        if std::mem::take(&mut self.bridge_made) {
            shell::run_quietly("ip", &["link", "del", &self.bridge()]);
        }
    }
}

impl Drop for Testbed {
    fn drop(&mut self) {
        self.teardown();
    }
}

impl crate::systems::Addresses for Testbed {
    fn ip(&self, host: &str) -> String {
        Testbed::ip(self, host)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_pid() {
        assert_eq!(pid_in("fl1234-broker-1"), Some(1234));
        assert_eq!(pid_in("fl77b"), Some(77));
        assert_eq!(pid_in("flannel"), None);
        assert_eq!(pid_in("docker0"), None);
    }
}
