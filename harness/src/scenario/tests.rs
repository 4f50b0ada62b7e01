//! Fixture tests for the loader: the design's example loads to the expected values, each class
//! of error points at the right line and column with a hint, a resolved scenario survives a
//! YAML round trip, and no input makes the loader panic.

use super::*;
use proptest::prelude::*;

/// design.md §11, verbatim.
const DESIGN_EXAMPLE: &str = r#"name: leader-isolated
description: The partition leader is cut off while producers keep sending.
cluster:
  coordinators: 1
  brokers: 3
  topics:
    - {name: orders, partitions: 3, replication: 3, min_insync: 2}
  broker: {fsync: always}            # always | interval:<dur> | never
network: {latency: 1ms..5ms, loss: 0.0}
workload:
  duration: 30s
  producers: {count: 2, rate: 200/s, acks: all, idempotent: true, mode: sync}
  transactions: {count: 1, rate: 20/s, rollback_ratio: 0.2, unknown_ratio: 0.1}
  consumers: {groups: [{name: billing, members: 2, apply: record-and-check}]}
faults:
  schedule:
    - {at: 5s, partition: {isolate: "leader(orders/0)"}, for: 8s}
    - {at: 15s, crash: controller, restart_after: 3s}
    - {at: 20s, disk: {fault: fsync-error, node: broker-2}, for: 5s}
  # or: random: {every: 2s..8s, kinds: [partition, crash, disk, pause, clog]}
recovery: 20s
checks: [no-loss, log-consistency, per-producer-order, exactly-once-txn,
         idempotent-consumption, liveness]
seeds: 1..20
expect: valid                         # or: {invalid: [lost-write]} for scenarios that must fail
"#;

/// Every workload section of issue 11: a token bucket, gateways, deadlines, bounded queues,
/// slow consumers and a scale-out.
const QUEUES: &str = "\
name: queues
cluster:
  topics:
    - {name: tokens, capacity: 5, overflow: reject}
    - {name: requests, partitions: 2, capacity: 50, overflow: drop-oldest}
    - {name: audit}
network: {tick: 1ms}
workload:
  duration: 12s
  tokens: {topic: tokens, rate: 20/s}
  gateways: {count: 2, rate: 60/s, busy: 1s, idle: 2s}
  producers: {topics: [requests], expiry: 250ms}
  consumers:
    groups:
      - {name: workers, apply: unique-key, process: 20ms, scale_out: {at: 6s, to: 3}, topics: [requests]}
      - {name: auditors, topics: [audit]}
";

/// A small valid scenario whose lines the error tests edit one at a time.
const BASE: &str = "\
name: base
cluster:
  brokers: 3
  topics:
    - {name: orders, partitions: 2}
workload:
  duration: 30s
  producers: {count: 2, rate: 50/s}
faults:
  schedule:
    - {at: 5s, crash: broker-2, restart_after: 3s}
seeds: 1..5
";

fn load_err(source: &str) -> ScenarioError {
    match load_str(source, "scenarios/test.yaml") {
        Ok(scenario) => panic!("expected an error, loaded {scenario:#?}"),
        Err(error) => error,
    }
}

/// `BASE` with `from` replaced by `to` (which must occur exactly once).
fn edit(from: &str, to: &str) -> String {
    assert_eq!(
        BASE.matches(from).count(),
        1,
        "{from:?} must occur once in BASE"
    );
    BASE.replace(from, to)
}

fn line_column(error: &ScenarioError) -> (usize, usize) {
    let place = error
        .place()
        .unwrap_or_else(|| panic!("no place in {error}"));
    (place.line, place.column)
}

#[test]
fn design_example_loads() {
    let scenario = load_str(DESIGN_EXAMPLE, "design.md").expect("the design's example loads");
    assert_eq!(scenario.name, "leader-isolated");
    assert_eq!(scenario.cluster.coordinators, 1);
    assert_eq!(scenario.cluster.brokers, 3);
    assert_eq!(
        scenario.cluster.topics,
        vec![Topic {
            name: "orders".into(),
            partitions: 3,
            replication: 3,
            min_insync: 2,
            capacity: None,
            overflow: Overflow::Reject,
        }]
    );
    assert_eq!(scenario.cluster.broker.fsync, FsyncPolicySpec::Always);
    assert_eq!(
        scenario.network,
        Network {
            latency_ms: (1, 5),
            loss: 0.0,
            tick_ms: 2
        }
    );
    assert_eq!(scenario.workload.duration_ms, 30_000);
    assert_eq!(
        scenario.workload.producers,
        Some(Producers {
            count: 2,
            rate_per_s: 200,
            acks: Acks::All,
            idempotent: true,
            mode: ProducerMode::Sync,
            topics: vec!["orders".into()],
            expiry_ms: None,
        })
    );
    assert_eq!(
        scenario.workload.transactions,
        Some(Transactions {
            count: 1,
            rate_per_s: 20,
            rollback_ratio: 0.2,
            unknown_ratio: 0.1,
        })
    );
    assert_eq!(
        scenario.workload.consumers,
        Some(Consumers {
            groups: vec![Group {
                name: "billing".into(),
                members: 2,
                apply: ApplyStrategy::RecordAndCheck,
                topics: vec!["orders".into()],
                process_ms: 0,
                scale_out: None,
            }]
        })
    );
    let leader = Target::Leader(PartitionRef {
        topic: "orders".into(),
        partition: 0,
    });
    assert_eq!(
        scenario.faults,
        Faults::Schedule(FaultSchedule(vec![
            FaultEvent {
                at_ms: 5_000,
                fault: Fault::Partition(PartitionShape::Isolate(leader)),
                duration_ms: Some(8_000),
            },
            FaultEvent {
                at_ms: 15_000,
                fault: Fault::Crash(Target::Controller),
                duration_ms: Some(3_000),
            },
            FaultEvent {
                at_ms: 20_000,
                fault: Fault::Disk {
                    fault: DiskFault::FsyncError,
                    node: Target::Broker(2),
                },
                duration_ms: Some(5_000),
            },
        ]))
    );
    assert_eq!(scenario.recovery_ms, 20_000);
    assert_eq!(
        scenario.checks,
        vec![
            CheckName::NoLoss,
            CheckName::LogConsistency,
            CheckName::PerProducerOrder,
            CheckName::ExactlyOnceTxn,
            CheckName::IdempotentConsumption,
            CheckName::Liveness,
        ]
    );
    assert_eq!(scenario.seeds, 1..=20);
    assert_eq!(scenario.expect, Expectation::Valid);
}

#[test]
fn minimal_scenario_gets_the_documented_defaults() {
    let scenario = load_str(
        "name: tiny\ncluster: {topics: [{name: t}]}\nworkload: {producers: {}}\n",
        "tiny.yaml",
    )
    .expect("loads");
    assert_eq!(scenario.description, "");
    assert_eq!(
        (scenario.cluster.coordinators, scenario.cluster.brokers),
        (1, 3)
    );
    let topic = &scenario.cluster.topics[0];
    assert_eq!(
        (topic.partitions, topic.replication, topic.min_insync),
        (1, 3, 2)
    );
    assert_eq!(
        scenario.network,
        Network {
            latency_ms: (1, 5),
            loss: 0.0,
            tick_ms: 2
        }
    );
    assert_eq!(scenario.workload.duration_ms, 30_000);
    assert_eq!(scenario.faults, Faults::None);
    assert_eq!(scenario.recovery_ms, 20_000);
    assert_eq!(
        scenario.checks,
        vec![
            CheckName::NoLoss,
            CheckName::LogConsistency,
            CheckName::PerProducerOrder,
            CheckName::Liveness,
        ]
    );
    assert_eq!(scenario.seeds, 1..=10);
    assert_eq!(scenario.expect, Expectation::Valid);
}

#[test]
fn every_fault_kind_and_shape_loads() {
    let source = "\
name: every-fault
cluster: {coordinators: 3, brokers: 5, topics: [{name: orders, partitions: 2}],
          broker: {fsync: \"interval:10ms\"}}
workload:
  duration: 2m
  producers: {count: 1, acks: 1, mode: async}
  transactions: {count: 1}
  consumers: {groups: [{name: g, members: 2, apply: versioned}]}
faults:
  schedule:
    - {at: 1s, partition: {halves}, for: 2s}
    - {at: 2s, partition: {majority-ring}}
    - {at: 3s, partition: {bridge}}
    - {at: 4s, partition: {one-way: {from: controller, to: \"follower(orders/1)\"}}}
    - {at: 5s, clog: client-4, for: 1.5s}
    - {at: 6s, loss: {rate: 0.25}, for: 1s}
    - {at: 7s, latency-spike: {latency: 100ms..500ms}, for: 1s}
    - {at: 8s, restart: coordinator-3}
    - {at: 9s, pause: minority, for: 2s}
    - {at: 10s, disk: {fault: torn-writes, node: random}}
    - {at: 11s, producer-crash: client-2, restart_after: 1s}
    - {at: 12s, consumer-crash: client-3}
    - {at: 500ms, crash: majority}
expect: {invalid: [lost-write, double-apply]}
";
    let scenario = load_str(source, "every.yaml").expect("loads");
    assert_eq!(
        scenario.cluster.broker.fsync,
        FsyncPolicySpec::Interval { interval_ms: 10 }
    );
    let Faults::Schedule(FaultSchedule(events)) = &scenario.faults else {
        panic!("{:?}", scenario.faults)
    };
    assert_eq!(events.len(), 13);
    // Sorted by `at`: the 500ms crash written last runs first.
    assert_eq!(events[0].fault, Fault::Crash(Target::Majority));
    assert_eq!(events[0].duration_ms, None);
    assert_eq!(events[5].fault, Fault::Clog(Target::Client(4)));
    assert_eq!(events[5].duration_ms, Some(1_500));
    assert_eq!(
        events[7].fault,
        Fault::LatencySpike {
            latency_ms: (100, 500)
        }
    );
    assert_eq!(
        scenario.expect,
        Expectation::Invalid(vec![AnomalyName::LostWrite, AnomalyName::DoubleApply])
    );
}

#[test]
fn random_faults_load_with_defaults() {
    let source = edit(
        "  schedule:\n    - {at: 5s, crash: broker-2, restart_after: 3s}\n",
        "  random: {every: 1s..3s, kinds: [partition, crash, producer-crash]}\n",
    );
    let scenario = load_str(&source, "random.yaml").expect("loads");
    assert_eq!(
        scenario.faults,
        Faults::Random(RandomFaults {
            every_ms: (1_000, 3_000),
            kinds: vec![
                FaultKind::Partition,
                FaultKind::Crash,
                FaultKind::ProducerCrash
            ],
            duration_ms: (1_000, 5_000),
        })
    );
}

#[test]
fn round_trip_gives_the_same_scenario() {
    for (label, source) in [
        ("design", DESIGN_EXAMPLE.to_owned()),
        ("base", BASE.to_owned()),
        ("queues", QUEUES.to_owned()),
    ] {
        let scenario = load_str(&source, label).expect("loads");
        let yaml = scenario.to_yaml().expect("serialises");
        let again = load_str(&yaml, "round-trip.yaml")
            .unwrap_or_else(|error| panic!("{label}: {error}\n{yaml}"));
        assert_eq!(again, scenario, "{label}:\n{yaml}");
    }
}

#[test]
fn fault_schedule_serialises_in_the_syntax_it_was_read() {
    let scenario = load_str(DESIGN_EXAMPLE, "design.md").expect("loads");
    let Faults::Schedule(schedule) = &scenario.faults else {
        panic!("{:?}", scenario.faults)
    };
    let yaml = yaml_serde::to_string(schedule).expect("serialises");
    assert_eq!(
        yaml,
        "- at: 5s\n  partition:\n    isolate: leader(orders/0)\n  for: 8s\n\
         - at: 15s\n  crash: controller\n  restart_after: 3s\n\
         - at: 20s\n  disk:\n    fault: fsync-error\n    node: broker-2\n  for: 5s\n"
    );
    // Shrinking deletes events; what remains still loads as the scenario's schedule.
    let mut shrunk = scenario.clone();
    shrunk.faults = Faults::Schedule(FaultSchedule(schedule.0[1..2].to_vec()));
    let yaml = shrunk.to_yaml().expect("serialises");
    assert_eq!(load_str(&yaml, "shrunk.yaml").expect("loads"), shrunk);
}

#[test]
fn every_fault_round_trips() {
    let source = edit(
        "    - {at: 5s, crash: broker-2, restart_after: 3s}\n",
        "    - {at: 1s, partition: {halves}, for: 2s}
    - {at: 2s, partition: {majority-ring}}
    - {at: 3s, partition: {bridge}}
    - {at: 4s, partition: {one-way: {from: broker-1, to: \"leader(orders/1)\"}}}
    - {at: 5s, clog: client-2, for: 1500ms}
    - {at: 6s, loss: {rate: 0.25}}
    - {at: 7s, latency-spike: {latency: 200ms}}
    - {at: 8s, restart: coordinator}
    - {at: 9s, pause: random, for: 2s}
    - {at: 10s, disk: {fault: lose-unsynced, node: \"follower(orders/0)\"}}
    - {at: 11s, producer-crash: client-1, restart_after: 0s}
",
    );
    let scenario = load_str(&source, "faults.yaml").expect("loads");
    let yaml = scenario.to_yaml().expect("serialises");
    let again = load_str(&yaml, "again.yaml").unwrap_or_else(|error| panic!("{error}\n{yaml}"));
    assert_eq!(again, scenario, "{yaml}");
}

#[test]
fn unknown_key_is_located_with_a_suggestion() {
    let error = load_err(&edit("  brokers: 3\n", "  brokers: 3\n  brokrs: 3\n"));
    assert_eq!(line_column(&error), (4, 3));
    assert!(matches!(error.problem(), Some(Problem::UnknownKey { key, .. }) if key == "brokrs"));
    let text = error.to_string();
    assert!(
        text.starts_with(
            "scenarios/test.yaml:4:3: unknown key `brokrs` (hint: did you mean `brokers`?"
        ),
        "{text}"
    );
    // Inside a flow map on a fault entry.
    let error = load_err(&edit("restart_after: 3s}", "restart_afterr: 3s}"));
    assert_eq!(line_column(&error), (11, 33));
    assert!(
        error.to_string().contains("did you mean `restart_after`?"),
        "{error}"
    );
}

#[test]
fn bad_unit_is_located_with_a_hint() {
    let error = load_err(&edit("duration: 30s", "duration: 5sec"));
    assert_eq!(line_column(&error), (7, 13));
    assert_eq!(
        error.to_string(),
        "scenarios/test.yaml:7:13: bad duration \"5sec\": unknown unit \"sec\" (hint: did you \
         mean \"5s\"? units: ms, s, m, h)"
    );
    let error = load_err(&edit("rate: 50/s", "rate: 50"));
    assert_eq!(line_column(&error), (8, 31));
    assert_eq!(error.hint(), Some("rates need a unit: write 50/s"));
    let error = load_err(&edit("restart_after: 3s", "restart_after: 3"));
    assert_eq!(line_column(&error), (11, 48));
    assert!(
        matches!(error.problem(), Some(Problem::BadDuration { .. })),
        "{error}"
    );
}

#[test]
fn out_of_range_numbers_are_located() {
    let error = load_err(&edit(
        "{name: orders, partitions: 2}",
        "{name: orders, partitions: 2, replication: 4}",
    ));
    assert_eq!(line_column(&error), (5, 50));
    assert_eq!(
        error.to_string(),
        "scenarios/test.yaml:5:50: replication is 4, out of range (allowed: 1..=3) (hint: \
         replicas live on distinct brokers and the cluster has 3)"
    );
    let error = load_err(&edit("partitions: 2}", "partitions: 0}"));
    assert_eq!(line_column(&error), (5, 34));
    let error = load_err(&edit("partitions: 2}", "partitions: 2, min_insync: 4}"));
    assert_eq!(line_column(&error), (5, 49));
    assert!(error.to_string().contains("min_insync"), "{error}");
    let error = load_err(&format!("{BASE}network: {{loss: 1.5}}\n"));
    assert_eq!(line_column(&error), (13, 17));
    let error = load_err(&format!("{BASE}network: {{tick: 20ms}}\n"));
    assert_eq!(line_column(&error), (13, 17));
    assert!(error.to_string().contains("network.tick"), "{error}");
    let error = load_err(&format!("{BASE}network: {{tick: 0ms}}\n"));
    assert!(error.to_string().contains("network.tick"), "{error}");
    let error = load_err(&edit("{at: 5s,", "{at: 30s,"));
    assert_eq!(line_column(&error), (11, 12));
    assert!(
        error.hint().is_some_and(|hint| hint.contains("lasts 30s")),
        "{error}"
    );
    let error = load_err(&edit("  brokers: 3\n", "  brokers: -1\n"));
    assert_eq!(line_column(&error), (3, 12));
    assert!(error.hint().is_some(), "{error}");
}

#[test]
fn unknown_target_is_located_and_lists_what_exists() {
    let error = load_err(&edit("crash: broker-2", "crash: brokr-2"));
    assert_eq!(line_column(&error), (11, 23));
    assert_eq!(
        error.to_string(),
        "scenarios/test.yaml:11:23: unknown fault target \"brokr-2\" (hint: did you mean \
         \"broker-2\"? known targets: broker-1..3, coordinator-1, client-1..2, controller, \
         coordinator, leader(topic/p), follower(topic/p), minority, majority, random)"
    );
    let error = load_err(&edit("crash: broker-2", "crash: broker-7"));
    assert_eq!(line_column(&error), (11, 23));
    let error = load_err(&edit("crash: broker-2", "crash: \"leader(payments/0)\""));
    assert_eq!(line_column(&error), (11, 23));
    assert!(
        error
            .hint()
            .is_some_and(|hint| hint.contains("topics: orders")),
        "{error}"
    );
    let error = load_err(&edit("crash: broker-2", "crash: \"leader(orders/2)\""));
    assert!(
        matches!(error.problem(), Some(Problem::OutOfRange { .. })),
        "{error}"
    );
    let error = load_err(&edit("crash: broker-2", "crash: client-1"));
    assert!(
        matches!(error.problem(), Some(Problem::WrongTarget { .. })),
        "{error}"
    );
    let error = load_err(&edit(
        "crash: broker-2, restart_after: 3s",
        "consumer-crash: client-1",
    ));
    assert!(
        error.hint().is_some_and(|hint| hint.contains("no client")),
        "{error}"
    );
}

#[test]
fn empty_seed_range_is_located() {
    let error = load_err(&edit("seeds: 1..5", "seeds: 5..1"));
    assert_eq!(line_column(&error), (12, 8));
    assert_eq!(
        error.to_string(),
        "scenarios/test.yaml:12:8: bad range \"5..1\": empty: the high end is below the low end \
         (hint: write the low end first, e.g. 1..20)"
    );
}

#[test]
fn names_from_fixed_vocabularies_are_checked() {
    let error = load_err(&format!("{BASE}checks: [no-loss, no-los]\n"));
    assert_eq!(line_column(&error), (13, 19));
    assert!(
        error.to_string().contains("unknown check \"no-los\""),
        "{error}"
    );
    assert!(error
        .hint()
        .is_some_and(|hint| hint.starts_with("did you mean \"no-loss\"?")));
    let error = load_err(&format!("{BASE}checks: [no-loss, exactly-once-txn]\n"));
    assert!(
        error
            .hint()
            .is_some_and(|hint| hint.contains("workload.transactions")),
        "{error}"
    );
    let error = load_err(&format!("{BASE}expect: {{invalid: [lost-writes]}}\n"));
    assert_eq!(line_column(&error), (13, 20));
    let error = load_err(&format!(
        "{BASE}checks: [liveness]\nexpect: {{invalid: [lost-write]}}\n"
    ));
    assert!(
        error
            .hint()
            .is_some_and(|hint| hint.contains("add no-loss")),
        "{error}"
    );
    let error = load_err(&format!("{BASE}expect: invalid\n"));
    assert_eq!(line_column(&error), (13, 9));
    // A known check the workload cannot exercise is refused with what it needs.
    let error = load_err(&format!("{BASE}checks: [rate-bound, liveness]\n"));
    assert!(
        error
            .to_string()
            .contains("rate-bound needs workload.gateways"),
        "{error}"
    );
}

#[test]
fn structural_mistakes_are_located() {
    let error = load_err(&edit(
        "{at: 5s, crash: broker-2, restart_after: 3s}",
        "{at: 5s, crash: broker-2, pause: broker-1}",
    ));
    assert_eq!(line_column(&error), (11, 33));
    assert!(
        error.to_string().contains("two faults: crash and pause"),
        "{error}"
    );
    let error = load_err(&edit(
        "{at: 5s, crash: broker-2, restart_after: 3s}",
        "{at: 5s, crash: broker-2, for: 3s}",
    ));
    assert_eq!(line_column(&error), (11, 33));
    assert!(
        error
            .hint()
            .is_some_and(|hint| hint.contains("restart_after")),
        "{error}"
    );
    let error = load_err(&edit("crash: broker-2, restart_after: 3s", "partition: {}"));
    assert!(error.to_string().contains("no shape"), "{error}");
    let error = load_err(&edit("seeds: 1..5\n", "  random: {}\nseeds: 1..5\n"));
    assert_eq!(line_column(&error), (12, 3));
    assert!(
        error.to_string().contains("both schedule and random"),
        "{error}"
    );
    let error = load_err("name: x\n");
    assert_eq!(line_column(&error), (1, 1));
    assert!(matches!(error.problem(), Some(Problem::MissingKey { key }) if key == "cluster"));
    let error = load_err(&format!("{BASE}seeds: 2\n"));
    assert_eq!(line_column(&error), (13, 1));
    assert!(
        error.to_string().contains("duplicate field `seeds`"),
        "{error}"
    );
    let error = load_err(&edit(
        "  brokers: 3\n",
        "  brokers: 3\n  coordinators: 1\n  brokers: 5\n",
    ));
    assert_eq!(line_column(&error), (5, 3));
    let error = load_err(&edit("{count: 2,", "{count: 2, count: 3,"));
    assert_eq!(line_column(&error), (8, 25));
    for empty in ["", "# only a comment\n", "\n\n"] {
        let error = load_err(empty);
        assert_eq!(line_column(&error), (1, 1));
        assert!(error.to_string().contains("the file is empty"), "{error}");
    }
    let error = load_err("name: 'unclosed\n");
    assert!(
        matches!(error.problem(), Some(Problem::Syntax { .. })),
        "{error}"
    );
    let error = load_err(&format!("{BASE}---\n{BASE}"));
    assert!(
        error.to_string().contains("more than one YAML document"),
        "{error}"
    );
}

#[test]
fn every_error_renders_file_line_column_and_hint() {
    let sources = [
        edit("  brokers: 3\n", "  brokers: 3\n  brokrs: 3\n"),
        edit("duration: 30s", "duration: 5sec"),
        edit("partitions: 2}", "partitions: 0}"),
        edit("crash: broker-2", "crash: brokr-2"),
        edit("seeds: 1..5", "seeds: 5..1"),
        "\t\u{0}".to_owned(),
        ": : :".to_owned(),
    ];
    for source in sources {
        let text = load_err(&source).to_string();
        let (place, rest) = text.split_once(": ").expect("a place");
        let mut parts = place.rsplitn(3, ':');
        let column = parts.next().and_then(|c| c.parse::<usize>().ok());
        let line = parts.next().and_then(|l| l.parse::<usize>().ok());
        assert_eq!(parts.next(), Some("scenarios/test.yaml"), "{text}");
        assert!(
            line.is_some_and(|l| l >= 1) && column.is_some_and(|c| c >= 1),
            "{text}"
        );
        assert!(rest.contains(" (hint: ") && rest.ends_with(')'), "{text}");
    }
}

#[test]
fn load_reads_files_and_reports_missing_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("base.yaml");
    std::fs::write(&path, BASE).expect("write");
    assert_eq!(load(&path).expect("loads").name, "base");
    let missing = dir.path().join("missing.yaml");
    let error = load(&missing).expect_err("missing");
    assert!(matches!(error, ScenarioError::Read { .. }), "{error}");
    assert!(
        error.to_string().contains("missing.yaml: cannot read"),
        "{error}"
    );
}

#[test]
fn suites_expand_directories_sorted_and_recursive() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    std::fs::create_dir_all(root.join("suite/nested")).expect("mkdir");
    std::fs::create_dir_all(root.join("suite/.hidden")).expect("mkdir");
    let named = |name: &str| BASE.replace("name: base", &format!("name: {name}"));
    std::fs::write(root.join("suite/b.yaml"), named("b")).expect("write");
    std::fs::write(root.join("suite/a.yml"), named("a")).expect("write");
    std::fs::write(root.join("suite/nested/c.yaml"), named("c")).expect("write");
    std::fs::write(root.join("suite/notes.txt"), "not a scenario").expect("write");
    std::fs::write(root.join("suite/.hidden/d.yaml"), named("d")).expect("write");
    std::fs::write(root.join("single.yaml"), named("single")).expect("write");
    let suite = load_suite(&[root.join("single.yaml"), root.join("suite")]).expect("loads");
    let names: Vec<&str> = suite
        .iter()
        .map(|entry| entry.scenario.name.as_str())
        .collect();
    assert_eq!(names, ["single", "a", "b", "c"]);
    assert_eq!(suite[1].path, root.join("suite/a.yml"));

    std::fs::create_dir_all(root.join("empty")).expect("mkdir");
    let error = load_suite(&[root.join("empty")]).expect_err("empty");
    assert!(matches!(error, ScenarioError::EmptySuite { .. }), "{error}");
}

#[test]
fn suites_report_every_broken_file_and_duplicate_names() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    std::fs::write(root.join("1.yaml"), BASE).expect("write");
    std::fs::write(root.join("2.yaml"), BASE).expect("write");
    std::fs::write(root.join("3.yaml"), edit("seeds: 1..5", "seeds: 5..1")).expect("write");
    let error = load_suite(&[root.to_path_buf()]).expect_err("broken");
    let ScenarioError::Several { errors } = &error else {
        panic!("{error}")
    };
    assert_eq!(errors.len(), 2);
    assert!(
        errors[0]
            .to_string()
            .contains("2.yaml:1:7: scenario name \"base\""),
        "{error}"
    );
    assert!(
        errors[1].to_string().contains("3.yaml:12:8: bad range"),
        "{error}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_text_never_panics(source in "\\PC{0,200}") {
        let _ = load_str(&source, "fuzz.yaml");
    }

    #[test]
    fn yaml_like_text_never_panics(
        source in "([a-z_:{}\\[\\],\\-.#&*!|>'\" \n0-9]|name|cluster|workload|faults|schedule|topics|at|crash|\\.\\.){0,120}"
    ) {
        let _ = load_str(&source, "fuzz.yaml");
    }

    #[test]
    fn edited_base_never_panics(position in 0..BASE.len(), insert in "\\PC{0,12}", cut in 0usize..8) {
        let mut source = BASE.to_owned();
        let mut start = position;
        while !source.is_char_boundary(start) {
            start -= 1;
        }
        let mut end = (start + cut).min(source.len());
        while !source.is_char_boundary(end) {
            end -= 1;
        }
        source.replace_range(start..end, &insert);
        let _ = load_str(&source, "fuzz.yaml");
    }

    #[test]
    fn semantic_errors_are_located_inside_the_file(
        brokers in 0u64..6,
        partitions in 0u64..4,
        replication in 0u64..5,
        at in prop_oneof![Just("5s".to_owned()), "[0-9]{1,3}(ms|s|m|sec|)"],
        target in prop_oneof![
            Just("broker-1".to_owned()),
            Just("\"leader(orders/1)\"".to_owned()),
            "(broker|client|coordinator)-[0-9]",
            "[a-z()/0-9-]{0,12}",
        ],
        seeds in "[0-9]{1,2}\\.\\.[0-9]{1,2}",
        loss in prop_oneof![Just("0.0".to_owned()), "-?[0-9]\\.[0-9]"],
    ) {
        let source = format!(
            "name: fuzz\ncluster:\n  brokers: {brokers}\n  topics:\n    - {{name: orders, \
             partitions: {partitions}, replication: {replication}}}\nnetwork: {{loss: {loss}}}\n\
             workload: {{producers: {{count: 2}}}}\nfaults:\n  schedule:\n    - {{at: {at}, \
             crash: {target}}}\nseeds: {seeds}\n"
        );
        let lines = source.lines().count();
        match load_str(&source, "fuzz.yaml") {
            Ok(scenario) => {
                let yaml = scenario.to_yaml().expect("serialises");
                prop_assert_eq!(load_str(&yaml, "again.yaml").ok(), Some(scenario));
            }
            Err(error) => {
                let place = error.place().expect("a place");
                prop_assert!(place.line >= 1 && place.line <= lines, "{}", error);
                prop_assert!(place.column >= 1, "{}", error);
            }
        }
    }
}

#[test]
fn queue_workloads_resolve_with_their_topics() {
    let scenario = load_str(QUEUES, "queues.yaml").expect("loads");
    assert_eq!(scenario.network.tick_ms, 1);
    let workload = &scenario.workload;
    let tokens = workload.tokens.as_ref().expect("tokens");
    assert_eq!((tokens.topic.as_str(), tokens.capacity), ("tokens", 5));
    assert_eq!(workload.gateways.as_ref().map(|g| g.count), Some(2));
    let groups = &workload.consumers.as_ref().expect("groups").groups;
    assert_eq!(groups[1].topics, vec!["audit".to_owned()]);
    assert_eq!(
        groups[0].scale_out,
        Some(ScaleOut {
            at_ms: 6_000,
            to: 3
        })
    );
    // producer, token generator, 2 gateways, 3 workers (2 join late), 1 auditor.
    assert_eq!(workload.client_roles().len(), 8);
    let error = load_err(&QUEUES.replace("rate: 20/s}", "rate: 20/s, size: 5}"));
    assert!(error.to_string().contains("unknown key `size`"), "{error}");
    // The token bucket's topic is nobody else's, and a bounded queue has one group.
    let error = load_err(&QUEUES.replace("{name: auditors, topics: [audit]}", "{name: auditors}"));
    assert!(
        error.to_string().contains("already read by group"),
        "{error}"
    );
    let error = load_err(&QUEUES.replace("topics: [audit]}", "topics: [tokens]}"));
    assert!(
        error.to_string().contains("token bucket's topic"),
        "{error}"
    );
}

#[test]
fn a_scenario_may_list_the_txn_graph_check_and_expect_its_anomalies() {
    // Issue 16 added txn-graph to the check list; listing checks still loads, with the new
    // check and its anomaly names in the vocabulary.
    let scenario = load_str(
        &format!("{BASE}checks: [no-loss, txn-graph]\nexpect: {{invalid: [G1c]}}\n"),
        "scenarios/test.yaml",
    )
    .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(
        scenario.checks,
        vec![CheckName::NoLoss, CheckName::TxnGraph]
    );
    assert_eq!(
        scenario.expect,
        Expectation::Invalid(vec![AnomalyName::G1c])
    );
    let error = load_err(&format!("{BASE}checks: [txn-grap]\n"));
    assert!(
        error
            .hint()
            .is_some_and(|hint| hint.starts_with("did you mean \"txn-graph\"?")),
        "{error}"
    );
}

/// Issue 21: hostile input is refused before the parser sees it, quickly, with a place.
mod hostile_input {
    use super::*;

    fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).expect("write");
        path
    }

    fn located(error: &ScenarioError, starts: &str) {
        let text = error.to_string();
        assert!(text.starts_with(starts), "{text}");
        assert!(text.contains(" (hint: ") && text.ends_with(')'), "{text}");
    }

    #[test]
    fn files_over_a_mebibyte_are_refused_with_their_size() {
        let dir = tempfile::tempdir().expect("tempdir");
        // A 2 MiB description: the cap refuses it before the parser allocates anything.
        let long = format!("{BASE}description: \"{}\"\n", "x".repeat(2 << 20));
        let path = write(&dir, "huge.yaml", long.as_bytes());
        let error = load(&path).expect_err("too large");
        let label = path.display().to_string();
        located(&error, &format!("{label}:13:"));
        assert!(
            matches!(
                error.problem(),
                Some(Problem::TooLarge { bytes: Some(size), limit }) if *size == long.len() as u64 && *limit == input::SCENARIO_BYTES_MAX
            ),
            "{error}"
        );
        assert!(error.to_string().contains("the file is 2.0 MiB"), "{error}");
        // Many keys (87 MB took 2.3 GB of memory): the same cap, also through a suite.
        let keys: String = (0..200_000).map(|i| format!("k{i}: {i}\n")).collect();
        write(&dir, "keys.yaml", keys.as_bytes());
        let error = load_suite(&[dir.path().join("keys.yaml")]).expect_err("too large");
        assert!(
            matches!(error.problem(), Some(Problem::TooLarge { .. })),
            "{error}"
        );
        // Text handed in directly is held to the same cap.
        let error = load_str(&keys, "keys.yaml").expect_err("too large");
        assert!(
            matches!(error.problem(), Some(Problem::TooLarge { bytes: None, .. })),
            "{error}"
        );
    }

    #[test]
    fn deep_flow_nesting_is_refused_before_parsing() {
        // 200 KB of `[` took 39 s to parse; the pre-scan refuses it in linear time.
        let deep = format!("{BASE}checks: {}\n", "[".repeat(200_000));
        let error = load_str(&deep, "deep.yaml").expect_err("too deep");
        located(
            &error,
            &format!(
                "deep.yaml:13:{}: flow collections nested more than 64 deep",
                9 + 64
            ),
        );
        assert_eq!(error.problem(), Some(&Problem::TooDeep { limit: 64 }));
        // One bracket per line defeats the scanner's one-line look-ahead; still refused.
        let deep = format!("{BASE}checks:\n{}", " [\n".repeat(100_000));
        let error = load_str(&deep, "deep.yaml").expect_err("too deep");
        assert_eq!(error.place().map(|p| p.line), Some(13 + 65));
        // Nesting to the limit is only a parse error (or fine), never refused for depth.
        let ok = format!("{BASE}notes: {}{}\n", "[".repeat(64), "]".repeat(64));
        let error = load_str(&ok, "ok.yaml").expect_err("unknown key");
        assert!(
            matches!(error.problem(), Some(Problem::UnknownKey { .. })),
            "{error}"
        );
    }

    #[test]
    fn a_byte_order_mark_is_accepted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(&dir, "bom.yaml", format!("\u{feff}{BASE}").as_bytes());
        assert_eq!(load(&path).expect("a BOM is dropped").name, "base");
        let with_bom = format!("\u{feff}{}", BASE.replace("brokers: 3", "brokers: x"));
        let error = load_str(&with_bom, "bom.yaml").expect_err("bad brokers");
        // Positions are counted after the mark, as an editor shows them.
        located(&error, "bom.yaml:3:12: invalid type");
    }

    #[test]
    fn binary_files_are_refused_at_their_first_bad_byte() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut elf = b"\x7fELF\x02\x01\x01\x00".to_vec();
        elf.extend_from_slice(&[0u8; 64]);
        let path = write(&dir, "faultline.yaml", &elf);
        let error = load(&path).expect_err("binary");
        located(
            &error,
            &format!("{}:1:1: control character U+007F", path.display()),
        );
        assert!(error.to_string().contains("not a binary file"), "{error}");
        let mut latin1 = BASE.as_bytes().to_vec();
        latin1.extend_from_slice(b"description: caf\xe9\n");
        let path = write(&dir, "latin1.yaml", &latin1);
        let error = load(&path).expect_err("not UTF-8");
        located(
            &error,
            &format!("{}:13:17: byte 0xe9 is not UTF-8", path.display()),
        );
        assert!(
            error.to_string().contains("save the file as UTF-8"),
            "{error}"
        );
    }

    #[test]
    fn long_descriptions_are_refused_where_they_are() {
        let text = "x".repeat(resolve::DESCRIPTION_BYTES_MAX + 1);
        let error =
            load_str(&format!("{BASE}description: {text}\n"), "long.yaml").expect_err("too long");
        located(
            &error,
            "long.yaml:13:14: description is 4097 bytes long, more than the 4096",
        );
        let text = "x".repeat(resolve::DESCRIPTION_BYTES_MAX);
        let scenario = load_str(&format!("{BASE}description: {text}\n"), "ok.yaml").expect("loads");
        assert_eq!(scenario.description.len(), resolve::DESCRIPTION_BYTES_MAX);
    }
}
