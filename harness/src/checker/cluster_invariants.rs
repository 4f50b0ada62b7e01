//! Cluster invariants, judged from the node events a simulated run records (`node-events.jsonl`)
//! rather than from the clients' history: facts no client can see, whose violation the data
//! checks catch only by luck, much later, if at all.
//!
//! - `two-leaders-one-epoch`: two brokers became leader of one partition in one leader epoch.
//!   Epochs exist to tell leaders apart; a shared one lets a deposed leader's records and
//!   fetch answers pass as the new leader's.
//! - `producer-id-reused`: one producer id was handed out twice. Every grant starts a new
//!   producer identity with sequence 0; a second grant of the same id makes the broker's
//!   duplicate check take the new producer's records for the old one's.
//! - `controller-epoch-regressed`: a controller was elected in an epoch not above every earlier
//!   controller's. The epoch is what fences a stale controller's writes.
//! - `stale-epoch-fetch`: a follower holding one leader epoch had a fetch served by a leader of
//!   another. A leader must fence such a follower, which has not truncated for the new epoch.
//!
//! The check is a pure function of the events; it runs in one pass over them (maps keyed by
//! partition and epoch, by producer id). No events at all, or events dropped by the recording
//! bound, make it `unknown`, never `valid`.

use super::{CheckResult, Findings, Verdict};
use crate::systems::faultline::{NodeEvent, NodeEventRecord};
use reports::Anomaly;
use std::collections::BTreeMap;

pub const NAME: &str = "cluster-invariants";
pub const ANOMALIES: [&str; 4] = [
    "two-leaders-one-epoch",
    "producer-id-reused",
    "controller-epoch-regressed",
    "stale-epoch-fetch",
];

/// Judges a run's node events; `dropped` counts events the recording bound left out.
pub fn check(events: &[NodeEventRecord], dropped: u64) -> CheckResult {
    let mut findings = Findings::default();
    // (partition, epoch) -> (first leader, its event index).
    let mut leaders: BTreeMap<(&str, u64), (u32, usize)> = BTreeMap::new();
    // producer id -> (first holder, partition, event index).
    let mut producer_ids: BTreeMap<u64, (&str, &str, usize)> = BTreeMap::new();
    // The highest controller epoch so far: (epoch, broker, event index).
    let mut controller: Option<(u64, u32, usize)> = None;
    for (index, record) in events.iter().enumerate() {
        match &record.event {
            NodeEvent::LeaderElected {
                tp, epoch, broker, ..
            } => match leaders.get(&(tp.as_str(), *epoch)) {
                Some(&(first, first_index)) if first != *broker => findings.add(
                    "two-leaders-one-epoch",
                    Anomaly::new(format!(
                        "broker-{first} and broker-{broker} both became leader of {tp} in \
                         leader epoch {epoch} (node events {first_index} and {index})"
                    ))
                    .key(tp)
                    .detail("epoch", *epoch)
                    .detail("brokers", vec![first, *broker])
                    .detail("node_events", vec![first_index, index]),
                ),
                Some(_) => {}
                None => {
                    leaders.insert((tp.as_str(), *epoch), (*broker, index));
                }
            },
            NodeEvent::ProducerIdAssigned { producer_id, tp } => {
                match producer_ids.get(producer_id) {
                    Some(&(holder, first_tp, first_index)) => findings.add(
                        "producer-id-reused",
                        Anomaly::new(format!(
                            "producer id {producer_id} was given to {holder} for {first_tp} \
                             and again to {} for {tp} (node events {first_index} and {index})",
                            record.node
                        ))
                        .key(tp)
                        .detail("producer_id", *producer_id)
                        .detail("holders", vec![holder, record.node.as_str()])
                        .detail("node_events", vec![first_index, index]),
                    ),
                    None => {
                        producer_ids.insert(*producer_id, (record.node.as_str(), tp, index));
                    }
                }
            }
            NodeEvent::ControllerElected { broker, epoch } => match controller {
                Some((highest, before, before_index)) if *epoch <= highest => findings.add(
                    "controller-epoch-regressed",
                    Anomaly::new(format!(
                        "broker-{broker} became controller in epoch {epoch} after broker-{before} \
                         had ruled in epoch {highest} (node events {before_index} and {index})"
                    ))
                    .detail("epoch", *epoch)
                    .detail("epoch_before", highest)
                    .detail("node_events", vec![before_index, index]),
                ),
                _ => controller = Some((*epoch, *broker, index)),
            },
            NodeEvent::ReplicaFetched {
                tp,
                broker,
                leader,
                epoch,
                leader_epoch,
            } if epoch != leader_epoch => findings.add(
                "stale-epoch-fetch",
                Anomaly::new(format!(
                    "broker-{leader}, leading {tp} in epoch {leader_epoch}, served a fetch of \
                     broker-{broker}, which held epoch {epoch} (node event {index})"
                ))
                .key(tp)
                .detail("epoch", *epoch)
                .detail("leader_epoch", *leader_epoch)
                .detail("node_events", vec![index]),
            ),
            NodeEvent::ReplicaFetched { .. }
            | NodeEvent::IsrChanged { .. }
            | NodeEvent::Truncated { .. }
            | NodeEvent::GroupGeneration { .. } => {}
        }
    }
    if events.is_empty() {
        findings.doubt(|| "the run recorded no node events".to_string());
    }
    if dropped > 0 {
        findings.doubt(|| format!("{dropped} node events beyond the recording bound were dropped"));
    }
    let result = findings.finish();
    debug_assert!(result.verdict != Verdict::Valid || (dropped == 0 && !events.is_empty()));
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(time: u64, node: &str, event: NodeEvent) -> NodeEventRecord {
        NodeEventRecord {
            time,
            node: node.to_owned(),
            event,
        }
    }

    fn leader(time: u64, broker: u32, epoch: u64) -> NodeEventRecord {
        at(
            time,
            &format!("broker-{broker}"),
            NodeEvent::LeaderElected {
                tp: "orders/0".into(),
                epoch,
                broker,
                log_end: 10,
            },
        )
    }

    fn controller(time: u64, broker: u32, epoch: u64) -> NodeEventRecord {
        at(
            time,
            &format!("broker-{broker}"),
            NodeEvent::ControllerElected { broker, epoch },
        )
    }

    fn producer_id(time: u64, client: &str, producer_id: u64, tp: &str) -> NodeEventRecord {
        at(
            time,
            client,
            NodeEvent::ProducerIdAssigned {
                producer_id,
                tp: tp.into(),
            },
        )
    }

    fn fetched(time: u64, epoch: u64, leader_epoch: u64) -> NodeEventRecord {
        at(
            time,
            "broker-3",
            NodeEvent::ReplicaFetched {
                tp: "orders/0".into(),
                broker: 3,
                leader: 1,
                epoch,
                leader_epoch,
            },
        )
    }

    fn names(result: &CheckResult) -> Vec<(&str, usize)> {
        result
            .anomalies
            .iter()
            .map(|(name, list)| (name.as_str(), list.len()))
            .collect()
    }

    #[test]
    fn two_brokers_leading_one_epoch_is_reported() {
        let events = [leader(1, 1, 0), leader(2, 2, 0)];
        let result = check(&events, 0);
        assert_eq!(result.verdict, Verdict::Invalid);
        assert_eq!(names(&result), [("two-leaders-one-epoch", 1)]);
        let anomaly = &result.anomalies["two-leaders-one-epoch"][0];
        assert_eq!(anomaly.key.as_deref(), Some("orders/0"));
        assert!(anomaly.explanation.contains("broker-1 and broker-2"));
    }

    #[test]
    fn a_new_epoch_per_leader_or_one_leader_reelected_in_its_epoch_is_valid() {
        let moved = [leader(1, 1, 0), leader(2, 2, 1), leader(3, 1, 2)];
        assert_eq!(check(&moved, 0).verdict, Verdict::Valid);
        // A broker that restarts and takes up its own epoch again is still one leader.
        let again = [leader(1, 1, 0), leader(2, 1, 0)];
        assert_eq!(check(&again, 0).verdict, Verdict::Valid);
        // One epoch number on two partitions is two epochs.
        let other = at(
            2,
            "broker-2",
            NodeEvent::LeaderElected {
                tp: "orders/1".into(),
                epoch: 0,
                broker: 2,
                log_end: 0,
            },
        );
        assert_eq!(check(&[leader(1, 1, 0), other], 0).verdict, Verdict::Valid);
    }

    #[test]
    fn one_producer_id_granted_twice_is_reported_even_to_one_client() {
        let two_clients = [
            producer_id(1, "client-1", 4, "orders/0"),
            producer_id(2, "client-2", 4, "orders/0"),
        ];
        let result = check(&two_clients, 0);
        assert_eq!(names(&result), [("producer-id-reused", 1)]);
        assert!(result.anomalies["producer-id-reused"][0]
            .explanation
            .contains("client-1 for orders/0 and again to client-2"));
        // A client that starts a fresh identity and gets its old id back is reused too.
        let one_client = [
            producer_id(1, "client-1", 4, "orders/0"),
            producer_id(2, "client-1", 4, "orders/0"),
        ];
        assert_eq!(names(&check(&one_client, 0)), [("producer-id-reused", 1)]);
    }

    #[test]
    fn distinct_producer_ids_are_valid() {
        let events = [
            producer_id(1, "client-1", 4, "orders/0"),
            producer_id(2, "client-2", 5, "orders/0"),
            producer_id(3, "client-1", 6, "orders/1"),
        ];
        assert_eq!(check(&events, 0).verdict, Verdict::Valid);
    }

    #[test]
    fn a_controller_epoch_that_goes_back_or_repeats_is_reported() {
        let back = [controller(1, 1, 2), controller(2, 2, 1)];
        assert_eq!(names(&check(&back, 0)), [("controller-epoch-regressed", 1)]);
        let repeated = [controller(1, 1, 2), controller(2, 2, 2)];
        assert_eq!(
            names(&check(&repeated, 0)),
            [("controller-epoch-regressed", 1)]
        );
    }

    #[test]
    fn controller_epochs_that_rise_are_valid_even_with_gaps() {
        let events = [
            controller(1, 1, 1),
            controller(2, 2, 2),
            controller(3, 1, 5),
        ];
        assert_eq!(check(&events, 0).verdict, Verdict::Valid);
    }

    #[test]
    fn a_fetch_served_across_epochs_is_reported() {
        let result = check(&[leader(1, 1, 3), fetched(2, 2, 3)], 0);
        assert_eq!(names(&result), [("stale-epoch-fetch", 1)]);
        assert!(result.anomalies["stale-epoch-fetch"][0]
            .explanation
            .contains("broker-3, which held epoch 2"));
    }

    #[test]
    fn a_fetch_served_within_its_epoch_is_valid() {
        assert_eq!(
            check(&[leader(1, 1, 3), fetched(2, 3, 3)], 0).verdict,
            Verdict::Valid
        );
    }

    #[test]
    fn no_events_or_dropped_events_leave_the_check_undecided_but_never_hide_an_anomaly() {
        assert!(matches!(check(&[], 0).verdict, Verdict::Unknown));
        let clean = [leader(1, 1, 0)];
        assert!(matches!(check(&clean, 3).verdict, Verdict::Unknown));
        let broken = [leader(1, 1, 0), leader(2, 2, 0)];
        assert_eq!(check(&broken, 3).verdict, Verdict::Invalid);
    }
}
