//! The coordinator's requests and responses live in `wire::coordinator_protocol` (clients,
//! the wire and the coordinator all speak them, and none of those may import the coordinator);
//! this path stays for callers of the engine.

pub use crate::wire::coordinator_protocol::*;
