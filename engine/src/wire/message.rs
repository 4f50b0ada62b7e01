//! The typed messages. Every frame's payload is an [`Envelope`]: a request id chosen by the
//! client and echoed by the server, so a response is matched to its request even if a stale one
//! arrives first. postcard encodes an enum variant by its index, so new variants are appended at
//! the end of an enum and existing ones are never reordered or removed; a peer that receives a
//! variant it does not know fails to decode the frame and drops the connection.

use serde::{Deserialize, Serialize};

/// One request or response with the id that pairs them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope<T> {
    pub id: u64,
    pub body: T,
}

/// Everything a client can ask a node. Later: `Coordinator(..)` and `Broker(..)` sub-enums.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    Ping { nonce: u64 },
    Echo { payload: Vec<u8> },
    Coordinator(crate::wire::coordinator_protocol::CoordRequest),
    Broker(crate::wire::broker_protocol::BrokerRequest),
}

/// Everything a node can answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    Pong { nonce: u64 },
    Echo { payload: Vec<u8> },
    Error(ErrorResponse),
    Coordinator(crate::wire::coordinator_protocol::CoordResponse),
    Broker(crate::wire::broker_protocol::BrokerResponse),
}

/// A request the node understood but could not serve.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorResponse {
    pub code: ErrorCode,
    pub message: String,
    /// Whether the client may send the same request again (to this node or another).
    pub retriable: bool,
}

/// Why a request failed. Append only (see the module header); later: `NotLeader` and friends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ErrorCode {
    /// This node does not serve this kind of request.
    Unsupported,
    /// The request decoded but its contents are invalid.
    Malformed,
    /// The node failed while serving it.
    Internal,
}

impl Request {
    /// A short name for log lines.
    pub fn kind(&self) -> &'static str {
        match self {
            Request::Ping { .. } => "ping",
            Request::Echo { .. } => "echo",
            Request::Coordinator(_) => "coordinator",
            Request::Broker(_) => "broker",
        }
    }
}

impl ErrorResponse {
    pub fn new(code: ErrorCode, message: impl Into<String>, retriable: bool) -> ErrorResponse {
        ErrorResponse {
            code,
            message: message.into(),
            retriable,
        }
    }
}
