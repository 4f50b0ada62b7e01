//! One consumer group as its coordinator holds it: members with session deadlines, the
//! generation, each member's assignment, and the committed offsets. A pure state machine: every
//! method takes `now` (and the topics' partition counts) and returns the record the coordinator
//! must write to the offsets partition, if any; `group_coordinator` does the writing.
//!
//! Membership is server-side and eager: a new member, a member leaving or timing out, a changed
//! subscription, or a changed partition count bumps the generation and recomputes everyone's
//! assignment. Members of an older generation learn of it from `RebalanceInProgress` on their
//! next heartbeat and join again (under the same id) to get their new assignment.
//!
//! Fault model: members crash silently, come back with stale generations, and send anything.
//! Invariants: a commit is accepted only from a current member of the current generation, or
//! from a member-less consumer while the group has no members; the generation only goes up; a
//! member id is never handed out twice (the counter is written with every generation, and a
//! `Joined` answer waits until that record is replicated — see `generation_log_end`).

use crate::broker::group_assignor;
use crate::broker::offsets_topic::GroupRecord;
use crate::wire::broker_protocol::{BrokerError, JoinGroupRequest, Strategy, TopicPartition};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::time::Instant;

/// The most members in one group.
pub const MEMBERS_PER_GROUP_MAX: usize = 100;
/// The most topics one member subscribes to.
pub const TOPICS_PER_MEMBER_MAX: usize = 100;
pub const SESSION_TIMEOUT_MIN: Duration = Duration::from_millis(100);
pub const SESSION_TIMEOUT_MAX: Duration = Duration::from_secs(300);

#[derive(Clone, Debug, PartialEq, Eq)]
struct Member {
    /// Sorted, without duplicates.
    topics: Vec<String>,
    session_timeout: Duration,
    deadline: Instant,
}

/// What a successful join tells the member.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Joined {
    pub member_id: String,
    pub generation: u64,
    pub assignment: Vec<TopicPartition>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    name: String,
    generation: u64,
    member_counter: u64,
    /// Chosen by the first member of an empty group.
    strategy: Option<Strategy>,
    members: BTreeMap<String, Member>,
    assignment: BTreeMap<String, Vec<TopicPartition>>,
    /// Partition counts of the subscribed topics as of the last assignment.
    partition_counts: BTreeMap<String, u32>,
    offsets: BTreeMap<TopicPartition, u64>,
    /// Where the latest generation record ends in the offsets partition: a `Joined` answer
    /// that reveals the generation waits until the high watermark reaches it, so no member ever
    /// holds a generation or id that a later coordinator could hand out again.
    pub generation_log_end: u64,
}

fn invalid(reason: impl Into<String>) -> BrokerError {
    BrokerError::InvalidRequest {
        reason: reason.into(),
    }
}

impl Group {
    pub fn new(name: impl Into<String>) -> Group {
        Group {
            name: name.into(),
            generation: 0,
            member_counter: 0,
            strategy: None,
            members: BTreeMap::new(),
            assignment: BTreeMap::new(),
            partition_counts: BTreeMap::new(),
            offsets: BTreeMap::new(),
            generation_log_end: 0,
        }
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }

    pub fn member_count(&self) -> usize {
        self.members.len()
    }

    /// Joins a new member (`member_id: None`) or re-joins a known one, refreshing its
    /// deadline. Bumps the generation when membership or subscriptions change.
    pub fn join(
        &mut self,
        request: &JoinGroupRequest,
        counts: &BTreeMap<String, u32>,
        now: Instant,
    ) -> Result<(Joined, Option<GroupRecord>), BrokerError> {
        let session_timeout = Duration::from_millis(request.session_timeout_ms);
        if !(SESSION_TIMEOUT_MIN..=SESSION_TIMEOUT_MAX).contains(&session_timeout) {
            return Err(invalid(format!(
                "session timeout {session_timeout:?} is outside \
                 {SESSION_TIMEOUT_MIN:?}..={SESSION_TIMEOUT_MAX:?}"
            )));
        }
        let mut topics = request.topics.clone();
        topics.sort();
        topics.dedup();
        if topics.is_empty() || topics.len() > TOPICS_PER_MEMBER_MAX {
            return Err(invalid(format!(
                "subscribe to 1..={TOPICS_PER_MEMBER_MAX} topics"
            )));
        }
        if self.members.is_empty() {
            self.strategy = Some(request.strategy);
        } else if self.strategy != Some(request.strategy) {
            return Err(invalid(format!(
                "group {} uses {:?}, not {:?}",
                self.name, self.strategy, request.strategy
            )));
        }
        let deadline = now + session_timeout;
        let (member_id, changed) = match &request.member_id {
            None => {
                if self.members.len() >= MEMBERS_PER_GROUP_MAX {
                    return Err(invalid(format!(
                        "group {} is full ({MEMBERS_PER_GROUP_MAX} members)",
                        self.name
                    )));
                }
                self.member_counter += 1;
                let id = format!("{}-m{}", self.name, self.member_counter);
                let member = Member {
                    topics,
                    session_timeout,
                    deadline,
                };
                self.members.insert(id.clone(), member);
                (id, true)
            }
            Some(id) => {
                let member = self
                    .members
                    .get_mut(id)
                    .ok_or(BrokerError::UnknownMemberId)?;
                member.deadline = deadline;
                member.session_timeout = session_timeout;
                let changed = member.topics != topics;
                member.topics = topics;
                (id.clone(), changed)
            }
        };
        let record = changed.then(|| self.bump(counts));
        let joined = Joined {
            assignment: self.assignment.get(&member_id).cloned().unwrap_or_default(),
            member_id,
            generation: self.generation,
        };
        Ok((joined, record))
    }

    /// Refreshes the member's deadline and tells it whether it missed a rebalance.
    pub fn heartbeat(
        &mut self,
        member_id: &str,
        generation: u64,
        now: Instant,
    ) -> Result<(), BrokerError> {
        let member = self
            .members
            .get_mut(member_id)
            .ok_or(BrokerError::UnknownMemberId)?;
        member.deadline = now + member.session_timeout;
        self.check_generation(generation, true)
    }

    fn check_generation(&self, generation: u64, rebalance_hint: bool) -> Result<(), BrokerError> {
        if generation < self.generation && rebalance_hint {
            return Err(BrokerError::RebalanceInProgress {
                generation: self.generation,
            });
        }
        if generation != self.generation {
            return Err(BrokerError::IllegalGeneration {
                current: self.generation,
            });
        }
        Ok(())
    }

    pub fn leave(
        &mut self,
        member_id: &str,
        counts: &BTreeMap<String, u32>,
    ) -> Result<GroupRecord, BrokerError> {
        self.members
            .remove(member_id)
            .ok_or(BrokerError::UnknownMemberId)?;
        Ok(self.bump(counts))
    }

    /// Drops members past their deadline and notices changed partition counts; either bumps
    /// the generation.
    pub fn expire(&mut self, counts: &BTreeMap<String, u32>, now: Instant) -> Option<GroupRecord> {
        let before = self.members.len();
        self.members.retain(|_, member| member.deadline >= now);
        let expired = self.members.len() != before;
        let resized =
            !self.members.is_empty() && self.subscribed_counts(counts) != self.partition_counts;
        (expired || resized).then(|| self.bump(counts))
    }

    /// Checks a commit and returns the record to write; the offsets count once it is replicated
    /// and replayed through [`Group::apply`].
    pub fn commit(
        &mut self,
        member_id: Option<&str>,
        generation: Option<u64>,
        offsets: Vec<(TopicPartition, u64)>,
        now: Instant,
    ) -> Result<GroupRecord, BrokerError> {
        match (member_id, generation) {
            (None, None) if self.members.is_empty() => {}
            // Kafka's answer to a member-less commit into a group with members.
            (None, None) => return Err(BrokerError::UnknownMemberId),
            (Some(member_id), Some(generation)) => {
                let member = self
                    .members
                    .get_mut(member_id)
                    .ok_or(BrokerError::UnknownMemberId)?;
                member.deadline = now + member.session_timeout;
                // A commit is never a rebalance hint: from any other generation it is illegal.
                self.check_generation(generation, false)?;
            }
            _ => return Err(invalid("member id and generation go together")),
        }
        Ok(GroupRecord::Offsets {
            group: self.name.clone(),
            generation: self.generation,
            offsets,
        })
    }

    /// Replays one record of this group (loading, or a commit the high watermark now covers).
    pub fn apply(&mut self, record: &GroupRecord) {
        match record {
            GroupRecord::Offsets { offsets, .. } => {
                for (tp, offset) in offsets {
                    self.offsets.insert(tp.clone(), *offset);
                }
            }
            GroupRecord::Generation {
                generation,
                member_counter,
                ..
            } => {
                self.generation = self.generation.max(*generation);
                self.member_counter = self.member_counter.max(*member_counter);
            }
        }
    }

    pub fn committed(&self, tp: &TopicPartition) -> Option<u64> {
        self.offsets.get(tp).copied()
    }

    fn subscribed_counts(&self, counts: &BTreeMap<String, u32>) -> BTreeMap<String, u32> {
        self.members
            .values()
            .flat_map(|member| member.topics.iter())
            .filter_map(|topic| counts.get(topic).map(|count| (topic.clone(), *count)))
            .collect()
    }

    fn bump(&mut self, counts: &BTreeMap<String, u32>) -> GroupRecord {
        self.generation += 1;
        let subscriptions = self
            .members
            .iter()
            .map(|(id, member)| (id.clone(), member.topics.clone()))
            .collect();
        self.partition_counts = self.subscribed_counts(counts);
        let strategy = self.strategy.unwrap_or(Strategy::Range);
        self.assignment = group_assignor::assign(strategy, &subscriptions, &self.partition_counts);
        GroupRecord::Generation {
            group: self.name.clone(),
            generation: self.generation,
            member_counter: self.member_counter,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn join_request(member_id: Option<&str>) -> JoinGroupRequest {
        JoinGroupRequest {
            group: "g".into(),
            member_id: member_id.map(String::from),
            topics: vec!["t".into()],
            strategy: Strategy::Range,
            session_timeout_ms: 1000,
        }
    }

    fn counts() -> BTreeMap<String, u32> {
        BTreeMap::from([("t".to_string(), 2)])
    }

    #[test]
    fn a_new_member_bumps_and_the_old_generation_cannot_commit() {
        let now = Instant::now();
        let mut group = Group::new("g");
        let (a, record) = group.join(&join_request(None), &counts(), now).unwrap();
        assert_eq!((a.member_id.as_str(), a.generation), ("g-m1", 1));
        assert_eq!(a.assignment.len(), 2);
        assert!(matches!(
            record,
            Some(GroupRecord::Generation {
                generation: 1,
                member_counter: 1,
                ..
            })
        ));
        let (b, _) = group.join(&join_request(None), &counts(), now).unwrap();
        assert_eq!((b.generation, b.assignment.len()), (2, 1));
        let stale = group.commit(Some("g-m1"), Some(1), vec![], now);
        assert_eq!(stale, Err(BrokerError::IllegalGeneration { current: 2 }));
        assert_eq!(
            group.heartbeat("g-m1", 1, now),
            Err(BrokerError::RebalanceInProgress { generation: 2 })
        );
        // Rejoining with an unchanged subscription learns generation 2 without a new one.
        let (again, record) = group
            .join(&join_request(Some("g-m1")), &counts(), now)
            .unwrap();
        assert_eq!((again.generation, record), (2, None));
        assert!(group.commit(Some("g-m1"), Some(2), vec![], now).is_ok());
        assert_eq!(
            group.commit(None, None, vec![], now),
            Err(BrokerError::UnknownMemberId)
        );
    }

    #[test]
    fn a_silent_member_expires_and_replay_continues_the_counters() {
        let now = Instant::now();
        let mut group = Group::new("g");
        group.join(&join_request(None), &counts(), now).unwrap();
        assert_eq!(
            group.expire(&counts(), now + Duration::from_millis(999)),
            None
        );
        let record = group
            .expire(&counts(), now + Duration::from_millis(1001))
            .expect("expired");
        assert_eq!(group.member_count(), 0);
        let mut reloaded = Group::new("g");
        reloaded.apply(&record);
        let (joined, _) = reloaded.join(&join_request(None), &counts(), now).unwrap();
        assert_eq!((joined.member_id.as_str(), joined.generation), ("g-m2", 3));
        // A grown topic rebalances.
        let grown = BTreeMap::from([("t".to_string(), 3)]);
        assert!(reloaded.expire(&grown, now).is_some());
    }
}
