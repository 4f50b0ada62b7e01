//! The ZooKeeper-like coordinator (design.md section 6): a tree of znodes with versions,
//! ephemeral and sequential nodes, sessions kept alive by heartbeats, one-shot watches, and
//! atomic `multi`. One node; durable through a write-ahead log with snapshots.
//!
//! Fault model: client and network failures (sessions expire, watches fire), power loss with torn
//! writes, fsync and write errors, disk full. Invariants: every acknowledged write survives a
//! crash; a write whose WAL sync failed is never applied; a `multi` is all-or-nothing, also
//! across a crash; each update raises the node's version by exactly one.

pub mod client;
pub mod path;
pub mod protocol;
pub mod server;
pub mod store;
pub mod tree;
pub mod watches;

pub use client::{ClientError, CoordinatorClient, CoordinatorClientOptions, Watch};
pub use protocol::{
    CoordError, CreateMode, EventKind, Op, OpResult, SessionId, Stat, WatchEvent, WatchKind,
};
pub use server::{Coordinator, CoordinatorOptions};
