//! `txn-graph`: Elle's cycle analysis of multi-key transactions, as Jepsen's Kafka checker runs
//! it (design.md section 9). faultline's own broker has no multi-key transactions, so this
//! check judges re-checked histories (Jepsen's `txn` workloads); it applies when the history
//! has `txn` ops, and then, like Jepsen, treats every send, poll and txn op as a transaction
//! (Jepsen's workload files a transaction of only sends under `send`).
//!
//! - `G0` (write cycle): ops whose writes the version orders put in a cycle — each key's log
//!   orders them one way, another key's the other way. One anomaly per strongly connected
//!   component of the `ww` graph, with one cycle as proof.
//! - `G1c` (circular information flow): a cycle of `ww` and `wr` dependencies with at least one
//!   `wr`: an op read another's write, which (through the version orders) came after its own.
//!   One per component of the `ww`+`wr` graph that holds a `wr` edge.
//! - `precommitted-read`: a transaction read its own write (invisible until it commits, in
//!   Kafka's model), or read another's write although it completed before that write's op was
//!   even invoked.
//!
//! `rw` edges are not searched, so [`super::dependency_graph`] does not draw them: a poll
//! reads a prefix of each partition, so not seeing a later write promises nothing (Jepsen
//! leaves them out too), and a cycle needing one is no Kafka anomaly. Linear: the graph is
//! built in n log n, components by iterative Tarjan (Pearce's variant), one breadth-first
//! search per component.

use super::dependency_graph::{Dependency, DependencyGraph, Label};
use super::scc::{components, path};
use super::{Anomaly, CheckOptions, CheckResult, Checker, Findings};
use crate::history::{History, KeyId, MopView, OpType, F};

pub const NAME: &str = "txn-graph";

/// The anomalies this check reports.
pub const ANOMALIES: &[&str] = &["G0", "G1c", "precommitted-read"];

/// At most this many steps of a cycle are spelt out in its explanation.
const STEPS_LISTED_MAX: usize = 8;

#[derive(Clone, Copy, Debug, Default)]
pub struct TxnGraph;

impl Checker for TxnGraph {
    fn name(&self) -> &'static str {
        NAME
    }

    fn anomalies(&self) -> &'static [&'static str] {
        ANOMALIES
    }

    fn applies(&self, history: &History) -> bool {
        (0..history.len() as u64).any(|index| *history.f(index) == F::Txn)
    }

    fn check(&self, history: &History, _opts: &CheckOptions) -> CheckResult {
        let mut findings = Findings::default();
        if !self.applies(history) {
            findings.doubt(|| "the history has no txn op".to_string());
            return findings.finish();
        }
        precommitted_reads(history, &mut findings);

        let dependencies = DependencyGraph::build(history);
        let graph = &dependencies.graph;
        let searches: [(&str, &[Dependency]); 2] = [
            ("G0", &[Dependency::WriteWrite]),
            ("G1c", &[Dependency::WriteWrite, Dependency::WriteRead]),
        ];
        let keep = |kinds: &'static [Dependency]| move |label: Label| kinds.contains(&label.kind());
        // The ww+wr graph's components first: a ww cycle is a cycle of it too, so when it has
        // none (a valid history), the ww graph is not searched at all.
        let with_reads = components(graph, keep(searches[1].1));
        let found = [
            if with_reads.is_empty() {
                Vec::new()
            } else {
                components(graph, keep(searches[0].1))
            },
            with_reads,
        ];
        for ((name, kinds), found) in searches.into_iter().zip(found) {
            let keep = keep(kinds);
            // A G1c cycle holds a wr edge; a G0 one is made of ww edges only.
            let through = if name == "G1c" {
                Dependency::WriteRead
            } else {
                Dependency::WriteWrite
            };
            for component in found {
                let inside = |v: u32| component.binary_search(&v).is_ok();
                let closing = component.iter().find_map(|&a| {
                    graph
                        .edges(a)
                        .iter()
                        .find(|(b, label)| label.kind() == through && inside(*b))
                        .map(|&(b, label)| (a, b, label))
                });
                let Some((a, b, label)) = closing else {
                    continue;
                };
                let Some(back) = path(graph, &component, b, a, keep) else {
                    continue;
                };
                let mut cycle = vec![(a, b, label)];
                cycle.extend(back);
                findings.add(name, cycle_anomaly(history, &dependencies, name, &cycle));
            }
        }
        findings.finish()
    }
}

fn cycle_anomaly(
    history: &History,
    dependencies: &DependencyGraph,
    name: &str,
    cycle: &[(u32, u32, Label)],
) -> Anomaly {
    let steps: Vec<String> = cycle
        .iter()
        .map(|&(from, to, label)| dependencies.explain(history, from, to, label))
        .collect();
    let shown = steps.len().min(STEPS_LISTED_MAX);
    let more = if steps.len() > shown {
        format!(", and {} more steps", steps.len() - shown)
    } else {
        String::new()
    };
    let what = if name == "G0" {
        "a cycle of write dependencies"
    } else {
        "a cycle of write and read dependencies"
    };
    Anomaly::new(format!(
        "{} ops form {what}: {}{more}.",
        cycle.len(),
        steps[..shown].join("; ")
    ))
    .ops(cycle.iter().map(|&(from, _, _)| dependencies.op(from)))
    .detail("cycle", steps)
}

/// A txn that read its own write, or a write whose op had not begun when the reader ended.
fn precommitted_reads(history: &History, findings: &mut Findings) {
    let log = history.log();
    let mut sent: Vec<(KeyId, i64)> = Vec::new();
    // Only txn completions count: the values of other ops are never built, nor any head.
    for index in 0..history.len() as u64 {
        if *history.f(index) != F::Txn {
            continue;
        }
        let kind = history.kind(index);
        if kind == OpType::Invoke {
            continue;
        }
        let body = history.body(index);
        sent.clear();
        sent.extend(body.mops().iter().filter_map(|mop| match mop {
            MopView::Send(send) => Some((send.key, send.value)),
            MopView::Poll(_) => None,
        }));
        let records = body
            .mops()
            .polls()
            .filter_map(|poll| poll.reads())
            .flatten()
            .flat_map(|reads| reads.records.iter().map(move |record| (reads.key, record)));
        for (key, record) in records {
            if sent.contains(&(key, record.value)) {
                let key_name = history.key_name(key);
                findings.add(
                    "precommitted-read",
                    Anomaly::new(format!(
                        "txn op {index} read its own write {key_name} {} at offset {} before it committed.",
                        record.value, record.offset
                    ))
                    .key(key_name)
                    .value(record.value)
                    .offsets([record.offset])
                    .ops([index]),
                );
                break;
            }
            // Only an ok txn certainly completed when it did.
            if kind != OpType::Ok {
                continue;
            }
            let Some(write) = log.write_of(key, record.value) else {
                continue;
            };
            let time = history.time(index);
            if history.time(write.invoke()) > time {
                let key_name = history.key_name(key);
                findings.add(
                    "precommitted-read",
                    Anomaly::new(format!(
                        "txn op {index} read {key_name} {} at offset {}, but it completed at {time} ns, before op {} began sending it at {} ns.",
                        record.value,
                        record.offset,
                        write.invoke(),
                        history.time(write.invoke())
                    ))
                    .key(key_name)
                    .value(record.value)
                    .offsets([record.offset])
                    .ops([index, write.invoke()]),
                );
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::testing::{assert_exactly, assert_unknown, assert_valid, check};

    /// Two txns each send to keys 0 and 1; `X` and `Y` are the offsets T1 (op 2) and T2 (op 3)
    /// landed at on each key, as `[t1, t2]`.
    fn two_writers(x: [u64; 2], y: [u64; 2]) -> String {
        format!(
            r#"{{"index":0,"time":1000,"process":1,"type":"invoke","f":"txn","value":[["send",0,1],["send",1,2]]}}
               {{"index":1,"time":1100,"process":2,"type":"invoke","f":"txn","value":[["send",0,3],["send",1,4]]}}
               {{"index":2,"time":2000,"process":1,"type":"ok","f":"txn","value":[["send",0,[{},1]],["send",1,[{},2]]]}}
               {{"index":3,"time":2100,"process":2,"type":"ok","f":"txn","value":[["send",0,[{},3]],["send",1,[{},4]]]}}"#,
            x[0], y[0], x[1], y[1]
        )
    }

    #[test]
    fn g0_when_two_keys_order_two_writers_both_ways() {
        let result = check(&TxnGraph, &two_writers([0, 1], [1, 0]));
        assert_exactly(&result, &["G0"]);
        let g0 = &result.anomalies["G0"][0];
        assert_eq!(g0.ops, vec![2, 3]);
        assert_eq!(g0.detail["cycle"].as_array().unwrap().len(), 2);
        // Near-identical: both keys order T1 first.
        assert_valid(&check(&TxnGraph, &two_writers([0, 1], [0, 1])));
        assert_valid(&check(&TxnGraph, &two_writers([1, 0], [1, 0])));
    }

    /// T1 (op 2) sends 0:1 and polls; T2 (op 3) sends 1:2 and polls. `READ1`, `READ2` are
    /// what their polls returned.
    fn two_readers(read1: &str, read2: &str) -> String {
        format!(
            r#"{{"index":0,"time":1000,"process":1,"type":"invoke","f":"txn","value":[["send",0,1],["poll"]]}}
               {{"index":1,"time":1100,"process":2,"type":"invoke","f":"txn","value":[["send",1,2],["poll"]]}}
               {{"index":2,"time":2000,"process":1,"type":"ok","f":"txn","value":[["send",0,[0,1]],["poll",{read1}]]}}
               {{"index":3,"time":2100,"process":2,"type":"ok","f":"txn","value":[["send",1,[0,2]],["poll",{read2}]]}}"#
        )
    }

    #[test]
    fn g1c_when_two_txns_read_each_other() {
        let result = check(
            &TxnGraph,
            &two_readers(r#"{"1":[[0,2]]}"#, r#"{"0":[[0,1]]}"#),
        );
        assert_exactly(&result, &["G1c"]);
        assert_eq!(result.anomalies["G1c"][0].ops, vec![2, 3]);
        // Near-identical: only one reads the other.
        assert_valid(&check(
            &TxnGraph,
            &two_readers(r#"{"1":[[0,2]]}"#, r#"{"0":[]}"#),
        ));
    }

    /// T1 (op 2) sends 0:1 and polls key 1; T2 (op 3) sends 0:2 and 1:3. `X` holds the
    /// offsets of 1 and 2 on key 0.
    fn write_then_read(x: [u64; 2]) -> String {
        format!(
            r#"{{"index":0,"time":1000,"process":1,"type":"invoke","f":"txn","value":[["send",0,1],["poll"]]}}
               {{"index":1,"time":1100,"process":2,"type":"invoke","f":"txn","value":[["send",0,2],["send",1,3]]}}
               {{"index":2,"time":2000,"process":1,"type":"ok","f":"txn","value":[["send",0,[{},1]],["poll",{{"1":[[0,3]]}}]]}}
               {{"index":3,"time":2100,"process":2,"type":"ok","f":"txn","value":[["send",0,[{},2]],["send",1,[0,3]]]}}"#,
            x[0], x[1]
        )
    }

    #[test]
    fn g1c_through_a_write_and_a_read_dependency() {
        // T1 wrote key 0 before T2 (ww), yet read T2's write to key 1 (wr).
        let result = check(&TxnGraph, &write_then_read([0, 1]));
        assert_exactly(&result, &["G1c"]);
        let steps = result.anomalies["G1c"][0].detail["cycle"].to_string();
        assert!(steps.contains("(ww)") && steps.contains("(wr)"), "{steps}");
        assert_valid(&check(&TxnGraph, &write_then_read([1, 0])));
    }

    #[test]
    fn precommitted_read_of_its_own_write() {
        let history = |read: &str| {
            format!(
                r#"{{"index":0,"time":1000,"process":1,"type":"invoke","f":"txn","value":[["send",0,1],["poll"]]}}
                   {{"index":1,"time":2000,"process":1,"type":"ok","f":"txn","value":[["send",0,[0,1]],["poll",{read}]]}}"#
            )
        };
        let result = check(&TxnGraph, &history(r#"{"0":[[0,1]]}"#));
        assert_exactly(&result, &["precommitted-read"]);
        assert_eq!(result.anomalies["precommitted-read"][0].ops, vec![1]);
        assert_valid(&check(&TxnGraph, &history(r#"{"0":[]}"#)));
    }

    /// A txn (process 1) polls key 0 and reads 5, which process 2 sends: invoked at `SENT`.
    fn read_of_a_send_invoked_at(sent_at: u64) -> String {
        let mut ops = [
            (
                1000,
                r#""process":1,"type":"invoke","f":"txn","value":[["poll"]]"#,
            ),
            (
                sent_at,
                r#""process":2,"type":"invoke","f":"send","value":[["send",0,5]]"#,
            ),
            (
                3000,
                r#""process":1,"type":"ok","f":"txn","value":[["poll",{"0":[[0,5]]}]]"#,
            ),
            (
                4000,
                r#""process":2,"type":"ok","f":"send","value":[["send",0,[0,5]]]"#,
            ),
        ];
        ops.sort_by_key(|&(time, _)| time);
        ops.iter()
            .enumerate()
            .map(|(index, (time, rest))| format!(r#"{{"index":{index},"time":{time},{rest}}}"#))
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn precommitted_read_of_a_write_not_yet_begun() {
        let result = check(&TxnGraph, &read_of_a_send_invoked_at(3500));
        assert_exactly(&result, &["precommitted-read"]);
        assert_eq!(result.anomalies["precommitted-read"][0].ops, vec![1, 2]);
        // Near-identical: the send began before the txn ended, so it may have committed first.
        assert_valid(&check(&TxnGraph, &read_of_a_send_invoked_at(2000)));
    }

    #[test]
    fn unknown_without_txn_ops() {
        let result = check(
            &TxnGraph,
            r#"{"index":0,"time":1000,"process":1,"type":"invoke","f":"send","value":[["send",0,1]]}
               {"index":1,"time":2000,"process":1,"type":"ok","f":"send","value":[["send",0,[0,1]]]}"#,
        );
        assert!(assert_unknown(&result).contains("no txn op"));
    }
}
