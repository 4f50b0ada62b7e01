//! The workload: what the clients do during the faulty phase. Producers send unique values
//! (optionally with a deadline), transactional producers run RocketMQ-style half-message
//! transactions, a token generator and gateways run a token bucket (`token_bucket`), consumer
//! groups poll and apply with one of the idempotence strategies (`consumers`), coordinator
//! clients read and conditionally write their own znodes (`coordinator_clients`). Clients are
//! numbered `client-1..N` in a fixed order (producers, transactional producers, the token
//! generator, gateways, each group's members in file order, late joiners included, then the
//! coordinator clients) so a
//! fault target such as `producer-crash: client-3` means the same client on every seed.

use super::cluster::Topic;
use super::consumers::{self, Consumers};
use super::coordinator_clients::{self, CoordinatorClients};
use super::duration;
use super::error::{Invalid, Problem};
use super::field_readers::{duration_at, keyword_at, positive_duration_at, rate_at, ratio};
use super::locate::YamlPath;
use super::names::Keyword;
use super::rate;
use super::raw::{RawProducers, RawTransactions, RawWorkload};
use super::token_bucket::{self, Gateways, Tokens};
use super::workload_scope::{resolve_count, TopicScope, CLIENTS_MAX};

/// Longest message deadline a producer may set.
pub const EXPIRY_MS_MAX: u64 = 3_600_000;

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

/// `workload:`
#[derive(Clone, Debug, PartialEq)]
pub struct Workload {
    /// Length of the faulty phase; > 0.
    pub duration_ms: u64,
    pub producers: Option<Producers>,
    pub transactions: Option<Transactions>,
    pub consumers: Option<Consumers>,
    pub tokens: Option<Tokens>,
    /// Only with `tokens`.
    pub gateways: Option<Gateways>,
    pub coordinator: Option<CoordinatorClients>,
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
    /// Where the producers send, in file order. Default: every topic but a token bucket's.
    pub topics: Vec<String>,
    /// Each message's deadline, this long after it is sent; consumers discard it once the
    /// deadline has passed. Default: messages never expire.
    pub expiry_ms: Option<u64>,
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

/// What `client-N` is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientRole {
    /// The `index`-th (0-based) plain producer.
    Producer { index: u32 },
    /// The `index`-th (0-based) transactional producer.
    TxnProducer { index: u32 },
    /// The token bucket's generator.
    TokenGenerator,
    /// The `index`-th (0-based) gateway.
    Gateway { index: u32 },
    /// Member `member` (0-based) of group `group` (index into `consumers.groups`).
    Consumer { group: usize, member: u32 },
    /// The `index`-th (0-based) client of the coordinator's znode API.
    CoordinatorClient { index: u32 },
}

impl ClientRole {
    /// Whether the client reads (a group member or a gateway): `consumer-crash` hits readers,
    /// `producer-crash` the others.
    pub fn reads(&self) -> bool {
        matches!(
            self,
            ClientRole::Consumer { .. } | ClientRole::Gateway { .. }
        )
    }
}

impl Workload {
    /// Consumer group number `index` (in declaration order), if there is one.
    pub fn consumer_group(&self, index: usize) -> Option<&super::Group> {
        self.consumers.as_ref().and_then(|c| c.groups.get(index))
    }

    /// Every client in `client-N` order: `roles()[0]` is `client-1`.
    pub fn client_roles(&self) -> Vec<ClientRole> {
        let mut roles = Vec::new();
        if let Some(producers) = &self.producers {
            roles.extend((0..producers.count).map(|index| ClientRole::Producer { index }));
        }
        if let Some(transactions) = &self.transactions {
            roles.extend((0..transactions.count).map(|index| ClientRole::TxnProducer { index }));
        }
        if self.tokens.is_some() {
            roles.push(ClientRole::TokenGenerator);
        }
        if let Some(gateways) = &self.gateways {
            roles.extend((0..gateways.count).map(|index| ClientRole::Gateway { index }));
        }
        if let Some(consumers) = &self.consumers {
            for (group, spec) in consumers.groups.iter().enumerate() {
                roles.extend(
                    (0..spec.members_max()).map(|member| ClientRole::Consumer { group, member }),
                );
            }
        }
        if let Some(coordinator) = &self.coordinator {
            roles.extend(
                (0..coordinator.clients).map(|index| ClientRole::CoordinatorClient { index }),
            );
        }
        roles
    }

    /// The role of `client-n` (1-based).
    pub fn client_role(&self, n: u32) -> Option<ClientRole> {
        let index = usize::try_from(n.checked_sub(1)?).ok()?;
        self.client_roles().get(index).copied()
    }
}

/// Applies the defaults above and checks every bound; topics are checked against `topics`.
pub fn resolve(raw: &RawWorkload, topics: &[Topic], path: &YamlPath) -> Result<Workload, Invalid> {
    let duration_ms = match &raw.duration {
        None => DURATION_MS_DEFAULT,
        Some(text) => positive_duration_at(
            text,
            &path.key("duration"),
            "workload.duration",
            "e.g. duration: 30s",
        )?,
    };
    let tokens = raw
        .tokens
        .as_ref()
        .map(|raw| token_bucket::resolve_tokens(raw, topics, &path.key("tokens")))
        .transpose()?;
    let gateways = match (&raw.gateways, &tokens) {
        (None, _) => None,
        (Some(_), None) => {
            let problem = Problem::Conflict {
                message: "gateways need a token bucket".to_owned(),
            };
            let hint = "add workload.tokens, e.g. tokens: {topic: tokens, rate: 20/s}";
            return Err(Invalid::new(&path.key_itself("gateways"), problem, hint));
        }
        (Some(raw), Some(_)) => Some(token_bucket::resolve_gateways(raw, &path.key("gateways"))?),
    };
    let scope = TopicScope {
        topics,
        bucket: tokens.as_ref().map(|t| t.topic.as_str()),
    };
    let producers = raw
        .producers
        .as_ref()
        .map(|raw| resolve_producers(raw, &scope, &path.key("producers")))
        .transpose()?;
    let transactions = raw
        .transactions
        .as_ref()
        .map(|raw| resolve_transactions(raw, &path.key("transactions")))
        .transpose()?;
    let consumers = raw
        .consumers
        .as_ref()
        .map(|raw| consumers::resolve(raw, &scope, duration_ms, &path.key("consumers")))
        .transpose()?;
    let coordinator = raw
        .coordinator
        .as_ref()
        .map(|raw| coordinator_clients::resolve(raw, &path.key("coordinator")))
        .transpose()?;
    if producers.is_none() && transactions.is_none() && tokens.is_none() {
        let problem = Problem::Conflict {
            message: "the workload sends nothing".to_owned(),
        };
        let hint = "add workload.producers, workload.transactions or workload.tokens, e.g. \
                    producers: {count: 1}";
        return Err(Invalid::new(path, problem, hint));
    }
    let workload = Workload {
        duration_ms,
        producers,
        transactions,
        consumers,
        tokens,
        gateways,
        coordinator,
    };
    let clients = workload.client_roles().len();
    if clients > CLIENTS_MAX as usize {
        let problem = Problem::OutOfRange {
            field: "the number of clients".to_owned(),
            value: clients.to_string(),
            allowed: format!("1..={CLIENTS_MAX}"),
        };
        let hint = "producers, transactional producers, gateways, the token generator and group \
                    members together are at most 64";
        return Err(Invalid::new(path, problem, hint));
    }
    Ok(workload)
}

fn resolve_producers(
    raw: &RawProducers,
    scope: &TopicScope,
    path: &YamlPath,
) -> Result<Producers, Invalid> {
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
    let topics = scope.resolve(raw.topics.as_deref(), &path.key("topics"))?;
    let expiry_ms = match &raw.expiry {
        None => None,
        Some(text) => {
            let here = path.key("expiry");
            let ms = duration_at(text, &here)?;
            if ms == 0 || ms > EXPIRY_MS_MAX {
                let problem = Problem::OutOfRange {
                    field: "producers.expiry".to_owned(),
                    value: duration::format_ms(ms),
                    allowed: format!("1ms..={}", duration::format_ms(EXPIRY_MS_MAX)),
                };
                let hint = "how long after it is sent a message expires, e.g. expiry: 500ms; \
                            remove it for messages that never expire";
                return Err(Invalid::new(&here, problem, hint));
            }
            Some(ms)
        }
    };
    Ok(Producers {
        count,
        rate_per_s,
        acks,
        idempotent,
        mode,
        topics,
        expiry_ms,
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
            topics: Some(producers.topics.clone()),
            expiry: producers.expiry_ms.map(duration::format_ms),
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
        consumers: workload.consumers.as_ref().map(consumers::to_raw),
        tokens: workload.tokens.as_ref().map(token_bucket::tokens_to_raw),
        gateways: workload
            .gateways
            .as_ref()
            .map(token_bucket::gateways_to_raw),
        coordinator: workload
            .coordinator
            .as_ref()
            .map(coordinator_clients::to_raw),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topic(name: &str, capacity: Option<u64>) -> Topic {
        Topic {
            name: name.to_owned(),
            partitions: 1,
            replication: 3,
            min_insync: 2,
            capacity,
            overflow: crate::scenario::Overflow::Reject,
        }
    }

    fn workload(yaml: &str) -> Result<Workload, Invalid> {
        let raw: RawWorkload = yaml_serde::from_str(yaml).expect("raw workload");
        let topics = [topic("orders", None), topic("tokens", Some(5))];
        resolve(&raw, &topics, &YamlPath::root())
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
                topics: vec!["orders".to_owned(), "tokens".to_owned()],
                expiry_ms: None,
            })
        );
        let resolved = workload("{producers: {acks: 1}}").expect("ok");
        assert_eq!(resolved.producers.map(|p| p.idempotent), Some(false));
    }

    #[test]
    fn clients_are_numbered_producers_first() {
        let resolved = workload(
            "{producers: {count: 2}, transactions: {count: 1},
              consumers: {groups: [{name: a, members: 2, topics: [orders]}, {name: b, topics: [orders]}]}}",
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

    #[test]
    fn a_token_bucket_owns_its_topic_and_gateways_read() {
        let resolved = workload(
            "{tokens: {topic: tokens, rate: 20/s}, gateways: {count: 2, idle: 2s},
              producers: {expiry: 300ms},
              consumers: {groups: [{name: a, process: 5ms, scale_out: {at: 10s, to: 3}}]}}",
        )
        .expect("ok");
        let tokens = resolved.tokens.clone().expect("tokens");
        assert_eq!((tokens.rate_per_s, tokens.capacity), (20, 5));
        let producers = resolved.producers.clone().expect("producers");
        assert_eq!(producers.topics, vec!["orders".to_owned()]);
        assert_eq!(producers.expiry_ms, Some(300));
        let roles = resolved.client_roles();
        assert_eq!(roles[1], ClientRole::TokenGenerator);
        assert!(roles[2].reads() && roles[3].reads() && !roles[0].reads());
        // Three members in all: the two that join at 10s are clients from the start.
        assert_eq!(roles.len(), 1 + 1 + 2 + 3);
        let group = &resolved.consumers.expect("groups").groups[0];
        assert_eq!((group.joins_at_ms(0), group.joins_at_ms(2)), (0, 10_000));
        assert_eq!(group.topics, vec!["orders".to_owned()]);
    }

    #[test]
    fn rejects_token_buckets_that_cannot_bound() {
        let root = YamlPath::root();
        let bad = workload("{tokens: {topic: orders, rate: 20/s}}").expect_err("unbounded");
        assert_eq!(bad.path, root.key("tokens").key("topic"));
        let bad = workload("{tokens: {topic: tokens, rate: 500/s}}").expect_err("too fast");
        assert_eq!(bad.path, root.key("tokens").key("rate"));
        let bad = workload("{producers: {}, gateways: {}}").expect_err("no bucket");
        assert_eq!(bad.path, root.key_itself("gateways"));
        let bad = workload("{tokens: {topic: tokens, rate: 5/s}, producers: {topics: [tokens]}}")
            .expect_err("bucket topic");
        assert_eq!(bad.path, root.key("producers").key("topics").index(0));
        let bad = workload("{producers: {topics: [order]}}").expect_err("unknown topic");
        assert!(bad.hint.contains("orders"), "{}", bad.hint);
        let bad = workload(
            "{producers: {}, consumers: {groups: [{name: a, scale_out: {at: 40s, to: 2}}]}}",
        )
        .expect_err("late");
        assert_eq!(
            bad.path,
            root.key("consumers")
                .key("groups")
                .index(0)
                .key("scale_out")
                .key("at")
        );
        let bad = workload("{producers: {}, consumers: {groups: [{name: a, members: 2, scale_out: {at: 4s, to: 2}}]}}")
            .expect_err("shrink");
        assert_eq!(
            bad.path,
            root.key("consumers")
                .key("groups")
                .index(0)
                .key("scale_out")
                .key("to")
        );
    }
}
