//! A node address: `host:port`, where host is a turmoil host name in simulation (`broker-1`)
//! and an IP address or name for real TCP (`127.0.0.1`).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct NodeAddr {
    pub host: String,
    pub port: u16,
}

impl NodeAddr {
    pub fn new(host: impl Into<String>, port: u16) -> NodeAddr {
        NodeAddr {
            host: host.into(),
            port,
        }
    }
}

impl fmt::Display for NodeAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("bad address {input:?}: {reason} (expected host:port, e.g. 127.0.0.1:9092)")]
pub struct AddrParseError {
    pub input: String,
    pub reason: &'static str,
}

impl FromStr for NodeAddr {
    type Err = AddrParseError;

    fn from_str(input: &str) -> Result<NodeAddr, AddrParseError> {
        let error = |reason| AddrParseError {
            input: input.to_string(),
            reason,
        };
        let (host, port) = input
            .rsplit_once(':')
            .ok_or_else(|| error("missing :port"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(error("empty host"));
        }
        let port = port
            .parse::<u16>()
            .map_err(|_| error("port is not a number in 0..=65535"))?;
        Ok(NodeAddr::new(host, port))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        let addr: NodeAddr = "broker-1:9092".parse().unwrap();
        assert_eq!(addr, NodeAddr::new("broker-1", 9092));
        assert_eq!(addr.to_string(), "broker-1:9092");
        let v6: NodeAddr = "[::1]:80".parse().unwrap();
        assert_eq!(v6.host, "::1");
        assert_eq!(v6.to_string(), "[::1]:80");
    }

    #[test]
    fn rejects_bad_input() {
        assert!("broker".parse::<NodeAddr>().is_err());
        assert!(":80".parse::<NodeAddr>().is_err());
        assert!("h:99999".parse::<NodeAddr>().is_err());
    }
}
