//! The fabric in real mode (design.md §13): iptables in the servers' namespaces for links,
//! signals for crashes and pauses, `faultfs` for power loss and disk faults, and, for the
//! workload's clients (tasks of this process), abort and respawn. A step that fails is logged
//! and the run goes on: the history records what the nemesis meant, `sim.log` what happened.

use crate::real::disks::Disks;
use crate::real::firewall::Firewall;
use crate::real::proxy::{Proxy, SharedConditions};
use crate::real::servers::Servers;
use crate::real::testbed::Testbed;
use crate::run::context::RunContext;
use crate::run::fabric::{Corruption, DiskSwitch, Fabric, Link, Unsynced};
use crate::scenario::ClientRole;
use crate::systems::System;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::{Rc, Weak};
use std::time::Duration;

/// The block size a torn power loss cuts at: a page, as the kernel writes back.
const TORN_BLOCK_BYTES: &str = "4096";

/// The workload's clients: tasks on the run's thread, by host name.
pub struct Clients {
    /// Whose client code they run.
    system: Rc<dyn System>,
    roles: BTreeMap<String, (u32, ClientRole)>,
    tasks: BTreeMap<String, tokio::task::JoinHandle<()>>,
}

impl Clients {
    pub fn new(roles: &[ClientRole], system: Rc<dyn System>) -> Clients {
        let roles = roles
            .iter()
            .enumerate()
            .map(|(i, role)| {
                let client = i as u32 + 1;
                (crate::run::context::client_host(client), (client, *role))
            })
            .collect();
        Clients {
            system,
            roles,
            tasks: BTreeMap::new(),
        }
    }

    /// Starts (or starts again) a client as a new incarnation.
    pub fn start(&mut self, host: &str, ctx: &Rc<RunContext>) {
        self.stop(host);
        if let Some((client, role)) = self.roles.get(host) {
            let run = self.system.run_client(ctx.clone(), *client, *role);
            self.tasks
                .insert(host.to_owned(), tokio::task::spawn_local(run));
        }
    }

    pub fn start_all(&mut self, ctx: &Rc<RunContext>) {
        let hosts: Vec<String> = self.roles.keys().cloned().collect();
        hosts.iter().for_each(|host| self.start(host, ctx));
    }

    pub fn stop(&mut self, host: &str) {
        if let Some(task) = self.tasks.remove(host) {
            task.abort();
        }
    }

    pub fn stop_all(&mut self) {
        for (_, task) in std::mem::take(&mut self.tasks) {
            task.abort();
        }
    }

    pub fn is_client(&self, host: &str) -> bool {
        self.roles.contains_key(host)
    }
}

/// Everything a real run made, torn down in reverse order of making: clients, servers, file
/// systems, then the network.
pub struct World {
    pub clients: Clients,
    pub servers: Servers,
    /// One per server, in its namespace, in front of it.
    pub proxies: Vec<Proxy>,
    pub conditions: SharedConditions,
    pub disks: Option<Disks>,
    pub firewall: Firewall,
    pub testbed: Testbed,
    /// `data_root/<host>` is each server's data directory.
    pub data_root: std::path::PathBuf,
    /// The system's data files, which `truncate-file` and `bitflip-file` damage.
    pub data_file: DataFile,
}

/// Where a system keeps the data files a corruption fault damages.
pub struct DataFile {
    /// A directory name on the file's path below the data directory; empty: anywhere.
    pub under: &'static str,
    pub suffix: &'static str,
}

impl World {
    pub fn teardown(&mut self) {
        self.clients.stop_all();
        self.servers.kill_all();
        self.proxies.clear();
        if let Some(disks) = self.disks.as_mut() {
            disks.unmount_all();
        }
        self.testbed.teardown();
    }
}

pub struct RealFabric {
    world: RefCell<World>,
    /// Disk switches turned on and not yet off, so the heal turns off only those.
    disks_on: RefCell<std::collections::BTreeSet<(String, DiskSwitch)>>,
    ctx: RefCell<Weak<RunContext>>,
    server_hosts: Vec<String>,
}

fn log_err<E: std::fmt::Display>(what: &str, host: &str, result: Result<(), E>) {
    if let Err(error) = result {
        tracing::warn!(%error, host, "real fabric: {what} failed");
    }
}

impl RealFabric {
    pub fn new(world: World, server_hosts: Vec<String>) -> RealFabric {
        RealFabric {
            world: RefCell::new(world),
            disks_on: RefCell::default(),
            ctx: RefCell::new(Weak::new()),
            server_hosts,
        }
    }

    /// The run's context, for respawning clients (set once it exists).
    pub fn attach(&self, ctx: &Rc<RunContext>) {
        *self.ctx.borrow_mut() = Rc::downgrade(ctx);
    }

    pub fn world(&self) -> std::cell::RefMut<'_, World> {
        self.world.borrow_mut()
    }

    fn links(&self, pairs: &[Link], cut: bool) {
        let mut world = self.world.borrow_mut();
        let World {
            firewall, testbed, ..
        } = &mut *world;
        for (x, y) in pairs {
            let result = if cut {
                firewall.cut(testbed, x, y)
            } else {
                firewall.mend(testbed, x, y)
            };
            log_err(if cut { "cut" } else { "mend" }, x, result);
        }
    }

    fn both_ways(pairs: &[Link]) -> Vec<Link> {
        pairs
            .iter()
            .flat_map(|(x, y)| [(x.clone(), y.clone()), (y.clone(), x.clone())])
            .collect()
    }

    fn kill(&self, host: &str) {
        let mut world = self.world.borrow_mut();
        if world.clients.is_client(host) {
            world.clients.stop(host);
        } else {
            world.servers.kill(host);
        }
    }
}

impl Fabric for RealFabric {
    fn cut(&self, pairs: &[Link]) {
        self.links(&Self::both_ways(pairs), true);
    }

    fn cut_one_way(&self, pairs: &[Link]) {
        self.links(pairs, true);
    }

    fn mend(&self, pairs: &[Link]) {
        self.links(&Self::both_ways(pairs), false);
    }

    fn mend_one_way(&self, pairs: &[Link]) {
        self.links(pairs, false);
    }

    // The proxies hold every connection of a clogged host's address (`real::proxy`).
    fn clog(&self, host: &str, _others: &[String]) {
        let world = self.world.borrow();
        let Ok(ip) = world.testbed.ip(host).parse() else {
            return;
        };
        let mut conditions = world.conditions.lock().unwrap_or_else(|p| p.into_inner());
        *conditions.held.entry(ip).or_insert(0) += 1;
    }

    fn unclog(&self, host: &str, _others: &[String]) {
        let world = self.world.borrow();
        let Ok(ip) = world.testbed.ip(host).parse() else {
            return;
        };
        let mut conditions = world.conditions.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = conditions.held.get_mut(&ip) {
            *count -= 1;
            if *count == 0 {
                conditions.held.remove(&ip);
            }
        }
    }

    fn pause(&self, host: &str, _others: &[String]) {
        self.world.borrow_mut().servers.pause(host);
    }

    fn resume(&self, host: &str, _others: &[String]) {
        self.world.borrow_mut().servers.resume(host);
    }

    fn crash(&self, host: &str) {
        self.kill(host);
    }

    fn power_off(&self, host: &str, unsynced: Unsynced) {
        self.kill(host);
        let world = self.world.borrow();
        if let Some(disks) = world.disks.as_ref() {
            let words: &[&str] = match unsynced {
                Unsynced::LoseAll => &["power-loss"],
                Unsynced::Torn => &["power-loss", "torn", TORN_BLOCK_BYTES],
            };
            log_err("power loss", host, disks.command(host, words));
        }
    }

    fn corrupt(&self, host: &str, corruption: Corruption) {
        let world = self.world.borrow();
        let data = world.data_root.join(host);
        let kind = crate::real::corruption::FileKind {
            under: world.data_file.under,
            suffix: world.data_file.suffix,
        };
        match crate::real::corruption::damage(&data, &kind, corruption) {
            Ok(damage) => tracing::info!(host, %damage, "real fabric: data file damaged"),
            Err(error) => tracing::warn!(%error, host, "real fabric: corruption failed"),
        }
    }

    fn restart(&self, host: &str) {
        let ctx = self.ctx.borrow().upgrade();
        let mut world = self.world.borrow_mut();
        if world.clients.is_client(host) {
            if let Some(ctx) = ctx {
                world.clients.start(host, &ctx);
            }
        } else {
            log_err("restart", host, world.servers.start(host, false));
        }
    }

    fn set_loss(&self, rate: f64) {
        let mut world = self.world.borrow_mut();
        let World {
            firewall, testbed, ..
        } = &mut *world;
        let result = firewall.set_loss(testbed, &self.server_hosts, rate);
        log_err("loss", "every server", result);
    }

    fn set_latency_max(&self, latency: Duration) {
        let world = self.world.borrow();
        let mut conditions = world.conditions.lock().unwrap_or_else(|p| p.into_inner());
        conditions.latency_ms.1 = latency.as_millis() as u64;
    }

    fn disk_on(&self, host: &str, switch: DiskSwitch) {
        self.disks_on.borrow_mut().insert((host.to_owned(), switch));
        self.disk(host, switch, "on");
    }

    fn disk_off(&self, host: &str, switch: DiskSwitch) {
        self.disks_on
            .borrow_mut()
            .remove(&(host.to_owned(), switch));
        self.disk(host, switch, "off");
    }

    fn disks_all_off(&self) {
        let on = std::mem::take(&mut *self.disks_on.borrow_mut());
        for (host, switch) in on {
            self.disk(&host, switch, "off");
        }
    }
}

impl RealFabric {
    fn disk(&self, host: &str, switch: DiskSwitch, state: &str) {
        let world = self.world.borrow();
        let Some(disks) = world.disks.as_ref() else {
            return;
        };
        let command = match switch {
            DiskSwitch::FsyncError => "fsync-eio",
            DiskSwitch::Full => "disk-full",
            DiskSwitch::WriteError => "write-eio",
            DiskSwitch::ReadCorruption => "read-corrupt",
        };
        log_err("disk fault", host, disks.command(host, &[command, state]));
    }
}
