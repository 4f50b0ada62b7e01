//! The broker's requests and responses live in `wire::broker_protocol` (clients, the wire and
//! the broker all speak them, and none of those may import the broker); this path stays for
//! callers of the engine.

pub use crate::wire::broker_protocol::*;
