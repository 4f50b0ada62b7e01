//! The control channel: one-line text commands on a unix socket, one-line replies that start
//! with `ok` or `err`. Parsing is pure; `serve` moves lines between the socket and `execute`.
//!
//! Commands:
//!   power-loss [torn <block-bytes>]   drop every unsynced write and name (tear at blocks)
//!   fsync-eio on [path-glob] | off    fsync/fdatasync fail with EIO (all paths by default)
//!   disk-full on | off                writes and creates fail with ENOSPC
//!   write-eio on | off                writes, truncations and creates fail with EIO
//!   read-corrupt on | off             reads return one flipped bit (the data stays intact)
//!   bitflip <relative-path> <byte-offset> [bit]   flip one bit (default 0) of a durable file
//!   status                            pending bytes, dirty files and dirs, faults

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::error::ControlError;
use crate::faults::Glob;
use crate::state::State;

pub const LINE_BYTES_MAX: usize = 4096;
/// Commands one connection may send before the server closes it.
pub const LINES_PER_CONNECTION_MAX: usize = 10_000;
pub const BLOCK_BYTES_MAX: u64 = 1 << 30;
const KNOWN: &str = "power-loss, fsync-eio, disk-full, write-eio, read-corrupt, bitflip, status";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    PowerLoss { torn_block_bytes: Option<u64> },
    FsyncEio { glob: Option<Glob> },
    DiskFull { on: bool },
    WriteEio { on: bool },
    ReadCorrupt { on: bool },
    Bitflip { path: PathBuf, offset: u64, bit: u8 },
    Status,
}

impl Command {
    pub fn parse(line: &str) -> Result<Command, ControlError> {
        let words: Vec<&str> = line.split_whitespace().collect();
        let usage = |command, usage, problem: &str| ControlError::Usage {
            command,
            problem: problem.into(),
            usage,
        };
        match words.as_slice() {
            ["power-loss"] => Ok(Command::PowerLoss {
                torn_block_bytes: None,
            }),
            ["power-loss", "torn", bytes] => match bytes.parse::<u64>() {
                Ok(b) if (1..=BLOCK_BYTES_MAX).contains(&b) => Ok(Command::PowerLoss {
                    torn_block_bytes: Some(b),
                }),
                _ => Err(usage(
                    "power-loss",
                    "power-loss [torn <block-bytes>]",
                    "block bytes must be 1..=2^30",
                )),
            },
            ["power-loss", ..] => Err(usage(
                "power-loss",
                "power-loss [torn <block-bytes>]",
                "unexpected arguments",
            )),
            ["fsync-eio", "on"] => Ok(Command::FsyncEio {
                glob: Glob::new("*"),
            }),
            ["fsync-eio", "on", pattern] => match Glob::new(pattern) {
                Some(glob) => Ok(Command::FsyncEio { glob: Some(glob) }),
                None => Err(usage(
                    "fsync-eio",
                    "fsync-eio on [path-glob] | off",
                    "glob too long",
                )),
            },
            ["fsync-eio", "off"] => Ok(Command::FsyncEio { glob: None }),
            ["fsync-eio", ..] => Err(usage(
                "fsync-eio",
                "fsync-eio on [path-glob] | off",
                "expected on or off",
            )),
            ["disk-full", "on"] => Ok(Command::DiskFull { on: true }),
            ["disk-full", "off"] => Ok(Command::DiskFull { on: false }),
            ["disk-full", ..] => Err(usage(
                "disk-full",
                "disk-full on | off",
                "expected on or off",
            )),
            ["write-eio", "on"] => Ok(Command::WriteEio { on: true }),
            ["write-eio", "off"] => Ok(Command::WriteEio { on: false }),
            ["write-eio", ..] => Err(usage(
                "write-eio",
                "write-eio on | off",
                "expected on or off",
            )),
            ["read-corrupt", "on"] => Ok(Command::ReadCorrupt { on: true }),
            ["read-corrupt", "off"] => Ok(Command::ReadCorrupt { on: false }),
            ["read-corrupt", ..] => Err(usage(
                "read-corrupt",
                "read-corrupt on | off",
                "expected on or off",
            )),
            ["bitflip", path, offset, rest @ ..] if rest.len() <= 1 => {
                let usage_text = "bitflip <relative-path> <byte-offset> [bit 0..=7]";
                let offset = offset
                    .parse()
                    .map_err(|_| usage("bitflip", usage_text, "offset is not a number"))?;
                let bit = match rest.first() {
                    None => 0,
                    Some(bit) => bit
                        .parse()
                        .ok()
                        .filter(|b| *b <= 7)
                        .ok_or_else(|| usage("bitflip", usage_text, "bit must be 0..=7"))?,
                };
                Ok(Command::Bitflip {
                    path: PathBuf::from(path),
                    offset,
                    bit,
                })
            }
            ["bitflip", ..] => Err(usage(
                "bitflip",
                "bitflip <relative-path> <byte-offset> [bit 0..=7]",
                "wrong number of arguments",
            )),
            ["status"] => Ok(Command::Status),
            _ => Err(ControlError::UnknownCommand {
                got: line.trim().to_owned(),
                known: KNOWN,
            }),
        }
    }
}

/// Runs one command; the `Ok` text follows `ok ` in the reply.
pub fn execute(state: &mut State, command: Command) -> Result<String, ControlError> {
    let backing = |during| {
        move |errno| ControlError::Backing {
            during,
            cause: std::io::Error::from_raw_os_error(errno),
        }
    };
    match command {
        Command::PowerLoss { torn_block_bytes } => {
            let report = state
                .power_loss(torn_block_bytes)
                .map_err(backing("power-loss"))?;
            Ok(format!(
                "power-loss files_reverted={} files_torn={} inodes_dropped={}",
                report.files_reverted, report.files_torn, report.inodes_dropped
            ))
        }
        Command::FsyncEio { glob } => {
            let text = glob
                .as_ref()
                .map_or("off".to_owned(), |g| format!("on {g}"));
            state.faults.fsync_eio = glob;
            Ok(format!("fsync-eio {text}"))
        }
        Command::DiskFull { on } => {
            state.faults.disk_full = on;
            Ok(format!("disk-full {}", if on { "on" } else { "off" }))
        }
        Command::WriteEio { on } => {
            state.faults.write_eio = on;
            Ok(format!("write-eio {}", if on { "on" } else { "off" }))
        }
        Command::ReadCorrupt { on } => {
            state.faults.read_corrupt = on;
            Ok(format!("read-corrupt {}", if on { "on" } else { "off" }))
        }
        Command::Bitflip { path, offset, bit } => {
            state.backing.bitflip(&path, offset, bit)?;
            Ok(format!("bitflip {} {offset} {bit}", path.display()))
        }
        Command::Status => {
            let stats = state.model.stats();
            let eio = state
                .faults
                .fsync_eio
                .as_ref()
                .map_or("off".to_owned(), |g| g.to_string());
            Ok(format!(
                "status inodes={} files_dirty={} dirs_dirty={} pending_bytes={} fsync_eio={eio} disk_full={}",
                stats.inodes, stats.files_dirty, stats.dirs_dirty, stats.pending_bytes, state.faults.disk_full
            ))
        }
    }
}

/// Serves connections until the listener fails (the process's life bounds this loop).
pub fn serve(listener: UnixListener, state: Arc<Mutex<State>>) {
    for stream in listener.incoming() {
        match stream {
            Ok(stream) => {
                if let Err(error) = serve_connection(stream, &state) {
                    eprintln!("faultfs: control connection: {error}");
                }
            }
            Err(error) => eprintln!("faultfs: control socket accept: {error}"),
        }
    }
}

fn serve_connection(stream: UnixStream, state: &Mutex<State>) -> std::io::Result<()> {
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    for _ in 0..LINES_PER_CONNECTION_MAX {
        let reply = match read_line(&mut reader) {
            Ok(None) => return Ok(()),
            Ok(Some(line)) => {
                let result = Command::parse(&line).and_then(|command| {
                    let mut state = state
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                    execute(&mut state, command)
                });
                match result {
                    Ok(text) => format!("ok {text}"),
                    Err(error) => format!("err {error}"),
                }
            }
            Err(error) => format!("err {error}"),
        };
        writer.write_all(format!("{}\n", reply.replace('\n', " ")).as_bytes())?;
    }
    Ok(())
}

fn read_line(reader: &mut impl BufRead) -> Result<Option<String>, ControlError> {
    let mut line = Vec::new();
    let limit = LINE_BYTES_MAX as u64 + 1;
    let read = reader
        .take(limit)
        .read_until(b'\n', &mut line)
        .map_err(|cause| ControlError::Socket {
            path: PathBuf::from("(connection)"),
            cause,
        })?;
    if read == 0 {
        return Ok(None);
    }
    if line.len() > LINE_BYTES_MAX {
        return Err(ControlError::LineTooLong {
            limit: LINE_BYTES_MAX,
        });
    }
    Ok(Some(String::from_utf8_lossy(&line).trim().to_owned()))
}

/// Sends one command and returns the reply line (without its newline).
pub fn request(socket: &Path, line: &str) -> Result<String, ControlError> {
    let socket_error = |cause| ControlError::Socket {
        path: socket.to_owned(),
        cause,
    };
    let mut stream = UnixStream::connect(socket).map_err(socket_error)?;
    stream
        .write_all(format!("{}\n", line.trim()).as_bytes())
        .map_err(socket_error)?;
    let mut reader = BufReader::new(stream);
    let reply = read_line(&mut reader)?
        .ok_or_else(|| socket_error(std::io::ErrorKind::UnexpectedEof.into()))?;
    Ok(reply)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_and_bad_ones_say_the_usage() {
        assert_eq!(
            Command::parse("power-loss").unwrap(),
            Command::PowerLoss {
                torn_block_bytes: None
            }
        );
        assert_eq!(
            Command::parse(" power-loss torn 4096 ").unwrap(),
            Command::PowerLoss {
                torn_block_bytes: Some(4096)
            }
        );
        assert_eq!(
            Command::parse("fsync-eio on").unwrap(),
            Command::FsyncEio {
                glob: Glob::new("*")
            }
        );
        assert_eq!(
            Command::parse("fsync-eio on wal/*").unwrap(),
            Command::FsyncEio {
                glob: Glob::new("wal/*")
            }
        );
        assert_eq!(
            Command::parse("fsync-eio off").unwrap(),
            Command::FsyncEio { glob: None }
        );
        assert_eq!(
            Command::parse("disk-full on").unwrap(),
            Command::DiskFull { on: true }
        );
        assert_eq!(
            Command::parse("bitflip a/b 7 3").unwrap(),
            Command::Bitflip {
                path: "a/b".into(),
                offset: 7,
                bit: 3
            }
        );
        assert_eq!(Command::parse("status").unwrap(), Command::Status);
        let error = Command::parse("power-loss torn 0").unwrap_err().to_string();
        assert!(
            error.contains("usage: power-loss [torn <block-bytes>]"),
            "{error}"
        );
        let error = Command::parse("powerloss").unwrap_err().to_string();
        assert!(error.contains("known: power-loss"), "{error}");
        assert!(Command::parse("bitflip a 1 8").is_err());
    }
}
