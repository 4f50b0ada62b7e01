//! `faultline`: the command line. `anyhow` lives here and nowhere else.

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};

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
