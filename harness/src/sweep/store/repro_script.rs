//! `repro.sh`: the run's replay command as a script that works from anywhere — from the store,
//! on a machine without `faultline` on the PATH, from another working directory.
//!
//! Which scenario: the original file, by its absolute path. A run is a pure function of
//! (scenario, seed, code), so that file replays exactly while it is unchanged. The
//! `scenario.yaml` next to the script (the scenario as played, a random fault mix replaced by
//! the drawn schedule) plays the same faults, but the simulation is configured from the fault
//! mix as well (e.g. power-loss support when crashes may be drawn), so it is not guaranteed to
//! replay the same interleaving; it is for reading and shrinking.
//!
//! Which binary, first found: `$FAULTLINE`; the `faultline` that wrote the run (same code,
//! so the same history); `faultline` on the PATH; `cargo run --release -p faultline` in the
//! checkout that built the binary.

use std::path::{Path, PathBuf};

/// What the script replays.
pub struct Replay<'a> {
    /// The scenario file as the user named it.
    pub scenario: &'a Path,
    pub seed: u64,
    pub bugs: crate::systems::faultline::Bugs,
    /// The one-line repro command, shown in the script's header.
    pub repro: &'a str,
    /// Replay against real processes (`result.json`'s `mode` is `real`).
    pub real: bool,
}

/// Where the script looks for a binary, resolved when the run is written.
pub struct Binaries {
    /// The `faultline` executable that wrote the run, if this process is one.
    pub current: Option<PathBuf>,
    /// The cargo workspace that built this code, if it still exists.
    pub workspace: Option<PathBuf>,
}

impl Binaries {
    /// This process's binary (only if it is `faultline`: tests write stores too) and the
    /// workspace it was built from.
    pub fn here() -> Self {
        let current = std::env::current_exe()
            .ok()
            .filter(|exe| exe.file_stem().is_some_and(|stem| stem == "faultline"))
            .filter(|exe| exe.is_file());
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .map(Path::to_path_buf)
            .filter(|root| root.join("Cargo.toml").is_file());
        Binaries { current, workspace }
    }
}

/// The text of `repro.sh`. Extra arguments to the script are passed on (e.g. `--out /tmp/r`).
pub fn script(replay: &Replay, binaries: &Binaries) -> String {
    let scenario = absolute(replay.scenario);
    // A real run replays its fault schedule against real processes again.
    let mode = if replay.real { "--mode real " } else { "" };
    let mut args = format!("run {mode}{} --seed {}", quote(&scenario), replay.seed);
    for bug in replay.bugs.iter() {
        // Bug names are fixed lower-case words: nothing to quote.
        args.push_str(&format!(" --bug {}", bug.name()));
    }
    let mut text = format!(
        "#!/bin/sh\n\
         # Replays this run exactly: {repro}\n\
         # The scenario is the original file ({scenario}); it replays exactly while it is\n\
         # unchanged. scenario.yaml here is the scenario as played (a random fault mix replaced\n\
         # by the drawn schedule), for reading and shrinking.\n\
         # The binary: $FAULTLINE, else the faultline that wrote this run, else faultline on the\n\
         # PATH, else cargo run in the checkout that built it. Arguments are passed on.\n\
         set -e\n",
        repro = replay.repro,
        scenario = scenario.display(),
    );
    text.push_str(&format!(
        "if [ -n \"${{FAULTLINE:-}}\" ]; then exec \"$FAULTLINE\" {args} \"$@\"; fi\n"
    ));
    if let Some(current) = &binaries.current {
        text.push_str(&format!(
            "if [ -x {exe} ]; then exec {exe} {args} \"$@\"; fi\n",
            exe = quote(current)
        ));
    }
    text.push_str(&format!(
        "if command -v faultline >/dev/null 2>&1; then exec faultline {args} \"$@\"; fi\n"
    ));
    match &binaries.workspace {
        Some(root) => text.push_str(&format!(
            "cd {root}\nexec cargo run --release -p faultline -- {args} \"$@\"\n",
            root = quote(root)
        )),
        None => text.push_str(
            "echo 'repro.sh: no faultline binary found: set FAULTLINE=/path/to/faultline' >&2\n\
             exit 2\n",
        ),
    }
    text
}

fn absolute(path: &Path) -> PathBuf {
    std::fs::canonicalize(path)
        .or_else(|_| std::path::absolute(path))
        .unwrap_or_else(|_| path.to_path_buf())
}

/// Quotes for sh: inside single quotes nothing is special but the quote itself.
fn quote(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_survives_spaces_and_quotes() {
        assert_eq!(quote(Path::new("/a b/it's")), r"'/a b/it'\''s'");
    }

    #[test]
    fn the_script_names_an_absolute_scenario_and_every_way_to_a_binary() {
        let replay = Replay {
            scenario: Path::new("scenarios/smoke/x.yaml"),
            seed: 7,
            bugs: crate::systems::faultline::Bugs::none(),
            repro: "faultline run scenarios/smoke/x.yaml --seed 7",
            real: false,
        };
        let binaries = Binaries {
            current: Some(PathBuf::from("/opt/faultline")),
            workspace: Some(PathBuf::from("/src/faultline")),
        };
        let text = script(&replay, &binaries);
        let cwd = std::env::current_dir().expect("cwd");
        let scenario = cwd.join("scenarios/smoke/x.yaml");
        let args = format!("run '{}' --seed 7", scenario.display());
        assert!(
            text.starts_with("#!/bin/sh\n# Replays this run exactly: faultline run"),
            "{text}"
        );
        assert!(
            text.contains(&format!("exec \"$FAULTLINE\" {args} \"$@\"")),
            "{text}"
        );
        assert!(
            text.contains(&format!("then exec '/opt/faultline' {args} \"$@\"")),
            "{text}"
        );
        assert!(
            text.contains(&format!("exec faultline {args} \"$@\"")),
            "{text}"
        );
        assert!(text.ends_with(&format!(
            "cd '/src/faultline'\nexec cargo run --release -p faultline -- {args} \"$@\"\n"
        )));
        let none = Binaries {
            current: None,
            workspace: None,
        };
        assert!(script(&replay, &none).ends_with("exit 2\n"));
    }

    #[test]
    fn the_workspace_is_found() {
        let here = Binaries::here();
        assert!(here
            .workspace
            .is_some_and(|root| root.join("harness").is_dir()));
        // Tests are not the faultline binary.
        assert_eq!(here.current, None);
    }
}
