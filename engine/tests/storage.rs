//! The partition log under power loss, torn writes and disk faults, on the simulated disk
//! (turmoil, `crash` + `bounce`, with the machine's page cache drawing what a power loss keeps)
//! and on a real temporary directory.

use engine::bugs::{Bug, Bugs};
use engine::env::{Disk, DiskError, DiskFault, DiskFaultKind, DiskFaults, Keep, Mode, PowerLoss};
use engine::storage::{BatchMeta, FsyncPolicy, GroupSync, Log, LogOptions, Record, StorageError};
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::cell::RefCell;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

const SIM_ROOT: &str = "/data";
const LOG_DIR: &str = "p0";
/// Small segments so the generated histories roll several times.
const SEGMENT_BYTES_TEST: u64 = 600;
/// A power loss keeps or loses blocks of this size (small, so small batches straddle blocks).
const TORN_BLOCK_BYTES: u64 = 32;
/// Bound on simulation steps while waiting for a host to reach a point.
const SIM_STEPS_MAX: usize = 100_000;

#[derive(Clone, Debug)]
enum Op {
    Append(Vec<Vec<u8>>),
    Sync,
    /// A group commit: one sync, the recovery point trailing by one group (see
    /// `storage::recovery_point`) until a group finds nothing to sync.
    SyncGroup,
    /// Truncate to this fraction (per mille) of the current end.
    Truncate(u16),
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => prop::collection::vec(prop::collection::vec(any::<u8>(), 0..120), 1..5).prop_map(Op::Append),
        3 => Just(Op::Sync),
        2 => Just(Op::SyncGroup),
        1 => (0u16..1000).prop_map(Op::Truncate),
    ]
}

/// What the log promised: every record appended (by offset) and how many are durable.
#[derive(Clone, Debug, Default)]
struct Model {
    records: Vec<Vec<u8>>,
    synced_end: u64,
}

fn options() -> LogOptions {
    LogOptions {
        segment_bytes_max: SEGMENT_BYTES_TEST,
        fsync: FsyncPolicy::Never,
    }
}

fn apply(log: &mut Log, model: &mut Model, op: &Op) {
    match op {
        Op::Append(values) => {
            let records = values.iter().map(|v| Record::value(v.clone())).collect();
            let info = log.append(BatchMeta::default(), records).expect("append");
            assert_eq!(
                info.base_offset,
                model.records.len() as u64,
                "offsets are contiguous"
            );
            model.records.extend(values.iter().cloned());
            assert_eq!(log.end(), model.records.len() as u64);
        }
        Op::Sync => {
            log.sync().expect("sync");
            model.synced_end = model.records.len() as u64;
        }
        Op::SyncGroup => {
            log.sync_group().expect("group sync");
            model.synced_end = model.records.len() as u64;
        }
        Op::Truncate(per_mille) => {
            let target = log.end() * u64::from(*per_mille) / 1000;
            let end = log.truncate_to(target).expect("truncate");
            assert!(
                end <= target,
                "truncation never keeps records at or past its target"
            );
            model.records.truncate(end as usize);
            model.synced_end = model.synced_end.min(end);
        }
    }
    assert!(log.synced_end() >= model.synced_end.min(log.end()));
}

/// The recovered log holds every synced record, intact, and otherwise only a prefix of what was
/// appended: nothing after a damaged batch, no gaps, no foreign bytes.
fn check_recovered(log: &Log, model: &Model) -> Result<(), String> {
    let end = log.end();
    if end < model.synced_end {
        return Err(format!(
            "lost synced records: end {end} < synced {}",
            model.synced_end
        ));
    }
    if end > model.records.len() as u64 {
        return Err("recovered more records than were appended".into());
    }
    let read: Vec<(u64, Vec<u8>)> = log
        .read_records(0, u64::MAX)
        .map_err(|error| format!("read after recovery: {error}"))?
        .into_iter()
        .map(|(o, r)| (o, r.value))
        .collect();
    if read.len() as u64 != end {
        return Err(format!(
            "read {} records, the log ends at {end}",
            read.len()
        ));
    }
    for (i, (offset, value)) in read.iter().enumerate() {
        if *offset != i as u64 || value != &model.records[i] {
            return Err(format!("record {i} is not intact"));
        }
    }
    Ok(())
}

fn sim_builder(seed: u64) -> turmoil::Sim<'static> {
    let mut builder = turmoil::Builder::new();
    builder
        .rng_seed(seed)
        .simulation_duration(Duration::from_secs(3600));
    builder.build()
}

fn sim_disk(machine: &DiskFaults) -> Disk {
    Disk::open(Mode::Sim, PathBuf::from(SIM_ROOT), machine.clone()).expect("open sim disk")
}

/// How a crash test loses power, and which planted bugs the recovering log runs with.
#[derive(Clone, Copy, Debug)]
struct CrashCase {
    keep: Keep,
    bugs: Bugs,
}

const DRAWN: CrashCase = CrashCase {
    keep: Keep::Draw,
    bugs: Bugs::none(),
};

fn step_until(sim: &mut turmoil::Sim<'_>, mut done: impl FnMut() -> bool) {
    for _ in 0..SIM_STEPS_MAX {
        if done() {
            return;
        }
        sim.step().expect("simulation step");
    }
    panic!("the host did not reach the expected point within {SIM_STEPS_MAX} steps");
}

/// Runs `ops` on the simulated disk, loses power, restarts, recovers, and checks the result.
/// Returns the recovered end and the disk image digest.
fn crash_and_recover(seed: u64, ops: Vec<Op>) -> (u64, u64) {
    match crash_and_recover_with(seed, ops, DRAWN) {
        Ok(outcome) => outcome,
        Err(error) => panic!("seed {seed}: {error}"),
    }
}

fn crash_and_recover_with(seed: u64, ops: Vec<Op>, case: CrashCase) -> Result<(u64, u64), String> {
    let mut sim = sim_builder(seed);
    // The machine outlives the node's processes: one page cache for both incarnations.
    let machine = DiskFaults::with_seed(seed);
    let model = Rc::new(RefCell::new(Model::default()));
    let incarnation = Rc::new(RefCell::new(0u32));
    let before_crash = Rc::new(RefCell::new(false));
    type Outcome = Rc<RefCell<Option<Result<(u64, u64), String>>>>;
    let outcome: Outcome = Rc::new(RefCell::new(None));
    {
        let (model, incarnation, before_crash, outcome, machine) = (
            model.clone(),
            incarnation.clone(),
            before_crash.clone(),
            outcome.clone(),
            machine.clone(),
        );
        sim.host("node", move || {
            let (model, ops, before_crash, outcome, machine) = (
                model.clone(),
                ops.clone(),
                before_crash.clone(),
                outcome.clone(),
                machine.clone(),
            );
            *incarnation.borrow_mut() += 1;
            let first = *incarnation.borrow() == 1;
            async move {
                let disk = sim_disk(&machine);
                let opened =
                    Log::open_keeping_with(&disk, Path::new(LOG_DIR), options(), 0, case.bugs);
                let mut log = match opened {
                    Ok(log) => log,
                    Err(error) => {
                        *outcome.borrow_mut() = Some(Err(format!("open: {error}")));
                        return Ok(());
                    }
                };
                if first {
                    for op in &ops {
                        apply(&mut log, &mut model.borrow_mut(), op);
                        tokio::task::yield_now().await;
                    }
                    *before_crash.borrow_mut() = true;
                    // Wait for the power to go out.
                    std::future::pending::<()>().await;
                } else {
                    if let Err(error) = check_recovered(&log, &model.borrow()) {
                        *outcome.borrow_mut() = Some(Err(error));
                        return Ok(());
                    }
                    // The log keeps working after recovery: offsets continue where it ended.
                    let end = log.end();
                    let info =
                        log.append(BatchMeta::default(), vec![Record::value(b"after".to_vec())]);
                    assert_eq!(info.expect("append after recovery").base_offset, end);
                    log.sync().expect("sync after recovery");
                    *outcome.borrow_mut() = Some(Ok((end, image_digest(&disk))));
                }
                Ok(())
            }
        });
    }
    step_until(&mut sim, || *before_crash.borrow());
    machine.arm_power_loss(PowerLoss {
        keep: case.keep,
        block_bytes: TORN_BLOCK_BYTES,
    });
    sim.crash("node");
    sim.bounce("node");
    step_until(&mut sim, || outcome.borrow().is_some());
    let result = outcome.borrow_mut().take().expect("outcome");
    result
}

/// FNV-1a over every file's path, length and bytes, in path order.
fn image_digest(disk: &Disk) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for byte in bytes {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    for (path, bytes) in disk.image().expect("disk image") {
        eat(path.to_string_lossy().as_bytes());
        eat(&(bytes.len() as u64).to_be_bytes());
        eat(&bytes);
    }
    hash
}

/// Recovery proptest case count, named so the closing note can quote it.
const RECOVERY_CASES: u32 = 256;

proptest! {
    #![proptest_config(ProptestConfig { cases: RECOVERY_CASES, ..ProptestConfig::default() })]

    #[test]
    fn power_loss_keeps_synced_records_and_cuts_the_damaged_tail(
        seed in any::<u64>(),
        ops in prop::collection::vec(op_strategy(), 1..40),
    ) {
        crash_and_recover(seed, ops);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn real_directory_reopen_keeps_every_record(ops in prop::collection::vec(op_strategy(), 1..40)) {
        let dir = tempfile::tempdir().expect("tempdir");
        let disk = Disk::open(Mode::Real, dir.path().to_path_buf(), DiskFaults::new()).expect("disk");
        let mut model = Model::default();
        {
            let mut log = Log::open(&disk, Path::new(LOG_DIR), options()).expect("open");
            for op in &ops {
                apply(&mut log, &mut model, op);
            }
        }
        // No crash: a clean reopen must find everything, synced or not.
        let log = Log::open(&disk, Path::new(LOG_DIR), options()).expect("reopen");
        model.synced_end = model.records.len() as u64;
        prop_assert_eq!(check_recovered(&log, &model), Ok(()));
        prop_assert_eq!(log.recovery().truncated_bytes, 0);
    }
}

/// A deterministic history of appends, syncs and truncations for `seed`.
fn seeded_ops(seed: u64) -> Vec<Op> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..60)
        .map(|_| match rng.random_range(0..10) {
            0..=5 => {
                let count = rng.random_range(1..4);
                Op::Append(
                    (0..count)
                        .map(|_| vec![rng.random(); rng.random_range(1..80)])
                        .collect(),
                )
            }
            6..=8 => Op::Sync,
            _ => Op::Truncate(rng.random_range(500..1000)),
        })
        .collect()
}

/// Seeds the planted-bug comparison runs; the catch must come well within them.
const BUG_SEEDS: u64 = 64;

/// The planted bug `recovery-trusts-lengths` (recovery skips the checksum of batches past the
/// recovery point) is caught by the crash states a real disk produces — later blocks kept after
/// lost ones, holes as zeros — and is invisible to prefix-only crash states, where a damaged
/// batch is always the file's torn end and its length alone gives it away.
#[test]
fn recovery_trusting_lengths_is_caught_by_drawn_crash_states_and_not_by_prefixes() {
    let with_bug = |keep: Keep| CrashCase {
        keep,
        bugs: Bugs::none().with(Bug::RecoveryTrustsLengths),
    };
    let caught = |keep: Keep| -> Vec<u64> {
        (0..BUG_SEEDS)
            .filter(|&seed| crash_and_recover_with(seed, seeded_ops(seed), with_bug(keep)).is_err())
            .collect()
    };
    let prefix = caught(Keep::PrefixOnly);
    assert!(
        prefix.is_empty(),
        "prefix-only crash states caught it: {prefix:?}"
    );
    let drawn = caught(Keep::Draw);
    assert!(!drawn.is_empty(), "drawn crash states never caught it");
    // Without the bug the same drawn crash states recover correctly.
    for seed in drawn {
        crash_and_recover_with(seed, seeded_ops(seed), DRAWN).expect("correct recovery");
    }
}

/// The page cache in one host: reads see unsynced data, a clean restart keeps it, a power loss
/// that keeps nothing drops it, and synced data survives the power loss.
#[test]
fn unsynced_data_survives_a_clean_restart_but_not_a_power_loss() {
    let mut sim = sim_builder(3);
    let machine = DiskFaults::with_seed(3);
    let seen: Rc<RefCell<Vec<Vec<u8>>>> = Rc::new(RefCell::new(Vec::new()));
    {
        let (machine, seen) = (machine.clone(), seen.clone());
        sim.host("node", move || {
            let (machine, seen) = (machine.clone(), seen.clone());
            async move {
                let disk = sim_disk(&machine);
                let path = Path::new("f");
                if !disk.exists(path) {
                    let mut file = disk.create(path).expect("create");
                    file.append(b"synced;").expect("append");
                    file.sync().expect("sync");
                    file.append(b"cached").expect("append");
                    assert_eq!(disk.read(path).expect("read"), b"synced;cached");
                    assert_eq!(machine.dirty_bytes(), 6);
                }
                seen.borrow_mut().push(disk.read(path).expect("read"));
                std::future::pending::<()>().await;
                Ok(())
            }
        });
    }
    step_until(&mut sim, || seen.borrow().len() == 1);
    sim.bounce("node");
    step_until(&mut sim, || seen.borrow().len() == 2);
    machine.arm_power_loss(PowerLoss {
        keep: Keep::Nothing,
        block_bytes: TORN_BLOCK_BYTES,
    });
    sim.crash("node");
    sim.bounce("node");
    step_until(&mut sim, || seen.borrow().len() == 3);
    assert_eq!(
        *seen.borrow(),
        vec![
            b"synced;cached".to_vec(),
            b"synced;cached".to_vec(),
            b"synced;".to_vec()
        ]
    );
    assert_eq!(machine.dirty_bytes(), 0);
}

#[test]
fn same_seed_leaves_a_byte_identical_disk() {
    let ops = seeded_ops;
    let first = crash_and_recover(7, ops(7));
    let second = crash_and_recover(7, ops(7));
    assert_eq!(first, second, "same seed, same disk image");
    let other = crash_and_recover(8, ops(8));
    assert_ne!(first.1, other.1, "the digest depends on what was written");
}

#[test]
fn truncation_drops_a_straddling_batch_whole_and_survives_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let disk = Disk::open(Mode::Real, dir.path().to_path_buf(), DiskFaults::new()).expect("disk");
    let mut log = Log::open(&disk, Path::new(LOG_DIR), options()).expect("open");
    for batch in 0..20u8 {
        let records = (0..3).map(|i| Record::value(vec![batch ^ i; 50])).collect();
        log.append(BatchMeta::default(), records).expect("append");
    }
    assert!(log.segment_count() > 3, "small segments roll");
    // Offset 31 sits inside the batch [30, 33): the whole batch goes.
    assert_eq!(log.truncate_to(31).expect("truncate"), 30);
    assert_eq!(log.end(), 30);
    let appended = log
        .append(BatchMeta::default(), vec![Record::value(b"x".to_vec())])
        .expect("append");
    assert_eq!(appended.base_offset, 30);
    drop(log);
    let log = Log::open(&disk, Path::new(LOG_DIR), options()).expect("reopen");
    assert_eq!(log.end(), 31);
    let read = log.read_records(29, u64::MAX).expect("read");
    assert_eq!(
        read.iter().map(|(o, _)| *o).collect::<Vec<_>>(),
        vec![29, 30]
    );
    assert_eq!(read[1].1.value, b"x".to_vec());
}

// ---- fault injector: one body per property, run on both sides of the seam ----

fn run_real<F, Fut>(body: F)
where
    F: FnOnce(Disk) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().expect("tempdir");
    let disk = Disk::open(Mode::Real, dir.path().to_path_buf(), DiskFaults::new()).expect("disk");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(body(disk));
}

fn run_sim<F, Fut>(body: F)
where
    F: FnOnce(Disk) -> Fut + 'static,
    Fut: Future<Output = ()> + 'static,
{
    let mut sim = sim_builder(1);
    sim.client("test", async move {
        body(sim_disk(&DiskFaults::new())).await;
        Ok(())
    });
    sim.run().expect("simulation");
}

fn one(value: &[u8]) -> Vec<Record> {
    vec![Record::value(value.to_vec())]
}

async fn fsync_error_is_never_reported_durable(disk: Disk) {
    let always = LogOptions {
        fsync: FsyncPolicy::Always,
        ..options()
    };
    let mut log = Log::open(&disk, Path::new(LOG_DIR), always).expect("open");
    log.append(BatchMeta::default(), one(b"durable"))
        .expect("append");
    assert_eq!(log.synced_end(), 1);

    disk.faults().inject(DiskFault::FsyncError);
    let failed = log.append(BatchMeta::default(), one(b"doubtful"));
    assert!(
        matches!(failed, Err(StorageError::Disk(DiskError::Io { .. }))),
        "{failed:?}"
    );
    assert_eq!(
        log.synced_end(),
        1,
        "a failed sync does not move the durable end"
    );
    assert!(
        log.offline_reason().is_some(),
        "after a failed fsync the log stops trusting the OS"
    );
    let refused = log.append(BatchMeta::default(), one(b"more"));
    assert!(
        matches!(refused, Err(StorageError::Offline { .. })),
        "{refused:?}"
    );

    disk.faults().lift(DiskFaultKind::FsyncError);
    drop(log);
    let log = Log::open(&disk, Path::new(LOG_DIR), always).expect("reopen");
    assert!(log.end() >= 1);
    assert_eq!(
        log.read_records(0, u64::MAX).expect("read")[0].1.value,
        b"durable".to_vec()
    );

    // Under `never`, an explicit sync reports the same failure.
    let never = LogOptions {
        fsync: FsyncPolicy::Never,
        ..options()
    };
    let mut log = Log::open(&disk, Path::new("p1"), never).expect("open p1");
    log.append(BatchMeta::default(), one(b"a")).expect("append");
    disk.faults().inject(DiskFault::FsyncError);
    assert!(log.sync().is_err());
    assert_eq!(log.synced_end(), 0);
    disk.faults().lift_all();
}

async fn disk_full_is_a_typed_error_and_the_log_stays_usable(disk: Disk) {
    let mut log = Log::open(&disk, Path::new(LOG_DIR), options()).expect("open");
    log.append(BatchMeta::default(), one(b"first"))
        .expect("append");
    let used_bytes = disk.faults().snapshot().used_bytes;
    disk.faults().inject(DiskFault::Full {
        capacity_bytes: used_bytes + 10,
    });
    let full = log.append(BatchMeta::default(), one(&[7u8; 200]));
    assert!(
        matches!(full, Err(StorageError::Disk(DiskError::Full { .. }))),
        "{full:?}"
    );
    assert!(
        log.offline_reason().is_none(),
        "a refused write leaves the log usable"
    );
    assert_eq!(log.end(), 1);
    disk.faults().lift(DiskFaultKind::Full);
    let info = log
        .append(BatchMeta::default(), one(b"second"))
        .expect("append after space frees");
    assert_eq!(info.base_offset, 1);
    log.sync().expect("sync");
    drop(log);
    let log = Log::open(&disk, Path::new(LOG_DIR), options()).expect("reopen");
    assert_eq!(log.end(), 2);
    assert_eq!(log.recovery().truncated_bytes, 0);
}

async fn write_error_fails_the_append_only(disk: Disk) {
    let mut log = Log::open(&disk, Path::new(LOG_DIR), options()).expect("open");
    disk.faults().inject(DiskFault::WriteError);
    assert!(log.append(BatchMeta::default(), one(b"x")).is_err());
    disk.faults().lift(DiskFaultKind::WriteError);
    assert_eq!(
        log.append(BatchMeta::default(), one(b"y"))
            .expect("append")
            .base_offset,
        0
    );
}

async fn read_corruption_is_caught_by_the_checksum(disk: Disk) {
    let mut log = Log::open(&disk, Path::new(LOG_DIR), options()).expect("open");
    log.append(
        BatchMeta::default(),
        one(b"payload that must not come back altered"),
    )
    .expect("append");
    disk.faults().inject(DiskFault::ReadCorruption);
    let read = log.read(0, u64::MAX);
    assert!(
        matches!(read, Err(StorageError::Corrupt { .. })),
        "{read:?}"
    );
    disk.faults().lift(DiskFaultKind::ReadCorruption);
    assert_eq!(log.read(0, u64::MAX).expect("read").len(), 1);
}

#[test]
fn fsync_error_real() {
    run_real(fsync_error_is_never_reported_durable);
}

#[test]
fn fsync_error_sim() {
    run_sim(fsync_error_is_never_reported_durable);
}

#[test]
fn disk_full_real() {
    run_real(disk_full_is_a_typed_error_and_the_log_stays_usable);
}

#[test]
fn disk_full_sim() {
    run_sim(disk_full_is_a_typed_error_and_the_log_stays_usable);
}

#[test]
fn write_error_real() {
    run_real(write_error_fails_the_append_only);
}

#[test]
fn write_error_sim() {
    run_sim(write_error_fails_the_append_only);
}

#[test]
fn read_corruption_real() {
    run_real(read_corruption_is_caught_by_the_checksum);
}

#[test]
fn read_corruption_sim() {
    run_sim(read_corruption_is_caught_by_the_checksum);
}

async fn a_failing_read_is_never_mistaken_for_a_torn_tail(disk: Disk) {
    let mut log = Log::open(&disk, Path::new(LOG_DIR), options()).expect("open");
    for i in 0..5u8 {
        log.append(BatchMeta::default(), one(&[i; 40]))
            .expect("append");
    }
    log.sync().expect("sync");
    let synced_end = log.synced_end();
    drop(log);
    disk.faults().inject(DiskFault::ReadCorruption);
    let refused = Log::open_keeping(&disk, Path::new(LOG_DIR), options(), synced_end);
    assert!(
        matches!(
            refused,
            Err(StorageError::Corrupt { .. } | StorageError::CorruptRecoveryPoint { .. })
        ),
        "refuses to cut synced records"
    );
    // A process that starts afresh knows nothing of what it synced: the log's own recovery
    // point still keeps it from taking failing reads for a torn tail (a broker restarted
    // under read corruption once cut its whole offsets partition this way).
    let refused = Log::open(&disk, Path::new(LOG_DIR), options());
    assert!(
        matches!(
            refused,
            Err(StorageError::Corrupt { .. } | StorageError::CorruptRecoveryPoint { .. })
        ),
        "a fresh open refuses too"
    );
    disk.faults().lift(DiskFaultKind::ReadCorruption);
    let log = Log::open_keeping(&disk, Path::new(LOG_DIR), options(), synced_end).expect("reopen");
    assert_eq!(log.end(), 5, "nothing was cut while the reads were failing");
}

#[test]
fn failing_read_real() {
    run_real(a_failing_read_is_never_mistaken_for_a_torn_tail);
}

#[test]
fn failing_read_sim() {
    run_sim(a_failing_read_is_never_mistaken_for_a_torn_tail);
}

/// A group sync waited for outside the broker's lock: a truncation and new appends that come
/// in before it ends must not count as synced (what lies past the cut is other data, which the
/// sync may not have covered), and the recovery point never claims more than the log holds.
#[test]
fn a_group_sync_spanning_a_truncation_counts_nothing_past_the_cut() {
    let root = tempfile::tempdir().expect("temporary directory");
    let disk = Disk::open(Mode::Real, root.path().to_path_buf(), DiskFaults::new()).expect("disk");
    let options = LogOptions {
        segment_bytes_max: SEGMENT_BYTES_TEST,
        fsync: FsyncPolicy::Always,
    };
    let mut log = Log::open(&disk, Path::new(LOG_DIR), options).expect("open");
    for value in [b"a", b"b", b"c"] {
        log.append_unsynced(BatchMeta::default(), one(value))
            .expect("append");
    }
    log.sync_group().expect("first group");
    log.append_unsynced(BatchMeta::default(), one(b"d"))
        .expect("append");
    // The second group begins at end 4 (its point record claims 3, the first group's end).
    let mut groups = [log.begin_group_sync().expect("begins").expect("a group")];
    assert_eq!(log.truncate_to(2).expect("cut"), 2);
    log.append_unsynced(BatchMeta::default(), one(b"x"))
        .expect("append");
    log.append_unsynced(BatchMeta::default(), one(b"y"))
        .expect("append");
    GroupSync::finish_all(&mut groups);
    let [group] = groups;
    log.finish_group_sync(group).expect("finishes");
    assert_eq!(
        (log.synced_end(), log.end()),
        (2, 4),
        "nothing past the cut"
    );
    log.sync_group().expect("the next group");
    assert_eq!(log.synced_end(), 4);
    drop(log);
    let log = Log::open(&disk, Path::new(LOG_DIR), options).expect("reopens");
    let values: Vec<Vec<u8>> = log
        .batches()
        .expect("reads")
        .into_iter()
        .flat_map(|batch| batch.records.into_iter().map(|record| record.value))
        .collect();
    assert_eq!(values, [b"a", b"b", b"x", b"y"].map(|v| v.to_vec()));
}
