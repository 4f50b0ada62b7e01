//! What each anomaly name of design.md section 9 means, in one sentence a reader who has not
//! read the checker can follow, and the order reports list them in: data loss first, then log
//! damage, transactions, ordering, consumption, deadlines, liveness and rate limits.

/// Anomaly names in report order; names not listed here come after, alphabetically.
pub const ORDER: [&str; 28] = [
    "lost-write",
    "unseen",
    "aborted-read",
    "inconsistent-offsets",
    "duplicate",
    "txn-committed-lost",
    "txn-aborted-visible",
    "txn-duplicate",
    "txn-premature-visible",
    "G0",
    "G1c",
    "precommitted-read",
    "nonmonotonic-send",
    "int-nonmonotonic-send",
    "int-send-skip",
    "sequence-gap",
    "poll-skip",
    "nonmonotonic-poll",
    "int-poll-skip",
    "int-nonmonotonic-poll",
    "double-apply",
    "missed-apply",
    "offset-regression",
    "premature-expiry",
    "late-apply",
    "no-recovery",
    "rate-exceeded",
    "double-take",
];

/// Each check of design.md section 9 with the anomalies it reports.
pub const CHECKS: [(&str, &[&str]); 10] = [
    ("no-loss", &["lost-write", "unseen"]),
    (
        "log-consistency",
        &["inconsistent-offsets", "duplicate", "aborted-read"],
    ),
    (
        "per-producer-order",
        &[
            "nonmonotonic-send",
            "int-nonmonotonic-send",
            "int-send-skip",
            "sequence-gap",
        ],
    ),
    (
        "consumer-order",
        &[
            "poll-skip",
            "nonmonotonic-poll",
            "int-poll-skip",
            "int-nonmonotonic-poll",
        ],
    ),
    (
        "exactly-once-txn",
        &[
            "txn-aborted-visible",
            "txn-committed-lost",
            "txn-duplicate",
            "txn-premature-visible",
        ],
    ),
    (
        "idempotent-consumption",
        &["double-apply", "missed-apply", "offset-regression"],
    ),
    ("liveness", &["no-recovery"]),
    ("txn-graph", &["G0", "G1c", "precommitted-read"]),
    ("rate-bound", &["rate-exceeded", "double-take"]),
    ("deadlines", &["late-apply", "premature-expiry"]),
];

/// The anomalies a check reports (empty for a check this table does not know).
pub fn of_check(check: &str) -> &'static [&'static str] {
    CHECKS
        .iter()
        .find(|(name, _)| *name == check)
        .map_or(&[], |(_, anomalies)| anomalies)
}

/// The sort key of an anomaly name in reports.
pub fn rank(name: &str) -> (usize, &str) {
    let position = ORDER
        .iter()
        .position(|known| *known == name)
        .unwrap_or(ORDER.len());
    (position, name)
}

/// One sentence: what the anomaly means for the system under test.
pub fn meaning(name: &str) -> &'static str {
    match name {
        "lost-write" => "An acknowledged write that no reader ever saw, although readers read past its offset: the system lost data it had promised to keep.",
        "unseen" => "An acknowledged write that no reader saw, even after the final drain read every partition to its end.",
        "aborted-read" => "A reader saw a value whose send had failed: the producer was told the write did not happen, but it did.",
        "inconsistent-offsets" => "One offset of a partition was read holding two different values: replicas disagree about the log, so one of them was truncated or overwritten.",
        "duplicate" => "One value appears at two offsets: a retried or replayed send was written twice.",
        "txn-committed-lost" => "A message of a committed transaction never became visible.",
        "txn-aborted-visible" => "A message of a rolled-back transaction became visible to consumers.",
        "txn-duplicate" => "A transactional message became visible more than once.",
        "txn-premature-visible" => "A transactional message was read before its producer committed the local transaction.",
        "G0" => "Transactions wrote to several partitions in orders that form a cycle: one partition's log puts A's write first, another's puts B's first (Elle's write cycle).",
        "G1c" => "Transactions form a cycle of write and read dependencies: one read another's write that, by the logs' order, came after its own (Elle's circular information flow).",
        "precommitted-read" => "A transaction read a write before that write's transaction committed: its own write, or one whose op had not even begun.",
        "nonmonotonic-send" => "A process's later send landed at a lower offset of the same partition than its earlier send: the producer's order was not kept.",
        "int-nonmonotonic-send" => "Within one op, sends to one partition landed at offsets that go backwards.",
        "int-send-skip" => "Within one op, consecutive sends to one partition landed at offsets with a gap between them.",
        "sequence-gap" => "The consumer's interceptor saw a gap in one producer's sequence numbers on a partition: messages in between are missing.",
        "poll-skip" => "Successive polls of one partition by one consumer skipped offsets it should have seen.",
        "nonmonotonic-poll" => "Successive polls of one partition by one consumer went back to lower offsets without a reassignment.",
        "int-poll-skip" => "Within one poll, the records of one partition skipped offsets.",
        "int-nonmonotonic-poll" => "Within one poll, the offsets of one partition went backwards.",
        "double-apply" => "A consumer applied one message to its business state twice.",
        "missed-apply" => "A consumer group committed past a message that was never applied.",
        "offset-regression" => "A consumer group's committed offset went down.",
        "no-recovery" => "After every fault was lifted, the cluster served no successful send or poll within the scenario's recovery bound.",
        "rate-exceeded" => "A gateway admitted more requests within one interval than its token bucket's rate and capacity can pay for: the rate limit let traffic through.",
        "double-take" => "Two admitted requests took the same token: a token taken from the bucket came back (an acknowledged take was lost), so the bucket paid twice.",
        "late-apply" => "A consumer applied a message after its deadline had passed, acting on a request that had already expired.",
        "premature-expiry" => "A consumer discarded a message as expired before its deadline (or one that had no deadline): a message that should have been applied was lost.",
        _ => "An anomaly reported by a checker; see its explanation.",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_ordered_name_has_its_own_meaning() {
        let generic = meaning("not-an-anomaly");
        for name in ORDER {
            assert_ne!(meaning(name), generic, "{name}");
        }
        assert!(rank("lost-write") < rank("duplicate"));
        assert!(rank("no-recovery") < rank("zzz-unknown"));
        let listed: usize = CHECKS.iter().map(|(_, names)| names.len()).sum();
        assert_eq!(listed, ORDER.len());
        assert_eq!(of_check("no-loss"), ["lost-write", "unseen"]);
    }
}
