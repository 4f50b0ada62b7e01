//! `faults.random`: swarm testing (design.md §7). Instead of a fixed schedule the scenario gives
//! bounds — how often a fault starts, which kinds, how long each lasts — and the nemesis draws
//! a schedule from each run's seed, so the fault mix itself varies across seeds. A drawn
//! schedule is an ordinary [`super::FaultSchedule`]: it can be printed, replayed and shrunk.

use super::error::{Invalid, Problem};
use super::fault::{kinds_list, FaultContext, FaultKind};
use super::field_readers::{keyword_at, range_ms_at};
use super::locate::YamlPath;
use super::names::Keyword;
use super::range;
use super::raw::RawRandom;
use super::workload::ClientRole;
use std::collections::BTreeSet;

/// Default `random.every`: a new fault every 2 to 8 seconds.
pub const RANDOM_EVERY_MS_DEFAULT: (u64, u64) = (2_000, 8_000);
/// Default `random.duration`: each drawn fault lasts 1 to 5 seconds.
pub const RANDOM_DURATION_MS_DEFAULT: (u64, u64) = (1_000, 5_000);
/// Default `random.kinds`: the node and network faults of the design's example.
pub const RANDOM_KINDS_DEFAULT: [FaultKind; 5] = [
    FaultKind::Partition,
    FaultKind::Crash,
    FaultKind::Disk,
    FaultKind::Pause,
    FaultKind::Clog,
];

/// `faults.random:` bounds for a schedule drawn per seed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RandomFaults {
    /// Gap between fault starts, drawn from this inclusive range; the low end is > 0.
    pub every_ms: (u64, u64),
    /// Kinds to draw from; non-empty, no duplicates, in file order.
    pub kinds: Vec<FaultKind>,
    /// How long each drawn fault lasts; the low end is > 0.
    pub duration_ms: (u64, u64),
}

pub fn resolve(
    raw: &RawRandom,
    context: &FaultContext,
    path: &YamlPath,
) -> Result<RandomFaults, Invalid> {
    let positive = |text: &Option<String>,
                    key: &str,
                    default: (u64, u64),
                    example: &str|
     -> Result<(u64, u64), Invalid> {
        let Some(text) = text else {
            return Ok(default);
        };
        let here = path.key(key);
        let range = range_ms_at(text, &here, example)?;
        if range.0 == 0 {
            let problem = Problem::OutOfRange {
                field: format!("the low end of {key}"),
                value: "0s".to_owned(),
                allowed: "at least 1ms".to_owned(),
            };
            let hint = format!("e.g. {key}: {example}");
            return Err(Invalid::new(&here, problem, hint));
        }
        Ok(range)
    };
    let every_ms = positive(&raw.every, "every", RANDOM_EVERY_MS_DEFAULT, "2s..8s")?;
    let duration_ms = positive(
        &raw.duration,
        "duration",
        RANDOM_DURATION_MS_DEFAULT,
        "1s..5s",
    )?;
    let kinds = match &raw.kinds {
        None => RANDOM_KINDS_DEFAULT.to_vec(),
        Some(texts) => {
            let kinds_path = path.key("kinds");
            if texts.is_empty() {
                let problem = Problem::Conflict {
                    message: "random.kinds is empty".to_owned(),
                };
                let hint = format!("name at least one of: {}", kinds_list());
                return Err(Invalid::new(&kinds_path, problem, hint));
            }
            let mut seen = BTreeSet::new();
            let mut kinds = Vec::with_capacity(texts.len());
            for (index, text) in texts.iter().enumerate() {
                let here = kinds_path.index(index);
                let kind: FaultKind = keyword_at(text, &here)?;
                if !seen.insert(kind) {
                    let problem = Problem::Conflict {
                        message: format!("fault kind {} is listed twice", kind.as_str()),
                    };
                    return Err(Invalid::new(&here, problem, "list each kind once"));
                }
                let roles = context.workload.client_roles();
                let has_target = match kind {
                    FaultKind::ProducerCrash => roles.iter().any(|role| !role.reads()),
                    FaultKind::ConsumerCrash => roles.iter().any(ClientRole::reads),
                    _ => true,
                };
                if !has_target {
                    let problem = Problem::Conflict {
                        message: format!("no client in this workload for {}", kind.as_str()),
                    };
                    let hint = "add the clients to the workload, or remove the kind";
                    return Err(Invalid::new(&here, problem, hint));
                }
                kinds.push(kind);
            }
            kinds
        }
    };
    Ok(RandomFaults {
        every_ms,
        kinds,
        duration_ms,
    })
}

/// The raw form, every default written out.
pub fn to_raw(random: &RandomFaults) -> RawRandom {
    RawRandom {
        every: Some(range::format_ms(random.every_ms)),
        kinds: Some(
            random
                .kinds
                .iter()
                .map(|kind| kind.as_str().to_owned())
                .collect(),
        ),
        duration: Some(range::format_ms(random.duration_ms)),
    }
}
