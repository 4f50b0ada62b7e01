//! What one invocation leaves at the top of the store: `summary.json`, `summary.md` and
//! `junit.xml`, rendered by `reports` from one [`Summary`] of every run in (scenario, seed)
//! order. `faultline merge` writes the same three files from the shards' `summary.json`s
//! through [`write_summary`], so a merged store and an unsharded one agree byte for byte (but
//! for wall-clock times).

use crate::sweep::expectation::Met;
use crate::sweep::one_run::RunRecord;
use crate::sweep::store::run_dir_name;
use crate::sweep::{EXIT_BAD_INPUT, EXIT_OK, EXIT_UNJUDGED, EXIT_UNMET};
use reports::{MetWord, Summary, SummaryRun, Verdict};
use std::io;
use std::path::Path;

pub fn summary_run(record: &RunRecord) -> SummaryRun {
    let (met, reason) = match &record.met {
        Met::Yes => (MetWord::Yes, None),
        Met::No(reason) => (MetWord::No, Some(reason.clone())),
        Met::Unjudged(reason) => (MetWord::Unjudged, Some(reason.clone())),
    };
    SummaryRun {
        scenario: record.scenario.clone(),
        seed: record.seed,
        verdict: record
            .result
            .as_ref()
            .map_or(Verdict::Unknown, |result| result.verdict),
        met,
        reason,
        repro: record.repro.clone(),
        anomalies: record
            .result
            .as_ref()
            .map(|result| {
                result
                    .anomalies
                    .iter()
                    .map(|(name, list)| {
                        let omitted = result.anomalies_omitted.get(name).copied().unwrap_or(0);
                        (name.clone(), list.len() as u64 + omitted)
                    })
                    .collect()
            })
            .unwrap_or_default(),
        // A run with a result has its directory written (one_run writes it before returning).
        dir: record
            .result
            .as_ref()
            .map(|_| run_dir_name(&record.scenario, record.seed)),
        bad_input: record.bad_input,
        wall_seconds: record.wall_seconds,
    }
}

/// The exit code of `run` and `merge` for these runs (design.md section 10).
pub fn exit_code(runs: &[SummaryRun]) -> u8 {
    if runs.iter().any(|run| run.bad_input) {
        EXIT_BAD_INPUT
    } else if runs.iter().any(|run| run.met == MetWord::No) {
        EXIT_UNMET
    } else if runs.iter().any(|run| run.met == MetWord::Unjudged) {
        EXIT_UNJUDGED
    } else {
        EXIT_OK
    }
}

/// Writes `summary.json`, `summary.md` and `junit.xml` into `out`.
pub fn write_summary(out: &Path, summary: &Summary) -> io::Result<()> {
    std::fs::create_dir_all(out)?;
    std::fs::write(
        out.join("summary.json"),
        reports::render_summary_json(summary),
    )?;
    std::fs::write(out.join("summary.md"), reports::render_summary_md(summary))?;
    let junit = reports::render_junit(summary).map_err(io::Error::other)?;
    std::fs::write(out.join("junit.xml"), junit)
}

pub fn write(out: &Path, records: &[RunRecord]) -> io::Result<()> {
    let summary = Summary::new(records.iter().map(summary_run).collect());
    write_summary(out, &summary)
}
