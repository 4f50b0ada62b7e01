//! The replica core without a disk, a runtime or a simulation: a log is two numbers here
//! (`FakeLog`), and every answer is read off the effects. Fast enough to run thousands of
//! steps per test.

use super::*;
use crate::storage::{AppendInfo, Record};
use crate::wire::broker_protocol::{
    Acks, EpochEndResponse, Overflow, ProduceRequest, ProducerStamp,
};
use std::collections::BTreeMap;

const EXPIRY: Duration = Duration::from_secs(3600);
const LAG_MAX: Duration = Duration::from_secs(10);

/// The log as the core sees it: everything appended is synced at once (`fsync: always`).
#[derive(Clone, Copy, Default)]
struct FakeLog {
    end: u64,
}

impl FakeLog {
    fn facts(self) -> LogFacts {
        LogFacts {
            start: 0,
            end: self.end,
            synced_end: self.end,
        }
    }
}

struct Fixture {
    core: ReplicaCore,
    log: FakeLog,
    now: Instant,
}

fn tp() -> TopicPartition {
    TopicPartition::new("orders", 0)
}

fn fixture(me: BrokerId) -> Fixture {
    let now = Instant::now();
    let options = CoreOptions {
        tp: tp(),
        me,
        fsync: FsyncPolicy::Always,
        bugs: Bugs::none(),
    };
    Fixture {
        core: ReplicaCore::new(options, 0, 0, now),
        log: FakeLog::default(),
        now,
    }
}

/// Broker 1 leading epoch `epoch` of replicas 1..=3 with ISR `isr` and `min_insync` 2.
fn leader(epoch: u64, isr: &[BrokerId]) -> Fixture {
    let mut f = fixture(1);
    f.core.set_replicas(vec![1, 2, 3]);
    f.core.set_min_insync(2);
    let mut effects = Vec::new();
    f.core
        .become_leader(epoch, isr, 0, f.log.facts(), f.now, &mut effects);
    assert_eq!(effects, vec![Effect::NotifyChanged]);
    f
}

fn request(acks: Acks, count: usize, producer: Option<ProducerStamp>) -> ProduceRequest {
    ProduceRequest {
        tp: tp(),
        acks,
        timeout_ms: 0,
        records: (0..count).map(|i| Record::value(vec![i as u8])).collect(),
        producer,
        flags: 0,
    }
}

impl Fixture {
    /// Admits and appends a produce as the node would; the error of a refusal.
    fn produce(
        &mut self,
        request: ProduceRequest,
        effects: &mut Vec<Effect>,
    ) -> Result<Acknowledgement, BrokerError> {
        let log = self.log.facts();
        let admission = self
            .core
            .admit_produce(&request, log, self.now, EXPIRY, effects)?;
        match admission {
            ProduceAdmission::Duplicate(response) => {
                Ok(self.core.acknowledge(request.acks, response, effects))
            }
            ProduceAdmission::Append { head, .. } => {
                if let Some(head) = head {
                    self.core.set_head(head, log, effects);
                }
                let count = request.records.len() as u64;
                let info = AppendInfo {
                    base_offset: self.log.end,
                    last_offset: self.log.end + count - 1,
                    synced: true,
                };
                self.log.end += count;
                let log = self.log.facts();
                Ok(self.core.on_appended(
                    request.acks,
                    request.producer.as_ref(),
                    count as u32,
                    info,
                    log,
                    effects,
                ))
            }
        }
    }

    fn fetch(&mut self, follower: BrokerId, offset: u64, effects: &mut Vec<Effect>) {
        let log = self.log.facts();
        self.core
            .record_follower(follower, offset, log, self.now, effects);
    }

    fn waiting_write(&mut self) -> WaiterId {
        let mut effects = Vec::new();
        match self.produce(request(Acks::All, 1, None), &mut effects) {
            Ok(Acknowledgement::Later(_, id)) => id,
            other => panic!("acks=all with followers behind must wait, got {other:?}"),
        }
    }
}

fn completions(effects: &[Effect]) -> Vec<(WaiterId, Result<(), BrokerError>)> {
    effects
        .iter()
        .filter_map(|effect| match effect {
            Effect::CompleteWaiter { id, outcome } => Some((*id, outcome.clone())),
            Effect::NotifyChanged => None,
        })
        .collect()
}

/// A seeded xorshift: the steps of the property tests, reproducible without a crate.
struct Steps(u64);

impl Steps {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound
    }
}

#[test]
fn the_high_watermark_is_the_smallest_end_among_the_isr() {
    let mut f = leader(1, &[1, 2, 3]);
    let mut effects = Vec::new();
    f.produce(request(Acks::Leader, 5, None), &mut effects)
        .expect("produce");
    f.fetch(2, 5, &mut effects);
    assert_eq!(f.core.high_watermark(), 0, "broker 3 has nothing yet");
    f.fetch(3, 3, &mut effects);
    assert_eq!(f.core.high_watermark(), 3);
    f.fetch(3, 5, &mut effects);
    assert_eq!(f.core.high_watermark(), 5);
}

#[test]
fn the_high_watermark_never_passes_an_isr_members_log_end_nor_goes_down() {
    for seed in 1..=50 {
        let mut steps = Steps(seed);
        let mut f = leader(1, &[1, 2, 3]);
        // What each follower really holds; it fetches from there.
        let mut ends: BTreeMap<BrokerId, u64> = BTreeMap::from([(2, 0), (3, 0)]);
        let mut hw_before = 0;
        for _ in 0..500 {
            let mut effects = Vec::new();
            match steps.below(3) {
                0 => {
                    let count = 1 + steps.below(4) as usize;
                    let acks = if steps.below(2) == 0 {
                        Acks::All
                    } else {
                        Acks::Leader
                    };
                    f.produce(request(acks, count, None), &mut effects)
                        .expect("produce");
                }
                step => {
                    let follower = step as BrokerId + 1;
                    let end = ends.get_mut(&follower).expect("follower");
                    *end += steps.below(f.log.end - *end + 1);
                    let end = *end;
                    f.fetch(follower, end, &mut effects);
                }
            }
            let hw = f.core.high_watermark();
            let smallest = ends.values().copied().min().expect("followers");
            assert!(
                hw <= smallest,
                "seed {seed}: hw {hw} past an ISR end {smallest}"
            );
            assert!(hw <= f.log.end);
            assert!(hw >= hw_before, "seed {seed}: the high watermark went down");
            hw_before = hw;
        }
        let mut effects = Vec::new();
        f.fetch(2, f.log.end, &mut effects);
        f.fetch(3, f.log.end, &mut effects);
        assert_eq!(f.core.high_watermark(), f.log.end);
        assert_eq!(f.core.waiting(), 0, "every acks=all write completed");
    }
}

#[test]
fn acks_all_completes_when_replicated_and_says_so_when_the_isr_fell_short() {
    let mut f = leader(1, &[1, 2]);
    let first = f.waiting_write();
    let mut effects = Vec::new();
    f.fetch(2, 1, &mut effects);
    assert_eq!(completions(&effects), vec![(first, Ok(()))]);

    // The ISR shrinks to the leader alone, below min_insync, while a write waits.
    let mut f = leader(1, &[1, 2]);
    let second = f.waiting_write();
    let mut effects = Vec::new();
    f.core
        .apply_isr(1, &[1], 1, f.log.facts(), f.now, &mut effects);
    assert_eq!(
        completions(&effects),
        vec![(second, Err(BrokerError::NotEnoughReplicasAfterAppend))]
    );
    let refused = f.produce(request(Acks::All, 1, None), &mut Vec::new());
    assert_eq!(
        refused,
        Err(BrokerError::NotEnoughReplicas {
            isr: 1,
            min_insync: 2
        })
    );
}

fn assert_all_unknown(effects: &[Effect], ids: &[WaiterId]) {
    let done = completions(effects);
    let answered: Vec<WaiterId> = done.iter().map(|(id, _)| *id).collect();
    assert_eq!(answered, ids);
    for (id, outcome) in done {
        let error = outcome.expect_err("a failed wait");
        assert!(
            matches!(error, BrokerError::OutcomeUnknown { .. }),
            "{id:?}: {error:?}"
        );
        assert!(error.may_have_been_written() && error.is_retriable());
    }
}

#[test]
fn waiters_end_outcome_unknown_when_the_replica_becomes_follower() {
    let mut f = leader(1, &[1, 2, 3]);
    let ids = [f.waiting_write(), f.waiting_write()];
    let mut effects = Vec::new();
    let view = PartitionView {
        replicas: &[1, 2, 3],
        min_insync: 2,
        capacity: None,
        overflow: Overflow::Reject,
        leader: Some(2),
        leader_epoch: 2,
        isr: &[2, 3],
        version: 1,
        mzxid: 10,
        registration_zxid: 1,
    };
    let step = f.core.on_view(&view, f.log.facts(), f.now, &mut effects);
    assert_eq!(
        step,
        ViewStep::Followed {
            leader: Some(2),
            epoch: 2
        }
    );
    assert_all_unknown(&effects, &ids);
    assert_eq!(effects.last(), Some(&Effect::NotifyChanged));
    assert_eq!(f.core.waiting(), 0);
}

#[test]
fn waiters_end_outcome_unknown_when_the_replica_goes_offline() {
    let mut f = leader(1, &[1, 2, 3]);
    let ids = [f.waiting_write(), f.waiting_write()];
    let mut effects = Vec::new();
    let error = BrokerError::CorruptRecord {
        reason: "checksum".into(),
    };
    f.core.take_offline(&error, &mut effects);
    assert_all_unknown(&effects, &ids);
    assert!(f.core.is_offline());
    assert!(matches!(
        f.produce(request(Acks::All, 1, None), &mut Vec::new()),
        Err(BrokerError::StorageError { .. })
    ));
}

#[test]
fn the_leader_epoch_never_goes_down() {
    for seed in 1..=20 {
        let mut steps = Steps(seed);
        let mut f = fixture(1);
        let mut held: Option<u64> = None;
        for _ in 0..200 {
            let epoch = steps.below(20);
            let leader = 1 + steps.below(3) as BrokerId;
            let view = PartitionView {
                replicas: &[1, 2, 3],
                min_insync: 1,
                capacity: None,
                overflow: Overflow::Reject,
                leader: Some(leader),
                leader_epoch: epoch,
                isr: &[1, 2, 3],
                version: epoch,
                mzxid: 10,
                registration_zxid: 1,
            };
            let step = f.core.on_view(&view, f.log.facts(), f.now, &mut Vec::new());
            let now_held = f.core.leader_epoch();
            if held.is_some_and(|held| epoch < held) {
                assert_eq!(step, ViewStep::Stale);
            }
            assert!(now_held >= held, "seed {seed}: {held:?} then {now_held:?}");
            held = now_held;
        }
    }
}

#[test]
fn a_follower_truncates_to_the_leaders_end_of_its_epoch_not_its_high_watermark() {
    let mut f = fixture(2);
    // Our log: epoch 1 at 0..5, epoch 2 at 5..8.
    f.core.epochs.assign(1, 0);
    f.core.epochs.assign(2, 5);
    f.log.end = 8;
    let answer = EpochEndResponse {
        epoch: Some(1),
        end_offset: 6,
    };
    // The leader knows epoch 1 only up to 6; ours ends at 5: cut at 5.
    assert_eq!(f.core.truncation_point(&answer, f.log.end), 5);
    let answer = EpochEndResponse {
        epoch: Some(2),
        end_offset: 7,
    };
    assert_eq!(f.core.truncation_point(&answer, f.log.end), 7);
    f.core.on_truncated(7);
    assert_eq!(f.core.epochs().latest_epoch(), Some(2));
    assert!(f.core.high_watermark() <= 7);
}

#[test]
fn a_bounded_partition_stays_within_its_capacity() {
    for overflow in [Overflow::Reject, Overflow::DropOldest] {
        let mut f = fixture(1);
        f.core.set_replicas(vec![1]);
        f.core.set_bound(Some(4), overflow);
        f.core
            .become_leader(1, &[1], 0, f.log.facts(), f.now, &mut Vec::new());
        let mut steps = Steps(7);
        for _ in 0..200 {
            let count = 1 + steps.below(3) as usize;
            let outcome = f.produce(request(Acks::Leader, count, None), &mut Vec::new());
            let held = f.log.end - f.core.head(f.log.facts());
            assert!(held <= 4, "{overflow:?}: {held} records held");
            match (overflow, outcome) {
                (Overflow::Reject, Err(BrokerError::QueueFull { capacity: 4 })) => {
                    // Consumers delete what they took; the queue has room again.
                    let before = f.log.end;
                    let mut effects = Vec::new();
                    let admission = f
                        .core
                        .admit_delete(before, None, f.log.facts(), f.now, EXPIRY, &mut effects)
                        .expect("delete");
                    f.core.set_head(admission.head, f.log.facts(), &mut effects);
                    let step = f.core.delete_step(before, admission.head, &mut effects);
                    assert_eq!(step, DeleteStep::Done(before));
                }
                (_, outcome) => {
                    outcome.expect("drop-oldest makes room; reject has room");
                }
            }
        }
    }
}

#[test]
fn a_retried_batch_is_answered_with_its_first_offsets() {
    let mut f = leader(1, &[1]);
    f.core.set_min_insync(1);
    let stamp = ProducerStamp {
        producer_id: 9,
        producer_epoch: 0,
        base_sequence: 0,
    };
    let first = f
        .produce(request(Acks::Leader, 2, Some(stamp)), &mut Vec::new())
        .expect("first");
    let again = f
        .produce(request(Acks::Leader, 2, Some(stamp)), &mut Vec::new())
        .expect("again");
    assert_eq!(first, again);
    assert_eq!(f.log.end, 2, "the retry wrote nothing");
}

#[test]
fn past_the_waiter_bound_a_write_is_answered_at_once_as_timed_out() {
    let mut f = leader(1, &[1, 2, 3]);
    for _ in 0..WAITERS_MAX {
        f.waiting_write();
    }
    let mut effects = Vec::new();
    let Ok(Acknowledgement::Later(_, id)) = f.produce(request(Acks::All, 1, None), &mut effects)
    else {
        panic!("acks=all waits");
    };
    assert_eq!(
        completions(&effects),
        vec![(id, Err(BrokerError::RequestTimedOut))]
    );
    assert_eq!(f.core.waiting(), WAITERS_MAX);
}

#[test]
fn the_isr_drops_a_lagging_follower_and_takes_it_back_once_caught_up() {
    let mut f = leader(1, &[1, 2, 3]);
    let mut effects = Vec::new();
    f.produce(request(Acks::Leader, 3, None), &mut effects)
        .expect("produce");
    f.fetch(2, 3, &mut effects);
    f.now += LAG_MAX * 2;
    f.fetch(2, 3, &mut effects);
    let proposal = f
        .core
        .isr_proposal(f.log.facts(), f.now, LAG_MAX)
        .expect("broker 3 lags");
    assert_eq!(proposal.isr, vec![1, 2]);
    f.core.propose_isr(&proposal);
    assert_eq!(f.core.isr_proposal(f.log.facts(), f.now, LAG_MAX), None);
    f.core
        .apply_isr(1, &[1, 2], 1, f.log.facts(), f.now, &mut effects);
    assert_eq!(f.core.high_watermark(), 3);
    f.fetch(3, 3, &mut effects);
    let proposal = f
        .core
        .isr_proposal(f.log.facts(), f.now, LAG_MAX)
        .expect("broker 3 caught up");
    assert_eq!(proposal.isr, vec![1, 2, 3]);
}
