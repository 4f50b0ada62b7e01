//! A small end-to-end demonstration that runs before the scenario harness exists: one simulated
//! node appends to a partition log with `fsync: interval:10ms` and acknowledges a record only
//! once a sync has covered it; the power fails at a seeded moment, tearing unsynced writes at
//! 64-byte blocks; the node restarts, recovers, and every acknowledged record must be there.

use engine::env::{derive_seed, Disk, DiskFaults, Mode};
use engine::storage::{BatchMeta, FsyncPolicy, Log, LogOptions, Record};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

/// Bound on simulation steps (1 ms each) for one demo run.
const STEPS_MAX: u64 = 60_000;
const APPEND_INTERVAL: Duration = Duration::from_millis(2);
const SYNC_INTERVAL: Duration = Duration::from_millis(10);

/// What one seed's run found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DemoOutcome {
    pub seed: u64,
    pub crash_at_ms: u64,
    pub acknowledged: u64,
    pub recovered: u64,
    pub truncated_bytes: u64,
}

impl DemoOutcome {
    /// Every acknowledged record survived the power loss.
    pub fn kept_promises(&self) -> bool {
        self.recovered >= self.acknowledged
    }
}

#[derive(Default)]
struct Shared {
    incarnation: u32,
    acknowledged: u64,
    recovered: Option<(u64, u64)>,
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("simulation failed: {0}")]
    Sim(String),
    #[error("the node did not recover within {STEPS_MAX} steps")]
    NoRecovery,
}

pub fn run(seed: u64) -> Result<DemoOutcome, DemoError> {
    let mut rng = ChaCha8Rng::seed_from_u64(derive_seed(seed, "demo"));
    let crash_at_ms = rng.random_range(50..400);
    let mut builder = turmoil::Builder::new();
    builder
        .rng_seed(derive_seed(seed, "turmoil"))
        .simulation_duration(Duration::from_millis(STEPS_MAX))
        .epoch(std::time::UNIX_EPOCH + Duration::from_secs(1_700_000_000));
    builder.fs().block_size(64);
    let mut sim = builder.build();
    let shared = Rc::new(RefCell::new(Shared::default()));
    let host_shared = shared.clone();
    sim.host("broker-1", move || {
        let shared = host_shared.clone();
        shared.borrow_mut().incarnation += 1;
        let first = shared.borrow().incarnation == 1;
        async move {
            let disk = Disk::open(Mode::Sim, PathBuf::from("/data"), DiskFaults::new())?;
            let options = LogOptions {
                segment_bytes_max: 4096,
                fsync: FsyncPolicy::Interval(SYNC_INTERVAL),
            };
            let mut log = Log::open(&disk, Path::new("orders-0"), options)?;
            if !first {
                let truncated = log.recovery().truncated_bytes;
                shared.borrow_mut().recovered = Some((log.end(), truncated));
                return Ok(());
            }
            for value in 0u64.. {
                let record = Record::value(value.to_be_bytes().repeat(16));
                log.append(BatchMeta::default(), vec![record])?;
                shared.borrow_mut().acknowledged = log.synced_end();
                tokio::time::sleep(APPEND_INTERVAL).await;
            }
            Ok(())
        }
    });
    for step in 0..STEPS_MAX {
        if step == crash_at_ms {
            sim.crash("broker-1");
            sim.bounce("broker-1");
        }
        if let Some((recovered, truncated_bytes)) = shared.borrow().recovered {
            let acknowledged = shared.borrow().acknowledged;
            return Ok(DemoOutcome {
                seed,
                crash_at_ms,
                acknowledged,
                recovered,
                truncated_bytes,
            });
        }
        sim.step()
            .map_err(|error| DemoError::Sim(error.to_string()))?;
    }
    Err(DemoError::NoRecovery)
}
