//! faultline's system under test: the broker and coordinator nodes, their wire protocol and
//! storage, the clients, and the environment seam (`env`) through which every node touches the
//! network, the disk, the clock and randomness. The same node code runs on real TCP and real
//! files (`faultline serve ...`) and inside turmoil's deterministic simulation; which one is
//! chosen when the node starts, never by rebuilding.

pub mod broker;
pub mod bugs;
pub mod client;
pub mod coordinator;
pub mod env;
pub mod storage;
pub mod wire;
