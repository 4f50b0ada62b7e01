//! The broker as a node: what runs the replica core's decisions against the seams. `replica`
//! owns each partition's log, head file and waiting requests and runs the core's effects;
//! `shared` is the state every handler and loop shares (they depend on it, never on each
//! other or on the server); `dispatch` and `admin` answer requests; the loops (metadata, ISR,
//! repair and sync, group commit, one fetcher per followed partition) keep roles, ISRs and disks in order.

pub mod admin;
pub mod delete_records;
pub mod dispatch;
pub mod fetcher;
pub mod group_commit;
pub mod isr_loop;
pub mod metadata_loop;
pub mod repair_loop;
pub mod replica;
pub mod shared;
