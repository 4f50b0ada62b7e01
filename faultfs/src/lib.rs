//! faultfs: a FUSE file system for power-loss testing of any process (the idea of Jepsen's
//! lazyfs). It passes through to a backing directory but keeps written-but-unsynced data and
//! unsynced names in memory, so a `power-loss` command can drop them, tear them at a block
//! boundary, fail fsync with EIO, fill the disk, or flip a bit of a durable file.
//!
//! Shape: `model` is the pure durability state machine (what is live, what is durable, what a
//! power loss keeps) and returns `effect::Effect`s; `backing` performs them on the backing
//! directory; `fs` is the thin FUSE adapter; `control` is the one-line command channel;
//! `faults` holds the switches the commands flip.

pub mod backing;
pub mod control;
pub mod effect;
pub mod error;
pub mod faults;
pub mod fs;
pub mod model;
pub mod state;
