//! Suites: the scenario files named on the command line, with directories expanded to every
//! `*.yaml` / `*.yml` file below them, sorted by path so a sweep runs in the same order on
//! every machine (sharding depends on it). Every file is loaded and all errors are reported
//! together, so one CI run shows every broken scenario. Two scenarios with the same name are
//! an error: the name is their directory in the store.

use super::error::{Invalid, Problem, ScenarioError};
use super::locate::YamlPath;
use super::{load_str, Scenario};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// How deep below a named directory we look; deeper (or a symlink loop) is ignored.
pub const DIR_DEPTH_MAX: usize = 16;
/// Most scenario files in one suite.
pub const SUITE_FILES_MAX: usize = 10_000;

/// One loaded scenario and the file it came from (for `faultline run <path> --seed N`).
#[derive(Clone, Debug, PartialEq)]
pub struct SuiteEntry {
    pub path: PathBuf,
    pub scenario: Scenario,
}

/// Loads every scenario named by `paths` (files as given, directories expanded).
pub fn load_suite(paths: &[PathBuf]) -> Result<Vec<SuiteEntry>, ScenarioError> {
    let files = expand(paths)?;
    let mut errors = Vec::new();
    let mut entries = Vec::with_capacity(files.len());
    let mut first_by_name: BTreeMap<String, PathBuf> = BTreeMap::new();
    for path in files {
        let source = match super::input::read(&path) {
            Ok(source) => source,
            Err(error) => {
                errors.push(error);
                continue;
            }
        };
        let label = path.display().to_string();
        let scenario = match load_str(&source, &label) {
            Ok(scenario) => scenario,
            Err(error) => {
                errors.push(error);
                continue;
            }
        };
        if let Some(first) = first_by_name.get(&scenario.name) {
            let problem = Problem::Conflict {
                message: format!(
                    "scenario name \"{}\" is also used by {}",
                    scenario.name,
                    first.display()
                ),
            };
            let hint = "scenario names must be unique in a suite: they name the store directory";
            let invalid = Invalid::new(&YamlPath::root().key("name"), problem, hint);
            errors.push(invalid.locate(&source, &label));
            continue;
        }
        first_by_name.insert(scenario.name.clone(), path.clone());
        entries.push(SuiteEntry { path, scenario });
    }
    match errors.len() {
        0 => Ok(entries),
        1 => Err(errors.remove(0)),
        _ => Err(ScenarioError::Several { errors }),
    }
}

/// Files as named, then each directory's scenario files sorted by path; duplicates dropped.
fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>, ScenarioError> {
    let mut seen = BTreeSet::new();
    let mut files = Vec::new();
    for path in paths {
        let found = if path.is_dir() {
            let mut found = Vec::new();
            walk(path, 0, &mut found)?;
            found.sort();
            if found.is_empty() {
                return Err(ScenarioError::EmptySuite { dir: path.clone() });
            }
            found
        } else {
            vec![path.clone()]
        };
        for file in found {
            if seen.insert(file.clone()) {
                files.push(file);
            }
        }
        if files.len() > SUITE_FILES_MAX {
            let source = std::io::Error::other(format!(
                "more than {SUITE_FILES_MAX} scenario files; name a smaller folder"
            ));
            return Err(ScenarioError::Read {
                file: path.clone(),
                source,
            });
        }
    }
    Ok(files)
}

fn walk(dir: &Path, depth: usize, found: &mut Vec<PathBuf>) -> Result<(), ScenarioError> {
    if depth > DIR_DEPTH_MAX || found.len() > SUITE_FILES_MAX {
        return Ok(());
    }
    let read_error = |source| ScenarioError::Read {
        file: dir.to_path_buf(),
        source,
    };
    let mut children = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_error)? {
        children.push(entry.map_err(read_error)?.path());
    }
    children.sort();
    for child in children {
        let hidden = child
            .file_name()
            .and_then(|name| name.to_str())
            .is_some_and(|name| name.starts_with('.'));
        if hidden {
            continue;
        }
        if child.is_dir() {
            walk(&child, depth + 1, found)?;
        } else if is_scenario_file(&child) {
            found.push(child);
        }
    }
    Ok(())
}

fn is_scenario_file(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|extension| extension.to_str()),
        Some("yaml" | "yml")
    )
}
