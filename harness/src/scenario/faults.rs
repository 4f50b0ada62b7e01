//! The `faults:` section: a fixed [`super::FaultSchedule`] or [`RandomFaults`] (the nemesis's
//! plan, design.md §7), resolved and written back. The faults themselves are in `fault`; how
//! each form reads is in `schedule` and `random`.

use super::error::{Invalid, Problem};
use super::fault::{FaultContext, FaultSchedule};
use super::locate::YamlPath;
use super::random::{self, RandomFaults};
use super::raw::RawFaults;
use super::schedule;

/// `faults:`
#[derive(Clone, Debug, PartialEq)]
pub enum Faults {
    /// No `faults:` key: a fault-free baseline run.
    None,
    Schedule(FaultSchedule),
    Random(RandomFaults),
}

/// Resolves `faults:`.
pub fn resolve(
    raw: Option<&RawFaults>,
    context: &FaultContext,
    path: &YamlPath,
) -> Result<Faults, Invalid> {
    let Some(raw) = raw else {
        return Ok(Faults::None);
    };
    match (&raw.schedule, &raw.random) {
        (Some(_), Some(_)) => {
            let problem = Problem::Conflict {
                message: "faults has both schedule and random".to_owned(),
            };
            let hint = "keep one: a fixed schedule, or random bounds drawn per seed";
            Err(Invalid::new(&path.key_itself("random"), problem, hint))
        }
        (None, None) => {
            let problem = Problem::Conflict {
                message: "faults has neither schedule nor random".to_owned(),
            };
            let hint = "add schedule: [...] or random: {...}, or remove faults for no faults";
            Err(Invalid::new(path, problem, hint))
        }
        (Some(events), None) => {
            schedule::resolve(events, context, &path.key("schedule")).map(Faults::Schedule)
        }
        (None, Some(random)) => {
            random::resolve(random, context, &path.key("random")).map(Faults::Random)
        }
    }
}

/// The raw form of `faults:`; `None` for [`Faults::None`].
pub fn to_raw(faults: &Faults) -> Option<RawFaults> {
    match faults {
        Faults::None => None,
        Faults::Schedule(schedule) => Some(RawFaults {
            schedule: Some(schedule.to_raw()),
            random: None,
        }),
        Faults::Random(random) => Some(RawFaults {
            schedule: None,
            random: Some(random::to_raw(random)),
        }),
    }
}
