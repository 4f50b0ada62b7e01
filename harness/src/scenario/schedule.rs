//! `faults.schedule`: a fixed list of fault events. Each entry has an `at`, exactly one fault
//! key, and a duration — `for` for lasting faults, `restart_after` for crashes, none for the
//! instantaneous `restart`. Targets are checked against the cluster and workload: nodes for
//! process and disk faults, producers for `producer-crash`, consumers for `consumer-crash`.

use super::duration;
use super::error::{Invalid, Problem};
use super::fault::{
    kinds_list, Fault, FaultContext, FaultEvent, FaultKind, FaultSchedule, PartitionShape,
};
use super::field_readers::{duration_at, keyword_at, range_ms_at};
use super::locate::YamlPath;
use super::names::Keyword;
use super::raw::{RawFaultEvent, RawPartition};
use super::target::{self, Target};

/// Most events in one schedule.
pub const FAULT_EVENTS_MAX: usize = 1_000;

pub fn resolve(
    raw: &[RawFaultEvent],
    context: &FaultContext,
    path: &YamlPath,
) -> Result<FaultSchedule, Invalid> {
    if raw.len() > FAULT_EVENTS_MAX {
        let problem = Problem::OutOfRange {
            field: "the number of fault events".to_owned(),
            value: raw.len().to_string(),
            allowed: format!("0..={FAULT_EVENTS_MAX}"),
        };
        let hint = "for many faults use random: {every: ..., kinds: [...]}";
        return Err(Invalid::new(&path.index(FAULT_EVENTS_MAX), problem, hint));
    }
    let mut events = Vec::with_capacity(raw.len());
    for (index, raw_event) in raw.iter().enumerate() {
        events.push(resolve_event(raw_event, context, &path.index(index))?);
    }
    events.sort_by_key(|event| event.at_ms);
    Ok(FaultSchedule(events))
}

/// The fault keys of an entry that are present, in declaration order.
fn present_kinds(raw: &RawFaultEvent) -> Vec<FaultKind> {
    let flags = [
        (FaultKind::Partition, raw.partition.is_some()),
        (FaultKind::Clog, raw.clog.is_some()),
        (FaultKind::Loss, raw.loss.is_some()),
        (FaultKind::LatencySpike, raw.latency_spike.is_some()),
        (FaultKind::Crash, raw.crash.is_some()),
        (FaultKind::Restart, raw.restart.is_some()),
        (FaultKind::Pause, raw.pause.is_some()),
        (FaultKind::Disk, raw.disk.is_some()),
        (FaultKind::ProducerCrash, raw.producer_crash.is_some()),
        (FaultKind::ConsumerCrash, raw.consumer_crash.is_some()),
    ];
    flags
        .into_iter()
        .filter(|(_, present)| *present)
        .map(|(kind, _)| kind)
        .collect()
}

fn resolve_event(
    raw: &RawFaultEvent,
    context: &FaultContext,
    path: &YamlPath,
) -> Result<FaultEvent, Invalid> {
    let at_path = path.key("at");
    let at_ms = duration_at(&raw.at, &at_path)?;
    let duration_ms_workload = context.workload.duration_ms;
    if at_ms >= duration_ms_workload {
        let problem = Problem::OutOfRange {
            field: "at".to_owned(),
            value: duration::format_ms(at_ms),
            allowed: format!(
                "0s up to (not including) {}",
                duration::format_ms(duration_ms_workload)
            ),
        };
        let hint = format!(
            "faults start during the workload, which lasts {} (workload.duration)",
            duration::format_ms(duration_ms_workload)
        );
        return Err(Invalid::new(&at_path, problem, hint));
    }
    let kinds = present_kinds(raw);
    let kind = match kinds.as_slice() {
        [] => {
            let problem = Problem::Conflict {
                message: "this fault entry names no fault".to_owned(),
            };
            let hint = format!("add one of: {}", kinds_list());
            return Err(Invalid::new(path, problem, hint));
        }
        [kind] => *kind,
        [first, second, ..] => {
            let problem = Problem::Conflict {
                message: format!(
                    "one fault entry names two faults: {} and {}",
                    first.as_str(),
                    second.as_str()
                ),
            };
            let hint = "write one entry per fault; entries may share the same `at`";
            return Err(Invalid::new(
                &path.key_itself(second.as_str()),
                problem,
                hint,
            ));
        }
    };
    let duration_ms = resolve_event_duration(raw, kind, path)?;
    let fault = resolve_fault(raw, kind, context, path)?;
    Ok(FaultEvent {
        at_ms,
        fault,
        duration_ms,
    })
}

/// `for` for lasting faults, `restart_after` for crashes, neither for `restart`.
fn resolve_event_duration(
    raw: &RawFaultEvent,
    kind: FaultKind,
    path: &YamlPath,
) -> Result<Option<u64>, Invalid> {
    if kind.restarts() {
        if raw.for_.is_some() {
            let problem = Problem::Conflict {
                message: format!("{} takes restart_after, not for", kind.as_str()),
            };
            let hint = "write restart_after: <duration>; without it the restart is at heal";
            return Err(Invalid::new(&path.key_itself("for"), problem, hint));
        }
        return raw
            .restart_after
            .as_deref()
            .map(|text| duration_at(text, &path.key("restart_after")))
            .transpose();
    }
    if raw.restart_after.is_some() {
        let problem = Problem::Conflict {
            message: format!("restart_after belongs to crashes, not {}", kind.as_str()),
        };
        let hint = if kind == FaultKind::Restart {
            "restart is instantaneous: remove restart_after"
        } else {
            "write for: <duration> to lift this fault early"
        };
        return Err(Invalid::new(
            &path.key_itself("restart_after"),
            problem,
            hint,
        ));
    }
    let Some(text) = raw.for_.as_deref() else {
        return Ok(None);
    };
    if kind == FaultKind::Restart {
        let problem = Problem::Conflict {
            message: "restart is instantaneous and takes no for".to_owned(),
        };
        let hint = "remove for, or use crash with restart_after for a node that stays down";
        return Err(Invalid::new(&path.key_itself("for"), problem, hint));
    }
    let for_path = path.key("for");
    let ms = duration_at(text, &for_path)?;
    if ms == 0 {
        let problem = Problem::OutOfRange {
            field: "for".to_owned(),
            value: "0s".to_owned(),
            allowed: "at least 1ms".to_owned(),
        };
        let hint = "remove for to keep the fault until heal";
        return Err(Invalid::new(&for_path, problem, hint));
    }
    Ok(Some(ms))
}

fn node_target(
    text: &str,
    fault: &'static str,
    context: &FaultContext,
    path: &YamlPath,
) -> Result<Target, Invalid> {
    let target = target::parse(text, &context.roster, path)?;
    if target.is_client() {
        let problem = Problem::WrongTarget {
            text: text.to_owned(),
            fault,
        };
        let hint = "clients crash with producer-crash or consumer-crash; network faults may \
                    target clients";
        return Err(Invalid::new(path, problem, hint));
    }
    Ok(target)
}

fn client_target(
    text: &str,
    kind: FaultKind,
    context: &FaultContext,
    path: &YamlPath,
) -> Result<Target, Invalid> {
    let target = target::parse(text, &context.roster, path)?;
    let role = match target {
        Target::Client(n) => context.workload.client_role(n),
        _ => None,
    };
    let fits = match (kind, role) {
        (FaultKind::ProducerCrash, Some(role)) => !role.reads(),
        (FaultKind::ConsumerCrash, Some(role)) => role.reads(),
        _ => false,
    };
    if fits {
        return Ok(target);
    }
    let wanted: Vec<String> = context
        .workload
        .client_roles()
        .iter()
        .enumerate()
        .filter(|(_, role)| match kind {
            FaultKind::ConsumerCrash => role.reads(),
            _ => !role.reads(),
        })
        .map(|(index, _)| format!("client-{}", index + 1))
        .collect();
    let hint = if wanted.is_empty() {
        format!("this workload has no client that {} can hit", kind.as_str())
    } else {
        format!("{} targets one of: {}", kind.as_str(), wanted.join(", "))
    };
    let problem = Problem::WrongTarget {
        text: text.to_owned(),
        fault: kind.as_str(),
    };
    Err(Invalid::new(path, problem, hint))
}

fn resolve_fault(
    raw: &RawFaultEvent,
    kind: FaultKind,
    context: &FaultContext,
    path: &YamlPath,
) -> Result<Fault, Invalid> {
    let here = path.key(kind.as_str());
    let roster = &context.roster;
    // `present_kinds` found exactly this key set, so each arm's field is Some; a None here
    // would be a bug in this file, reported as a conflict rather than a panic.
    let missing = || {
        let problem = Problem::Conflict {
            message: format!("{} has no value", kind.as_str()),
        };
        Invalid::new(&here, problem, "give the fault a value")
    };
    Ok(match kind {
        FaultKind::Partition => {
            let shape = raw.partition.as_ref().ok_or_else(missing)?;
            Fault::Partition(resolve_shape(shape, context, &here)?)
        }
        FaultKind::Clog => {
            let text = raw.clog.as_deref().ok_or_else(missing)?;
            Fault::Clog(target::parse(text, roster, &here)?)
        }
        FaultKind::Loss => {
            let loss = raw.loss.as_ref().ok_or_else(missing)?;
            let rate_path = here.key("rate");
            if !(loss.rate > 0.0 && loss.rate <= 1.0) {
                let problem = Problem::OutOfRange {
                    field: "loss rate".to_owned(),
                    value: loss.rate.to_string(),
                    allowed: "above 0, at most 1".to_owned(),
                };
                let hint = "a share of messages dropped, e.g. rate: 0.1";
                return Err(Invalid::new(&rate_path, problem, hint));
            }
            Fault::Loss { rate: loss.rate }
        }
        FaultKind::LatencySpike => {
            let spike = raw.latency_spike.as_ref().ok_or_else(missing)?;
            let latency_ms = range_ms_at(&spike.latency, &here.key("latency"), "100ms..500ms")?;
            Fault::LatencySpike { latency_ms }
        }
        FaultKind::Crash => {
            let text = raw.crash.as_deref().ok_or_else(missing)?;
            Fault::Crash(node_target(text, "crash", context, &here)?)
        }
        FaultKind::Restart => {
            let text = raw.restart.as_deref().ok_or_else(missing)?;
            Fault::Restart(node_target(text, "restart", context, &here)?)
        }
        FaultKind::Pause => {
            let text = raw.pause.as_deref().ok_or_else(missing)?;
            Fault::Pause(node_target(text, "pause", context, &here)?)
        }
        FaultKind::Disk => {
            let disk = raw.disk.as_ref().ok_or_else(missing)?;
            let fault = keyword_at(&disk.fault, &here.key("fault"))?;
            let node = node_target(&disk.node, "disk", context, &here.key("node"))?;
            Fault::Disk { fault, node }
        }
        FaultKind::ProducerCrash => {
            let text = raw.producer_crash.as_deref().ok_or_else(missing)?;
            Fault::ProducerCrash(client_target(text, kind, context, &here)?)
        }
        FaultKind::ConsumerCrash => {
            let text = raw.consumer_crash.as_deref().ok_or_else(missing)?;
            Fault::ConsumerCrash(client_target(text, kind, context, &here)?)
        }
    })
}

fn resolve_shape(
    raw: &RawPartition,
    context: &FaultContext,
    path: &YamlPath,
) -> Result<PartitionShape, Invalid> {
    let present: Vec<&str> = [
        ("halves", raw.halves.is_some()),
        ("isolate", raw.isolate.is_some()),
        ("majority-ring", raw.majority_ring.is_some()),
        ("bridge", raw.bridge.is_some()),
        ("one-way", raw.one_way.is_some()),
    ]
    .into_iter()
    .filter(|(_, present)| *present)
    .map(|(name, _)| name)
    .collect();
    let hint = "one of {halves}, {isolate: target}, {majority-ring}, {bridge}, \
                {one-way: {from: target, to: target}}";
    match present.as_slice() {
        [] => {
            let problem = Problem::Conflict {
                message: "the partition has no shape".to_owned(),
            };
            return Err(Invalid::new(path, problem, hint));
        }
        [_] => {}
        [first, second, ..] => {
            let problem = Problem::Conflict {
                message: format!("the partition has two shapes: {first} and {second}"),
            };
            return Err(Invalid::new(&path.key_itself(second), problem, hint));
        }
    }
    let roster = &context.roster;
    if let Some(text) = &raw.isolate {
        return Ok(PartitionShape::Isolate(target::parse(
            text,
            roster,
            &path.key("isolate"),
        )?));
    }
    if let Some(one_way) = &raw.one_way {
        let here = path.key("one-way");
        let from = target::parse(&one_way.from, roster, &here.key("from"))?;
        let to = target::parse(&one_way.to, roster, &here.key("to"))?;
        if from == to {
            let problem = Problem::Conflict {
                message: format!("a one-way partition from {from} to itself"),
            };
            let hint = "from and to must name different targets";
            return Err(Invalid::new(&here.key("to"), problem, hint));
        }
        return Ok(PartitionShape::OneWay { from, to });
    }
    if raw.majority_ring.is_some() {
        return Ok(PartitionShape::MajorityRing);
    }
    if raw.bridge.is_some() {
        return Ok(PartitionShape::Bridge);
    }
    Ok(PartitionShape::Halves)
}
