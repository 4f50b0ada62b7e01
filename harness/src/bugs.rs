//! Which scenario catches each planted bug (`faultline bugs`, the catch-bugs sweep, and the
//! tester's own test).

use crate::systems::faultline::Bug;

/// Every planted bug with the scenario that must catch it (exit 1 with the bug switched on).
pub const CATALOGUE: [(Bug, &str); 19] = [
    (
        Bug::AckBeforeFsync,
        "scenarios/crash/all-brokers-power-loss.yaml",
    ),
    (
        Bug::UncleanLeaderElection,
        "scenarios/crash/follower-cut-then-leader-crash.yaml",
    ),
    (
        Bug::AcksAllWithoutReplication,
        "scenarios/consume/uncommitted-read.yaml",
    ),
    (
        Bug::IsrShrinkUnrecorded,
        "scenarios/crash/follower-cut-then-leader-crash.yaml",
    ),
    (
        Bug::IdempotenceIgnored,
        "scenarios/network/lossy-and-slow.yaml",
    ),
    (
        Bug::ProducerStateNotReplicated,
        "scenarios/crash/leader-crash-retries.yaml",
    ),
    (
        Bug::ReadUncommitted,
        "scenarios/consume/uncommitted-read.yaml",
    ),
    (
        Bug::CommitBeforeProcessing,
        "scenarios/consume/crash-before-commit.yaml",
    ),
    (
        Bug::ConsumerOffByOne,
        "scenarios/smoke/consume-record-and-check.yaml",
    ),
    (
        Bug::ProducerIdResetOnRetry,
        "scenarios/network/lossy-and-slow.yaml",
    ),
    (
        Bug::TxnPublishNotIdempotent,
        "scenarios/txn/txn-producer-crash.yaml",
    ),
    (
        Bug::TokenBucketUnbounded,
        "scenarios/queue/token-bucket.yaml",
    ),
    (
        Bug::GenerationNotFenced,
        "scenarios/consume/zombie-one-generation-behind.yaml",
    ),
    (
        Bug::RecoveryTrustsLengths,
        "scenarios/crash/fsync-interval-power-loss.yaml",
    ),
    (
        Bug::CoordinatorAckBeforeWalSync,
        "scenarios/crash/coordinator-power-loss.yaml",
    ),
    (
        Bug::LeaderEpochReused,
        "scenarios/crash/follower-cut-from-coordinator.yaml",
    ),
    (
        Bug::StaleEpochFetchNotFenced,
        "scenarios/crash/follower-cut-from-coordinator.yaml",
    ),
    (
        Bug::ProducerIdNotPersisted,
        "scenarios/crash/rolling-restart.yaml",
    ),
    (
        Bug::ControllerEpochFromMemory,
        "scenarios/crash/controller-crash.yaml",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// A bug left out of the catalogue would never be swept by `ci/catch-bugs.sh` nor by the
    /// suite's test: it could escape unnoticed.
    #[test]
    fn every_planted_bug_has_one_scenario_and_it_exists() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        for bug in Bug::ALL {
            let scenarios: Vec<&str> = CATALOGUE
                .iter()
                .filter(|(listed, _)| *listed == bug)
                .map(|(_, scenario)| *scenario)
                .collect();
            assert_eq!(scenarios.len(), 1, "{bug} is listed with {scenarios:?}");
            assert!(
                root.join(scenarios[0]).is_file(),
                "{bug}: no scenario file {}",
                scenarios[0]
            );
        }
    }
}
