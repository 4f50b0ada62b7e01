//! When a log syncs. `Always` is the only policy under which an acknowledged write survives a
//! power loss of every replica; `Interval` and `Never` trade that for throughput, and scenarios
//! that use them under crashes must expect loss.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// Sync before an append returns.
    Always,
    /// Sync when at least this long has passed since the last sync (checked on append and by
    /// [`crate::storage::Log::sync_if_due`]).
    Interval(Duration),
    /// Sync only when a segment rolls or the caller asks.
    Never,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("bad fsync policy {input:?}: expected always, never or interval:<ms>ms")]
pub struct FsyncPolicyParseError {
    pub input: String,
}

impl FromStr for FsyncPolicy {
    type Err = FsyncPolicyParseError;

    fn from_str(input: &str) -> Result<FsyncPolicy, FsyncPolicyParseError> {
        let error = || FsyncPolicyParseError {
            input: input.to_string(),
        };
        match input {
            "always" => Ok(FsyncPolicy::Always),
            "never" => Ok(FsyncPolicy::Never),
            other => {
                let millis = other
                    .strip_prefix("interval:")
                    .and_then(|rest| rest.strip_suffix("ms"))
                    .and_then(|ms| ms.parse::<u64>().ok())
                    .ok_or_else(error)?;
                Ok(FsyncPolicy::Interval(Duration::from_millis(millis)))
            }
        }
    }
}

impl fmt::Display for FsyncPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FsyncPolicy::Always => write!(f, "always"),
            FsyncPolicy::Never => write!(f, "never"),
            FsyncPolicy::Interval(every) => write!(f, "interval:{}ms", every.as_millis()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for text in ["always", "never", "interval:250ms"] {
            let policy: FsyncPolicy = text.parse().unwrap();
            assert_eq!(policy.to_string(), text);
        }
        assert!("sometimes".parse::<FsyncPolicy>().is_err());
        assert!("interval:5s".parse::<FsyncPolicy>().is_err());
    }
}
