//! The few system tools real mode drives (ip, iptables, mount helpers), run as child processes
//! with their output captured, so a failure names the command and what it printed.

use std::process::Command;

#[derive(Debug, thiserror::Error)]
pub enum ShellError {
    #[error("cannot run `{command}`: {source}")]
    Spawn {
        command: String,
        source: std::io::Error,
    },
    #[error("`{command}` failed ({status}): {stderr}")]
    Failed {
        command: String,
        status: String,
        stderr: String,
    },
}

/// Runs `program args...` to completion; its stdout on success.
pub fn run(program: &str, args: &[&str]) -> Result<String, ShellError> {
    let command = format!("{program} {}", args.join(" "));
    let output = Command::new(program)
        .args(args)
        .output()
        .map_err(|source| ShellError::Spawn {
            command: command.clone(),
            source,
        })?;
    if !output.status.success() {
        return Err(ShellError::Failed {
            command,
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Runs a command whose failure only matters to the log (a cleanup step that may find its
/// object already gone).
pub fn run_quietly(program: &str, args: &[&str]) {
    if let Err(error) = run(program, args) {
        tracing::debug!(%error, "cleanup step");
    }
}

/// Whether `program` is on the PATH.
pub fn on_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|dir| {
            let candidate = dir.join(program);
            candidate.is_file()
        })
    })
}
