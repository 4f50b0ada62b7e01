//! Tiny hand-written histories: each anomaly, and a near-identical history that must not
//! report it.

use super::CoordinatorLinearizable;
use crate::checker::testing::{assert_exactly, assert_unknown, assert_valid, check};

/// One op: (time, process, type, f, value as JSON).
type Line = (u64, u64, &'static str, &'static str, String);

fn op(time: u64, process: u64, kind: &'static str, f: &'static str, value: &str) -> Line {
    (time, process, kind, f, value.to_string())
}

/// The ops in time order (stable), indexed from 0 in that order.
fn history(lines: &[Line]) -> String {
    let mut lines = lines.to_vec();
    lines.sort_by_key(|line| line.0);
    lines
        .iter()
        .enumerate()
        .map(|(index, (time, process, kind, f, value))| {
            format!(
                r#"{{"index":{index},"time":{time},"process":{process},"type":"{kind}","f":"{f}","value":{value}}}"#
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// p1 creates /a (data 1), then sets it to data 2 (version 1); then p2 reads `read`, invoked at
/// `read_at` (the write completes at 40).
fn write_then_read(read_at: u64, read: &str) -> String {
    history(&[
        op(10, 1, "invoke", "zk-create", r#"{"data":1,"path":"/a"}"#),
        op(
            20,
            1,
            "ok",
            "zk-create",
            r#"{"data":1,"path":"/a","version":0}"#,
        ),
        op(
            30,
            1,
            "invoke",
            "zk-write",
            r#"{"data":2,"expected":0,"path":"/a"}"#,
        ),
        op(
            40,
            1,
            "ok",
            "zk-write",
            r#"{"data":2,"expected":0,"path":"/a","version":1}"#,
        ),
        op(read_at, 2, "invoke", "zk-read", r#"{"path":"/a"}"#),
        op(60, 2, "ok", "zk-read", read),
    ])
}

#[test]
fn a_read_after_an_acknowledged_write_that_returns_the_older_version_is_a_lost_write() {
    let old = r#"{"data":1,"path":"/a","version":0}"#;
    let result = check(&CoordinatorLinearizable, &write_then_read(50, old));
    assert_exactly(&result, &["zk-lost-write"]);
    let anomaly = &result.anomalies["zk-lost-write"][0];
    assert_eq!(anomaly.ops, vec![2, 3, 4, 5]);
    // The same read begun before the write completed may linearize before it.
    assert_valid(&check(&CoordinatorLinearizable, &write_then_read(35, old)));
    // And begun after it, returning the write, is what a correct coordinator does.
    let new = r#"{"data":2,"path":"/a","version":1}"#;
    assert_valid(&check(&CoordinatorLinearizable, &write_then_read(50, new)));
}

#[test]
fn an_acknowledged_create_that_vanishes_is_a_lost_write() {
    let lost = |read_at: u64| {
        history(&[
            op(10, 1, "invoke", "zk-create", r#"{"data":1,"path":"/a"}"#),
            op(
                20,
                1,
                "ok",
                "zk-create",
                r#"{"data":1,"path":"/a","version":0}"#,
            ),
            op(read_at, 2, "invoke", "zk-read", r#"{"path":"/a"}"#),
            op(
                30,
                2,
                "ok",
                "zk-read",
                r#"{"data":null,"path":"/a","version":null}"#,
            ),
        ])
    };
    assert_exactly(
        &check(&CoordinatorLinearizable, &lost(25)),
        &["zk-lost-write"],
    );
    assert_valid(&check(&CoordinatorLinearizable, &lost(15)));
}

#[test]
fn a_second_create_acknowledged_after_the_first_is_a_lost_write() {
    // After a power loss the coordinator came back without /a, so the create succeeded again.
    let recreate = |second_at: u64| {
        history(&[
            op(10, 1, "invoke", "zk-create", r#"{"data":1,"path":"/a"}"#),
            op(
                20,
                1,
                "ok",
                "zk-create",
                r#"{"data":1,"path":"/a","version":0}"#,
            ),
            op(
                second_at,
                2,
                "invoke",
                "zk-create",
                r#"{"data":2,"path":"/a"}"#,
            ),
            op(
                40,
                2,
                "ok",
                "zk-create",
                r#"{"data":2,"path":"/a","version":0}"#,
            ),
            op(50, 2, "invoke", "zk-read", r#"{"path":"/a"}"#),
            op(
                60,
                2,
                "ok",
                "zk-read",
                r#"{"data":2,"path":"/a","version":0}"#,
            ),
        ])
    };
    assert_exactly(
        &check(&CoordinatorLinearizable, &recreate(30)),
        &["zk-lost-write"],
    );
    // Two creates at once, both acknowledged, are still impossible, but nothing proves which
    // one was lost: the general anomaly.
    assert_exactly(
        &check(&CoordinatorLinearizable, &recreate(15)),
        &["zk-nonlinearizable"],
    );
    // The second create refused, as it must be: valid.
    let refused = history(&[
        op(10, 1, "invoke", "zk-create", r#"{"data":1,"path":"/a"}"#),
        op(
            20,
            1,
            "ok",
            "zk-create",
            r#"{"data":1,"path":"/a","version":0}"#,
        ),
        op(30, 2, "invoke", "zk-create", r#"{"data":2,"path":"/a"}"#),
        op(40, 2, "fail", "zk-create", r#"{"data":2,"path":"/a"}"#),
        op(50, 2, "invoke", "zk-read", r#"{"path":"/a"}"#),
        op(
            60,
            2,
            "ok",
            "zk-read",
            r#"{"data":1,"path":"/a","version":0}"#,
        ),
    ]);
    assert_valid(&check(&CoordinatorLinearizable, &refused));
}

/// p1's write of data 2 has an unknown outcome; p2 reads it (version 1), then p3 reads,
/// invoked at `third_at` (p2's read completes at 60).
fn reads_of_an_unknown_write(third_at: u64) -> String {
    history(&[
        op(10, 1, "invoke", "zk-create", r#"{"data":1,"path":"/a"}"#),
        op(
            20,
            1,
            "ok",
            "zk-create",
            r#"{"data":1,"path":"/a","version":0}"#,
        ),
        op(
            30,
            1,
            "invoke",
            "zk-write",
            r#"{"data":2,"expected":0,"path":"/a"}"#,
        ),
        op(
            40,
            1,
            "info",
            "zk-write",
            r#"{"data":2,"expected":0,"path":"/a"}"#,
        ),
        op(50, 2, "invoke", "zk-read", r#"{"path":"/a"}"#),
        op(third_at, 3, "invoke", "zk-read", r#"{"path":"/a"}"#),
        op(
            60,
            2,
            "ok",
            "zk-read",
            r#"{"data":2,"path":"/a","version":1}"#,
        ),
        op(
            70,
            3,
            "ok",
            "zk-read",
            r#"{"data":1,"path":"/a","version":0}"#,
        ),
    ])
}

#[test]
fn a_read_that_goes_back_behind_an_earlier_read_is_stale() {
    let stale = history(&[
        op(10, 1, "invoke", "zk-create", r#"{"data":1,"path":"/a"}"#),
        op(
            20,
            1,
            "ok",
            "zk-create",
            r#"{"data":1,"path":"/a","version":0}"#,
        ),
        op(
            30,
            1,
            "invoke",
            "zk-write",
            r#"{"data":2,"expected":0,"path":"/a"}"#,
        ),
        op(
            40,
            1,
            "info",
            "zk-write",
            r#"{"data":2,"expected":0,"path":"/a"}"#,
        ),
        op(50, 2, "invoke", "zk-read", r#"{"path":"/a"}"#),
        op(
            60,
            2,
            "ok",
            "zk-read",
            r#"{"data":2,"path":"/a","version":1}"#,
        ),
        op(65, 3, "invoke", "zk-read", r#"{"path":"/a"}"#),
        op(
            70,
            3,
            "ok",
            "zk-read",
            r#"{"data":1,"path":"/a","version":0}"#,
        ),
    ]);
    let result = check(&CoordinatorLinearizable, &stale);
    assert_exactly(&result, &["zk-stale-read"]);
    assert_eq!(result.anomalies["zk-stale-read"][0].ops, vec![4, 5, 6, 7]);
    // The two reads overlapping: the older one may come first.
    assert_valid(&check(
        &CoordinatorLinearizable,
        &reads_of_an_unknown_write(55),
    ));
}

#[test]
fn a_read_of_data_no_write_wrote_is_nonlinearizable() {
    let read = |data: i64, version: u64| {
        history(&[
            op(10, 1, "invoke", "zk-create", r#"{"data":1,"path":"/a"}"#),
            op(
                20,
                1,
                "ok",
                "zk-create",
                r#"{"data":1,"path":"/a","version":0}"#,
            ),
            op(
                30,
                1,
                "invoke",
                "zk-write",
                r#"{"data":2,"expected":0,"path":"/a"}"#,
            ),
            op(
                40,
                1,
                "fail",
                "zk-write",
                r#"{"data":2,"expected":0,"path":"/a"}"#,
            ),
            op(50, 2, "invoke", "zk-read", r#"{"path":"/a"}"#),
            op(
                60,
                2,
                "ok",
                "zk-read",
                &format!(r#"{{"data":{data},"path":"/a","version":{version}}}"#),
            ),
        ])
    };
    // The refused write's data, and the create's data at the wrong version.
    assert_exactly(
        &check(&CoordinatorLinearizable, &read(2, 1)),
        &["zk-nonlinearizable"],
    );
    assert_exactly(
        &check(&CoordinatorLinearizable, &read(1, 1)),
        &["zk-nonlinearizable"],
    );
    assert_valid(&check(&CoordinatorLinearizable, &read(1, 0)));
}

#[test]
fn a_write_that_takes_effect_below_a_version_already_read_is_nonlinearizable() {
    // p2 read version 1 (data 2), then p3's write expecting 0 was acknowledged as version 1.
    let late = |write_at: u64| {
        history(&[
            op(10, 1, "invoke", "zk-create", r#"{"data":1,"path":"/a"}"#),
            op(
                20,
                1,
                "ok",
                "zk-create",
                r#"{"data":1,"path":"/a","version":0}"#,
            ),
            op(
                25,
                1,
                "invoke",
                "zk-write",
                r#"{"data":2,"expected":0,"path":"/a"}"#,
            ),
            op(30, 2, "invoke", "zk-read", r#"{"path":"/a"}"#),
            op(
                40,
                2,
                "ok",
                "zk-read",
                r#"{"data":2,"path":"/a","version":1}"#,
            ),
            op(
                write_at,
                3,
                "invoke",
                "zk-write",
                r#"{"data":3,"expected":1,"path":"/a"}"#,
            ),
            op(
                60,
                3,
                "ok",
                "zk-write",
                r#"{"data":3,"expected":1,"path":"/a","version":2}"#,
            ),
        ])
    };
    // Here p3's write goes on from what p2 read: valid (p1's write never completed, but the
    // read proves it happened).
    assert_valid(&check(&CoordinatorLinearizable, &late(50)));
    let below = history(&[
        op(10, 1, "invoke", "zk-create", r#"{"data":1,"path":"/a"}"#),
        op(
            20,
            1,
            "ok",
            "zk-create",
            r#"{"data":1,"path":"/a","version":0}"#,
        ),
        op(
            25,
            1,
            "invoke",
            "zk-write",
            r#"{"data":2,"expected":0,"path":"/a"}"#,
        ),
        op(30, 2, "invoke", "zk-read", r#"{"path":"/a"}"#),
        op(
            40,
            2,
            "ok",
            "zk-read",
            r#"{"data":2,"path":"/a","version":1}"#,
        ),
        op(
            50,
            3,
            "invoke",
            "zk-write",
            r#"{"data":3,"expected":0,"path":"/a"}"#,
        ),
        op(
            60,
            3,
            "ok",
            "zk-write",
            r#"{"data":3,"expected":0,"path":"/a","version":1}"#,
        ),
    ]);
    let result = check(&CoordinatorLinearizable, &below);
    assert_exactly(&result, &["zk-nonlinearizable"]);
}

#[test]
fn without_a_read_nothing_can_show_a_loss() {
    let writes_only = history(&[
        op(10, 1, "invoke", "zk-create", r#"{"data":1,"path":"/a"}"#),
        op(
            20,
            1,
            "ok",
            "zk-create",
            r#"{"data":1,"path":"/a","version":0}"#,
        ),
    ]);
    let reason = assert_unknown(&check(&CoordinatorLinearizable, &writes_only));
    assert!(reason.contains("no zk-read or zk-write"), "{reason}");
}

#[test]
fn data_written_twice_to_one_znode_leaves_the_check_undecided() {
    let twice = history(&[
        op(10, 1, "invoke", "zk-create", r#"{"data":1,"path":"/a"}"#),
        op(
            20,
            1,
            "ok",
            "zk-create",
            r#"{"data":1,"path":"/a","version":0}"#,
        ),
        op(
            30,
            1,
            "invoke",
            "zk-write",
            r#"{"data":1,"expected":0,"path":"/a"}"#,
        ),
        op(
            40,
            1,
            "ok",
            "zk-write",
            r#"{"data":1,"expected":0,"path":"/a","version":1}"#,
        ),
        op(50, 2, "invoke", "zk-read", r#"{"path":"/a"}"#),
        op(
            60,
            2,
            "ok",
            "zk-read",
            r#"{"data":1,"path":"/a","version":1}"#,
        ),
    ]);
    let reason = assert_unknown(&check(&CoordinatorLinearizable, &twice));
    assert!(reason.contains("written twice"), "{reason}");
}

#[test]
fn znodes_are_judged_apart() {
    // /a's version 1 says nothing about /b's version 0.
    let two = history(&[
        op(10, 1, "invoke", "zk-create", r#"{"data":1,"path":"/a"}"#),
        op(
            20,
            1,
            "ok",
            "zk-create",
            r#"{"data":1,"path":"/a","version":0}"#,
        ),
        op(
            30,
            1,
            "invoke",
            "zk-write",
            r#"{"data":2,"expected":0,"path":"/a"}"#,
        ),
        op(
            40,
            1,
            "ok",
            "zk-write",
            r#"{"data":2,"expected":0,"path":"/a","version":1}"#,
        ),
        op(50, 2, "invoke", "zk-create", r#"{"data":3,"path":"/b"}"#),
        op(
            60,
            2,
            "ok",
            "zk-create",
            r#"{"data":3,"path":"/b","version":0}"#,
        ),
        op(70, 2, "invoke", "zk-read", r#"{"path":"/b"}"#),
        op(
            80,
            2,
            "ok",
            "zk-read",
            r#"{"data":3,"path":"/b","version":0}"#,
        ),
    ]);
    assert_valid(&check(&CoordinatorLinearizable, &two));
}

#[test]
fn a_write_below_an_acknowledged_write_is_a_lost_write() {
    // After a power loss the coordinator came back without /a: p2's create succeeds again,
    // below p1's acknowledged version 1.
    let recreated = |create_at: u64| {
        history(&[
            op(10, 1, "invoke", "zk-create", r#"{"data":1,"path":"/a"}"#),
            op(
                20,
                1,
                "ok",
                "zk-create",
                r#"{"data":1,"path":"/a","version":0}"#,
            ),
            op(
                30,
                1,
                "invoke",
                "zk-write",
                r#"{"data":2,"expected":0,"path":"/a"}"#,
            ),
            op(
                40,
                1,
                "ok",
                "zk-write",
                r#"{"data":2,"expected":0,"path":"/a","version":1}"#,
            ),
            op(
                create_at,
                2,
                "invoke",
                "zk-write",
                r#"{"data":3,"expected":1,"path":"/a"}"#,
            ),
            op(
                60,
                2,
                "ok",
                "zk-write",
                r#"{"data":3,"expected":1,"path":"/a","version":2}"#,
            ),
        ])
    };
    assert_valid(&check(&CoordinatorLinearizable, &recreated(50)));
    let below = history(&[
        op(10, 1, "invoke", "zk-create", r#"{"data":1,"path":"/a"}"#),
        op(
            20,
            1,
            "ok",
            "zk-create",
            r#"{"data":1,"path":"/a","version":0}"#,
        ),
        op(
            30,
            1,
            "invoke",
            "zk-write",
            r#"{"data":2,"expected":0,"path":"/a"}"#,
        ),
        op(
            40,
            1,
            "ok",
            "zk-write",
            r#"{"data":2,"expected":0,"path":"/a","version":1}"#,
        ),
        op(50, 2, "invoke", "zk-create", r#"{"data":3,"path":"/a"}"#),
        op(
            60,
            2,
            "ok",
            "zk-create",
            r#"{"data":3,"path":"/a","version":0}"#,
        ),
    ]);
    let result = check(&CoordinatorLinearizable, &below);
    assert_exactly(&result, &["zk-lost-write"]);
    assert!(result.anomalies["zk-lost-write"]
        .iter()
        .any(|a| a.ops == vec![2, 3, 4, 5]));
}
