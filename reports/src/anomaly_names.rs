//! What each anomaly name of design.md section 9 means, in one sentence a reader who has not
//! read the checker can follow, and the order reports list them in: data loss first, then log
//! damage, transactions, ordering, consumption, deadlines, liveness and rate limits.

/// Anomaly names in report order; names not listed here come after, alphabetically.
pub const ORDER: [&str; 35] = [
    "lost-write",
    "unseen",
    "aborted-read",
    "inconsistent-offsets",
    "duplicate",
    "two-leaders-one-epoch",
    "stale-epoch-fetch",
    "producer-id-reused",
    "controller-epoch-regressed",
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
    "zk-lost-write",
    "zk-stale-read",
    "zk-nonlinearizable",
];

/// Each check of design.md section 9 with the anomalies it reports.
pub const CHECKS: [(&str, &[&str]); 12] = [
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
    (
        "coordinator-linearizable",
        &["zk-lost-write", "zk-stale-read", "zk-nonlinearizable"],
    ),
    (
        "cluster-invariants",
        &[
            "two-leaders-one-epoch",
            "producer-id-reused",
            "controller-epoch-regressed",
            "stale-epoch-fetch",
        ],
    ),
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
        "zk-lost-write" => "An acknowledged znode create or write disappeared: a read that began after it completed returned an older version (or no znode), or a later write was acknowledged at the same version.",
        "zk-stale-read" => "A znode read returned an older version than a read that had completed before it began: reads went back.",
        "zk-nonlinearizable" => "The coordinator's znode ops have no linearization as a versioned register: a read of data no write wrote (or at another version), two writes at one version, or a write placed below a version already read.",
        "two-leaders-one-epoch" => "Two brokers became leader of one partition in one leader epoch: epoch fencing cannot tell the deposed leader from the new one.",
        "producer-id-reused" => "One producer id was handed out twice: the broker's duplicate check can take one producer's records for another's.",
        "controller-epoch-regressed" => "A controller was elected in an epoch not above every earlier controller's: the epoch no longer tells a stale controller's decisions from the current one's, wherever it is what fences them (partition states carry it).",
        "stale-epoch-fetch" => "A leader served a fetch from a follower holding another leader epoch, instead of fencing it: the follower replicates on top of a log it never truncated for the new epoch.",
        _ => "An anomaly reported by a checker; see its explanation.",
    }
}

/// What each check promises, in one sentence (for the catalogue).
pub fn check_meaning(check: &str) -> &'static str {
    match check {
        "no-loss" => "Every acknowledged write (and every unknown one proven written) is read.",
        "log-consistency" => "Each offset of a partition holds one value, each value one offset, and no failed write is ever read.",
        "per-producer-order" => "A producer's sends land in the order it made them, without gaps.",
        "consumer-order" => "A consumer's polls of a partition move forward without skipping, until a reassignment.",
        "exactly-once-txn" => "A transactional message is visible exactly once if and only if its local transaction committed.",
        "idempotent-consumption" => "Consumers apply each message exactly once and committed offsets never go back.",
        "liveness" => "After every fault is lifted, the cluster serves again within the scenario's recovery bound.",
        "txn-graph" => "Multi-key transactions form no dependency cycle (Elle's analysis, as Jepsen's Kafka checker runs it).",
        "rate-bound" => "A token bucket never admits more than its rate and capacity allow, nor one token twice.",
        "deadlines" => "Consumers apply a message before its deadline and expire it only after.",
        "coordinator-linearizable" => "Each znode behaves as a linearizable versioned register: acknowledged creates and writes stay, and reads never go back.",
        "cluster-invariants" => "The nodes' own record of the run (node-events.jsonl) keeps the cluster's invariants: one leader per partition and leader epoch, producer ids never handed out twice, controller epochs that only rise, fetches served only within the follower's epoch. On by default for simulated runs of faultline's own system.",
        _ => "A check of faultline's.",
    }
}

/// `docs/anomalies.md`, generated from [`CHECKS`], [`check_meaning`] and [`meaning`], so the
/// catalogue a reader sees cannot drift from what the checkers report.
pub fn catalogue_markdown() -> String {
    let mut text = String::from(
        "# Checks and anomalies\n\n\
         <!-- Generated from reports/src/anomaly_names.rs by the test \
         `anomaly_names::tests::docs_anomalies_md_is_the_generated_catalogue`; \
         FAULTLINE_UPDATE_DOCS=1 rewrites it. Do not edit by hand. -->\n\n\
         A check is a named property; each reports anomalies by name, with the history ops that \
         prove them. A check that proves an anomaly is `invalid`; one that could not decide says \
         `unknown` and why, never `valid`. `info` ops (outcome unknown) are never required, but a \
         read of one of their values proves they happened. Names follow Jepsen's Kafka workload \
         and Elle where those define them (Jepsen's `G1a` is `aborted-read`).\n",
    );
    for (check, anomalies) in CHECKS {
        text.push_str(&format!("\n## `{check}`\n\n{}\n\n", check_meaning(check)));
        text.push_str("| anomaly | what it means |\n|---|---|\n");
        for anomaly in anomalies {
            text.push_str(&format!("| `{anomaly}` | {} |\n", meaning(anomaly)));
        }
    }
    text.push_str(
        "\n`log-consistency` also reports `garbage-read`: a value was read that no op ever sent.\n\n\
         Examples: every anomaly has tiny hand-written histories that must report it (and \
         near-identical ones that must not) beside its checker, in \
         `harness/src/checker/<check>.rs`; `harness/tests/jepsen/` holds one Jepsen-shaped \
         history per anomaly Jepsen's Kafka checker defines, in JSONL and EDN, which \
         `faultline check` judges alike.\n",
    );
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docs_anomalies_md_is_the_generated_catalogue() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/anomalies.md");
        let generated = catalogue_markdown();
        if std::env::var_os("FAULTLINE_UPDATE_DOCS").is_some() {
            std::fs::write(&path, &generated).expect("write docs/anomalies.md");
        }
        let stored = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            stored == generated,
            "docs/anomalies.md differs from the catalogue in the code; \
             rerun this test with FAULTLINE_UPDATE_DOCS=1"
        );
    }

    #[test]
    fn every_check_has_its_own_promise() {
        let generic = check_meaning("not-a-check");
        for (check, _) in CHECKS {
            assert_ne!(check_meaning(check), generic, "{check}");
        }
    }

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
