//! `faultline merge <dir>... --out DIR`: combines the stores of a sharded sweep into one.
//!
//! Each shard store is read through its `summary.json` (the file `faultline run` writes last);
//! the runs of all shards are put in (scenario, seed) order and `summary.json`, `summary.md`
//! and `junit.xml` are rendered by the same code as `run`'s, so merging the N shards of a sweep
//! gives the bytes the unsharded sweep would have written (wall-clock times aside).
//!
//! Decision: every run directory (`<scenario>/<seed>/`) is **copied** into `out`, so the merged
//! store is complete on its own: the links in `summary.md` and `junit.xml` resolve, and CI can
//! publish one folder. A run directory already at its place (`out` is one of the shards) is
//! left as it is. Shards of one sweep are disjoint (`--shard K/N`), so a (scenario, seed) found
//! in two shards is an error rather than a silent choice.
//!
//! Exit code, like `run`'s on the merged runs: 0 every run met its expectation, 1 some did not,
//! 2 some run had bad input, 3 some could not be judged. A merge that cannot be done (a
//! missing or malformed summary, an overlap) is a [`MergeError`]: the CLI prints it and exits 2.

use crate::sweep::summary::{exit_code, write_summary};
use reports::{Summary, SummaryRun};
use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

/// Deepest folder nesting copied below a run directory.
const COPY_DEPTH_MAX: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("nothing to merge: name at least one shard store (a folder written by `faultline run --out`)")]
    NoShards,
    #[error("{}: cannot read the shard's summary: {source} (is it a store written by `faultline run --out`?)", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("{}: not a faultline summary.json: {source}", path.display())]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{scenario} seed {seed} is in two shards, {} and {}: shards of one sweep are disjoint (--shard K/N); merge one sweep at a time", first.display(), second.display())]
    Overlap {
        scenario: String,
        seed: u64,
        first: PathBuf,
        second: PathBuf,
    },
    #[error("{}: listed in its shard's summary.json but cannot be copied: {source}", path.display())]
    Copy { path: PathBuf, source: io::Error },
    #[error("{}: cannot write the merged store: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
}

/// Merges the shard stores `dirs` into `out`; returns the exit code of the merged runs.
pub fn merge(dirs: &[PathBuf], out: &Path) -> Result<u8, MergeError> {
    if dirs.is_empty() {
        return Err(MergeError::NoShards);
    }
    let mut runs: Vec<(SummaryRun, &Path)> = Vec::new();
    for dir in dirs {
        let path = dir.join("summary.json");
        let text = std::fs::read_to_string(&path).map_err(|source| MergeError::Read {
            path: path.clone(),
            source,
        })?;
        let summary =
            Summary::from_json(&text).map_err(|source| MergeError::Parse { path, source })?;
        runs.extend(summary.runs.into_iter().map(|run| (run, dir.as_path())));
    }

    let mut owners: BTreeMap<(String, u64), &Path> = BTreeMap::new();
    for (run, shard) in &runs {
        if let Some(first) = owners.insert((run.scenario.clone(), run.seed), shard) {
            return Err(MergeError::Overlap {
                scenario: run.scenario.clone(),
                seed: run.seed,
                first: first.to_path_buf(),
                second: shard.to_path_buf(),
            });
        }
    }

    let write = |source| MergeError::Write {
        path: out.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(out).map_err(write)?;
    for (run, shard) in &runs {
        if let Some(dir) = &run.dir {
            let from = shard.join(dir);
            copy_dir(&from, &out.join(dir), 0).map_err(|source| MergeError::Copy {
                path: from.clone(),
                source,
            })?;
        }
    }

    let summary = Summary::new(runs.into_iter().map(|(run, _)| run).collect());
    write_summary(out, &summary).map_err(write)?;
    Ok(exit_code(&summary.runs))
}

fn same_place(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Copies the folder `from` to `to` (files overwritten), unless they are one folder.
fn copy_dir(from: &Path, to: &Path, depth: usize) -> io::Result<()> {
    if same_place(from, to) {
        return Ok(());
    }
    if depth > COPY_DEPTH_MAX {
        return Err(io::Error::other(format!(
            "more than {COPY_DEPTH_MAX} nested folders"
        )));
    }
    std::fs::create_dir_all(to)?;
    let mut entries: Vec<_> = std::fs::read_dir(from)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|entry| entry.file_name());
    for entry in entries {
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target, depth + 1)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}
