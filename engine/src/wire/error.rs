//! Wire errors. A caller matches on these to decide what happened to a request: `Connect` means
//! it was never sent; `Timeout`, `Closed` and `Io` mean it may or may not have been applied (an
//! unknown outcome, not a failure); the framing variants mean the peer broke the protocol and
//! the connection must be dropped, because the byte stream is out of sync.

use crate::env::NodeAddr;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("frame of {len} bytes exceeds the limit of {max} bytes (FRAME_BYTES_MAX)")]
    Oversized { len: usize, max: usize },
    #[error("frame with length 0: every frame carries at least a version byte")]
    EmptyFrame,
    #[error("wire version {got}, expected {expected}: the peer runs an incompatible build")]
    Version { got: u8, expected: u8 },
    #[error("malformed frame: {0}")]
    Malformed(String),
    #[error("connection closed by the peer")]
    Closed,
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    #[error("request timed out after {after:?}; it may or may not have been applied")]
    Timeout { after: Duration },
    #[error("cannot connect to {addr}: {reason} (the request was not sent)")]
    Connect { addr: NodeAddr, reason: String },
}

impl WireError {
    /// Whether the same request may succeed on a fresh connection. Framing errors are not
    /// retriable: a peer that sent a bad frame once will send it again. Retriable does not mean
    /// the first attempt had no effect; only `Connect` promises that.
    pub fn is_retriable(&self) -> bool {
        match self {
            WireError::Closed
            | WireError::Io(_)
            | WireError::Timeout { .. }
            | WireError::Connect { .. } => true,
            WireError::Oversized { .. }
            | WireError::EmptyFrame
            | WireError::Version { .. }
            | WireError::Malformed(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transport_errors_are_retriable_and_framing_errors_are_not() {
        assert!(WireError::Closed.is_retriable());
        assert!(WireError::Timeout {
            after: Duration::from_secs(1)
        }
        .is_retriable());
        let addr = NodeAddr::new("broker-1", 9092);
        assert!(WireError::Connect {
            addr,
            reason: "refused".into()
        }
        .is_retriable());
        assert!(!WireError::EmptyFrame.is_retriable());
        assert!(!WireError::Version {
            got: 2,
            expected: 1
        }
        .is_retriable());
        assert!(!WireError::Malformed("x".into()).is_retriable());
        assert!(!WireError::Oversized { len: 9, max: 8 }.is_retriable());
    }
}
