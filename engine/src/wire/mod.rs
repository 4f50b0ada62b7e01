//! The wire protocol between clients and nodes: length-prefixed, versioned postcard frames
//! carrying typed request and response envelopes, a client that makes one call at a time, and a
//! server that serves many connections and many requests per connection.
//!
//! Fault model: the network may drop, delay or cut any stream (turmoil partitions drop in-flight
//! data and never retransmit, design.md section 5), and a peer may send arbitrary bytes.
//! Invariants: every call ends within its `request_timeout`, and a stream that failed or timed
//! out is never reused; no peer input panics a node or makes it allocate beyond
//! [`FRAME_BYTES_MAX`] per frame; a misbehaving connection is closed alone, and every limit
//! (frame size, connections, in-flight requests per connection, connections per peer, the
//! frame deadline, unfinished-frame bytes) is a named constant; the last three are defaults of
//! [`WireLimits`].

pub mod broker_protocol;
mod connection;
pub mod coordinator_protocol;
pub mod error;
pub mod frame;
pub mod limits;
pub mod message;
pub mod rpc;
pub mod serve_options;
pub mod server;
pub mod stable_hash;
pub mod txn_partition;

pub use connection::INFLIGHT_REQUESTS_MAX;
pub use error::WireError;
pub use frame::{
    decode_payload, encode_frame, read_frame, write_frame, FrameDecoder, FRAME_BYTES_MAX,
    FRAME_HEADER_BYTES, WIRE_VERSION,
};
pub use limits::WireLimits;
pub use message::{Envelope, ErrorCode, ErrorResponse, Request, Response};
pub use rpc::{RpcClient, RpcOptions};
pub use server::{serve, ServeOptions, ACCEPT_ERROR_BACKOFF, CONNECTIONS_MAX};
