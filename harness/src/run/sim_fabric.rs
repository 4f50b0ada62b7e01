//! The fabric in simulation: links are turmoil's (partitions drop, holds delay), crashes,
//! restarts, loss and latency are queued for the driver (only it owns the `Sim`), and disks are
//! the system's simulated ones. Everything runs on the simulation's thread, in call order, so
//! the same schedule acts the same way on every run of a seed.

use crate::run::fabric::{Corruption, DiskSwitch, Fabric, Link, Unsynced};
use std::cell::RefCell;
use std::time::Duration;

/// Something only the driver (outside the simulation) can do.
#[derive(Clone, Debug, PartialEq)]
pub enum SimAction {
    Crash(String),
    Bounce(String),
    FailRate(f64),
    MaxLatency(Duration),
}

/// The servers' simulated disks, as the system under test made them.
pub trait SimDisks {
    /// How the host's next power loss treats its unsynced data (no-op for a diskless host).
    fn arm_power_loss(&self, host: &str, unsynced: Unsynced);
    fn on(&self, host: &str, switch: DiskSwitch);
    fn off(&self, host: &str, switch: DiskSwitch);
    fn all_off(&self);
}

pub struct SimFabric {
    actions: RefCell<Vec<SimAction>>,
    disks: Box<dyn SimDisks>,
}

impl SimFabric {
    pub fn new(disks: Box<dyn SimDisks>) -> SimFabric {
        SimFabric {
            actions: RefCell::new(Vec::new()),
            disks,
        }
    }

    /// The actions queued since the last call, in order.
    pub fn take_actions(&self) -> Vec<SimAction> {
        std::mem::take(&mut *self.actions.borrow_mut())
    }

    fn act(&self, action: SimAction) {
        self.actions.borrow_mut().push(action);
    }
}

impl Fabric for SimFabric {
    fn cut(&self, pairs: &[Link]) {
        pairs
            .iter()
            .for_each(|(x, y)| turmoil::partition(x.as_str(), y.as_str()));
    }

    fn cut_one_way(&self, pairs: &[Link]) {
        pairs
            .iter()
            .for_each(|(x, y)| turmoil::partition_oneway(x.as_str(), y.as_str()));
    }

    fn mend(&self, pairs: &[Link]) {
        pairs
            .iter()
            .for_each(|(x, y)| turmoil::repair(x.as_str(), y.as_str()));
    }

    fn mend_one_way(&self, pairs: &[Link]) {
        pairs
            .iter()
            .for_each(|(x, y)| turmoil::repair_oneway(x.as_str(), y.as_str()));
    }

    fn clog(&self, host: &str, others: &[String]) {
        others.iter().for_each(|y| turmoil::hold(host, y.as_str()));
    }

    fn unclog(&self, host: &str, others: &[String]) {
        others
            .iter()
            .for_each(|y| turmoil::release(host, y.as_str()));
    }

    // turmoil cannot freeze a host's tasks: a pause is a clog of every link of the host, which
    // is what its peers observe of a stopped process.
    fn pause(&self, host: &str, others: &[String]) {
        self.clog(host, others);
    }

    fn resume(&self, host: &str, others: &[String]) {
        self.unclog(host, others);
    }

    fn crash(&self, host: &str) {
        self.power_off(host, Unsynced::Torn);
    }

    fn power_off(&self, host: &str, unsynced: Unsynced) {
        self.disks.arm_power_loss(host, unsynced);
        self.act(SimAction::Crash(host.to_owned()));
    }

    fn corrupt(&self, host: &str, corruption: Corruption) {
        // Refused before a simulation starts (`driver::simulate`): reaching here is a bug.
        tracing::error!(
            host,
            ?corruption,
            "file corruption has no simulated mechanism"
        );
    }

    fn restart(&self, host: &str) {
        self.act(SimAction::Bounce(host.to_owned()));
    }

    fn set_loss(&self, rate: f64) {
        self.act(SimAction::FailRate(rate));
    }

    fn set_latency_max(&self, latency: Duration) {
        self.act(SimAction::MaxLatency(latency));
    }

    fn disk_on(&self, host: &str, switch: DiskSwitch) {
        self.disks.on(host, switch);
    }

    fn disk_off(&self, host: &str, switch: DiskSwitch) {
        self.disks.off(host, switch);
    }

    fn disks_all_off(&self) {
        self.disks.all_off();
    }
}
