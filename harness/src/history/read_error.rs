//! Why a history could not be read: an I/O error, or the malformed lines, each with its reason
//! (shared by the JSON Lines and the EDN readers).

use super::{OpError, ERRORS_MAX};
use std::fmt;
use std::io;
use thiserror::Error;

/// A problem on one line (1-based).
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("line {line}: {error}")]
pub struct LineError {
    pub line: u64,
    pub error: OpError,
}

/// Why a history could not be read.
#[derive(Debug)]
pub enum ReadError {
    Io {
        source_name: String,
        error: io::Error,
    },
    /// One entry per malformed line, in line order.
    Invalid {
        source_name: String,
        problems: Vec<LineError>,
    },
}

impl std::error::Error for ReadError {}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Io { source_name, error } => write!(f, "{source_name}: {error}"),
            ReadError::Invalid {
                source_name,
                problems,
            } => {
                for (position, problem) in problems.iter().enumerate() {
                    if position > 0 {
                        writeln!(f)?;
                    }
                    write!(f, "{source_name}:{}: {}", problem.line, problem.error)?;
                }
                if problems.len() >= ERRORS_MAX {
                    write!(f, "\n{source_name}: stopped after {ERRORS_MAX} problems")?;
                }
                Ok(())
            }
        }
    }
}

impl ReadError {
    /// The line problems, empty for an I/O error.
    pub fn problems(&self) -> &[LineError] {
        match self {
            ReadError::Io { .. } => &[],
            ReadError::Invalid { problems, .. } => problems,
        }
    }
}
