//! The brokers' and coordinator's simulated disks (engine::env::DiskFaults), one per server
//! machine, created before the hosts so the nemesis reaches them across restarts.

use crate::run::fabric::{DiskSwitch, Unsynced};
use crate::run::sim_fabric::SimDisks;
use engine::env::DiskFaults;
use engine::env::{DiskFault, DiskFaultKind, Keep, PowerLoss};
use std::collections::BTreeMap;

pub struct EngineDisks(pub BTreeMap<String, DiskFaults>);

fn kind(switch: DiskSwitch) -> DiskFaultKind {
    match switch {
        DiskSwitch::FsyncError => DiskFaultKind::FsyncError,
        DiskSwitch::WriteError => DiskFaultKind::WriteError,
        DiskSwitch::ReadCorruption => DiskFaultKind::ReadCorruption,
        DiskSwitch::Full => DiskFaultKind::Full,
    }
}

impl SimDisks for EngineDisks {
    fn arm_power_loss(&self, host: &str, unsynced: Unsynced) {
        if let Some(faults) = self.0.get(host) {
            let keep = match unsynced {
                Unsynced::LoseAll => Keep::Nothing,
                Unsynced::Torn => Keep::Draw,
            };
            faults.arm_power_loss(PowerLoss {
                keep,
                ..PowerLoss::default()
            });
        }
    }

    fn on(&self, host: &str, switch: DiskSwitch) {
        let Some(faults) = self.0.get(host) else {
            return;
        };
        let fault = match switch {
            DiskSwitch::FsyncError => DiskFault::FsyncError,
            DiskSwitch::WriteError => DiskFault::WriteError,
            DiskSwitch::ReadCorruption => DiskFault::ReadCorruption,
            // Full at what it holds now: any growth fails.
            DiskSwitch::Full => DiskFault::Full {
                capacity_bytes: faults.snapshot().used_bytes,
            },
        };
        faults.inject(fault);
    }

    fn off(&self, host: &str, switch: DiskSwitch) {
        if let Some(faults) = self.0.get(host) {
            faults.lift(kind(switch));
        }
    }

    fn all_off(&self) {
        self.0.values().for_each(DiskFaults::lift_all);
    }
}
