//! `faultline bench sim`: simulated seconds per wall-clock second of scenario runs. Real-mode
//! entry point: wall-clock time is what it measures. (`bench produce` is `bench_produce`.)

use std::process::ExitCode;

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

/// Simulated seconds per wall-clock second for each scenario (design target: at least 100).
/// Each scenario runs `repeat` times; the table shows the fastest and the median wall time,
/// since a short run on a shared machine is easily slowed, never sped up, by other work.
pub fn run_sim(bench: SimBench) -> anyhow::Result<ExitCode> {
    let suite = harness::scenario::load_suite(&bench.paths)?;
    println!(
        "faultline bench sim: seed {}, best and median of {} runs per scenario",
        bench.seed, bench.repeat
    );
    println!();
    println!(
        "| scenario | tick ms | history ops | simulated s | wall s (best) | wall s (median) | \
         simulated s per wall s (best) | (median) |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let (mut sim_total, mut best_total, mut median_total) = (0.0, 0.0, 0.0);
    for entry in suite {
        let schedule = harness::run::schedule_for(&entry.scenario, bench.seed);
        let mut walls = Vec::with_capacity(bench.repeat as usize);
        let mut measured = None;
        for _ in 0..bench.repeat {
            // Real-mode measurement: the wall clock is the point.
            #[allow(clippy::disallowed_methods)]
            let started = std::time::Instant::now();
            let outcome = harness::run::simulate(
                &entry.scenario,
                bench.seed,
                schedule.clone(),
                &harness::run::SimOptions::default(),
            )?;
            walls.push(started.elapsed().as_secs_f64());
            measured = Some((outcome.ops.len(), outcome.sim_seconds));
        }
        let Some((ops, sim_seconds)) = measured else {
            continue;
        };
        walls.sort_by(f64::total_cmp);
        let (best, median) = (walls[0], walls[walls.len() / 2]);
        sim_total += sim_seconds;
        best_total += best;
        median_total += median;
        println!(
            "| {} | {} | {} | {:.1} | {:.3} | {:.3} | {:.0}x | {:.0}x |",
            entry.scenario.name,
            entry.scenario.network.tick_ms,
            ops,
            sim_seconds,
            best,
            median,
            sim_seconds / best.max(1e-9),
            sim_seconds / median.max(1e-9)
        );
    }
    println!(
        "| **all** | | | {:.1} | {:.3} | {:.3} | {:.0}x | {:.0}x |",
        sim_total,
        best_total,
        median_total,
        sim_total / best_total.max(1e-9),
        sim_total / median_total.max(1e-9)
    );
    Ok(ExitCode::SUCCESS)
}
