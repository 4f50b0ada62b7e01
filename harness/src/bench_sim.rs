//! `faultline bench sim`: simulated seconds per wall-clock second of each scenario, beside the
//! machine's own reference figure — the same ratio for an empty turmoil simulation with as many
//! idle hosts and the same tick, measured in the same invocation. A scenario's ratio depends on
//! the machine (and on what else it runs); its share of the reference much less so, which makes
//! figures from two machines comparable. Real-mode entry point: wall-clock time is what it
//! measures, and nothing it measures feeds back into a simulated run.

use std::process::ExitCode;
use std::time::Duration;

/// Simulated time one reference run covers.
const REFERENCE_SIM: Duration = Duration::from_secs(10);
/// The simulated seconds per wall second the smoke suite aims at (issue 20), shown as the
/// step cost it allows.
const RATIO_GOAL: f64 = 300.0;
/// Idle hosts of the larger empty simulation that splits a step's cost into a fixed part and a
/// part per host (the smaller has none).
const REFERENCE_HOSTS_SPLIT: usize = 8;

#[derive(Clone, Debug, clap::Args)]
pub struct SimBench {
    /// Scenario files or folders.
    #[arg(default_value = "scenarios/smoke")]
    pub paths: Vec<std::path::PathBuf>,
    /// Seed of each run.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Runs per scenario; the fastest is reported (the others only add the machine's noise).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub repeat: u32,
}

/// Wall-clock seconds of `work`.
fn timed<T>(work: impl FnOnce() -> T) -> (T, f64) {
    // Real-mode measurement: the wall clock is the point.
    #[allow(clippy::disallowed_methods)]
    let started = std::time::Instant::now();
    let value = work();
    (value, started.elapsed().as_secs_f64())
}

/// Simulated seconds per wall second of an empty simulation of `hosts` runtimes: one client
/// that sleeps through `REFERENCE_SIM` and `hosts - 1` hosts that wait forever, stepped every
/// `tick_ms`. This is turmoil's fixed cost per step and host on this machine — the floor of
/// every scenario's with as many hosts (the sleeper stands in for one of them, so the
/// reference runs exactly as many runtimes as the scenario).
fn reference_ratio(hosts: usize, tick_ms: u64) -> anyhow::Result<f64> {
    assert!(hosts >= 1, "the reference needs its sleeping client");
    let mut sim = turmoil::Builder::new()
        .rng_seed(0)
        .tick_duration(Duration::from_millis(tick_ms))
        .simulation_duration(REFERENCE_SIM * 2)
        .build();
    for host in 1..hosts {
        sim.host(format!("idle-{host}"), || async {
            std::future::pending::<()>().await;
            Ok(())
        });
    }
    sim.client("sleeper", async {
        tokio::time::sleep(REFERENCE_SIM).await;
        Ok(())
    });
    let (outcome, wall) = timed(|| sim.run());
    outcome.map_err(|error| anyhow::anyhow!("the reference simulation failed: {error}"))?;
    Ok(sim.elapsed().as_secs_f64() / wall.max(1e-9))
}

/// Wall microseconds per step of a run that covered `sim_seconds` in `wall` seconds.
fn step_us(sim_seconds: f64, wall: f64, tick_ms: u64) -> f64 {
    let steps = sim_seconds * 1000.0 / tick_ms as f64;
    1e6 * wall / steps.max(1.0)
}

/// A step's cost in an empty simulation, split: (fixed µs, µs per idle host), from the fastest
/// of `repeat` runs with no idle host and with `REFERENCE_HOSTS_SPLIT`.
fn reference_step_split(tick_ms: u64, repeat: u32) -> anyhow::Result<(f64, f64)> {
    let sim_seconds = REFERENCE_SIM.as_secs_f64();
    let fastest = |hosts: usize| -> anyhow::Result<f64> {
        let mut best = f64::MAX;
        for _ in 0..repeat {
            let ratio = reference_ratio(hosts, tick_ms)?;
            best = best.min(step_us(sim_seconds, sim_seconds / ratio.max(1e-9), tick_ms));
        }
        Ok(best)
    };
    let fixed = fastest(1)?;
    let with_hosts = fastest(1 + REFERENCE_HOSTS_SPLIT)?;
    Ok((fixed, (with_hosts - fixed) / REFERENCE_HOSTS_SPLIT as f64))
}

/// The hosts a simulated run of `scenario` has: its nodes, its clients and the nemesis.
fn host_count(scenario: &harness::scenario::Scenario) -> usize {
    scenario.cluster.coordinators as usize
        + scenario.cluster.brokers as usize
        + scenario.workload.client_roles().len()
        + 1
}

fn best_and_median(mut walls: Vec<f64>) -> (f64, f64) {
    walls.sort_by(f64::total_cmp);
    (walls[0], walls[walls.len() / 2])
}

/// Each scenario runs `repeat` times, and so does its reference; the table shows the fastest
/// and the median wall time, since a short run on a shared machine is easily slowed, never sped
/// up, by other work.
pub fn run(bench: SimBench) -> anyhow::Result<ExitCode> {
    let suite = harness::scenario::load_suite(&bench.paths)?;
    println!(
        "faultline bench sim: seed {}, best and median of {} runs per scenario; reference: an \
         empty simulation with as many idle hosts and the same tick ({}s simulated)",
        bench.seed,
        bench.repeat,
        REFERENCE_SIM.as_secs()
    );
    println!();
    println!(
        "| scenario | hosts | tick ms | history ops | simulated s | wall s (best) | wall s (median) \
         | simulated s per wall s (best) | (median) | reference (best) | share of reference \
         | µs per step (best) | reference µs per step |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    let (mut sim_total, mut best_total, mut median_total) = (0.0, 0.0, 0.0);
    let mut reference_walls_total = 0.0;
    let mut ticks_ms = std::collections::BTreeSet::new();
    for entry in suite {
        let scenario = &entry.scenario;
        let schedule = harness::run::schedule_for(scenario, bench.seed);
        let mut walls = Vec::with_capacity(bench.repeat as usize);
        let mut references = Vec::with_capacity(bench.repeat as usize);
        let mut measured = None;
        for _ in 0..bench.repeat {
            let (outcome, wall) = timed(|| {
                harness::run::simulate(
                    scenario,
                    bench.seed,
                    schedule.clone(),
                    &harness::run::SimOptions::default(),
                )
            });
            let outcome = outcome?;
            walls.push(wall);
            measured = Some((outcome.ops.len(), outcome.sim_seconds));
            references.push(reference_ratio(
                host_count(scenario),
                scenario.network.tick_ms,
            )?);
        }
        let Some((ops, sim_seconds)) = measured else {
            continue;
        };
        let (best, median) = best_and_median(walls);
        let reference = references.iter().copied().fold(0.0, f64::max);
        sim_total += sim_seconds;
        best_total += best;
        median_total += median;
        // The wall time the empty simulation would take for this scenario's simulated time.
        reference_walls_total += sim_seconds / reference.max(1e-9);
        let ratio = sim_seconds / best.max(1e-9);
        let tick_ms = scenario.network.tick_ms;
        println!(
            "| {} | {} | {} | {} | {:.1} | {:.3} | {:.3} | {:.0}x | {:.0}x | {:.0}x | {:.0}% | {:.1} \
             | {:.1} |",
            scenario.name,
            host_count(scenario),
            scenario.network.tick_ms,
            ops,
            sim_seconds,
            best,
            median,
            ratio,
            sim_seconds / median.max(1e-9),
            reference,
            100.0 * ratio / reference.max(1e-9),
            step_us(sim_seconds, best, tick_ms),
            step_us(sim_seconds, sim_seconds / reference.max(1e-9), tick_ms),
        );
        ticks_ms.insert(tick_ms);
    }
    let reference_total = sim_total / f64::max(reference_walls_total, 1e-9);
    let ratio_total = sim_total / best_total.max(1e-9);
    println!(
        "| **all** | | | | {:.1} | {:.3} | {:.3} | {:.0}x | {:.0}x | {:.0}x | {:.0}% | | |",
        sim_total,
        best_total,
        median_total,
        ratio_total,
        sim_total / median_total.max(1e-9),
        reference_total,
        100.0 * ratio_total / reference_total.max(1e-9)
    );
    println!();
    for tick_ms in ticks_ms {
        let (fixed, per_host) = reference_step_split(tick_ms, bench.repeat)?;
        println!(
            "An empty step ({tick_ms} ms tick) costs {fixed:.1} µs plus {per_host:.2} µs per idle \
             host (empty simulations of 0 and {REFERENCE_HOSTS_SPLIT} idle hosts beside the \
             sleeping client); {:.0}x needs at most {:.1} µs per step.",
            RATIO_GOAL,
            tick_ms as f64 * 1000.0 / RATIO_GOAL
        );
    }
    Ok(ExitCode::SUCCESS)
}
