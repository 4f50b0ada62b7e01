//! Flags checked before any run starts. A sweep can run for hours, so a flag that cannot work
//! must fail in the first second with exit 2, not after the runs (when the summary is written):
//! `--jobs` must be a usable number of worker threads, and `--out` must be a directory we can
//! create and write — proven by creating it and writing (then removing) a probe file, since
//! permission bits alone do not tell (read-only mounts, /proc, a full disk, ACLs).

use super::{InvocationError, RunArgs};
use std::io::Write;
use std::path::Path;

/// Most worker threads. Each holds one simulation (tens of MB); more than this is a typo.
pub const JOBS_MAX: usize = 1024;

/// Checks every flag that needs no scenario; creates the store directory.
pub fn check(args: &RunArgs) -> Result<(), InvocationError> {
    if !(1..=JOBS_MAX).contains(&args.jobs) {
        return Err(InvocationError::Jobs { jobs: args.jobs });
    }
    writable(&args.out).map_err(|source| InvocationError::Out {
        dir: args.out.clone(),
        source,
    })
}

/// Creates `dir` (and its parents) and proves a file can be written in it.
pub fn writable(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let probe = dir.join(format!(".faultline-probe-{}", std::process::id()));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .and_then(|mut file| file.write_all(b"probe\n").and_then(|()| file.sync_all()));
    // Remove the probe even when the write failed half way (the file may exist).
    let removed = std::fs::remove_file(&probe);
    written?;
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(jobs: usize, out: &Path) -> RunArgs {
        RunArgs {
            mode: crate::run::context::Mode::Sim,
            paths: Vec::new(),
            seeds: None,
            jobs,
            shard: None,
            out: out.to_path_buf(),
            check_determinism: false,
            log_filter: None,
            bugs: crate::systems::faultline::Bugs::none(),
            progress: false,
            keep: super::super::Keep::All,
        }
    }

    #[test]
    fn jobs_must_be_between_one_and_the_maximum() {
        let dir = tempfile::tempdir().expect("tempdir");
        for jobs in [0, JOBS_MAX + 1] {
            let error = check(&args(jobs, dir.path())).expect_err("bad jobs");
            assert!(
                error.to_string().starts_with(&format!("--jobs {jobs}: ")),
                "{error}"
            );
        }
        check(&args(1, dir.path())).expect("one job");
    }

    #[test]
    fn out_is_created_and_left_without_the_probe() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("a/b/store");
        check(&args(2, &out)).expect("creatable");
        assert_eq!(std::fs::read_dir(&out).expect("created").count(), 0);
    }

    #[test]
    fn out_that_cannot_be_a_directory_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("file");
        std::fs::write(&file, "x").expect("write");
        let error = check(&args(1, &file.join("store"))).expect_err("under a file");
        let text = error.to_string();
        assert!(
            text.starts_with(&format!("--out {}: ", file.join("store").display())),
            "{text}"
        );
        assert!(text.contains("(hint: "), "{text}");
        let error = check(&args(1, Path::new("/proc/faultline-store"))).expect_err("/proc");
        assert!(matches!(error, InvocationError::Out { .. }), "{error}");
    }
}
