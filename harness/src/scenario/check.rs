//! Checks, anomalies and a scenario's expectation (design.md §9, §10). The names are the
//! contract with `result.json` and the checkers, spelt exactly as in the design. A scenario
//! that expects an anomaly must also run the check that reports it; otherwise the expectation
//! could never be met and every run would fail for a reason unrelated to the system.

use super::names::Keyword;

/// A named property a checker verifies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CheckName {
    NoLoss,
    LogConsistency,
    PerProducerOrder,
    ConsumerOrder,
    ExactlyOnceTxn,
    IdempotentConsumption,
    Liveness,
    /// Elle's cycle analysis of multi-key transactions (re-checked histories).
    TxnGraph,
    /// A gateway admits no more requests than its token bucket pays for.
    RateBound,
    /// Messages are applied by their deadline and expired only after it.
    Deadlines,
    /// The coordinator's znodes behave as linearizable versioned registers.
    CoordinatorLinearizable,
}

impl Keyword for CheckName {
    const ALL: &'static [Self] = &[
        CheckName::NoLoss,
        CheckName::LogConsistency,
        CheckName::PerProducerOrder,
        CheckName::ConsumerOrder,
        CheckName::ExactlyOnceTxn,
        CheckName::IdempotentConsumption,
        CheckName::Liveness,
        CheckName::TxnGraph,
        CheckName::RateBound,
        CheckName::Deadlines,
        CheckName::CoordinatorLinearizable,
    ];
    const WHAT: &'static str = "check";

    fn as_str(&self) -> &'static str {
        match self {
            CheckName::NoLoss => "no-loss",
            CheckName::LogConsistency => "log-consistency",
            CheckName::PerProducerOrder => "per-producer-order",
            CheckName::ConsumerOrder => "consumer-order",
            CheckName::ExactlyOnceTxn => "exactly-once-txn",
            CheckName::IdempotentConsumption => "idempotent-consumption",
            CheckName::Liveness => "liveness",
            CheckName::TxnGraph => "txn-graph",
            CheckName::RateBound => "rate-bound",
            CheckName::Deadlines => "deadlines",
            CheckName::CoordinatorLinearizable => "coordinator-linearizable",
        }
    }
}

impl CheckName {
    /// The anomalies this check reports (design.md §9).
    pub fn anomalies(&self) -> &'static [AnomalyName] {
        use AnomalyName::*;
        match self {
            CheckName::NoLoss => &[LostWrite, Unseen],
            CheckName::LogConsistency => &[InconsistentOffsets, Duplicate, AbortedRead],
            CheckName::PerProducerOrder => &[
                NonmonotonicSend,
                IntNonmonotonicSend,
                IntSendSkip,
                SequenceGap,
            ],
            CheckName::ConsumerOrder => {
                &[PollSkip, NonmonotonicPoll, IntPollSkip, IntNonmonotonicPoll]
            }
            CheckName::ExactlyOnceTxn => &[
                TxnAbortedVisible,
                TxnCommittedLost,
                TxnDuplicate,
                TxnPrematureVisible,
            ],
            CheckName::IdempotentConsumption => &[DoubleApply, MissedApply, OffsetRegression],
            CheckName::Liveness => &[NoRecovery],
            CheckName::TxnGraph => &[G0, G1c, PrecommittedRead],
            CheckName::RateBound => &[RateExceeded, DoubleTake],
            CheckName::Deadlines => &[LateApply, PrematureExpiry],
            CheckName::CoordinatorLinearizable => &[ZkLostWrite, ZkStaleRead, ZkNonlinearizable],
        }
    }

    /// The check that reports `anomaly`.
    pub fn reporting(anomaly: AnomalyName) -> Option<CheckName> {
        CheckName::ALL
            .iter()
            .copied()
            .find(|check| check.anomalies().contains(&anomaly))
    }
}

/// A named violation (design.md §9).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AnomalyName {
    LostWrite,
    Unseen,
    InconsistentOffsets,
    Duplicate,
    AbortedRead,
    NonmonotonicSend,
    IntNonmonotonicSend,
    IntSendSkip,
    SequenceGap,
    PollSkip,
    NonmonotonicPoll,
    IntPollSkip,
    IntNonmonotonicPoll,
    TxnAbortedVisible,
    TxnCommittedLost,
    TxnDuplicate,
    TxnPrematureVisible,
    DoubleApply,
    MissedApply,
    OffsetRegression,
    NoRecovery,
    G0,
    G1c,
    PrecommittedRead,
    RateExceeded,
    DoubleTake,
    LateApply,
    PrematureExpiry,
    ZkLostWrite,
    ZkStaleRead,
    ZkNonlinearizable,
}

impl Keyword for AnomalyName {
    const ALL: &'static [Self] = &[
        AnomalyName::LostWrite,
        AnomalyName::Unseen,
        AnomalyName::InconsistentOffsets,
        AnomalyName::Duplicate,
        AnomalyName::AbortedRead,
        AnomalyName::NonmonotonicSend,
        AnomalyName::IntNonmonotonicSend,
        AnomalyName::IntSendSkip,
        AnomalyName::SequenceGap,
        AnomalyName::PollSkip,
        AnomalyName::NonmonotonicPoll,
        AnomalyName::IntPollSkip,
        AnomalyName::IntNonmonotonicPoll,
        AnomalyName::TxnAbortedVisible,
        AnomalyName::TxnCommittedLost,
        AnomalyName::TxnDuplicate,
        AnomalyName::TxnPrematureVisible,
        AnomalyName::DoubleApply,
        AnomalyName::MissedApply,
        AnomalyName::OffsetRegression,
        AnomalyName::NoRecovery,
        AnomalyName::G0,
        AnomalyName::G1c,
        AnomalyName::PrecommittedRead,
        AnomalyName::RateExceeded,
        AnomalyName::DoubleTake,
        AnomalyName::LateApply,
        AnomalyName::PrematureExpiry,
        AnomalyName::ZkLostWrite,
        AnomalyName::ZkStaleRead,
        AnomalyName::ZkNonlinearizable,
    ];
    const WHAT: &'static str = "anomaly";

    fn as_str(&self) -> &'static str {
        match self {
            AnomalyName::LostWrite => "lost-write",
            AnomalyName::Unseen => "unseen",
            AnomalyName::InconsistentOffsets => "inconsistent-offsets",
            AnomalyName::Duplicate => "duplicate",
            AnomalyName::AbortedRead => "aborted-read",
            AnomalyName::NonmonotonicSend => "nonmonotonic-send",
            AnomalyName::IntNonmonotonicSend => "int-nonmonotonic-send",
            AnomalyName::IntSendSkip => "int-send-skip",
            AnomalyName::SequenceGap => "sequence-gap",
            AnomalyName::PollSkip => "poll-skip",
            AnomalyName::NonmonotonicPoll => "nonmonotonic-poll",
            AnomalyName::IntPollSkip => "int-poll-skip",
            AnomalyName::IntNonmonotonicPoll => "int-nonmonotonic-poll",
            AnomalyName::TxnAbortedVisible => "txn-aborted-visible",
            AnomalyName::TxnCommittedLost => "txn-committed-lost",
            AnomalyName::TxnDuplicate => "txn-duplicate",
            AnomalyName::TxnPrematureVisible => "txn-premature-visible",
            AnomalyName::DoubleApply => "double-apply",
            AnomalyName::MissedApply => "missed-apply",
            AnomalyName::OffsetRegression => "offset-regression",
            AnomalyName::NoRecovery => "no-recovery",
            AnomalyName::G0 => "G0",
            AnomalyName::G1c => "G1c",
            AnomalyName::PrecommittedRead => "precommitted-read",
            AnomalyName::RateExceeded => "rate-exceeded",
            AnomalyName::DoubleTake => "double-take",
            AnomalyName::LateApply => "late-apply",
            AnomalyName::PrematureExpiry => "premature-expiry",
            AnomalyName::ZkLostWrite => "zk-lost-write",
            AnomalyName::ZkStaleRead => "zk-stale-read",
            AnomalyName::ZkNonlinearizable => "zk-nonlinearizable",
        }
    }
}

/// What every run of the scenario must show (design.md §10, exit codes of `run`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expectation {
    /// No anomaly at all.
    Valid,
    /// At least these anomalies (a scenario with a planted bug, or a known-broken setting such
    /// as `acks: 1` under a leader crash). Non-empty, no duplicates, in file order.
    Invalid(Vec<AnomalyName>),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_anomaly_belongs_to_exactly_one_check() {
        for anomaly in AnomalyName::ALL {
            let owners = CheckName::ALL
                .iter()
                .filter(|check| check.anomalies().contains(anomaly))
                .count();
            assert_eq!(owners, 1, "{}", anomaly.as_str());
        }
    }

    #[test]
    fn names_parse_back() {
        for check in CheckName::ALL {
            assert_eq!(CheckName::parse(check.as_str()), Some(*check));
        }
        for anomaly in AnomalyName::ALL {
            assert_eq!(AnomalyName::parse(anomaly.as_str()), Some(*anomaly));
        }
        assert!(CheckName::hint_for("no-los").starts_with("did you mean \"no-loss\"?"));
    }
}
