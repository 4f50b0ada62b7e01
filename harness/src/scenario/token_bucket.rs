//! `workload.tokens` and `workload.gateways`: a token bucket built on a bounded queue. One
//! token-generator client sends a token at a fixed rate into a one-partition topic whose
//! capacity is the bucket's size (`overflow: reject`: a token that finds the bucket full is
//! dropped); gateway clients take a token before admitting each request and reject the request
//! when none is there. The `rate-bound` check then holds the gateways to at most
//! rate × window + capacity admissions in any window.
//!
//! Gateways see demand in bursts (`busy`, then `idle`, repeated) so that a bucket that banks
//! more than its capacity during a lull would show it in the next burst.

use super::cluster::{Overflow, Topic};
use super::duration;
use super::error::{Invalid, Problem};
use super::field_readers::{duration_at, positive_duration_at, rate_at};
use super::locate::YamlPath;
use super::rate;
use super::raw::{RawGateways, RawTokens};
use super::workload_scope::resolve_count;

/// Fastest token rate. The `rate-bound` check's tolerance assumes the generator's ticks are
/// further apart than the simulator's step (at most 10ms), so rate × tick stays below one.
pub const TOKEN_RATE_PER_S_MAX: u64 = 50;
/// Default gateway `count`.
pub const GATEWAYS_DEFAULT: u32 = 1;
/// Default gateway `rate`: requests per second per gateway while busy.
pub const GATEWAY_RATE_PER_S_DEFAULT: u64 = 50;
/// Default `busy`: how long a burst of demand lasts.
pub const BUSY_MS_DEFAULT: u64 = 1_000;
/// Default `idle`: no lulls, demand is steady.
pub const IDLE_MS_DEFAULT: u64 = 0;

/// `workload.tokens:` the bucket's generator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tokens {
    /// A topic of `cluster.topics` with one partition, a capacity and `overflow: reject`.
    pub topic: String,
    /// Tokens per second, 1..=TOKEN_RATE_PER_S_MAX.
    pub rate_per_s: u64,
    /// The bucket's size: the topic's capacity.
    pub capacity: u64,
}

/// `workload.gateways:`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gateways {
    /// Default 1.
    pub count: u32,
    /// Requests per second per gateway while busy. Default 50/s.
    pub rate_per_s: u64,
    /// Length of a burst of demand. Default 1s.
    pub busy_ms: u64,
    /// Length of the lull after each burst; 0 (the default) means steady demand.
    pub idle_ms: u64,
}

impl Gateways {
    /// Whether a request arrives at `elapsed_ms` into the workload (demand is busy then).
    pub fn busy_at(&self, elapsed_ms: u64) -> bool {
        self.idle_ms == 0 || elapsed_ms % (self.busy_ms + self.idle_ms) < self.busy_ms
    }
}

pub(super) fn resolve_tokens(
    raw: &RawTokens,
    topics: &[Topic],
    path: &YamlPath,
) -> Result<Tokens, Invalid> {
    let topic_path = path.key("topic");
    let Some(topic) = topics.iter().find(|t| t.name == raw.topic) else {
        let known: Vec<&str> = topics.iter().map(|t| t.name.as_str()).collect();
        let problem = Problem::Conflict {
            message: format!("the token topic \"{}\" is not in cluster.topics", raw.topic),
        };
        let hint = format!(
            "declare it, e.g. - {{name: {}, partitions: 1, capacity: 10, overflow: reject}} \
             (known topics: {})",
            raw.topic,
            known.join(", ")
        );
        return Err(Invalid::new(&topic_path, problem, hint));
    };
    let bounded = match topic.capacity {
        Some(capacity) if topic.partitions == 1 && topic.overflow == Overflow::Reject => {
            Some(capacity)
        }
        _ => None,
    };
    let Some(capacity) = bounded else {
        let problem = Problem::Conflict {
            message: format!(
                "the token topic \"{}\" must have one partition, a capacity and overflow: reject",
                topic.name
            ),
        };
        let hint = "the bucket is one bounded queue: a token that finds it full is dropped; \
                    set partitions: 1, capacity: <bucket size>, overflow: reject";
        return Err(Invalid::new(&topic_path, problem, hint));
    };
    let rate_path = path.key("rate");
    let rate_per_s = rate_at(&raw.rate, &rate_path)?;
    if rate_per_s > TOKEN_RATE_PER_S_MAX {
        let problem = Problem::OutOfRange {
            field: "tokens.rate".to_owned(),
            value: rate::format_per_s(rate_per_s),
            allowed: format!("1/s..={TOKEN_RATE_PER_S_MAX}/s"),
        };
        let hint = "a token generator ticks at most 50 times a second";
        return Err(Invalid::new(&rate_path, problem, hint));
    }
    Ok(Tokens {
        topic: topic.name.clone(),
        rate_per_s,
        capacity,
    })
}

pub(super) fn resolve_gateways(raw: &RawGateways, path: &YamlPath) -> Result<Gateways, Invalid> {
    let count = resolve_count(raw.count, GATEWAYS_DEFAULT, path)?;
    let rate_per_s = match &raw.rate {
        None => GATEWAY_RATE_PER_S_DEFAULT,
        Some(text) => rate_at(text, &path.key("rate"))?,
    };
    let busy_ms = match &raw.busy {
        None => BUSY_MS_DEFAULT,
        Some(text) => {
            positive_duration_at(text, &path.key("busy"), "gateways.busy", "e.g. busy: 1s")?
        }
    };
    let idle_ms = match &raw.idle {
        None => IDLE_MS_DEFAULT,
        Some(text) => duration_at(text, &path.key("idle"))?,
    };
    Ok(Gateways {
        count,
        rate_per_s,
        busy_ms,
        idle_ms,
    })
}

pub(super) fn tokens_to_raw(tokens: &Tokens) -> RawTokens {
    RawTokens {
        topic: tokens.topic.clone(),
        rate: rate::format_per_s(tokens.rate_per_s),
    }
}

pub(super) fn gateways_to_raw(gateways: &Gateways) -> RawGateways {
    RawGateways {
        count: Some(u64::from(gateways.count)),
        rate: Some(rate::format_per_s(gateways.rate_per_s)),
        busy: Some(duration::format_ms(gateways.busy_ms)),
        idle: Some(duration::format_ms(gateways.idle_ms)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demand_alternates_busy_and_idle() {
        let gateways = Gateways {
            count: 1,
            rate_per_s: 10,
            busy_ms: 1_000,
            idle_ms: 2_000,
        };
        assert!(gateways.busy_at(0));
        assert!(gateways.busy_at(999));
        assert!(!gateways.busy_at(1_000));
        assert!(!gateways.busy_at(2_999));
        assert!(gateways.busy_at(3_000));
        let steady = Gateways {
            idle_ms: 0,
            ..gateways
        };
        assert!(steady.busy_at(1_500));
    }
}
