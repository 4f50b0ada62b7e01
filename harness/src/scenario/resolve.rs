//! Raw → resolved. [`RawScenario::resolve`] applies every default explicitly (each is a named
//! constant next to the field it fills) and turns strings into typed values, checking bounds
//! as it goes, so nothing downstream re-parses or re-validates. A problem is reported with the
//! YAML path of the offending node; [`Invalid::locate`] turns that into a line and column.
//!
//! [`Scenario::to_raw`] is the inverse with every default written out: resolving its output
//! gives back the same `Scenario`. The store writes that form as the run's `scenario.yaml`,
//! and `faultline shrink` prints it with a shrunk fault schedule.

use super::check::{AnomalyName, CheckName, Expectation};
use super::cluster::{self, Cluster};
use super::duration;
use super::error::{Invalid, Problem, ScenarioError};
use super::fault::FaultContext;
use super::faults::{self, Faults};
use super::field_readers::{duration_at, keyword_at, positive_duration_at, range_ms_at, ratio};
use super::locate::YamlPath;
use super::names::Keyword;
use super::range;
use super::raw::{RawExpect, RawInvalid, RawNetwork, RawScenario};
use super::system::SystemName;
use super::target::Roster;
use super::workload::{self, Workload};
use serde::{Serialize, Serializer};
use std::collections::BTreeSet;
use std::ops::RangeInclusive;

/// Default `network.latency`: 1ms..5ms per message, the design's example.
pub const LATENCY_MS_DEFAULT: (u64, u64) = (1, 5);
/// Default `network.loss`: none (loss is a fault, scheduled explicitly).
pub const LOSS_DEFAULT: f64 = 0.0;
/// Default `network.tick`: the simulator's step. Every timer and every message delivery is
/// rounded up to a whole tick, so latencies below it collapse to one tick. 2ms keeps the
/// design's 1ms..5ms latencies distinct in three buckets (2, 4, 6 ms) and runs about 1.5x
/// faster than 1ms, where turmoil's per-step, per-host cost dominates (`faultline bench sim`).
pub const TICK_MS_DEFAULT: u64 = 2;
/// Range of `network.tick`: whole milliseconds (design.md section 4), at most 10 (TigerBeetle's
/// tick), beyond which protocol timers of tens of milliseconds lose their meaning.
pub const TICK_MS_RANGE: RangeInclusive<u64> = 1..=10;
/// Default `recovery`: how long after heal the cluster has to serve a send and a poll.
pub const RECOVERY_MS_DEFAULT: u64 = 20_000;
/// Default `seeds`: 1..10, ten runs (the command line's `--seed`/`--seeds` override it).
pub const SEEDS_DEFAULT: RangeInclusive<u64> = 1..=10;
/// Most seeds one scenario file may ask for; larger sweeps are sharded from the command line.
pub const SEEDS_COUNT_MAX: u64 = 1_000_000;
/// Longest scenario name; it becomes a directory in the store.
pub const NAME_LEN_MAX: usize = 100;
/// Longest `description`: a paragraph for the report's header, not a document.
pub const DESCRIPTION_BYTES_MAX: usize = 4096;

/// A scenario, resolved: every default applied, every value typed and in range.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    /// Letters, digits, '.', '_' and '-': it names the store directory.
    pub name: String,
    /// Default: empty.
    pub description: String,
    /// The system under test. Default: faultline's own broker.
    pub system: SystemName,
    pub cluster: Cluster,
    pub network: Network,
    pub workload: Workload,
    /// Default: [`Faults::None`].
    pub faults: Faults,
    /// Liveness bound after heal, > 0.
    pub recovery_ms: u64,
    /// Non-empty, no duplicates, in file order. Default: see [`default_checks`].
    pub checks: Vec<CheckName>,
    /// Inclusive and non-empty.
    pub seeds: RangeInclusive<u64>,
    /// Default: [`Expectation::Valid`].
    pub expect: Expectation,
}

/// `network:` the links' steady state (faults come on top).
#[derive(Clone, Debug, PartialEq)]
pub struct Network {
    /// Per-message latency drawn from this inclusive range.
    pub latency_ms: (u64, u64),
    /// Share of messages dropped at all times, 0..=1.
    pub loss: f64,
    /// The simulator's step, in [`TICK_MS_RANGE`].
    pub tick_ms: u64,
}

/// Where the raw scenario came from, for locating errors.
#[derive(Clone, Copy, Debug)]
pub struct ResolveCtx<'a> {
    /// How errors name the file, e.g. `scenarios/crash.yaml`.
    pub file_label: &'a str,
    /// The text the raw scenario was read from.
    pub source: &'a str,
}

impl RawScenario {
    /// Applies defaults, types every value and checks every bound.
    pub fn resolve(&self, ctx: &ResolveCtx) -> Result<Scenario, ScenarioError> {
        resolve(self).map_err(|invalid| invalid.locate(ctx.source, ctx.file_label))
    }
}

/// The default checks: everything the workload can exercise.
pub fn default_checks(workload: &Workload) -> Vec<CheckName> {
    let mut checks = vec![CheckName::NoLoss, CheckName::LogConsistency];
    if workload.producers.is_some() {
        checks.push(CheckName::PerProducerOrder);
    }
    if workload.consumers.is_some() {
        checks.push(CheckName::ConsumerOrder);
        checks.push(CheckName::IdempotentConsumption);
    }
    if workload.transactions.is_some() {
        checks.push(CheckName::ExactlyOnceTxn);
    }
    if workload.gateways.is_some() {
        checks.push(CheckName::RateBound);
    }
    let expiring = workload
        .producers
        .as_ref()
        .is_some_and(|p| p.expiry_ms.is_some());
    if expiring && workload.consumers.is_some() {
        checks.push(CheckName::Deadlines);
    }
    if workload.coordinator.is_some() {
        checks.push(CheckName::CoordinatorLinearizable);
    }
    checks.push(CheckName::Liveness);
    checks
}

fn resolve(raw: &RawScenario) -> Result<Scenario, Invalid> {
    let root = YamlPath::root();
    let name = resolve_name(&raw.name, &root.key("name"))?;
    let description = resolve_description(raw.description.as_deref(), &root.key("description"))?;
    let system = match &raw.system {
        None => SystemName::default(),
        Some(text) => keyword_at(text, &root.key("system"))?,
    };
    if let Some(unsupported) = system.unsupported_key(raw) {
        let path = unsupported
            .keys
            .iter()
            .fold(root.clone(), |path, key| path.key(key));
        let problem = Problem::Conflict {
            message: unsupported.message,
        };
        return Err(Invalid::new(&path, problem, unsupported.hint));
    }
    let cluster = cluster::resolve(&raw.cluster, &root.key("cluster"))?;
    let network = resolve_network(raw.network.as_ref(), &root.key("network"))?;
    let workload = workload::resolve(&raw.workload, &cluster.topics, &root.key("workload"))?;
    let clients = u32::try_from(workload.client_roles().len()).unwrap_or(u32::MAX);
    let context = FaultContext {
        roster: Roster {
            brokers: cluster.brokers,
            coordinators: cluster.coordinators,
            clients,
            topics: &cluster.topics,
        },
        workload: &workload,
    };
    let faults = faults::resolve(raw.faults.as_ref(), &context, &root.key("faults"))?;
    let recovery_ms = match &raw.recovery {
        None => RECOVERY_MS_DEFAULT,
        Some(text) => positive_duration_at(
            text,
            &root.key("recovery"),
            "recovery",
            "the time the cluster gets to recover after heal, e.g. recovery: 20s",
        )?,
    };
    let checks = match &raw.checks {
        None => default_checks(&workload),
        Some(texts) => resolve_checks(texts, &workload, &root.key("checks"))?,
    };
    let seeds = match &raw.seeds {
        None => SEEDS_DEFAULT,
        Some(text) => resolve_seeds(text, &root.key("seeds"))?,
    };
    let expect = match &raw.expect {
        None => Expectation::Valid,
        Some(expect) => resolve_expect(expect, &checks, &root.key("expect"))?,
    };
    Ok(Scenario {
        name,
        description,
        system,
        cluster,
        network,
        workload,
        faults,
        recovery_ms,
        checks,
        seeds,
        expect,
    })
}

fn resolve_name(name: &str, path: &YamlPath) -> Result<String, Invalid> {
    let ok = !name.is_empty()
        && name.len() <= NAME_LEN_MAX
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        return Ok(name.to_owned());
    }
    let problem = Problem::Conflict {
        message: format!("\"{name}\" is not a valid scenario name"),
    };
    let hint = "use 1 to 100 letters, digits, '.', '_' or '-' (it names the store directory), \
                e.g. leader-isolated";
    Err(Invalid::new(path, problem, hint))
}

fn resolve_description(text: Option<&str>, path: &YamlPath) -> Result<String, Invalid> {
    let text = text.unwrap_or_default();
    if text.len() <= DESCRIPTION_BYTES_MAX {
        return Ok(text.to_owned());
    }
    let problem = Problem::TooLong {
        field: "description".to_owned(),
        bytes: text.len(),
        limit: DESCRIPTION_BYTES_MAX,
    };
    let hint = "keep the description to a paragraph (it heads the report); put longer notes in \
                a comment or a file next to the scenario";
    Err(Invalid::new(path, problem, hint))
}

fn resolve_network(raw: Option<&RawNetwork>, path: &YamlPath) -> Result<Network, Invalid> {
    let latency_ms = match raw.and_then(|raw| raw.latency.as_deref()) {
        None => LATENCY_MS_DEFAULT,
        Some(text) => range_ms_at(text, &path.key("latency"), "1ms..5ms")?,
    };
    let loss = match raw.and_then(|raw| raw.loss) {
        None => LOSS_DEFAULT,
        Some(value) => ratio(value, &path.key("loss"), "network.loss")?,
    };
    let tick_ms = match raw.and_then(|raw| raw.tick.as_deref()) {
        None => TICK_MS_DEFAULT,
        Some(text) => {
            let here = path.key("tick");
            let ms = duration_at(text, &here)?;
            if !TICK_MS_RANGE.contains(&ms) {
                let problem = Problem::OutOfRange {
                    field: "network.tick".to_owned(),
                    value: duration::format_ms(ms),
                    allowed: format!("{}ms..={}ms", TICK_MS_RANGE.start(), TICK_MS_RANGE.end()),
                };
                let hint = "the simulator's step in whole milliseconds, e.g. tick: 1ms for the \
                            finest interleavings or tick: 2ms (the default) for speed";
                return Err(Invalid::new(&here, problem, hint));
            }
            ms
        }
    };
    Ok(Network {
        latency_ms,
        loss,
        tick_ms,
    })
}

fn resolve_checks(
    texts: &[String],
    workload: &Workload,
    path: &YamlPath,
) -> Result<Vec<CheckName>, Invalid> {
    if texts.is_empty() {
        let problem = Problem::Conflict {
            message: "checks is empty: no run could fail".to_owned(),
        };
        let hint = "name the checks to run, or remove checks for the defaults";
        return Err(Invalid::new(path, problem, hint));
    }
    let mut seen = BTreeSet::new();
    let mut checks = Vec::with_capacity(texts.len());
    for (index, text) in texts.iter().enumerate() {
        let here = path.index(index);
        let check: CheckName = keyword_at(text, &here)?;
        if !seen.insert(check) {
            let problem = Problem::Conflict {
                message: format!("check {} is listed twice", check.as_str()),
            };
            return Err(Invalid::new(&here, problem, "list each check once"));
        }
        let needs = match check {
            CheckName::PerProducerOrder if workload.producers.is_none() => Some("producers"),
            CheckName::ExactlyOnceTxn if workload.transactions.is_none() => Some("transactions"),
            CheckName::ConsumerOrder | CheckName::IdempotentConsumption
                if workload.consumers.is_none() =>
            {
                Some("consumers")
            }
            CheckName::RateBound if workload.gateways.is_none() => Some("gateways"),
            CheckName::Deadlines if workload.consumers.is_none() => Some("consumers"),
            CheckName::CoordinatorLinearizable if workload.coordinator.is_none() => {
                Some("coordinator")
            }
            _ => None,
        };
        if let Some(section) = needs {
            let problem = Problem::Conflict {
                message: format!("check {} needs workload.{section}", check.as_str()),
            };
            let hint = format!("add workload.{section}, or remove the check");
            return Err(Invalid::new(&here, problem, hint));
        }
        checks.push(check);
    }
    Ok(checks)
}

fn resolve_seeds(text: &str, path: &YamlPath) -> Result<RangeInclusive<u64>, Invalid> {
    let (first, last) = range::parse_u64(text).map_err(|bad| {
        let problem = Problem::BadRange {
            text: text.to_owned(),
            reason: bad.reason,
        };
        Invalid::new(path, problem, bad.hint)
    })?;
    if last - first >= SEEDS_COUNT_MAX {
        let problem = Problem::OutOfRange {
            field: "the number of seeds".to_owned(),
            value: (u128::from(last - first) + 1).to_string(),
            allowed: format!("1..={SEEDS_COUNT_MAX}"),
        };
        let hint = "shard larger sweeps from the command line: --seeds A..B --shard K/N";
        return Err(Invalid::new(path, problem, hint));
    }
    Ok(first..=last)
}

fn resolve_expect(
    raw: &RawExpect,
    checks: &[CheckName],
    path: &YamlPath,
) -> Result<Expectation, Invalid> {
    let hint = "write expect: valid, or expect: {invalid: [lost-write]}";
    let texts = match raw {
        RawExpect::Word(word) if word == "valid" => return Ok(Expectation::Valid),
        RawExpect::Word(word) => {
            let problem = Problem::UnknownName {
                what: "expectation",
                text: word.clone(),
            };
            let hint = if word == "invalid" {
                "name the anomalies that must appear: expect: {invalid: [lost-write]}"
            } else {
                hint
            };
            return Err(Invalid::new(path, problem, hint));
        }
        RawExpect::Invalid(RawInvalid { invalid }) => invalid,
    };
    let list_path = path.key("invalid");
    if texts.is_empty() {
        let problem = Problem::Conflict {
            message: "expect.invalid is empty".to_owned(),
        };
        return Err(Invalid::new(&list_path, problem, hint));
    }
    let mut seen = BTreeSet::new();
    let mut anomalies = Vec::with_capacity(texts.len());
    for (index, text) in texts.iter().enumerate() {
        let here = list_path.index(index);
        let anomaly: AnomalyName = keyword_at(text, &here)?;
        if !seen.insert(anomaly) {
            let problem = Problem::Conflict {
                message: format!("anomaly {} is listed twice", anomaly.as_str()),
            };
            return Err(Invalid::new(&here, problem, "list each anomaly once"));
        }
        if let Some(check) = CheckName::reporting(anomaly) {
            if !checks.contains(&check) {
                let problem = Problem::Conflict {
                    message: format!(
                        "{} is reported by check {}, which this scenario does not run",
                        anomaly.as_str(),
                        check.as_str()
                    ),
                };
                let hint = format!("add {} to checks", check.as_str());
                return Err(Invalid::new(&here, problem, hint));
            }
        }
        anomalies.push(anomaly);
    }
    Ok(Expectation::Invalid(anomalies))
}

impl Scenario {
    /// The raw form with every default written out; resolving it gives `self` back.
    pub fn to_raw(&self) -> RawScenario {
        RawScenario {
            name: self.name.clone(),
            description: Some(self.description.clone()),
            system: Some(self.system.as_str().to_owned()),
            cluster: cluster::to_raw(&self.cluster),
            network: Some(RawNetwork {
                latency: Some(range::format_ms(self.network.latency_ms)),
                loss: Some(self.network.loss),
                tick: Some(duration::format_ms(self.network.tick_ms)),
            }),
            workload: workload::to_raw(&self.workload),
            faults: faults::to_raw(&self.faults),
            recovery: Some(duration::format_ms(self.recovery_ms)),
            checks: Some(self.checks.iter().map(|c| c.as_str().to_owned()).collect()),
            seeds: Some(format!("{}..{}", self.seeds.start(), self.seeds.end())),
            expect: Some(match &self.expect {
                Expectation::Valid => RawExpect::Word("valid".to_owned()),
                Expectation::Invalid(anomalies) => RawExpect::Invalid(RawInvalid {
                    invalid: anomalies.iter().map(|a| a.as_str().to_owned()).collect(),
                }),
            }),
        }
    }

    /// The scenario as a YAML file that loads back to `self`.
    pub fn to_yaml(&self) -> Result<String, yaml_serde::Error> {
        yaml_serde::to_string(&self.to_raw())
    }
}

/// A scenario serialises as its fully written-out raw form.
impl Serialize for Scenario {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_raw().serialize(serializer)
    }
}
