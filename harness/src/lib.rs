//! The faultline harness: scenario -> deterministic simulation -> history -> checkers ->
//! verdict, and the `faultline` command line.
//!
//! Folders in the order a scenario travels: `scenario/` (a file becomes a `Scenario`),
//! `sweep/` (`faultline run`: scenarios x seeds, one `one_run` each, and the store), `run/`
//! (one run: the simulation driver or real mode's, the conductor, the nemesis, the fabric),
//! `systems/` (the system under test: its servers, its clients, its drain), `history/` (what
//! the clients recorded), `checker/` (the checks), then the `reports` crate.

pub mod bounded_line;
pub mod bugs;
pub mod check_cmd;
pub mod checker;
pub mod demo;
pub mod history;
pub mod interrupt;
pub mod local_cluster;
pub mod merge;
pub mod node_events_file;
pub mod real;
pub mod run;
pub mod scenario;
pub mod shrink;
pub mod sweep;
pub mod systems;
