//! `faultline`: the command line. `anyhow` lives here and nowhere else.

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};

mod bench_disk;
mod bench_faultline;
mod bench_load;
mod bench_nats;
mod bench_produce;
mod bench_proxy;
mod bench_sim;
mod serve;

#[derive(Parser)]
#[command(
    name = "faultline",
    version,
    about = "Deterministic simulation testing for message queues"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run scenarios (files or folders) for their seeds and judge each run.
    Run {
        /// Scenario files or folders of them.
        #[arg(required = true)]
        paths: Vec<std::path::PathBuf>,
        /// Run only this seed (overrides the scenarios' `seeds`).
        #[arg(long, conflicts_with = "seeds", env = "FAULTLINE_SEED")]
        seed: Option<u64>,
        /// Run these seeds, A..B inclusive (overrides the scenarios' `seeds`).
        #[arg(long, env = "FAULTLINE_SEEDS")]
        seeds: Option<String>,
        /// Simulations run at once (one per worker thread).
        #[arg(long, default_value_t = 1)]
        jobs: usize,
        /// Run only this shard's share, K/N with 1 <= K <= N.
        #[arg(long)]
        shard: Option<String>,
        /// Store directory.
        #[arg(long, default_value = "store")]
        out: std::path::PathBuf,
        /// Run every run twice and compare history digests.
        #[arg(long)]
        check_determinism: bool,
        /// Log filter for sim.log (RUST_LOG syntax); default: harness=info,engine=info (node events: elections, epochs, truncations, ISR and controller changes, generations).
        #[arg(long, env = "RUST_LOG")]
        log: Option<String>,
        /// Switch on a planted bug (repeatable; `faultline bugs` lists them).
        #[arg(long = "bug", value_name = "NAME")]
        bugs: Vec<String>,
        /// Which runs keep their folder in the store: `all`, or `failed` (those that did not
        /// meet their expectation; long sweeps). The summary lists every run either way.
        #[arg(long, value_enum, default_value_t = harness::sweep::Keep::All)]
        keep: harness::sweep::Keep,
        /// `sim`: in the deterministic simulator; `real`: against real processes in network
        /// namespaces with real faults (needs root; design.md §13).
        #[arg(long, value_enum, default_value_t = ModeArg::Sim)]
        mode: ModeArg,
    },
    /// List the planted bugs: name, what each breaks, and the scenario that catches it.
    Bugs,
    /// Combine shard stores into one summary.json, summary.md and junit.xml.
    Merge {
        /// Shard store directories.
        #[arg(required = true)]
        dirs: Vec<std::path::PathBuf>,
        /// The merged store.
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// Minimise a failing run: fewer fault events, shorter faults, a lighter workload — while
    /// the same anomaly persists. Writes the result to store/shrink/ (see --out).
    Shrink {
        scenario: std::path::PathBuf,
        #[arg(long)]
        seed: u64,
        /// Keep this anomaly (default: the scenario's expected anomaly, from its
        /// `expect: {invalid: [...]}`; for a scenario expected valid, the first reported).
        #[arg(long)]
        anomaly: Option<String>,
        /// Planted bugs to keep switched on while shrinking.
        #[arg(long = "bug", value_name = "NAME")]
        bugs: Vec<String>,
        /// Where to write the shrunk scenario (copy it into scenarios/regression/ to keep it).
        #[arg(long, default_value = harness::shrink::OUT_DIR_DEFAULT)]
        out: std::path::PathBuf,
    },
    /// Re-check a stored history (no expectation: 0 valid, 1 invalid, 2 bad input, 3 unknown).
    Check {
        history: std::path::PathBuf,
        /// Print a result.json-shaped object.
        #[arg(long)]
        json: bool,
    },
    /// Benchmarks against a real local cluster.
    Bench {
        #[command(subcommand)]
        what: BenchWhat,
    },
    /// Run a real node on real TCP and a real data directory.
    Serve {
        #[command(subcommand)]
        node: ServeNode,
    },
    /// Power-loss demo: a simulated node appends with fsync every 10ms and acknowledges only
    /// synced records, loses power at a seeded moment (torn writes on), recovers, and must
    /// still hold every acknowledged record.
    Demo {
        /// Seeds to run, as A..B (inclusive).
        #[arg(long, default_value = "1..20")]
        seeds: String,
    },
}

#[derive(Subcommand)]
enum BenchWhat {
    /// acks=all produce throughput and latency on 1 coordinator + 3 brokers (127.0.0.1).
    Produce(bench_load::ProduceBench),
    /// Simulation speed: simulated seconds per wall second for each scenario.
    Sim(bench_sim::SimBench),
    /// What real mode's TCP proxy adds to a round trip on loopback.
    Proxy(bench_proxy::ProxyBench),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum ModeArg {
    Sim,
    Real,
}

#[derive(Subcommand)]
enum ServeNode {
    /// The ZooKeeper-like coordinator. Prints `listening on HOST:PORT` once it serves.
    Coordinator {
        /// Address to listen on; port 0 picks a free port.
        #[arg(long, default_value = "127.0.0.1:2181")]
        listen: String,
        /// Data directory (created if missing).
        #[arg(long)]
        data: std::path::PathBuf,
    },
    /// A Kafka-like broker. Prints `listening on HOST:PORT` once it serves.
    Broker {
        /// This broker's id (unique in the cluster, at least 1).
        #[arg(long)]
        id: u32,
        /// Address to listen on; port 0 picks a free port.
        #[arg(long, default_value = "127.0.0.1:9092")]
        listen: String,
        /// Address other nodes and clients use; defaults to the listen address (with the
        /// picked port).
        #[arg(long)]
        advertise: Option<String>,
        /// The coordinator's address.
        #[arg(long, default_value = "127.0.0.1:2181")]
        coordinator: String,
        /// Data directory (created if missing).
        #[arg(long)]
        data: std::path::PathBuf,
        /// always | never | interval:<ms>ms
        #[arg(long, default_value = "always")]
        fsync: String,
        /// Switch on a planted bug (repeatable; `faultline bugs` lists them): real mode's
        /// way to plant one in a node process.
        #[arg(long = "bug", value_name = "NAME")]
        bugs: Vec<String>,
    },
}

/// `--bug` names to the set of planted bugs.
fn parse_bugs(names: &[String]) -> anyhow::Result<harness::systems::faultline::Bugs> {
    let mut planted = harness::systems::faultline::Bugs::none();
    for name in names {
        let bug = harness::systems::faultline::Bug::parse(name).with_context(|| {
            format!("unknown bug {name:?}: `faultline bugs` lists the planted bugs")
        })?;
        planted = planted.with(bug);
    }
    Ok(planted)
}

fn parse_seeds(text: &str) -> anyhow::Result<std::ops::RangeInclusive<u64>> {
    let (first, last) = text
        .split_once("..")
        .context("seeds must look like A..B, e.g. 1..20")?;
    let first: u64 = first.parse().context("the first seed is not a number")?;
    let last: u64 = last.parse().context("the last seed is not a number")?;
    if last < first {
        bail!("empty seed range {text}");
    }
    Ok(first..=last)
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("faultline: {error:#}");
            std::process::ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<std::process::ExitCode> {
    match cli.command {
        Command::Serve { node } => serve::run(node),
        Command::Check { history, json } => Ok(harness::check_cmd::main(&history, json)),
        Command::Shrink {
            scenario,
            seed,
            anomaly,
            bugs,
            out,
        } => {
            let planted = parse_bugs(&bugs)?;
            let args = harness::shrink::ShrinkArgs {
                path: scenario,
                seed,
                bugs: planted,
                anomaly,
                out_dir: out,
            };
            match harness::shrink::shrink(&args) {
                Ok(report) => {
                    println!(
                        "shrunk while {} persisted ({} runs): fault events {} -> {}, workload {} ms -> {} ms\nwrote {}",
                        report.anomaly,
                        report.runs,
                        report.events_before,
                        report.events_after,
                        report.duration_ms_before,
                        report.duration_ms_after,
                        report.written.display()
                    );
                    Ok(std::process::ExitCode::SUCCESS)
                }
                Err(error) => {
                    eprintln!("faultline shrink: {error}");
                    Ok(std::process::ExitCode::from(2))
                }
            }
        }
        Command::Merge { dirs, out } => match harness::merge::merge(&dirs, &out) {
            Ok(code) => Ok(std::process::ExitCode::from(code)),
            Err(error) => {
                eprintln!("faultline merge: {error}");
                Ok(std::process::ExitCode::from(2))
            }
        },
        Command::Bugs => {
            for (bug, scenario) in harness::bugs::CATALOGUE {
                println!(
                    "{:<34} {}\n{:<34} caught by {}",
                    bug.name(),
                    bug.breaks(),
                    "",
                    scenario
                );
            }
            Ok(std::process::ExitCode::SUCCESS)
        }
        Command::Run {
            paths,
            seed,
            seeds,
            jobs,
            shard,
            out,
            check_determinism,
            log,
            bugs,
            keep,
            mode,
        } => {
            let planted = parse_bugs(&bugs)?;
            let mode = match mode {
                ModeArg::Sim => harness::run::context::Mode::Sim,
                ModeArg::Real => {
                    // Before any thread starts: the watcher owns SIGINT and SIGTERM from here.
                    let interrupts = harness::interrupt::Interrupts::install()
                        .context("cannot take over SIGINT and SIGTERM")?;
                    interrupts.run_on_signal(harness::real::cleanup_after_signal);
                    if check_determinism {
                        eprintln!("faultline run: --check-determinism is for simulations; a real run is not deterministic");
                        return Ok(std::process::ExitCode::from(2));
                    }
                    harness::run::context::Mode::Real
                }
            };
            // Real runs of one process share its network tag and scratch directory.
            let jobs = if mode == harness::run::context::Mode::Real {
                1
            } else {
                jobs
            };
            let seeds = match (seed, seeds) {
                (Some(seed), _) => Some(seed..=seed),
                (None, Some(text)) => Some(parse_seeds(&text)?),
                (None, None) => None,
            };
            let shard = shard.map(|text| text.parse()).transpose()?;
            let args = harness::sweep::RunArgs {
                paths,
                seeds,
                jobs,
                shard,
                out,
                check_determinism,
                log_filter: log,
                bugs: planted,
                progress: std::io::IsTerminal::is_terminal(&std::io::stdout()),
                keep,
                mode,
            };
            let mut stdout = std::io::stdout();
            match harness::sweep::execute(&args, &mut stdout) {
                Ok(code) => Ok(std::process::ExitCode::from(code)),
                Err(error) => {
                    eprintln!("faultline run: {error}");
                    Ok(std::process::ExitCode::from(harness::sweep::EXIT_BAD_INPUT))
                }
            }
        }
        Command::Bench {
            what: BenchWhat::Produce(options),
        } => bench_produce::run(options),
        Command::Bench {
            what: BenchWhat::Sim(options),
        } => bench_sim::run(options),
        Command::Bench {
            what: BenchWhat::Proxy(options),
        } => bench_proxy::run(options),
        Command::Demo { seeds } => {
            let mut broken = 0;
            for seed in parse_seeds(&seeds)? {
                let outcome = harness::demo::run(seed)?;
                let verdict = if outcome.kept_promises() {
                    "valid"
                } else {
                    "invalid"
                };
                if !outcome.kept_promises() {
                    broken += 1;
                }
                println!(
                    "{verdict:7} seed {seed:3}: power lost at {:3} ms, {:3} records acknowledged, {:3} recovered, {:4} torn bytes cut  (faultline demo --seeds {seed}..{seed})",
                    outcome.crash_at_ms, outcome.acknowledged, outcome.recovered, outcome.truncated_bytes
                );
            }
            Ok(std::process::ExitCode::from(if broken == 0 {
                0
            } else {
                1
            }))
        }
    }
}
