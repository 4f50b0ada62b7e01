//! The workload: what the clients do during the faulty phase. Producers send unique values,
//! transactional producers run RocketMQ-style half-message transactions, consumer groups poll
//! and apply with one of the idempotence strategies. Clients are numbered `client-1..N` in a
//! fixed order (producers, then transactional producers, then each group's members in file
//! order) so a fault target such as `producer-crash: client-3` means the same client on every
//! seed.

use super::duration;
use super::error::{Invalid, Problem};
use super::locate::YamlPath;
use super::names::Keyword;
use super::rate;
use super::raw::{RawConsumers, RawGroup, RawProducers, RawTransactions, RawWorkload};
use super::resolve::{count, duration_at, keyword_at, rate_at, ratio};
use std::collections::BTreeSet;

/// Most clients (all kinds together) in one simulation.
pub const CLIENTS_MAX: u32 = 64;
/// Most consumer groups.
pub const GROUPS_MAX: usize = 16;

/// Default `workload.duration`: long enough for a leader election and a few faults.
pub const DURATION_MS_DEFAULT: u64 = 30_000;
/// Default producer `count`.
pub const PRODUCERS_DEFAULT: u32 = 1;
/// Default producer `rate`.
pub const PRODUCER_RATE_PER_S_DEFAULT: u64 = 100;
/// Default transactional producer `count`.
pub const TRANSACTIONS_DEFAULT: u32 = 1;
/// Default transaction `rate`.
pub const TRANSACTION_RATE_PER_S_DEFAULT: u64 = 10;
/// Default group `members`.
pub const MEMBERS_DEFAULT: u32 = 1;

/// `workload:`
#[derive(Clone, Debug, PartialEq)]
pub struct Workload {
    /// Length of the faulty phase; > 0.
    pub duration_ms: u64,
    pub producers: Option<Producers>,
    pub transactions: Option<Transactions>,
    pub consumers: Option<Consumers>,
}

/// `workload.producers:` plain (non-transactional) producers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Producers {
    /// Default 1.
    pub count: u32,
    /// Sends per second per producer. Default 100/s.
    pub rate_per_s: u64,
    /// Default `all`.
    pub acks: Acks,
    /// Default: true when `acks` is `all` (Kafka's default); idempotence requires `acks: all`.
    pub idempotent: bool,
    /// Default `sync`.
    pub mode: ProducerMode,
}

/// `acks: 0 | 1 | all`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Acks {
    /// Fire and forget.
    Zero,
    /// The leader has it.
    One,
    /// Every ISR member has it, durably per the fsync policy (design.md §6).
    All,
}

impl Keyword for Acks {
    const ALL: &'static [Self] = &[Acks::Zero, Acks::One, Acks::All];
    const WHAT: &'static str = "acks setting";

    fn as_str(&self) -> &'static str {
        match self {
            Acks::Zero => "0",
            Acks::One => "1",
            Acks::All => "all",
        }
    }
}

/// `mode: sync | async`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProducerMode {
    /// One send in flight; the next waits for the outcome.
    Sync,
    /// Sends are batched by size and linger; several in flight.
    Async,
}

impl Keyword for ProducerMode {
    const ALL: &'static [Self] = &[ProducerMode::Sync, ProducerMode::Async];
    const WHAT: &'static str = "producer mode";

    fn as_str(&self) -> &'static str {
        match self {
            ProducerMode::Sync => "sync",
            ProducerMode::Async => "async",
        }
    }
}

/// `workload.transactions:` transactional producers.
#[derive(Clone, Debug, PartialEq)]
pub struct Transactions {
    /// Default 1.
    pub count: u32,
    /// Transactions per second per producer. Default 10/s.
    pub rate_per_s: u64,
    /// Share of local transactions that roll back. Default 0.0.
    pub rollback_ratio: f64,
    /// Share whose local outcome is unknown (check-back answers unknown). Default 0.0.
    /// `rollback_ratio + unknown_ratio <= 1`.
    pub unknown_ratio: f64,
}

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
    /// Default 1.
    pub members: u32,
    /// Default `none`.
    pub apply: ApplyStrategy,
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

/// What `client-N` is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientRole {
    /// The `index`-th (0-based) plain producer.
    Producer { index: u32 },
    /// The `index`-th (0-based) transactional producer.
    TxnProducer { index: u32 },
    /// Member `member` (0-based) of group `group` (index into `consumers.groups`).
    Consumer { group: usize, member: u32 },
}

impl Workload {
    /// Every client in `client-N` order: `roles()[0]` is `client-1`.
    pub fn client_roles(&self) -> Vec<ClientRole> {
        let mut roles = Vec::new();
        if let Some(producers) = &self.producers {
            roles.extend((0..producers.count).map(|index| ClientRole::Producer { index }));
        }
        if let Some(transactions) = &self.transactions {
            roles.extend((0..transactions.count).map(|index| ClientRole::TxnProducer { index }));
        }
        if let Some(consumers) = &self.consumers {
            for (group, members) in consumers.groups.iter().enumerate() {
                roles.extend(
                    (0..members.members).map(|member| ClientRole::Consumer { group, member }),
                );
            }
        }
        roles
    }

    /// The role of `client-n` (1-based).
    pub fn client_role(&self, n: u32) -> Option<ClientRole> {
        let index = usize::try_from(n.checked_sub(1)?).ok()?;
        self.client_roles().get(index).copied()
    }
}

/// Applies the defaults above and checks every bound.
pub fn resolve(raw: &RawWorkload, path: &YamlPath) -> Result<Workload, Invalid> {
    let duration_ms = match &raw.duration {
        None => DURATION_MS_DEFAULT,
        Some(text) => {
            let duration_path = path.key("duration");
            let ms = duration_at(text, &duration_path)?;
            if ms == 0 {
                let problem = Problem::OutOfRange {
                    field: "workload.duration".to_owned(),
                    value: "0s".to_owned(),
                    allowed: "at least 1ms".to_owned(),
                };
                return Err(Invalid::new(&duration_path, problem, "e.g. duration: 30s"));
            }
            ms
        }
    };
    let producers = raw
        .producers
        .as_ref()
        .map(|raw| resolve_producers(raw, &path.key("producers")))
        .transpose()?;
    let transactions = raw
        .transactions
        .as_ref()
        .map(|raw| resolve_transactions(raw, &path.key("transactions")))
        .transpose()?;
    let consumers = raw
        .consumers
        .as_ref()
        .map(|raw| resolve_consumers(raw, &path.key("consumers")))
        .transpose()?;
    if producers.is_none() && transactions.is_none() {
        let problem = Problem::Conflict {
            message: "the workload sends nothing".to_owned(),
        };
        let hint = "add workload.producers or workload.transactions, e.g. producers: {count: 1}";
        return Err(Invalid::new(path, problem, hint));
    }
    let workload = Workload {
        duration_ms,
        producers,
        transactions,
        consumers,
    };
    let clients = workload.client_roles().len();
    if clients > CLIENTS_MAX as usize {
        let problem = Problem::OutOfRange {
            field: "the number of clients".to_owned(),
            value: clients.to_string(),
            allowed: format!("1..={CLIENTS_MAX}"),
        };
        let hint = "producers, transactional producers and group members together are at most 64";
        return Err(Invalid::new(path, problem, hint));
    }
    Ok(workload)
}

fn resolve_count(value: Option<u64>, default: u32, path: &YamlPath) -> Result<u32, Invalid> {
    match value {
        None => Ok(default),
        Some(value) => count(
            value,
            &path.key("count"),
            "count",
            1,
            CLIENTS_MAX,
            "1 to 64 clients; to have none, remove the section",
        ),
    }
}

fn resolve_producers(raw: &RawProducers, path: &YamlPath) -> Result<Producers, Invalid> {
    let count = resolve_count(raw.count, PRODUCERS_DEFAULT, path)?;
    let rate_per_s = match &raw.rate {
        None => PRODUCER_RATE_PER_S_DEFAULT,
        Some(text) => rate_at(text, &path.key("rate"))?,
    };
    let acks = match &raw.acks {
        None => Acks::All,
        Some(text) => keyword_at(text, &path.key("acks"))?,
    };
    let idempotent = raw.idempotent.unwrap_or(acks == Acks::All);
    if idempotent && acks != Acks::All {
        let problem = Problem::Conflict {
            message: format!(
                "an idempotent producer needs acks: all, not {}",
                acks.as_str()
            ),
        };
        let hint = "set acks: all, or idempotent: false";
        return Err(Invalid::new(&path.key("idempotent"), problem, hint));
    }
    let mode = match &raw.mode {
        None => ProducerMode::Sync,
        Some(text) => keyword_at(text, &path.key("mode"))?,
    };
    Ok(Producers {
        count,
        rate_per_s,
        acks,
        idempotent,
        mode,
    })
}

fn resolve_transactions(raw: &RawTransactions, path: &YamlPath) -> Result<Transactions, Invalid> {
    let count = resolve_count(raw.count, TRANSACTIONS_DEFAULT, path)?;
    let rate_per_s = match &raw.rate {
        None => TRANSACTION_RATE_PER_S_DEFAULT,
        Some(text) => rate_at(text, &path.key("rate"))?,
    };
    let rollback_ratio = match raw.rollback_ratio {
        None => 0.0,
        Some(value) => ratio(value, &path.key("rollback_ratio"), "rollback_ratio")?,
    };
    let unknown_ratio = match raw.unknown_ratio {
        None => 0.0,
        Some(value) => ratio(value, &path.key("unknown_ratio"), "unknown_ratio")?,
    };
    if rollback_ratio + unknown_ratio > 1.0 {
        let problem = Problem::OutOfRange {
            field: "rollback_ratio + unknown_ratio".to_owned(),
            value: format!("{}", rollback_ratio + unknown_ratio),
            allowed: "0..=1".to_owned(),
        };
        let hint = "they are shares of the same transactions; the rest commit";
        let at = if raw.unknown_ratio.is_some() {
            path.key("unknown_ratio")
        } else {
            path.key("rollback_ratio")
        };
        return Err(Invalid::new(&at, problem, hint));
    }
    Ok(Transactions {
        count,
        rate_per_s,
        rollback_ratio,
        unknown_ratio,
    })
}

fn resolve_consumers(raw: &RawConsumers, path: &YamlPath) -> Result<Consumers, Invalid> {
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
        let group = resolve_group(raw_group, &group_path)?;
        if !names.insert(group.name.clone()) {
            let problem = Problem::Conflict {
                message: format!("group \"{}\" is declared twice", group.name),
            };
            let hint = "members of one group go in its members count";
            return Err(Invalid::new(&group_path.key("name"), problem, hint));
        }
        groups.push(group);
    }
    Ok(Consumers { groups })
}

fn resolve_group(raw: &RawGroup, path: &YamlPath) -> Result<Group, Invalid> {
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
    Ok(Group {
        name: raw.name.clone(),
        members,
        apply,
    })
}

/// The raw form, every default written out.
pub fn to_raw(workload: &Workload) -> RawWorkload {
    RawWorkload {
        duration: Some(duration::format_ms(workload.duration_ms)),
        producers: workload.producers.as_ref().map(|producers| RawProducers {
            count: Some(u64::from(producers.count)),
            rate: Some(rate::format_per_s(producers.rate_per_s)),
            acks: Some(producers.acks.as_str().to_owned()),
            idempotent: Some(producers.idempotent),
            mode: Some(producers.mode.as_str().to_owned()),
        }),
        transactions: workload
            .transactions
            .as_ref()
            .map(|transactions| RawTransactions {
                count: Some(u64::from(transactions.count)),
                rate: Some(rate::format_per_s(transactions.rate_per_s)),
                rollback_ratio: Some(transactions.rollback_ratio),
                unknown_ratio: Some(transactions.unknown_ratio),
            }),
        consumers: workload.consumers.as_ref().map(|consumers| RawConsumers {
            groups: consumers
                .groups
                .iter()
                .map(|group| RawGroup {
                    name: group.name.clone(),
                    members: Some(u64::from(group.members)),
                    apply: Some(group.apply.as_str().to_owned()),
                })
                .collect(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workload(yaml: &str) -> Result<Workload, Invalid> {
        let raw: RawWorkload = yaml_serde::from_str(yaml).expect("raw workload");
        resolve(&raw, &YamlPath::root())
    }

    #[test]
    fn defaults() {
        let resolved = workload("{producers: {}}").expect("ok");
        assert_eq!(resolved.duration_ms, DURATION_MS_DEFAULT);
        assert_eq!(
            resolved.producers,
            Some(Producers {
                count: 1,
                rate_per_s: 100,
                acks: Acks::All,
                idempotent: true,
                mode: ProducerMode::Sync,
            })
        );
        let resolved = workload("{producers: {acks: 1}}").expect("ok");
        assert_eq!(resolved.producers.map(|p| p.idempotent), Some(false));
    }

    #[test]
    fn clients_are_numbered_producers_first() {
        let resolved = workload(
            "{producers: {count: 2}, transactions: {count: 1},
              consumers: {groups: [{name: a, members: 2}, {name: b}]}}",
        )
        .expect("ok");
        assert_eq!(
            resolved.client_role(1),
            Some(ClientRole::Producer { index: 0 })
        );
        assert_eq!(
            resolved.client_role(3),
            Some(ClientRole::TxnProducer { index: 0 })
        );
        assert_eq!(
            resolved.client_role(5),
            Some(ClientRole::Consumer {
                group: 0,
                member: 1
            })
        );
        assert_eq!(
            resolved.client_role(6),
            Some(ClientRole::Consumer {
                group: 1,
                member: 0
            })
        );
        assert_eq!(resolved.client_role(7), None);
        assert_eq!(resolved.client_role(0), None);
    }

    #[test]
    fn rejects_inconsistent_settings() {
        let root = YamlPath::root();
        let bad = workload("{producers: {acks: 1, idempotent: true}}").expect_err("idem");
        assert_eq!(bad.path, root.key("producers").key("idempotent"));
        let bad = workload("{consumers: {groups: [{name: a}]}}").expect_err("nothing sent");
        assert_eq!(bad.path, root);
        let bad = workload("{transactions: {rollback_ratio: 0.6, unknown_ratio: 0.5}}")
            .expect_err("ratios");
        assert_eq!(bad.path, root.key("transactions").key("unknown_ratio"));
        let bad = workload("{transactions: {rollback_ratio: 1.5}}").expect_err("ratio");
        assert_eq!(bad.path, root.key("transactions").key("rollback_ratio"));
        let bad = workload("{producers: {mode: eventually}}").expect_err("mode");
        assert!(bad.hint.contains("sync, async"), "{}", bad.hint);
        let bad = workload("{producers: {count: 0}}").expect_err("count");
        assert_eq!(bad.path, root.key("producers").key("count"));
        let bad = workload("{duration: 0s, producers: {}}").expect_err("duration");
        assert_eq!(bad.path, root.key("duration"));
        let bad = workload("{producers: {count: 40}, transactions: {count: 40}}").expect_err("n");
        assert!(matches!(bad.problem, Problem::OutOfRange { .. }), "{bad:?}");
    }
}
