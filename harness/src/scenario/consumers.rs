//! `workload.consumers`: consumer groups. Each member subscribes to the group's topics, polls,
//! applies every record to the group's business state with the group's apply strategy, then
//! commits. A group may process slowly (`process`, per message) and grow mid-run
//! (`scale_out`): its extra members are clients from the start (so `client-N` numbering never
//! depends on time) but join only at `scale_out.at`.

use super::duration;
use super::error::{Invalid, Problem};
use super::field_readers::{count, duration_at, keyword_at};
use super::locate::YamlPath;
use super::names::Keyword;
use super::raw::{RawConsumers, RawGroup, RawScaleOut};
use super::workload_scope::{TopicScope, CLIENTS_MAX};
use std::collections::BTreeSet;

/// Most consumer groups.
pub const GROUPS_MAX: usize = 16;
/// Default group `members`.
pub const MEMBERS_DEFAULT: u32 = 1;
/// Longest per-message processing time: a member must still poll (and so heartbeat) well
/// within its session timeout while it works through one poll's records.
pub const PROCESS_MS_MAX: u64 = 1_000;

/// `workload.consumers:`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Consumers {
    /// Non-empty, unique names, in file order.
    pub groups: Vec<Group>,
}

/// One consumer group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    pub name: String,
    /// Members from the start. Default 1.
    pub members: u32,
    /// Default `none`.
    pub apply: ApplyStrategy,
    /// The topics the group subscribes to, in file order. Default: every topic but a token
    /// bucket's.
    pub topics: Vec<String>,
    /// Simulated processing time per message; default 0.
    pub process_ms: u64,
    /// The group grows mid-run; default never.
    pub scale_out: Option<ScaleOut>,
}

impl Group {
    /// Every member the group ever has (those that join late included): one client each.
    pub fn members_max(&self) -> u32 {
        self.scale_out.map_or(self.members, |scale| scale.to)
    }

    /// When member `member` (0-based) joins, in ms after the workload starts.
    pub fn joins_at_ms(&self, member: u32) -> u64 {
        match self.scale_out {
            Some(scale) if member >= self.members => scale.at_ms,
            _ => 0,
        }
    }
}

/// `scale_out: {at: 8s, to: 4}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScaleOut {
    /// When the new members join, within the workload's duration.
    pub at_ms: u64,
    /// The group's size afterwards; more than `members`.
    pub to: u32,
}

/// How a consumer applies a message to its business state (design.md §11).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApplyStrategy {
    /// At-least-once: duplicates are allowed to show.
    None,
    /// A unique constraint on the message id.
    UniqueKey,
    /// Apply only when the stored version matches, then bump it.
    Versioned,
    /// Record the message id as consumed in the same durable write as its effect.
    RecordAndCheck,
}

impl Keyword for ApplyStrategy {
    const ALL: &'static [Self] = &[
        ApplyStrategy::None,
        ApplyStrategy::UniqueKey,
        ApplyStrategy::Versioned,
        ApplyStrategy::RecordAndCheck,
    ];
    const WHAT: &'static str = "apply strategy";

    fn as_str(&self) -> &'static str {
        match self {
            ApplyStrategy::None => "none",
            ApplyStrategy::UniqueKey => "unique-key",
            ApplyStrategy::Versioned => "versioned",
            ApplyStrategy::RecordAndCheck => "record-and-check",
        }
    }
}

pub(super) fn resolve(
    raw: &RawConsumers,
    scope: &TopicScope,
    duration_ms: u64,
    path: &YamlPath,
) -> Result<Consumers, Invalid> {
    let groups_path = path.key("groups");
    if raw.groups.is_empty() {
        let problem = Problem::Conflict {
            message: "consumers.groups is empty".to_owned(),
        };
        let hint = "add a group, e.g. - {name: billing, members: 2}, or remove consumers";
        return Err(Invalid::new(&groups_path, problem, hint));
    }
    if raw.groups.len() > GROUPS_MAX {
        let problem = Problem::OutOfRange {
            field: "the number of consumer groups".to_owned(),
            value: raw.groups.len().to_string(),
            allowed: format!("1..={GROUPS_MAX}"),
        };
        return Err(Invalid::new(
            &groups_path.index(GROUPS_MAX),
            problem,
            "use fewer groups",
        ));
    }
    let mut names = BTreeSet::new();
    let mut groups = Vec::with_capacity(raw.groups.len());
    for (index, raw_group) in raw.groups.iter().enumerate() {
        let group_path = groups_path.index(index);
        let group = resolve_group(raw_group, scope, duration_ms, &group_path)?;
        if !names.insert(group.name.clone()) {
            let problem = Problem::Conflict {
                message: format!("group \"{}\" is declared twice", group.name),
            };
            let hint = "members of one group go in its members count";
            return Err(Invalid::new(&group_path.key("name"), problem, hint));
        }
        // A bounded queue's records leave it once its group commits them (the members purge
        // what they committed), so a second group would miss them: one group per queue.
        for topic in &group.topics {
            let bounded = scope
                .topics
                .iter()
                .any(|t| t.name == *topic && t.capacity.is_some());
            let taken = groups.iter().find(|g: &&Group| g.topics.contains(topic));
            if let (true, Some(other)) = (bounded, taken) {
                let problem = Problem::Conflict {
                    message: format!(
                        "the bounded topic \"{topic}\" is already read by group \"{}\"",
                        other.name
                    ),
                };
                let hint = "a bounded queue has one consuming group (its members purge what \
                            they commit); give this group other topics with topics: [...]";
                return Err(Invalid::new(
                    &group_path.key_itself("topics"),
                    problem,
                    hint,
                ));
            }
        }
        groups.push(group);
    }
    Ok(Consumers { groups })
}

fn resolve_group(
    raw: &RawGroup,
    scope: &TopicScope,
    duration_ms: u64,
    path: &YamlPath,
) -> Result<Group, Invalid> {
    if raw.name.trim().is_empty() {
        let problem = Problem::Conflict {
            message: "a consumer group needs a name".to_owned(),
        };
        return Err(Invalid::new(
            &path.key("name"),
            problem,
            "e.g. name: billing",
        ));
    }
    let members = match raw.members {
        None => MEMBERS_DEFAULT,
        Some(value) => count(
            value,
            &path.key("members"),
            "members",
            1,
            CLIENTS_MAX,
            "a group has 1 to 64 members",
        )?,
    };
    let apply = match &raw.apply {
        None => ApplyStrategy::None,
        Some(text) => keyword_at(text, &path.key("apply"))?,
    };
    let topics = scope.resolve(raw.topics.as_deref(), &path.key("topics"))?;
    let process_ms = match &raw.process {
        None => 0,
        Some(text) => {
            let here = path.key("process");
            let ms = duration_at(text, &here)?;
            if ms > PROCESS_MS_MAX {
                let problem = Problem::OutOfRange {
                    field: "process".to_owned(),
                    value: duration::format_ms(ms),
                    allowed: format!("0ms..={}", duration::format_ms(PROCESS_MS_MAX)),
                };
                let hint = "the time one message takes to process, e.g. process: 20ms";
                return Err(Invalid::new(&here, problem, hint));
            }
            ms
        }
    };
    let scale_out = raw
        .scale_out
        .as_ref()
        .map(|scale| resolve_scale_out(scale, members, duration_ms, &path.key("scale_out")))
        .transpose()?;
    Ok(Group {
        name: raw.name.clone(),
        members,
        apply,
        topics,
        process_ms,
        scale_out,
    })
}

fn resolve_scale_out(
    raw: &RawScaleOut,
    members: u32,
    duration_ms: u64,
    path: &YamlPath,
) -> Result<ScaleOut, Invalid> {
    let at_path = path.key("at");
    let at_ms = duration_at(&raw.at, &at_path)?;
    if at_ms == 0 || at_ms >= duration_ms {
        let problem = Problem::OutOfRange {
            field: "scale_out.at".to_owned(),
            value: duration::format_ms(at_ms),
            allowed: format!("1ms..{}", duration::format_ms(duration_ms)),
        };
        let hint = format!(
            "the new members join during the workload, which lasts {}",
            duration::format_ms(duration_ms)
        );
        return Err(Invalid::new(&at_path, problem, hint));
    }
    let to = count(
        raw.to,
        &path.key("to"),
        "scale_out.to",
        members.saturating_add(1),
        CLIENTS_MAX,
        &format!(
            "the group's size after the scale-out: more than its {members} members, at most 64"
        ),
    )?;
    Ok(ScaleOut { at_ms, to })
}

/// The raw form, every default written out.
pub(super) fn to_raw(consumers: &Consumers) -> RawConsumers {
    RawConsumers {
        groups: consumers
            .groups
            .iter()
            .map(|group| RawGroup {
                name: group.name.clone(),
                members: Some(u64::from(group.members)),
                apply: Some(group.apply.as_str().to_owned()),
                topics: Some(group.topics.clone()),
                process: Some(duration::format_ms(group.process_ms)),
                scale_out: group.scale_out.map(|scale| RawScaleOut {
                    at: duration::format_ms(scale.at_ms),
                    to: u64::from(scale.to),
                }),
            })
            .collect(),
    }
}
