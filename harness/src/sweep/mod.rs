//! A sweep, `faultline run`: expand scenario files and folders, pick the seeds (and this shard's share),
//! run them on `--jobs` worker threads — each thread runs whole simulations, one at a time, so
//! nothing is shared inside a simulation — print one line per run ending with its repro
//! command, and write the store. Exit codes (design.md section 10): 0 every run met its
//! expectation, 1 some did not, 2 bad input, 3 some run could not be judged.

pub mod expectation;
pub mod one_run;
pub mod preflight;
pub mod shard;
pub mod store;
pub mod summary;

use crate::scenario::{load_suite, ScenarioError};
use expectation::Met;
use one_run::{RunRecord, RunRequest};
use shard::Shard;
use std::collections::VecDeque;
use std::io::Write;
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::sync::Mutex;

#[derive(Clone, Debug)]
pub struct RunArgs {
    pub paths: Vec<PathBuf>,
    /// Overrides every scenario's `seeds`.
    pub seeds: Option<RangeInclusive<u64>>,
    pub jobs: usize,
    pub shard: Option<Shard>,
    pub out: PathBuf,
    pub check_determinism: bool,
    pub log_filter: Option<String>,
    /// Planted bugs to switch on.
    pub bugs: crate::systems::faultline::Bugs,
    /// Draw a progress bar (on a terminal); otherwise only the per-run lines are printed.
    pub progress: bool,
    /// Which runs keep their folder in the store.
    pub keep: Keep,
    /// Simulation, or real processes (design.md §13).
    pub mode: crate::run::context::Mode,
}

/// Which runs keep their folder (`store/<scenario>/<seed>/`) in the store. A long swarm sweep
/// writes about 1 MB per run; keeping only the runs that did not meet their expectation keeps
/// the store to what someone will read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Keep {
    #[default]
    All,
    Failed,
}

#[derive(Debug, thiserror::Error)]
pub enum InvocationError {
    #[error("{0}")]
    Scenario(#[from] ScenarioError),
    /// `--jobs` outside 1..=JOBS_MAX.
    #[error("--jobs {jobs}: the number of worker threads must be 1 to {max} (hint: use --jobs 1, or the number of cores)", max = preflight::JOBS_MAX)]
    Jobs { jobs: usize },
    /// `--out` cannot be created or written.
    #[error("--out {}: cannot create or write the store directory: {source} (hint: name a writable directory, e.g. --out store)", .dir.display())]
    Out {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write the store: {0}")]
    Store(#[from] std::io::Error),
}

pub const EXIT_OK: u8 = 0;
pub const EXIT_UNMET: u8 = 1;
pub const EXIT_BAD_INPUT: u8 = 2;
pub const EXIT_UNJUDGED: u8 = 3;

fn line(record: &RunRecord) -> String {
    let verdict = record
        .result
        .as_ref()
        .map_or("unknown", |r| r.verdict.as_str());
    let stats = record
        .result
        .as_ref()
        .map(|r| {
            format!(
                "{} ops, {:.1} sim s in {:.2} s",
                r.stats.ops, r.stats.sim_seconds, record.wall_seconds
            )
        })
        .unwrap_or_default();
    let status = match &record.met {
        Met::Yes => "ok".to_string(),
        Met::No(reason) => format!("FAILED ({reason})"),
        Met::Unjudged(reason) => format!("UNJUDGED ({reason})"),
    };
    format!(
        "{verdict:<7} {:<32} seed {:<5} {status:<10} {stats}  {}",
        record.scenario, record.seed, record.repro
    )
}

/// Runs everything; returns the exit code.
pub fn execute(args: &RunArgs, out: &mut (impl Write + Send)) -> Result<u8, InvocationError> {
    preflight::check(args)?;
    let suite = load_suite(&args.paths)?;
    let named_files = args.paths.iter().all(|path| path.is_file());
    let mut requests = VecDeque::new();
    for entry in suite {
        // A folder may hold real-only scenarios (another system's servers): a simulated sweep
        // of the folder skips them and says so; a file named on its own is refused per run.
        if args.mode == crate::run::context::Mode::Sim
            && entry.scenario.system != crate::scenario::SystemName::Faultline
            && !named_files
        {
            let _ = writeln!(
                out,
                "skipped {}: system: {} runs in real mode only (faultline run --mode real)",
                entry.scenario.name,
                crate::scenario::Keyword::as_str(&entry.scenario.system)
            );
            continue;
        }
        let seeds = args
            .seeds
            .clone()
            .unwrap_or_else(|| entry.scenario.seeds.clone());
        for seed in seeds {
            if args
                .shard
                .is_some_and(|shard| !shard.owns(&entry.scenario.name, seed))
            {
                continue;
            }
            requests.push_back(RunRequest {
                scenario: entry.scenario.clone(),
                path: entry.path.clone(),
                seed,
                check_determinism: args.check_determinism,
                log_filter: args.log_filter.clone(),
                out: args.out.clone(),
                bugs: args.bugs,
                keep: args.keep,
                mode: args.mode,
            });
        }
    }
    let bar = args.progress.then(|| {
        let bar = indicatif::ProgressBar::new(requests.len() as u64);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} runs, {elapsed} elapsed, {eta} left",
        ) {
            bar.set_style(style);
        }
        bar
    });
    let queue = Mutex::new(requests);
    let records = Mutex::new(Vec::new());
    let printer = Mutex::new(out);
    let jobs = args.jobs;
    assert!(
        (1..=preflight::JOBS_MAX).contains(&jobs),
        "checked by preflight"
    );
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            // One simulation per worker thread at a time: threads never share a simulation.
            #[allow(clippy::disallowed_methods)]
            scope.spawn(|| loop {
                let next = queue.lock().unwrap_or_else(|p| p.into_inner()).pop_front();
                let Some(request) = next else { break };
                let record = one_run::execute(&request);
                match &bar {
                    Some(bar) => {
                        bar.println(line(&record));
                        bar.inc(1);
                    }
                    None => {
                        let mut out = printer.lock().unwrap_or_else(|p| p.into_inner());
                        let _ = writeln!(out, "{}", line(&record));
                    }
                }
                records
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(record);
            });
        }
    });
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let mut records = records.into_inner().unwrap_or_else(|p| p.into_inner());
    records.sort_by(|a, b| (&a.scenario, a.seed).cmp(&(&b.scenario, b.seed)));
    summary::write(&args.out, &records)?;
    let code = if records.iter().any(|r| r.bad_input) {
        EXIT_BAD_INPUT
    } else if records.iter().any(|r| matches!(r.met, Met::No(_))) {
        EXIT_UNMET
    } else if records.iter().any(|r| matches!(r.met, Met::Unjudged(_))) {
        EXIT_UNJUDGED
    } else {
        EXIT_OK
    };
    let out = printer.into_inner().unwrap_or_else(|p| p.into_inner());
    let unmet = records.iter().filter(|r| r.met != Met::Yes).count();
    let _ = writeln!(
        out,
        "{} runs, {} met their expectation; store: {}",
        records.len(),
        records.len() - unmet,
        args.out.display()
    );
    Ok(code)
}
